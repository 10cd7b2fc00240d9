/* SPDX-License-Identifier: MIT */
/* A cluster node's cameras from etcd (cluster.h): the watch thread queues
 * etcd's changes, the control thread applies them through the keystore's
 * live path and keeps ownership; the member thread keeps the node's lease
 * and record, publishes its replay state and makes or gives back owners
 * keys. The bytes of records and states: cluster_record.h. */
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

#include "vigil/clock.h"
#include "vigil/log.h"
#include "cluster.h"
#include "cluster_record.h"
#include "etcd.h"
#include "handshakes.h"

#define RECORD_LEN VIGIL_CLUSTER_RECORD_LEN
#define QUEUE_LEN 1024		 /* changes waiting for the control thread; the watch waits when full */
#define APPLY_PER_POLL 256	 /* the control loop's other work goes on between */
#define NODE_EVERY_NS 5000000000ull /* the node's record rewritten with its load */
#define RETRY_MS 1000		 /* etcd unreachable: tried again this often */
#define CHANGE_WAIT_MS 5000	 /* an admin change waits this long to come back through the watch */
#define MEMBER_TURN_MS 100	     /* the member thread's turn: ownership asked for, state published */
#define WANT_EVERY_NS 1000000000ull  /* a camera another node owns is asked for again at most this often */
#define WANT_LOOK_NS 100000000ull    /* the control thread looks for not_owner packets this often */
#define PROVE_NS 2000000000ull	     /* a camera just taken must give a packet this soon, else it is given back */
#define BACKOFF_NS 30000000000ull    /* and not asked for again for this long: it was only a replay */
#define HS_PUBLISH_EVERY_NS 1000000000ull /* an Identity camera's handshakes published at most this often */
#define DRAIN_QUIET_S 3		     /* a drained node leaves once no packet of its cameras came for this long */

#define HANDSHAKE_SUFFIX "/handshake" /* cameras/NAME/handshake: an Identity camera's last one */
#define CAMERAS_PREFIX_MAX 300	      /* <Prefix>cameras/ */

/* A handshake to publish (vigil_cluster_handshake_begin): its
 * transaction, then the handshake thread's answer. */
struct hs_job {
	unsigned slot, tag;
	uint8_t ts[VIGIL_HS_TIMESTAMP_LEN];
	uint64_t now;
	char name[VIGIL_CAMERA_NAME_MAX + 1]; /* the SSRC keys' value: a copy, the camera array may move */
	char hs_key[CAMERAS_PREFIX_MAX + VIGIL_CAMERA_NAME_MAX + sizeof(HANDSHAKE_SUFFIX)];
	char ssrc_keys[4][sizeof(((struct vigil_cluster_config *)0)->prefix) + 16];
	uint8_t sealed[VIGIL_CLUSTER_HANDSHAKE_LEN + VIGIL_ETCD_SEAL_OVERHEAD];
	struct vigil_etcd_op ops[5];
	size_t n;
	/* the handshake thread's */
	int rc;
	bool done;
	int64_t revision;
	char err[256];
};

enum change_op { CH_PUT, CH_DELETE, CH_HANDSHAKE, CH_HANDSHAKE_GONE, CH_SNAPSHOT, CH_SNAPSHOT_END };


/* One change from etcd, for the control thread. In locked memory: a
 * record holds a camera's key. */
struct change {
	enum change_op op;
	int64_t revision; /* the record's mod_revision; a delete's or a snapshot's revision */
	char name[VIGIL_CAMERA_NAME_MAX + 1];
	bool opened; /* put: record holds the plaintext */
	uint8_t record[RECORD_LEN]; /* or a handshake's, VIGIL_CLUSTER_HANDSHAKE_LEN */
};
_Static_assert(VIGIL_CLUSTER_HANDSHAKE_LEN <= RECORD_LEN, "a change holds a handshake record");

struct vigil_cluster {
	const struct vigil_config *cfg;
	struct vigil_cameras *cams;
	uint8_t *master; /* locked */
	char cameras_prefix[CAMERAS_PREFIX_MAX], node_key[400];
	struct vigil_etcd *admin, *watch, *member, *hs_client; /* one client per thread */
	pthread_t watch_thread, member_thread, hs_thread;
	bool threads;
	volatile bool stop, watch_abort;

	pthread_mutex_t lock;
	pthread_cond_t room;
	struct change *queue; /* QUEUE_LEN, locked */
	struct change *current; /* the one being applied (control thread), locked */
	unsigned head, n;

	/* The control thread's. */
	int64_t *rev;		  /* per slot: its record's mod_revision, 0: none in etcd */
	bool *seen;		  /* per slot: in the snapshot being applied */
	struct vigil_camera_config *scratch; /* a decoded record, locked */
	struct vigil_camera_config *previous; /* a camera as it was, while it is replaced, locked */
	struct vigil_cluster_handshake *hs;    /* a handshake record, locked */
	int64_t *hs_rev;		      /* per slot: its handshake record's mod_revision, 0: none */
	uint8_t (*hs_ts)[VIGIL_HS_TIMESTAMP_LEN]; /* per slot: the last handshake's timestamp (zero: none) */
	bool *hs_seen;			      /* per slot: its handshake record in the snapshot being applied */
	uint64_t *hs_published_ns;	      /* per slot: when this node last published one */
	bool *hs_waits;			      /* per slot: one of it waits for etcd */
	/* Handshakes waiting for etcd: a FIFO, collected < run < tail, the
	 * indices under lock; a job is the control thread's before run and
	 * after it, the handshake thread's between. */
	struct hs_job *jobs; /* VIGIL_HS_WAITING */
	unsigned jobs_head, jobs_run, jobs_tail;
	pthread_cond_t hs_wake;
	uint64_t next_second_ns;
	bool told_down;
	struct vigil_cluster_stats st; /* revision, applied, refused: the control thread's */

	/* Ownership (live cluster nodes: c->table->ownership). The control
	 * thread's: */
	bool *owned;		  /* per slot: this node holds <Prefix>owners/NAME */
	bool *asked;		  /* per slot: a want is out */
	uint64_t *not_owner_seen; /* per slot: its not_owner count when last looked at */
	uint64_t *asked_ns;	  /* per slot: when it was last asked for */
	int64_t *owned_rev;	  /* per slot: the owners key's revision, to release it */
	uint64_t *taken_ns;	  /* per slot: when it was taken */
	uint64_t *accepted;	  /* per slot: its decrypted count when last looked at */
	uint64_t *accepted_ns;	  /* per slot: when that count last grew */
	uint64_t next_look_ns;
	unsigned lease_gen_seen;
	uint64_t taken, refused_elsewhere; /* cameras taken over; asks another node had */
	uint64_t given_back;		   /* owned cameras given back: silent, or taken on a replay */
	bool draining;			   /* vigilctl drain: owns nothing, asks for nothing */
	bool record_now;		   /* the node's record rewritten at the member thread's next turn */
	uint64_t drain_rx;		   /* while draining: the cameras' packets at the last look */
	unsigned drain_quiet;		   /* seconds in a row without one */
	uint8_t *last_state;		    /* the last state handed to publish */
	size_t last_state_len;
	/* Between the two threads, under lock: */
	struct want {
		unsigned slot;
		char name[VIGIL_CAMERA_NAME_MAX + 1];
		uint32_t ssrc;
		uint8_t key_id[VIGIL_STATE_KEY_ID_LEN];
		bool release; /* give it up (removed): delete the owners key at rev */
		int64_t rev;
		unsigned gen; /* an ask's: the lease generation it was made under (serve_wants) */
		/* the answer */
		bool failed; /* etcd did not answer: asked again later */
		bool owned;
		bool has_floor;
		uint64_t floor;
	} *wants, *answers;
	unsigned n_wants, n_answers;
	uint8_t *publish; /* the state to put (plaintext), publish_len bytes; NULL: nothing new */
	size_t publish_len;
	pthread_cond_t wake; /* the member thread: wants or state waiting */
	unsigned lease_gen;  /* a new lease (the old one expired): what it held is gone */

	/* Shared, atomics. */
	bool etcd_up, synced;
	uint64_t down_since_ns, resyncs;
	unsigned n_cameras, n_online, n_owned; /* for the node's record */
	uint64_t decrypted;
	int64_t lease;
	time_t started;
};

/* ---- the queue ------------------------------------------------------------- */

/* A slot in the queue, waiting while it is full; NULL when stopping.
 * Called with the lock held; push() publishes it. */
static struct change *slot_for_push(struct vigil_cluster *cl)
{
	while (cl->n == QUEUE_LEN && !cl->stop)
		pthread_cond_wait(&cl->room, &cl->lock);
	if (cl->stop)
		return NULL;
	return &cl->queue[(cl->head + cl->n) % QUEUE_LEN];
}

static void push_op(struct vigil_cluster *cl, enum change_op op, int64_t revision)
{
	struct change *ch;

	pthread_mutex_lock(&cl->lock);
	ch = slot_for_push(cl);
	if (ch != NULL) {
		*ch = (struct change){.op = op, .revision = revision};
		cl->n++;
	}
	pthread_mutex_unlock(&cl->lock);
}

/* A put or a delete of a key under cameras/ (a camera's record, or an
 * Identity camera's last handshake): its name, and its record opened
 * here (never in the clear outside locked memory). */
