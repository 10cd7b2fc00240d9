/* SPDX-License-Identifier: MIT */
/* A camera's recordings across nodes as one playlist (timeline.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeline.h"

#define JOIN_NS 500000000ull /* a segment starting this close to the end of the one before continues it */

bool vigil_timeline_node_ok(const char *node)
{
	size_t n = strlen(node);

	return n > 0 && n < VIGIL_TIMELINE_NODE_MAX && strspn(node, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
								   "0123456789._-") == n &&
	       strcmp(node, ".") != 0 && strcmp(node, "..") != 0;
}

static int seg_add(struct vigil_timeline *t, const struct vigil_timeline_seg *s)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		void *v = realloc(t->v, cap * sizeof(*t->v));

		if (v == NULL)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *s;
	return 0;
}

bool vigil_timeline_line(struct vigil_timeline_reader *tr, const char *line, struct vigil_timeline_seg *out)
{
	struct vigil_timeline_seg s = {0};

	if (!vigil_playlist_line(&tr->r, line, &s.e))
		return false;
	s.listed_ns = s.e.start_ns;
	if (s.e.start_ns == 0)
		s.e.start_ns = tr->next;
	if (s.e.start_ns == 0)
		return false;
	tr->next = s.e.start_ns + (uint64_t)(s.e.seconds * 1e9);
	*out = s;
	return true;
}

int vigil_timeline_add(struct vigil_timeline *t, const char *node, const char *text, size_t len)
{
	struct vigil_timeline_reader tr = {0};
	struct vigil_timeline_seg s = {0};
	char *copy, *line, *save = NULL;
	void *nodes;
	int ret = 0;

	if (node == NULL)
		node = "";
	else if (!vigil_timeline_node_ok(node))
		return -EINVAL;
	nodes = realloc(t->nodes, (t->n_nodes + 1) * sizeof(*t->nodes));
	copy = malloc(len + 1);
	if (nodes == NULL || copy == NULL) {
		free(copy);
		if (nodes != NULL)
			t->nodes = nodes;
		return -ENOMEM;
	}
	t->nodes = nodes;
	snprintf(t->nodes[t->n_nodes], VIGIL_TIMELINE_NODE_MAX, "%s", node);
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = strtok_r(copy, "\r\n", &save); line != NULL && ret == 0; line = strtok_r(NULL, "\r\n", &save))
		if (vigil_timeline_line(&tr, line, &s)) {
			s.node = t->n_nodes;
			ret = seg_add(t, &s);
		}
	t->n_nodes++;
	free(copy);
	return ret;
}

static int by_start(const void *a, const void *b)
{
	const struct vigil_timeline_seg *x = a, *y = b;

	if (x->e.start_ns != y->e.start_ns)
		return x->e.start_ns < y->e.start_ns ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->e.seq < y->e.seq ? -1 : x->e.seq > y->e.seq;
}

/* printf into the growing text *out. */
static bool put(char **out, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool put(char **out, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*out + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return false;
		if ((size_t)n < *cap - *len) {
			*len += (size_t)n;
			return true;
		}
		char *more = realloc(*out, 2 * *cap + (size_t)n);

		if (more == NULL)
			return false;
		*out = more;
		*cap = 2 * *cap + (size_t)n;
	}
}

/* Whether segment s is in [from_ns, to_ns). */
static bool in_range(const struct vigil_timeline_seg *s, uint64_t from_ns, uint64_t to_ns)
{
	uint64_t end = s->e.start_ns + (uint64_t)(s->e.seconds * 1e9);

	return !((to_ns != 0 && s->e.start_ns >= to_ns) || (from_ns != 0 && end <= from_ns));
}

