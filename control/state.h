/* SPDX-License-Identifier: MIT */
/* The replay state that survives a restart: per camera with a configured
 * key, the highest SRTP, SRTCP and RTX indexes accepted and the SRTCP
 * indices reserved for vigild's own feedback, keyed by camera name, SSRC and a
 * BLAKE2b hash of the master key. Read at start from StateDir; written
 * whole and atomically (temporary file, fdatasync, rename, fsync of the
 * directory) by a thread of its own about once a second while running,
 * and exactly at a clean stop. */
#ifndef VIGIL_STATE_H
#define VIGIL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/limits.h"

#define VIGIL_STATE_FILE "replay.state"
#define VIGIL_STATE_KEY_ID_LEN 16

struct vigil_state_rec {
	char name[VIGIL_CAMERA_NAME_MAX + 1];
	uint32_t ssrc;
	uint8_t key_id[VIGIL_STATE_KEY_ID_LEN];
	uint64_t index; /* the highest SRTP index accepted, ROC << 16 | SEQ */
	uint32_t srtcp_index; /* the highest SRTCP index accepted, if has_srtcp */
	bool has_srtcp;
	bool has_rtx;
	uint32_t rtx_ssrc;  /* its RTX stream's SSRC, and the highest index accepted there */
	uint64_t rtx_index;
	uint32_t fb_reserved; /* vigild's own SRTCP indices (feedback) below it may have been used */
	bool has_rtx_srtcp;
	uint32_t rtx_srtcp_index; /* the highest SRTCP index of the RTX SSRC's reports */
};

struct vigil_state_stats {
	uint64_t loaded;       /* records read at start */
	uint64_t writes;       /* state files written */
	uint64_t write_errors; /* writes that failed (logged) */
	bool set_aside;        /* the file found at start was corrupt or unreadable */
};

struct vigil_state;

/* The key id of a master key: BLAKE2b, 16 bytes, in a domain of its own. */
void vigil_state_key_id(const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN],
			uint8_t id[VIGIL_STATE_KEY_ID_LEN]);

/* Opens dir (made mode 0700 when missing; refused when group or others
 * may enter it) and reads its state file. A file that is corrupt or
 * cannot be read is reported on stderr and set aside (renamed with a
 * ".corrupt-<time>" suffix): vigild runs on without it, its cameras
 * locked onto by trial. NULL with errno and msg when dir is unusable. */
struct vigil_state *vigil_state_open(const char *dir, char *msg, size_t msglen);

/* Writes what was last submitted and stops the writer thread. */
void vigil_state_close(struct vigil_state *st);

/* The record read at start for this camera name, or NULL. */
const struct vigil_state_rec *vigil_state_find(const struct vigil_state *st, const char *name);

/* Hands n records to the writer thread, which writes them soon; false
 * (nothing done) while it is still writing the previous ones. */
bool vigil_state_submit(struct vigil_state *st, const struct vigil_state_rec *recs, unsigned n);

/* Writes n records now and waits for them to be durable: at a clean
 * stop, once the workers have stopped. 0 or -errno (logged). */
int vigil_state_write(struct vigil_state *st, const struct vigil_state_rec *recs, unsigned n);

void vigil_state_stats(const struct vigil_state *st, struct vigil_state_stats *out);
const char *vigil_state_dir(const struct vigil_state *st);

#endif