static void push_kv(struct vigil_cluster *cl, bool put, const struct vigil_etcd_kv *kv)
{
	char name[VIGIL_CAMERA_NAME_MAX + sizeof(HANDSHAKE_SUFFIX)];
	size_t len = kv->key_len - strlen(cl->cameras_prefix), suffix = strlen(HANDSHAKE_SUFFIX);
	bool handshake;
	struct change *ch;

	/* Not a camera's key (a name too long or not one): nothing of ours. */
	if (kv->key_len != strlen(kv->key) || strncmp(kv->key, cl->cameras_prefix, strlen(cl->cameras_prefix)) != 0 ||
	    len >= sizeof(name))
		return;
	memcpy(name, kv->key + strlen(cl->cameras_prefix), len + 1);
	handshake = len > suffix && strcmp(name + len - suffix, HANDSHAKE_SUFFIX) == 0;
	if (handshake)
		name[len - suffix] = '\0';
	if (!vigil_config_valid_name(name))
		return;
	pthread_mutex_lock(&cl->lock);
	ch = slot_for_push(cl);
	if (ch != NULL) {
		size_t want = handshake ? VIGIL_CLUSTER_HANDSHAKE_LEN : RECORD_LEN;

		ch->op = handshake ? (put ? CH_HANDSHAKE : CH_HANDSHAKE_GONE) : put ? CH_PUT : CH_DELETE;
		ch->revision = kv->mod_revision;
		memcpy(ch->name, name, strlen(name) + 1); /* a valid name: it fits */
		ch->opened = put && kv->value_len == want + VIGIL_ETCD_SEAL_OVERHEAD &&
			     vigil_etcd_open_record(cl->master, kv->key, kv->value, kv->value_len, ch->record) == 0;
		cl->n++;
	}
	pthread_mutex_unlock(&cl->lock);
}

static int on_watch_event(void *arg, bool put, const struct vigil_etcd_kv *kv)
{
	struct vigil_cluster *cl = arg;

	push_kv(cl, put, kv);
	return cl->stop ? 1 : 0;
}

/* ---- the threads ------------------------------------------------------------- */

/* Sleeps ms, or less when stopping. */
static void nap(struct vigil_cluster *cl, unsigned ms)
{
	for (unsigned t = 0; t < ms && !cl->stop; t += 50)
		usleep(50000);
}

/* The whole prefix, as a snapshot the control thread compares with what
 * it has (cameras gone from etcd meanwhile are removed). */
static int read_all(struct vigil_cluster *cl, int64_t *revision, char *msg, size_t msglen)
{
	struct vigil_etcd_kv *kvs;
	size_t n;
	int rc = vigil_etcd_range(cl->watch, cl->cameras_prefix, true, &kvs, &n, revision, msg, msglen);

	if (rc < 0)
		return rc;
	push_op(cl, CH_SNAPSHOT, *revision);
	for (size_t i = 0; i < n && !cl->stop; i++)
		push_kv(cl, true, &kvs[i]);
	push_op(cl, CH_SNAPSHOT_END, *revision);
	for (size_t i = 0; i < n; i++)
		sodium_memzero(kvs[i].value, kvs[i].value_len);
	vigil_etcd_kvs_free(kvs, n);
	__atomic_add_fetch(&cl->resyncs, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Reads the prefix, then follows it from the next revision: after a lost
 * connection, from the revision it last saw; after a compaction past it,
 * the whole prefix again. */
static void *watch_main(void *arg)
{
	struct vigil_cluster *cl = arg;
	int64_t rev = 0;
	char msg[512], last[512] = "";
	int rc;

	while (!cl->stop) {
		if (rev == 0 && read_all(cl, &rev, msg, sizeof(msg)) < 0) {
			rev = 0;
			if (strcmp(msg, last) != 0)
				vigil_log(VIGIL_LOG_ERR, "vigild: cluster: cannot read the cameras from etcd (tried again "
							 "every second): %s\n", msg);
			snprintf(last, sizeof(last), "%s", msg);
			nap(cl, RETRY_MS);
			continue;
		}
		last[0] = '\0';
		cl->watch_abort = false;
		rc = vigil_etcd_watch(cl->watch, cl->cameras_prefix, rev + 1, on_watch_event, cl, &cl->watch_abort, &rev,
				      msg, sizeof(msg));
		if (cl->stop)
			break;
		if (rc == -ESTALE) {
			vigil_log(VIGIL_LOG_WARNING, "vigild: cluster: etcd compacted past revision %lld: reading every "
						     "camera again\n", (long long)rev);
			rev = 0;
		} else if (rc < 0) {
			nap(cl, RETRY_MS); /* then on from rev */
		}
	}
	return NULL;
}

/* The node's record: who it is and its load, as vigilctl cluster shows. */
static int put_node(struct vigil_cluster *cl, char *msg, size_t msglen)
{
	char when[32];
	struct tm tm;
	json_t *o;
	char *text;
	int rc;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&cl->started, &tm));
	o = json_pack("{ss ss ss ss sb sI sI sI sI sI}", "node", cl->cfg->cluster.node, "version", VIGIL_VERSION, "anycast",
		      cl->cfg->cluster.anycast, "started", when, "draining", __atomic_load_n(&cl->draining, __ATOMIC_RELAXED), "cameras",
		      (json_int_t)__atomic_load_n(&cl->n_cameras, __ATOMIC_RELAXED), "online",
		      (json_int_t)__atomic_load_n(&cl->n_online, __ATOMIC_RELAXED), "owned",
		      (json_int_t)__atomic_load_n(&cl->n_owned, __ATOMIC_RELAXED), "decrypted",
		      (json_int_t)__atomic_load_n(&cl->decrypted, __ATOMIC_RELAXED), "pid", (json_int_t)getpid());
	text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (text == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	rc = vigil_etcd_put(cl->member, cl->node_key, text, strlen(text), cl->lease, NULL, msg, msglen);
	free(text);
	return rc;
}

static void set_up(struct vigil_cluster *cl, bool up, const char *msg)
{
	if (up && !__atomic_load_n(&cl->etcd_up, __ATOMIC_RELAXED)) {
		uint64_t since = __atomic_load_n(&cl->down_since_ns, __ATOMIC_RELAXED);

		if (since != 0)
			vigil_log(VIGIL_LOG_NOTICE, "vigild: cluster: etcd reachable again after %.1f s\n",
				  (double)(vigil_clock_ns(CLOCK_REALTIME) - since) / 1e9);
		__atomic_store_n(&cl->down_since_ns, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&cl->etcd_up, true, __ATOMIC_RELEASE);
	} else if (!up) {
		/* A watch on a dead link would wait for ever: it reconnects (at
		 * every failed turn: a reset of the flag by the watch may have
		 * come after the last), and goes on from the revision it saw. */
		cl->watch_abort = true;
	}
	if (!up && (__atomic_load_n(&cl->etcd_up, __ATOMIC_RELAXED) ||
		    __atomic_load_n(&cl->down_since_ns, __ATOMIC_RELAXED) == 0)) {
		vigil_log(VIGIL_LOG_ERR,
			  "vigild: cluster: etcd unreachable (%s): running on the cameras this node has; changes wait "
			  "for etcd\n", msg);
		__atomic_store_n(&cl->down_since_ns, vigil_clock_ns(CLOCK_REALTIME), __ATOMIC_RELAXED);
		__atomic_store_n(&cl->etcd_up, false, __ATOMIC_RELEASE);
	}
}

/* ms from now, for pthread_cond_timedwait (CLOCK_REALTIME). */
static void deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* The replay state published by every node: the highest index of
 * (ssrc, key_id) among them, for a camera taken over. */
static bool published_floor(struct vigil_cluster *cl, const struct vigil_etcd_kv *kvs, size_t n, uint32_t ssrc,
			    const uint8_t key_id[VIGIL_STATE_KEY_ID_LEN], uint64_t *floor)
{
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		uint8_t *plain;

		if (kvs[i].value_len < VIGIL_ETCD_SEAL_OVERHEAD + VIGIL_CLUSTER_STATE_HEAD)
			continue;
		plain = malloc(kvs[i].value_len - VIGIL_ETCD_SEAL_OVERHEAD);
		if (plain != NULL &&
		    vigil_etcd_open_record(cl->master, kvs[i].key, kvs[i].value, kvs[i].value_len, plain) == 0)
			vigil_cluster_state_find(plain, kvs[i].value_len - VIGIL_ETCD_SEAL_OVERHEAD, ssrc, key_id, floor,
						 &found);
		free(plain);
	}
	return found;
}

/* The wants the control thread left: each camera asked for in a
 * transaction (its owners key made under this node's lease only if no
 * node has one), answered with the replay state the others published;
 * each release deleted at the revision this node made it. */
static void serve_wants(struct vigil_cluster *cl)
{
	struct want w[64];
	unsigned n;
	struct vigil_etcd_kv *kvs = NULL;
	size_t n_kvs = 0;
	char key[sizeof(cl->cameras_prefix) + VIGIL_CAMERA_NAME_MAX + 8], prefix[sizeof(cl->cameras_prefix)], msg[512];
	bool read = false, lost = false;

	pthread_mutex_lock(&cl->lock);
	/* A camera is given back only once the state published holds its last
	 * index: a state still waiting goes first (the next turn). */
	n = cl->publish != NULL ? 0 : cl->n_wants < 64 ? cl->n_wants : 64;
	memcpy(w, cl->wants, n * sizeof(*w));
	memmove(cl->wants, cl->wants + n, (cl->n_wants - n) * sizeof(*w));
	cl->n_wants -= n;
	for (unsigned i = 0; i < n; i++) {
		if (w[i].release)
			continue;
		/* Under the lease it is made under (this thread's to change). */
		w[i].gen = cl->lease_gen;
		/* Not while a release of the camera waits: the ask would find the
		 * key still there, ours, and the release then delete it. */
		for (unsigned j = 0; j < n + cl->n_wants && !w[i].failed; j++) {
			const struct want *o = j < n ? &w[j] : &cl->wants[j - n];

			w[i].failed = o->release && strcmp(o->name, w[i].name) == 0;
		}
	}
	pthread_mutex_unlock(&cl->lock);
	snprintf(prefix, sizeof(prefix), "%sstate/", cl->cfg->cluster.prefix);
	for (unsigned i = 0; i < n; i++) {
		bool done = false;
		int64_t rev = 0;
		int rc;

		/* Stopping, or etcd gone in this batch: the rest waits (failed). */
		if (cl->stop || lost) {
			w[i].failed = true;
			continue;
		}
		if (w[i].failed)
			continue;
		snprintf(key, sizeof(key), "%sowners/%s", cl->cfg->cluster.prefix, w[i].name);
		if (w[i].release) {
			/* Until etcd says so: a key left would keep the camera from
			 * every node until this node's lease ends. */
			w[i].failed = vigil_etcd_delete_if(cl->member, key, w[i].rev, &done, NULL, msg, sizeof(msg)) < 0;
			lost = w[i].failed;
			continue;
		}
		rc = vigil_etcd_put_if(cl->member, key, cl->cfg->cluster.node, strlen(cl->cfg->cluster.node), 0, cl->lease,
				       &done, &rev, msg, sizeof(msg));
		if (rc == 0 && !done) {
			/* Ours already (an answer this node lost)? Then it owns it. */
			struct vigil_etcd_kv *k = NULL;
			size_t nk = 0;

			if (vigil_etcd_range(cl->member, key, false, &k, &nk, NULL, msg, sizeof(msg)) == 0 && nk == 1 &&
			    k[0].lease == cl->lease && k[0].value_len == strlen(cl->cfg->cluster.node) &&
			    memcmp(k[0].value, cl->cfg->cluster.node, k[0].value_len) == 0) {
				done = true;
				rev = k[0].mod_revision;
			}
			vigil_etcd_kvs_free(k, nk);
		}
		w[i].failed = rc < 0;
		lost = rc < 0;
		w[i].owned = rc == 0 && done;
		w[i].rev = rev;
		if (w[i].owned && !read) {
			read = vigil_etcd_range(cl->member, prefix, true, &kvs, &n_kvs, NULL, msg, sizeof(msg)) == 0;
			if (!read)
				vigil_log(VIGIL_LOG_WARNING, "vigild: cluster: cannot read the nodes' replay state (%s): cameras "
							     "taken over continue from this node's own, else by trial\n", msg);
		}
		if (w[i].owned)
			w[i].has_floor = read && published_floor(cl, kvs, n_kvs, w[i].ssrc, w[i].key_id, &w[i].floor);
	}
	vigil_etcd_kvs_free(kvs, n_kvs);
	pthread_mutex_lock(&cl->lock);
	for (unsigned i = 0; i < n; i++)
		if (w[i].release && w[i].failed && cl->n_wants < 2 * cl->cams->cfg->max_cameras)
			cl->wants[cl->n_wants++] = w[i]; /* the next turn */
		else if (!w[i].release)
			cl->answers[cl->n_answers++] = w[i];
	pthread_mutex_unlock(&cl->lock);
}

