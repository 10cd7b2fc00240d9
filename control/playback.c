/* SPDX-License-Identifier: MIT */
/* The playback endpoint (playback.h). libmicrohttpd runs a thread per
 * connection, at most VIGIL_PLAYBACK_CONNECTIONS of them
 * (PlaybackConnectionsPerAddress from one address), each closed after
 * HTTP_TIMEOUT_S idle. Paths:
 *   /                              → /player/
 *   /player/, /player/FILE         the web player (PlayerDir)
 *   /cameras/CAMERA/index.m3u8     live: the last LIVE_SEGMENTS segments;
 *                                  ?from=&to= (or a token with a range): VOD
 *   /cameras/CAMERA/FILE           NNNNNNNN.ts|.ts.sealed|.m4s, init-N.mp4
 *   /cameras/CAMERA/NNNNNNNN.m4s?part=K  a part of a segment (live.h)
 * Every URI in a playlist carries the token it was asked with, so a
 * player's relative URLs work; a token opens recordings only in the query
 * (no cookie: nothing a page of another site could make a browser send). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "playback.h"
#include "live.h"
#include "playlist.h"
#include "s3.h"
#include "timeline.h"
#include "viewer_token.h"
#include "vigil/clock.h"
#include "vigil/hash.h"

#define HTTP_TIMEOUT_S 30
#define LIVE_SEGMENTS 6
#define PLAYLIST_MAX (256u << 20) /* about 28 days of 1 s segments, a year of 10 s ones */
#define PLAYLIST_READERS 2 /* at once: each may take a few times PLAYLIST_MAX */
#define PEM_MAX (1u << 20)
#define LIVE_CACHE 1024	   /* cameras whose live playlist is kept as read (a slot by the name's hash) */
#define LIVE_CHUNK 65536   /* of a playlist read at a time */

const char *const vigil_playback_outcome_name[VIGIL_PLAYBACK_OUTCOMES] = {
#define X(e, name, help) name,
    VIGIL_FOREACH_PLAYBACK_OUTCOME(X)
#undef X
};
const char *const vigil_playback_outcome_help[VIGIL_PLAYBACK_OUTCOMES] = {
#define X(e, name, help) help,
    VIGIL_FOREACH_PLAYBACK_OUTCOME(X)
#undef X
};

struct vigil_playback {
	struct MHD_Daemon *d;
	uint8_t *key; /* the token key, locked (sodium_malloc) */
	char *tls_cert, *tls_key;
	char record_dir[4096], player_dir[4096], url[96], csp[1400];
	/* [Storage]: segments no longer on disk are in the bucket; a GET of
	 * one is sent there, presigned (its secret locked). */
	const struct vigil_storage_config *storage;
	char *s3_keys;		 /* locked: the access key, a NUL, the secret */
	const char *s3_secret; /* in s3_keys */
	_Atomic uint64_t counts[VIGIL_PLAYBACK_OUTCOMES];
	_Atomic uint64_t playlist_bytes; /* of playlists read, for their viewers */
	sem_t readers; /* playlists read and parsed at once (PLAYLIST_READERS) */
	struct live *live; /* LIVE_CACHE */
	struct vigil_live *parts; /* low-latency HLS (live.h); NULL: none */
	unsigned segment_seconds;
};

/* A camera's live playlist as read so far. Its file grows by appends, and
 * is replaced by another (a rename) when retention drops its head or
 * vigild ends it: the next live request reads only what was appended
 * since, not days of segments again. */
struct live {
	pthread_mutex_t lock;
	char camera[VIGIL_CAMERA_NAME_MAX + 1];
	dev_t dev;
	ino_t ino;
	off_t read_to; /* the file read up to its last newline */
	struct vigil_timeline_reader tr;
	struct vigil_timeline_seg last[LIVE_SEGMENTS]; /* a ring: the newest at (n_last - 1) % LIVE_SEGMENTS */
	unsigned n_last;
};

/* What one request asked for, once its path is read. */
struct ask {
	char camera[VIGIL_CAMERA_NAME_MAX + 1];
	char file[64];
};

static const char text_plain[] = "text/plain; charset=utf-8";

