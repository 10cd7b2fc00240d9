/* SPDX-License-Identifier: MIT */
/* The keystore: cameras round-trip field by field, the layout is checked by decrypting it here, every byte
 * flipped and every cut is refused naming the file, authenticated-but-wrong contents are refused with their
 * reason, saves killed mid-way leave the old or the new file, and the master key file's checks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <sodium.h>

#include "keystore.h"

#define REC 208
#define FIXED 64 /* outer magic, nonce, MAC, inner magic, version, count */

static char dir[64];	/* test_keystore.XXXXXX, made in the build directory; the tests run inside it */
static uint8_t *K, *K2; /* master keys, sodium_malloc'd as vigild will */

/* A new file each time: an earlier 0400 one could not be opened for writing without root. */
static void write_bytes(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static uint8_t *read_bytes(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void make_camera(struct vigil_camera_config *c, const char *name, uint32_t ssrc, bool identity,
			bool sealed)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->ssrc = ssrc;
	c->codec = ssrc & 1 ? VIGIL_CODEC_H265 : VIGIL_CODEC_H264;
	randombytes_buf(c->payload_types, sizeof(c->payload_types));
	randombytes_buf(c->master_key, sizeof(c->master_key));
	randombytes_buf(c->master_salt, sizeof(c->master_salt));
	c->has_identity = identity;
	if (identity)
		randombytes_buf(c->identity, sizeof(c->identity));
	c->sealed = sealed;
	if (sealed)
		randombytes_buf(c->owner_key, sizeof(c->owner_key));
	c->retain_hours = randombytes_random();
	randombytes_buf(&c->retain_bytes, sizeof(c->retain_bytes));
	c->retain_own = (uint8_t)(ssrc % 4);
	c->revoked = ssrc % 3 == 0;
	/* not kept: */
	c->line = 42;
	c->n_param_sets = 1;
	c->param_sets[0].len = 3;
}

static void assert_camera_equal(const struct vigil_camera_config *a, const struct vigil_camera_config *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->ssrc, b->ssrc);
	assert_int_equal(a->codec, b->codec);
	assert_memory_equal(a->payload_types, b->payload_types, sizeof(a->payload_types));
	assert_memory_equal(a->master_key, b->master_key, sizeof(a->master_key));
	assert_memory_equal(a->master_salt, b->master_salt, sizeof(a->master_salt));
	assert_int_equal(a->has_identity, b->has_identity);
	assert_memory_equal(a->identity, b->identity, sizeof(a->identity));
	assert_int_equal(a->sealed, b->sealed);
	assert_int_equal(a->revoked, b->revoked);
	assert_memory_equal(a->owner_key, b->owner_key, sizeof(a->owner_key));
	assert_int_equal(a->retain_hours, b->retain_hours);
	assert_true(a->retain_bytes == b->retain_bytes);
	assert_int_equal(a->retain_own, b->retain_own);
	assert_int_equal(b->line, 0);
	assert_int_equal(b->n_param_sets, 0);
}

static void free_cams(struct vigil_camera_config *cams, unsigned n)
{
	if (cams != NULL)
		sodium_memzero(cams, n * sizeof(*cams));
	free(cams);
}

/* Loads path and checks it holds exactly want[0..nwant). */
static void assert_loads(const char *path, const uint8_t *key, const struct vigil_camera_config *want,
			 unsigned nwant)
{
	struct vigil_camera_config *cams;
	unsigned n;
	char msg[512];
	int rc = vigil_keystore_load(path, key, &cams, &n, msg, sizeof(msg));

	if (rc != 0)
		fail_msg("load %s: %d %s", path, rc, msg);
	assert_non_null(cams);
	assert_int_equal(n, nwant);
	for (unsigned i = 0; i < n; i++)
		assert_camera_equal(&want[i], &cams[i]);
	free_cams(cams, n);
}