/* The node's replay state, when the control thread made a new one. */
static int publish_state(struct vigil_cluster *cl, struct vigil_etcd *client, char *msg, size_t msglen)
{
	char key[sizeof(cl->node_key)];
	uint8_t *plain, *sealed;
	size_t len;
	int rc;

	pthread_mutex_lock(&cl->lock);
	plain = cl->publish;
	len = cl->publish_len;
	cl->publish = NULL;
	pthread_mutex_unlock(&cl->lock);
	if (plain == NULL)
		return 0;
	snprintf(key, sizeof(key), "%sstate/%s", cl->cfg->cluster.prefix, cl->cfg->cluster.node);
	sealed = malloc(len + VIGIL_ETCD_SEAL_OVERHEAD);
	rc = sealed == NULL ? -ENOMEM : 0;
	if (rc == 0) {
		vigil_etcd_seal(cl->master, key, plain, len, sealed);
		rc = vigil_etcd_put(client, key, sealed, len + VIGIL_ETCD_SEAL_OVERHEAD, 0, NULL, msg, msglen);
	} else {
		snprintf(msg, msglen, "out of memory");
	}
	if (rc < 0) {
		/* Put back, unless a newer one came meanwhile. */
		pthread_mutex_lock(&cl->lock);
		if (cl->publish == NULL) {
			cl->publish = plain;
			plain = NULL;
		}
		pthread_mutex_unlock(&cl->lock);
	}
	free(plain);
	free(sealed);
	return rc;
}

/* The node's lease: granted, kept alive at a third of its time, granted
 * again (and the record put again) when it expired meanwhile (the
 * control thread is told: its cameras' owners keys went with it); the
 * record rewritten with the node's load every few seconds; ownership
 * asked for and the replay state published in between. */
static void *member_main(void *arg)
{
	struct vigil_cluster *cl = arg;
	uint64_t every = (uint64_t)cl->cfg->cluster.lease_seconds * 1000000000u / 3;
	uint64_t next_keepalive = 0, next_record = 0;
	unsigned endpoint = vigil_etcd_endpoint(cl->member);
	char msg[512];
	int rc = 0;

	while (!cl->stop) {
		uint64_t now = vigil_now_ns();
		struct timespec until;

		if (cl->lease == 0 || now >= next_keepalive || rc < 0) {
			int ttl = 1;

			rc = 0;
			if (cl->lease != 0)
				rc = vigil_etcd_lease_keepalive(cl->member, cl->lease, &ttl, msg, sizeof(msg));
			if (rc == 0 && (cl->lease == 0 || ttl <= 0)) {
				if (cl->lease != 0) {
					vigil_log(VIGIL_LOG_WARNING, "vigild: cluster: node %s's lease expired while etcd was "
								     "away: its cameras' ownership went with it; registering again\n",
						  cl->cfg->cluster.node);
					pthread_mutex_lock(&cl->lock);
					cl->lease_gen++;
					pthread_mutex_unlock(&cl->lock);
				}
				rc = vigil_etcd_lease_grant(cl->member, (int)cl->cfg->cluster.lease_seconds, &cl->lease, msg,
							    sizeof(msg));
				if (rc < 0)
					cl->lease = 0;
				next_record = 0;
			}
			next_keepalive = now + every;
		}
		if (rc == 0 && (now >= next_record || __atomic_exchange_n(&cl->record_now, false, __ATOMIC_ACQ_REL))) {
			rc = put_node(cl, msg, sizeof(msg));
			next_record = now + NODE_EVERY_NS;
		}
		if (rc == 0)
			rc = publish_state(cl, cl->member, msg, sizeof(msg));
		/* etcd answered from another endpoint: the one the watch holds
		 * may be dead without a word (a host down): it reconnects. */
		if (vigil_etcd_endpoint(cl->member) != endpoint) {
			endpoint = vigil_etcd_endpoint(cl->member);
			cl->watch_abort = true;
		}
		if (rc == 0 && cl->lease != 0)
			serve_wants(cl);
		set_up(cl, rc == 0, msg);
		deadline(&until, rc == 0 ? MEMBER_TURN_MS : RETRY_MS);
		pthread_mutex_lock(&cl->lock);
		if (!cl->stop && (rc < 0 || cl->n_wants == 0))
			pthread_cond_timedwait(&cl->wake, &cl->lock, &until);
		pthread_mutex_unlock(&cl->lock);
	}
	if (cl->lease != 0 && vigil_etcd_lease_revoke(cl->member, cl->lease, msg, sizeof(msg)) < 0)
		vigil_log(VIGIL_LOG_WARNING, "vigild: cluster: the node's lease not revoked (%s): the others see it gone "
					     "in LeaseSeconds\n", msg);
	return NULL;
}

/* ---- applying ---------------------------------------------------------------- */

/* An Identity camera's SSRC and RTX stream are its handshake's, not its
 * record's. */
static bool same_stream(const struct vigil_camera_config *a, const struct vigil_camera_config *b)
{
	if (a->has_identity || b->has_identity)
		return a->has_identity == b->has_identity && a->codec == b->codec &&
		       sodium_memcmp(a->identity, b->identity, 32) == 0;
	return a->codec == b->codec && a->ssrc == b->ssrc && a->has_rtx == b->has_rtx && a->rtcp_rsize == b->rtcp_rsize &&
	       (!a->has_rtx || (a->rtx_ssrc == b->rtx_ssrc && a->rtx_payload_type == b->rtx_payload_type));
}

static bool same_settings(const struct vigil_camera_config *a, const struct vigil_camera_config *b)
{
	return a->sealed == b->sealed && (!a->sealed || memcmp(a->owner_key, b->owner_key, 32) == 0) &&
	       a->retain_own == b->retain_own && (!(a->retain_own & 1) || a->retain_hours == b->retain_hours) &&
	       (!(a->retain_own & 2) || a->retain_bytes == b->retain_bytes) &&
	       memcmp(a->payload_types, b->payload_types, sizeof(a->payload_types)) == 0;
}

/* A record not applied: what runs stays (a resync does not remove it),
 * and the record's revision is the one an admin's next change must
 * replace. */
static void refuse(struct vigil_cluster *cl, const struct change *ch, const char *why)
{
	int slot = vigil_cameras_find(cl->cams, ch->name);

	if (slot >= 0) {
		cl->seen[slot] = true;
		cl->rev[slot] = ch->revision;
	}
	cl->st.refused++;
	vigil_log(VIGIL_LOG_ERR, "vigild: cluster: camera %s (etcd revision %lld) not applied: %s\n", ch->name,
		  (long long)ch->revision, why);
}

/* A record from etcd made what this node runs: added, rotated (the
 * previous key kept for KeyGraceSeconds), revoked, or, for a change of
 * SSRC, Identity, codec, RTX or settings, removed and added again. */
