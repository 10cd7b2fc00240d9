/* SPDX-License-Identifier: MIT */
/* The admin socket: a Unix stream socket (mode 0600, or 0660 for an
 * AdminGroup) where root, the user vigild runs as or the group's members
 * send one JSON object per line ({"cmd": "..."}) and get one back per
 * line ({"ok": true, ...} or {"ok": false, "error": "..."}). Served from
 * the control thread between its other chores. */
#ifndef VIGIL_ADMIN_H
#define VIGIL_ADMIN_H

#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>

#include <jansson.h>
#include <sodium.h>

#define VIGIL_ADMIN_DEFAULT_SOCKET "/run/vigil/admin.sock"
#define VIGIL_ADMIN_DEFAULT_AUDIT "/var/log/vigil/audit.log"
#define VIGIL_ADMIN_MAX_LINE 65536
/* Requests answered per connection per turn of the control loop: a peer
 * that sends many at once waits its turn; the others, and the loop's other
 * chores (handshakes, key grace periods), do not wait for it. */
#define VIGIL_ADMIN_REQUESTS_PER_TURN 4
/* A reply is sent as the peer takes it (any size); a peer that takes none
 * of it for this long is dropped (logged). Until its reply is taken, none
 * of its further requests is read. */
#define VIGIL_ADMIN_STALL_MS 10000
/* A watcher (vigilctl watch) is sent events as they happen; what it has
 * not taken yet waits in a buffer of this size. One that falls further
 * behind is dropped: told so in a last line, closed once it takes it (or
 * after VIGIL_ADMIN_STALL_MS). */
#define VIGIL_ADMIN_WATCH_BYTES (256 * 1024)

struct vigil_admin;

/* Frees a block of jansson's (or of malloc), wiped first. */
static inline void vigil_admin_free(void *p)
{
	if (p != NULL) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

/* Requests carry camera keys (camera add, camera rotate): in their text,
 * in the parser's buffers and in the string values. From this call on,
 * every block jansson frees is wiped first, whatever path freed it. Call
 * it before any other jansson call (blocks allocated before are freed
 * right all the same: the size comes from malloc). */
static inline void vigil_admin_wipe_json(void)
{
	json_set_alloc_funcs(malloc, vigil_admin_free);
}

/* Answers one request from the peer of that uid: a reply object for
 * {"ok": true} to be merged into, or NULL with *error set (a string that
 * lives until the next call). A reply with "subscribe": true (taken out
 * of it) makes the connection a watcher: it gets what vigil_admin_publish
 * sends from then on, and what it sends is no longer read as requests. */
typedef json_t *(*vigil_admin_fn)(void *arg, unsigned peer_uid, const char *cmd, json_t *req, const char **error);

/* Listens on path, mode 0600, or 0660 and that group's when group is not
 * empty: the mode and group are the socket's from the moment it exists
 * (never changed by path afterwards), and checked. Its directory is made
 * if need be (mode 0750, or 2750 and the group's, so that the group's
 * members can reach the socket); a stale socket is replaced. NULL with msg
 * set. */
struct vigil_admin *vigil_admin_open(const char *path, const char *group, char *msg, size_t msglen);

/* Waits up to timeout_ms for connections, requests and peers taking their
 * replies (no wait while requests already read are waiting), answers at
 * most VIGIL_ADMIN_REQUESTS_PER_TURN requests per connection and sends
 * what the peers take. */
void vigil_admin_serve(struct vigil_admin *a, int timeout_ms, vigil_admin_fn fn, void *arg);

/* One line (ending in '\n') to every watcher, as far as each takes it
 * now; the rest waits in its buffer (VIGIL_ADMIN_WATCH_BYTES). Never
 * waits. */
void vigil_admin_publish(struct vigil_admin *a, const char *line, size_t len);

/* Watchers now, and those dropped for falling behind. */
void vigil_admin_watchers(const struct vigil_admin *a, unsigned *now, uint64_t *dropped);

/* Closes every connection and removes the socket. */
void vigil_admin_close(struct vigil_admin *a);

#endif
