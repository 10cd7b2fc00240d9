/* SPDX-License-Identifier: MIT */
/* The uploader (upload.h): its thread, each camera's queue of files to
 * put, the spool's accounting, StateDir/uploads.K. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <rte_ring.h>
#include <sodium.h>

#include "playlist.h"
#include "s3.h"
#include "upload.h"
#include "vigil/clock.h"
#include "vigil/hash.h"
#include "vigil/log.h"
#include "vigil/object_name.h"

#define UPLOAD_TRANSFERS 4	      /* at once, each on a kept-alive connection */
#define UPLOAD_POSTS 65536	      /* posts waiting for the thread; past that, the spool is read again */
#define UPLOAD_BUCKETS 16384	      /* of the cameras' hash table */
#define UPLOAD_DELETE_BATCH 1000      /* keys in one DeleteObjects, the API's most */
#define UPLOAD_BACKOFF_MS 250	      /* after the first failure, doubled each time ... */
#define UPLOAD_BACKOFF_MAX_MS 10000   /* ... up to this; each wait a random part of it, from half */
#define UPLOAD_PART_BYTES (16u << 20) /* larger segments go up in parts of this size (S3: 5 MiB or more) */
#define UPLOAD_JOURNAL "uploads"      /* StateDir/uploads.K: lane K's */
#define UPLOAD_PATH (4096 + 128)      /* RecordDir/<camera>/<file> */

const char *const vigil_upload_failure_name[VIGIL_UPLOAD_FAILURES] = {
#define VIGIL_X_NAME(name, help) #name,
    VIGIL_FOREACH_UPLOAD_FAILURE(VIGIL_X_NAME)
#undef VIGIL_X_NAME
};

enum item_op { ITEM_SEGMENT, ITEM_INIT, ITEM_PLAYLIST, ITEM_DELETE };

struct item {
	struct item *next;
	enum item_op op;
	enum vigil_seg_kind kind;
	uint32_t seq, map;
	uint64_t bytes;
	uint64_t at_ns;	   /* durable since (wall clock) */
	uint64_t start_ns; /* its playlist entry's start: its object's name */
};

struct cam {
	char name[VIGIL_CAMERA_NAME_MAX + 1];
	struct cam *hnext, *all_next;
	struct item *head, *tail;
	struct cam *rnext; /* in the ready list */
	bool ready, busy, playlist_queued;
	uint32_t below; /* every segment below is in the bucket */
	bool map_up;	/* init segment map is in the bucket */
	uint32_t map;
	uint8_t playlist_md5[16]; /* of the copy in the bucket */
};