static void apply_put(struct vigil_cluster *cl, const struct change *ch)
{
	struct vigil_cameras *c = cl->cams;
	struct vigil_camera_config *cam = cl->scratch;
	char msg[1024];
	int slot, rc = 0;

	if (!ch->opened || vigil_cluster_record_decode(ch->record, cam) < 0 || strcmp(cam->name, ch->name) != 0) {
		sodium_memzero(cam, sizeof(*cam));
		refuse(cl, ch, "its record does not open under this node's cluster master key (KeystoreKeyFile), or "
			       "is not a camera record of this version, or names another camera");
		return;
	}
	cam->line = 0;
	if (!(cam->retain_own & 1))
		cam->retain_hours = c->cfg->retain_hours;
	if (!(cam->retain_own & 2))
		cam->retain_bytes = c->cfg->retain_bytes;
	slot = vigil_cameras_find(c, cam->name);
	if (slot >= 0 && !c->slots[slot].removed) {
		const struct vigil_camera_config *cur = &c->cfg->cameras[slot];

		if (!same_stream(cur, cam) || !same_settings(cur, cam)) {
			/* Put back as it was when the new one is refused: a record
			 * that does not apply changes nothing here. */
			*cl->previous = *cur;
			rc = vigil_cameras_remove(c, cam->name, msg, sizeof(msg));
			if (rc == 0 && (rc = vigil_cameras_add(c, cam, msg, sizeof(msg))) < 0) {
				char again[512];

				if (vigil_cameras_add(c, cl->previous, again, sizeof(again)) < 0)
					vigil_log(VIGIL_LOG_ERR, "vigild: cluster: camera %s could not be put back as it was: %s\n",
						  cam->name, again);
			}
			sodium_memzero(cl->previous, sizeof(*cl->previous));
		} else if (cam->revoked) {
			if (!cur->revoked)
				rc = vigil_cameras_revoke(c, cam->name, msg, sizeof(msg));
		} else if (!cam->has_identity &&
			   (cur->revoked || sodium_memcmp(cur->master_key, cam->master_key, sizeof(cam->master_key)) != 0 ||
			    sodium_memcmp(cur->master_salt, cam->master_salt, sizeof(cam->master_salt)) != 0)) {
			rc = vigil_cameras_rotate(c, cam->name, cam->master_key, cam->master_salt, msg, sizeof(msg));
		}
	} else {
		rc = vigil_cameras_add(c, cam, msg, sizeof(msg));
	}
	sodium_memzero(cam, sizeof(*cam));
	if (rc < 0) {
		refuse(cl, ch, msg);
		return;
	}
	slot = vigil_cameras_find(c, ch->name);
	if (slot >= 0) {
		cl->rev[slot] = ch->revision;
		cl->seen[slot] = true;
		/* A stream added again starts elsewhere; this node still owns it. */
		if (cl->owned[slot])
			(void)vigil_stream_set_owned(c->table, (unsigned)slot, true);
	}
	cl->st.applied++;
}

/* A want for the member thread (under the lock). */
static bool want(struct vigil_cluster *cl, unsigned slot, bool release)
{
	const struct vigil_camera_config *cam = &cl->cams->cfg->cameras[slot];
	struct want *w;

	if (cl->n_wants == 2 * cl->cams->cfg->max_cameras)
		return false; /* asked again later */
	w = &cl->wants[cl->n_wants++];
	memset(w, 0, sizeof(*w));
	w->slot = slot;
	snprintf(w->name, sizeof(w->name), "%s", cam->name);
	w->ssrc = cam->ssrc;
	w->release = release;
	w->rev = cl->owned_rev[slot];
	vigil_cameras_key_id(cam, w->key_id);
	pthread_cond_signal(&cl->wake);
	return true;
}

/* A camera this node owned and no longer has: its owners key given back. */
static void release(struct vigil_cluster *cl, unsigned slot)
{
	if (!cl->owned[slot])
		return;
	(void)vigil_stream_set_owned(cl->cams->table, slot, false);
	pthread_mutex_lock(&cl->lock);
	/* Else still owned (its packets refused): the look gives it back later. */
	if (want(cl, slot, true))
		cl->owned[slot] = false;
	pthread_mutex_unlock(&cl->lock);
}

/* An Identity camera's handshake answered by another node: its key,
 * SSRC and RTX stream made this node's too, so that it can take the
 * camera's packets when their flow comes here; and its timestamp kept,
 * so that the initiation replayed here is refused. This node's own come
 * back from the watch at the revision it already has. */
static void apply_handshake(struct vigil_cluster *cl, const struct change *ch)
{
	struct vigil_cameras *c = cl->cams;
	struct vigil_cluster_handshake *hs = cl->hs;
	int slot = vigil_cameras_find(c, ch->name);
	const struct vigil_camera_config *cam;
	uint64_t now = (uint64_t)time(NULL) * 1000000000u, age, life;
	int rc;

	/* A camera not here (yet): its next handshake is. */
	if (slot < 0 || c->slots[slot].removed)
		return;
	cl->hs_seen[slot] = true;
	if (ch->revision <= cl->hs_rev[slot])
		return;
	cam = &c->cfg->cameras[slot];
	if (!ch->opened || vigil_cluster_handshake_decode(ch->record, hs) < 0 || !cam->has_identity ||
	    sodium_memcmp(hs->identity, cam->identity, 32) != 0 ||
	    (!sodium_is_zero(cl->hs_ts[slot], VIGIL_HS_TIMESTAMP_LEN) &&
	     vigil_hs_timestamp_cmp(hs->timestamp, cl->hs_ts[slot]) <= 0)) {
		/* Each handshake etcd took is newer than the one before (its
		 * transaction was at that one's revision): an older one is an
		 * etcd writer's putting back a key the camera left. Its
		 * revision is the one the camera's next handshake replaces. */
		sodium_memzero(hs, sizeof(*hs));
		cl->hs_rev[slot] = ch->revision;
		cl->st.refused++;
		vigil_log(VIGIL_LOG_ERR, "vigild: cluster: the handshake of camera %s (etcd revision %lld) not applied: "
					 "its record does not open under this node's cluster master key, or is not a "
					 "handshake of this version, or is of another Identity than the camera's, or is "
					 "not newer than the last\n",
			  ch->name, (long long)ch->revision);
		return;
	}
	cl->hs_rev[slot] = ch->revision;
	memcpy(cl->hs_ts[slot], hs->timestamp, VIGIL_HS_TIMESTAMP_LEN);
	cl->hs_published_ns[slot] = vigil_now_ns(); /* the rate is the cluster's, not this node's */
	/* A key as old as its bound is refused anyway (cameras.h): the
	 * camera's next handshake brings the next. */
	age = now > hs->unix_ns ? now - hs->unix_ns : 0;
	life = (uint64_t)c->cfg->rekey_seconds * 1500000000u;
	if (cam->revoked || age >= life) {
		sodium_memzero(hs, sizeof(*hs));
		return;
	}
	rc = vigil_cameras_handshake(c, (unsigned)slot, hs->ssrc, hs->has_rtx ? &hs->rtx : NULL, hs->key, hs->salt, age);
	if (rc < 0)
		vigil_log(VIGIL_LOG_ERR, "vigild: cluster: the handshake of camera %s answered by node %s not applied: %s\n",
			  ch->name, hs->node, strerror(-rc));
	else if (cl->owned[slot])
		(void)vigil_stream_set_owned(c->table, (unsigned)slot, true);
	sodium_memzero(hs, sizeof(*hs));
	cl->st.applied++;
}

static void apply_delete(struct vigil_cluster *cl, const char *name)
{
	int slot = vigil_cameras_find(cl->cams, name);
	char msg[1024];

	if (slot < 0 || cl->cams->slots[slot].removed)
		return;
	if (vigil_cameras_remove(cl->cams, name, msg, sizeof(msg)) < 0)
		vigil_log(VIGIL_LOG_ERR, "vigild: cluster: camera %s not removed: %s\n", name, msg);
	cl->rev[slot] = 0;
	cl->hs_rev[slot] = 0; /* its handshake went with it */
	memset(cl->hs_ts[slot], 0, VIGIL_HS_TIMESTAMP_LEN);
	release(cl, (unsigned)slot);
	cl->st.applied++;
}

/* The end of a snapshot: cameras it did not hold are gone from etcd. */
static void snapshot_end(struct vigil_cluster *cl)
{
	const struct vigil_config *cfg = cl->cams->cfg;

	for (unsigned slot = 0; slot < cfg->n_cameras; slot++) {
		if (!cl->seen[slot] && !cl->cams->slots[slot].removed)
			apply_delete(cl, cfg->cameras[slot].name);
		if (!cl->hs_seen[slot])
			cl->hs_rev[slot] = 0; /* its handshake key is gone: the next one makes it */
	}
	__atomic_store_n(&cl->synced, true, __ATOMIC_RELEASE);
}

static void apply(struct vigil_cluster *cl, const struct change *ch)
{
	switch (ch->op) {
	case CH_SNAPSHOT:
		memset(cl->seen, 0, cl->cams->cfg->max_cameras * sizeof(*cl->seen));
		memset(cl->hs_seen, 0, cl->cams->cfg->max_cameras * sizeof(*cl->hs_seen));
		break;
	case CH_SNAPSHOT_END:
		snapshot_end(cl);
		break;
	case CH_PUT:
		apply_put(cl, ch);
		break;
	case CH_DELETE:
		apply_delete(cl, ch->name);
		break;
	case CH_HANDSHAKE:
		apply_handshake(cl, ch);
		break;
	case CH_HANDSHAKE_GONE: {
		/* Deleted in etcd (by hand): the camera's next handshake makes
		 * the key again; the last timestamp still refuses replays. */
		int slot = vigil_cameras_find(cl->cams, ch->name);

		if (slot >= 0)
			cl->hs_rev[slot] = 0;
		break;
	}
	}
	/* A snapshot's revision is reached at its end, not at its start. */
	if (ch->op != CH_SNAPSHOT && ch->revision > cl->st.revision)
		cl->st.revision = ch->revision;
}

/* What the queue holds, up to APPLY_PER_POLL; the number applied. */
static unsigned drain(struct vigil_cluster *cl)
{
	unsigned done = 0;

	/* Each change taken off the queue, then applied without the lock:
	 * applying may give an owners key back (the lock again) and write
	 * state, and the watch and member threads wait for nobody. */
	pthread_mutex_lock(&cl->lock);
	while (cl->n > 0 && done < APPLY_PER_POLL) {
		struct change *ch = &cl->queue[cl->head];

		*cl->current = *ch;
		sodium_memzero(ch, sizeof(*ch));
		cl->head = (cl->head + 1) % QUEUE_LEN;
		cl->n--;
		done++;
		pthread_cond_broadcast(&cl->room);
		pthread_mutex_unlock(&cl->lock);
		apply(cl, cl->current);
		sodium_memzero(cl->current, sizeof(*cl->current));
		pthread_mutex_lock(&cl->lock);
	}
	pthread_mutex_unlock(&cl->lock);
	return done;
}

