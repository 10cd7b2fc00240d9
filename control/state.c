/* SPDX-License-Identifier: MIT */
/* The replay state file (state.h). Its layout, little-endian:
 *   "VIGILRS\0", u32 version 1, u32 count,
 *   count records of 96 bytes: name (64, NUL-padded), u32 SSRC,
 *   key id (16), u64 SRTP index, u32 SRTCP index with bit 31 set (zero:
 *   none accepted),
 *   BLAKE2b-256 of everything before it.
 * A file that does not check out whole is not used at all. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/log.h"
#include "config.h"
#include "state.h"

#define MAGIC "VIGILRS"
#define VERSION 2 /* 1: without RTX and feedback (REC_LEN_1), still read */
#define HEADER_LEN 16
#define REC_LEN_1 96
#define REC_LEN 116
#define SUM_LEN 32
#define MAX_RECS VIGIL_MAX_CAMERAS

struct vigil_state {
	char dir[4096];
	char path[4096 + 32];
	struct vigil_state_rec *loaded; /* sorted by name */
	unsigned n_loaded;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	uint8_t *pending; /* an image waiting for the writer thread */
	size_t pending_len;
	bool busy;        /* a write is under way */
	bool stop;
	int last_err;     /* of the last write: logged when it changes */
	struct vigil_state_stats stats;
};

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void vigil_state_key_id(const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN], const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN],
			uint8_t id[VIGIL_STATE_KEY_ID_LEN])
{
	static const char domain[] = "vigil replay state key id v1";
	crypto_generichash_state h;

	crypto_generichash_init(&h, NULL, 0, VIGIL_STATE_KEY_ID_LEN);
	crypto_generichash_update(&h, (const uint8_t *)domain, sizeof(domain));
	crypto_generichash_update(&h, key, VIGIL_SRTP_MASTER_KEY_LEN);
	crypto_generichash_update(&h, salt, VIGIL_SRTP_MASTER_SALT_LEN);
	crypto_generichash_final(&h, id, VIGIL_STATE_KEY_ID_LEN);
	sodium_memzero(&h, sizeof(h));
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct vigil_state_rec *)a)->name, ((const struct vigil_state_rec *)b)->name);
}

static uint8_t *serialize(const struct vigil_state_rec *recs, unsigned n, size_t *len)
{
	uint8_t *buf;

	*len = HEADER_LEN + (size_t)n * REC_LEN + SUM_LEN;
	buf = calloc(1, *len);
	if (buf == NULL)
		return NULL;
	memcpy(buf, MAGIC, 8);
	put32(buf + 8, VERSION);
	put32(buf + 12, n);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *r = buf + HEADER_LEN + (size_t)i * REC_LEN;

		memcpy(r, recs[i].name, strnlen(recs[i].name, VIGIL_CAMERA_NAME_MAX));
		put32(r + 64, recs[i].ssrc);
		memcpy(r + 68, recs[i].key_id, VIGIL_STATE_KEY_ID_LEN);
		put64(r + 84, recs[i].index);
		put32(r + 92, recs[i].has_srtcp ? recs[i].srtcp_index | 0x80000000u : 0);
		put32(r + 96, recs[i].rtx_ssrc);
		put64(r + 100, recs[i].has_rtx ? recs[i].rtx_index | UINT64_C(1) << 63 : 0);
		put32(r + 108, recs[i].fb_reserved);
		put32(r + 112, recs[i].has_rtx_srtcp ? recs[i].rtx_srtcp_index | 0x80000000u : 0);
	}
	crypto_generichash(buf + *len - SUM_LEN, SUM_LEN, buf, *len - SUM_LEN, NULL, 0);
	return buf;
}

/* The records of a whole image, sorted by name; -EBADMSG when it does not
 * check out. */