/* A post from a recorder thread: fixed size, no pointer. */
struct post {
	char camera[VIGIL_CAMERA_NAME_MAX + 4];
	uint8_t kind, removed, pad[2];
	uint32_t seq, map;
	uint64_t bytes, at_ns, start_ns;
};
_Static_assert(sizeof(struct post) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

/* A file larger than UPLOAD_PART_BYTES goes up as a multipart upload:
 * initiated, each part PUT with its own Content-MD5 and its ETag checked,
 * completed, and the object's ETag read back (HEAD: Ceph RGW 16 answers
 * the completion with an empty one) and checked: the MD5 of the parts'
 * MD5s, "-", their number. A step that fails aborts the upload; the file
 * is then begun again from the start. */
enum stage { STAGE_ONE, STAGE_INIT, STAGE_PART, STAGE_COMPLETE, STAGE_VERIFY, STAGE_ABORT };

struct xfer {
	struct vigil_s3_req req;
	struct cam *c;
	struct item *it;   /* at c's head while in flight */
	unsigned n_delete; /* ITEM_DELETE: the items of the batch */
	void *map;	   /* a segment's file, mapped */
	size_t map_len;
	char *buf; /* a playlist, a DeleteObjects or CompleteMultipartUpload body */
	bool busy;
	enum stage stage;
	char upload_id[512];
	unsigned part, n_parts; /* the part in flight, from 1 */
	uint8_t (*part_md5)[16];
};

/* A lane: a thread with its share of the cameras (by name), its own
 * connections and transfers, queues and StateDir/uploads.K file. A node
 * has as many as recorder threads: one thread hashes and sends about
 * 300 MB/s here. */
struct lane {
	struct vigil_uploader *up;
	unsigned index;
	CURLM *multi;
	struct xfer x[UPLOAD_TRANSFERS];
	struct vigil_s3_req side; /* requests made one by one: the start's, the aborts' */
	bool abort_pending;	  /* open multipart uploads to abort once the store answers */
	struct rte_ring *posts;
	bool overflow; /* posts were lost: the spool is read again */
	struct cam *buckets[UPLOAD_BUCKETS], *all;
	struct cam *ready_head, *ready_tail;
	unsigned failures_in_row;
	uint64_t not_before_ns; /* no new transfer before (monotonic) */
	bool journal_dirty;
	char **unlinks; /* local files to remove once the journal is written */
	size_t n_unlinks, cap_unlinks;
	struct vigil_upload_stats st;
	pthread_t thread;
	bool running;
	bool finished; /* under up->lock */
};

struct vigil_uploader {
	struct vigil_storage_config conf;
	struct vigil_s3 s3;
	char *userpwd; /* sodium_malloc'd */
	char record_dir[4096], state_dir[4096];
	unsigned n_lanes;
	struct lane *lanes;
	pthread_mutex_t lock; /* stop, finishing and the lanes' finished, with cond */
	pthread_cond_t cond;
	bool stop, finishing;
};

/* A lane's counter or gauge: its thread the only writer, others read it
 * whole. */
static void add(uint64_t *counter, int64_t n)
{
	__atomic_store_n(counter, *counter + (uint64_t)n, __ATOMIC_RELAXED);
}

static struct cam *cam_get(struct lane *u, const char *name, bool make)
{
	struct cam **b = &u->buckets[vigil_hash_name(name) % UPLOAD_BUCKETS], *c;

	for (c = *b; c != NULL; c = c->hnext)
		if (strcmp(c->name, name) == 0)
			return c;
	if (!make || !vigil_camera_name_ok(name) || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->hnext = *b;
	*b = c;
	c->all_next = u->all;
	u->all = c;
	return c;
}

static void ready(struct lane *u, struct cam *c, bool front)
{
	if (c->ready || c->busy || c->head == NULL)
		return;
	c->ready = true;
	if (front) {
		c->rnext = u->ready_head;
		u->ready_head = c;
		if (u->ready_tail == NULL)
			u->ready_tail = c;
	} else {
		c->rnext = NULL;
		if (u->ready_tail != NULL)
			u->ready_tail->rnext = c;
		else
			u->ready_head = c;
		u->ready_tail = c;
	}
}

static void queue(struct lane *u, struct cam *c, struct item *it)
{
	it->next = NULL;
	if (c->tail != NULL)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	if (it->op == ITEM_SEGMENT) {
		add(&u->st.spool_bytes, (int64_t)it->bytes);
		add(&u->st.spool_segments, 1);
	}
	ready(u, c, false);
}

static void queue_playlist(struct lane *u, struct cam *c)
{
	struct item *it;

	if (c->playlist_queued || (it = calloc(1, sizeof(*it))) == NULL)
		return;
	it->op = ITEM_PLAYLIST;
	c->playlist_queued = true;
	queue(u, c, it);
}

/* The head item is done (uploaded, or gone): off the queue. */
static void pop(struct lane *u, struct cam *c)
{
	struct item *it = c->head;

	c->head = it->next;
	if (c->head == NULL)
		c->tail = NULL;
	if (it->op == ITEM_SEGMENT) {
		add(&u->st.spool_bytes, -(int64_t)it->bytes);
		add(&u->st.spool_segments, -1);
	}
	if (it->op == ITEM_PLAYLIST)
		c->playlist_queued = false;
	free(it);
}

static void path_of(const struct lane *u, char *out, size_t len, const struct cam *c, const struct item *it)
{
	if (it->op == ITEM_INIT)
		snprintf(out, len, "%s/%s/init-%08" PRIu32 ".mp4", u->up->record_dir, c->name, it->map);
	else if (it->op == ITEM_PLAYLIST)
		snprintf(out, len, "%s/%s/" VIGIL_PLAYLIST_NAME, u->up->record_dir, c->name);
	else
		snprintf(out, len, "%s/%s/%08" PRIu32 "%s", u->up->record_dir, c->name, it->seq,
			 vigil_seg_suffix[it->kind]);
}

/* <Prefix><camera>/<Node>/<file>, a segment's file with its start before
 * it (vigil_segment_object_name) */
static void key_of(const struct lane *u, char *out, size_t len, const struct cam *c, const struct item *it)
{
	char path[UPLOAD_PATH], name[64];

	path_of(u, path, sizeof(path), c, it);
	if (it->op == ITEM_SEGMENT || it->op == ITEM_DELETE)
		vigil_segment_object_name(name, sizeof(name), it->seq, it->kind, it->start_ns);
	snprintf(out, len, "%s%s/%s/%s", u->up->conf.prefix, c->name, u->up->conf.node,
		 it->op == ITEM_SEGMENT || it->op == ITEM_DELETE ? name : strrchr(path, '/') + 1);
}

static const char *content_type(const struct item *it)
{
	if (it->op == ITEM_PLAYLIST)
		return "application/vnd.apple.mpegurl";
	if (it->op == ITEM_INIT)
		return "video/mp4";
	return it->kind == VIGIL_SEG_TS	   ? "video/mp2t"
	       : it->kind == VIGIL_SEG_M4S ? "video/iso.segment"
					   : "application/octet-stream";
}

/* ---- StateDir/uploads ------------------------------------------------ */

static unsigned lane_of(const struct vigil_uploader *up, const char *camera)
{
	uint64_t h = vigil_hash_name(camera);

	/* FNV's high bits barely differ for names that differ in their last
	 * character: mixed first (MurmurHash3's finalizer). */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	return (unsigned)(h % up->n_lanes);
}

/* StateDir/uploads.K, every K (another number of lanes may have written
 * them), each camera to its lane now. 0, or -errno with err set; *files:
 * the highest K read, plus one. */
static int journal_read(struct vigil_uploader *up, unsigned *files, char *err, size_t errlen)
{
	char path[sizeof(up->state_dir) + 256 + 2], line[256], name[VIGIL_CAMERA_NAME_MAX + 2];
	struct dirent *de;
	DIR *d = opendir(up->state_dir);

	*files = 0;
	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", up->state_dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		unsigned k, n = 0;
		uint32_t below;
		int end = 0;
		FILE *f;

		if (sscanf(de->d_name, UPLOAD_JOURNAL ".%u%n", &k, &end) != 1 || de->d_name[end] != '\0')
			continue;
		if (k >= *files)
			*files = k + 1;
		snprintf(path, sizeof(path), "%s/%s", up->state_dir, de->d_name);
		if ((f = fopen(path, "re")) == NULL) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			closedir(d);
			return -EIO;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			struct cam *c;

			n++;
			if (line[0] == '#')
				continue;
			if (sscanf(line, "%65s %" SCNu32, name, &below) != 2 ||
			    (c = cam_get(&up->lanes[lane_of(up, name)], name, true)) == NULL) {
				vigil_log(VIGIL_LOG_WARNING,
					  "vigild: %s:%u: not 'camera number': line ignored\n", path, n);
				continue;
			}
			if (below > c->below)
				c->below = below;
		}
		fclose(f);
	}
	closedir(d);
	return 0;
}

static int journal_write(struct lane *u)
{
	char path[4200], tmp[4300];
	FILE *f;
	int fd, ret = 0;

	if (!u->journal_dirty)
		return 0;
	snprintf(path, sizeof(path), "%s/" UPLOAD_JOURNAL ".%u", u->up->state_dir, u->index);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	fprintf(f, "# vigild: per camera, the segment number below which every segment is in the bucket\n");
	for (struct cam *c = u->all; c != NULL; c = c->all_next)
		if (c->below > 0)
			fprintf(f, "%s %" PRIu32 "\n", c->name, c->below);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ret = -errno;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret == 0)
		ret = vigil_sync_parent_dir(path);
out:
	if (ret < 0) {
		vigil_log(VIGIL_LOG_ERR,
			  "vigild: storage: cannot write %s: %s (local files are kept until it can)\n", path,
			  strerror(-ret));
		return ret;
	}
	u->journal_dirty = false;
	for (size_t i = 0; i < u->n_unlinks; i++) {
		if (unlink(u->unlinks[i]) < 0 && errno != ENOENT)
			vigil_log(VIGIL_LOG_WARNING, "vigild: storage: cannot remove %s once uploaded: %s\n",
				  u->unlinks[i], strerror(errno));
		free(u->unlinks[i]);
	}
	u->n_unlinks = 0;
	return 0;
}

static void unlink_later(struct lane *u, const char *path)
{
	if (u->n_unlinks == u->cap_unlinks) {
		size_t cap = u->cap_unlinks ? 2 * u->cap_unlinks : 256;
		char **v = realloc(u->unlinks, cap * sizeof(*v));

		if (v == NULL)
			return; /* kept: the next start sees it is in the bucket */
		u->unlinks = v;
		u->cap_unlinks = cap;
	}
	if ((u->unlinks[u->n_unlinks] = strdup(path)) != NULL)
		u->n_unlinks++;
}