static enum MHD_Result answer(struct vigil_playback *pb, struct MHD_Connection *conn, enum vigil_playback_outcome o,
			      unsigned status, struct MHD_Response *r, const char *type, const char *cache)
{
	enum MHD_Result ret;

	atomic_fetch_add_explicit(&pb->counts[o], 1, memory_order_relaxed);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	/* Tokens ride in URLs: never in a Referer elsewhere. */
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* Any origin may read: a copy of the player the owner keeps (a local
	 * file) plays from here. Safe because what opens a recording is a
	 * token the page was given, and with "*" no page of another origin
	 * may read an answer to a request that carried a cookie. */
	MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A refusal: its outcome's name as the body, so a client can tell. */
static enum MHD_Result refuse(struct vigil_playback *pb, struct MHD_Connection *conn, enum vigil_playback_outcome o)
{
	static const unsigned status[VIGIL_PLAYBACK_OUTCOMES] = {
	    [VIGIL_PB_NO_TOKEN] = MHD_HTTP_UNAUTHORIZED,   [VIGIL_PB_BAD_TOKEN] = MHD_HTTP_FORBIDDEN,
	    [VIGIL_PB_EXPIRED] = MHD_HTTP_FORBIDDEN,       [VIGIL_PB_WRONG_CAMERA] = MHD_HTTP_FORBIDDEN,
	    [VIGIL_PB_OUT_OF_RANGE] = MHD_HTTP_FORBIDDEN,  [VIGIL_PB_NOT_FOUND] = MHD_HTTP_NOT_FOUND,
	    [VIGIL_PB_BAD_REQUEST] = MHD_HTTP_BAD_REQUEST,
	};
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", vigil_playback_outcome_name[o]);

	return answer(pb, conn, o, status[o],
		      MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY), text_plain,
		      "no-store");
}

/* A file of dir, by a name already checked, as the answer: NULL when it is
 * not a regular file there (a symlink is not followed). */
static struct MHD_Response *file_response(const char *dir, const char *sub, const char *name)
{
	char path[8400];
	struct MHD_Response *r;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s%s%s", dir, sub, sub[0] != '\0' ? "/" : "", name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK); /* a FIFO: no wait */
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (r = MHD_create_response_from_fd((uint64_t)st.st_size, fd)) == NULL) { /* r owns fd, once made */
		close(fd);
		return NULL;
	}
	return r;
}

/* RecordDir/camera/index.m3u8, whole, NUL-terminated; NULL: none. The
 * caller holds one of pb->readers. */
static char *read_playlist(struct vigil_playback *pb, const char *camera, size_t *len)
{
	char path[4200], *text = NULL;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/" VIGIL_PLAYLIST_NAME, pb->record_dir, camera);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	/* Replaced by rename, never rewritten in place: this file is whole. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < PLAYLIST_MAX &&
	    (text = malloc((size_t)st.st_size + 1)) != NULL) {
		size_t got = 0;
		ssize_t n = 1;

		while (got < (size_t)st.st_size && (n = read(fd, text + got, (size_t)st.st_size - got)) > 0)
			got += (size_t)n;
		text[got] = '\0';
		*len = got;
		atomic_fetch_add_explicit(&pb->playlist_bytes, got, memory_order_relaxed);
	}
	close(fd);
	return text;
}

/* The lines of buf[0, len) (each ended by a newline) through l's reader. */
static void live_lines(struct live *l, char *buf, size_t len)
{
	for (char *line = buf, *end = buf + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		struct vigil_timeline_seg s;

		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (vigil_timeline_line(&l->tr, line, &s))
			l->last[l->n_last++ % LIVE_SEGMENTS] = s;
		line = nl + 1;
	}
}

/* A segment's parts as #EXT-X-PART lines; NULL: no memory. */
static char *part_lines(const struct vigil_live_seg_view *g, const char *query)
{
	char *text = malloc((size_t)g->n_parts * (128 + strlen(query)) + 1);
	size_t len = 0;

	if (text == NULL)
		return NULL;
	text[0] = '\0';
	for (unsigned i = 0; i < g->n_parts; i++)
		len += (size_t)sprintf(text + len, "#EXT-X-PART:DURATION=%.3f,URI=\"%08" PRIu32 ".m4s%s&part=%u\"%s\n",
				       (double)g->parts[i].ticks / VIGIL_RTP_CLOCK_HZ, g->seq, query, i,
				       g->parts[i].independent ? ",INDEPENDENT=YES" : "");
	return text;
}

/* Low-latency HLS: the live playlist t (the disk's last segments) with the
 * parts of the last segments (live.h), the closed ones the disk does not
 * list yet, and the open one's parts after them. Its parts and the
 * segments closed since are served from memory until they are on disk. */
