/* SPDX-License-Identifier: MIT */
/* vigilctl watch's side of the admin socket (control/admin.c): a watcher
 * gets the published lines in order, its own bytes are not taken as
 * requests, and one that never reads costs vigild nothing but its bounded
 * buffer: publishing never waits, it is dropped once too far behind, and
 * what it is sent before the end is whole lines in order, then a last line
 * saying it was dropped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "vigil/clock.h"
#include "admin.h"

#define LINE_BYTES 1000

static char dir[] = "/tmp/vigil-admin-watch.XXXXXX";
static char path[sizeof(dir) + 16];

static json_t *serve_fn(void *arg, unsigned uid, const char *cmd, json_t *req, const char **error)
{
	(void)arg;
	(void)uid;
	(void)req;
	(void)error;
	if (strcmp(cmd, "watch") == 0)
		return json_pack("{ss sb}", "watch", "events follow", "subscribe", 1);
	return json_pack("{ss}", "answered", cmd);
}

static int client(int rcvbuf)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Serves until the client has n bytes (or hung up); returns how many. */
static size_t take(struct vigil_admin *a, int fd, char *buf, size_t n)
{
	size_t got = 0;
	uint64_t until = vigil_now_ns() + 10000000000u;

	while (got < n && vigil_now_ns() < until) {
		ssize_t r;

		vigil_admin_serve(a, 10, serve_fn, NULL);
		r = recv(fd, buf + got, n - got, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r > 0)
			got += (size_t)r;
	}
	return got;
}

static void send_line(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void test_watch_in_order(void **state)
{
	struct vigil_admin *a = *state;
	static const char reply[] = "{\"ok\":true,\"watch\":\"events follow\"}\n";
	char buf[256] = "";
	unsigned now;
	uint64_t dropped;
	int fd = client(0);

	send_line(fd, "{\"cmd\":\"watch\"}\n");
	assert_int_equal(take(a, fd, buf, strlen(reply)), strlen(reply));
	assert_string_equal(buf, reply);
	vigil_admin_watchers(a, &now, &dropped);
	assert_int_equal(now, 1);
	/* Its bytes are not requests: never answered. */
	send_line(fd, "{\"cmd\":\"stats\"}\n");
	vigil_admin_serve(a, 10, serve_fn, NULL);
	vigil_admin_publish(a, "{\"id\":1}\n", 9);
	vigil_admin_publish(a, "{\"id\":2}\n", 9);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(take(a, fd, buf, 18), 18);
	assert_string_equal(buf, "{\"id\":1}\n{\"id\":2}\n");
	close(fd);
	for (int i = 0; i < 5; i++)
		vigil_admin_serve(a, 10, serve_fn, NULL);
	vigil_admin_watchers(a, &now, &dropped);
	assert_int_equal(now, 0);
	assert_int_equal(dropped, 0);
}

static void test_slow_watcher_dropped(void **state)
{
	struct vigil_admin *a = *state;
	static const char reply[] = "{\"ok\":true,\"watch\":\"events follow\"}\n";
	const unsigned n_lines = 3 * VIGIL_ADMIN_WATCH_BYTES / LINE_BYTES;
	size_t cap = (size_t)n_lines * LINE_BYTES + 4096, got;
	char *buf = calloc(1, cap + 1), line[LINE_BYTES + 1];
	uint64_t t0, dropped;
	unsigned now, i;
	int fd = client(4096);

	assert_non_null(buf);
	send_line(fd, "{\"cmd\":\"watch\"}\n");
	assert_int_equal(take(a, fd, buf, strlen(reply)), strlen(reply));
	/* Three times its buffer's worth while it reads nothing: no wait. */
	t0 = vigil_now_ns();
	for (i = 0; i < n_lines; i++) {
		int n = snprintf(line, sizeof(line), "{\"id\":%u,\"pad\":\"", i);

		memset(line + n, 'x', LINE_BYTES - (size_t)n - 3);
		memcpy(line + LINE_BYTES - 3, "\"}\n", 3);
		vigil_admin_publish(a, line, LINE_BYTES);
	}
	assert_true(vigil_now_ns() - t0 < 1000000000u);
	vigil_admin_watchers(a, &now, &dropped);
	assert_int_equal(now, 0);
	assert_int_equal(dropped, 1);
	/* What it then reads: whole lines from the first, in order, and a last
	 * line saying why it ends; then the connection is closed. */
	got = take(a, fd, buf, cap);
	buf[got] = '\0';
	assert_true(got > VIGIL_ADMIN_WATCH_BYTES / 2);
	i = 0;
	for (char *p = buf, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1, i++) {
		unsigned id;

		*nl = '\0';
		if (strstr(p, "\"type\":\"watch_dropped\"") != NULL) {
			assert_string_equal(nl + 1, "");
			break;
		}
		assert_int_equal(sscanf(p, "{\"id\":%u,", &id), 1);
		assert_int_equal(id, i);
		assert_int_equal(strlen(p), LINE_BYTES - 1);
	}
	assert_true(i > 0 && i < n_lines);
	assert_int_equal(recv(fd, line, 1, MSG_DONTWAIT), 0);
	close(fd);
	free(buf);
}

static int setup(void **state)
{
	char msg[512];
	struct vigil_admin *a;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/admin.sock", dir);
	a = vigil_admin_open(path, NULL, msg, sizeof(msg));
	if (a == NULL) {
		fprintf(stderr, "%s\n", msg);
		return -1;
	}
	*state = a;
	return 0;
}

static int teardown(void **state)
{
	vigil_admin_close(*state);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_watch_in_order),
	    cmocka_unit_test(test_slow_watcher_dropped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