/* ---- the spool: what is on disk and not in the bucket ---------------- */

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One camera's folder: its segments from c->below on, in order. */
static void scan_camera(struct lane *u, struct cam *c)
{
	char dir[4200];
	struct item **v = NULL;
	uint32_t inits[256];
	struct vigil_playlist_entry *listed = NULL;
	unsigned n_listed = 0;
	size_t n = 0, cap = 0, n_inits = 0;
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", u->up->record_dir, c->name);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		enum vigil_seg_kind kind;
		struct stat sb;
		uint32_t seq;
		struct item *it;

		if (vigil_init_name(de->d_name, &seq)) {
			if (n_inits < sizeof(inits) / sizeof(inits[0]))
				inits[n_inits++] = seq;
			continue;
		}
		if (!vigil_segment_name(de->d_name, &seq, &kind))
			continue;
		/* In the bucket, the journal says: a crash came between the
		 * journal's write and the file's removal. */
		if (seq < c->below) {
			if (!u->up->conf.keep_local && unlinkat(dirfd(d), de->d_name, 0) < 0 &&
			    errno != ENOENT)
				vigil_log(VIGIL_LOG_WARNING,
					  "vigild: storage: cannot remove %s/%s once uploaded: %s\n", dir,
					  de->d_name, strerror(errno));
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
			continue;
		for (struct item *q = c->head; q != NULL; q = q->next)
			if (q->op == ITEM_SEGMENT && q->seq == seq)
				goto next; /* posted meanwhile */
		if (n == cap) {
			struct item **w = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*w));

			if (w == NULL)
				break;
			v = w;
		}
		if ((it = calloc(1, sizeof(*it))) == NULL)
			break;
		*it = (struct item){.op = ITEM_SEGMENT,
				    .kind = kind,
				    .seq = seq,
				    .bytes = (uint64_t)sb.st_size,
				    .at_ns = (uint64_t)sb.st_mtim.tv_sec * 1000000000u +
					     (uint64_t)sb.st_mtim.tv_nsec};
		v[n++] = it;
	next:;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_item);
	/* Their starts, which name their objects, as the playlist lists them
	 * (crash recovery has put it right by now). */
	if (n > 0 && vigil_playlist_read(dir, &listed, &n_listed) == 0) {
		for (size_t i = 0, k = 0; i < n; i++) {
			while (k < n_listed && listed[k].seq < v[i]->seq)
				k++;
			if (k < n_listed && listed[k].seq == v[i]->seq)
				v[i]->start_ns = listed[k].start_ns;
		}
		free(listed);
	}
	for (size_t i = 0; i < n; i++) {
		/* fMP4: the newest init segment made before it. */
		for (size_t k = 0; k < n_inits; k++)
			if (inits[k] <= v[i]->seq && inits[k] >= v[i]->map)
				v[i]->map = inits[k];
		queue(u, c, v[i]);
	}
	free(v);
	queue_playlist(u, c);
}

static void scan(struct lane *u)
{
	struct dirent *de;
	DIR *d = opendir(u->up->record_dir);

	__atomic_store_n(&u->overflow, false, __ATOMIC_RELAXED);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct cam *c;

		if (de->d_name[0] == '.' || !vigil_camera_name_ok(de->d_name) ||
		    lane_of(u->up, de->d_name) != u->index || (c = cam_get(u, de->d_name, true)) == NULL)
			continue;
		scan_camera(u, c);
	}
	closedir(d);
}

/* ---- the thread ------------------------------------------------------ */

static void intake(struct lane *u)
{
	struct post p;

	while (rte_ring_sc_dequeue_elem(u->posts, &p, sizeof(p)) == 0) {
		struct cam *c = cam_get(u, p.camera, true);
		struct item *it;

		if (c == NULL || (it = calloc(1, sizeof(*it))) == NULL) {
			u->overflow = true;
			continue;
		}
		*it = (struct item){.op = p.removed ? ITEM_DELETE : ITEM_SEGMENT,
				    .kind = (enum vigil_seg_kind)p.kind,
				    .seq = p.seq,
				    .map = p.map,
				    .bytes = p.bytes,
				    .at_ns = p.at_ns,
				    .start_ns = p.start_ns};
		queue(u, c, it);
	}
}

/* The local playlist as far as the bucket has its segments: cut before
 * the first entry whose segment is not up yet (and its #EXT-X-ENDLIST
 * with it), each segment by its object's name. */
static char *playlist_for_bucket(const struct lane *u, const struct cam *c, size_t *len)
{
	char path[UPLOAD_PATH];
	char *in = NULL, *out, *line, *save = NULL, *block;
	size_t n = 0, o = 0, b = 0, lines = 1;
	uint64_t start_ns = 0;
	struct stat sb;
	FILE *f;
	bool cut = false;

	path_of(u, path, sizeof(path), c, &(struct item){.op = ITEM_PLAYLIST});
	f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	/* Whole: an EVENT playlist without retention grows for as long as
	 * the camera records. */
	if (fstat(fileno(f), &sb) == 0 && (in = malloc((size_t)sb.st_size + 1)) != NULL)
		n = fread(in, 1, (size_t)sb.st_size, f);
	fclose(f);
	if (in == NULL)
		return NULL;
	in[n] = '\0';
	for (size_t i = 0; i < n; i++)
		lines += in[i] == '\n';
	out = malloc(n + lines * VIGIL_OBJECT_TIME_LEN + 1); /* a start before each name */
	block = malloc(n + 1);
	if (out == NULL || block == NULL) {
		free(in), free(out), free(block);
		return NULL;
	}
	for (line = strtok_r(in, "\n", &save); line != NULL && !cut; line = strtok_r(NULL, "\n", &save)) {
		size_t l = strlen(line);
		enum vigil_seg_kind kind;
		uint32_t seq;

		if (line[0] == '#' && strncmp(line, "#EXTINF", 7) != 0 &&
		    strncmp(line, "#EXT-X-MAP", 10) != 0 && strncmp(line, "#EXT-X-DISCONTINUITY", 20) != 0 &&
		    strncmp(line, "#EXT-X-PROGRAM-DATE-TIME", 24) != 0 &&
		    strncmp(line, VIGIL_PLAYLIST_BYTES_TAG, sizeof(VIGIL_PLAYLIST_BYTES_TAG) - 1) != 0 &&
		    b == 0) {
			memcpy(out + o, line, l), o += l, out[o++] = '\n';
			continue;
		}
		/* an entry's tags, then its URI */
		if (line[0] == '#') {
			if (strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25) == 0)
				start_ns = vigil_playlist_time_parse(line + 25);
			memcpy(block + b, line, l), b += l, block[b++] = '\n';
			continue;
		}
		if (!vigil_segment_name(line, &seq, &kind)) {
			memcpy(out + o, block, b), o += b;
			memcpy(out + o, line, l), o += l, out[o++] = '\n';
		} else if (seq >= c->below) {
			cut = true;
		} else {
			memcpy(out + o, block, b), o += b;
			vigil_segment_object_name(out + o, VIGIL_OBJECT_TIME_LEN + l + 1, seq, kind, start_ns);
			o += strlen(out + o), out[o++] = '\n';
		}
		b = 0;
		start_ns = 0;
	}
	if (!cut && b > 0)
		memcpy(out + o, block, b), o += b; /* #EXT-X-ENDLIST */
	free(in);
	free(block);
	*len = o;
	return out;
}

