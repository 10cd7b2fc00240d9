/* SPDX-License-Identifier: MIT */
/* EventHook: events POSTed to an http(s) URL by libcurl on a thread of
 * their own, in order, at least once (a batch leaves the queue only when
 * the receiver said 2xx), retried with backoff while the receiver fails,
 * each body signed (X-Vigil-Signature: sha256=<hex HMAC-SHA256 under the
 * EventHookSecretFile's key>). The queue is bounded: an event that finds it
 * full is dropped and counted. */
#ifndef VIGIL_WEBHOOK_H
#define VIGIL_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_WEBHOOK_BATCH 16		   /* events at most per POST, as a JSON array */
#define VIGIL_WEBHOOK_TIMEOUT_MS 5000	   /* one POST, connection included */
#define VIGIL_WEBHOOK_BACKOFF_MS 250	   /* the first retry; doubled each failure ... */
#define VIGIL_WEBHOOK_BACKOFF_MAX_MS 30000 /* ... up to this */
#define VIGIL_WEBHOOK_STOP_MS 2000	   /* at stop, how long the queue may still drain */
#define VIGIL_WEBHOOK_KEY_MIN 16
#define VIGIL_WEBHOOK_KEY_MAX 1024

struct vigil_webhook;

struct vigil_webhook_stats {
	uint64_t queued;    /* waiting now */
	uint64_t delivered; /* events the receiver took (2xx) */
	uint64_t failures;  /* POSTs that failed (then retried) */
	uint64_t dropped;   /* events that found the queue full */
};

/* EventHookSecretFile: its first line is the key (16 to 1024 bytes); mode
 * 0600 or stricter, owned by vigild's user or root, as the other key
 * files. 0 or -errno with msg set. */
int vigil_webhook_read_secret(const char *path, uint8_t *key, size_t *keylen, char *msg, size_t msglen);

/* hex: "sha256=" and 64 hex digits of HMAC-SHA256(key, body), NUL ended. */
void vigil_webhook_sign(const uint8_t *key, size_t keylen, const char *body, size_t len, char hex[72]);

/* Starts the thread. The key is copied (locked, wiped at stop). NULL with
 * msg set. */
struct vigil_webhook *vigil_webhook_start(const char *url, const uint8_t *key, size_t keylen,
					  unsigned queue_max, char *msg, size_t msglen);

/* One event (its JSON text, copied) onto the queue; false when the queue
 * was full (counted as dropped). Takes the queue's lock, which the
 * thread holds only to move pointers, never during a POST. */
bool vigil_webhook_post(struct vigil_webhook *h, const char *json, size_t len);

void vigil_webhook_stats(struct vigil_webhook *h, struct vigil_webhook_stats *st);

/* Lets the queue drain for up to VIGIL_WEBHOOK_STOP_MS, then stops the
 * thread; what is left is lost (said on stderr). */
void vigil_webhook_stop(struct vigil_webhook *h);

#endif
