/* SPDX-License-Identifier: MIT */
/* A camera's sealed-segment chain between runs (chain.h): the state file's
 * text, read back only if it is exactly what vigild writes, and the newest
 * sealed segment on disk when there is no state to go by. Read once per
 * camera at its start; written by the recorder through its ring. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chain.h"

#define CHAIN_CHECK_BYTES 16 /* BLAKE2b-128 of the lines before it */

static const char *const state_names[] = {
    [VIGIL_CHAIN_BEGUN] = "begun",
    [VIGIL_CHAIN_CLOSED] = "closed",
    [VIGIL_CHAIN_ABANDONED] = "abandoned",
};

int vigil_chain_dir_open(const char *state_dir, char *msg, size_t msglen)
{
	char dir[PATH_MAX];
	struct stat st = {0};
	int fd;

	if (snprintf(dir, sizeof(dir), "%s/" VIGIL_CHAIN_DIR, state_dir) >= (int)sizeof(dir)) {
		snprintf(msg, msglen, "StateDir %s: name too long", state_dir);
		return -ENAMETOOLONG;
	}
	/* What it holds is vigild's alone: anyone else who could write in it
	 * could plant a link where vigild writes. */
	if ((mkdir(state_dir, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		int err = errno;

		snprintf(msg, msglen, "StateDir %s: %s", dir, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		snprintf(msg, msglen, "StateDir %s: not vigild's own (owner %u, mode %04o): chmod 700 it",
			 dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	return fd;
}

int vigil_chain_paths(const char *state_dir, const char *camera, char *final, char *temp, size_t len)
{
	if (snprintf(final, len, "%s/" VIGIL_CHAIN_DIR "/%s", state_dir, camera) >= (int)len ||
	    snprintf(temp, len, "%s.tmp", final) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

size_t vigil_chain_format(char buf[VIGIL_CHAIN_FILE_MAX], const char *camera, enum vigil_chain_state state,
			  uint32_t seq, const uint8_t tag[VIGIL_SEAL_TAG_BYTES])
{
	char hex[2 * VIGIL_SEAL_TAG_BYTES + 1];
	uint8_t check[CHAIN_CHECK_BYTES];
	int n;

	sodium_bin2hex(hex, sizeof(hex), tag, VIGIL_SEAL_TAG_BYTES);
	n = snprintf(buf, VIGIL_CHAIN_FILE_MAX,
		     "vigil-chain 2\ncamera %.64s\nsegment %08" PRIu32 "\nstate %s\ntag %s\n", camera, seq,
		     state_names[state], hex);
	crypto_generichash(check, sizeof(check), (const uint8_t *)buf, (size_t)n, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), check, sizeof(check));
	n += snprintf(buf + n, VIGIL_CHAIN_FILE_MAX - (size_t)n, "check %s\n", hex);
	return (size_t)n;
}

/* The state file's text, if it is one vigild wrote for camera; else NULL
 * and why. */
static const char *chain_parse(const char *text, size_t len, const char *camera, struct vigil_seal_link *link)
{
	char name[VIGIL_SEAL_NAME_MAX + 1], state[16], hex[2 * VIGIL_SEAL_TAG_BYTES + 1];
	char again[VIGIL_CHAIN_FILE_MAX];
	unsigned long seq;
	unsigned st;

	if (sscanf(text, "vigil-chain 2\ncamera %64s\nsegment %lu\nstate %15s\ntag %64s\n", name, &seq, state,
		   hex) != 4)
		return "not a chain state file";
	if (strcmp(name, camera) != 0)
		return "written for another camera";
	for (st = 0; st < sizeof(state_names) / sizeof(state_names[0]); st++)
		if (strcmp(state, state_names[st]) == 0)
			break;
	if (st == sizeof(state_names) / sizeof(state_names[0]) || seq > UINT32_MAX ||
	    sodium_hex2bin(link->tag, VIGIL_SEAL_TAG_BYTES, hex, strlen(hex), NULL, NULL, NULL) != 0)
		return "not a chain state file";
	/* Byte for byte what vigild writes, its check line included. */
	if (vigil_chain_format(again, camera, st, (uint32_t)seq, link->tag) != len ||
	    memcmp(again, text, len) != 0)
		return "damaged (it does not read back as written)";
	link->prev = (uint32_t)seq;
	link->kind = st == VIGIL_CHAIN_CLOSED  ? VIGIL_SEAL_LINK_STOPPED
		     : st == VIGIL_CHAIN_BEGUN ? VIGIL_SEAL_LINK_CRASHED
					       : VIGIL_SEAL_LINK_ABANDONED;
	return NULL;
}

/* 1: the state file gave link; 0: there is none; -1: it was set aside
 * (msg says so). */
static int chain_read(const char *state_dir, const char *camera, struct vigil_seal_link *link, char *msg,
		      size_t msglen)
{
	char final[PATH_MAX], temp[PATH_MAX], aside[PATH_MAX + 16], text[VIGIL_CHAIN_FILE_MAX + 1];
	const char *why;
	ssize_t n = -1;
	int fd;

	if (vigil_chain_paths(state_dir, camera, final, temp, sizeof(final)) < 0)
		return 0;
	fd = open(final, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	if (n < 0)
		why = strerror(errno);
	else if (n == (ssize_t)sizeof(text) - 1)
		why = "too long";
	else {
		text[n] = '\0';
		why = chain_parse(text, (size_t)n, camera, link);
	}
	if (why == NULL)
		return 1;
	memset(link, 0, sizeof(*link));
	snprintf(aside, sizeof(aside), "%s.corrupt", final);
	if (rename(final, aside) == 0)
		snprintf(msg, msglen, "chain state %s: %s; set aside as %s", final, why, aside);
	else
		snprintf(msg, msglen, "chain state %s: %s, and it cannot be set aside: %s", final, why,
			 strerror(errno));
	return -1;
}

/* The newest sealed segment on disk, as the last of the chain: whether it
 * is whole is told from its length (recovery cut it to whole chunks). */
static void chain_from_disk(const char *cam_dir, const char *camera, uint32_t newest,
			    struct vigil_seal_link *link)
{
	uint8_t head[VIGIL_SEAL_HEADER_BYTES], mac[VIGIL_SEAL_MAC_BYTES];
	struct vigil_seal_info info;
	char path[PATH_MAX];
	struct stat st;
	int fd;

	memset(link, 0, sizeof(*link));
	if (newest == UINT32_MAX ||
	    snprintf(path, sizeof(path), "%s/%08" PRIu32 ".ts.sealed", cam_dir, newest) >= (int)sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(head) &&
	    pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	    pread(fd, mac, sizeof(mac), st.st_size - (off_t)sizeof(mac)) == (ssize_t)sizeof(mac) &&
	    vigil_seal_peek(head, sizeof(head), (uint64_t)st.st_size, mac, &info) == 0 && info.version == 2 &&
	    info.segment == newest && strcmp(info.camera, camera) == 0) {
		link->kind = info.complete ? VIGIL_SEAL_LINK_DISK : VIGIL_SEAL_LINK_DISK_CUT;
		link->prev = newest;
		memcpy(link->tag, info.complete ? info.tag : info.head_tag, VIGIL_SEAL_TAG_BYTES);
	}
	close(fd);
}

int vigil_chain_load(const char *state_dir, const char *camera, const char *cam_dir, uint32_t newest,
		     struct vigil_seal_link *link, char *msg, size_t msglen)
{
	int got = state_dir[0] != '\0' ? chain_read(state_dir, camera, link, msg, msglen) : 0;

	if (got > 0)
		return 0;
	chain_from_disk(cam_dir, camera, newest, link);
	if (got == 0 && state_dir[0] != '\0' && newest != UINT32_MAX) {
		snprintf(msg, msglen,
			 "no chain state in %s for its sealed segments: the chain goes on from the newest "
			 "on disk, %08" PRIu32,
			 state_dir, newest);
		return 1;
	}
	if (got < 0)
		snprintf(msg + strlen(msg), msglen - strlen(msg),
			 "; the chain goes on from the newest sealed segment on disk");
	return got < 0;
}
