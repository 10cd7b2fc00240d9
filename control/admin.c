/* SPDX-License-Identifier: MIT */
/* The admin socket (admin.h): poll(2) over the listening socket and a few
 * connections, a line buffer each, jansson for every byte of JSON. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"

#define MAX_CONNS 16

struct conn {
	int fd;
	unsigned uid; /* the peer's */
	size_t len;
	char *buf; /* VIGIL_ADMIN_MAX_LINE + 1 */
};

struct vigil_admin {
	int fd;
	bool group_set;
	gid_t group; /* AdminGroup: its members may connect too */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn conns[MAX_CONNS];
};

struct vigil_admin *vigil_admin_open(const char *path, const char *group, char *msg, size_t msglen)
{
	struct group *gr = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vigil_admin *a;
	char dir[sizeof(sa.sun_path)], *slash;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(msg, msglen, "admin socket path too long: %s", path);
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	if (group != NULL && group[0] != '\0') {
		gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(msg, msglen, "AdminGroup: no group '%s' on this system", group);
			goto err;
		}
		a->group_set = true;
		a->group = gr->gr_gid;
	}
	strcpy(a->path, path);
	strcpy(sa.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			snprintf(msg, msglen, "cannot make %s: %s", dir, strerror(errno));
			goto err;
		}
	}
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		snprintf(msg, msglen, "admin socket: %s", strerror(errno));
		goto err;
	}
	/* A socket file left by a vigild that did not stop cleanly goes; one
	 * that answers belongs to a vigild still running. */
	if (connect(a->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
		snprintf(msg, msglen, "another vigild answers on %s (--admin to choose another socket)", path);
		close(a->fd);
		goto err;
	}
	close(a->fd);
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		snprintf(msg, msglen, "admin socket: %s", strerror(errno));
		goto err;
	}
	unlink(path);
	/* Nobody but the owner may connect, from the first moment. */
	mode_t old = umask(0177);
	int rc = bind(a->fd, (struct sockaddr *)&sa, sizeof(sa));

	umask(old);
	if (rc < 0 || listen(a->fd, MAX_CONNS) < 0) {
		snprintf(msg, msglen, "cannot listen on %s: %s", path, strerror(errno));
		close(a->fd);
		goto err;
	}
	if (a->group_set && (chown(path, (uid_t)-1, a->group) < 0 || chmod(path, 0660) < 0)) {
		snprintf(msg, msglen, "cannot give %s to group %s: %s", path, group, strerror(errno));
		close(a->fd);
		unlink(path);
		goto err;
	}
	for (unsigned i = 0; i < MAX_CONNS; i++)
		a->conns[i].fd = -1;
	return a;
err:
	free(a);
	return NULL;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	free(c->buf);
	*c = (struct conn){.fd = -1};
}

/* One reply line; a peer that does not take it is dropped. */
static void reply(struct conn *c, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	size_t len, done = 0;

	json_decref(obj);
	if (text == NULL) {
		conn_close(c);
		return;
	}
	len = strlen(text);
	text[len++] = '\n'; /* over the NUL: sent by length */
	while (done < len) {
		ssize_t n = send(c->fd, text + done, len - done, MSG_NOSIGNAL);

		if (n <= 0) {
			conn_close(c);
			break;
		}
		done += (size_t)n;
	}
	free(text);
}

static json_t *error_reply(const char *what, const char *detail)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s%s", what, detail);
	return json_pack("{sbss}", "ok", 0, "error", msg);
}

static void handle_line(struct conn *c, const char *line, vigil_admin_fn fn, void *arg)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *out;
	const char *cmd = NULL, *error = NULL;

	if (req == NULL || !json_is_object(req)) {
		reply(c, error_reply("not a JSON object: ", req == NULL ? jerr.text : "an array or a value"));
		json_decref(req);
		return;
	}
	if (json_unpack(req, "{ss}", "cmd", &cmd) < 0) {
		reply(c, error_reply("no \"cmd\" string in the request", ""));
		json_decref(req);
		return;
	}
	out = fn(arg, c->uid, cmd, req, &error);
	if (out == NULL) {
		reply(c, error_reply(error != NULL ? error : "failed", ""));
	} else {
		json_object_set_new(out, "ok", json_true());
		reply(c, out);
	}
	json_decref(req);
}

/* Whether the user of that uid is in the group, as primary or
 * supplementary group. */
static bool in_group(uid_t uid, gid_t primary, gid_t group)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (primary == group)
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == group)
			return true;
	return false;
}

/* Root, the user vigild runs as, or AdminGroup's members: the socket's
 * mode says so too, this holds even if someone loosens it. */
static bool peer_allowed(const struct vigil_admin *a, int fd, unsigned *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return false;
	*uid = cred.uid;
	return cred.uid == 0 || cred.uid == geteuid() || (a->group_set && in_group(cred.uid, cred.gid, a->group));
}

static void accept_all(struct vigil_admin *a)
{
	int fd;

	while ((fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct conn *c = NULL;
		unsigned uid = 0;

		for (unsigned i = 0; i < MAX_CONNS && c == NULL; i++)
			if (a->conns[i].fd < 0)
				c = &a->conns[i];
		if (c == NULL || !peer_allowed(a, fd, &uid)) {
			static const char busy[] = "{\"error\":\"too many admin connections\",\"ok\":false}\n";
			static const char denied[] = "{\"error\":\"permission denied: root, vigild's user or AdminGroup only\",\"ok\":false}\n";

			if (c == NULL)
				(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);
			else
				(void)!send(fd, denied, sizeof(denied) - 1, MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		c->buf = malloc(VIGIL_ADMIN_MAX_LINE + 1);
		if (c->buf == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = uid;
		c->len = 0;
	}
}

/* Reads what came; answers each whole line. */
static void read_conn(struct conn *c, vigil_admin_fn fn, void *arg)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, VIGIL_ADMIN_MAX_LINE - c->len, 0);
		char *nl;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n < 0)
			return;
		c->len += (size_t)n;
		while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
			size_t used = (size_t)(nl - c->buf) + 1;

			*nl = '\0';
			handle_line(c, c->buf, fn, arg);
			if (c->fd < 0)
				return;
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
		}
		if (c->len == VIGIL_ADMIN_MAX_LINE) {
			reply(c, error_reply("a request line is longer than 65536 bytes", ""));
			if (c->fd >= 0)
				conn_close(c);
			return;
		}
	}
}

void vigil_admin_serve(struct vigil_admin *a, int timeout_ms, vigil_admin_fn fn, void *arg)
{
	struct pollfd pfd[1 + MAX_CONNS];
	struct conn *who[1 + MAX_CONNS];
	unsigned n = 0;

	pfd[n++] = (struct pollfd){.fd = a->fd, .events = POLLIN};
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (a->conns[i].fd >= 0) {
			who[n] = &a->conns[i];
			pfd[n++] = (struct pollfd){.fd = a->conns[i].fd, .events = POLLIN};
		}
	if (poll(pfd, n, timeout_ms) <= 0)
		return;
	for (unsigned i = 1; i < n; i++)
		if (pfd[i].revents != 0)
			read_conn(who[i], fn, arg);
	if (pfd[0].revents & POLLIN)
		accept_all(a);
}

void vigil_admin_close(struct vigil_admin *a)
{
	if (a == NULL)
		return;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (a->conns[i].fd >= 0)
			conn_close(&a->conns[i]);
	close(a->fd);
	unlink(a->path);
	free(a);
}
