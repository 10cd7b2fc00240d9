/* SPDX-License-Identifier: MIT */
/* EventHook (webhook.h): a FIFO of event texts under a mutex, a thread
 * that POSTs the oldest few as one JSON array with libcurl and takes them
 * off only when the receiver answered 2xx, backing off while it does not. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "vigil/log.h"
#include "vigil/clock.h"
#include "vigil/secret.h"
#include "webhook.h"

struct vigil_webhook {
	char *url;
	uint8_t *key; /* sodium_malloc'd: locked, wiped at free */
	size_t keylen;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	char **queue; /* ring of queue_max texts, the oldest at head */
	size_t *lens;
	unsigned queue_max, head, count;
	bool stop;
	uint64_t stop_by_ns; /* at stop: give up what is left after this */
	struct vigil_webhook_stats st;
	pthread_t thread;
};

int vigil_webhook_read_secret(const char *path, uint8_t *key, size_t *keylen, char *msg, size_t msglen)
{
	char buf[VIGIL_WEBHOOK_KEY_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(msg, msglen, "EventHookSecretFile %s: %s", path, strerror(errno));
		rc = -errno;
		goto out;
	}
	if (!vigil_secret_mode_ok(path, st.st_mode)) {
		snprintf(msg, msglen,
			 "EventHookSecretFile %s: mode %04o lets group or others at the key; chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		rc = -EPERM;
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(msg, msglen,
			 "EventHookSecretFile %s: owned by uid %u, not by vigild's user (%u) or root", path,
			 (unsigned)st.st_uid, (unsigned)geteuid());
		rc = -EPERM;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		snprintf(msg, msglen, "EventHookSecretFile %s: %s", path, strerror(errno));
		rc = -errno;
		goto out;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	if (len < VIGIL_WEBHOOK_KEY_MIN || len > VIGIL_WEBHOOK_KEY_MAX) {
		snprintf(msg, msglen,
			 "EventHookSecretFile %s: the key (its first line) must be %d to %d bytes, not %zu",
			 path, VIGIL_WEBHOOK_KEY_MIN, VIGIL_WEBHOOK_KEY_MAX, len);
		rc = -EINVAL;
		goto out;
	}
	memcpy(key, buf, len);
	*keylen = len;
out:
	sodium_memzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}

void vigil_webhook_sign(const uint8_t *key, size_t keylen, const char *body, size_t len, char hex[72])
{
	crypto_auth_hmacsha256_state state;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&state, key, keylen);
	crypto_auth_hmacsha256_update(&state, (const uint8_t *)body, len);
	crypto_auth_hmacsha256_final(&state, mac);
	memcpy(hex, "sha256=", 7);
	sodium_bin2hex(hex + 7, 65, mac, sizeof(mac));
	sodium_memzero(&state, sizeof(state));
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* One POST of body; 0 when the receiver said 2xx, else why not in err. */
static int post(struct vigil_webhook *h, CURL *curl, const char *body, size_t len, char *err, size_t errlen)
{
	char sig[72], header[96];
	struct curl_slist *headers = NULL;
	long status = 0;
	CURLcode rc;

	vigil_webhook_sign(h->key, h->keylen, body, len, sig);
	snprintf(header, sizeof(header), "X-Vigil-Signature: %s", sig);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, header);
	curl_easy_setopt(curl, CURLOPT_URL, h->url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)VIGIL_WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK)
		snprintf(err, errlen, "%s", curl_easy_strerror(rc));
	else if (status < 200 || status >= 300)
		snprintf(err, errlen, "HTTP status %ld", status);
	return rc == CURLE_OK && status >= 200 && status < 300 ? 0 : -EIO;
}

/* The oldest (up to a batch) as one JSON array: "[a,b,...]". */
static char *batch(struct vigil_webhook *h, unsigned *n, size_t *len)
{
	size_t total = 2;
	char *body, *p;

	pthread_mutex_lock(&h->lock);
	*n = h->count < VIGIL_WEBHOOK_BATCH ? h->count : VIGIL_WEBHOOK_BATCH;
	for (unsigned i = 0; i < *n; i++)
		total += h->lens[(h->head + i) % h->queue_max] + 1;
	body = malloc(total + 1);
	p = body;
	for (unsigned i = 0; body != NULL && i < *n; i++) {
		unsigned at = (h->head + i) % h->queue_max;

		*p++ = i ? ',' : '[';
		memcpy(p, h->queue[at], h->lens[at]);
		p += h->lens[at];
	}
	pthread_mutex_unlock(&h->lock);
	if (body == NULL)
		return NULL;
	*p++ = ']';
	*p = '\0';
	*len = (size_t)(p - body);
	return body;
}

/* The first n are delivered: off the queue. Only this thread removes. */
static void delivered(struct vigil_webhook *h, unsigned n)
{
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < n; i++) {
		free(h->queue[h->head]);
		h->queue[h->head] = NULL;
		h->head = (h->head + 1) % h->queue_max;
	}
	h->count -= n;
	h->st.delivered += n;
	pthread_mutex_unlock(&h->lock);
}

