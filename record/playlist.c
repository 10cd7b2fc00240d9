/* SPDX-License-Identifier: MIT */
/* HLS media playlists of the recordings, and the repair of a camera's
 * directory after a crash (playlist.h). Entries are small and rare (one
 * per segment), so plain file I/O, on the playlist thread
 * (playlist_queue.c) but for recovery. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "playlist.h"
#include "seal.h"

#define TS_PACKET 188
#define TS_SYNC 0x47
#define MIN_SEGMENT (3 * TS_PACKET) /* PAT, PMT and something: less is discarded */
#define SEALED_CHUNK (VIGIL_SEAL_CHUNK + VIGIL_SEAL_ABYTES)
/* A comment (players ignore it): segments from this number on were recorded
 * after the last recovery. Their entries, with the discontinuity before the
 * first, are appended unsynced: a crash may take them, this line not. */
#define RUN_TAG "# vigil: run from segment "

struct entries {
	struct vigil_playlist_entry *v;
	unsigned n, cap;
	uint32_t run_from; /* the first segment of the run a recovery started (0: none) */
};

static int entries_add(struct entries *l, const struct vigil_playlist_entry *e)
{
	if (l->n == l->cap) {
		unsigned cap = l->cap ? 2 * l->cap : 64;
		void *v = realloc(l->v, cap * sizeof(*l->v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *e;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	uint32_t x = ((const struct vigil_playlist_entry *)a)->seq, y = ((const struct vigil_playlist_entry *)b)->seq;

	return x < y ? -1 : x > y;
}

/* Version 7 for fMP4 segments (EXT-X-MAP with media segments). */
static void put_header(FILE *f, unsigned target, const struct vigil_playlist_entry *first, bool event)
{
	fprintf(f, "#EXTM3U\n#EXT-X-VERSION:%d\n%s#EXT-X-TARGETDURATION:%u\n#EXT-X-MEDIA-SEQUENCE:%" PRIu32 "\n",
		first->kind == VIGIL_SEG_M4S ? 7 : 3, event ? "#EXT-X-PLAYLIST-TYPE:EVENT\n" : "", target,
		first->seq);
}

static void put_entry(FILE *f, const struct vigil_playlist_entry *e, bool new_map)
{
	char when[64];

	if (e->discontinuity)
		fputs("#EXT-X-DISCONTINUITY\n", f);
	if (e->kind == VIGIL_SEG_M4S && new_map)
		fprintf(f, "#EXT-X-MAP:URI=\"init-%08" PRIu32 ".mp4\"\n", e->map);
	if (e->start_ns != 0) {
		vigil_playlist_time_fmt(when, sizeof(when), e->start_ns);
		fprintf(f, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
	}
	if (e->bytes != 0)
		fprintf(f, VIGIL_PLAYLIST_BYTES_TAG "%" PRIu64 "\n", e->bytes);
	fprintf(f, "#EXTINF:%.3f,\n%08" PRIu32 "%s\n", e->seconds, e->seq, vigil_seg_suffix[e->kind]);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int vigil_sync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return fsync_dir(".");
	if (slash == path)
		return fsync_dir("/");
	if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	return fsync_dir(dir);
}

/* The whole playlist, through a temporary file: readers see the old or the
 * new one, never half of either. Durable (its data synced before the
 * rename) only when recovery rebuilds it: retention rewrites it at every
 * pass, and a synchronous fdatasync each time held the recorder thread of
 * 10,000 cameras for 45% of its time (frames dropped as ring_full). Like
 * the appends, those rewrites need not be durable: a crash rebuilds the
 * playlist from the segments, and vigil_playlist_end syncs the file and
 * its name at a clean stop. */
static int write_playlist(const char *dir, const struct entries *l, unsigned target, bool event, bool durable)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 32];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/" VIGIL_PLAYLIST_NAME, dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (l->n == 0)
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	f = fopen(tmp, "we");
	if (f == NULL)
		return -errno;
	put_header(f, target, &l->v[0], event);
	if (l->run_from != 0)
		fprintf(f, RUN_TAG "%08" PRIu32 "\n", l->run_from);
	for (unsigned i = 0; i < l->n; i++)
		put_entry(f, &l->v[i], i == 0 || l->v[i].map != l->v[i - 1].map);
	if (fflush(f) != 0 || (durable && fdatasync(fileno(f)) < 0))
		ret = -errno;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

/* The complete entries of an existing playlist (a line cut by a crash is
 * not one) and its target duration. */
static int read_playlist(const char *dir, struct entries *l, unsigned *target)
{
	char path[PATH_MAX + 16], *line = NULL;
	struct vigil_playlist_reader r = {0};
	struct vigil_playlist_entry e;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/" VIGIL_PLAYLIST_NAME, dir);
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			break;
		line[n - 1] = '\0';
		if (strncmp(line, RUN_TAG, sizeof(RUN_TAG) - 1) == 0)
			l->run_from = (uint32_t)strtoul(line + sizeof(RUN_TAG) - 1, NULL, 10);
		else if (vigil_playlist_line(&r, line, &e) && (ret = entries_add(l, &e)) < 0)
			break;
	}
	*target = r.target != 0 ? r.target : *target;
	free(line);
	fclose(f);
	return ret;
}

/* A segment the playlist does not know (it was being written, or listed,
 * at the crash): its duration from its timestamps, its start from when its
 * file was made (its first frame's arrival, to the file's open). Its last
 * write is recovery's own cut of it, however long after the crash: less
 * its duration, that is its start only on a filesystem that keeps no birth
 * time (a start that late once put a killed node's last segment after
 * what another node recorded of the camera since). It continues the one
 * before it, unless one is missing. */
static struct vigil_playlist_entry probe(const char *dir, const struct vigil_playlist_entry *found, double nominal)
{
	struct vigil_playlist_entry e = *found;
	char path[PATH_MAX + 16];
	AVFormatContext *ic = NULL;
	struct statx st;

	e.seconds = nominal;
	snprintf(path, sizeof(path), "%s/%08" PRIu32 "%s", dir, e.seq, vigil_seg_suffix[e.kind]);
	/* Only a TS segment reads alone: the others are taken to be of the
	 * nominal length. */
	if (e.kind == VIGIL_SEG_TS && avformat_open_input(&ic, path, NULL, NULL) == 0) {
		if (avformat_find_stream_info(ic, NULL) >= 0 && ic->duration != AV_NOPTS_VALUE && ic->duration > 0)
			e.seconds = (double)ic->duration / AV_TIME_BASE;
		avformat_close_input(&ic);
	}
	if (statx(AT_FDCWD, path, 0, STATX_BTIME | STATX_MTIME | STATX_SIZE, &st) == 0) {
		uint64_t mtime = (uint64_t)st.stx_mtime.tv_sec * 1000000000u + st.stx_mtime.tv_nsec;
		uint64_t btime = (uint64_t)st.stx_btime.tv_sec * 1000000000u + st.stx_btime.tv_nsec;
		uint64_t len = (uint64_t)(e.seconds * 1e9);

		e.start_ns = (st.stx_mask & STATX_BTIME) && btime != 0 && btime <= mtime ? btime
			     : mtime > len					   ? mtime - len
										   : 0;
		e.bytes = (uint64_t)st.stx_size;
	}
	return e;
}

/* Where the data of a file that ends in zeros ends: a crash can leave
 * blocks that were allocated but never written. */
static int data_end(int fd, off_t size, off_t *end)
{
	uint8_t buf[4096];

	while (size > 0) {
		size_t n = size < (off_t)sizeof(buf) ? (size_t)size : sizeof(buf);

		if (pread(fd, buf, n, size - (off_t)n) != (ssize_t)n)
			return -EIO;
		while (n > 0 && buf[n - 1] == 0) {
			n--;
			size--;
		}
		if (n > 0)
			break;
	}
	*end = size;
	return 0;
}

/* Where the last PES packet (a frame, most likely cut short) begins among
 * the first `end` bytes of whole TS packets: PAT, SDT and libavformat's
 * PMT PID aside, the last packet with payload_unit_start_indicator. */
static int last_pes_start(int fd, off_t end, off_t *start)
{
	uint8_t p[4];

	for (off_t off = end - TS_PACKET; off >= 0; off -= TS_PACKET) {
		unsigned pid;

		if (pread(fd, p, sizeof(p), off) != (ssize_t)sizeof(p))
			return -EIO;
		pid = (unsigned)(p[1] & 0x1f) << 8 | p[2];
		if (p[0] == TS_SYNC && (p[1] & 0x40) && pid != 0 && pid != 0x11 && pid != 0x1000) {
			*start = off;
			return 0;
		}
	}
	*start = 0;
	return 0;
}

/* Where the last whole fragment (moof then mdat) of an fMP4 segment ends,
 * among its first `end` bytes: its top-level boxes, read in turn. */
static int last_fragment_end(int fd, off_t end, off_t *keep)
{
	off_t off = 0;

	*keep = 0;
	while (off + 8 <= end) {
		uint8_t h[16];
		uint64_t size;

		if (pread(fd, h, sizeof(h), off) < 8)
			return -EIO;
		size = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3];
		if (size == 1) /* 64-bit size after the type */
			size = (uint64_t)h[8] << 56 | (uint64_t)h[9] << 48 | (uint64_t)h[10] << 40 |
			       (uint64_t)h[11] << 32 | (uint64_t)h[12] << 24 | (uint64_t)h[13] << 16 |
			       (uint64_t)h[14] << 8 | h[15];
		if (size < 8 || size > (uint64_t)(end - off))
			break; /* cut short here */
		off += (off_t)size;
		if (memcmp(h + 4, "mdat", 4) == 0)
			*keep = off;
	}
	return 0;
}

/* A .partial left by a crash: keep its whole TS packets before the zeros
 * it may end in, up to the last one that starts with a sync byte, less the
 * last frame, which the crash most likely cut (a decoder would say so); of
 * a sealed one, its whole chunks; of an fMP4 one, its whole fragments. */
static int recover_partial(const char *dir, uint32_t seq, enum vigil_seg_kind kind, bool *kept)
{
	char partial[PATH_MAX + 32], final[PATH_MAX + 16];
	struct stat st;
	off_t keep;
	int fd, ret = 0;

	snprintf(final, sizeof(final), "%s/%08" PRIu32 "%s", dir, seq, vigil_seg_suffix[kind]);
	snprintf(partial, sizeof(partial), "%s.partial", final);
	fd = open(partial, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	ret = data_end(fd, st.st_size, &keep);
	if (ret < 0)
		goto out;
	if (kind == VIGIL_SEG_M4S) {
		ret = last_fragment_end(fd, keep, &keep);
		if (ret < 0)
			goto out;
		*kept = keep > 0;
		goto cut;
	}
	if (kind == VIGIL_SEG_SEALED) {
		uint8_t magic[VIGIL_SEAL_MAGIC_BYTES];
		bool v2 = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
			  memcmp(magic, VIGIL_SEAL_MAGIC, sizeof(magic)) == 0;
		off_t hdr = v2 ? VIGIL_SEAL_HEADER_BYTES : VIGIL_SEAL1_HEADER_BYTES;

		keep = keep < hdr ? 0 : hdr + (keep - hdr) / SEALED_CHUNK * SEALED_CHUNK;
		/* A chained one is kept with its header alone: the segment
		 * after it names that header, which shows it is this one, cut
		 * before its first chunk reached the disk. */
		*kept = keep > 0 && (v2 || keep > hdr);
		goto cut;
	}
	keep -= keep % TS_PACKET;
	for (; keep >= TS_PACKET; keep -= TS_PACKET) {
		uint8_t sync = 0;

		if (pread(fd, &sync, 1, keep - TS_PACKET) != 1) {
			ret = -EIO;
			goto out;
		}
		if (sync == TS_SYNC)
			break;
	}
	ret = last_pes_start(fd, keep, &keep);
	if (ret < 0)
		goto out;
	*kept = keep >= MIN_SEGMENT;
cut:
	if (!*kept) {
		ret = unlink(partial) < 0 ? -errno : 0;
		goto out;
	}
	if (ftruncate(fd, keep) < 0 || fdatasync(fd) < 0 || rename(partial, final) < 0)
		ret = -errno;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int vigil_playlist_recover(const char *dir, unsigned min_target, bool event, uint32_t remote_below,
			   struct vigil_recovery *out, char *err, size_t errlen)
{
	struct entries listed = {0}, all = {0};
	uint32_t inits[1024];
	unsigned n_inits = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->target = min_target;
	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	/* The segments, .partial ones made whole first. */
	while ((de = readdir(d)) != NULL) {
		enum vigil_seg_kind kind;
		uint32_t seq;
		bool kept = true;

		if (vigil_init_name(de->d_name, &seq)) {
			if (n_inits < sizeof(inits) / sizeof(inits[0]))
				inits[n_inits++] = seq;
			continue;
		} else if (vigil_segment_file(de->d_name, true, &seq, &kind)) {
			ret = recover_partial(dir, seq, kind, &kept);
			if (ret < 0) {
				snprintf(err, errlen, "%s/%s: cannot recover: %s", dir, de->d_name, strerror(-ret));
				goto out;
			}
			out->recovered += kept;
			out->discarded += !kept;
		} else if (!vigil_segment_file(de->d_name, false, &seq, &kind)) {
			continue;
		}
		if (seq >= out->next_seq)
			out->next_seq = seq + 1;
		if (kept && (ret = entries_add(&all, &(struct vigil_playlist_entry){.seq = seq, .kind = kind})) < 0)
			goto out;
	}
	if (out->recovered + out->discarded > 0 && (ret = fsync_dir(dir)) < 0) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(-ret));
		goto out;
	}
	ret = read_playlist(dir, &listed, &out->target);
	if (ret < 0) {
		snprintf(err, errlen, "%s/" VIGIL_PLAYLIST_NAME ": %s", dir, strerror(-ret));
		goto out;
	}
	/* What the playlist lists and still exists, then what it misses. */
	unsigned n_all = 0;

	for (unsigned i = 0; i < all.n; i++) {
		uint32_t seq = all.v[i].seq;
		bool found = false;

		for (unsigned k = 0; k < listed.n && !found; k++)
			if (listed.v[k].seq == seq) {
				all.v[i] = listed.v[k];
				found = true;
			}
		if (!found) {
			char name[32];
			struct stat sb;

			snprintf(name, sizeof(name), "%08" PRIu32 "%s", seq, vigil_seg_suffix[all.v[i].kind]);
			if (fstatat(dirfd(d), name, &sb, 0) == 0 && sb.st_size == 0) {
				/* Retention's, emptied to be reused by the next
				 * segment when the power went (vigil_wfile_open). */
				if (unlinkat(dirfd(d), name, 0) < 0 && errno != ENOENT) {
					ret = -errno;
					snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(errno));
					goto out;
				}
				continue;
			}
			/* Its init segment: the newest one made before it. */
			for (unsigned k = 0; k < n_inits; k++)
				if (inits[k] <= seq && (all.v[i].map == 0 || inits[k] > all.v[i].map))
					all.v[i].map = inits[k];
			all.v[i] = probe(dir, &all.v[i], min_target / 2.0);
		}
		all.v[n_all++] = all.v[i];
	}
	all.n = n_all;
	/* Listed, not on disk, in the object store: kept. */
	for (unsigned k = 0; k < listed.n; k++) {
		bool found = false;

		if (listed.v[k].seq >= remote_below)
			continue;
		for (unsigned i = 0; i < all.n && !found; i++)
			found = all.v[i].seq == listed.v[k].seq;
		if (!found && (ret = entries_add(&all, &listed.v[k])) < 0)
			goto out;
	}
	if (remote_below > out->next_seq)
		out->next_seq = remote_below;
	if (all.n > 1)
		qsort(all.v, all.n, sizeof(*all.v), cmp_entry);
	for (unsigned i = 0; i < all.n; i++) {
		if (i > 0 && all.v[i].seq != all.v[i - 1].seq + 1)
			all.v[i].discontinuity = true; /* a segment in between was lost */
		if (i > 0 && all.v[i - 1].seq < listed.run_from && all.v[i].seq >= listed.run_from)
			all.v[i].discontinuity = true; /* the first of the last run */
		if (i == 0)
			all.v[i].discontinuity = false;
		out->target = vigil_playlist_target(out->target, all.v[i].seconds);
	}
	all.run_from = out->next_seq;
	ret = write_playlist(dir, &all, out->target, event, true);
	if (ret < 0)
		snprintf(err, errlen, "%s/" VIGIL_PLAYLIST_NAME ": %s", dir, strerror(-ret));
	out->entries = all.n;
	out->list = all.v;
	all.v = NULL;
out:
	closedir(d);
	free(listed.v);
	free(all.v);
	return ret;
}