char *vigil_timeline_playlist(struct vigil_timeline *t, uint64_t from_ns, uint64_t to_ns, const char *base,
			      const char *query, unsigned live, unsigned *segments)
{
	size_t len = 0, cap = 4096, first = t->n, skip = 0, n_in = 0;
	char *out = malloc(cap), when[64], name[64];
	const struct vigil_timeline_seg *prev = NULL;
	unsigned target = 1, n = 0;
	bool fmp4 = false, ok;

	if (out == NULL)
		return NULL;
	qsort(t->v, t->n, sizeof(*t->v), by_start);
	for (size_t i = 0; i < t->n; i++) {
		const struct vigil_playlist_entry *e = &t->v[i].e;

		fmp4 |= e->kind == VIGIL_SEG_M4S;
		target = vigil_playlist_target(target, e->seconds);
		n_in += in_range(&t->v[i], from_ns, to_ns);
	}
	/* Live: the last `live` of them, numbered from the first's number. */
	if (live != 0 && n_in > live)
		skip = n_in - live;
	for (size_t i = 0, k = 0; i < t->n && first == t->n; i++)
		if (in_range(&t->v[i], from_ns, to_ns) && k++ == skip)
			first = i;
	if (live != 0)
		ok = put(&out, &len, &cap, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%u\n"
					   "#EXT-X-MEDIA-SEQUENCE:%" PRIu32 "\n",
			 fmp4 ? 7 : 3, target, first < t->n ? t->v[first].e.seq : 0);
	else
		ok = put(&out, &len, &cap, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-PLAYLIST-TYPE:VOD\n"
					   "#EXT-X-TARGETDURATION:%u\n#EXT-X-MEDIA-SEQUENCE:0\n",
			 fmp4 ? 7 : 3, target);
	for (size_t i = first; i < t->n && ok; i++) {
		const struct vigil_timeline_seg *s = &t->v[i];
		const char *node = t->nodes[s->node], *slash = node[0] != '\0' ? "/" : "";
		bool cut, new_map;

		if (!in_range(s, from_ns, to_ns))
			continue;
		if (prev == NULL) {
			cut = false;
			new_map = true;
		} else {
			uint64_t prev_end = prev->e.start_ns + (uint64_t)(prev->e.seconds * 1e9);

			cut = s->node != prev->node || s->e.discontinuity || s->e.kind != prev->e.kind ||
			      s->e.start_ns > prev_end + JOIN_NS || s->e.start_ns + JOIN_NS < prev_end;
			new_map = cut || s->e.map != prev->e.map;
		}
		vigil_playlist_time_fmt(when, sizeof(when), s->e.start_ns);
		/* A node's segments are objects, named with their start; a
		 * camera's own folder's are files, named without. */
		vigil_segment_object_name(name, sizeof(name), s->e.seq, s->e.kind, node[0] != '\0' ? s->listed_ns : 0);
		if (cut)
			ok = put(&out, &len, &cap, "#EXT-X-DISCONTINUITY\n");
		if (ok && s->e.kind == VIGIL_SEG_M4S && new_map)
			ok = put(&out, &len, &cap, "#EXT-X-MAP:URI=\"%s%s%sinit-%08" PRIu32 ".mp4%s\"\n", base, node,
				 slash, s->e.map, query);
		if (ok)
			ok = put(&out, &len, &cap, "#EXT-X-PROGRAM-DATE-TIME:%s\n%s#EXTINF:%.3f,\n%s%s%s%s%s\n", when,
				 s->parts != NULL ? s->parts : "", s->e.seconds, base, node, slash, name, query);
		prev = s;
		n++;
	}
	if (ok && live == 0)
		ok = put(&out, &len, &cap, "#EXT-X-ENDLIST\n");
	if (!ok) {
		free(out);
		return NULL;
	}
	*segments = n;
	return out;
}

void vigil_timeline_free(struct vigil_timeline *t)
{
	free(t->nodes);
	free(t->v);
	*t = (struct vigil_timeline){0};
}

#define FIND_WINDOW 65536

/* The number of the first segment (a URI line) that starts in buf[0, len)
 * after its first newline (the line it starts in may be cut), and where
 * the line after it starts; false: none whole in it. */
static bool first_segment(const char *buf, size_t len, uint32_t *seq, size_t *after)
{
	const char *end = buf + len, *p = memchr(buf, '\n', len);

	while (p != NULL && ++p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		enum vigil_seg_kind kind;
		char name[64];

		if (nl == NULL)
			return false;
		if (*p != '#' && (size_t)(nl - p) < sizeof(name)) {
			memcpy(name, p, (size_t)(nl - p));
			name[nl - p] = '\0';
			if (vigil_segment_name(name, seq, &kind)) {
				*after = (size_t)(nl + 1 - buf);
				return true;
			}
		}
		p = nl;
	}
	return false;
}

int vigil_timeline_find(int fd, uint32_t seq, struct vigil_timeline_seg *out, uint64_t *bytes)
{
	struct vigil_timeline_reader tr = {0};
	uint64_t lo = 0, hi, end_at;
	struct stat st;
	ssize_t got;
	char *buf;
	int ret = -ENOENT;

	*bytes = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((buf = malloc(2 * FIND_WINDOW)) == NULL)
		return -ENOMEM;
	/* lo: the start of a line after a segment numbered below seq (or of
	 * the file); the first segment at or after hi is seq or later. */
	hi = (uint64_t)st.st_size;
	while (hi - lo > FIND_WINDOW) {
		uint64_t mid = lo + (hi - lo) / 2;
		size_t after;
		uint32_t s;

		if ((got = pread(fd, buf, FIND_WINDOW, (off_t)mid)) <= 0) {
			ret = got < 0 ? -errno : -EIO;
			goto out;
		}
		*bytes += (uint64_t)got;
		if (first_segment(buf, (size_t)got, &s, &after) && s < seq)
			lo = mid + after;
		else
			hi = mid;
	}
	/* Its entry (time, duration, name) is in [lo, hi + a window). */
	end_at = hi + FIND_WINDOW < (uint64_t)st.st_size ? hi + FIND_WINDOW : (uint64_t)st.st_size;
	if ((got = pread(fd, buf, (size_t)(end_at - lo), (off_t)lo)) < 0) {
		ret = -errno;
		goto out;
	}
	*bytes += (uint64_t)got;
	for (char *line = buf, *end = buf + got, *nl; ret == -ENOENT && line < end; line = nl + 1) {
		struct vigil_timeline_seg e;

		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			break; /* a line being appended */
		*nl = '\0';
		if (vigil_timeline_line(&tr, line, &e) && e.e.seq == seq) {
			*out = e;
			ret = 0;
		}
	}
out:
	free(buf);
	return ret;
}