static char *ll_playlist(struct vigil_timeline *t, const struct vigil_live_view *view, const char *query)
{
	char *lines[VIGIL_LIVE_SEGMENTS] = {0}, *body, *out = NULL, head[160], when[64], map[128] = "";
	const struct vigil_live_seg_view *open = NULL;
	uint32_t last = t->n > 0 ? t->v[t->n - 1].e.seq : 0, last_map = t->n > 0 ? t->v[t->n - 1].e.map : 0;
	uint64_t target = VIGIL_LIVE_PART_MS * (VIGIL_RTP_CLOCK_HZ / 1000), target_ms;
	unsigned n;

	for (unsigned k = 0; k < view->n; k++) {
		const struct vigil_live_seg_view *g = &view->seg[k];
		size_t i;

		for (unsigned p = 0; p < g->n_parts; p++)
			target = g->parts[p].ticks > target ? g->parts[p].ticks : target;
		if ((lines[k] = part_lines(g, query)) == NULL)
			goto out;
		if (!g->closed) {
			open = g;
			continue;
		}
		for (i = 0; i < t->n && t->v[i].e.seq != g->seq; i++)
			;
		if (i == t->n && t->n > 0 && (int32_t)(g->seq - last) <= 0)
			continue; /* gone from the disk's list: not ours to add */
		if (i == t->n) {
			if (t->n == t->cap)
				continue;
			t->v[t->n++] = (struct vigil_timeline_seg){
			    .e = {.seq = g->seq,
				  .seconds = (double)g->ticks / VIGIL_RTP_CLOCK_HZ,
				  .start_ns = g->start_ns,
				  .kind = VIGIL_SEG_M4S,
				  .map = g->map},
			    .listed_ns = g->start_ns};
			last = g->seq;
			last_map = g->map;
		}
		t->v[i].parts = lines[k];
	}
	if (t->n == 0 || (body = vigil_timeline_playlist(t, 0, 0, "", query, LIVE_SEGMENTS, &n)) == NULL)
		goto out;
	/* Parts are at most the target, in whole milliseconds up. */
	target_ms = (target * 1000 + VIGIL_RTP_CLOCK_HZ - 1) / VIGIL_RTP_CLOCK_HZ;
	snprintf(head, sizeof(head),
		 "#EXTM3U\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%.3f\n"
		 "#EXT-X-PART-INF:PART-TARGET=%.3f\n",
		 3.0 * (double)target_ms / 1000, (double)target_ms / 1000);
	if (open != NULL) {
		vigil_playlist_time_fmt(when, sizeof(when), open->start_ns);
		if (open->map != last_map)
			snprintf(map, sizeof(map), "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-%08" PRIu32 ".mp4%s\"\n",
				 open->map, query);
	}
	out = malloc(strlen(head) + strlen(body) + strlen(map) + sizeof(when) + 64 +
		     (open != NULL ? strlen(lines[open - view->seg]) : 0));
	if (out != NULL)
		sprintf(out, "%s%s%s%s%s%s%s", head, body + strlen("#EXTM3U\n"), map,
			open != NULL ? "#EXT-X-PROGRAM-DATE-TIME:" : "", open != NULL ? when : "",
			open != NULL ? "\n" : "", open != NULL ? lines[open - view->seg] : "");
	free(body);
out:
	for (unsigned k = 0; k < VIGIL_LIVE_SEGMENTS; k++)
		free(lines[k]);
	return out;
}

/* The live playlist of the camera (its last LIVE_SEGMENTS segments), with
 * query after each URI, and view's parts (NULL: none); *found: the camera
 * has a playlist, *ended: it is ended, *recording_m4s: worth waiting for
 * parts. NULL: none, or no memory. The caller holds one of pb->readers. */
static char *live_playlist(struct vigil_playback *pb, const char *camera, const char *query,
			   const struct vigil_live_view *view, bool *found, bool *ended, bool *recording_m4s)
{
	struct live *l = &pb->live[vigil_hash_name(camera) % LIVE_CACHE];
	char path[4200], *buf, *out = NULL;
	struct vigil_timeline_seg v[LIVE_SEGMENTS + VIGIL_LIVE_SEGMENTS];
	char nodes[1][VIGIL_TIMELINE_NODE_MAX] = {""};
	struct vigil_timeline t = {.nodes = nodes, .n_nodes = 1, .v = v};
	uint64_t bytes = 0;
	struct stat st;
	unsigned n;
	int fd;

	*found = *ended = false;
	snprintf(path, sizeof(path), "%s/%s/" VIGIL_PLAYLIST_NAME, pb->record_dir, camera);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	*found = true;
	if ((buf = malloc(LIVE_CHUNK)) == NULL) {
		close(fd);
		return NULL;
	}
	pthread_mutex_lock(&l->lock);
	if (strcmp(l->camera, camera) != 0 || l->dev != st.st_dev || l->ino != st.st_ino || st.st_size < l->read_to) {
		snprintf(l->camera, sizeof(l->camera), "%s", camera);
		l->dev = st.st_dev;
		l->ino = st.st_ino;
		l->read_to = 0;
		l->tr = (struct vigil_timeline_reader){0};
		l->n_last = 0;
	}
	/* What came since, whole lines only: a line being appended is read
	 * next time. A line longer than a chunk is none of ours: skipped. */
	for (;;) {
		ssize_t got = pread(fd, buf, LIVE_CHUNK, l->read_to);
		char *last_nl = got > 0 ? memrchr(buf, '\n', (size_t)got) : NULL;
		size_t used = last_nl != NULL ? (size_t)(last_nl - buf) + 1 : got == LIVE_CHUNK ? LIVE_CHUNK : 0;

		if (last_nl != NULL)
			live_lines(l, buf, used);
		l->read_to += (off_t)used;
		bytes += used;
		if (got < LIVE_CHUNK)
			break;
	}
	*ended = l->tr.r.ended;
	t.n = t.cap = l->n_last < LIVE_SEGMENTS ? l->n_last : LIVE_SEGMENTS;
	for (size_t i = 0; i < t.n; i++)
		v[i] = l->last[(l->n_last - t.n + i) % LIVE_SEGMENTS];
	pthread_mutex_unlock(&l->lock);
	close(fd);
	free(buf);
	atomic_fetch_add_explicit(&pb->playlist_bytes, bytes, memory_order_relaxed);
	t.cap = LIVE_SEGMENTS + VIGIL_LIVE_SEGMENTS;
	/* Worth waiting for parts: no segment yet, or the last one plain fMP4
	 * and ended recently (the camera records). */
	*recording_m4s = t.n == 0 || (v[t.n - 1].e.kind == VIGIL_SEG_M4S &&
				     vigil_clock_ns(CLOCK_REALTIME) <
					 v[t.n - 1].e.start_ns + (uint64_t)(v[t.n - 1].e.seconds * 1e9) +
					     (3ull * pb->segment_seconds + 1) * 1000000000u);
	if (view != NULL && view->n > 0 && !*ended && (out = ll_playlist(&t, view, query)) != NULL)
		return out;
	for (size_t i = 0; i < t.n; i++)
		v[i].parts = NULL;
	out = vigil_timeline_playlist(&t, 0, 0, "", query, LIVE_SEGMENTS, &n);
	return out;
}

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* The scope's range and the request's from/to, intersected, in ns. */
static bool range_of(struct MHD_Connection *conn, const struct vigil_viewer_scope *s, uint64_t *from, uint64_t *to)
{
	const char *arg[2] = {MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from"),
			      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "to")};
	uint64_t v[2] = {s->from * 1000000000u, s->to * 1000000000u};
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		uint64_t t;

		if (arg[i] == NULL)
			continue;
		t = vigil_time_arg(arg[i], &ok);
		if (!ok || t == 0) /* 0 would lift the bound */
			return false;
		if (v[i] == 0 || (i == 0 ? t > v[i] : t < v[i]))
			v[i] = t;
	}
	*from = v[0];
	*to = v[1];
	return true;
}