static void fail(struct lane *u, struct xfer *x, CURLcode rc)
{
	enum vigil_upload_failure why;
	uint64_t ms;
	char key[1024];

	if (rc == CURLE_OPERATION_TIMEDOUT)
		why = VIGIL_UPLOAD_FAIL_timeout;
	else if (rc != CURLE_OK)
		why = VIGIL_UPLOAD_FAIL_connect;
	else if (x->req.status == 401 || x->req.status == 403)
		why = VIGIL_UPLOAD_FAIL_credentials;
	else if (x->req.status >= 500)
		why = VIGIL_UPLOAD_FAIL_http_5xx;
	else if (x->req.status != 200)
		why = VIGIL_UPLOAD_FAIL_http_4xx;
	else
		why = VIGIL_UPLOAD_FAIL_checksum;
	add(&u->st.failures[why], 1);
	if (u->failures_in_row++ == 0) {
		key_of(u, key, sizeof(key), x->c, x->it);
		vigil_log(VIGIL_LOG_WARNING,
			  "vigild: storage: %s: %s (%s, HTTP %ld); retrying with backoff\n", key,
			  vigil_upload_failure_name[why],
			  rc != CURLE_OK ? curl_easy_strerror(rc) : "answered", x->req.status);
		__atomic_store_n(&u->st.failing_since_ns, vigil_clock_ns(CLOCK_REALTIME), __ATOMIC_RELAXED);
	}
	/* Exponential backoff with jitter: [0.5, 1) of the step, so that
	 * nodes that failed together do not retry together. */
	ms = UPLOAD_BACKOFF_MS << (u->failures_in_row < 8 ? u->failures_in_row - 1 : 7);
	if (ms > UPLOAD_BACKOFF_MAX_MS)
		ms = UPLOAD_BACKOFF_MAX_MS;
	ms = ms / 2 + randombytes_uniform((uint32_t)(ms / 2));
	u->not_before_ns = vigil_now_ns() + ms * 1000000u;
}

static void abort_open_uploads(struct lane *u);

static void succeeded(struct lane *u, struct xfer *x)
{
	struct cam *c = x->c;
	struct item *it = x->it;
	char path[UPLOAD_PATH];

	if (u->failures_in_row > 0)
		vigil_log(VIGIL_LOG_NOTICE, "vigild: storage: the store answers again after %u failure(s)\n",
			  u->failures_in_row);
	u->failures_in_row = 0;
	__atomic_store_n(&u->st.failing_since_ns, 0, __ATOMIC_RELAXED);
	if (u->abort_pending)
		abort_open_uploads(u);
	switch (it->op) {
	case ITEM_SEGMENT:
		add(&u->st.uploaded_segments, 1);
		add(&u->st.uploaded_bytes, (int64_t)it->bytes);
		if (it->seq + 1 > c->below)
			c->below = it->seq + 1;
		u->journal_dirty = true;
		if (!u->up->conf.keep_local) {
			path_of(u, path, sizeof(path), c, it);
			unlink_later(u, path);
		}
		pop(u, c);
		queue_playlist(u, c);
		return;
	case ITEM_INIT:
		add(&u->st.uploaded_inits, 1);
		c->map_up = true;
		c->map = it->map;
		break;
	case ITEM_PLAYLIST:
		add(&u->st.uploaded_playlists, 1);
		memcpy(c->playlist_md5, x->req.md5, sizeof(c->playlist_md5));
		break;
	case ITEM_DELETE:
		for (unsigned i = 1; i < x->n_delete; i++)
			pop(u, c);
		break;
	}
	pop(u, c);
}

static void release(struct xfer *x)
{
	if (x->map != NULL)
		munmap(x->map, x->map_len);
	free(x->buf);
	free(x->part_md5);
	x->map = NULL;
	x->buf = NULL;
	x->part_md5 = NULL;
	x->busy = false;
}

/* The request of a multipart upload's stage. 0 or -errno. */
static int multipart_request(struct lane *u, struct xfer *x)
{
	char key[1024], q[700], *id;
	size_t off, len, cap, o = 0;
	int ret;

	key_of(u, key, sizeof(key), x->c, x->it);
	id = curl_easy_escape(x->req.easy, x->upload_id, 0);
	if (id == NULL)
		return -ENOMEM;
	switch (x->stage) {
	case STAGE_INIT:
		ret = vigil_s3_prepare(&u->up->s3, &x->req, "POST", key, "uploads=", (const uint8_t *)"", 0,
				       content_type(x->it), false);
		break;
	case STAGE_PART:
		off = (size_t)(x->part - 1) * UPLOAD_PART_BYTES;
		len = x->map_len - off < UPLOAD_PART_BYTES ? x->map_len - off : UPLOAD_PART_BYTES;
		snprintf(q, sizeof(q), "partNumber=%u&uploadId=%s", x->part, id);
		ret = vigil_s3_prepare(&u->up->s3, &x->req, "PUT", key, q, (const uint8_t *)x->map + off, len,
				       NULL, true);
		break;
	case STAGE_COMPLETE:
		cap = 128 + (size_t)x->n_parts * 128;
		free(x->buf);
		if ((x->buf = malloc(cap)) == NULL) {
			ret = -ENOMEM;
			break;
		}
		o += (size_t)snprintf(x->buf + o, cap - o, "<CompleteMultipartUpload>");
		for (unsigned i = 0; i < x->n_parts; i++) {
			char hex[33];

			sodium_bin2hex(hex, sizeof(hex), x->part_md5[i], 16);
			o += (size_t)snprintf(x->buf + o, cap - o,
					      "<Part><PartNumber>%u</PartNumber><ETag>\"%s\"</ETag></Part>",
					      i + 1, hex);
		}
		o += (size_t)snprintf(x->buf + o, cap - o, "</CompleteMultipartUpload>");
		snprintf(q, sizeof(q), "uploadId=%s", id);
		ret = vigil_s3_prepare(&u->up->s3, &x->req, "POST", key, q, (const uint8_t *)x->buf, o,
				       "application/xml", false);
		break;
	case STAGE_VERIFY:
		ret = vigil_s3_prepare(&u->up->s3, &x->req, "HEAD", key, NULL, (const uint8_t *)"", 0, NULL,
				       false);
		break;
	default:
		snprintf(q, sizeof(q), "uploadId=%s", id);
		ret = vigil_s3_prepare(&u->up->s3, &x->req, "DELETE", key, q, (const uint8_t *)"", 0, NULL,
				       false);
		break;
	}
	curl_free(id);
	return ret;
}

