/* SPDX-License-Identifier: MIT */
/* The etcd client (control/etcd.h) against a real etcd that
 * tests/integration/etcd.sh starts (ETCD_ENDPOINTS: a dead endpoint first,
 * so every call goes over to the live one), and the cluster's records:
 * sealed to their key, so one moved to another key does not open. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <sodium.h>

#include "etcd.h"

static struct vigil_etcd *e;
static char msg[1024];

static int setup(void **state)
{
	const char *ep = getenv("ETCD_ENDPOINTS");

	(void)state;
	if (ep == NULL) {
		fprintf(stderr, "test_etcd: ETCD_ENDPOINTS is not set (tests/integration/etcd.sh sets it)\n");
		return -1;
	}
	e = vigil_etcd_open(ep, msg, sizeof(msg));
	return e != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	vigil_etcd_close(e);
	return 0;
}

static void test_endpoints(void **state)
{
	(void)state;
	assert_null(vigil_etcd_open("ftp://198.18.0.10:2379", msg, sizeof(msg)));
	assert_string_equal(msg, "etcd endpoint 'ftp://198.18.0.10:2379' is not an http:// or https:// URL");
	assert_null(vigil_etcd_open(" , ", msg, sizeof(msg)));
	assert_string_equal(msg, "no etcd endpoint");
}

/* Puts, ranges of a prefix in key order with their revisions, a key
 * alone, deletes. */