/* A live request of a camera that may be watched in parts (live.h): it
 * is watched from now, and the request waits for what it asks for (a
 * blocking reload: _HLS_msn, _HLS_part), at most three SegmentSeconds and
 * one second, HTTP_TIMEOUT_S at most. Without those, it waits until a
 * whole segment was cut in parts and the next one begun: a player starts
 * PART-HOLD-BACK from the end, and should find parts there (hls.js,
 * started on a whole segment, went on mixing whole segments and parts,
 * and stalled over holes). 1: list its parts; 0: plain live HLS; -1: a
 * bad request. */
static int live_wait(struct vigil_playback *pb, struct MHD_Connection *conn, const char *camera)
{
	const char *msn_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "_HLS_msn"),
		   *part_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "_HLS_part");
	uint64_t wait_s = 3ull * pb->segment_seconds + 1, msn = UINT32_MAX, part = UINT64_MAX;
	char *end;
	int ret;

	if (msn_arg != NULL && (msn = strtoull(msn_arg, &end, 10), *end != '\0' || msn >= UINT32_MAX))
		return -1;
	if (part_arg != NULL &&
	    (msn_arg == NULL || (part = strtoull(part_arg, &end, 10), *end != '\0' || part >= VIGIL_LIVE_PARTS)))
		return -1;
	if (!vigil_live_watch(pb->parts, camera))
		return 0;
	ret = vigil_live_wait(pb->parts, camera, (uint32_t)msn, part == UINT64_MAX ? -1 : (int)part,
			      vigil_clock_ns(CLOCK_MONOTONIC) + (wait_s < HTTP_TIMEOUT_S ? wait_s : HTTP_TIMEOUT_S) * 1000000000u);
	return ret == -ERANGE ? -1 : ret == 0 || ret == -ETIMEDOUT;
}

