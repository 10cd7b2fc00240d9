/* SPDX-License-Identifier: MIT */
/* A static-key sender's reserved index, persisted (index_store.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "index_store.h"

#define MAGIC "VIGILIDX"
#define VERSION 1
#define KEY_ID_LEN 32
#define CHECK_AT 56
#define CHECK_LEN 16
#define KEY_ID_LABEL "vigil sender index state"

struct vigil_index_store {
	int dir_fd, lock_fd;
	uint32_t ssrc;
	uint8_t key_id[KEY_ID_LEN];
	char name[NAME_MAX + 1], tmp[NAME_MAX + 8];
};

_Static_assert(CHECK_AT + CHECK_LEN == VIGIL_INDEX_STORE_LEN, "the record's layout");

/* "path: what" into msg; returns rc (0 for a note on success). */
__attribute__((format(printf, 5, 6))) static int say(char *msg, size_t msglen, int rc, const char *path,
						     const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(msg, msglen, "%s: ", path);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < msglen)
		vsnprintf(msg + n, msglen - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> 8 * (n - 1 - i));
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void encode(uint8_t rec[VIGIL_INDEX_STORE_LEN], const struct vigil_index_store *st, uint64_t limit)
{
	memcpy(rec, MAGIC, 8);
	put_be(rec + 8, VERSION, 4);
	put_be(rec + 12, st->ssrc, 4);
	put_be(rec + 16, limit, 8);
	memcpy(rec + 24, st->key_id, KEY_ID_LEN);
	crypto_generichash(rec + CHECK_AT, CHECK_LEN, rec, CHECK_AT, NULL, 0);
}

static bool intact(const uint8_t rec[VIGIL_INDEX_STORE_LEN])
{
	uint8_t check[CHECK_LEN];

	crypto_generichash(check, CHECK_LEN, rec, CHECK_AT, NULL, 0);
	return memcmp(rec, MAGIC, 8) == 0 && get_be(rec + 8, 4) == VERSION &&
	       sodium_memcmp(check, rec + CHECK_AT, CHECK_LEN) == 0 && get_be(rec + 16, 8) <= VIGIL_INDEX_END;
}

/* The whole file, when it is a regular file of exactly one record: 1, or 0
 * when there is none, or -errno (-EBADMSG: not one record). */
