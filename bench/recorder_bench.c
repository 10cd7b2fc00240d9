/* SPDX-License-Identifier: MIT */
/* The recorder at full speed: a fleet of cameras' frames (H.264 access
 * units of the size a camera at the given bitrate sends, a key frame five
 * times the size every 30 frames) muxed into MPEG-TS segments and written
 * through io_uring by the recorder, as fast as it takes them; then, in the
 * same run, a plain writer putting the same number of bytes into as many
 * files with write() in blocks of the same size and fsync() at each file's
 * end. Both in the given directory. The caller compares the first with fio
 * on the same filesystem (bench/run). With several recorder threads, each
 * is fed its own cameras' frames by a thread of its own, as a worker's
 * ring would.
 *
 * usage: recorder_bench DIR [cameras] [seconds of video per camera] [Mbit/s per camera] [recorder threads]
 * Environment: UNSYNCED_MS (MaxUnsyncedSeconds in ms), RETAIN_BYTES
 * (RetainBytes of each camera). Prints one JSON line: throughput and CPU
 * time per gigabyte of each, and how long the recorder's stop took. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "recorder.h"
#include "writer.h"

#define FPS 30
#define GOP 30
#define KEY_WEIGHT 5 /* a key frame is this many P frames */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* An access unit of n bytes: start code, NAL header, bytes no start code
 * can hide in. */