static enum MHD_Result playlist(struct vigil_playback *pb, struct MHD_Connection *conn, const struct ask *a,
				const struct vigil_viewer_scope *s, const char *token)
{
	struct vigil_timeline t = {0};
	uint64_t from, to;
	size_t len = 0;
	unsigned n;
	char query[8 + VIGIL_TOKEN_TEXT_MAX], *text, *out;
	bool live, ended, found;
	int ret = 0;

	if (!range_of(conn, s, &from, &to))
		return refuse(pb, conn, VIGIL_PB_BAD_REQUEST);
	live = from == 0 && to == 0;
	snprintf(query, sizeof(query), "?token=%s", token);
	sem_wait(&pb->readers);
	if (live) {
		struct vigil_live_view view;
		bool m4s;

		out = live_playlist(pb, a->camera, query, NULL, &found, &ended, &m4s);
		/* A plain fMP4 camera recording: in parts, once there are some. */
		if (found && !ended && m4s && pb->parts != NULL) {
			sem_post(&pb->readers);
			if ((ret = live_wait(pb, conn, a->camera)) < 0) {
				free(out);
				return refuse(pb, conn, VIGIL_PB_BAD_REQUEST);
			}
			sem_wait(&pb->readers);
			if (ret > 0 && vigil_live_view(pb->parts, a->camera, &view)) {
				free(out);
				out = live_playlist(pb, a->camera, query, &view, &found, &ended, &m4s);
			}
		}
	} else {
		text = read_playlist(pb, a->camera, &len);
		found = text != NULL;
		out = text != NULL && vigil_timeline_add(&t, NULL, text, len) == 0
			  ? vigil_timeline_playlist(&t, from, to, "", query, 0, &n)
			  : NULL;
		ended = false;
		free(text);
		vigil_timeline_free(&t);
	}
	sem_post(&pb->readers);
	if (!found)
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	if (out == NULL)
		return answer(pb, conn, VIGIL_PB_NOT_FOUND, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "", "");
	if (live && ended) { /* the camera's recording stopped with vigild: the player stops too */
		char *more = realloc(out, strlen(out) + 16);

		if (more != NULL)
			strcat(out = more, "#EXT-X-ENDLIST\n");
	}
	return answer(pb, conn, VIGIL_PB_PLAYLIST, MHD_HTTP_OK,
		      MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_FREE),
		      "application/vnd.apple.mpegurl", "no-store");
}

/* Segment seq of the camera as its playlist lists it: false when the
 * playlist no longer does. Asked at every segment of a token with a time
 * range: found by bisection (vigil_timeline_find), a few windows of the
 * file read, not a playlist of months. */
static bool listed(struct vigil_playback *pb, const char *camera, uint32_t seq, struct vigil_timeline_seg *out)
{
	char path[4200];
	uint64_t bytes = 0;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s/" VIGIL_PLAYLIST_NAME, pb->record_dir, camera);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	ret = vigil_timeline_find(fd, seq, out, &bytes);
	close(fd);
	atomic_fetch_add_explicit(&pb->playlist_bytes, bytes, memory_order_relaxed);
	return ret == 0;
}

/* A segment uploaded and gone from the disk: a redirect to a presigned
 * GET of it in the bucket, valid while the token is (10 minutes at most).
 * The store serves the bytes, not vigild; the URL opens that one object
 * for that long, and a sealed segment is ciphertext there too. */
static enum MHD_Result to_bucket(struct vigil_playback *pb, struct MHD_Connection *conn, const struct ask *a,
				 const struct vigil_viewer_scope *s, const struct vigil_timeline_seg *e)
{
	const struct vigil_storage_config *c = pb->storage;
	uint64_t now = now_s(), left = s->expires > now ? s->expires - now : 1;
	char key[1200], url[2400], name[64];
	struct MHD_Response *r;

	/* A segment's object is named with its start (docs/storage.md), an
	 * init segment's (e NULL) as on disk. */
	if (e != NULL)
		vigil_segment_object_name(name, sizeof(name), e->e.seq, e->e.kind, e->listed_ns);
	else
		snprintf(name, sizeof(name), "%s", a->file);
	snprintf(key, sizeof(key), "%s%s/%s/%s", c->prefix, a->camera, c->node, name);
	if (vigil_s3_presign(c, pb->s3_keys, pb->s3_secret, key, now, left < 600 ? (unsigned)left : 600, url,
			     sizeof(url)) < 0)
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (r != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, url);
	return answer(pb, conn, VIGIL_PB_REDIRECT, MHD_HTTP_FOUND, r, text_plain, "no-store");
}

/* Part k of segment seq (k < 0: all of a closed one) from live.h: from
 * memory, or from the segment's file once live.h holds only where it is. */
static struct MHD_Response *live_bytes(struct vigil_playback *pb, const struct ask *a, uint32_t seq, int k)
{
	struct MHD_Response *r = NULL;
	char path[8400];
	uint8_t *data;
	uint64_t off = 0;
	size_t len = 0;
	struct stat st;
	int fd;

	switch (vigil_live_bytes_of(pb->parts, a->camera, seq, k, &data, &len, &off)) {
	case 0:
		if ((r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)) == NULL)
			free(data);
		return r;
	case 1:
		snprintf(path, sizeof(path), "%s/%s/%08" PRIu32 ".m4s", pb->record_dir, a->camera, seq);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			return NULL;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < off + len ||
		    (r = MHD_create_response_from_fd_at_offset64(len, fd, off)) == NULL)
			close(fd);
		return r;
	default:
		return NULL;
	}
}

/* NNNNNNNN.m4s?part=K: a part of a segment a live playlist listed; for a
 * token of no time range only (the live one). seq UINT32_MAX: not a plain
 * fMP4 segment. */
