/* SPDX-License-Identifier: MIT */
/* The keystore file (cameras and their keys, sealed under the master key, replaced through a temporary file
 * so a crash leaves the old or the new one) and the master key file (read with its permissions checked, or
 * generated). Plaintext lives in sodium_malloc'd memory and every copy of a key is wiped. */

/* Layout, version 1. Integers little-endian.
 *
 *   0  "VIGILKS1"                          8
 *   8  nonce                              24  random, new on every save
 *  32  crypto_secretbox_easy(plaintext)   16 (MAC) + plaintext
 *
 * plaintext:
 *   0  "VIGILKS1"     8   again: secretbox has no associated data, so the header is bound this way
 *   8  version      u32   1
 *  12  count        u32   at most VIGIL_MAX_CAMERAS
 *  16  count records of 208 bytes:
 *        0  name          65  1-64 of A-Z a-z 0-9 _ -, NUL-terminated, zero-padded
 *       65  ssrc         u32
 *       69  codec         u8  0 H.264, 1 H.265
 *       70  payload_types 2 x u64
 *       86  master_key    32
 *      118  master_salt   12
 *      130  flags         u8  bit 0 has_identity, bit 1 sealed, bit 2 revoked (no key)
 *      131  identity      32  zero without has_identity
 *      163  owner_key     32  zero unless sealed
 *      195  retain_hours u32
 *      199  retain_bytes u64
 *      207  retain_own    u8  bits 0-1
 *
 * So a file is 64 + 208 * count bytes; any other size is refused before decryption. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/secret.h"
#include "keystore.h"
#include "seal.h"

#define KS_MAGIC "VIGILKS1"
#define KS_MAGIC_LEN 8
#define KS_VERSION 1
#define KS_HEAD 16 /* magic, version, count */
#define KS_REC VIGIL_KEYSTORE_RECORD_LEN
#define KS_NONCE_AT KS_MAGIC_LEN
#define KS_BOX_AT (KS_NONCE_AT + crypto_secretbox_NONCEBYTES)
#define KS_OVERHEAD (KS_BOX_AT + crypto_secretbox_MACBYTES)
#define KS_MAX_SIZE (KS_OVERHEAD + KS_HEAD + (size_t)VIGIL_MAX_CAMERAS * KS_REC)
#define KEY_TEXT_MAX 64 /* 44 base64 characters and a newline, with room to spare */
#define RESTORE "; restore it from a backup"
#define UNCHANGED "; the keystore is unchanged"
#define FLAG_IDENTITY 1u
#define FLAG_SEALED 2u
#define FLAG_REVOKED 4u

_Static_assert(VIGIL_KEYSTORE_KEY_LEN == crypto_secretbox_KEYBYTES, "master key size");
_Static_assert(VIGIL_KEYSTORE_KEY_LEN == VIGIL_SEAL_KEY_BYTES, "the seal module's base64 key helpers fit");
_Static_assert(KS_OVERHEAD + KS_HEAD == 64, "layout comment");
_Static_assert(VIGIL_CAMERA_NAME_MAX + 1 + 4 + 1 + 16 + VIGIL_SRTP_MASTER_KEY_LEN +
		       VIGIL_SRTP_MASTER_SALT_LEN + 1 + 32 + 32 + 4 + 8 + 1 ==
		   KS_REC,
	       "record layout");