static void test_put_range_delete(void **state)
{
	struct vigil_etcd_kv *kv;
	size_t n;
	int64_t rev, r1, r2, deleted;

	(void)state;
	assert_int_equal(vigil_etcd_delete(e, "/t/", true, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_put(e, "/t/b", "two", 3, 0, &r1, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_put(e, "/t/a", "one", 3, 0, &r2, msg, sizeof(msg)), 0);
	assert_true(r2 > r1);
	assert_int_equal(vigil_etcd_put(e, "/u/x", "\0\xff", 2, 0, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_range(e, "/t/", true, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 2);
	assert_true(rev >= r2 + 1);
	assert_string_equal(kv[0].key, "/t/a");
	assert_int_equal(kv[0].value_len, 3);
	assert_memory_equal(kv[0].value, "one", 3);
	assert_int_equal(kv[0].mod_revision, r2);
	assert_string_equal(kv[1].key, "/t/b");
	assert_int_equal(kv[1].create_revision, r1);
	vigil_etcd_kvs_free(kv, n);
	/* Bytes, not text. */
	assert_int_equal(vigil_etcd_range(e, "/u/x", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kv[0].value_len, 2);
	assert_memory_equal(kv[0].value, "\0\xff", 2);
	vigil_etcd_kvs_free(kv, n);
	assert_int_equal(vigil_etcd_delete(e, "/t/", true, &deleted, msg, sizeof(msg)), 0);
	assert_int_equal(deleted, 2);
	assert_int_equal(vigil_etcd_range(e, "/t/", true, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 0);
	assert_null(kv);
}

/* Two admins change one record: the one who read it at the revision it
 * is at wins, the other is told; a record made twice is made once. */
static void test_put_if(void **state)
{
	bool done;
	int64_t rev, made;

	(void)state;
	assert_int_equal(vigil_etcd_delete(e, "/c/door", false, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_put_if(e, "/c/door", "v1", 2, 0, 0, &done, &made, msg, sizeof(msg)), 0);
	assert_true(done);
	assert_int_equal(vigil_etcd_put_if(e, "/c/door", "v1", 2, 0, 0, &done, &rev, msg, sizeof(msg)), 0);
	assert_false(done); /* made already */
	assert_int_equal(vigil_etcd_put_if(e, "/c/door", "admin A", 7, made, 0, &done, &rev, msg, sizeof(msg)), 0);
	assert_true(done);
	assert_int_equal(vigil_etcd_put_if(e, "/c/door", "admin B", 7, made, 0, &done, &rev, msg, sizeof(msg)), 0);
	assert_false(done); /* read before A's change */

	struct vigil_etcd_kv *kv;
	size_t n;

	assert_int_equal(vigil_etcd_range(e, "/c/door", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(kv[0].value, "admin A", 7);
	made = kv[0].mod_revision;
	vigil_etcd_kvs_free(kv, n);

	/* A delete read before a change is refused; at the key's revision it goes. */
	assert_int_equal(vigil_etcd_delete_if(e, "/c/door", made - 1, &done, &rev, msg, sizeof(msg)), 0);
	assert_false(done);
	assert_int_equal(vigil_etcd_range(e, "/c/door", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	vigil_etcd_kvs_free(kv, n);
	assert_int_equal(vigil_etcd_delete_if(e, "/c/door", made, &done, &rev, msg, sizeof(msg)), 0);
	assert_true(done);
	assert_true(rev > made);
	assert_int_equal(vigil_etcd_range(e, "/c/door", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 0);
	vigil_etcd_kvs_free(kv, n);
}

/* A prefix read in pages: every key once, in order, at one revision. */
static void test_pages(void **state)
{
	struct vigil_etcd_kv *kv;
	char key[32];
	int64_t rev;
	size_t n;

	(void)state;
	assert_int_equal(vigil_etcd_delete(e, "/pages/", true, NULL, msg, sizeof(msg)), 0);
	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "/pages/k%02d", i);
		assert_int_equal(vigil_etcd_put(e, key, key, strlen(key), 0, NULL, msg, sizeof(msg)), 0);
	}
	vigil_etcd_page(e, 10);
	assert_int_equal(vigil_etcd_range(e, "/pages/", true, &kv, &n, &rev, msg, sizeof(msg)), 0);
	vigil_etcd_page(e, 0);
	assert_int_equal(n, 25);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "/pages/k%02zu", i);
		assert_string_equal(kv[i].key, key);
		assert_memory_equal(kv[i].value, key, strlen(key));
		assert_true(kv[i].mod_revision <= rev);
	}
	vigil_etcd_kvs_free(kv, n);
	/* A page size that divides the keys exactly: no empty last page. */
	vigil_etcd_page(e, 5);
	assert_int_equal(vigil_etcd_range(e, "/pages/", true, &kv, &n, NULL, msg, sizeof(msg)), 0);
	vigil_etcd_page(e, 0);
	assert_int_equal(n, 25);
	vigil_etcd_kvs_free(kv, n);
}

/* Keys under a lease: kept while it is kept alive, gone with it when it
 * is revoked, and when it expires. */
static void test_lease(void **state)
{
	struct vigil_etcd_kv *kv;
	size_t n = 0;
	int64_t id, rev;
	int ttl;

	(void)state;
	assert_int_equal(vigil_etcd_lease_grant(e, 30, &id, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_put(e, "/n/a", "up", 2, id, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_lease_keepalive(e, id, &ttl, msg, sizeof(msg)), 0);
	assert_true(ttl > 20 && ttl <= 30);
	assert_int_equal(vigil_etcd_range(e, "/n/a", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kv[0].lease, id);
	vigil_etcd_kvs_free(kv, n);
	assert_int_equal(vigil_etcd_lease_revoke(e, id, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_range(e, "/n/a", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 0);

	/* Not kept alive: gone within its TTL and etcd's check. */
	assert_int_equal(vigil_etcd_lease_grant(e, 2, &id, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_put(e, "/n/b", "up", 2, id, NULL, msg, sizeof(msg)), 0);
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(vigil_etcd_range(e, "/n/b", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
		vigil_etcd_kvs_free(kv, n);
		if (n == 0)
			break;
		usleep(100000);
	}
	assert_int_equal(n, 0);
	ttl = 1;
	assert_true(vigil_etcd_lease_keepalive(e, id, &ttl, msg, sizeof(msg)) == -ENOENT || ttl == 0);
}

/* A record opens only under the key it was sealed for, and only with
 * the master key: one copied to another camera's key in etcd does not. */
static void test_records(void **state)
{
	uint8_t master[32], other[32], sealed[64 + VIGIL_ETCD_SEAL_OVERHEAD], plain[64];
	const char text[] = "SSRC = 4242\nKey = ...";
	struct vigil_etcd_kv *kv;
	size_t n;
	int64_t rev;

	(void)state;
	randombytes_buf(master, sizeof(master));
	randombytes_buf(other, sizeof(other));
	vigil_etcd_seal(master, "/vigil/cameras/door", text, sizeof(text), sealed);
	assert_int_equal(vigil_etcd_open_record(master, "/vigil/cameras/door", sealed,
						sizeof(text) + VIGIL_ETCD_SEAL_OVERHEAD, plain),
			 0);
	assert_memory_equal(plain, text, sizeof(text));
	assert_int_equal(vigil_etcd_open_record(master, "/vigil/cameras/gate", sealed,
						sizeof(text) + VIGIL_ETCD_SEAL_OVERHEAD, plain),
			 -EBADMSG);
	assert_int_equal(vigil_etcd_open_record(other, "/vigil/cameras/door", sealed,
						sizeof(text) + VIGIL_ETCD_SEAL_OVERHEAD, plain),
			 -EBADMSG);
	assert_int_equal(vigil_etcd_open_record(master, "/vigil/cameras/door", sealed, VIGIL_ETCD_SEAL_OVERHEAD - 1,
						plain),
			 -EBADMSG);
	/* Through etcd: put as door's, moved to gate's by someone with etcd access. */
	assert_int_equal(vigil_etcd_put(e, "/vigil/cameras/gate", sealed, sizeof(text) + VIGIL_ETCD_SEAL_OVERHEAD, 0,
					NULL, msg, sizeof(msg)),
			 0);
	assert_int_equal(vigil_etcd_range(e, "/vigil/cameras/gate", false, &kv, &n, &rev, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(vigil_etcd_open_record(master, kv[0].key, kv[0].value, kv[0].value_len, plain), -EBADMSG);
	vigil_etcd_kvs_free(kv, n);
}

/* What a watch saw. */
struct seen {
	unsigned n;
	bool put[8];
	char key[8][32], value[8][8];
	int64_t rev[8];
	unsigned stop_after;
};

static int on_event(void *arg, bool put, const struct vigil_etcd_kv *kv)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->put[s->n] = put;
		snprintf(s->key[s->n], sizeof(s->key[0]), "%s", kv->key);
		snprintf(s->value[s->n], sizeof(s->value[0]), "%.*s", (int)kv->value_len, (const char *)kv->value);
		s->rev[s->n] = kv->mod_revision;
	}
	return ++s->n == s->stop_after ? 42 : 0;
}

struct watcher {
	pthread_t t;
	struct vigil_etcd *e;
	int64_t from, revision;
	struct seen seen;
	volatile bool stop;
	int rc;
	char msg[512];
};

static void *watch_thread(void *arg)
{
	struct watcher *w = arg;

	w->rc = vigil_etcd_watch(w->e, "/w/", w->from, on_event, &w->seen, &w->stop, &w->revision, w->msg,
				 sizeof(w->msg));
	return NULL;
}

/* Every change under the prefix, in order, from a revision on; nothing
 * outside it; the watch ends when its callback says so, or when told to
 * stop while nothing happens. */
static void test_watch(void **state)
{
	static struct watcher w = {.seen = {.stop_after = 3}};
	int64_t r0, r1, r2;

	(void)state;
	w.e = vigil_etcd_open(getenv("ETCD_ENDPOINTS"), msg, sizeof(msg));
	assert_non_null(w.e);
	assert_int_equal(vigil_etcd_delete(e, "/w/", true, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_put(e, "/w/a", "1", 1, 0, &r0, msg, sizeof(msg)), 0);
	w.from = r0; /* from a revision already past: the put before the watch comes too */
	assert_int_equal(pthread_create(&w.t, NULL, watch_thread, &w), 0);
	assert_int_equal(vigil_etcd_put(e, "/x/other", "no", 2, 0, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_put(e, "/w/b", "2", 1, 0, &r1, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_delete(e, "/w/a", false, NULL, msg, sizeof(msg)), 0);
	assert_int_equal(pthread_join(w.t, NULL), 0);
	assert_int_equal(w.rc, 42);
	assert_int_equal(w.seen.n, 3);
	assert_true(w.seen.put[0] && w.seen.put[1] && !w.seen.put[2]);
	assert_string_equal(w.seen.key[0], "/w/a");
	assert_string_equal(w.seen.value[0], "1");
	assert_int_equal(w.seen.rev[0], r0);
	assert_string_equal(w.seen.key[1], "/w/b");
	assert_int_equal(w.seen.rev[1], r1);
	assert_string_equal(w.seen.key[2], "/w/a");
	assert_true(w.seen.rev[2] > r1);
	assert_int_equal(w.revision, w.seen.rev[2]);
	r2 = w.revision;

	/* Nothing happens: told to stop, it stops. */
	memset(&w.seen, 0, sizeof(w.seen));
	w.from = r2 + 1;
	assert_int_equal(pthread_create(&w.t, NULL, watch_thread, &w), 0);
	usleep(300000);
	w.stop = true;
	assert_int_equal(pthread_join(w.t, NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.seen.n, 0);

	/* From before a compaction: told to read again. */
	assert_int_equal(vigil_etcd_put(e, "/w/c", "3", 1, 0, &r1, msg, sizeof(msg)), 0);
	assert_int_equal(vigil_etcd_compact(e, r1, msg, sizeof(msg)), 0);
	w.stop = false;
	w.from = r0;
	assert_int_equal(pthread_create(&w.t, NULL, watch_thread, &w), 0);
	assert_int_equal(pthread_join(w.t, NULL), 0);
	assert_int_equal(w.rc, -ESTALE);
	assert_non_null(strstr(w.msg, "compacted"));
	vigil_etcd_close(w.e);
}

/* Every endpoint dead: a clear error, not a hang. */
static void test_unreachable(void **state)
{
	struct vigil_etcd *dead = vigil_etcd_open("http://127.0.0.1:1", msg, sizeof(msg));
	int64_t rev;

	(void)state;
	assert_non_null(dead);
	assert_int_equal(vigil_etcd_put(dead, "/x", "y", 1, 0, &rev, msg, sizeof(msg)), -EIO);
	assert_non_null(strstr(msg, "http://127.0.0.1:1"));
	vigil_etcd_close(dead);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_put_range_delete),
		cmocka_unit_test(test_put_if),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_unreachable),
	};

	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