/* Sleeps ms unless stopping; true while the thread should go on. */
static bool wait_ms(struct vigil_webhook *h, unsigned ms)
{
	struct timespec until;
	bool go_on, stopping;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&h->lock);
	while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT)
		;
	stopping = h->stop;
	go_on = !stopping || (h->count > 0 && vigil_now_ns() < h->stop_by_ns);
	pthread_mutex_unlock(&h->lock);
	if (stopping && go_on)
		usleep(100000); /* stopping: a few more tries, not a busy loop */
	return go_on;
}

static void *run(void *arg)
{
	struct vigil_webhook *h = arg;
	unsigned backoff = VIGIL_WEBHOOK_BACKOFF_MS;
	CURL *curl = curl_easy_init();
	char err[256];

	for (;;) {
		unsigned n;
		size_t len;
		char *body;

		pthread_mutex_lock(&h->lock);
		while (h->count == 0 && !h->stop)
			pthread_cond_wait(&h->wake, &h->lock);
		if (h->stop && (h->count == 0 || vigil_now_ns() >= h->stop_by_ns)) {
			pthread_mutex_unlock(&h->lock);
			break;
		}
		pthread_mutex_unlock(&h->lock);
		body = curl != NULL ? batch(h, &n, &len) : NULL;
		snprintf(err, sizeof(err), "out of memory");
		if (body != NULL && post(h, curl, body, len, err, sizeof(err)) == 0) {
			delivered(h, n);
			if (backoff != VIGIL_WEBHOOK_BACKOFF_MS)
				vigil_log(VIGIL_LOG_NOTICE, "vigild: EventHook: %s takes events again\n", h->url);
			backoff = VIGIL_WEBHOOK_BACKOFF_MS;
		} else {
			/* Logged once per outage: the retries are counted. */
			if (backoff == VIGIL_WEBHOOK_BACKOFF_MS)
				vigil_log(VIGIL_LOG_ERR,
					"vigild: EventHook: POST to %s failed: %s; retrying, events queue up "
					"to EventQueue\n",
					h->url, err);
			pthread_mutex_lock(&h->lock);
			h->st.failures++;
			pthread_mutex_unlock(&h->lock);
			if (!wait_ms(h, backoff)) {
				free(body);
				break;
			}
			backoff = backoff * 2 < VIGIL_WEBHOOK_BACKOFF_MAX_MS ? backoff * 2
									     : VIGIL_WEBHOOK_BACKOFF_MAX_MS;
		}
		free(body);
	}
	if (curl != NULL)
		curl_easy_cleanup(curl);
	return NULL;
}

static void webhook_free(struct vigil_webhook *h)
{
	for (unsigned i = 0; h->queue != NULL && i < h->queue_max; i++)
		free(h->queue[i]);
	free(h->queue);
	free(h->lens);
	sodium_free(h->key);
	free(h->url);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	free(h);
}

struct vigil_webhook *vigil_webhook_start(const char *url, const uint8_t *key, size_t keylen,
					  unsigned queue_max, char *msg, size_t msglen)
{
	struct vigil_webhook *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;
	int rc;

	if (h == NULL) {
		snprintf(msg, msglen, "EventHook: out of memory");
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	h->queue_max = queue_max > 0 ? queue_max : 1;
	h->url = strdup(url);
	h->key = sodium_malloc(keylen);
	h->queue = calloc(h->queue_max, sizeof(*h->queue));
	h->lens = calloc(h->queue_max, sizeof(*h->lens));
	if (h->url == NULL || h->key == NULL || h->queue == NULL || h->lens == NULL) {
		snprintf(msg, msglen, "EventHook: out of memory for a queue of %u events", h->queue_max);
		webhook_free(h);
		return NULL;
	}
	memcpy(h->key, key, keylen);
	h->keylen = keylen;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(msg, msglen, "EventHook: libcurl cannot start");
		webhook_free(h);
		return NULL;
	}
	rc = pthread_create(&h->thread, NULL, run, h);
	if (rc != 0) {
		snprintf(msg, msglen, "EventHook: cannot start its thread: %s", strerror(rc));
		webhook_free(h);
		return NULL;
	}
	return h;
}

bool vigil_webhook_post(struct vigil_webhook *h, const char *json, size_t len)
{
	char *copy = malloc(len + 1);
	bool queued = false;

	if (copy != NULL)
		memcpy(copy, json, len + 1);
	pthread_mutex_lock(&h->lock);
	if (copy != NULL && h->count < h->queue_max) {
		unsigned at = (h->head + h->count) % h->queue_max;

		h->queue[at] = copy;
		h->lens[at] = len;
		h->count++;
		queued = true;
		pthread_cond_signal(&h->wake);
	} else {
		h->st.dropped++;
	}
	pthread_mutex_unlock(&h->lock);
	if (!queued)
		free(copy);
	return queued;
}

void vigil_webhook_stats(struct vigil_webhook *h, struct vigil_webhook_stats *st)
{
	pthread_mutex_lock(&h->lock);
	*st = h->st;
	st->queued = h->count;
	pthread_mutex_unlock(&h->lock);
}

void vigil_webhook_stop(struct vigil_webhook *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	h->stop_by_ns = vigil_now_ns() + (uint64_t)VIGIL_WEBHOOK_STOP_MS * 1000000u;
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	if (h->count > 0)
		vigil_log(
		    VIGIL_LOG_WARNING,
		    "vigild: EventHook: %u event(s) not delivered at stop (the receiver did not take them)\n",
		    h->count);
	webhook_free(h);
	curl_global_cleanup();
}