static enum MHD_Result part(struct vigil_playback *pb, struct MHD_Connection *conn, const struct ask *a,
			    const struct vigil_viewer_scope *s, uint32_t seq)
{
	const char *arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "part");
	struct MHD_Response *r;
	char *end;
	unsigned long k = strtoul(arg, &end, 10);

	if (s->from != 0 || s->to != 0)
		return refuse(pb, conn, VIGIL_PB_OUT_OF_RANGE);
	if (*end != '\0' || arg[0] == '\0' || k >= VIGIL_LIVE_PARTS)
		return refuse(pb, conn, VIGIL_PB_BAD_REQUEST);
	if (seq == UINT32_MAX || pb->parts == NULL || (r = live_bytes(pb, a, seq, (int)k)) == NULL)
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	return answer(pb, conn, VIGIL_PB_PART, MHD_HTTP_OK, r, "video/iso.segment", "private, max-age=60");
}

static enum MHD_Result segment(struct vigil_playback *pb, struct MHD_Connection *conn, const struct ask *a,
			       const struct vigil_viewer_scope *s)
{
	static const char *const type[VIGIL_SEG_KINDS] = {
	    [VIGIL_SEG_TS] = "video/mp2t",
	    [VIGIL_SEG_SEALED] = "application/octet-stream",
	    [VIGIL_SEG_M4S] = "video/iso.segment",
	};
	uint64_t from = s->from * 1000000000u, to = s->to * 1000000000u;
	struct vigil_timeline_seg e;
	enum vigil_seg_kind kind;
	struct MHD_Response *r;
	uint32_t seq;
	bool init = vigil_init_name(a->file, &seq), have = false;

	if (!init && !vigil_segment_name(a->file, &seq, &kind))
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	if (MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "part") != NULL)
		return part(pb, conn, a, s, init || kind != VIGIL_SEG_M4S ? UINT32_MAX : seq);
	/* An init segment holds no picture: any token of the camera opens it.
	 * A segment the playlist no longer lists is in no range. */
	if (!init && (from != 0 || to != 0) &&
	    (!(have = listed(pb, a->camera, seq, &e)) || (to != 0 && e.e.start_ns >= to) ||
	     (from != 0 && e.e.start_ns + (uint64_t)(e.e.seconds * 1e9) <= from)))
		return refuse(pb, conn, VIGIL_PB_OUT_OF_RANGE);
	r = file_response(pb->record_dir, a->camera, a->file);
	/* Closed a moment ago, listed in parts, not on disk yet. */
	if (r == NULL && !init && kind == VIGIL_SEG_M4S && from == 0 && to == 0 && pb->parts != NULL)
		r = live_bytes(pb, a, seq, -1);
	if (r == NULL && pb->storage != NULL) {
		if (!init && !have && !listed(pb, a->camera, seq, &e))
			return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
		return to_bucket(pb, conn, a, s, init ? NULL : &e);
	}
	if (r == NULL)
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	/* A segment never changes once listed; a token may expire before. */
	return answer(pb, conn, VIGIL_PB_SEGMENT, MHD_HTTP_OK, r, init ? "video/mp4" : type[kind],
		      "private, max-age=600");
}

/* The player's Content-Security-Policy. The page handles the owner's key:
 * it runs only our own scripts, talks only to this origin (and the
 * bucket's, where segments are redirected to), and is framed by nobody.
 * libsodium's WebAssembly needs wasm-unsafe-eval; Media Source Extensions
 * play from blob: URLs; thumbnails are data: images. */
static void csp(struct vigil_playback *pb, const struct vigil_config *cfg)
{
	const char *bucket = cfg->storage.endpoint;

	snprintf(pb->csp, sizeof(pb->csp),
		 "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'%s%s; "
		 "media-src 'self' blob:; img-src 'self' data:; style-src 'self'; "
		 "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
		 bucket[0] != '\0' ? " " : "", bucket);
}

/* /player/FILE: a name of [A-Za-z0-9._-], not starting with a dot. */
static enum MHD_Result player(struct vigil_playback *pb, struct MHD_Connection *conn, const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},   {".wasm", "application/wasm"},
	    {".svg", "image/svg+xml"},             {".png", "image/png"},
	};
	const char *type = NULL;
	struct MHD_Response *r;
	size_t n = strlen(name);

	if (n == 0)
		name = "index.html", n = strlen(name);
	if (name[0] == '.' || n > 64 ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && type == NULL; i++)
		if (n > strlen(types[i].ext) && strcmp(name + n - strlen(types[i].ext), types[i].ext) == 0)
			type = types[i].type;
	if (type == NULL || (r = file_response(pb->player_dir, "", name)) == NULL)
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	MHD_add_response_header(r, "Content-Security-Policy", pb->csp);
	return answer(pb, conn, VIGIL_PB_PLAYER, MHD_HTTP_OK, r, type, "no-cache");
}