/* Loading must fail with rc (or, when rc is 0, with any error) and a message naming the file. */
static void assert_refused(const char *path, const uint8_t *key, int rc, const char *reason)
{
	struct vigil_camera_config *cams = (void *)1;
	unsigned n = 7;
	char msg[512] = "";
	int got = vigil_keystore_load(path, key, &cams, &n, msg, sizeof(msg));

	if (got >= 0 || (rc != 0 && got != rc) || strstr(msg, path) == NULL ||
	    (reason != NULL && strstr(msg, reason) == NULL))
		fail_msg("%s: got %d \"%s\", expected %d \"%s\"", path, got, msg, rc, reason ? reason : "");
	assert_null(cams);
	assert_int_equal(n, 0);
}

static void save_ok(const char *path, const uint8_t *key, const struct vigil_camera_config *cams, unsigned n)
{
	char msg[512];
	int rc = vigil_keystore_save(path, key, cams, n, msg, sizeof(msg));

	if (rc != 0)
		fail_msg("save %s: %d %s", path, rc, msg);
}

static void test_round_trip(void **state)
{
	struct vigil_camera_config cams[4];
	const char *path = "rt.ks";
	char name64[VIGIL_CAMERA_NAME_MAX + 1];
	struct stat st;
	uint8_t *first, *second;
	size_t len1, len2;
	(void)state;

	memset(name64, 'Z', VIGIL_CAMERA_NAME_MAX);
	name64[VIGIL_CAMERA_NAME_MAX] = '\0';
	make_camera(&cams[0], "lobby", 1000, false, false);
	make_camera(&cams[1], "door-2", 1001, true, false);
	make_camera(&cams[2], "yard_3", 0, false, true);
	make_camera(&cams[3], name64, UINT32_MAX, true, true);
	cams[3].retain_bytes = UINT64_MAX;
	cams[3].retain_hours = UINT32_MAX;
	cams[3].payload_types[0] = cams[3].payload_types[1] = UINT64_MAX;
	/* Identity cameras have no SSRC of their own until their handshake:
	 * theirs may repeat. */
	cams[1].ssrc = 0;
	save_ok(path, K, cams, 4);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, FIXED + 4 * REC);
	assert_int_equal(access("rt.ks.tmp", F_OK), -1);
	assert_loads(path, K, cams, 4);

	/* a fresh nonce on every save: the same cameras, another file, the same contents */
	first = read_bytes(path, &len1);
	save_ok(path, K, cams, 4);
	second = read_bytes(path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_not_equal(first + 8, second + 8, 24);
	assert_memory_not_equal(first + 32, second + 32, len1 - 32);
	assert_loads(path, K, cams, 4);
	free(first);
	free(second);
}