/* Once a second: the node's load, for its record. */
static void load(struct vigil_cluster *cl)
{
	const struct vigil_cameras *c = cl->cams;
	uint64_t now = vigil_now_ns(), ctr[VIGIL_CTR_MAX], decrypted = 0;
	unsigned live = 0, online = 0, owned = 0;

	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		owned += cl->owned[slot];
		if (c->slots[slot].removed)
			continue;
		live++;
		online += vigil_cameras_liveness(c, slot, now) == VIGIL_LIVENESS_online;
		vigil_cameras_counters(c, slot, ctr);
		decrypted += ctr[VIGIL_CTR_decrypted];
	}
	__atomic_store_n(&cl->n_cameras, live, __ATOMIC_RELAXED);
	__atomic_store_n(&cl->n_online, online, __ATOMIC_RELAXED);
	__atomic_store_n(&cl->n_owned, owned, __ATOMIC_RELAXED);
	__atomic_store_n(&cl->decrypted, decrypted, __ATOMIC_RELAXED);
}

/* ---- ownership (live nodes) --------------------------------------------------- */

/* What the member thread answered: a camera taken (it continues above
 * the index its previous owner published, then its packets are taken), or
 * another node's; and, after a lease that expired, nothing owned. */
static void take_answers(struct vigil_cluster *cl)
{
	struct vigil_cameras *c = cl->cams;
	struct want a[64];
	unsigned n, gen;

	pthread_mutex_lock(&cl->lock);
	gen = cl->lease_gen;
	n = cl->n_answers < 64 ? cl->n_answers : 64;
	memcpy(a, cl->answers, n * sizeof(*a));
	memmove(cl->answers, cl->answers + n, (cl->n_answers - n) * sizeof(*a));
	cl->n_answers -= n;
	pthread_mutex_unlock(&cl->lock);
	if (gen != cl->lease_gen_seen) {
		for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++)
			if (cl->owned[slot]) {
				cl->owned[slot] = false;
				(void)vigil_stream_set_owned(c->table, slot, false);
			}
		cl->lease_gen_seen = gen;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned slot = a[i].slot;
		int rc = 0;

		cl->asked[slot] = false;
		if (a[i].failed || a[i].gen != cl->lease_gen_seen)
			continue; /* asked again if its packets go on; an old lease's key went with it */
		if (a[i].owned && (strcmp(c->cfg->cameras[slot].name, a[i].name) != 0 || c->slots[slot].removed ||
				   cl->draining)) {
			/* Taken for a camera gone meanwhile: given back. */
			cl->owned_rev[slot] = a[i].rev;
			cl->owned[slot] = true;
			release(cl, slot);
			continue;
		}
		if (!a[i].owned) {
			cl->refused_elsewhere++;
			continue;
		}
		cl->owned[slot] = true;
		cl->owned_rev[slot] = a[i].rev;
		cl->taken_ns[slot] = cl->accepted_ns[slot] = vigil_now_ns();
		cl->accepted[slot] = UINT64_MAX; /* read at the next look */
		/* The floor of the stream that was asked for: an Identity camera
		 * handshaking meanwhile has another SSRC. */
		if (a[i].has_floor && a[i].ssrc == c->cfg->cameras[slot].ssrc)
			rc = vigil_cameras_continue_from(c, slot, a[i].key_id, a[i].floor);
		(void)vigil_stream_set_owned(c->table, slot, true);
		cl->taken++;
		vigil_log(VIGIL_LOG_NOTICE, "vigild: cluster: camera %s taken by node %s%s\n", a[i].name,
			  cl->cfg->cluster.node,
			  rc > 0 ? ", continuing above the index its previous owner published"
			  : rc < 0 ? "; its stream could not be added again from the index its previous owner published"
			  : a[i].has_floor ? "" : " (no index published for its key: locked onto by trial)");
	}
}

/* An owned camera that gives this node no packet is given back: one
 * just taken that gave none within PROVE_NS (what made this node ask was
 * a replay: refused, and not asked for again for BACKOFF_NS, so a replay
 * cannot keep a camera from the node its flow goes to), and one silent
 * for OfflineSeconds (its flow went elsewhere, or it is off: the next
 * node it sends to takes it, from the index published). */
static void give_back_silent(struct vigil_cluster *cl, unsigned slot, const struct vigil_stream *s, uint64_t now)
{
	uint64_t n = __atomic_load_n(&s->ctr.v[VIGIL_CTR_decrypted], __ATOMIC_RELAXED);
	bool none_since_taken = cl->accepted_ns[slot] == cl->taken_ns[slot];

	if (n != cl->accepted[slot]) {
		if (cl->accepted[slot] != UINT64_MAX)
			cl->accepted_ns[slot] = now;
		cl->accepted[slot] = n;
		return;
	}
	if (now < cl->accepted_ns[slot] +
		      (none_since_taken ? PROVE_NS : (uint64_t)cl->cams->cfg->offline_seconds * 1000000000u))
		return;
	vigil_log(VIGIL_LOG_NOTICE, "vigild: cluster: camera %s given back by node %s: %s\n", cl->cams->cfg->cameras[slot].name,
		  cl->cfg->cluster.node,
		  none_since_taken ? "no packet of it was taken after it was taken (a replay)"
				   : "no packet of it for OfflineSeconds");
	cl->asked_ns[slot] = none_since_taken ? now + BACKOFF_NS : now;
	cl->given_back++;
	release(cl, slot);
}

/* Cameras whose authentic packets arrive here while nobody here owns
 * them: asked for, each at most once a second; owned ones that go
 * silent, given back. */
static void look_for_wants(struct vigil_cluster *cl, uint64_t now)
{
	struct vigil_cameras *c = cl->cams;

	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		const struct vigil_stream *s = c->table->slots[slot];

		if (!cl->owned[slot])
			continue;
		if (s == NULL) { /* revoked, or an Identity camera's key expired */
			release(cl, slot);
			continue;
		}
		/* A stream added again (a handshake, a rotation of a revoked
		 * camera) starts elsewhere: it is still this node's. */
		if (__atomic_load_n(&s->elsewhere, __ATOMIC_ACQUIRE) && !cl->draining)
			(void)vigil_stream_set_owned(c->table, slot, true);
		give_back_silent(cl, slot, s, now);
	}
	pthread_mutex_lock(&cl->lock);
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		const struct vigil_stream *s = c->table->slots[slot];
		uint64_t n;

		if (s == NULL || cl->owned[slot] || cl->asked[slot] || cl->draining)
			continue;
		n = __atomic_load_n(&s->ctr.v[VIGIL_CTR_not_owner], __ATOMIC_RELAXED);
		if (n == cl->not_owner_seen[slot] || now < cl->asked_ns[slot] + WANT_EVERY_NS)
			continue;
		cl->not_owner_seen[slot] = n;
		cl->asked_ns[slot] = now;
		cl->asked[slot] = want(cl, slot, false);
	}
	pthread_mutex_unlock(&cl->lock);
}

/* Once a second: the highest indices of the cameras this node took
 * packets of, for the member thread to publish when they moved. */
static void make_state(struct vigil_cluster *cl)
{
	const struct vigil_cameras *c = cl->cams;
	size_t cap = VIGIL_CLUSTER_STATE_HEAD + (size_t)c->cfg->n_cameras * VIGIL_CLUSTER_STATE_ENTRY, len;
	uint8_t *p = malloc(cap);

	if (p == NULL)
		return;
	len = vigil_cluster_state_init(p);
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		const struct vigil_state_rec *r = &c->slots[slot].persist;

		/* Every camera it has an index of (this run's or its StateDir's),
		 * owned now or not: a camera given back continues from it. */
		if (r->name[0] != '\0' && r->ssrc == c->cfg->cameras[slot].ssrc)
			len = vigil_cluster_state_add(p, len, r->ssrc, r->key_id, r->index);
	}
	if (cl->last_state != NULL && cl->last_state_len == len && memcmp(cl->last_state, p, len) == 0) {
		free(p);
		return;
	}
	free(cl->last_state);
	cl->last_state = malloc(len);
	if (cl->last_state != NULL)
		memcpy(cl->last_state, p, len);
	cl->last_state_len = len;
	pthread_mutex_lock(&cl->lock);
	free(cl->publish);
	cl->publish = p;
	cl->publish_len = len;
	pthread_cond_signal(&cl->wake);
	pthread_mutex_unlock(&cl->lock);
}