/* The object a multipart upload made: its ETag (HEAD) the MD5 of its
 * parts' MD5s, "-", their number. */
static bool multipart_etag_ok(const struct xfer *x)
{
	char want[48];
	uint8_t md5[16];
	unsigned int n;

	if (x->req.status != 200 ||
	    EVP_Digest(x->part_md5, (size_t)x->n_parts * 16, md5, &n, EVP_md5(), NULL) != 1)
		return false;
	sodium_bin2hex(want, sizeof(want), md5, sizeof(md5));
	snprintf(want + 32, sizeof(want) - 32, "-%u", x->n_parts);
	return strcasecmp(want, x->req.etag) == 0;
}

/* A segment or init segment mapped: 1; 0: gone from disk (retention took
 * it); -errno. */
static int map_file(struct lane *u, struct xfer *x)
{
	char path[UPLOAD_PATH];
	struct stat sb = {0};
	int fd;

	path_of(u, path, sizeof(path), x->c, x->it);
	/* Only what the recorder wrote: never a link put in its place. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		int err = S_ISREG(sb.st_mode) ? -errno : -EINVAL;

		close(fd);
		return err;
	}
	x->map_len = (size_t)sb.st_size;
	x->map = x->map_len == 0 ? NULL : mmap(NULL, x->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (x->map == MAP_FAILED) {
		x->map = NULL;
		return -errno;
	}
	return 1;
}

/* DeleteObjects of the delete items at the head of c's queue. */
static int delete_body(struct lane *u, struct xfer *x, size_t *len)
{
	size_t cap = 64 + UPLOAD_DELETE_BATCH * 1100, o = 0;
	char key[1024];

	x->buf = malloc(cap);
	if (x->buf == NULL)
		return -ENOMEM;
	o += (size_t)snprintf(x->buf + o, cap - o, "<Delete><Quiet>true</Quiet>");
	x->n_delete = 0;
	for (struct item *it = x->it;
	     it != NULL && it->op == ITEM_DELETE && x->n_delete < UPLOAD_DELETE_BATCH; it = it->next) {
		key_of(u, key, sizeof(key), x->c, it);
		o += (size_t)snprintf(x->buf + o, cap - o, "<Object><Key>%s</Key></Object>", key);
		x->n_delete++;
	}
	o += (size_t)snprintf(x->buf + o, cap - o, "</Delete>");
	*len = o;
	return 0;
}

/* The next file of a ready camera on a free transfer: 1 started, 0 none
 * to start. */
static int start_one(struct lane *u, struct xfer *x)
{
	struct cam *c;
	struct item *it;
	char key[1024];
	const uint8_t *data = NULL;
	size_t len = 0;
	int ret;

again:
	if ((c = u->ready_head) == NULL)
		return 0;
	u->ready_head = c->rnext;
	if (u->ready_head == NULL)
		u->ready_tail = NULL;
	c->ready = false;
	it = c->head;
	/* fMP4: its init segment first. */
	if (it->op == ITEM_SEGMENT && it->kind == VIGIL_SEG_M4S && (!c->map_up || c->map != it->map)) {
		struct item *init = calloc(1, sizeof(*init));

		if (init == NULL) {
			ready(u, c, false);
			return 0;
		}
		*init = (struct item){.op = ITEM_INIT, .map = it->map, .next = it};
		c->head = init;
		it = init;
	}
	x->c = c;
	x->it = it;
	x->busy = true;
	key_of(u, key, sizeof(key), c, it);
	if (it->op == ITEM_SEGMENT || it->op == ITEM_INIT) {
		ret = map_file(u, x);
		if (ret == 0) {
			/* Removed by retention before its turn: nothing to put. */
			if (it->op == ITEM_SEGMENT) {
				add(&u->st.vanished, 1);
				if (it->seq + 1 > c->below)
					c->below = it->seq + 1, u->journal_dirty = true;
			} else { /* an init segment gone: its segments go up without it, said once */
				vigil_log(VIGIL_LOG_WARNING,
					  "vigild: storage: %s is gone from disk: not uploaded\n", key);
				c->map_up = true;
				c->map = it->map;
			}
			pop(u, c);
			release(x);
			ready(u, c, false);
			goto again;
		}
		if (ret < 0) {
			add(&u->st.failures[VIGIL_UPLOAD_FAIL_local], 1);
			vigil_log(VIGIL_LOG_ERR, "vigild: storage: cannot read %s's %s: %s\n", c->name, key,
				  strerror(-ret));
			release(x);
			u->not_before_ns = vigil_now_ns() + UPLOAD_BACKOFF_MAX_MS * 1000000ull;
			ready(u, c, true);
			return 0;
		}
		data = x->map;
		len = x->map_len;
		if (len > UPLOAD_PART_BYTES) {
			x->stage = STAGE_INIT;
			x->n_parts = (unsigned)((len + UPLOAD_PART_BYTES - 1) / UPLOAD_PART_BYTES);
			x->part_md5 = calloc(x->n_parts, sizeof(*x->part_md5));
			x->upload_id[0] = '\0';
			ret = x->part_md5 == NULL ? -ENOMEM : multipart_request(u, x);
		} else {
			x->stage = STAGE_ONE;
			ret = vigil_s3_prepare(&u->up->s3, &x->req, "PUT", key, NULL,
					       data != NULL ? data : (const uint8_t *)"", len,
					       content_type(it), true);
		}
	} else if (it->op == ITEM_PLAYLIST) {
		uint8_t md5[16];
		unsigned int n;
		bool later = false; /* a segment after it: its upload queues the playlist again */

		for (struct item *q = it->next; q != NULL && !later; q = q->next)
			later = q->op == ITEM_SEGMENT;
		x->buf = later ? NULL : playlist_for_bucket(u, c, &len);
		if (x->buf == NULL || (EVP_Digest(x->buf, len, md5, &n, EVP_md5(), NULL) == 1 &&
				       memcmp(md5, c->playlist_md5, sizeof(md5)) == 0)) {
			pop(u, c); /* not yet, none yet, or the bucket has this one */
			release(x);
			ready(u, c, false);
			goto again;
		}
		x->stage = STAGE_ONE;
		ret = vigil_s3_prepare(&u->up->s3, &x->req, "PUT", key, NULL, (const uint8_t *)x->buf, len,
				       content_type(it), true);
	} else {
		x->stage = STAGE_ONE;
		ret = delete_body(u, x, &len);
		if (ret == 0)
			ret = vigil_s3_prepare(&u->up->s3, &x->req, "POST", "",
					       "delete=", (const uint8_t *)x->buf, len, "application/xml",
					       true);
	}
	if (ret < 0) {
		vigil_s3_done(&x->req);
		release(x);
		ready(u, c, true);
		return 0;
	}
	c->busy = true;
	curl_multi_add_handle(u->multi, x->req.easy);
	return 1;
}

/* A multipart upload's step answered: the next one sent (true), or the
 * upload is over (false: *ok says how). */
static bool multipart_step(struct lane *u, struct xfer *x, CURLcode rc, bool *ok)
{
	size_t at = 0;
	bool good = false;

	switch (x->stage) {
	case STAGE_INIT:
		good = rc == CURLE_OK && x->req.status == 200 &&
		       vigil_s3_xml(&x->req, "UploadId", &at, x->upload_id, sizeof(x->upload_id));
		x->part = 1;
		break;
	case STAGE_PART:
		good = rc == CURLE_OK && vigil_s3_etag_ok(&x->req);
		if (good)
			memcpy(x->part_md5[x->part - 1], x->req.md5, 16);
		break;
	case STAGE_COMPLETE:
		good = rc == CURLE_OK && x->req.status == 200 && strstr(x->req.body, "<Error>") == NULL;
		break;
	case STAGE_VERIFY:
		*ok = rc == CURLE_OK && multipart_etag_ok(x);
		if (!*ok)
			fail(u, x, rc); /* the next PUT replaces it */
		return false;
	default: /* aborted (or not: the next start aborts what is left) */
		*ok = false;
		return false;
	}
	if (!good) {
		fail(u, x, rc);
		if (x->upload_id[0] == '\0') {
			*ok = false;
			return false;
		}
		x->stage = STAGE_ABORT;
	} else if (x->stage == STAGE_INIT || (x->stage == STAGE_PART && x->part < x->n_parts)) {
		x->part += x->stage == STAGE_PART;
		x->stage = STAGE_PART;
	} else {
		x->stage = x->stage == STAGE_PART ? STAGE_COMPLETE : STAGE_VERIFY;
	}
	if (multipart_request(u, x) < 0) {
		*ok = false;
		return false;
	}
	curl_multi_add_handle(u->multi, x->req.easy);
	return true;
}

static void finished(struct lane *u)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(u->multi, &left)) != NULL) {
		struct vigil_s3_req *r = NULL;
		struct xfer *x;
		CURLcode rc;
		bool ok;

		if (m->msg != CURLMSG_DONE)
			continue;
		rc = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		x = (struct xfer *)r; /* req is the first member */
		curl_multi_remove_handle(u->multi, m->easy_handle);
		vigil_s3_done(&x->req);
		if (x->stage != STAGE_ONE) {
			if (multipart_step(u, x, rc, &ok))
				continue;
			if (ok)
				succeeded(u, x);
		} else {
			if (x->it->op == ITEM_DELETE)
				ok = rc == CURLE_OK && x->req.status == 200 &&
				     strstr(x->req.body, "<Error>") == NULL;
			else
				ok = rc == CURLE_OK && vigil_s3_etag_ok(&x->req);
			if (ok)
				succeeded(u, x);
			else
				fail(u, x, rc);
		}
		x->c->busy = false;
		release(x);
		ready(u, x->c, !ok); /* a failed one goes first again: oldest first */
	}
}