/* The layout documented in keystore.c, read back with libsodium alone. */
static void test_layout(void **state)
{
	struct vigil_camera_config cams[2];
	const char *path = "layout.ks";
	uint8_t *file, *plain, *r;
	size_t len;
	(void)state;

	make_camera(&cams[0], "a", 0x01020304, false, false);
	make_camera(&cams[1], "bb", 0xa0b0c0d1, true, true);
	cams[1].retain_bytes = 0x1122334455667788ull;
	cams[1].retain_hours = 0x99aabbcc;
	cams[1].retain_own = 2;
	save_ok(path, K, cams, 2);
	file = read_bytes(path, &len);
	assert_int_equal(len, FIXED + 2 * REC);
	assert_memory_equal(file, "VIGILKS1", 8);
	plain = malloc(len - 48);
	assert_non_null(plain);
	assert_int_equal(crypto_secretbox_open_easy(plain, file + 32, len - 32, file + 8, K), 0);
	assert_memory_equal(plain, "VIGILKS1\1\0\0\0\2\0\0\0", 16);
	r = plain + 16 + REC;
	assert_string_equal((char *)r, "bb");
	assert_true(memcmp(r + 2, (uint8_t[63]){0}, 63) == 0);
	assert_memory_equal(r + 65, "\xd1\xc0\xb0\xa0", 4);
	assert_int_equal(r[69], 1);
	assert_memory_equal(r + 86, cams[1].master_key, 32);
	assert_memory_equal(r + 118, cams[1].master_salt, 12);
	assert_int_equal(r[130], 3);
	assert_memory_equal(r + 131, cams[1].identity, 32);
	assert_memory_equal(r + 163, cams[1].owner_key, 32);
	assert_memory_equal(r + 195, "\xcc\xbb\xaa\x99", 4);
	assert_memory_equal(r + 199, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_int_equal(r[207], 2);
	r = plain + 16;
	assert_memory_equal(r + 65, "\x04\x03\x02\x01", 4);
	assert_int_equal(r[69], 0);
	assert_int_equal(r[130], 0);
	sodium_memzero(plain, len - 48);
	free(plain);
	free(file);
}

static void test_empty_and_missing(void **state)
{
	char path[PATH_MAX];
	struct stat st;
	(void)state;

	/* absolute, so that the directory synced is not "." */
	assert_non_null(getcwd(path, sizeof(path) - 16));
	strcat(path, "/empty.ks");
	save_ok(path, K, NULL, 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, FIXED);
	assert_loads(path, K, NULL, 0);
	assert_refused("missing.ks", K, -ENOENT, NULL);
	assert_refused(".", K, -EINVAL, "not a regular file");
}

/* Every byte flipped, two ways: the magic gives -EINVAL, anything else fails authentication. */
static void test_flip_every_byte(void **state)
{
	struct vigil_camera_config cams[2];
	const char *path = "flip.ks";
	uint8_t *file;
	size_t len;
	(void)state;

	make_camera(&cams[0], "one", 1, true, false);
	make_camera(&cams[1], "two", 2, false, true);
	save_ok(path, K, cams, 2);
	file = read_bytes(path, &len);
	for (size_t pos = 0; pos < len; pos++) {
		static const uint8_t flips[] = {0x01, 0x80, 0xff};

		for (size_t f = 0; f < sizeof(flips); f++) {
			file[pos] ^= flips[f];
			write_bytes(path, file, len, 0600);
			assert_refused(path, K, pos < 8 ? -EINVAL : -EBADMSG, NULL);
			file[pos] ^= flips[f];
		}
	}
	write_bytes(path, file, len, 0600);
	assert_loads(path, K, cams, 2);
	free(file);
}

static void test_wrong_key(void **state)
{
	struct vigil_camera_config cam;
	const char *path = "wrong.ks";
	(void)state;

	make_camera(&cam, "lobby", 5, false, false);
	save_ok(path, K, &cam, 1);
	assert_refused(path, K2, -EBADMSG, "cannot be opened with this master key");
	assert_refused(path, K2, -EBADMSG, "vigild will not start with it");
	assert_loads(path, K, &cam, 1);
}

/* Cut anywhere, or grown: refused. A whole record more keeps the size plausible and fails authentication. */
static void test_truncated_and_appended(void **state)
{
	struct vigil_camera_config cams[2];
	const char *path = "cut.ks";
	uint8_t *file, *big;
	size_t len;
	(void)state;

	make_camera(&cams[0], "one", 1, false, false);
	make_camera(&cams[1], "two", 2, false, false);
	save_ok(path, K, cams, 2);
	file = read_bytes(path, &len);
	for (size_t cut = 0; cut < len; cut++) {
		write_bytes(path, file, cut, 0600);
		if (cut == FIXED || cut == FIXED + REC) /* the size of 0 or 1 camera */
			assert_refused(path, K, -EBADMSG, NULL);
		else
			assert_refused(path, K, -EINVAL, cut < 8 ? "not a vigil keystore" : "cut short");
	}
	big = malloc(len + REC);
	assert_non_null(big);
	memcpy(big, file, len);
	memcpy(big + len, file + len - REC, REC);
	write_bytes(path, big, len + 1, 0600);
	assert_refused(path, K, -EINVAL, "is not the size of a keystore");
	write_bytes(path, big, len + REC, 0600);
	assert_refused(path, K, -EBADMSG, NULL);
	free(big);
	free(file);
}

/* Beyond any keystore's size: refused from its size, without reading it (a sparse file). */
static void test_too_large(void **state)
{
	const char *path = "huge.ks";
	int fd;
	(void)state;

	write_bytes(path, "VIGILKS1", 8, 0600);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)FIXED + (off_t)VIGIL_MAX_CAMERAS * REC + REC), 0);
	close(fd);
	assert_refused(path, K, -EINVAL, "more than any keystore");
	unlink(path);
}