/* /cameras/CAMERA/FILE into a; false: not such a path. */
static bool camera_path(const char *url, struct ask *a)
{
	const char *p = url + strlen("/cameras/"), *slash = strchr(p, '/');

	if (slash == NULL || (size_t)(slash - p) > VIGIL_CAMERA_NAME_MAX || strchr(slash + 1, '/') != NULL ||
	    strlen(slash + 1) >= sizeof(a->file))
		return false;
	snprintf(a->camera, sizeof(a->camera), "%.*s", (int)(slash - p), p);
	snprintf(a->file, sizeof(a->file), "%s", slash + 1);
	return vigil_camera_name_ok(a->camera);
}

static char body_none, body_some; /* a request's state: whether it had a body */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **state)
{
	static const enum vigil_playback_outcome of_verdict[] = {
	    [VIGIL_TOKEN_MISSING] = VIGIL_PB_NO_TOKEN, [VIGIL_TOKEN_BAD] = VIGIL_PB_BAD_TOKEN,
	    [VIGIL_TOKEN_EXPIRED] = VIGIL_PB_EXPIRED};
	struct vigil_playback *pb = cls;
	struct vigil_viewer_scope scope;
	enum vigil_token_verdict v;
	struct ask a;
	const char *token;

	(void)version;
	(void)upload;
	/* The headers: any other method is answered now, before its body. */
	if (*state == NULL) {
		*state = &body_none;
		if ((strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) ||
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) != NULL ||
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
			return refuse(pb, conn, VIGIL_PB_BAD_REQUEST);
		return MHD_YES;
	}
	/* A GET with a body: read past it, then refused. */
	if (*upload_len != 0) {
		*upload_len = 0;
		*state = &body_some;
		return MHD_YES;
	}
	if (*state == &body_some)
		return refuse(pb, conn, VIGIL_PB_BAD_REQUEST);
	if (strcmp(url, "/") == 0 || strcmp(url, "/player") == 0) {
		struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);

		if (r != NULL)
			MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/player/");
		return answer(pb, conn, VIGIL_PB_PLAYER, MHD_HTTP_FOUND, r, text_plain, "no-cache");
	}
	if (strncmp(url, "/player/", 8) == 0)
		return player(pb, conn, url + 8);
	if (strncmp(url, "/cameras/", 9) != 0 || !camera_path(url, &a))
		return refuse(pb, conn, VIGIL_PB_NOT_FOUND);
	token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
	v = vigil_token_check(pb->key, token, now_s(), &scope);
	if (v != VIGIL_TOKEN_OK)
		return refuse(pb, conn, of_verdict[v]);
	if (strcmp(scope.camera, a.camera) != 0)
		return refuse(pb, conn, VIGIL_PB_WRONG_CAMERA);
	if (strcmp(a.file, VIGIL_PLAYLIST_NAME) == 0)
		return playlist(pb, conn, &a, &scope, token);
	return segment(pb, conn, &a, &scope);
}

/* A PEM file into locked memory (a key's) or plain; NULL with msg set. */
static char *read_pem(const char *path, bool secret, char *msg, size_t msglen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *p = NULL;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > PEM_MAX) {
		snprintf(msg, msglen, "%s: not a PEM file", path);
	} else if (secret && (st.st_mode & 077) != 0) {
		snprintf(msg, msglen, "%s: a private key readable by group or others (chmod 600)", path);
	} else if ((p = secret ? sodium_malloc((size_t)st.st_size + 1) : malloc((size_t)st.st_size + 1)) != NULL) {
		if (read(fd, p, (size_t)st.st_size) != st.st_size) {
			snprintf(msg, msglen, "%s: cannot read it", path);
			secret ? sodium_free(p) : free(p);
			p = NULL;
		} else {
			p[st.st_size] = '\0';
		}
	}
	if (fd >= 0)
		close(fd);
	return p;
}