int vigil_playlist_append(const char *dir, const struct vigil_playlist_entry *e, bool new_map, unsigned *target,
			  bool event)
{
	char path[PATH_MAX + 16];
	struct entries l = {0};
	FILE *f;
	bool fresh;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/" VIGIL_PLAYLIST_NAME, dir);
	if (vigil_playlist_target(*target, e->seconds) > *target && access(path, F_OK) == 0) {
		/* Rare: a long GOP. The header changes, so the whole file. */
		unsigned old = *target;

		ret = read_playlist(dir, &l, &old);
		*target = vigil_playlist_target(*target, e->seconds);
		if (ret == 0)
			ret = entries_add(&l, e);
		if (ret == 0)
			ret = write_playlist(dir, &l, *target, event, false);
		free(l.v);
		return ret;
	}
	*target = vigil_playlist_target(*target, e->seconds);
	f = fopen(path, "ae");
	if (f == NULL)
		return -errno;
	fresh = ftell(f) == 0;
	if (fresh)
		put_header(f, *target, e, event);
	put_entry(f, e, new_map || fresh);
	if (fclose(f) != 0)
		ret = -errno;
	return ret;
}

int vigil_playlist_read(const char *dir, struct vigil_playlist_entry **list, unsigned *n)
{
	struct entries l = {0};
	unsigned target = 0;
	int ret = read_playlist(dir, &l, &target);

	if (ret < 0) {
		free(l.v);
		return ret;
	}
	*list = l.v;
	*n = l.n;
	return 0;
}