static int parse(struct vigil_state *st, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	uint8_t sum[SUM_LEN];
	uint32_t n, version;
	size_t rec_len;

	if (len < HEADER_LEN + SUM_LEN || memcmp(buf, MAGIC, 8) != 0) {
		snprintf(why, whylen, "not a vigil replay state file");
		return -EBADMSG;
	}
	n = get32(buf + 12);
	version = get32(buf + 8);
	rec_len = version == 1 ? REC_LEN_1 : REC_LEN;
	if ((version != 1 && version != VERSION) || n > MAX_RECS || len != HEADER_LEN + (size_t)n * rec_len + SUM_LEN) {
		snprintf(why, whylen, "version %u with %u records in %zu bytes: not one this vigild reads",
			 get32(buf + 8), n, len);
		return -EBADMSG;
	}
	crypto_generichash(sum, SUM_LEN, buf, len - SUM_LEN, NULL, 0);
	if (sodium_memcmp(sum, buf + len - SUM_LEN, SUM_LEN) != 0) {
		snprintf(why, whylen, "checksum does not match (cut short or altered)");
		return -EBADMSG;
	}
	st->loaded = calloc(n + 1, sizeof(*st->loaded));
	if (st->loaded == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = buf + HEADER_LEN + (size_t)i * rec_len;
		struct vigil_state_rec *rec = &st->loaded[i];

		memcpy(rec->name, r, VIGIL_CAMERA_NAME_MAX);
		rec->ssrc = get32(r + 64);
		memcpy(rec->key_id, r + 68, VIGIL_STATE_KEY_ID_LEN);
		rec->index = get64(r + 84);
		rec->has_srtcp = get32(r + 92) >> 31;
		rec->srtcp_index = get32(r + 92) & 0x7fffffffu;
		if (version >= 2) {
			rec->rtx_ssrc = get32(r + 96);
			rec->has_rtx = get64(r + 100) >> 63;
			rec->rtx_index = get64(r + 100) & ~(UINT64_C(1) << 63);
			rec->fb_reserved = get32(r + 108);
			rec->has_rtx_srtcp = get32(r + 112) >> 31;
			rec->rtx_srtcp_index = get32(r + 112) & 0x7fffffffu;
		}
		if (!vigil_config_valid_name(rec->name) || rec->index >> 48 != 0 || rec->rtx_index >> 48 != 0 ||
		    rec->fb_reserved > UINT32_C(1) << 31 || (!rec->has_rtx && rec->rtx_index != 0) ||
		    (!rec->has_rtx_srtcp && rec->rtx_srtcp_index != 0) ||
		    (!rec->has_srtcp && rec->srtcp_index != 0) ||
		    (i > 0 && strcmp(st->loaded[i - 1].name, rec->name) >= 0)) {
			snprintf(why, whylen, "record %u is not a camera's", i);
			free(st->loaded);
			st->loaded = NULL;
			return -EBADMSG;
		}
	}
	st->n_loaded = n;
	return 0;
}

/* Renamed out of the way, so the next write does not destroy what an
 * operator may want to look at. */
static void set_aside(struct vigil_state *st, const char *why)
{
	char aside[sizeof(st->path) + 40];

	snprintf(aside, sizeof(aside), "%s.corrupt-%lld", st->path, (long long)time(NULL));
	if (rename(st->path, aside) == 0)
		vigil_log(VIGIL_LOG_WARNING, "vigild: %s: %s; set aside as %s, cameras start without replay state\n", st->path, why,
			aside);
	else
		vigil_log(VIGIL_LOG_WARNING, "vigild: %s: %s, and cannot be set aside (%s); cameras start without replay state\n",
			st->path, why, strerror(errno));
	st->stats.set_aside = true;
}

static int load(struct vigil_state *st)
{
	int fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char why[256];
	struct stat sb;
	uint8_t *buf;
	ssize_t got;
	int rc;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		snprintf(why, sizeof(why), "cannot be read (%s)", strerror(errno));
		goto aside;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > HEADER_LEN + (off_t)MAX_RECS * REC_LEN + SUM_LEN) {
		snprintf(why, sizeof(why), "not a regular file of a size it could have");
		goto aside;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	got = pread(fd, buf, (size_t)sb.st_size + 1, 0);
	if (got < 0)
		snprintf(why, sizeof(why), "cannot be read (%s)", strerror(errno));
	rc = got < 0 ? -EIO : parse(st, buf, (size_t)got, why, sizeof(why));
	free(buf);
	if (rc == -ENOMEM) {
		close(fd);
		return rc;
	}
	if (rc == 0) {
		close(fd);
		st->stats.loaded = st->n_loaded;
		return 0;
	}
aside:
	if (fd >= 0)
		close(fd);
	set_aside(st, why);
	return 0;
}

/* Temporary file, its data durable, renamed over the old one, the
 * rename durable: a crash leaves the old state or the new. */
static int write_file(struct vigil_state *st, const uint8_t *buf, size_t len)
{
	char tmp[sizeof(st->path) + 8];
	int fd, dfd, rc = 0;
	size_t off = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", st->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (off < len && rc == 0) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno != EINTR)
			rc = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, st->path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		rc = -errno;
	close(dfd);
	return rc;
}

/* Counted, and logged when the outcome changes (not once a second). */
static void account(struct vigil_state *st, int rc)
{
	if (rc == 0)
		__atomic_add_fetch(&st->stats.writes, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&st->stats.write_errors, 1, __ATOMIC_RELAXED);
	if (rc != st->last_err) {
		if (rc < 0)
			vigil_log(VIGIL_LOG_WARNING, "vigild: cannot write the replay state %s: %s (retrying; a restart now "
					"could accept traffic recorded since the last write)\n",
				st->path, strerror(-rc));
		else
			vigil_log(VIGIL_LOG_NOTICE, "vigild: replay state %s written again\n", st->path);
	}
	st->last_err = rc;
}