struct vigil_playback *vigil_playback_start(const struct vigil_config *cfg, const uint8_t *master,
					    struct vigil_live *parts, char *msg, size_t msglen)
{
	const struct vigil_listen *l = &cfg->playback_listen;
	struct vigil_playback *pb = calloc(1, sizeof(*pb));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(l->port)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(l->port)};
	bool v6 = l->family == AF_INET6, tls = cfg->playback_cert_file[0] != '\0';
	int rc;

	if (pb == NULL || (pb->key = sodium_malloc(VIGIL_TOKEN_KEY_LEN)) == NULL) {
		snprintf(msg, msglen, "PlaybackListen: no memory");
		goto fail;
	}
	sem_init(&pb->readers, 0, PLAYLIST_READERS);
	pb->live = calloc(LIVE_CACHE, sizeof(*pb->live));
	if (pb->live == NULL) {
		snprintf(msg, msglen, "PlaybackListen: no memory");
		goto fail;
	}
	for (unsigned i = 0; i < LIVE_CACHE; i++)
		pthread_mutex_init(&pb->live[i].lock, NULL);
	rc = vigil_token_key(master, cfg->state_dir, pb->key, msg, msglen);
	if (rc < 0)
		goto fail;
	sodium_mprotect_readonly(pb->key);
	snprintf(pb->record_dir, sizeof(pb->record_dir), "%s", cfg->record_dir);
	pb->parts = parts;
	pb->segment_seconds = cfg->segment_seconds ? cfg->segment_seconds : VIGIL_DEFAULT_SEGMENT_SECONDS;
	snprintf(pb->player_dir, sizeof(pb->player_dir), "%s", cfg->player_dir);
	snprintf(pb->url, sizeof(pb->url), "%s://%s", tls ? "https" : "http", l->text);
	if (tls) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			snprintf(msg, msglen, "PlaybackCertFile: this libmicrohttpd has no TLS");
			goto fail;
		}
		pb->tls_cert = read_pem(cfg->playback_cert_file, false, msg, msglen);
		pb->tls_key = pb->tls_cert != NULL ? read_pem(cfg->playback_key_file, true, msg, msglen) : NULL;
		if (pb->tls_key == NULL)
			goto fail;
	}
	if (cfg->storage.endpoint[0] != '\0') {
		char *colon;

		pb->s3_keys = sodium_malloc(VIGIL_S3_USERPWD_MAX);
		snprintf(msg, msglen, "[Storage]: no memory for its credentials");
		if (pb->s3_keys == NULL ||
		    vigil_s3_credentials(&cfg->storage, pb->s3_keys, VIGIL_S3_USERPWD_MAX, msg, msglen) < 0 ||
		    (colon = strchr(pb->s3_keys, ':')) == NULL)
			goto fail;
		*colon = '\0';
		pb->s3_secret = colon + 1;
		pb->storage = &cfg->storage;
	}
	csp(pb, cfg);
	memcpy(&sin.sin_addr, l->addr, 4);
	memcpy(&sin6.sin6_addr, l->addr, 16);
	pb->d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0) |
		(tls ? MHD_USE_TLS : 0),
	    0, NULL, NULL, on_request, pb, MHD_OPTION_SOCK_ADDR,
	    v6 ? (struct sockaddr *)&sin6 : (struct sockaddr *)&sin, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)VIGIL_PLAYBACK_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->playback_per_address,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)32768, tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, pb->tls_cert, MHD_OPTION_HTTPS_MEM_KEY,
	    pb->tls_key, MHD_OPTION_END);
	if (pb->d == NULL) {
		snprintf(msg, msglen,
			 "PlaybackListen %s: cannot listen (in use, not an address of this host%s)", l->text,
			 tls ? ", or PlaybackCertFile/PlaybackKeyFile not a certificate and its key" : "");
		goto fail;
	}
	return pb;
fail:
	vigil_playback_stop(pb);
	return NULL;
}

void vigil_playback_stop(struct vigil_playback *pb)
{
	if (pb == NULL)
		return;
	if (pb->d != NULL)
		MHD_stop_daemon(pb->d); /* joins its threads */
	sem_destroy(&pb->readers);
	for (unsigned i = 0; pb->live != NULL && i < LIVE_CACHE; i++)
		pthread_mutex_destroy(&pb->live[i].lock);
	free(pb->live);
	sodium_free(pb->key);
	sodium_free(pb->tls_key);
	sodium_free(pb->s3_keys);
	free(pb->tls_cert);
	free(pb);
}

int vigil_playback_token(const struct vigil_playback *pb, const char *camera, uint64_t ttl, uint64_t from,
			 uint64_t to, char *out, size_t outlen, uint64_t *expires)
{
	struct vigil_viewer_scope s = {.expires = now_s() + ttl, .from = from, .to = to};

	if (strlen(camera) >= sizeof(s.camera))
		return -EINVAL;
	strcpy(s.camera, camera);
	*expires = s.expires;
	return vigil_token_issue(pb->key, &s, out, outlen);
}

void vigil_playback_counts(const struct vigil_playback *pb, uint64_t out[VIGIL_PLAYBACK_OUTCOMES])
{
	for (int i = 0; i < VIGIL_PLAYBACK_OUTCOMES; i++)
		out[i] = atomic_load_explicit(&pb->counts[i], memory_order_relaxed);
}

json_t *vigil_playback_summary(const struct vigil_playback *pb)
{
	uint64_t n[VIGIL_PLAYBACK_OUTCOMES];
	json_t *answers = json_object();

	vigil_playback_counts(pb, n);
	for (int i = 0; i < VIGIL_PLAYBACK_OUTCOMES; i++)
		json_object_set_new(answers, vigil_playback_outcome_name[i], json_integer((json_int_t)n[i]));
	return json_pack("{ss sb so sI}", "url", pb->url, "tls", pb->tls_key != NULL, "answers", answers,
			 "playlist_bytes_read",
			 (json_int_t)atomic_load_explicit(&pb->playlist_bytes, memory_order_relaxed));
}

const char *vigil_playback_url(const struct vigil_playback *pb)
{
	return pb->url;
}