int vigil_playlist_drop(const char *dir, uint32_t first_seq, unsigned target)
{
	struct entries l = {0};
	unsigned keep = 0, old = target;
	int ret = read_playlist(dir, &l, &old);

	for (unsigned i = 0; ret == 0 && i < l.n; i++)
		if (l.v[i].seq >= first_seq)
			l.v[keep++] = l.v[i];
	if (keep > 0)
		l.v[0].discontinuity = false;
	l.n = keep;
	if (ret == 0)
		ret = write_playlist(dir, &l, target, false, false);
	free(l.v);
	return ret;
}

/* Appends are not synced (a crash rebuilds the playlist from the segments);
 * the last one is, and the playlist's name: after a clean stop nothing
 * rebuilds it, the camera may be gone from the configuration. */
int vigil_playlist_end_open(const char *dir, int fds[2])
{
	static const char endlist[] = "#EXT-X-ENDLIST\n";
	char path[PATH_MAX + 16];
	ssize_t n;
	int ret = 0;

	fds[0] = fds[1] = -1;
	snprintf(path, sizeof(path), "%s/" VIGIL_PLAYLIST_NAME, dir);
	if (access(path, F_OK) != 0)
		return 0;
	fds[0] = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fds[0] < 0)
		return -errno;
	n = write(fds[0], endlist, sizeof(endlist) - 1);
	if (n != (ssize_t)sizeof(endlist) - 1)
		ret = n < 0 ? -errno : -ENOSPC; /* short: the disk is full */
	else if ((fds[1] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		ret = -errno;
	if (ret < 0) {
		close(fds[0]);
		fds[0] = -1;
	}
	return ret;
}

int vigil_playlist_end(const char *dir)
{
	int fds[2], ret = vigil_playlist_end_open(dir, fds);

	if (ret < 0 || fds[0] < 0)
		return ret;
	if (fdatasync(fds[0]) < 0)
		ret = -errno;
	if (fsync(fds[1]) < 0 && ret == 0)
		ret = -errno;
	close(fds[0]);
	close(fds[1]);
	return ret;
}