__attribute__((format(printf, 5, 6))) static int fail(char *msg, size_t msglen, int rc, const char *path,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (msg == NULL || msglen == 0)
		return rc;
	n = snprintf(msg, msglen, "%s: ", path);
	if (n >= 0 && (size_t)n < msglen) {
		va_start(ap, fmt);
		vsnprintf(msg + n, msglen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Cursors: integers little-endian whatever the host, byte arrays as they are. */
static void put(uint8_t **p, const void *v, size_t n)
{
	memcpy(*p, v, n);
	*p += n;
}

static void put_le(uint8_t **p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		*(*p)++ = (uint8_t)(v >> (8 * i));
}

static void get(const uint8_t **p, void *v, size_t n)
{
	memcpy(v, *p, n);
	*p += n;
}

static uint64_t get_le(const uint8_t **p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += bytes;
	return v;
}

/* Identity and owner key only when in use, the name zero-padded: no stray bytes reach the file. */
static void encode(uint8_t *p, const struct vigil_camera_config *c)
{
	static const uint8_t zero[32];

	memset(p, 0, sizeof(c->name));
	memcpy(p, c->name, strnlen(c->name, sizeof(c->name)));
	p += sizeof(c->name);
	put_le(&p, c->ssrc, 4);
	put_le(&p, c->codec, 1);
	put_le(&p, c->payload_types[0], 8);
	put_le(&p, c->payload_types[1], 8);
	put(&p, c->master_key, sizeof(c->master_key));
	put(&p, c->master_salt, sizeof(c->master_salt));
	put_le(&p, (c->has_identity ? FLAG_IDENTITY : 0u) | (c->sealed ? FLAG_SEALED : 0u) | (c->revoked ? FLAG_REVOKED : 0u),
	       1);
	put(&p, c->has_identity ? c->identity : zero, sizeof(c->identity));
	put(&p, c->sealed ? c->owner_key : zero, sizeof(c->owner_key));
	put_le(&p, c->retain_hours, 4);
	put_le(&p, c->retain_bytes, 8);
	put_le(&p, c->retain_own, 1);
}

static int check_cameras(const char *path, const struct vigil_camera_config *cams, unsigned n,
			 const char *hint, char *msg, size_t msglen);

/* Returns the flags byte for the caller to check: the struct cannot hold unknown bits. */
static unsigned decode(const uint8_t *p, struct vigil_camera_config *c)
{
	unsigned flags;

	get(&p, c->name, sizeof(c->name));
	c->ssrc = (uint32_t)get_le(&p, 4);
	c->codec = (enum vigil_codec)get_le(&p, 1);
	c->payload_types[0] = get_le(&p, 8);
	c->payload_types[1] = get_le(&p, 8);
	get(&p, c->master_key, sizeof(c->master_key));
	get(&p, c->master_salt, sizeof(c->master_salt));
	flags = (unsigned)get_le(&p, 1);
	get(&p, c->identity, sizeof(c->identity));
	get(&p, c->owner_key, sizeof(c->owner_key));
	c->retain_hours = (uint32_t)get_le(&p, 4);
	c->retain_bytes = get_le(&p, 8);
	c->retain_own = (uint8_t)get_le(&p, 1);
	c->has_identity = flags & FLAG_IDENTITY;
	c->sealed = flags & FLAG_SEALED;
	c->revoked = flags & FLAG_REVOKED;
	return flags;
}

void vigil_keystore_record_encode(uint8_t out[VIGIL_KEYSTORE_RECORD_LEN], const struct vigil_camera_config *cam)
{
	encode(out, cam);
}

int vigil_keystore_record_decode(const uint8_t in[VIGIL_KEYSTORE_RECORD_LEN], struct vigil_camera_config *cam)
{
	memset(cam, 0, sizeof(*cam));
	if ((decode(in, cam) & ~(FLAG_IDENTITY | FLAG_SEALED | FLAG_REVOKED)) != 0 ||
	    check_cameras("record", cam, 1, "", NULL, 0) < 0) {
		sodium_memzero(cam, sizeof(*cam));
		return -EINVAL;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct vigil_camera_config *const *)a)->name,
		      (*(const struct vigil_camera_config *const *)b)->name);
}

/* Identity cameras (no SSRC until their handshake) last. */
static int by_ssrc(const void *a, const void *b)
{
	const struct vigil_camera_config *p = *(const struct vigil_camera_config *const *)a;
	const struct vigil_camera_config *q = *(const struct vigil_camera_config *const *)b;
	uint64_t x = (uint64_t)p->has_identity << 32 | p->ssrc, y = (uint64_t)q->has_identity << 32 | q->ssrc;

	return (x > y) - (x < y);
}

/* Identity cameras by Identity, the others after them. */
static int by_identity(const void *a, const void *b)
{
	const struct vigil_camera_config *p = *(const struct vigil_camera_config *const *)a;
	const struct vigil_camera_config *q = *(const struct vigil_camera_config *const *)b;

	if (p->has_identity != q->has_identity)
		return p->has_identity ? -1 : 1;
	return p->has_identity ? memcmp(p->identity, q->identity, sizeof(p->identity)) : 0;
}

/* What load refuses, save refuses first: a saved keystore always loads. Duplicates by sorting, since a
 * keystore may hold millions of cameras. */
static int check_cameras(const char *path, const struct vigil_camera_config *cams, unsigned n,
			 const char *hint, char *msg, size_t msglen)
{
	const struct vigil_camera_config **v;
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct vigil_camera_config *c = &cams[i];
		size_t len = strnlen(c->name, sizeof(c->name));

		if (len == sizeof(c->name) || !vigil_config_valid_name(c->name))
			return fail(msg, msglen, -EINVAL, path,
				    "camera %u: name '%.*s' is not 1-%d of A-Z a-z 0-9 _ -%s", i + 1,
				    (int)(len < VIGIL_CAMERA_NAME_MAX ? len : VIGIL_CAMERA_NAME_MAX), c->name,
				    VIGIL_CAMERA_NAME_MAX, hint);
		if ((unsigned)c->codec > VIGIL_CODEC_H265)
			return fail(msg, msglen, -EINVAL, path, "camera '%s': unknown codec %u%s", c->name,
				    (unsigned)c->codec, hint);
		if (c->retain_own & ~3u)
			return fail(msg, msglen, -EINVAL, path, "camera '%s': unknown retain bits %#x%s",
				    c->name, c->retain_own, hint);
	}
	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return fail(msg, msglen, -ENOMEM, path, "out of memory checking %u cameras", n);
	for (unsigned i = 0; i < n; i++)
		v[i] = &cams[i];
	qsort(v, n, sizeof(*v), by_name);
	for (unsigned i = 1; i < n && rc == 0; i++)
		if (strcmp(v[i - 1]->name, v[i]->name) == 0)
			rc =
			    fail(msg, msglen, -EINVAL, path, "camera '%s' appears twice%s", v[i]->name, hint);
	qsort(v, n, sizeof(*v), by_ssrc);
	for (unsigned i = 1; i < n && rc == 0; i++)
		if (v[i - 1]->ssrc == v[i]->ssrc && !v[i]->has_identity)
			rc = fail(msg, msglen, -EINVAL, path, "SSRC %u is used by both '%s' and '%s'%s",
				  v[i]->ssrc, v[i - 1]->name, v[i]->name, hint);
	/* A handshake would find the one camera or the other. */
	qsort(v, n, sizeof(*v), by_identity);
	for (unsigned i = 1; i < n && rc == 0 && v[i]->has_identity; i++)
		if (memcmp(v[i - 1]->identity, v[i]->identity, sizeof(v[i]->identity)) == 0)
			rc = fail(msg, msglen, -EINVAL, path, "the Identity of '%s' is also '%s''s%s",
				  v[i - 1]->name, v[i]->name, hint);
	free(v);
	return rc;
}