static uint8_t *access_unit(size_t n, uint8_t nal)
{
	uint8_t *p = malloc(n);

	if (p == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(0x11 + i * 7 % 200);
	memcpy(p, (uint8_t[]){0, 0, 0, 1, nal}, 5);
	return p;
}

struct feeder {
	struct vigil_recorder *rec;
	pthread_barrier_t *stopped;
	unsigned *fed; /* feeders done */
	unsigned first, cameras, step, frames;
	const uint8_t *key, *p;
	size_t p_bytes;
};

/* Frame t of each of its cameras, then frame t + 1. */
static void *feed(void *arg)
{
	const struct feeder *fd = arg;

	for (unsigned t = 0; t < fd->frames; t++)
		for (unsigned c = fd->first; c < fd->cameras; c += fd->step) {
			bool k = t % GOP == 0;
			struct vigil_frame f = {.camera = c,
						.flags = k ? VIGIL_FRAME_KEY : 0,
						.rtp_ts = t * (90000 / FPS),
						.arrival_ns = 1};

			vigil_recorder_write(fd->rec, &f, k ? fd->key : fd->p, k ? KEY_WEIGHT * fd->p_bytes : fd->p_bytes);
		}
	/* io_uring requests belong to the thread that submitted them: one
	 * still running when it exits (a rename linked after an fsync) fails
	 * with EFAULT. Live until the recorder has stopped. */
	__atomic_add_fetch(fd->fed, 1, __ATOMIC_RELEASE);
	pthread_barrier_wait(fd->stopped);
	return NULL;
}

/* The plain baseline: bytes into `files` files, block by block, round
 * robin as cameras' data comes, fsync and close at the end of each. The
 * files are emptied, not removed: ext4 skips the inodes of files deleted
 * in the last minutes when it makes new ones, which would slow whatever
 * runs next. */
static int plain_writer(const char *dir, unsigned files, uint64_t bytes, size_t block)
{
	uint8_t *buf = aligned_alloc(4096, block);
	int *fd = calloc(files, sizeof(*fd));
	char path[4200];
	uint64_t done = 0;

	if (buf == NULL || fd == NULL)
		return -ENOMEM;
	memset(buf, 0x47, block);
	for (unsigned i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "%s/plain-%u.ts", dir, i);
		fd[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (fd[i] < 0)
			return -errno;
	}
	for (unsigned i = 0; done < bytes; i = (i + 1) % files) {
		size_t n = bytes - done < block ? (size_t)(bytes - done) : block;

		if (write(fd[i], buf, n) != (ssize_t)n)
			return -errno;
		done += n;
	}
	for (unsigned i = 0; i < files; i++) {
		if (fsync(fd[i]) < 0 || ftruncate(fd[i], 0) < 0)
			return -errno;
		close(fd[i]);
	}
	free(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : NULL;
	unsigned cameras = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
	double seconds = argc > 3 ? atof(argv[3]) : 2, mbit = argc > 4 ? atof(argv[4]) : 4;
	unsigned threads = argc > 5 ? (unsigned)atoi(argv[5]) : 1;
	struct feeder feeders[VIGIL_MAX_RECORDERS];
	pthread_t tid[VIGIL_MAX_RECORDERS];
	pthread_barrier_t stopped;
	unsigned fed = 0;
	size_t p_bytes = (size_t)(mbit * 1e6 / 8 / (FPS + (KEY_WEIGHT - 1) * FPS / GOP));
	unsigned frames = (unsigned)(seconds * FPS);
	struct vigil_config cfg = {0};
	struct vigil_recorder *rec;
	uint8_t *key, *p;
	uint64_t bytes = 0;
	double t0, c0, rec_s, stop_s, rec_cpu, plain_s, plain_cpu;
	int ret;

	if (dir == NULL || cameras == 0 || frames == 0 || p_bytes < 64 || threads == 0 || threads > VIGIL_MAX_RECORDERS) {
		fprintf(stderr, "usage: recorder_bench DIR [cameras] [seconds per camera] [Mbit/s per camera] "
				"[recorder threads, 1-%d]\n",
			VIGIL_MAX_RECORDERS);
		return 2;
	}
	snprintf(cfg.record_dir, sizeof(cfg.record_dir), "%s/rec", dir);
	cfg.n_cameras = cfg.max_cameras = cameras;
	cfg.recorders = threads;
	cfg.segment_seconds = VIGIL_DEFAULT_SEGMENT_SECONDS;
	cfg.max_unsynced_ms = getenv("UNSYNCED_MS") ? (unsigned)atoi(getenv("UNSYNCED_MS")) : VIGIL_DEFAULT_MAX_UNSYNCED_MS;
	cfg.retain_bytes = getenv("RETAIN_BYTES") ? strtoull(getenv("RETAIN_BYTES"), NULL, 10) : 0;
	cfg.cameras = calloc(cameras, sizeof(*cfg.cameras));
	if (cfg.cameras == NULL)
		return 2;
	for (unsigned c = 0; c < cameras; c++) {
		snprintf(cfg.cameras[c].name, sizeof(cfg.cameras[c].name), "cam%u", c);
		cfg.cameras[c].codec = VIGIL_CODEC_H264;
	}
	key = access_unit(KEY_WEIGHT * p_bytes, 0x65);
	p = access_unit(p_bytes, 0x41);

	/* The recorder, fed by a thread per recorder thread. */
	t0 = now_s();
	c0 = cpu_s();
	rec = vigil_recorder_create(&cfg, KEY_WEIGHT * p_bytes, NULL);
	if (rec == NULL) {
		fprintf(stderr, "recorder_bench: %s: %s\n", cfg.record_dir, strerror(errno));
		return 2;
	}
	pthread_barrier_init(&stopped, NULL, threads + 1);
	for (unsigned i = 0; i < threads; i++) {
		/* Camera c is recorder thread c % threads' (vigil_frame_recorder). */
		feeders[i] = (struct feeder){.rec = rec, .stopped = &stopped, .fed = &fed, .first = i,
					     .cameras = cameras, .step = threads, .frames = frames,
					     .key = key, .p = p, .p_bytes = p_bytes};
		if (pthread_create(&tid[i], NULL, feed, &feeders[i]) != 0)
			abort();
	}
	/* Every frame fed: the stop closes what is open; then the feeders go. */
	while (__atomic_load_n(&fed, __ATOMIC_ACQUIRE) < threads)
		usleep(1000);
	stop_s = now_s();
	ret = vigil_recorder_stop(rec);
	stop_s = now_s() - stop_s;
	pthread_barrier_wait(&stopped);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&stopped);
	rec_s = now_s() - t0;
	rec_cpu = cpu_s() - c0;
	for (unsigned c = 0; c < cameras; c++) {
		const struct vigil_recorder_stats *st = vigil_recorder_stats(rec, c);

		bytes += st->bytes_written;
		if (st->write_errors > 0 || st->frames_recorded != frames)
			ret = ret < 0 ? ret : -EIO;
	}
	vigil_recorder_free(rec);
	if (ret < 0) {
		fprintf(stderr, "recorder_bench: the recorder failed: %s\n", strerror(-ret));
		return 1;
	}

	t0 = now_s();
	c0 = cpu_s();
	ret = plain_writer(dir, cameras, bytes, VIGIL_WRITER_BUF_BYTES);
	plain_s = now_s() - t0;
	plain_cpu = cpu_s() - c0;
	if (ret < 0) {
		fprintf(stderr, "recorder_bench: the plain writer failed: %s\n", strerror(-ret));
		return 1;
	}
	printf("{\"cameras\": %u, \"recorder_threads\": %u, \"mbit_s_per_camera\": %.1f, \"video_seconds\": %.1f, \"bytes\": %" PRIu64 ", "
	       "\"block_bytes\": %u, \"recorder_mb_s\": %.1f, \"recorder_cpu_s_per_gb\": %.3f, \"stop_s\": %.2f, "
	       "\"plain_mb_s\": %.1f, \"plain_cpu_s_per_gb\": %.3f}\n",
	       cameras, threads, mbit, seconds, bytes, VIGIL_WRITER_BUF_BYTES, (double)bytes / rec_s / 1e6,
	       rec_cpu / ((double)bytes / 1e9), stop_s, (double)bytes / plain_s / 1e6, plain_cpu / ((double)bytes / 1e9));
	return 0;
}
