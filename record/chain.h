/* SPDX-License-Identifier: MIT */
/* Where a camera's chain of sealed segments stands between runs:
 * StateDir/chain/<camera>, one small text file that the recorder rewrites
 * (temporary, fsync, rename, fsync of the folder, through its io_uring)
 * before each sealed segment begins and at a clean stop. Without a
 * StateDir, the newest sealed segment on disk stands in for it. The chain
 * itself is in docs/sealed-segments.md. */
#ifndef VIGIL_CHAIN_H
#define VIGIL_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "seal.h"

#define VIGIL_CHAIN_DIR "chain"	 /* in StateDir */
#define VIGIL_CHAIN_FILE_MAX 320 /* bytes of a state file */

/* What a state file says of the camera's last sealed segment. */
enum vigil_chain_state {
	VIGIL_CHAIN_BEGUN,     /* begun; if the run ends before it is closed, it did not stop cleanly */
	VIGIL_CHAIN_CLOSED,    /* closed whole, and the run stopped cleanly after it */
	VIGIL_CHAIN_ABANDONED, /* abandoned after a write error, and the run stopped after it */
};

/* StateDir/chain, made (0700, StateDir too) if need be, opened for fsync:
 * its descriptor, or -errno with msg (-EPERM: someone else owns it, or
 * group or others may write in it). */
int vigil_chain_dir_open(const char *state_dir, char *msg, size_t msglen);

/* StateDir/chain/<camera> and the temporary it is written as. 0 or
 * -ENAMETOOLONG. */
int vigil_chain_paths(const char *state_dir, const char *camera, char *final, char *temp, size_t len);

/* A state file's text, at most VIGIL_CHAIN_FILE_MAX bytes: its length.
 * tag: the segment's head tag (begun, abandoned) or chain tag (closed). */
size_t vigil_chain_format(char buf[VIGIL_CHAIN_FILE_MAX], const char *camera, enum vigil_chain_state state,
			  uint32_t seq, const uint8_t tag[VIGIL_SEAL_TAG_BYTES]);

/* At a camera's start: what its next sealed segment links to. From its
 * state file when state_dir is set and has one. A state file that cannot
 * be read or is not one vigild wrote for this camera is set aside (renamed
 * to <file>.corrupt), never trusted; then, as without a StateDir, the
 * sealed segment number `newest` in cam_dir (UINT32_MAX: there is none) is
 * taken as the last. 0, or 1 when msg says something the operator should
 * read (a file set aside, or a StateDir without this camera's state while
 * sealed segments are on disk). */
int vigil_chain_load(const char *state_dir, const char *camera, const char *cam_dir, uint32_t newest,
		     struct vigil_seal_link *link, char *msg, size_t msglen);

#endif
