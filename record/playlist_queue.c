/* SPDX-License-Identifier: MIT */
/* The playlist thread (playlist_queue.h): a ring of jobs under a mutex,
 * taken in order by one thread. Posts come at the rate segments close (a
 * few thousand a second at most), so a lock is no cost here. */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vigil/limits.h"
#include "vigil/log.h"
#include "playlist_queue.h"

#define PLAYLIST_NICE 10

struct vigil_playlist_queue {
	pthread_mutex_t lock;
	pthread_cond_t posted; /* the thread: a job, or stop */
	pthread_cond_t taken;  /* posters: room in the ring */
	pthread_cond_t idle;   /* vigil_playlist_wait: nothing queued or running */
	struct vigil_playlist_job jobs[VIGIL_PLAYLIST_JOBS];
	unsigned head, n;
	bool busy, stop;
	pthread_t thread;
};

static int job_run(const struct vigil_playlist_job *j)
{
	unsigned target = j->target;

	switch (j->op) {
	case VIGIL_PLAYLIST_APPEND:
		return vigil_playlist_append(j->dir, &j->e, j->new_map, &target, j->event);
	case VIGIL_PLAYLIST_DROP:
		return vigil_playlist_drop(j->dir, j->first_seq, j->target);
	case VIGIL_PLAYLIST_END:
		return vigil_playlist_end(j->dir);
	}
	return -EINVAL;
}

static void job_failed(const struct vigil_playlist_job *j, int err)
{
	struct vigil_playlist_failure *f = malloc(sizeof(*f));

	if (f == NULL) {
		vigil_log(VIGIL_LOG_ERR, "vigil: recorder: %s/" VIGIL_PLAYLIST_NAME ": %s (not counted: no memory)\n",
			  j->dir, strerror(-err));
		return;
	}
	f->arg = j->arg;
	f->err = err;
	f->next = __atomic_load_n(&j->failed->head, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&j->failed->head, &f->next, f, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
}

/* Ends (a clean stop posts one per camera) run END_BATCH at a time: each
 * playlist's end appended, then its fdatasync and its folder's fsync all
 * in flight in an io_uring of the thread's own. One after another, 300
 * cameras' ends held a stop 108-131 ms, 29-61 ms so. A job posted after an
 * end runs once every end before it is durable; the queue is idle only
 * then. Without a ring (io_uring refused) ends run one at a time. */
#define END_BATCH 32

struct ending {
	struct vigil_playlist_job j;
	int fd[2];     /* the playlist, its folder */
	unsigned left; /* of its two syncs, not completed */
	int err;
};

struct endings {
	struct io_uring ring;
	bool ready;
	unsigned n; /* endings in flight, v[0..n) */
	struct ending v[END_BATCH];
};

/* Waits for every ending in flight, then closes their files and reports
 * their failures. If the ring fails, the rest are synced here. */
static void end_reap(struct endings *en)
{
	unsigned left = 0;

	for (unsigned i = 0; i < en->n; i++)
		left += en->v[i].left;
	while (left > 0) {
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait(&en->ring, 1);

		if (ret < 0 && ret != -EINTR) {
			vigil_log(VIGIL_LOG_ERR, "vigil: recorder: playlist ends: io_uring: %s; syncing them one by one\n",
				  strerror(-ret));
			io_uring_queue_exit(&en->ring); /* what it has in flight holds its own file references */
			en->ready = false;
			break;
		}
		while (io_uring_peek_cqe(&en->ring, &cqe) == 0) {
			struct ending *e = io_uring_cqe_get_data(cqe);

			if (cqe->res < 0 && e->err == 0)
				e->err = cqe->res;
			e->left--;
			left--;
			io_uring_cqe_seen(&en->ring, cqe);
		}
	}
	for (unsigned i = 0; i < en->n; i++) {
		struct ending *e = &en->v[i];

		if (e->left > 0 && (fdatasync(e->fd[0]) < 0 || fsync(e->fd[1]) < 0) && e->err == 0)
			e->err = -errno;
		close(e->fd[0]);
		close(e->fd[1]);
		if (e->err < 0)
			job_failed(&e->j, e->err);
	}
	en->n = 0;
}

static void end_start(struct endings *en, const struct vigil_playlist_job *j)
{
	struct ending *e;
	int err;

	if (!en->ready) {
		if ((err = job_run(j)) < 0)
			job_failed(j, err);
		return;
	}
	if (en->n == END_BATCH)
		end_reap(en);
	e = &en->v[en->n];
	if ((err = vigil_playlist_end_open(j->dir, e->fd)) < 0) {
		job_failed(j, err);
		return;
	}
	if (e->fd[0] < 0)
		return; /* no playlist */
	e->j = *j;
	e->left = 2;
	e->err = 0;
	for (int k = 0; k < 2; k++) {
		/* The ring has room for every ending's two: never NULL. */
		struct io_uring_sqe *sqe = io_uring_get_sqe(&en->ring);

		io_uring_prep_fsync(sqe, e->fd[k], k == 0 ? IORING_FSYNC_DATASYNC : 0);
		io_uring_sqe_set_data(sqe, e);
	}
	en->n++;
	(void)io_uring_submit(&en->ring); /* if refused now, end_reap submits them */
}

static void *queue_thread(void *arg)
{
	struct vigil_playlist_queue *q = arg;
	struct endings en = {0}; /* the ring's requests point into it: it lives as long as the thread */

	/* Its work can wait (the queue holds it), the recorders' frames
	 * cannot: when 10,000 cameras' first retention pass comes at once,
	 * seconds of playlist rewrites must not take the recorder's CPU. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), PLAYLIST_NICE);
	en.ready = io_uring_queue_init(2 * END_BATCH, &en.ring, 0) == 0;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct vigil_playlist_job j;
		int err;

		while (q->n == 0 && !q->stop && en.n == 0)
			pthread_cond_wait(&q->posted, &q->lock);
		if (q->n == 0 && en.n == 0)
			break;
		if (q->n == 0 || (en.n > 0 && q->jobs[q->head].op != VIGIL_PLAYLIST_END)) {
			/* Ends in flight and no more to join them. */
			pthread_mutex_unlock(&q->lock);
			end_reap(&en);
		} else {
			j = q->jobs[q->head];
			q->head = (q->head + 1) % VIGIL_PLAYLIST_JOBS;
			q->n--;
			q->busy = true;
			pthread_cond_signal(&q->taken);
			pthread_mutex_unlock(&q->lock);
			if (j.op == VIGIL_PLAYLIST_END)
				end_start(&en, &j);
			else if ((err = job_run(&j)) < 0)
				job_failed(&j, err);
		}
		pthread_mutex_lock(&q->lock);
		q->busy = en.n > 0;
		if (q->n == 0 && !q->busy)
			pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->lock);
	if (en.ready)
		io_uring_queue_exit(&en.ring);
	return NULL;
}

