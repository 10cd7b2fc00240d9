/* SPDX-License-Identifier: MIT */
/* The playlist thread (playlist_queue.h): a ring of jobs under a mutex,
 * taken in order by one thread. Posts come at the rate segments close (a
 * few thousand a second at most), so a lock is no cost here. */
#include <errno.h>
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

static void *queue_thread(void *arg)
{
	struct vigil_playlist_queue *q = arg;

	/* Its work can wait (the queue holds it), the recorders' frames
	 * cannot: when 10,000 cameras' first retention pass comes at once,
	 * seconds of playlist rewrites must not take the recorder's CPU. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), PLAYLIST_NICE);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct vigil_playlist_job j;
		int err;

		while (q->n == 0 && !q->stop)
			pthread_cond_wait(&q->posted, &q->lock);
		if (q->n == 0)
			break;
		j = q->jobs[q->head];
		q->head = (q->head + 1) % VIGIL_PLAYLIST_JOBS;
		q->n--;
		q->busy = true;
		pthread_cond_signal(&q->taken);
		pthread_mutex_unlock(&q->lock);
		err = job_run(&j);
		if (err < 0)
			job_failed(&j, err);
		pthread_mutex_lock(&q->lock);
		q->busy = false;
		if (q->n == 0)
			pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->lock);
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
