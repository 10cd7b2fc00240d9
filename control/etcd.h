/* SPDX-License-Identifier: MIT */
/* A small etcd v3 client over its JSON gateway (etcd 3.4: /v3/kv/...,
 * /v3/lease/...), libcurl and jansson: what a vigild node of a cluster
 * needs (the issue "Beyond one server"): ranges of a prefix, puts under a
 * lease, a put only if the key is at a revision (two admins cannot
 * overwrite each other), deletes, leases. Keys and values are bytes on
 * the wire (base64 in the JSON). Endpoints are tried in turn: one that
 * fails is left for the next. One client per thread; calls block for at
 * most the timeout.
 *
 * And the records a cluster keeps there: sealed under the cluster master
 * key with their etcd key as associated data (XChaCha20-Poly1305), so a
 * record moved to another key does not open, and etcd never holds a
 * camera's key in the clear. */
#ifndef VIGIL_ETCD_H
#define VIGIL_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIGIL_ETCD_ENDPOINTS_MAX 8
#define VIGIL_ETCD_TIMEOUT_MS 2000
#define VIGIL_ETCD_PAGE 2000 /* keys per range request: a camera record is about 330 bytes there */

struct vigil_etcd;

/* endpoints: "http://198.18.0.10:2379,http://198.18.0.11:2379" (at most
 * VIGIL_ETCD_ENDPOINTS_MAX). NULL with msg saying why. */
struct vigil_etcd *vigil_etcd_open(const char *endpoints, char *msg, size_t msglen);
void vigil_etcd_close(struct vigil_etcd *e);
/* https:// endpoints: ca the CA file that signed etcd's certificate
 * (NULL: the system's), cert and key (PEM) the client certificate etcd's
 * --client-cert-auth wants (NULL: none). -ENOMEM or 0. */
int vigil_etcd_tls(struct vigil_etcd *e, const char *ca, const char *cert, const char *key);

struct vigil_etcd_kv {
	char *key;	/* NUL-terminated, key_len bytes before it */
	size_t key_len;
	uint8_t *value; /* value_len bytes (and a NUL after them) */
	size_t value_len;
	int64_t create_revision, mod_revision, lease;
};

void vigil_etcd_kvs_free(struct vigil_etcd_kv *kvs, size_t n);

/* Every key under prefix (or the key itself when !prefix), in key order;
 * *revision (NULL: not wanted): the store's revision the answer is of. 0, or -errno with
 * msg: -EIO (no endpoint answered), -EPROTO (an answer that is not
 * etcd's). */
int vigil_etcd_range(struct vigil_etcd *e, const char *key, bool prefix, struct vigil_etcd_kv **kvs, size_t *n,
		     int64_t *revision, char *msg, size_t msglen);

/* The endpoint that answered last (an index into the list): a change
 * says a call went over to another. */
unsigned vigil_etcd_endpoint(const struct vigil_etcd *e);

/* Keys per range request from now on (0: VIGIL_ETCD_PAGE). A range of a
 * prefix is read in pages, every page at the first one's revision. */
void vigil_etcd_page(struct vigil_etcd *e, unsigned keys);

/* key = value, attached to lease (0: none). */
int vigil_etcd_put(struct vigil_etcd *e, const char *key, const void *value, size_t len, int64_t lease,
		   int64_t *revision, char *msg, size_t msglen);

/* key = value only if key's mod_revision is expect (0: the key does not
 * exist): in one transaction. *done says whether it was put. */
int vigil_etcd_put_if(struct vigil_etcd *e, const char *key, const void *value, size_t len, int64_t expect,
		      int64_t lease, bool *done, int64_t *revision, char *msg, size_t msglen);

/* One transaction: every op's key checked (expect > 0: its mod_revision
 * is expect; 0: the key does not exist; -1: not checked), and only if
 * every check holds, each op done: value put (under lease, 0: none), or
 * the key deleted (value NULL). *done says whether they were. Up to
 * etcd's --max-txn-ops (128) ops. */
struct vigil_etcd_op {
	const char *key;
	int64_t expect;
	const void *value;
	size_t len;
	int64_t lease;
};
int vigil_etcd_txn(struct vigil_etcd *e, const struct vigil_etcd_op *ops, size_t n, bool *done, int64_t *revision,
		   char *msg, size_t msglen);
/* key gone only if its mod_revision is expect, in one transaction. */
int vigil_etcd_delete_if(struct vigil_etcd *e, const char *key, int64_t expect, bool *done, int64_t *revision,
			 char *msg, size_t msglen);

/* key gone (or the keys under it, with prefix); *deleted: how many. */
int vigil_etcd_delete(struct vigil_etcd *e, const char *key, bool prefix, int64_t *deleted, char *msg,
		      size_t msglen);

/* The history before revision forgotten (what a watch from before it then
 * meets: -ESTALE). */
int vigil_etcd_compact(struct vigil_etcd *e, int64_t revision, char *msg, size_t msglen);

/* A lease of ttl seconds; kept alive by keepalive (its *ttl then: 0 when
 * it had expired), gone with revoke (and every key attached to it). */
int vigil_etcd_lease_grant(struct vigil_etcd *e, int ttl, int64_t *id, char *msg, size_t msglen);
int vigil_etcd_lease_keepalive(struct vigil_etcd *e, int64_t id, int *ttl, char *msg, size_t msglen);
int vigil_etcd_lease_revoke(struct vigil_etcd *e, int64_t id, char *msg, size_t msglen);

/* Watches the keys under prefix from revision from (0: from now), each
 * change to on_event in order: put (kv whole) or delete (kv's key and
 * mod_revision only), *revision following the last one seen. Blocks until
 * on_event returns non-zero (that, returned), *stop becomes true (0),
 * etcd has compacted past from (-ESTALE: read the prefix again and watch
 * from there), or the connection is lost (-EIO; call again from
 * *revision + 1). One watch per client. */
typedef int (*vigil_etcd_event_fn)(void *arg, bool put, const struct vigil_etcd_kv *kv);
int vigil_etcd_watch(struct vigil_etcd *e, const char *prefix, int64_t from, vigil_etcd_event_fn on_event,
		     void *arg, const volatile bool *stop, int64_t *revision, char *msg, size_t msglen);

/* A record for key: nonce, then the sealed plaintext (len + VIGIL_ETCD_SEAL_OVERHEAD bytes into out). */
#define VIGIL_ETCD_SEAL_OVERHEAD (24 + 16)
void vigil_etcd_seal(const uint8_t master[32], const char *key, const void *plain, size_t len, uint8_t *out);
/* The plaintext of a record for key (sealed_len - VIGIL_ETCD_SEAL_OVERHEAD
 * bytes into out); -EBADMSG when it is not one sealed for key under master. */
int vigil_etcd_open_record(const uint8_t master[32], const char *key, const uint8_t *sealed, size_t sealed_len,
			   uint8_t *out);

#endif