struct vigil_playlist_queue *vigil_playlist_queue_create(void)
{
	struct vigil_playlist_queue *q = calloc(1, sizeof(*q));
	int ret;

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->posted, NULL);
	pthread_cond_init(&q->taken, NULL);
	pthread_cond_init(&q->idle, NULL);
	ret = pthread_create(&q->thread, NULL, queue_thread, q);
	if (ret != 0) {
		free(q);
		errno = ret;
		return NULL;
	}
	pthread_setname_np(q->thread, "vigil-playlist");
	return q;
}

void vigil_playlist_queue_free(struct vigil_playlist_queue *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->posted);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->posted);
	pthread_cond_destroy(&q->taken);
	pthread_cond_destroy(&q->idle);
	free(q);
}

void vigil_playlist_post(struct vigil_playlist_queue *q, const struct vigil_playlist_job *j)
{
	pthread_mutex_lock(&q->lock);
	while (q->n == VIGIL_PLAYLIST_JOBS)
		pthread_cond_wait(&q->taken, &q->lock);
	q->jobs[(q->head + q->n) % VIGIL_PLAYLIST_JOBS] = *j;
	q->n++;
	pthread_cond_signal(&q->posted);
	pthread_mutex_unlock(&q->lock);
}

void vigil_playlist_wait(struct vigil_playlist_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->n > 0 || q->busy)
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

unsigned vigil_playlist_failures(struct vigil_playlist_failed *f, void (*cb)(void *arg, int err))
{
	struct vigil_playlist_failure *l;
	unsigned n = 0;

	if (__atomic_load_n(&f->head, __ATOMIC_RELAXED) == NULL)
		return 0;
	l = __atomic_exchange_n(&f->head, NULL, __ATOMIC_ACQUIRE);
	while (l != NULL) {
		struct vigil_playlist_failure *next = l->next;

		cb(l->arg, l->err);
		free(l);
		l = next;
		n++;
	}
	return n;
}