/* Up to cap bytes, to the end of the file. */
static int read_all(int fd, void *buf, size_t cap, size_t *len)
{
	ssize_t r;

	for (*len = 0; *len < cap; *len += (size_t)r) {
		r = read(fd, (uint8_t *)buf + *len, cap - *len);
		if (r < 0 && errno == EINTR)
			r = 0;
		else if (r < 0)
			return -errno;
		else if (r == 0)
			break;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, (const uint8_t *)buf + off, len - off);

		if (w < 0 && errno != EINTR)
			return -errno;
		if (w > 0)
			off += (size_t)w;
	}
	return 0;
}

/* A rename or a creation is durable only once the directory holding the name is synced. */
static int fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Mode 0600 whatever the umask, or the mode of a file O_TRUNC reuses; O_NOFOLLOW: never write through a
 * link planted there. Written whole, then fsync'd. */
static int write_file(const char *path, int flags, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | flags, 0600), rc;

	if (fd < 0)
		return -errno;
	rc = fchmod(fd, 0600) < 0 ? -errno : write_all(fd, buf, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* O_NONBLOCK: a FIFO put at path must not hang startup. */
static int open_regular(const char *path, const char *what, struct stat *st, char *msg, size_t msglen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return fail(msg, msglen, -errno, path, "cannot open %s: %s", what, strerror(errno));
	if (fstat(fd, st) == 0 && S_ISREG(st->st_mode))
		return fd;
	close(fd);
	return fail(msg, msglen, -EINVAL, path, "not a regular file; %s must be a plain file", what);
}

/* The authenticated plaintext: anything wrong in it was written so, by another version or a bug. */
static int parse(const char *path, const uint8_t *plain, size_t mlen, struct vigil_camera_config **cams,
		 unsigned *n, char *msg, size_t msglen)
{
	const uint8_t *p = plain + KS_MAGIC_LEN;
	uint32_t version = (uint32_t)get_le(&p, 4), count = (uint32_t)get_le(&p, 4);
	struct vigil_camera_config *v;
	int rc = 0;

	if (memcmp(plain, KS_MAGIC, KS_MAGIC_LEN) != 0 || version != KS_VERSION)
		return fail(msg, msglen, -EINVAL, path,
			    "holds '%.8s' version %u; this vigild reads " KS_MAGIC " version %d",
			    (const char *)plain, version, KS_VERSION);
	if (count != (mlen - KS_HEAD) / KS_REC)
		return fail(msg, msglen, -EINVAL, path, "says %u cameras but holds %zu" RESTORE, count,
			    (mlen - KS_HEAD) / KS_REC);
	v = calloc(count > 0 ? count : 1, sizeof(*v));
	if (v == NULL)
		return fail(msg, msglen, -ENOMEM, path, "out of memory for %u cameras", count);
	for (unsigned i = 0; i < count && rc == 0; i++)
		if (decode(plain + KS_HEAD + (size_t)i * KS_REC, &v[i]) & ~(FLAG_IDENTITY | FLAG_SEALED | FLAG_REVOKED))
			rc = fail(msg, msglen, -EINVAL, path, "camera %u: unknown flags" RESTORE, i + 1);
	if (rc == 0)
		rc = check_cameras(path, v, count, RESTORE, msg, msglen);
	if (rc < 0) {
		sodium_memzero(v, count * sizeof(*v));
		free(v);
		return rc;
	}
	*cams = v;
	*n = count;
	return 0;
}

int vigil_keystore_load(const char *path, const uint8_t key[VIGIL_KEYSTORE_KEY_LEN],
			struct vigil_camera_config **cams, unsigned *n, char *msg, size_t msglen)
{
	uint8_t *file = NULL, *plain = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc = 0;

	*cams = NULL;
	*n = 0;
	if (sodium_init() < 0)
		return fail(msg, msglen, -EIO, path, "libsodium cannot initialise");
	fd = open_regular(path, "the keystore", &st, msg, msglen);
	if (fd < 0)
		return fd;
	/* The ciphertext is no secret: plain malloc. One byte more than the size shows a file growing. */
	if ((uint64_t)st.st_size > KS_MAX_SIZE)
		rc = fail(msg, msglen, -EINVAL, path, "%jd bytes is more than any keystore",
			  (intmax_t)st.st_size);
	else if ((file = malloc((size_t)st.st_size + 1)) == NULL)
		rc = fail(msg, msglen, -ENOMEM, path, "out of memory for %jd bytes", (intmax_t)st.st_size);
	else if ((rc = read_all(fd, file, (size_t)st.st_size + 1, &len)) < 0)
		rc = fail(msg, msglen, rc, path, "cannot read: %s", strerror(-rc));
	close(fd);
	if (rc < 0)
		goto out;
	if (len < KS_MAGIC_LEN || memcmp(file, KS_MAGIC, KS_MAGIC_LEN) != 0)
		rc = fail(msg, msglen, -EINVAL, path, "not a vigil keystore (no " KS_MAGIC " at its start)");
	else if (len < KS_OVERHEAD + KS_HEAD || (len - KS_OVERHEAD - KS_HEAD) % KS_REC != 0)
		rc = fail(msg, msglen, -EINVAL, path,
			  "%zu bytes is not the size of a keystore: cut short or damaged" RESTORE, len);
	else if ((plain = sodium_malloc(len - KS_OVERHEAD)) == NULL)
		rc = fail(msg, msglen, -ENOMEM, path, "out of memory for %zu bytes", len);
	else if (crypto_secretbox_open_easy(plain, file + KS_BOX_AT, len - KS_BOX_AT, file + KS_NONCE_AT,
					    key) != 0)
		rc = fail(
		    msg, msglen, -EBADMSG, path,
		    "cannot be opened with this master key, or it was altered or damaged; vigild will "
		    "not start with it; use the master key it was saved with, or restore it from a backup");
	else
		rc = parse(path, plain, len - KS_OVERHEAD, cams, n, msg, msglen);
out:
	sodium_free(plain); /* wipes */
	free(file);
	return rc;
}

int vigil_keystore_save(const char *path, const uint8_t key[VIGIL_KEYSTORE_KEY_LEN],
			const struct vigil_camera_config *cams, unsigned n, char *msg, size_t msglen)
{
	size_t mlen = KS_HEAD + (size_t)n * KS_REC, len = KS_OVERHEAD + mlen;
	uint8_t *plain = NULL, *file = NULL, *p;
	char tmp[PATH_MAX];
	int rc;

	if (sodium_init() < 0)
		return fail(msg, msglen, -EIO, path, "libsodium cannot initialise");
	if (n > VIGIL_MAX_CAMERAS)
		return fail(msg, msglen, -EINVAL, path, "%u cameras is more than the %d a keystore holds", n,
			    VIGIL_MAX_CAMERAS);
	rc = check_cameras(path, cams, n, UNCHANGED, msg, msglen);
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return fail(msg, msglen, -ENAMETOOLONG, path, "path too long");
	plain = sodium_malloc(mlen);
	file = malloc(len);
	if (plain == NULL || file == NULL) {
		rc = fail(msg, msglen, -ENOMEM, path, "out of memory for %zu bytes" UNCHANGED, len);
		goto out;
	}
	p = plain;
	put(&p, KS_MAGIC, KS_MAGIC_LEN);
	put_le(&p, KS_VERSION, 4);
	put_le(&p, n, 4);
	for (unsigned i = 0; i < n; i++)
		encode(plain + KS_HEAD + (size_t)i * KS_REC, &cams[i]);
	memcpy(file, KS_MAGIC, KS_MAGIC_LEN);
	randombytes_buf(file + KS_NONCE_AT, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(file + KS_BOX_AT, plain, mlen, file + KS_NONCE_AT, key);

	rc = write_file(tmp, O_TRUNC, file, len);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		rc = fail(msg, msglen, rc, tmp, "cannot write it or rename it over %s: %s" UNCHANGED, path,
			  strerror(-rc));
	} else if ((rc = fsync_dir_of(path)) < 0) {
		rc = fail(msg, msglen, rc, path,
			  "saved, but its directory cannot be synced (%s): a crash may undo it",
			  strerror(-rc));
	}
out:
	sodium_free(plain); /* wipes */
	free(file);
	return rc;
}

int vigil_keystore_key_read(const char *path, uint8_t key[VIGIL_KEYSTORE_KEY_LEN], char *msg, size_t msglen)
{
	char text[KEY_TEXT_MAX + 1];
	struct stat st;
	size_t len = 0;
	int fd, rc = 0;

	sodium_memzero(key, VIGIL_KEYSTORE_KEY_LEN);
	fd = open_regular(path, "the master key", &st, msg, msglen);
	if (fd == -ENOENT)
		return fail(msg, msglen, fd, path,
			    "no master key; make one: umask 077; head -c 32 /dev/urandom | base64 > %s",
			    path);
	if (fd < 0)
		return fd;
	if (!vigil_secret_mode_ok(path, st.st_mode))
		rc = fail(msg, msglen, -EPERM, path,
			  "mode %04o lets group or others at the master key; chmod 600 %s",
			  (unsigned)(st.st_mode & 07777), path);
	else if (st.st_uid != geteuid() && st.st_uid != 0)
		rc = fail(msg, msglen, -EPERM, path,
			  "owned by uid %u, neither vigild's user (uid %u) nor root, so it could be swapped; "
			  "chown it",
			  (unsigned)st.st_uid, (unsigned)geteuid());
	else if ((rc = read_all(fd, text, KEY_TEXT_MAX, &len)) < 0)
		rc = fail(msg, msglen, rc, path, "cannot read: %s", strerror(-rc));
	close(fd);
	text[len] = '\0';
	/* vigil_seal_key_decode skips whitespace; an embedded NUL would hide what follows it. */
	if (rc == 0 && (len == KEY_TEXT_MAX || strlen(text) != len || vigil_seal_key_decode(key, text) < 0))
		rc = fail(msg, msglen, -EINVAL, path,
			  "not a master key: expected base64 of %d bytes, one line", VIGIL_KEYSTORE_KEY_LEN);
	sodium_memzero(text, sizeof(text));
	if (rc < 0)
		sodium_memzero(key, VIGIL_KEYSTORE_KEY_LEN);
	return rc;
}

int vigil_keystore_key_generate(const char *path, char *msg, size_t msglen)
{
	uint8_t key[VIGIL_KEYSTORE_KEY_LEN];
	char line[VIGIL_SEAL_KEY_B64_BYTES + 1];
	int rc;

	if (sodium_init() < 0)
		return fail(msg, msglen, -EIO, path, "libsodium cannot initialise");
	randombytes_buf(key, sizeof(key));
	vigil_seal_key_encode(key, line);
	sodium_memzero(key, sizeof(key));
	strcat(line, "\n");
	rc = write_file(path, O_EXCL, line, strlen(line));
	sodium_memzero(line, sizeof(line));
	if (rc == -EEXIST) /* only open gives it: the existing file is untouched */
		return fail(msg, msglen, rc, path,
			    "already exists; a master key is never overwritten, since its keystore would no "
			    "longer open");
	if (rc == 0)
		rc = fsync_dir_of(path);
	if (rc < 0) {
		unlink(path);
		return fail(msg, msglen, rc, path, "cannot write the master key: %s", strerror(-rc));
	}
	return 0;
}