static void *writer(void *arg)
{
	struct vigil_state *st = arg;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		uint8_t *buf;
		size_t len;

		while (st->pending == NULL && !st->stop)
			pthread_cond_wait(&st->cond, &st->lock);
		if (st->pending == NULL)
			break;
		buf = st->pending;
		len = st->pending_len;
		st->pending = NULL;
		st->busy = true;
		pthread_mutex_unlock(&st->lock);
		account(st, write_file(st, buf, len));
		free(buf);
		pthread_mutex_lock(&st->lock);
		st->busy = false;
		pthread_cond_broadcast(&st->cond);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* dir 0700, its missing parents 0755 (as mkdir -p would). */
static int make_dir(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

struct vigil_state *vigil_state_open(const char *dir, char *msg, size_t msglen)
{
	struct vigil_state *st;
	struct stat sb;
	int rc;

	if (strlen(dir) >= sizeof(st->dir) || dir[0] == '\0') {
		snprintf(msg, msglen, "StateDir '%s': not a usable path", dir);
		errno = EINVAL;
		return NULL;
	}
	if (make_dir(dir) < 0) {
		snprintf(msg, msglen, "StateDir %s: cannot make it: %s", dir, strerror(errno));
		return NULL;
	}
	if (lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(msg, msglen, "StateDir %s: not a directory", dir);
		errno = ENOTDIR;
		return NULL;
	}
	if (sb.st_mode & 0077) {
		snprintf(msg, msglen, "StateDir %s: mode %04o lets group or others in; it must be 0700 (chmod 700 %s)",
			 dir, (unsigned)(sb.st_mode & 07777), dir);
		errno = EPERM;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snprintf(st->path, sizeof(st->path), "%s/%s", dir, VIGIL_STATE_FILE);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	rc = load(st);
	if (rc == 0)
		rc = -pthread_create(&st->thread, NULL, writer, st);
	if (rc < 0) {
		snprintf(msg, msglen, "StateDir %s: %s", dir, strerror(-rc));
		free(st->loaded);
		free(st);
		errno = -rc;
		return NULL;
	}
	return st;
}

void vigil_state_close(struct vigil_state *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	st->stop = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->thread, NULL);
	free(st->loaded);
	free(st);
}

const struct vigil_state_rec *vigil_state_find(const struct vigil_state *st, const char *name)
{
	struct vigil_state_rec key;

	if (st == NULL || st->n_loaded == 0)
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, st->loaded, st->n_loaded, sizeof(key), by_name);
}

/* Records in name order: the file reads back with one search each. */
static uint8_t *image(const struct vigil_state_rec *recs, unsigned n, size_t *len)
{
	struct vigil_state_rec *sorted = malloc(((size_t)n + 1) * sizeof(*sorted));
	uint8_t *buf;

	if (sorted == NULL)
		return NULL;
	memcpy(sorted, recs, (size_t)n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), by_name);
	buf = serialize(sorted, n, len);
	free(sorted);
	return buf;
}

bool vigil_state_submit(struct vigil_state *st, const struct vigil_state_rec *recs, unsigned n)
{
	uint8_t *buf;
	size_t len;

	pthread_mutex_lock(&st->lock);
	if (st->busy || st->pending != NULL) {
		pthread_mutex_unlock(&st->lock);
		return false;
	}
	pthread_mutex_unlock(&st->lock);
	buf = image(recs, n, &len);
	if (buf == NULL)
		return false;
	pthread_mutex_lock(&st->lock);
	st->pending = buf;
	st->pending_len = len;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return true;
}

int vigil_state_write(struct vigil_state *st, const struct vigil_state_rec *recs, unsigned n)
{
	size_t len;
	uint8_t *buf = image(recs, n, &len);
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&st->lock);
	while (st->busy)
		pthread_cond_wait(&st->cond, &st->lock);
	free(st->pending); /* superseded */
	st->pending = NULL;
	st->busy = true;
	pthread_mutex_unlock(&st->lock);
	rc = write_file(st, buf, len);
	account(st, rc);
	free(buf);
	pthread_mutex_lock(&st->lock);
	st->busy = false;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void vigil_state_stats(const struct vigil_state *st, struct vigil_state_stats *out)
{
	out->loaded = st->stats.loaded;
	out->writes = __atomic_load_n(&st->stats.writes, __ATOMIC_RELAXED);
	out->write_errors = __atomic_load_n(&st->stats.write_errors, __ATOMIC_RELAXED);
	out->set_aside = st->stats.set_aside;
}

const char *vigil_state_dir(const struct vigil_state *st)
{
	return st->dir;
}