int vigil_cluster_drain(struct vigil_cluster *cl, char *msg, size_t msglen)
{
	struct vigil_cameras *c = cl->cams;
	unsigned n = 0;

	if (!c->table->ownership) {
		snprintf(msg, msglen, "node %s reads a capture: it owns no camera", cl->cfg->cluster.node);
		return -EINVAL;
	}
	if (cl->draining) {
		snprintf(msg, msglen, "node %s is draining already", cl->cfg->cluster.node);
		return -EALREADY;
	}
	__atomic_store_n(&cl->draining, true, __ATOMIC_RELAXED);
	__atomic_store_n(&cl->record_now, true, __ATOMIC_RELEASE); /* the others see it draining */
	/* No packet taken from here on; then each camera's last index, as
	 * the workers left it, published before its owners key goes: the next
	 * owner continues exactly there. */
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++)
		if (cl->owned[slot])
			(void)vigil_stream_set_owned(c->table, slot, false);
	vigil_stream_table_sync(c->table);
	vigil_cameras_second(c);
	make_state(cl);
	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++)
		if (cl->owned[slot]) {
			release(cl, slot);
			n++;
		}
	if (cl->cfg->cluster.drain_file[0] != '\0') {
		int fd = open(cl->cfg->cluster.drain_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0 || write(fd, "draining\n", 9) != 9)
			vigil_log(VIGIL_LOG_ERR, "vigild: cluster: DrainFile %s not made (%s): the routing daemon will not "
						 "see the drain; /readyz says it\n", cl->cfg->cluster.drain_file, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	snprintf(msg, msglen,
		 "node %s draining: %u camera(s) given back, their last indices published; it takes no camera from now "
		 "on, /readyz says not ready%s (routers withdraw its anycast route); it stops by itself once no "
		 "packet of its cameras came for %d s",
		 cl->cfg->cluster.node, n, cl->cfg->cluster.drain_file[0] != '\0' ? " and DrainFile is made" : "",
		 DRAIN_QUIET_S);
	return 0;
}

/* A drained node: true once its cameras' packets stopped (DRAIN_QUIET_S
 * in a row without one): the routers moved its flows. */
static bool drained(struct vigil_cluster *cl)
{
	const struct vigil_cameras *c = cl->cams;
	uint64_t rx = 0, ctr[VIGIL_CTR_MAX];

	for (unsigned slot = 0; slot < c->cfg->n_cameras; slot++) {
		vigil_cameras_counters(c, slot, ctr);
		rx += ctr[VIGIL_CTR_rx_packets];
	}
	cl->drain_quiet = rx == cl->drain_rx ? cl->drain_quiet + 1 : 0;
	cl->drain_rx = rx;
	return cl->drain_quiet >= DRAIN_QUIET_S;
}

bool vigil_cluster_poll(struct vigil_cluster *cl, struct vigil_events *events)
{
	uint64_t now;

	if (cl == NULL)
		return false;
	drain(cl);
	now = vigil_now_ns();
	if (cl->cams->table->ownership) {
		take_answers(cl);
		if (now >= cl->next_look_ns) {
			look_for_wants(cl, now);
			cl->next_look_ns = now + WANT_LOOK_NS;
		}
	}
	if (now < cl->next_second_ns)
		return false;
	cl->next_second_ns = now + 1000000000u;
	load(cl);
	if (cl->cams->table->ownership)
		make_state(cl);
	if (events != NULL) {
		uint64_t since = __atomic_load_n(&cl->down_since_ns, __ATOMIC_RELAXED);

		if (since != 0 && !cl->told_down) {
			vigil_events_emit(events, VIGIL_EVENT_cluster_etcd_lost, json_pack("{ss}", "node", cl->cfg->cluster.node));
			cl->told_down = true;
		} else if (since == 0 && cl->told_down) {
			vigil_events_emit(events, VIGIL_EVENT_cluster_etcd_back,
					  json_pack("{ss sI}", "node", cl->cfg->cluster.node, "revision",
						    (json_int_t)cl->st.revision));
			cl->told_down = false;
		}
	}
	return cl->draining && drained(cl);
}

/* <Prefix>ssrcs/XXXXXXXX: an SSRC a handshake gave, so no two nodes give
 * one to two cameras. */
static void ssrc_key(const struct vigil_cluster *cl, uint32_t ssrc, char *out, size_t len)
{
	snprintf(out, len, "%sssrcs/%08x", cl->cfg->cluster.prefix, (unsigned)ssrc);
}

/* ---- the admin socket's changes ---------------------------------------------- */

/* Until the watch brought revision back and it was applied, at most
 * CHANGE_WAIT_MS. */
static bool wait_applied(struct vigil_cluster *cl, int64_t revision)
{
	uint64_t until = vigil_now_ns() + (uint64_t)CHANGE_WAIT_MS * 1000000u;

	while (cl->st.revision < revision && vigil_now_ns() < until)
		if (drain(cl) == 0)
			usleep(2000);
	return cl->st.revision >= revision;
}

int vigil_cluster_change(struct vigil_cluster *cl, enum vigil_cluster_op op, const char *name,
			 const struct vigil_camera_config *cam, const uint8_t *key, const uint8_t *salt, char *msg,
			 size_t msglen)
{
	static const char *const verb[] = {"added", "rotated", "revoked", "removed"};
	struct vigil_cameras *c = cl->cams;
	struct vigil_camera_config *next = cl->scratch;
	char etcd_key[sizeof(cl->cameras_prefix) + VIGIL_CAMERA_NAME_MAX + 1], err[512];
	uint8_t *sealed = NULL, plain[RECORD_LEN];
	int64_t expect = 0, revision = 0;
	uint64_t refused;
	int slot, rc;
	bool done = false;

	drain(cl); /* what etcd said already, first */
	slot = vigil_cameras_find(c, name);
	if (op == VIGIL_CLUSTER_ADD) {
		rc = vigil_cameras_check_add(c, cam, msg, msglen);
		if (rc < 0)
			return rc;
		*next = *cam;
	} else {
		if (slot < 0 || c->slots[slot].removed) {
			snprintf(msg, msglen, "no camera '%s'", name);
			return -ENOENT;
		}
		expect = cl->rev[slot];
		*next = c->cfg->cameras[slot];
		if (next->has_identity) {
			sodium_memzero(next->master_key, sizeof(next->master_key));
			sodium_memzero(next->master_salt, sizeof(next->master_salt));
			next->ssrc = 0;
			next->has_rtx = false;
			next->rtcp_rsize = 0;
		}
	}
	if (op == VIGIL_CLUSTER_ROTATE && next->has_identity) {
		sodium_memzero(next, sizeof(*next));
		snprintf(msg, msglen, "camera %s agrees its keys by handshake: it rekeys by itself (a revoked one comes "
				      "back by remove, then add)", name);
		return -EINVAL;
	}
	if (op == VIGIL_CLUSTER_ROTATE) {
		memcpy(next->master_key, key, sizeof(next->master_key));
		memcpy(next->master_salt, salt, sizeof(next->master_salt));
		next->revoked = false;
	} else if (op == VIGIL_CLUSTER_REVOKE) {
		sodium_memzero(next->master_key, sizeof(next->master_key));
		sodium_memzero(next->master_salt, sizeof(next->master_salt));
		next->revoked = true;
	}
	snprintf(etcd_key, sizeof(etcd_key), "%s%s", cl->cameras_prefix, name);
	if (op == VIGIL_CLUSTER_REMOVE) {
		/* An Identity camera's last handshake and its SSRCs go with it. */
		const struct vigil_camera_config *cur = &c->cfg->cameras[slot];
		char hs_key[sizeof(etcd_key) + sizeof(HANDSHAKE_SUFFIX)], ssrcs[2][sizeof(cl->cfg->cluster.prefix) + 16];
		struct vigil_etcd_op ops[4] = {{.key = etcd_key, .expect = expect}};
		size_t n = 1;

		if (cur->has_identity) {
			snprintf(hs_key, sizeof(hs_key), "%s%s", etcd_key, HANDSHAKE_SUFFIX);
			ops[n++] = (struct vigil_etcd_op){.key = hs_key, .expect = -1};
			if (cur->ssrc != 0) {
				ssrc_key(cl, cur->ssrc, ssrcs[0], sizeof(ssrcs[0]));
				ops[n++] = (struct vigil_etcd_op){.key = ssrcs[0], .expect = -1};
			}
			if (cur->has_rtx && cur->rtx_ssrc != 0) {
				ssrc_key(cl, cur->rtx_ssrc, ssrcs[1], sizeof(ssrcs[1]));
				ops[n++] = (struct vigil_etcd_op){.key = ssrcs[1], .expect = -1};
			}
		}
		rc = vigil_etcd_txn(cl->admin, ops, n, &done, &revision, err, sizeof(err));
	} else {
		vigil_cluster_record_encode(plain, next);
		sealed = malloc(RECORD_LEN + VIGIL_ETCD_SEAL_OVERHEAD);
		if (sealed == NULL) {
			rc = -ENOMEM;
			snprintf(err, sizeof(err), "out of memory");
		} else {
			vigil_etcd_seal(cl->master, etcd_key, plain, sizeof(plain), sealed);
			rc = vigil_etcd_put_if(cl->admin, etcd_key, sealed, RECORD_LEN + VIGIL_ETCD_SEAL_OVERHEAD, expect, 0,
					       &done, &revision, err, sizeof(err));
		}
		sodium_memzero(plain, sizeof(plain));
		free(sealed);
	}
	sodium_memzero(next, sizeof(*next));
	if (rc == -ENOMEM) {
		snprintf(msg, msglen, "camera %s not %s: out of memory; nothing changed", name, verb[op]);
		return rc;
	}
	if (rc < 0) {
		snprintf(msg, msglen,
			 "camera %s not %s here: etcd did not answer (%s); a cluster's cameras change only through etcd, and "
			 "whether it took the change is unknown: look (vigilctl camera %s, on another node) before retrying",
			 name, verb[op], err, name);
		return -EIO;
	}
	if (!done) {
		snprintf(msg, msglen, "camera %s not %s: %s; nothing changed: look again (vigilctl camera %s) and retry",
			 name, verb[op],
			 op == VIGIL_CLUSTER_ADD ? "etcd has a camera of that name (added on another node meanwhile)"
						 : "it was changed on another node since this node saw it",
			 name);
		return -ESTALE;
	}
	refused = cl->st.refused;
	if (!wait_applied(cl, revision)) {
		snprintf(msg, msglen, "camera %s %s in etcd (revision %lld); this node has not seen it back from its watch "
				      "within %d ms: it applies when it does", name, verb[op], (long long)revision,
			 CHANGE_WAIT_MS);
		return 0;
	}
	if (cl->st.refused != refused) {
		snprintf(msg, msglen, "camera %s %s in etcd (revision %lld), but this node refused the record (its log "
				      "says why)", name, verb[op], (long long)revision);
		return -EINVAL;
	}
	slot = vigil_cameras_find(c, name);
	snprintf(msg, msglen, "camera %s %s through etcd (revision %lld); here it is %s", name, verb[op],
		 (long long)revision,
		 slot < 0 ? "unknown" : vigil_camera_state_name(vigil_cameras_state(c, (unsigned)slot)));
	return 0;
}

/* ---- handshakes: published by the handshake thread ----------------------------- */

/* The handshake thread: each job's transaction, in order, on a client of
 * its own; the control thread collects them in the same order. */
static void *hs_main(void *arg)
{
	struct vigil_cluster *cl = arg;

	pthread_mutex_lock(&cl->lock);
	while (!cl->stop) {
		struct hs_job *j;

		if (cl->jobs_run == cl->jobs_tail) {
			pthread_cond_wait(&cl->hs_wake, &cl->lock);
			continue;
		}
		j = &cl->jobs[cl->jobs_run % VIGIL_HS_WAITING];
		pthread_mutex_unlock(&cl->lock);
		j->done = false;
		j->rc = vigil_etcd_txn(cl->hs_client, j->ops, j->n, &j->done, &j->revision, j->err, sizeof(j->err));
		pthread_mutex_lock(&cl->lock);
		cl->jobs_run++;
	}
	pthread_mutex_unlock(&cl->lock);
	return NULL;
}

int vigil_cluster_handshake_begin(void *cluster, unsigned slot, const uint8_t ts[VIGIL_HS_TIMESTAMP_LEN],
				  uint32_t ssrc, const struct vigil_hs_rtx *rtx,
				  const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
				  const uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], unsigned tag)
{
	struct vigil_cluster *cl = cluster;
	const struct vigil_camera_config *cam = &cl->cams->cfg->cameras[slot];
	bool live = vigil_cameras_live(cl->cams, slot);
	uint8_t plain[VIGIL_CLUSTER_HANDSHAKE_LEN];
	struct vigil_cluster_handshake *hs = cl->hs;
	uint64_t now = vigil_now_ns();
	struct hs_job *j;
	size_t n = 0, k = 0;

	/* Not newer than the last one any node answered. */
	if (!sodium_is_zero(cl->hs_ts[slot], VIGIL_HS_TIMESTAMP_LEN) && vigil_hs_timestamp_cmp(ts, cl->hs_ts[slot]) <= 0)
		return -EALREADY;
	/* One a second a camera at most, whatever its key's holder sends: each
	 * is an etcd write and a key change on every node; and one at a time. */
	if (cl->hs_waits[slot] ||
	    (cl->hs_published_ns[slot] != 0 && now < cl->hs_published_ns[slot] + HS_PUBLISH_EVERY_NS))
		return -EBUSY;
	/* No answer while etcd is away: a handshake answered here alone could
	 * be answered again elsewhere (the camera tries again meanwhile). */
	if (!__atomic_load_n(&cl->etcd_up, __ATOMIC_ACQUIRE) || cl->jobs_tail - cl->jobs_head >= VIGIL_HS_WAITING)
		return -EIO;
	j = &cl->jobs[cl->jobs_tail % VIGIL_HS_WAITING];
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->identity, cam->identity, 32);
	memcpy(hs->timestamp, ts, VIGIL_HS_TIMESTAMP_LEN);
	hs->ssrc = ssrc;
	hs->has_rtx = rtx != NULL;
	if (rtx != NULL)
		hs->rtx = *rtx;
	memcpy(hs->key, key, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(hs->salt, salt, VIGIL_SRTP_MASTER_SALT_LEN);
	hs->unix_ns = (uint64_t)time(NULL) * 1000000000u;
	snprintf(hs->node, sizeof(hs->node), "%s", cl->cfg->cluster.node);
	vigil_cluster_handshake_encode(plain, hs);
	sodium_memzero(hs, sizeof(*hs));
	j->slot = slot;
	j->tag = tag;
	j->now = now;
	memcpy(j->ts, ts, VIGIL_HS_TIMESTAMP_LEN);
	snprintf(j->name, sizeof(j->name), "%s", cam->name);
	snprintf(j->hs_key, sizeof(j->hs_key), "%s%s%s", cl->cameras_prefix, cam->name, HANDSHAKE_SUFFIX);
	vigil_etcd_seal(cl->master, j->hs_key, plain, sizeof(plain), j->sealed);
	sodium_memzero(plain, sizeof(plain));
	/* In one transaction: the handshake, only if no node answered a newer
	 * one since this node saw the last (the initiation replayed to two
	 * nodes at once is answered by one); its SSRCs, only if no camera has
	 * them; the ones it replaces freed. */
	j->ops[n++] = (struct vigil_etcd_op){.key = j->hs_key, .expect = cl->hs_rev[slot], .value = j->sealed,
					     .len = sizeof(j->sealed)};
	if (!live || ssrc != cam->ssrc) {
		ssrc_key(cl, ssrc, j->ssrc_keys[k], sizeof(j->ssrc_keys[k]));
		j->ops[n++] = (struct vigil_etcd_op){.key = j->ssrc_keys[k++], .expect = 0, .value = j->name,
						     .len = strlen(j->name)};
	}
	if (rtx != NULL && (!live || !cam->has_rtx || rtx->ssrc != cam->rtx_ssrc)) {
		ssrc_key(cl, rtx->ssrc, j->ssrc_keys[k], sizeof(j->ssrc_keys[k]));
		j->ops[n++] = (struct vigil_etcd_op){.key = j->ssrc_keys[k++], .expect = 0, .value = j->name,
						     .len = strlen(j->name)};
	}
	if (cam->ssrc != 0 && cam->ssrc != ssrc) {
		ssrc_key(cl, cam->ssrc, j->ssrc_keys[k], sizeof(j->ssrc_keys[k]));
		j->ops[n++] = (struct vigil_etcd_op){.key = j->ssrc_keys[k++], .expect = -1};
	}
	if (cam->has_rtx && cam->rtx_ssrc != 0 && (rtx == NULL || rtx->ssrc != cam->rtx_ssrc)) {
		ssrc_key(cl, cam->rtx_ssrc, j->ssrc_keys[k], sizeof(j->ssrc_keys[k]));
		j->ops[n++] = (struct vigil_etcd_op){.key = j->ssrc_keys[k++], .expect = -1};
	}
	j->n = n;
	cl->hs_waits[slot] = true;
	pthread_mutex_lock(&cl->lock);
	cl->jobs_tail++;
	pthread_cond_signal(&cl->hs_wake);
	pthread_mutex_unlock(&cl->lock);
	return 0;
}