static bool idle(const struct lane *u)
{
	for (unsigned i = 0; i < UPLOAD_TRANSFERS; i++)
		if (u->x[i].busy)
			return false;
	return u->ready_head == NULL && rte_ring_empty(u->posts);
}

static void oldest(struct lane *u)
{
	uint64_t t = 0;

	for (struct cam *c = u->all; c != NULL; c = c->all_next)
		for (struct item *it = c->head; it != NULL; it = it->next)
			if (it->op == ITEM_SEGMENT) {
				if (t == 0 || it->at_ns < t)
					t = it->at_ns;
				break;
			}
	__atomic_store_n(&u->st.spool_oldest_ns, t, __ATOMIC_RELAXED);
}

static void *run(void *arg)
{
	struct lane *u = arg;
	uint64_t next_second = 0;
	bool finishing = false, stop = false;

	while (!stop) {
		uint64_t now = vigil_now_ns();
		int running;

		intake(u);
		if (__atomic_load_n(&u->overflow, __ATOMIC_RELAXED))
			scan(u);
		for (unsigned i = 0; i < UPLOAD_TRANSFERS && now >= u->not_before_ns; i++)
			if (!u->x[i].busy && start_one(u, &u->x[i]) == 0)
				break;
		curl_multi_perform(u->multi, &running);
		finished(u);
		if (now >= next_second) {
			journal_write(u);
			oldest(u);
			next_second = now + 1000000000u;
		}
		pthread_mutex_lock(&u->up->lock);
		stop = u->up->stop;
		if (u->up->finishing && !finishing) {
			finishing = true;
			pthread_mutex_unlock(&u->up->lock);
			intake(u);
			for (struct cam *c = u->all; c != NULL; c = c->all_next)
				queue_playlist(u, c);
			continue;
		}
		if (finishing && !u->finished && idle(u) && journal_write(u) == 0) {
			oldest(u);
			u->finished = true;
			pthread_cond_broadcast(&u->up->cond);
		}
		pthread_mutex_unlock(&u->up->lock);
		curl_multi_poll(u->multi, NULL, 0, 50, NULL);
	}
	journal_write(u);
	return NULL;
}

/* ---- the start: the bucket checked, what this node left open ---------- */

/* The bucket, at start: a refusal that waiting cannot cure (credentials,
 * a missing bucket, another 4xx) stops vigild; a store out of reach or
 * failing (5xx) does not: the spool holds what is recorded meanwhile.
 * 0, 1 (out of reach: said in err, go on) or -EACCES. */
static int check_bucket(struct lane *u, char *err, size_t errlen)
{
	struct vigil_s3_req *r = &u->side;
	CURLcode rc;

	if (vigil_s3_prepare(&u->up->s3, r, "HEAD", "", NULL, (const uint8_t *)"", 0, NULL, false) < 0) {
		snprintf(err, errlen, "out of memory");
		return -EACCES;
	}
	rc = vigil_s3_perform(r);
	if (rc != CURLE_OK || r->status >= 500) {
		snprintf(err, errlen, "%s: %s", u->up->conf.endpoint,
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "the store fails (5xx)");
		return 1;
	}
	if (r->status == 200)
		return 0;
	if (r->status == 403 || r->status == 401)
		snprintf(err, errlen, "%s: bucket %s: access refused (HTTP %ld): check the credentials",
			 u->up->conf.endpoint, u->up->conf.bucket, r->status);
	else if (r->status == 404)
		snprintf(err, errlen, "%s: bucket %s does not exist (HTTP 404)", u->up->conf.endpoint,
			 u->up->conf.bucket);
	else
		snprintf(err, errlen, "%s: bucket %s: HTTP %ld", u->up->conf.endpoint, u->up->conf.bucket,
			 r->status);
	return -EACCES;
}

