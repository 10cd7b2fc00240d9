/* SPDX-License-Identifier: MIT */
/* The admin socket (admin.h): poll(2) over the listening socket and a few
 * connections, each with a request buffer and the reply it is sending,
 * jansson for every byte of JSON. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "admin.h"

static struct vigil_log_limit stalled_log; /* one cause each: a few lines a minute */
static struct vigil_log_limit watcher_log; /* one cause each: a few lines a minute */

#define MAX_CONNS 16

struct conn {
	int fd;
	unsigned uid; /* the peer's */
	size_t len;
	char *buf; /* VIGIL_ADMIN_MAX_LINE + 1, wiped as lines are used */
	char *out; /* the reply being sent, from sent to out_len; NULL: none */
	size_t out_len, sent;
	uint64_t moved_ms; /* when the peer last took some of it */
	bool closing;	   /* close once the reply is sent */
	bool watch;	   /* a watcher: out holds the events it has not taken */
};

struct vigil_admin {
	int fd;
	bool group_set;
	gid_t group; /* AdminGroup: its members may connect too */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct conn conns[MAX_CONNS];
	uint64_t watchers_dropped;
};

/* The socket's folder. One we make is the group's, mode 2750: its
 * members can reach the socket, which inherits the group. One that exists
 * is left as it is, with a warning when the group's members cannot pass
 * it. Through a descriptor, never by path once made. */