bool vigil_cluster_handshake_owns(void *cluster, unsigned slot)
{
	const struct vigil_cluster *cl = cluster;

	return !cl->cams->table->ownership || cl->owned[slot];
}

bool vigil_cluster_handshake_done(void *cluster, unsigned *tag, int *rc)
{
	struct vigil_cluster *cl = cluster;
	struct hs_job *j;
	bool finished;

	pthread_mutex_lock(&cl->lock);
	finished = cl->jobs_head != cl->jobs_run;
	pthread_mutex_unlock(&cl->lock);
	if (!finished)
		return false;
	j = &cl->jobs[cl->jobs_head % VIGIL_HS_WAITING];
	*tag = j->tag;
	cl->hs_waits[j->slot] = false;
	if (j->rc < 0) {
		vigil_log(VIGIL_LOG_WARNING, "vigild: cluster: the handshake of %s not answered: etcd did not answer "
					     "(%s)\n", j->hs_key, j->err);
		/* No answer: the next ones refused at once, until the lease
		 * thread reaches etcd again. An answer that is a refusal
		 * leaves etcd up. */
		if (j->rc == -EIO)
			set_up(cl, false, j->err);
		*rc = -EIO;
	} else if (!j->done) {
		*rc = -EALREADY;
	} else if (cl->hs_rev[j->slot] > j->revision) {
		*rc = -EALREADY; /* a newer one, another node's, applied from the watch meanwhile */
	} else {
		/* The watch may have brought it back, and applied it, first. */
		*rc = cl->hs_rev[j->slot] == j->revision ? 1 : 0;
		cl->hs_rev[j->slot] = j->revision;
		memcpy(cl->hs_ts[j->slot], j->ts, VIGIL_HS_TIMESTAMP_LEN);
		cl->hs_published_ns[j->slot] = j->now;
	}
	sodium_memzero(j->sealed, sizeof(j->sealed));
	pthread_mutex_lock(&cl->lock);
	cl->jobs_head++;
	pthread_mutex_unlock(&cl->lock);
	return true;
}

json_t *vigil_cluster_nodes(struct vigil_cluster *cl, char *msg, size_t msglen)
{
	char prefix[sizeof(cl->cameras_prefix)];
	struct vigil_cluster_stats st;
	struct vigil_etcd_kv *kvs;
	json_t *out;
	int64_t rev;
	size_t n;

	vigil_cluster_stats(cl, &st);
	out = json_pack("{ss ss sI sI sI sI sI sI sI sI}", "node", st.node, "etcd", st.etcd_up ? "up" : "unreachable",
			"revision", (json_int_t)st.revision, "applied", (json_int_t)st.applied, "refused",
			(json_int_t)st.refused, "resyncs", (json_int_t)st.resyncs, "owned", (json_int_t)st.owned, "taken",
			(json_int_t)st.taken, "owned_elsewhere", (json_int_t)st.owned_elsewhere, "given_back",
			(json_int_t)st.given_back);
	snprintf(prefix, sizeof(prefix), "%snodes/", cl->cfg->cluster.prefix);
	if (out == NULL || vigil_etcd_range(cl->admin, prefix, true, &kvs, &n, &rev, msg, msglen) < 0) {
		/* What this node knows, and why there is no list. */
		json_object_set_new(out, "nodes_error", json_string(msg));
		return out;
	}
	json_t *nodes = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *node = json_loadb((const char *)kvs[i].value, kvs[i].value_len, 0, NULL);

		if (json_is_object(node))
			json_array_append_new(nodes, node);
		else
			json_decref(node);
	}
	vigil_etcd_kvs_free(kvs, n);
	json_object_set_new(out, "nodes", nodes);
	return out;
}

void vigil_cluster_stats(const struct vigil_cluster *cl, struct vigil_cluster_stats *s)
{
	*s = cl->st;
	s->etcd_up = __atomic_load_n(&cl->etcd_up, __ATOMIC_ACQUIRE);
	s->synced = __atomic_load_n(&cl->synced, __ATOMIC_ACQUIRE);
	s->down_since_ns = __atomic_load_n(&cl->down_since_ns, __ATOMIC_RELAXED);
	s->resyncs = __atomic_load_n(&cl->resyncs, __ATOMIC_RELAXED);
	s->node = cl->cfg->cluster.node;
	s->owned = 0; /* now, not as of the last second (the control thread's) */
	for (unsigned slot = 0; cl->cams != NULL && slot < cl->cams->cfg->n_cameras; slot++)
		s->owned += cl->owned[slot];
	s->taken = cl->taken;
	s->owned_elsewhere = cl->refused_elsewhere;
	s->given_back = cl->given_back;
	s->draining = cl->draining;
}

/* ---- life ------------------------------------------------------------------------ */