#define N16 "nnnnnnnnnnnnnnnn"
#define N65_SHOWN N16 N16 N16 N16 /* a message shows at most 64 */
#define N65 N65_SHOWN "n"

/* Contents that authenticate but are wrong: the plaintext changed at `at`, boxed again under the right key.
 */
struct mutation {
	const char *what;
	size_t at; /* offset in the plaintext */
	const char *bytes;
	size_t len;
	const char *reason;
};

static void test_authenticated_but_invalid(void **state)
{
	static const struct mutation cases[] = {
	    {"inner magic", 0, "X", 1, "holds 'XIGILKS1' version 1; this vigild reads VIGILKS1 version 1"},
	    {"version 2", 8, "\2", 1, "holds 'VIGILKS1' version 2"},
	    {"version 0", 8, "\0", 1, "version 0; this vigild reads"},
	    {"count 3", 12, "\3", 1, "says 3 cameras but holds 2"},
	    {"count 1", 12, "\1", 1, "says 1 cameras but holds 2"},
	    {"codec 2", 16 + 69, "\2", 1, "camera 'one': unknown codec 2"},
	    {"retain bit 2", 16 + 207, "\4", 1, "unknown retain bits 0x4"},
	    {"flag bit 3", 16 + 130, "\10", 1, "camera 1: unknown flags"},
	    {"empty name", 16, "\0", 1, "camera 1: name ''"},
	    {"name with a slash", 16, "a/b", 3, "name 'a/b"},
	    {"name with a space", 16 + REC, "t o", 3, "camera 2: name 't o'"},
	    {"name twice", 16 + REC, "one\0", 4, "camera 'one' appears twice"},
	    {"ssrc twice", 16 + REC + 65, "\1\0\0\0", 4, "SSRC 1 is used by both"},
	    {"name of 65, no NUL", 16, N65, 65, "camera 1: name '" N65_SHOWN "'"},
	};
	struct vigil_camera_config cams[2];
	uint8_t *orig, *file, *plain;
	char path[128];
	size_t len;
	(void)state;

	make_camera(&cams[0], "one", 1, false, false);
	make_camera(&cams[1], "two", 2, false, false);
	save_ok("inv.ks", K, cams, 2);
	orig = read_bytes("inv.ks", &len);
	file = malloc(len);
	plain = malloc(len);
	assert_non_null(file);
	assert_non_null(plain);
	memcpy(file, orig, len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(crypto_secretbox_open_easy(plain, orig + 32, len - 32, orig + 8, K), 0);
		memcpy(plain + cases[i].at, cases[i].bytes, cases[i].len);
		crypto_secretbox_easy(file + 32, plain, len - 48, file + 8, K);
		snprintf(path, sizeof(path), "%s.ks", cases[i].what); /* failures name the case */
		write_bytes(path, file, len, 0600);
		assert_refused(path, K, -EINVAL, cases[i].reason);
	}
	/* Both made Identity cameras, of the same (all-zero) Identity. */
	assert_int_equal(crypto_secretbox_open_easy(plain, orig + 32, len - 32, orig + 8, K), 0);
	plain[16 + 130] = plain[16 + REC + 130] = 1;
	crypto_secretbox_easy(file + 32, plain, len - 48, file + 8, K);
	write_bytes("identity twice.ks", file, len, 0600);
	assert_refused("identity twice.ks", K, -EINVAL, "the Identity of 'one' is also 'two''s");
	sodium_memzero(plain, len);
	free(plain);
	free(file);
	free(orig);
}