static int make_dir(const char *dir, const struct vigil_admin *a, const char *group, char *msg, size_t msglen)
{
	bool made = mkdir(dir, 0750) == 0;
	int fd, rc = 0;
	struct stat st;

	if (!made && errno != EEXIST) {
		snprintf(msg, msglen, "cannot make %s: %s", dir, strerror(errno));
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(msg, msglen, "%s: %s (the admin socket's folder)", dir, strerror(errno));
	} else if (made && a->group_set && (fchown(fd, (uid_t)-1, a->group) < 0 || fchmod(fd, 02750) < 0)) {
		rc = -errno;
		snprintf(msg, msglen, "cannot give %s to group %s: %s", dir, group, strerror(errno));
	} else if (made && !a->group_set && fchmod(fd, 0750) < 0) {
		rc = -errno;
		snprintf(msg, msglen, "cannot chmod %s: %s", dir, strerror(errno));
	} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		/* They could put a socket of theirs in its place, which admins
		 * would send keys to. */
		rc = -EPERM;
		snprintf(msg, msglen,
			 "%s: group or others may replace the admin socket in it (mode %04o); chmod go-w %s", dir,
			 (unsigned)(st.st_mode & 07777), dir);
	} else if (!made && a->group_set && !(st.st_mode & S_IXOTH) &&
		   !(st.st_gid == a->group && (st.st_mode & S_IXGRP))) {
		vigil_log(VIGIL_LOG_WARNING,
			"vigild: %s: members of AdminGroup %s cannot pass it to reach the admin socket "
			"(mode %04o, gid %u): chgrp %s %s; chmod 2750 %s\n",
			dir, group, (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid, group, dir, dir);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

struct binder {
	int fd;
	const struct sockaddr_un *sa;
	const struct vigil_admin *a;
	int err;
};

/* A thread of its own for bind(2): its file-system attributes unshared,
 * the umask (and the group, for root) it sets are its own, so the socket
 * is made 0600 or 0660 and no file another thread makes meanwhile gets
 * them. */
static void *bind_alone(void *arg)
{
	struct binder *b = arg;

	if (unshare(CLONE_FS) < 0) {
		b->err = errno;
		return NULL;
	}
	umask(b->a->group_set ? 0117 : 0177);
	/* Per thread; only root may take any group. Otherwise the folder's
	 * setgid bit gives it: the check after says which. */
	if (b->a->group_set)
		setfsgid(b->a->group);
	b->err = bind(b->fd, (const struct sockaddr *)b->sa, sizeof(*b->sa)) < 0 ? errno : 0;
	return NULL;
}

/* The socket as it must be: made by us, the mode and group asked for. */
static int check_socket(const struct vigil_admin *a, const char *group, char *msg, size_t msglen)
{
	mode_t want = a->group_set ? 0660 : 0600;
	struct stat st;

	if (lstat(a->path, &st) < 0) {
		snprintf(msg, msglen, "%s: %s after bind", a->path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != want) {
		snprintf(msg, msglen, "%s: not the socket vigild made (mode %04o, uid %u; want %04o, uid %u)",
			 a->path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)want,
			 (unsigned)geteuid());
		return -EPERM;
	}
	if (a->group_set && st.st_gid != a->group) {
		snprintf(msg, msglen,
			 "%s: made with gid %u, not AdminGroup %s's: run vigild as root, or give the folder that "
			 "group and the setgid bit (chgrp %s DIR; chmod 2750 DIR)",
			 a->path, (unsigned)st.st_gid, group, group);
		return -EPERM;
	}
	return 0;
}

struct vigil_admin *vigil_admin_open(const char *path, const char *group, char *msg, size_t msglen)
{
	struct group *gr = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vigil_admin *a;
	char dir[sizeof(sa.sun_path)], *slash;
	struct binder b;
	pthread_t t;

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
		if (make_dir(dir, a, group, msg, msglen) < 0)
			goto err;
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
	b = (struct binder){.fd = a->fd, .sa = &sa, .a = a};
	errno = pthread_create(&t, NULL, bind_alone, &b);
	if (errno == 0)
		errno = pthread_join(t, NULL);
	if (errno == 0)
		errno = b.err;
	if (errno != 0 || listen(a->fd, MAX_CONNS) < 0) {
		snprintf(msg, msglen, "cannot listen on %s: %s", path, strerror(errno));
		close(a->fd);
		goto err;
	}
	if (check_socket(a, group, msg, msglen) < 0) {
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
	sodium_memzero(c->buf, VIGIL_ADMIN_MAX_LINE + 1);
	free(c->buf);
	vigil_admin_free(c->out);
	*c = (struct conn){.fd = -1};
}

/* Sends what the peer takes of the reply; 0, or -1 when the connection
 * was closed. */
static int flush(struct conn *c)
{
	while (c->out != NULL) {
		ssize_t n = send(c->fd, c->out + c->sent, c->out_len - c->sent, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0; /* the rest when poll says it fits */
		if (n <= 0) {
			conn_close(c);
			return -1;
		}
		c->sent += (size_t)n;
		c->moved_ms = vigil_now_ns() / 1000000;
		if (c->sent == c->out_len) {
			vigil_admin_free(c->out);
			c->out = NULL;
		}
	}
	if (c->closing) {
		conn_close(c);
		return -1;
	}
	return 0;
}

/* One reply line, sent as far as the peer takes it now. */
static void reply(struct conn *c, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(obj);
	if (text == NULL) {
		conn_close(c);
		return;
	}
	c->out = text;
	c->out_len = strlen(text);
	text[c->out_len++] = '\n'; /* over the NUL: sent by length */
	c->sent = 0;
	c->moved_ms = vigil_now_ns() / 1000000;
	flush(c);
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
		if (json_is_true(json_object_get(out, "subscribe"))) {
			json_object_del(out, "subscribe");
			c->watch = true;
		}
		json_object_set_new(out, "ok", json_true());
		reply(c, out);
	}
	json_decref(req); /* its strings (keys, for camera add and rotate) wiped: vigil_admin_wipe_json */
	sodium_memzero(&jerr, sizeof(jerr)); /* it may quote the request */
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

/* Whether a whole request waits in the buffer, and may be answered (its
 * peer has taken the previous reply). */
static bool ready(const struct conn *c)
{
	return c->fd >= 0 && !c->watch && c->out == NULL && !c->closing && memchr(c->buf, '\n', c->len) != NULL;
}

/* Answers up to VIGIL_ADMIN_REQUESTS_PER_TURN whole lines, while the peer
 * takes the replies; the bytes of each line used are wiped. */
static void answer(struct conn *c, vigil_admin_fn fn, void *arg)
{
	char *nl;

	for (unsigned n = 0; n < VIGIL_ADMIN_REQUESTS_PER_TURN && ready(c); n++) {
		size_t used;

		nl = memchr(c->buf, '\n', c->len);
		used = (size_t)(nl - c->buf) + 1;
		*nl = '\0';
		handle_line(c, c->buf, fn, arg);
		if (c->fd < 0)
			return;
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		sodium_memzero(c->buf + c->len, used);
	}
	if (c->len == VIGIL_ADMIN_MAX_LINE && c->out == NULL && memchr(c->buf, '\n', c->len) == NULL) {
		c->closing = true;
		reply(c, error_reply("a request line is longer than 65536 bytes", ""));
	}
}

/* Reads what came, once: a peer that keeps sending is read again on the
 * next turn. */
static void read_conn(struct conn *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, VIGIL_ADMIN_MAX_LINE - c->len, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		conn_close(c);
	else if (n > 0 && !c->watch)
		c->len += (size_t)n;
	/* A watcher's bytes are not requests: read only to see it hang up. */
}

void vigil_admin_serve(struct vigil_admin *a, int timeout_ms, vigil_admin_fn fn, void *arg)
{
	struct pollfd pfd[1 + MAX_CONNS];
	struct conn *who[1 + MAX_CONNS];
	unsigned n = 0;
	uint64_t now = vigil_now_ns() / 1000000;

	pfd[n++] = (struct pollfd){.fd = a->fd, .events = POLLIN};
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &a->conns[i];

		if (c->fd < 0)
			continue;
		if (c->out != NULL && now - c->moved_ms >= VIGIL_ADMIN_STALL_MS) {
			vigil_log_limited(&stalled_log, VIGIL_LOG_WARNING,
				"vigild: admin: dropped a connection of uid %u: it took none of its reply "
				"for %d s (%zu bytes waiting)\n",
				c->uid, VIGIL_ADMIN_STALL_MS / 1000, c->out_len - c->sent);
			a->watchers_dropped += c->watch && !c->closing;
			conn_close(c);
			continue;
		}
		if (ready(c))
			timeout_ms = 0;
		/* Nothing more is read from a peer until it has taken its reply,
		 * nor while a whole line waits: the buffer stays bounded. */
		who[n] = c;
		pfd[n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
		if (c->out != NULL)
			pfd[n].events = POLLOUT;
		else if (ready(c))
			pfd[n].events = 0;
		n++;
	}
	if (poll(pfd, n, timeout_ms) < 0)
		return;
	for (unsigned i = 1; i < n; i++) {
		struct conn *c = who[i];

		if ((pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)) && c->out != NULL && flush(c) < 0)
			continue;
		if ((pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) && (c->out == NULL || c->watch))
			read_conn(c);
		if (c->fd >= 0)
			answer(c, fn, arg);
	}
	if (pfd[0].revents & POLLIN)
		accept_all(a);
}

/* A watcher too far behind: no more events, a last line saying so (past
 * the bound, once), closed when it has taken it. */
static void watch_drop(struct vigil_admin *a, struct conn *c, size_t waiting)
{
	char last[160];
	int n = snprintf(last, sizeof(last),
			 "{\"type\":\"watch_dropped\",\"reason\":\"fell %zu bytes behind\"}\n", waiting);
	char *p = realloc(c->out, c->out_len + (size_t)n);

	a->watchers_dropped++;
	vigil_log_limited(&watcher_log, VIGIL_LOG_WARNING, "vigild: admin: dropped a watcher (uid %u): it fell %zu bytes behind the events\n", c->uid,
		waiting);
	c->closing = true;
	if (p == NULL) {
		conn_close(c);
		return;
	}
	memcpy(p + c->out_len, last, (size_t)n);
	c->out = p;
	c->out_len += (size_t)n;
	flush(c);
}

static void watch_append(struct vigil_admin *a, struct conn *c, const char *line, size_t len)
{
	size_t waiting = c->out != NULL ? c->out_len - c->sent : 0;
	char *p;

	if (waiting + len > VIGIL_ADMIN_WATCH_BYTES) {
		watch_drop(a, c, waiting);
		return;
	}
	if (c->out != NULL && c->sent > 0) {
		memmove(c->out, c->out + c->sent, waiting);
		c->out_len = waiting;
		c->sent = 0;
	}
	p = realloc(c->out, waiting + len);
	if (p == NULL) {
		watch_drop(a, c, waiting);
		return;
	}
	memcpy(p + waiting, line, len);
	if (c->out == NULL) {
		c->sent = 0;
		c->moved_ms = vigil_now_ns() / 1000000;
	}
	c->out = p;
	c->out_len = waiting + len;
	flush(c);
}

void vigil_admin_publish(struct vigil_admin *a, const char *line, size_t len)
{
	for (unsigned i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &a->conns[i];

		if (c->fd >= 0 && c->watch && !c->closing)
			watch_append(a, c, line, len);
	}
}

void vigil_admin_watchers(const struct vigil_admin *a, unsigned *now, uint64_t *dropped)
{
	*now = 0;
	for (unsigned i = 0; i < MAX_CONNS; i++)
		*now += a->conns[i].fd >= 0 && a->conns[i].watch && !a->conns[i].closing;
	*dropped = a->watchers_dropped;
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