/* Multipart uploads of this node's objects left open (a crash mid-way):
 * aborted, so no part lingers; the segment itself is still in the spool. */
/* An open multipart upload of this node, for a camera of this lane, and
 * not one of its own in flight. */
static bool ours(const struct lane *u, const char *key, const char *id)
{
	const struct vigil_storage_config *conf = &u->up->conf;
	char camera[VIGIL_CAMERA_NAME_MAX + 1];
	const char *c = key + strlen(conf->prefix), *slash;

	if (strncmp(key, conf->prefix, strlen(conf->prefix)) != 0 || (slash = strchr(c, '/')) == NULL ||
	    (size_t)(slash - c) >= sizeof(camera) ||
	    strncmp(slash + 1, conf->node, strlen(conf->node)) != 0 || slash[1 + strlen(conf->node)] != '/')
		return false;
	memcpy(camera, c, (size_t)(slash - c));
	camera[slash - c] = '\0';
	if (!vigil_camera_name_ok(camera) || lane_of(u->up, camera) != u->index)
		return false;
	for (unsigned i = 0; i < UPLOAD_TRANSFERS; i++)
		if (u->x[i].busy && u->x[i].stage != STAGE_ONE && strcmp(u->x[i].upload_id, id) == 0)
			return false;
	return true;
}

static void abort_open_uploads(struct lane *u)
{
	struct vigil_s3_req *r = &u->side;
	char key[1100], id[512], q[1700];
	size_t at = 0;
	unsigned aborted = 0;
	struct {
		char key[1100], id[512];
	} *v = NULL;
	size_t n = 0;

	if (vigil_s3_prepare(&u->up->s3, r, "GET", "", "uploads=", (const uint8_t *)"", 0, NULL, false) < 0 ||
	    vigil_s3_perform(r) != CURLE_OK || r->status != 200)
		return;
	u->abort_pending = false;
	while (vigil_s3_xml(r, "Key", &at, key, sizeof(key)) &&
	       vigil_s3_xml(r, "UploadId", &at, id, sizeof(id))) {
		void *w;

		if (!ours(u, key, id) || (w = realloc(v, (n + 1) * sizeof(*v))) == NULL)
			continue;
		v = w;
		snprintf(v[n].key, sizeof(v[n].key), "%s", key);
		snprintf(v[n].id, sizeof(v[n].id), "%s", id);
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(q, sizeof(q), "uploadId=%s", v[i].id);
		if (vigil_s3_prepare(&u->up->s3, r, "DELETE", v[i].key, q, (const uint8_t *)"", 0, NULL,
				     false) == 0 &&
		    vigil_s3_perform(r) == CURLE_OK && r->status == 204)
			aborted++;
	}
	if (n > 0)
		vigil_log(VIGIL_LOG_NOTICE,
			  "vigild: storage: %u of %zu multipart upload(s) this node left open aborted\n",
			  aborted, n);
	free(v);
}

static int lane_init(struct vigil_uploader *up, struct lane *l, unsigned index)
{
	char name[32];
	ssize_t size = rte_ring_get_memsize_elem(sizeof(struct post), UPLOAD_POSTS);

	l->up = up;
	l->index = index;
	snprintf(name, sizeof(name), "vigil_uploads%u", index);
	l->posts = size > 0 ? aligned_alloc(64, (size_t)size) : NULL;
	l->multi = curl_multi_init();
	l->side.easy = curl_easy_init();
	if (l->posts == NULL || l->multi == NULL || l->side.easy == NULL ||
	    rte_ring_init(l->posts, name, UPLOAD_POSTS, RING_F_SC_DEQ) < 0)
		return -ENOMEM;
	curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)UPLOAD_TRANSFERS);
	for (unsigned i = 0; i < UPLOAD_TRANSFERS; i++)
		if ((l->x[i].req.easy = curl_easy_init()) == NULL)
			return -ENOMEM;
	return 0;
}

static void lane_fini(struct lane *l)
{
	for (unsigned i = 0; i < UPLOAD_TRANSFERS; i++) {
		if (l->x[i].busy) {
			curl_multi_remove_handle(l->multi, l->x[i].req.easy);
			vigil_s3_done(&l->x[i].req);
			release(&l->x[i]);
		}
		if (l->x[i].req.easy != NULL)
			curl_easy_cleanup(l->x[i].req.easy);
	}
	if (l->side.easy != NULL)
		curl_easy_cleanup(l->side.easy);
	if (l->multi != NULL)
		curl_multi_cleanup(l->multi);
	for (struct cam *c = l->all, *next; c != NULL; c = next) {
		next = c->all_next;
		while (c->head != NULL) {
			struct item *it = c->head;

			c->head = it->next;
			free(it);
		}
		free(c);
	}
	for (size_t i = 0; i < l->n_unlinks; i++)
		free(l->unlinks[i]);
	free(l->unlinks);
	free(l->posts);
}

/* StateDir/uploads.K of as many lanes as there were: each lane's file
 * written anew, then those of lanes gone removed. */
static int journal_settle(struct vigil_uploader *up, unsigned files, char *err, size_t errlen)
{
	char path[4200];

	for (unsigned k = 0; k < up->n_lanes; k++) {
		up->lanes[k].journal_dirty = true;
		if (journal_write(&up->lanes[k]) < 0) {
			snprintf(err, errlen, "%s: cannot write " UPLOAD_JOURNAL ".%u", up->state_dir, k);
			return -EIO;
		}
	}
	for (unsigned k = up->n_lanes; k < files; k++) {
		snprintf(path, sizeof(path), "%s/" UPLOAD_JOURNAL ".%u", up->state_dir, k);
		if (unlink(path) < 0 && errno != ENOENT)
			vigil_log(VIGIL_LOG_WARNING, "vigild: storage: cannot remove %s: %s\n", path,
				  strerror(errno));
	}
	return 0;
}