struct vigil_cluster *vigil_cluster_open(const struct vigil_config *cfg, const uint8_t *master, char *msg,
					 size_t msglen)
{
	struct vigil_cluster *cl = calloc(1, sizeof(*cl));

	if (cl == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		free(cl);
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	cl->cfg = cfg;
	cl->started = time(NULL);
	pthread_mutex_init(&cl->lock, NULL);
	pthread_cond_init(&cl->room, NULL);
	pthread_cond_init(&cl->wake, NULL);
	pthread_cond_init(&cl->hs_wake, NULL);
	snprintf(cl->cameras_prefix, sizeof(cl->cameras_prefix), "%scameras/", cfg->cluster.prefix);
	snprintf(cl->node_key, sizeof(cl->node_key), "%snodes/%s", cfg->cluster.prefix, cfg->cluster.node);
	cl->master = sodium_malloc(32);
	cl->queue = sodium_allocarray(QUEUE_LEN, sizeof(*cl->queue));
	cl->current = sodium_malloc(sizeof(*cl->current));
	cl->scratch = sodium_malloc(sizeof(*cl->scratch));
	cl->previous = sodium_malloc(sizeof(*cl->previous));
	cl->hs = sodium_malloc(sizeof(*cl->hs));
	cl->hs_rev = calloc(cfg->max_cameras, sizeof(*cl->hs_rev));
	cl->hs_ts = calloc(cfg->max_cameras, sizeof(*cl->hs_ts));
	cl->hs_seen = calloc(cfg->max_cameras, sizeof(*cl->hs_seen));
	cl->hs_published_ns = calloc(cfg->max_cameras, sizeof(*cl->hs_published_ns));
	cl->hs_waits = calloc(cfg->max_cameras, sizeof(*cl->hs_waits));
	cl->jobs = calloc(VIGIL_HS_WAITING, sizeof(*cl->jobs));
	cl->rev = calloc(cfg->max_cameras, sizeof(*cl->rev));
	cl->seen = calloc(cfg->max_cameras, sizeof(*cl->seen));
	cl->owned = calloc(cfg->max_cameras, sizeof(*cl->owned));
	cl->asked = calloc(cfg->max_cameras, sizeof(*cl->asked));
	cl->not_owner_seen = calloc(cfg->max_cameras, sizeof(*cl->not_owner_seen));
	cl->asked_ns = calloc(cfg->max_cameras, sizeof(*cl->asked_ns));
	cl->owned_rev = calloc(cfg->max_cameras, sizeof(*cl->owned_rev));
	cl->taken_ns = calloc(cfg->max_cameras, sizeof(*cl->taken_ns));
	cl->accepted = calloc(cfg->max_cameras, sizeof(*cl->accepted));
	cl->accepted_ns = calloc(cfg->max_cameras, sizeof(*cl->accepted_ns));
	cl->wants = calloc(2 * (size_t)cfg->max_cameras, sizeof(*cl->wants)); /* an ask and a release a camera */
	cl->answers = calloc(2 * (size_t)cfg->max_cameras, sizeof(*cl->answers));
	if (cl->master == NULL || cl->queue == NULL || cl->current == NULL || cl->scratch == NULL || cl->previous == NULL ||
	    cl->hs == NULL || cl->hs_rev == NULL || cl->hs_ts == NULL || cl->hs_seen == NULL ||
	    cl->hs_published_ns == NULL || cl->hs_waits == NULL || cl->jobs == NULL || cl->rev == NULL || cl->seen == NULL ||
	    cl->owned == NULL || cl->asked == NULL || cl->not_owner_seen == NULL || cl->asked_ns == NULL ||
	    cl->owned_rev == NULL || cl->taken_ns == NULL || cl->accepted == NULL || cl->accepted_ns == NULL ||
	    cl->wants == NULL || cl->answers == NULL) {
		snprintf(msg, msglen, "out of memory");
		vigil_cluster_free(cl);
		return NULL;
	}
	memcpy(cl->master, master, 32);
	/* A node that starts is not draining (a drain lasts until vigild stops). */
	if (cfg->cluster.drain_file[0] != '\0' && unlink(cfg->cluster.drain_file) < 0 && errno != ENOENT)
		vigil_log(VIGIL_LOG_WARNING, "vigild: cluster: DrainFile %s left from a drain cannot be removed: %s\n",
			  cfg->cluster.drain_file, strerror(errno));
	cl->admin = vigil_etcd_open(cfg->cluster.etcd, msg, msglen);
	cl->watch = cl->admin != NULL ? vigil_etcd_open(cfg->cluster.etcd, msg, msglen) : NULL;
	cl->member = cl->watch != NULL ? vigil_etcd_open(cfg->cluster.etcd, msg, msglen) : NULL;
	cl->hs_client = cl->member != NULL ? vigil_etcd_open(cfg->cluster.etcd, msg, msglen) : NULL;
	if (cl->hs_client == NULL) {
		vigil_cluster_free(cl);
		return NULL;
	}
	if (cfg->cluster.key_file[0] != '\0') {
		struct stat st;

		/* As the other key files: vigild's or root's, nobody else's to read. */
		const char *why = stat(cfg->cluster.key_file, &st) < 0 ? strerror(errno)
				  : !S_ISREG(st.st_mode) || (st.st_mode & 077) || (st.st_uid != geteuid() && st.st_uid != 0)
				      ? "must be a plain file of vigild's (or root's), mode 0600 or stricter"
				      : NULL;

		if (why != NULL) {
			snprintf(msg, msglen, "EtcdKeyFile %s: %s", cfg->cluster.key_file, why);
			vigil_cluster_free(cl);
			return NULL;
		}
	}
	if (vigil_etcd_tls(cl->admin, cfg->cluster.ca_file, cfg->cluster.cert_file, cfg->cluster.key_file) < 0 ||
	    vigil_etcd_tls(cl->watch, cfg->cluster.ca_file, cfg->cluster.cert_file, cfg->cluster.key_file) < 0 ||
	    vigil_etcd_tls(cl->member, cfg->cluster.ca_file, cfg->cluster.cert_file, cfg->cluster.key_file) < 0 ||
	    vigil_etcd_tls(cl->hs_client, cfg->cluster.ca_file, cfg->cluster.cert_file, cfg->cluster.key_file) < 0) {
		snprintf(msg, msglen, "out of memory");
		vigil_cluster_free(cl);
		return NULL;
	}
	return cl;
}

int vigil_cluster_start(struct vigil_cluster *cl, struct vigil_cameras *c, unsigned wait_ms)
{
	uint64_t until = vigil_now_ns() + (uint64_t)wait_ms * 1000000u;
	int rc;

	cl->cams = c;
	rc = pthread_create(&cl->watch_thread, NULL, watch_main, cl);
	if (rc == 0) {
		rc = pthread_create(&cl->member_thread, NULL, member_main, cl);
		if (rc != 0) {
			cl->stop = cl->watch_abort = true;
			pthread_join(cl->watch_thread, NULL);
		}
	}
	if (rc == 0) {
		rc = pthread_create(&cl->hs_thread, NULL, hs_main, cl);
		if (rc != 0) {
			pthread_mutex_lock(&cl->lock);
			cl->stop = cl->watch_abort = true;
			pthread_cond_broadcast(&cl->wake);
			pthread_mutex_unlock(&cl->lock);
			pthread_join(cl->watch_thread, NULL);
			pthread_join(cl->member_thread, NULL);
		}
	}
	if (rc != 0)
		return -rc;
	pthread_setname_np(cl->watch_thread, "vigil-etcd-watch");
	pthread_setname_np(cl->member_thread, "vigil-etcd-lease");
	pthread_setname_np(cl->hs_thread, "vigil-etcd-hs");
	cl->threads = true;
	while (!__atomic_load_n(&cl->synced, __ATOMIC_ACQUIRE) && vigil_now_ns() < until)
		if (drain(cl) == 0)
			usleep(5000);
	drain(cl);
	return __atomic_load_n(&cl->synced, __ATOMIC_ACQUIRE) ? 0 : -EIO;
}

void vigil_cluster_leave(struct vigil_cluster *cl)
{
	char msg[512];

	if (cl == NULL || cl->cams == NULL || !cl->cams->table->ownership)
		return;
	/* The workers have stopped: each index is final. Published (from this
	 * thread, the member thread may be away) before the lease, and the
	 * owners keys with it, goes. */
	vigil_cameras_second(cl->cams);
	make_state(cl);
	if (publish_state(cl, cl->admin, msg, sizeof(msg)) < 0)
		vigil_log(VIGIL_LOG_WARNING, "vigild: cluster: the last indices not published (%s): a camera taken over "
					     "from this node continues from the ones a second older\n", msg);
}

void vigil_cluster_free(struct vigil_cluster *cl)
{
	if (cl == NULL)
		return;
	if (cl->threads) {
		pthread_mutex_lock(&cl->lock);
		cl->stop = cl->watch_abort = true;
		pthread_cond_broadcast(&cl->room);
		pthread_cond_broadcast(&cl->wake);
		pthread_cond_broadcast(&cl->hs_wake);
		pthread_mutex_unlock(&cl->lock);
		pthread_join(cl->watch_thread, NULL);
		pthread_join(cl->member_thread, NULL);
		pthread_join(cl->hs_thread, NULL);
	}
	vigil_etcd_close(cl->admin);
	vigil_etcd_close(cl->watch);
	vigil_etcd_close(cl->member);
	vigil_etcd_close(cl->hs_client);
	sodium_free(cl->master);
	sodium_free(cl->queue);
	sodium_free(cl->current);
	sodium_free(cl->scratch);
	sodium_free(cl->previous);
	sodium_free(cl->hs);
	free(cl->hs_rev);
	free(cl->hs_ts);
	free(cl->hs_seen);
	free(cl->hs_published_ns);
	free(cl->hs_waits);
	free(cl->jobs);
	free(cl->rev);
	free(cl->seen);
	free(cl->owned);
	free(cl->asked);
	free(cl->not_owner_seen);
	free(cl->asked_ns);
	free(cl->owned_rev);
	free(cl->taken_ns);
	free(cl->accepted);
	free(cl->accepted_ns);
	free(cl->wants);
	free(cl->answers);
	free(cl->publish);
	free(cl->last_state);
	pthread_mutex_destroy(&cl->lock);
	pthread_cond_destroy(&cl->room);
	pthread_cond_destroy(&cl->wake);
	pthread_cond_destroy(&cl->hs_wake);
	free(cl);
}