static int read_record(struct vigil_index_store *st, uint8_t rec[VIGIL_INDEX_STORE_LEN])
{
	uint8_t buf[VIGIL_INDEX_STORE_LEN + 1];
	size_t got = 0;
	struct stat sb;
	ssize_t n;
	int fd = openat(st->dir_fd, st->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc = 1;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EBADMSG;
	}
	while (got < sizeof(buf) &&
	       ((n = read(fd, buf + got, sizeof(buf) - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	if (n < 0)
		rc = -errno;
	else if (got != VIGIL_INDEX_STORE_LEN)
		rc = -EBADMSG;
	else
		memcpy(rec, buf, VIGIL_INDEX_STORE_LEN);
	close(fd);
	return rc;
}

int vigil_index_store_reserve(struct vigil_index_store *st, uint64_t limit)
{
	uint8_t rec[VIGIL_INDEX_STORE_LEN];
	int fd, rc = 0;

	if (limit > VIGIL_INDEX_END)
		return -ENOSPC;
	encode(rec, st, limit);
	/* O_NOFOLLOW: never through a link planted at the temp name; O_TRUNC:
	 * what a crash left there is rewritten. */
	fd = openat(st->dir_fd, st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; rc == 0 && off < sizeof(rec);) {
		ssize_t w = write(fd, rec + off, sizeof(rec) - off);

		if (w > 0)
			off += (size_t)w;
		else if (w == 0 || errno != EINTR)
			rc = w == 0 ? -EIO : -errno;
	}
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* The new limit counts once its name is durable: until the
	 * directory is synced a crash may bring back the old file. */
	if (rc == 0 && renameat(st->dir_fd, st->tmp, st->dir_fd, st->name) < 0)
		rc = -errno;
	if (rc == 0 && fsync(st->dir_fd) < 0)
		rc = -errno;
	if (rc < 0)
		(void)unlinkat(st->dir_fd, st->tmp, 0);
	return rc;
}

int vigil_index_store_open(struct vigil_index_store **out, const char *path, uint32_t ssrc,
			   const uint8_t master[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN],
			   uint64_t *next, char *msg, size_t msglen)
{
	struct vigil_index_store *st;
	uint8_t rec[VIGIL_INDEX_STORE_LEN];
	char dir[PATH_MAX], base[PATH_MAX], lock[NAME_MAX + 8];
	const char *name;
	int rc;

	*out = NULL;
	if (path == NULL || *path == '\0') {
		snprintf(msg, msglen,
			 "a static key needs a state file: a sender must never repeat a packet index "
			 "under it, across restarts too");
		return -EINVAL;
	}
	if (sodium_init() < 0)
		return say(msg, msglen, -EIO, path, "libsodium cannot initialise");
	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir) ||
	    (size_t)snprintf(base, sizeof(base), "%s", path) >= sizeof(base))
		return say(msg, msglen, -EINVAL, path, "path too long");
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return say(msg, msglen, -ENOMEM, path, "out of memory");
	st->dir_fd = st->lock_fd = -1;
	st->ssrc = ssrc;
	name = basename(base);
	if (strlen(name) + sizeof(".lock") > sizeof(st->name) || strcmp(name, "/") == 0) {
		free(st);
		return say(msg, msglen, -EINVAL, path, "not a file name");
	}
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->tmp, sizeof(st->tmp), "%s.tmp", st->name);
	crypto_generichash(st->key_id, KEY_ID_LEN, master,
			   VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN,
			   (const uint8_t *)KEY_ID_LABEL, sizeof(KEY_ID_LABEL) - 1);
	st->dir_fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dir_fd < 0) {
		rc = say(msg, msglen, -errno, path, "cannot open its directory: %s", strerror(errno));
		goto err;
	}
	/* The lock, not the state file, is what two senders share: the
	 * state file is replaced at each reservation. */
	snprintf(lock, sizeof(lock), "%s.lock", st->name);
	st->lock_fd = openat(st->dir_fd, lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (st->lock_fd < 0) {
		rc = say(msg, msglen, -errno, path, "cannot open %s.lock: %s", path, strerror(errno));
		goto err;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK
			 ? say(msg, msglen, -EBUSY, path,
			       "in use by another sender (two senders would repeat indices)")
			 : say(msg, msglen, -errno, path, "cannot lock %s.lock: %s", path, strerror(errno));
		goto err;
	}
	rc = read_record(st, rec);
	if (rc == -EBADMSG || (rc == 1 && !intact(rec))) {
		rc =
		    say(msg, msglen, -EBADMSG, path,
			"corrupt: not a sender state of %d bytes, or damaged. Refusing to start: the indices "
			"it reserved are unknown, and reusing one under this key would expose it. Give the "
			"camera a new key (then remove the file)",
			VIGIL_INDEX_STORE_LEN);
		goto err;
	}
	if (rc < 0) {
		rc = say(msg, msglen, rc, path, "cannot read it: %s", strerror(-rc));
		goto err;
	}
	if (rc == 1 && sodium_memcmp(rec + 24, st->key_id, KEY_ID_LEN) == 0) {
		uint32_t had = (uint32_t)get_be(rec + 12, 4);

		*next = get_be(rec + 16, 8);
		if (had != ssrc) {
			rc = say(msg, msglen, -EEXIST, path,
				 "holds this key's indices for SSRC %" PRIu32 ", not %" PRIu32
				 ": give each stream its own state file",
				 had, ssrc);
			goto err;
		}
		if (*next >= VIGIL_INDEX_END) {
			rc = say(msg, msglen, -ENOSPC, path,
				 "this key's 2^48 packet indices are spent: a new key");
			goto err;
		}
		say(msg, msglen, 0, path, "resumed at index %" PRIu64 " (ROC %" PRIu64 ", SEQ %" PRIu64 ")",
		    *next, *next >> 16, *next & 0xffff);
	} else {
		*next = randombytes_uniform(1u << 16);
		say(msg, msglen, 0, path, "%s: a new stream at index %" PRIu64,
		    rc == 1 ? "another key's state (this key starts afresh)" : "no state yet", *next);
	}
	*out = st;
	return 0;
err:
	vigil_index_store_close(st);
	return rc;
}

void vigil_index_store_close(struct vigil_index_store *st)
{
	if (st == NULL)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	if (st->dir_fd >= 0)
		close(st->dir_fd);
	free(st);
}