struct vigil_uploader *vigil_uploader_create(const struct vigil_storage_config *conf, const char *record_dir,
					     const char *state_dir, unsigned lanes, const char *userpwd,
					     char *err, size_t errlen)
{
	struct vigil_uploader *u = calloc(1, sizeof(*u));
	unsigned files;
	int ret;

	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	u->conf = *conf;
	snprintf(u->record_dir, sizeof(u->record_dir), "%s", record_dir);
	snprintf(u->state_dir, sizeof(u->state_dir), "%s", state_dir);
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	u->n_lanes = lanes > 0 ? lanes : 1;
	u->lanes = calloc(u->n_lanes, sizeof(*u->lanes));
	u->userpwd = sodium_malloc(strlen(userpwd) + 1);
	if (u->lanes == NULL || u->userpwd == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned k = 0; k < u->n_lanes; k++)
		if (lane_init(u, &u->lanes[k], k) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	memcpy(u->userpwd, userpwd, strlen(userpwd) + 1);
	u->s3 = (struct vigil_s3){.conf = &u->conf, .userpwd = u->userpwd};
	snprintf(u->s3.sigv4, sizeof(u->s3.sigv4), "aws:amz:%s:s3", conf->region);
	ret = check_bucket(&u->lanes[0], err, errlen);
	if (ret < 0 || journal_read(u, &files, err, errlen) < 0 ||
	    (files > u->n_lanes && journal_settle(u, files, err, errlen) < 0))
		goto fail;
	if (ret == 1)
		vigil_log(VIGIL_LOG_WARNING,
			  "vigild: storage: %s; recording into the spool, uploads retried until the store "
			  "answers\n",
			  err);
	for (unsigned k = 0; k < u->n_lanes; k++) {
		u->lanes[k].abort_pending = true; /* now, or once the store answers */
		if (ret == 0)
			abort_open_uploads(&u->lanes[k]);
	}
	return u;
fail:
	vigil_uploader_free(u);
	return NULL;
}

uint32_t vigil_uploader_uploaded_below(const struct vigil_uploader *u, const char *camera)
{
	const struct cam *c = cam_get(&u->lanes[lane_of(u, camera)], camera, false);

	return c != NULL ? c->below : 0;
}

int vigil_uploader_start(struct vigil_uploader *u)
{
	for (unsigned k = 0; k < u->n_lanes; k++) {
		struct lane *l = &u->lanes[k];
		char name[16];
		int ret;

		scan(l);
		ret = pthread_create(&l->thread, NULL, run, l);
		if (ret != 0)
			return -ret;
		snprintf(name, sizeof(name), "vigil-upload%u", k % 100);
		pthread_setname_np(l->thread, name);
		l->running = true;
	}
	return 0;
}

void vigil_uploader_post(struct vigil_uploader *u, const char *camera, enum vigil_seg_kind kind, uint32_t seq,
			 uint32_t map, uint64_t bytes, uint64_t start_ns, bool removed)
{
	struct lane *l = &u->lanes[lane_of(u, camera)];
	struct post p = {.kind = (uint8_t)kind,
			 .removed = removed,
			 .seq = seq,
			 .map = map,
			 .bytes = bytes,
			 .at_ns = vigil_clock_ns(CLOCK_REALTIME),
			 .start_ns = start_ns};

	snprintf(p.camera, sizeof(p.camera), "%s", camera);
	if (rte_ring_mp_enqueue_elem(l->posts, &p, sizeof(p)) != 0)
		__atomic_store_n(&l->overflow, true, __ATOMIC_RELAXED); /* the spool is read again */
}

bool vigil_uploader_spool_full(const struct vigil_uploader *u)
{
	uint64_t bytes = 0;

	for (unsigned k = 0; k < u->n_lanes; k++)
		bytes += __atomic_load_n(&u->lanes[k].st.spool_bytes, __ATOMIC_RELAXED);
	return bytes >= u->conf.spool_bytes;
}

static bool all_finished(const struct vigil_uploader *u)
{
	for (unsigned k = 0; k < u->n_lanes; k++)
		if (!u->lanes[k].finished)
			return false;
	return true;
}

uint64_t vigil_uploader_finish(struct vigil_uploader *u, unsigned wait_s)
{
	struct vigil_upload_stats st;
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_s;
	pthread_mutex_lock(&u->lock);
	u->finishing = true;
	for (unsigned k = 0; k < u->n_lanes; k++)
		curl_multi_wakeup(u->lanes[k].multi);
	while (!all_finished(u) && pthread_cond_timedwait(&u->cond, &u->lock, &until) == 0)
		;
	pthread_mutex_unlock(&u->lock);
	vigil_uploader_stats(u, &st);
	return st.spool_segments;
}

void vigil_uploader_stats(const struct vigil_uploader *u, struct vigil_upload_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned k = 0; k < u->n_lanes; k++) {
		const struct vigil_upload_stats *st = &u->lanes[k].st;
		uint64_t oldest = __atomic_load_n(&st->spool_oldest_ns, __ATOMIC_RELAXED);
		uint64_t since = __atomic_load_n(&st->failing_since_ns, __ATOMIC_RELAXED);

		out->uploaded_segments += __atomic_load_n(&st->uploaded_segments, __ATOMIC_RELAXED);
		out->uploaded_bytes += __atomic_load_n(&st->uploaded_bytes, __ATOMIC_RELAXED);
		out->uploaded_inits += __atomic_load_n(&st->uploaded_inits, __ATOMIC_RELAXED);
		out->uploaded_playlists += __atomic_load_n(&st->uploaded_playlists, __ATOMIC_RELAXED);
		for (unsigned i = 0; i < VIGIL_UPLOAD_FAILURES; i++)
			out->failures[i] += __atomic_load_n(&st->failures[i], __ATOMIC_RELAXED);
		out->vanished += __atomic_load_n(&st->vanished, __ATOMIC_RELAXED);
		out->spool_bytes += __atomic_load_n(&st->spool_bytes, __ATOMIC_RELAXED);
		out->spool_segments += __atomic_load_n(&st->spool_segments, __ATOMIC_RELAXED);
		if (oldest != 0 && (out->spool_oldest_ns == 0 || oldest < out->spool_oldest_ns))
			out->spool_oldest_ns = oldest;
		if (since != 0 && (out->failing_since_ns == 0 || since < out->failing_since_ns))
			out->failing_since_ns = since;
	}
}

void vigil_uploader_free(struct vigil_uploader *u)
{
	if (u == NULL)
		return;
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	pthread_mutex_unlock(&u->lock);
	for (unsigned k = 0; u->lanes != NULL && k < u->n_lanes; k++)
		if (u->lanes[k].running) {
			curl_multi_wakeup(u->lanes[k].multi);
			pthread_join(u->lanes[k].thread, NULL);
		}
	for (unsigned k = 0; u->lanes != NULL && k < u->n_lanes; k++)
		lane_fini(&u->lanes[k]);
	free(u->lanes);
	if (u->userpwd != NULL)
		sodium_free(u->userpwd); /* wipes */
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}
