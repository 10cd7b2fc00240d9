/* SPDX-License-Identifier: MIT */
/* The replay state file: written and read back whole, from the writer
 * thread and at a clean stop; a file altered, cut short or of another kind
 * set aside (never used, never a refusal to start); StateDir made 0700 and
 * refused when group or others may enter it; key ids. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "state.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(rmdir(dir), 0); /* vigil_state_open makes it */
}

/* A StateDir whose parents are missing too. */
static void test_parents(void **state)
{
	char deep[128], msg[256];
	struct vigil_state *st;
	struct stat sb;

	(void)state;
	make_dir();
	snprintf(deep, sizeof(deep), "%s/a/b/state", dir);
	st = vigil_state_open(deep, msg, sizeof(msg));
	assert_non_null(st);
	vigil_state_close(st);
	assert_int_equal(stat(deep, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(rmdir(deep), 0);
	snprintf(deep, sizeof(deep), "%s/a/b", dir);
	assert_int_equal(rmdir(deep), 0);
	snprintf(deep, sizeof(deep), "%s/a", dir);
	assert_int_equal(rmdir(deep), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* How many files in dir start with prefix. */
static unsigned files_like(const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static void recs(struct vigil_state_rec *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t key[32] = {(uint8_t)i}, salt[12] = {1};

		memset(&r[i], 0, sizeof(r[i]));
		snprintf(r[i].name, sizeof(r[i].name), "cam-%03u", (n - i) * 7 % 1000); /* not in order */
		r[i].ssrc = 1000 + i;
		vigil_state_key_id(key, salt, r[i].key_id);
		r[i].index = (uint64_t)i << 16 | (65535 - i);
		r[i].has_srtcp = i % 3 != 0;
		r[i].srtcp_index = r[i].has_srtcp ? 0x7fffff00u + i : 0;
		r[i].has_rtx = i % 4 == 1;
		r[i].rtx_ssrc = r[i].has_rtx ? 5000 + i : 0;
		r[i].rtx_index = r[i].has_rtx ? (uint64_t)i << 32 | 7 : 0;
		r[i].fb_reserved = i % 2 ? 65536u * i : 0;
		r[i].has_rtx_srtcp = r[i].has_rtx && i % 3 == 1;
		r[i].rtx_srtcp_index = r[i].has_rtx_srtcp ? 0x7ffffff0u - i : 0;
	}
}

static void check_loaded(const struct vigil_state *st, const struct vigil_state_rec *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct vigil_state_rec *got = vigil_state_find(st, r[i].name);

		assert_non_null(got);
		assert_int_equal(got->ssrc, r[i].ssrc);
		assert_int_equal(got->index, r[i].index);
		assert_int_equal(got->has_srtcp, r[i].has_srtcp);
		assert_int_equal(got->srtcp_index, r[i].srtcp_index);
		assert_int_equal(got->has_rtx, r[i].has_rtx);
		assert_int_equal(got->rtx_ssrc, r[i].rtx_ssrc);
		assert_int_equal(got->rtx_index, r[i].rtx_index);
		assert_int_equal(got->fb_reserved, r[i].fb_reserved);
		assert_int_equal(got->has_rtx_srtcp, r[i].has_rtx_srtcp);
		assert_int_equal(got->rtx_srtcp_index, r[i].rtx_srtcp_index);
		assert_memory_equal(got->key_id, r[i].key_id, VIGIL_STATE_KEY_ID_LEN);
	}
	assert_null(vigil_state_find(st, "no-such-camera"));
}

/* Written at a clean stop, then by the thread (the last submitted one
 * wins once close has waited for it); read back whole. */
static void test_round_trip(void **state)
{
	struct vigil_state_rec r[50];
	struct vigil_state_stats ss;
	struct vigil_state *st;
	struct stat sb;
	char msg[256], path[128];

	(void)state;
	make_dir();
	recs(r, 50);
	st = vigil_state_open(dir, msg, sizeof(msg));
	assert_non_null(st);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_null(vigil_state_find(st, r[0].name)); /* nothing yet */
	assert_int_equal(vigil_state_write(st, r, 50), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, VIGIL_STATE_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sb.st_size, 16 + 50 * 116 + 32);
	r[3].index += 5;
	assert_true(vigil_state_submit(st, r, 50));
	vigil_state_close(st);

	st = vigil_state_open(dir, msg, sizeof(msg));
	assert_non_null(st);
	check_loaded(st, r, 50);
	vigil_state_stats(st, &ss);
	assert_int_equal(ss.loaded, 50);
	assert_false(ss.set_aside);
	vigil_state_close(st);
	assert_int_equal(files_like(VIGIL_STATE_FILE), 1); /* no temporary left */
	remove_dir();
}

/* A file of version 1 (before retransmission: 96-byte records) is read:
 * an upgrade keeps every camera's index. */
static void test_version_1(void **state)
{
	struct vigil_state_rec r[5];
	uint8_t file[16 + 5 * 96 + 32] = "VIGILRS";
	struct vigil_state *st;
	char msg[256], path[128];
	FILE *f;

	(void)state;
	make_dir();
	recs(r, 5);
	file[8] = 1; /* version, little-endian */
	file[12] = 5;
	for (unsigned i = 0; i < 5; i++) {
		/* sorted by name, as written: recs() makes them descending */
		struct vigil_state_rec *x = &r[4 - i];
		uint8_t *p = file + 16 + 96 * i;

		x->has_rtx = false;
		x->rtx_ssrc = 0;
		x->rtx_index = 0;
		x->fb_reserved = 0;
		x->has_rtx_srtcp = false;
		x->rtx_srtcp_index = 0;
		memcpy(p, x->name, strlen(x->name));
		for (int b = 0; b < 4; b++)
			p[64 + b] = (uint8_t)(x->ssrc >> (8 * b));
		memcpy(p + 68, x->key_id, VIGIL_STATE_KEY_ID_LEN);
		for (int b = 0; b < 8; b++)
			p[84 + b] = (uint8_t)(x->index >> (8 * b));
		for (int b = 0; b < 4; b++)
			p[92 + b] = (uint8_t)((x->has_srtcp ? x->srtcp_index | 0x80000000u : 0) >> (8 * b));
	}
	crypto_generichash(file + sizeof(file) - 32, 32, file, sizeof(file) - 32, NULL, 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, VIGIL_STATE_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(file, 1, sizeof(file), f), sizeof(file));
	fclose(f);
	st = vigil_state_open(dir, msg, sizeof(msg));
	assert_non_null(st);
	check_loaded(st, r, 5);
	vigil_state_close(st);
	remove_dir();
}

/* Every single-bit change and every cut of the file makes it unusable:
 * set aside, nothing loaded, and vigild goes on. */
static void test_corrupt_set_aside(void **state)
{
	struct vigil_state_rec r[3];
	struct vigil_state_stats ss;
	struct vigil_state *st;
	uint8_t good[16 + 3 * 96 + 32], bad[sizeof(good)];
	char msg[256], path[128];
	int fd;

	(void)state;
	make_dir();
	recs(r, 3);
	st = vigil_state_open(dir, msg, sizeof(msg));
	assert_non_null(st);
	assert_int_equal(vigil_state_write(st, r, 3), 0);
	vigil_state_close(st);
	snprintf(path, sizeof(path), "%s/%s", dir, VIGIL_STATE_FILE);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, good, sizeof(good)), sizeof(good));
	close(fd);
	/* every length short of whole, then whole with each byte changed */
	for (size_t k = 0; k < 2 * sizeof(good); k++) {
		size_t len = k < sizeof(good) ? k : sizeof(good);

		memcpy(bad, good, sizeof(good));
		if (k >= sizeof(good))
			bad[k - sizeof(good)] ^= (uint8_t)(1u << k % 8);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_int_equal(write(fd, bad, len), (ssize_t)len);
		close(fd);
		st = vigil_state_open(dir, msg, sizeof(msg));
		assert_non_null(st);
		vigil_state_stats(st, &ss);
		if (!ss.set_aside || ss.loaded != 0 || vigil_state_find(st, r[0].name) != NULL)
			fail_msg("a state file %s was used", k < sizeof(good) ? "cut short" : "with a bit changed");
		vigil_state_close(st);
		assert_int_equal(access(path, F_OK), -1); /* moved out of the way */
	}
	assert_true(files_like(VIGIL_STATE_FILE ".corrupt-") >= 1);
	remove_dir();
}

/* StateDir: refused when group or others may enter, or not a directory. */
static void test_dir_mode(void **state)
{
	char msg[256], path[128];
	int fd;

	(void)state;
	make_dir();
	assert_int_equal(mkdir(dir, 0750), 0);
	assert_int_equal(chmod(dir, 0750), 0);
	assert_null(vigil_state_open(dir, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "chmod 700"));
	assert_int_equal(chmod(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_null(vigil_state_open(path, msg, sizeof(msg)));
	remove_dir();
}

static void test_key_id(void **state)
{
	uint8_t k1[32] = {1}, k2[32] = {2}, salt[12] = {0}, a[16], b[16], c[16];

	(void)state;
	vigil_state_key_id(k1, salt, a);
	vigil_state_key_id(k1, salt, b);
	vigil_state_key_id(k2, salt, c);
	assert_memory_equal(a, b, 16);
	assert_memory_not_equal(a, c, 16);
	salt[11] = 1;
	vigil_state_key_id(k1, salt, b);
	assert_memory_not_equal(a, b, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_version_1),
	    cmocka_unit_test(test_corrupt_set_aside),
	    cmocka_unit_test(test_dir_mode),
	    cmocka_unit_test(test_parents),
	    cmocka_unit_test(test_key_id),
	};

	if (sodium_init() < 0)
		return 1;
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