/* What load would refuse, save refuses, leaving the file as it was. */
static void test_save_refuses(void **state)
{
	struct vigil_camera_config cams[3];
	const char *path = "refuse.ks";
	char msg[512];
	(void)state;

	make_camera(&cams[0], "one", 1, false, false);
	make_camera(&cams[1], "two", 2, false, false);
	make_camera(&cams[2], "three", 3, false, false);
	save_ok(path, K, cams, 1);

	strcpy(cams[2].name, "one");
	assert_int_equal(vigil_keystore_save(path, K, cams, 3, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "camera 'one' appears twice"));
	assert_non_null(strstr(msg, path));
	strcpy(cams[2].name, "three");
	cams[2].ssrc = 2;
	assert_int_equal(vigil_keystore_save(path, K, cams, 3, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "SSRC 2 is used by both"));
	cams[2].ssrc = 3;
	strcpy(cams[2].name, "th ree");
	assert_int_equal(vigil_keystore_save(path, K, cams, 3, msg, sizeof(msg)), -EINVAL);
	memset(cams[2].name, 'x', sizeof(cams[2].name)); /* no terminating NUL */
	assert_int_equal(vigil_keystore_save(path, K, cams, 3, msg, sizeof(msg)), -EINVAL);
	strcpy(cams[2].name, "three");
	cams[2].codec = (enum vigil_codec)9;
	assert_int_equal(vigil_keystore_save(path, K, cams, 3, msg, sizeof(msg)), -EINVAL);
	cams[2].codec = VIGIL_CODEC_H264;
	/* One Identity, two cameras: a handshake would find either. */
	cams[1].has_identity = cams[2].has_identity = true;
	randombytes_buf(cams[1].identity, sizeof(cams[1].identity));
	memcpy(cams[2].identity, cams[1].identity, sizeof(cams[1].identity));
	assert_int_equal(vigil_keystore_save(path, K, cams, 3, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "is also '"));
	cams[2].identity[0] ^= 1;
	save_ok("refuse2.ks", K, cams, 3);
	cams[1].has_identity = cams[2].has_identity = false;
	memset(cams[1].identity, 0, sizeof(cams[1].identity));
	memset(cams[2].identity, 0, sizeof(cams[2].identity));
	assert_int_equal(vigil_keystore_save(path, K, cams, VIGIL_MAX_CAMERAS + 1u, msg, sizeof(msg)),
			 -EINVAL);
	assert_loads(path, K, cams, 1);
	assert_int_equal(access("refuse.ks.tmp", F_OK), -1);
	save_ok(path, K, cams, 3);
	assert_loads(path, K, cams, 3);
}

/* A leftover PATH.tmp, of any mode or content, is simply replaced; the result is 0600. */
static void test_stale_tmp(void **state)
{
	static const char junk[] = "half a keystore, left by a crash";
	struct vigil_camera_config cam;
	const char *path = "stale.ks";
	struct stat st;
	(void)state;

	make_camera(&cam, "lobby", 9, true, true);
	write_bytes("stale.ks.tmp", junk, sizeof(junk), 0644);
	save_ok(path, K, &cam, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(access("stale.ks.tmp", F_OK), -1);
	assert_loads(path, K, &cam, 1);
}

/* A child saves A (1 camera) and B (2 cameras) in turn until SIGKILL: the file is always exactly one. */
static void test_killed_mid_save(void **state)
{
	struct vigil_camera_config b[2];
	const char *path = "atomic.ks";
	unsigned seen[3] = {0}, tmp_left = 0;
	(void)state;

	make_camera(&b[0], "front", 11, true, false);
	make_camera(&b[1], "back", 12, false, true);
	save_ok(path, K, b, 1);
	for (int round = 0; round < 20; round++) {
		struct vigil_camera_config *cams;
		unsigned n;
		char msg[512];
		int status, rc;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			for (unsigned i = 0;; i++)
				if (vigil_keystore_save(path, K, b, 1 + i % 2, msg, sizeof(msg)) != 0)
					_exit(1);
		}
		usleep(1000 + randombytes_uniform(9000));
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		tmp_left += access("atomic.ks.tmp", F_OK) == 0;
		rc = vigil_keystore_load(path, K, &cams, &n, msg, sizeof(msg));
		if (rc != 0)
			fail_msg("round %d: %d %s", round, rc, msg);
		assert_true(n == 1 || n == 2);
		for (unsigned i = 0; i < n; i++)
			assert_camera_equal(&b[i], &cams[i]);
		seen[n]++;
		free_cams(cams, n);
	}
	print_message("# killed 20 times: %u times A, %u times B, %u leftover .tmp\n", seen[1], seen[2],
		      tmp_left);
	save_ok(path, K, b, 2);
	assert_loads(path, K, b, 2);
	assert_int_equal(access("atomic.ks.tmp", F_OK), -1);
}

static void test_key_generate_and_read(void **state)
{
	const char *path = "master.key", *other = "other.key";
	uint8_t *key = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN), *key2 = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN);
	uint8_t direct[VIGIL_KEYSTORE_KEY_LEN];
	uint8_t *text;
	size_t len, n;
	struct stat st;
	char msg[512];
	(void)state;

	assert_non_null(key);
	assert_non_null(key2);
	assert_int_equal(vigil_keystore_key_generate(path, msg, sizeof(msg)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	text = read_bytes(path, &len);
	assert_int_equal(len, 45);
	assert_int_equal(text[44], '\n');
	assert_int_equal(sodium_base642bin(direct, sizeof(direct), (char *)text, 44, NULL, &n, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(n, VIGIL_KEYSTORE_KEY_LEN);
	assert_int_equal(vigil_keystore_key_read(path, key, msg, sizeof(msg)), 0);
	assert_memory_equal(key, direct, VIGIL_KEYSTORE_KEY_LEN);

	/* never overwritten */
	assert_int_equal(vigil_keystore_key_generate(path, msg, sizeof(msg)), -EEXIST);
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "never overwritten"));
	assert_int_equal(vigil_keystore_key_read(path, key2, msg, sizeof(msg)), 0);
	assert_memory_equal(key, key2, VIGIL_KEYSTORE_KEY_LEN);

	/* another one differs, and a keystore saved under one does not open under the other */
	assert_int_equal(vigil_keystore_key_generate(other, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_keystore_key_read(other, key2, msg, sizeof(msg)), 0);
	assert_memory_not_equal(key, key2, VIGIL_KEYSTORE_KEY_LEN);
	save_ok("two-keys.ks", key, NULL, 0);
	assert_loads("two-keys.ks", key, NULL, 0);
	assert_refused("two-keys.ks", key2, -EBADMSG, NULL);

	/* the same key without its newline */
	write_bytes(path, text, 44, 0600);
	assert_int_equal(vigil_keystore_key_read(path, key2, msg, sizeof(msg)), 0);
	assert_memory_equal(key, key2, VIGIL_KEYSTORE_KEY_LEN);
	sodium_memzero(direct, sizeof(direct));
	sodium_memzero(text, len);
	free(text);
	sodium_free(key);
	sodium_free(key2);
}

static void expect_key_refused(const char *path, int rc, const char *reason)
{
	uint8_t *key = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN);
	char msg[512] = "";
	int got;

	assert_non_null(key);
	memset(key, 0xaa, VIGIL_KEYSTORE_KEY_LEN);
	got = vigil_keystore_key_read(path, key, msg, sizeof(msg));
	if (got != rc || strstr(msg, path) == NULL || strstr(msg, reason) == NULL)
		fail_msg("%s: got %d \"%s\", expected %d \"%s\"", path, got, msg, rc, reason);
	assert_true(sodium_is_zero(key, VIGIL_KEYSTORE_KEY_LEN)); /* nothing half-read left in it */
	sodium_free(key);
}

static void test_key_file_refused(void **state)
{
	static const struct {
		const char *text;
		const char *what;
	} bad[] = {
	    {"", "empty"},
	    {"not base64 at all, not at all, not at all!!\n", "junk"},
	    {"AAECAwQFBgcICQoLDA0ODw==\n", "16 bytes"},
	    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==\n", "34 bytes"},
	    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", "padding missing"},
	    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
	     "two keys"},
	    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8_\n", "url-safe alphabet"},
	};
	static const char good[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
	const char *path = "bad.key";
	uint8_t *key = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN);
	char msg[512];
	(void)state;

	assert_non_null(key);
	write_bytes(path, good, strlen(good), 0600);
	assert_int_equal(vigil_keystore_key_read(path, key, msg, sizeof(msg)), 0);
	for (unsigned i = 0; i < VIGIL_KEYSTORE_KEY_LEN; i++)
		assert_int_equal(key[i], i);
	write_bytes(path, good, strlen(good), 0400);
	assert_int_equal(vigil_keystore_key_read(path, key, msg, sizeof(msg)), 0);

	write_bytes(path, good, strlen(good), 0644);
	expect_key_refused(path, -EPERM, "mode 0644");
	expect_key_refused(path, -EPERM, "chmod 600");
	write_bytes(path, good, strlen(good), 0640);
	expect_key_refused(path, -EPERM, "mode 0640");
	write_bytes(path, good, strlen(good), 0601);
	expect_key_refused(path, -EPERM, "mode 0601");
	write_bytes(path, good, strlen(good), 0610);
	expect_key_refused(path, -EPERM, "mode 0610");
	/* Writable only (a key could be swapped in): refused as well. */
	write_bytes(path, good, strlen(good), 0620);
	expect_key_refused(path, -EPERM, "mode 0620");
	write_bytes(path, good, strlen(good), 0602);
	expect_key_refused(path, -EPERM, "mode 0602");
	/* A systemd credential: newer systemd makes it 0440 with the
	 * service's group, in a directory only the service enters. Group
	 * read is taken there, and only there; group write never. */
	assert_true(mkdir("creds", 0700) == 0 || errno == EEXIST);
	write_bytes("creds/keystore.key", good, strlen(good), 0440);
	expect_key_refused("creds/keystore.key", -EPERM, "mode 0440");
	setenv("CREDENTIALS_DIRECTORY", "creds", 1);
	assert_int_equal(vigil_keystore_key_read("creds/keystore.key", key, msg, sizeof(msg)), 0);
	write_bytes("creds/keystore.key", good, strlen(good), 0460);
	expect_key_refused("creds/keystore.key", -EPERM, "mode 0460");
	write_bytes("creds/keystore.key", good, strlen(good), 0444);
	expect_key_refused("creds/keystore.key", -EPERM, "mode 0444");
	write_bytes(path, good, strlen(good), 0440);
	expect_key_refused(path, -EPERM, "mode 0440"); /* not a credential */
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(unlink("creds/keystore.key"), 0);
	assert_int_equal(rmdir("creds"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s.key", bad[i].what); /* failures name the case */
		write_bytes(name, bad[i].text, strlen(bad[i].text), 0600);
		expect_key_refused(name, -EINVAL, "not a master key");
	}
	/* a NUL after a good key hides nothing */
	write_bytes(path, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\0junk", 49, 0600);
	expect_key_refused(path, -EINVAL, "not a master key");
	expect_key_refused("no.key", -ENOENT, "no master key; make one");
	expect_key_refused(".", -EINVAL, "not a regular file");
	if (geteuid() == 0) {
		write_bytes(path, good, strlen(good), 0600);
		assert_int_equal(chown(path, 12345, 0), 0);
		expect_key_refused(path, -EPERM, "owned by uid 12345");
	} else {
		print_message("# skip: owner check (needs root to give the file away)\n");
	}
	sodium_free(key);
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "test_keystore.XXXXXX");
	if (mkdtemp(dir) == NULL || chdir(dir) != 0)
		return -1;
	K = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN);
	K2 = sodium_malloc(VIGIL_KEYSTORE_KEY_LEN);
	if (K == NULL || K2 == NULL)
		return -1;
	crypto_secretbox_keygen(K);
	crypto_secretbox_keygen(K2);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(".");
	struct dirent *e;
	(void)state;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlink(e->d_name);
	if (d != NULL)
		closedir(d);
	sodium_free(K);
	sodium_free(K2);
	return chdir("..") == 0 && rmdir(dir) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	      cmocka_unit_test(test_layout),
	    cmocka_unit_test(test_empty_and_missing), cmocka_unit_test(test_flip_every_byte),
	    cmocka_unit_test(test_wrong_key),	      cmocka_unit_test(test_truncated_and_appended),
	    cmocka_unit_test(test_too_large),	      cmocka_unit_test(test_authenticated_but_invalid),
	    cmocka_unit_test(test_save_refuses),      cmocka_unit_test(test_stale_tmp),
	    cmocka_unit_test(test_killed_mid_save),   cmocka_unit_test(test_key_generate_and_read),
	    cmocka_unit_test(test_key_file_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
