/* SPDX-License-Identifier: MIT */
/* Prometheus metrics, /healthz and /readyz (metrics.h). libmicrohttpd runs
 * a thread per connection, at most HTTP_CONNECTIONS of them, each closed
 * after HTTP_TIMEOUT_S idle; a request for /metrics waits (at most
 * PAGE_WAIT_MS) for the control loop to make the page, so no HTTP thread
 * ever reads what the control loop changes (cameras, reloads). Every family
 * comes from a list: the counters' (proto/counters.h), the recorder's
 * (record/stats.h), the cameras' states and liveness (control/cameras.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <rte_cycles.h>
#include <rte_ring.h>

#include "vigil/clock.h"
#include "metrics.h"
#include "summary.h"

#define HTTP_CONNECTIONS 8
#define HTTP_TIMEOUT_S 10
#define PAGE_WAIT_MS 2000
#define READY_EVERY_NS 1000000000u

struct vigil_metrics {
	struct MHD_Daemon *d;
	bool per_camera;
	pthread_mutex_t lock;
	pthread_cond_t made; /* a page was made */
	bool wanted;	     /* a scrape waits for a page */
	uint64_t page_gen;
	char *page;
	size_t page_len;
	char not_ready[256]; /* "": ready */
	/* Kept by the control loop: the workers' busy ticks at the last page. */
	uint64_t busy_prev[VIGIL_MAX_WORKERS], tsc_prev;
	uint64_t next_ready_ns;
};

/* --- the page --- */

/* A label value: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{camera="c",label="value"} n; camera and label may be NULL. */
static void sample(FILE *f, const char *name, const char *camera, const char *label, const char *value, uint64_t n)
{
	fputs(name, f);
	if (camera != NULL || label != NULL) {
		fputc('{', f);
		if (camera != NULL) {
			fputs("camera=\"", f);
			put_label(f, camera);
			fputs(label != NULL ? "\"," : "\"", f);
		}
		if (label != NULL) {
			fprintf(f, "%s=\"", label);
			put_label(f, value);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %llu\n", (unsigned long long)n);
}

/* What the page shows of one camera, or of the totals. */
struct counted {
	const uint64_t *ctr;			 /* VIGIL_CTR_MAX */
	const struct vigil_recorder_stats *rs;
};

/* The counters' and the recorder's families, with prefix vigil_ (the
 * totals) or vigil_camera_ (a camera each: one walk per family, as the
 * format wants a family's samples together). */
struct walk {
	const struct vigil_commands *k;
	FILE *f;
	void (*put)(struct walk *w, const char *camera, const struct counted *c);
	unsigned index; /* put_counter: the counter; put_rec_count: the place in the recorder's list */
	char metric[128];
};

static void each_camera(void *arg, unsigned slot, const uint64_t *ctr, const struct vigil_recorder_stats *rs)
{
	struct walk *w = arg;

	w->put(w, w->k->cams->cfg->cameras[slot].name, &(struct counted){ctr, rs});
}

static void walk(struct walk *w, const char *camera, const struct counted *totals)
{
	uint64_t total[VIGIL_CTR_MAX];
	struct vigil_recorder_stats rec_total;

	if (totals != NULL) {
		w->put(w, camera, totals);
		return;
	}
	vigil_summary_walk(w->k->cams, w->k->ws->w, w->k->ws->n, w->k->rec, total, &rec_total, each_camera, w);
}

/* The counters outside the families below, one family each. */
static bool counter_alone(unsigned i)
{
	static const enum vigil_counter grouped[] = {
#define VIGIL_X_ENUM(name, help) VIGIL_CTR_##name,
	    VIGIL_FOREACH_PKT_DROP(VIGIL_X_ENUM) VIGIL_FOREACH_PKT_OUTCOME(VIGIL_X_ENUM)
		VIGIL_FOREACH_FRAME_DROP(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
	};

	for (size_t g = 0; g < sizeof(grouped) / sizeof(grouped[0]); g++)
		if (grouped[g] == i)
			return false;
	return true;
}

static void put_counter(struct walk *w, const char *camera, const struct counted *c)
{
	sample(w->f, w->metric, camera, NULL, NULL, c->ctr[w->index]);
}

static void put_pkt_drops(struct walk *w, const char *camera, const struct counted *c)
{
#define VIGIL_X_PUT(name, help) sample(w->f, w->metric, camera, "reason", #name, c->ctr[VIGIL_CTR_##name]);
	VIGIL_FOREACH_PKT_DROP(VIGIL_X_PUT)
#undef VIGIL_X_PUT
}

static void put_outcomes(struct walk *w, const char *camera, const struct counted *c)
{
#define VIGIL_X_PUT(name, help) sample(w->f, w->metric, camera, "outcome", #name, c->ctr[VIGIL_CTR_##name]);
	VIGIL_FOREACH_PKT_OUTCOME(VIGIL_X_PUT)
#undef VIGIL_X_PUT
}

static void put_frame_drops(struct walk *w, const char *camera, const struct counted *c)
{
#define VIGIL_X_PUT(name, help) sample(w->f, w->metric, camera, "reason", #name, c->ctr[VIGIL_CTR_##name]);
	VIGIL_FOREACH_FRAME_DROP(VIGIL_X_PUT)
#undef VIGIL_X_PUT
	sample(w->f, w->metric, camera, "reason", "recorder_dropped", c->rs->frames_dropped);
}

/* The recorder's counters, by their place in its list. */
static void put_rec_count(struct walk *w, const char *camera, const struct counted *c)
{
	unsigned i = 0;

#define VIGIL_X_COUNT(field, key, where, help)                                                                 \
	if (i++ == w->index)                                                                              \
		sample(w->f, w->metric, camera, NULL, NULL, c->rs->field);
#define VIGIL_X_NONE(field, key, where, help) i++;
	VIGIL_FOREACH_REC_STAT(VIGIL_X_COUNT, VIGIL_X_NONE, VIGIL_X_NONE, VIGIL_X_NONE)
#undef VIGIL_X_COUNT
#undef VIGIL_X_NONE
}

static void put_rec_causes(struct walk *w, const char *camera, const struct counted *c)
{
	for (unsigned k = 0; k < VIGIL_REC_CAUSES; k++)
		if (vigil_recorder_cause_name(k) != NULL)
			sample(w->f, w->metric, camera, "cause", vigil_recorder_cause_name(k), c->rs->errors[k]);
}

/* Bucket k of the recorder's latencies holds those under 2^k us (the last
 * one, all the longer ones too). */
static void put_write_histogram(struct walk *w, const char *camera, const struct counted *c)
{
	const uint64_t *b = c->rs->write_latency;
	char name[sizeof(w->metric) + 8], le[32];
	uint64_t cum = 0;

	snprintf(name, sizeof(name), "%s_bucket", w->metric);
	for (unsigned k = 0; k + 1 < VIGIL_LATENCY_BUCKETS; k++) {
		cum += b[k];
		snprintf(le, sizeof(le), "%g", (double)(UINT64_C(1) << k) / 1e6);
		sample(w->f, name, camera, "le", le, cum);
	}
	cum += b[VIGIL_LATENCY_BUCKETS - 1];
	sample(w->f, name, camera, "le", "+Inf", cum);
	fprintf(w->f, "%s_sum", w->metric);
	if (camera != NULL) {
		fputs("{camera=\"", w->f);
		put_label(w->f, camera);
		fputs("\"}", w->f);
	}
	fprintf(w->f, " %.9f\n", (double)b[VIGIL_LATENCY_SUM] / 1e9);
	snprintf(name, sizeof(name), "%s_count", w->metric);
	sample(w->f, name, camera, NULL, NULL, cum);
}

/* One family: its HELP and TYPE, then its samples, put by put for the
 * totals or for each camera. */
static void family_walk(struct walk *w, const char *type, const char *help,
			void (*put)(struct walk *w, const char *camera, const struct counted *c),
			const struct counted *totals)
{
	family(w->f, w->metric, type, help);
	w->put = put;
	walk(w, NULL, totals);
}

/* Every family of the counters' and the recorder's lists, for the totals
 * (totals not NULL) or per camera. */
static void counter_families(struct walk *w, const char *prefix, const struct counted *totals)
{
	const char *per = totals != NULL ? "" : " (a camera's)";
	char help[2048];

	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++) {
		if (!counter_alone(i))
			continue;
		/* "decrypted" names packets, as rx_packets does */
		snprintf(w->metric, sizeof(w->metric), "%s%s%s_total", prefix, vigil_counter_names[i],
			 i == VIGIL_CTR_decrypted ? "_packets" : "");
		snprintf(help, sizeof(help), "%s%s", vigil_counter_help[i], per);
		w->index = i;
		family_walk(w, "counter", help, put_counter, totals);
	}
	/* A family's help names each of its labels' values, from the list. */
#define VIGIL_X_HELP(name, help_) #name ": " help_ "; "
	snprintf(w->metric, sizeof(w->metric), "%sdropped_packets_total", prefix);
	snprintf(help, sizeof(help), "packets dropped%s, by reason: %s", per,
		 VIGIL_FOREACH_PKT_DROP(VIGIL_X_HELP));
	family_walk(w, "counter", help, put_pkt_drops, totals);
	snprintf(w->metric, sizeof(w->metric), "%spackets_total", prefix);
	snprintf(help, sizeof(help), "received packets neither decrypted nor dropped%s, by outcome: %s", per,
		 VIGIL_FOREACH_PKT_OUTCOME(VIGIL_X_HELP));
	family_walk(w, "counter", help, put_outcomes, totals);
	snprintf(w->metric, sizeof(w->metric), "%sframes_dropped_total", prefix);
	snprintf(help, sizeof(help), "frames dropped%s, by reason: %srecorder_dropped: %s", per,
		 VIGIL_FOREACH_FRAME_DROP(VIGIL_X_HELP), VIGIL_REC_DROPPED_HELP);
#undef VIGIL_X_HELP
	family_walk(w, "counter", help, put_frame_drops, totals);

	w->index = 0;
#define VIGIL_X_COUNT(field, key, where, help_)                                                              \
	if (strcmp(#key, "recorder_dropped") != 0) { /* a reason of frames_dropped above */                 \
		snprintf(w->metric, sizeof(w->metric), "%s%s_total", prefix, #key);                              \
		snprintf(help, sizeof(help), "%s%s", help_, per);                                            \
		family_walk(w, "counter", help, put_rec_count, totals);                                      \
	}                                                                                                    \
	w->index++;
#define VIGIL_X_LATENCY(field, key, where, help_)                                                            \
	snprintf(w->metric, sizeof(w->metric), "%s%s_duration_seconds", prefix, #key);                           \
	snprintf(help, sizeof(help), "%s%s", "how long the recorder's io_uring writes took", per);           \
	family_walk(w, "histogram", help, put_write_histogram, totals);                                         \
	w->index++;
#define VIGIL_X_BY_CAUSE(field, key, where, help_)                                                           \
	snprintf(w->metric, sizeof(w->metric), "%srecorder_%s_total", prefix, #key);                             \
	snprintf(help, sizeof(help), "the recorder's errors by cause%s", per);                               \
	family_walk(w, "counter", help, put_rec_causes, totals);                                                \
	w->index++;
#define VIGIL_X_GAUGE(field, key, where, help_) w->index++;
	VIGIL_FOREACH_REC_STAT(VIGIL_X_COUNT, VIGIL_X_GAUGE, VIGIL_X_LATENCY, VIGIL_X_BY_CAUSE)
#undef VIGIL_X_COUNT
#undef VIGIL_X_LATENCY
#undef VIGIL_X_BY_CAUSE
#undef VIGIL_X_GAUGE
}

static void ring_sample(FILE *f, const char *ring, const struct rte_ring *r)
{
	if (r != NULL)
		fprintf(f, "vigil_ring_used_ratio{ring=\"%s\"} %.6f\n", ring,
			(double)rte_ring_count(r) / rte_ring_get_capacity(r));
}

static void disk_free(FILE *f, const char *dir)
{
	struct statvfs sv;

	if (dir[0] == '\0' || statvfs(dir, &sv) < 0)
		return;
	fputs("vigil_disk_free_bytes{dir=\"", f);
	put_label(f, dir);
	fprintf(f, "\"} %llu\n", (unsigned long long)sv.f_bavail * sv.f_frsize);
}

/* The rest: rings, workers, keys, disk, cameras by state and liveness. */
static void gauges(FILE *f, const struct vigil_commands *k, struct vigil_metrics *m)
{
	const struct vigil_cameras *cams = k->cams;
	const struct vigil_workers *ws = k->ws;
	uint64_t now = vigil_now_ns(), tsc = rte_rdtsc(), key_age = 0;
	unsigned by[VIGIL_CAMERA_REMOVED + 1][VIGIL_LIVENESS_MAX] = {{0}};
	char name[64];

	family(f, "vigil_ring_used_ratio", "gauge",
	       "how full each ring is: frames to a recorder, packets handed to a worker, handshakes");
	for (unsigned w = 0; w < ws->n; w++)
		for (unsigned r = 0; r < ws->n_recorders; r++) {
			snprintf(name, sizeof(name), "frames_w%u_r%u", w, r);
			ring_sample(f, name, ws->frames[vigil_frame_ring_index(w, r, ws->n_recorders)]->ring);
		}
	for (unsigned w = 0; w < ws->n && ws->n > 1; w++) {
		snprintf(name, sizeof(name), "handoff_w%u", w);
		ring_sample(f, name, ws->shared.inbound[w]);
	}
	ring_sample(f, "handshakes", ws->to_control);
	ring_sample(f, "handshakes_proven", ws->to_control_proven);
	ring_sample(f, "handshake_replies", ws->from_control);

	family(f, "vigil_worker_busy_ratio", "gauge",
	       "the share of a worker's time spent on packets, since the last scrape (since start at the first)");
	for (unsigned w = 0; w < ws->n; w++) {
		uint64_t busy = __atomic_load_n(&ws->w[w].busy_tsc, __ATOMIC_RELAXED);
		uint64_t from = m->tsc_prev != 0 ? m->tsc_prev : ws->w[w].tsc0;
		double ratio = tsc > from ? (double)(busy - m->busy_prev[w]) / (double)(tsc - from) : 0;

		fprintf(f, "vigil_worker_busy_ratio{worker=\"%u\"} %.6f\n", w, ratio > 1 ? 1 : ratio);
		m->busy_prev[w] = busy;
	}
	m->tsc_prev = tsc;
	family(f, "vigil_worker_held_packets", "gauge",
	       "packets a worker holds after gaps, waiting for reordered or retransmitted ones (at most "
	       RTE_STR(VIGIL_HOLD_PACKETS) ")");
	for (unsigned w = 0; w < ws->n; w++)
		fprintf(f, "vigil_worker_held_packets{worker=\"%u\"} %u\n", w,
			__atomic_load_n(&ws->w[w].reorder.n_held, __ATOMIC_RELAXED));

	for (unsigned i = 0; i < cams->cfg->n_cameras; i++) {
		enum vigil_camera_state st = vigil_cameras_state(cams, i);

		by[st][vigil_cameras_liveness(cams, i, now)]++;
		if (st == VIGIL_CAMERA_LIVE && cams->slots[i].key_since_ns != 0 &&
		    now - cams->slots[i].key_since_ns > key_age)
			key_age = now - cams->slots[i].key_since_ns;
	}
	family(f, "vigil_key_age_max_seconds", "gauge",
	       "the oldest key a handshake camera is sending under, since its handshake");
	fprintf(f, "vigil_key_age_max_seconds %.3f\n", (double)key_age / 1e9);
	family(f, "vigil_keys_over_rekey_total", "counter",
	       "handshake cameras' keys past 1.5 x RekeySeconds (or RekeyPackets): kept once under load, or refused");
	fprintf(f, "vigil_keys_over_rekey_total %llu\n",
		(unsigned long long)(cams->keys_extended + cams->keys_expired));
	family(f, "vigil_disk_free_bytes", "gauge", "bytes free to vigild on RecordDir's and StateDir's filesystems");
	disk_free(f, cams->cfg->record_dir);
	disk_free(f, cams->cfg->state_dir);
	family(f, "vigil_crypto_info", "gauge", "the engine that decrypts SRTP (Crypto): libsodium or cryptodev:DEVICE");
	fprintf(f, "vigil_crypto_info{engine=\"");
	put_label(f, k->crypto != NULL ? k->crypto : "libsodium");
	fprintf(f, "\"} 1\n");
	family(f, "vigil_ready", "gauge", "1 when /readyz says ready, else 0 (it says why)");
	fprintf(f, "vigil_ready %d\n", m->not_ready[0] == '\0');
	family(f, "vigil_cameras", "gauge", "cameras by state (live, handshake, revoked, removed) and liveness");
	for (unsigned st = 0; st <= VIGIL_CAMERA_REMOVED; st++)
		for (unsigned l = 0; l < VIGIL_LIVENESS_MAX; l++)
			fprintf(f, "vigil_cameras{state=\"%s\",liveness=\"%s\"} %u\n", vigil_camera_state_name(st),
				vigil_liveness_name(l), by[st][l]);
}

/* Events (events.h), from their list: how many of each, and what was lost. */
static void event_families(FILE *f, const struct vigil_events *e)
{
	struct vigil_events_counts n;

	if (e == NULL)
		return;
	vigil_events_counts(e, &n);
	family(f, "vigil_events_total", "counter", "events made, by type (README: Events)");
	for (unsigned t = 0; t < VIGIL_EVENT_MAX; t++)
		fprintf(f, "vigil_events_total{type=\"%s\"} %llu\n", vigil_event_name(t),
			(unsigned long long)n.emitted[t]);
	family(f, "vigil_events_dropped_total", "counter",
	       "events lost: the EventHook's queue (EventQueue) was full, or the recorder's ring of closed segments");
	fprintf(f, "vigil_events_dropped_total %llu\n", (unsigned long long)n.dropped);
	family(f, "vigil_event_hook_queued", "gauge", "events waiting for the EventHook's receiver");
	fprintf(f, "vigil_event_hook_queued %llu\n", (unsigned long long)n.webhook_queued);
	family(f, "vigil_event_hook_failures_total", "counter", "POSTs to the EventHook that failed (then retried)");
	fprintf(f, "vigil_event_hook_failures_total %llu\n", (unsigned long long)n.webhook_failures);
	family(f, "vigil_event_watchers_dropped_total", "counter",
	       "vigilctl watch connections dropped for falling behind");
	fprintf(f, "vigil_event_watchers_dropped_total %llu\n", (unsigned long long)n.watchers_dropped);
}

/* [Cluster] (cluster.h): etcd reached, the registry's revision, records. */
static void cluster_families(FILE *f, const struct vigil_cluster *cl)
{
	struct vigil_cluster_stats s;

	if (cl == NULL)
		return;
	vigil_cluster_stats(cl, &s);
	family(f, "vigil_cluster_etcd_up", "gauge", "1 while this cluster node reaches etcd");
	sample(f, "vigil_cluster_etcd_up", NULL, "node", s.node, s.etcd_up);
	family(f, "vigil_cluster_revision", "gauge", "etcd's revision of the last camera change this node applied");
	fprintf(f, "vigil_cluster_revision %lld\n", (long long)s.revision);
	family(f, "vigil_cluster_records_applied_total", "counter", "camera records from etcd applied here");
	fprintf(f, "vigil_cluster_records_applied_total %llu\n", (unsigned long long)s.applied);
	family(f, "vigil_cluster_records_refused_total", "counter",
	       "camera records from etcd not applied: not opening under the master key, or refused as a keystore change would be");
	fprintf(f, "vigil_cluster_records_refused_total %llu\n", (unsigned long long)s.refused);
	family(f, "vigil_cluster_resyncs_total", "counter", "every camera read from etcd again (at start, after a compaction)");
	fprintf(f, "vigil_cluster_resyncs_total %llu\n", (unsigned long long)s.resyncs);
	family(f, "vigil_cluster_cameras_owned", "gauge", "cameras whose packets this node takes (it holds their ownership in etcd)");
	fprintf(f, "vigil_cluster_cameras_owned %u\n", s.owned);
	family(f, "vigil_cluster_takeovers_total", "counter", "cameras this node took: it received their packets and nobody owned them");
	fprintf(f, "vigil_cluster_takeovers_total %llu\n", (unsigned long long)s.taken);
	family(f, "vigil_cluster_owned_elsewhere_total", "counter", "asks for a camera whose packets came here while another node owned it");
	fprintf(f, "vigil_cluster_owned_elsewhere_total %llu\n", (unsigned long long)s.owned_elsewhere);
	family(f, "vigil_cluster_given_back_total", "counter",
	       "owned cameras given back: no packet for OfflineSeconds, or none within 2 s of being taken (a replay)");
	fprintf(f, "vigil_cluster_given_back_total %llu\n", (unsigned long long)s.given_back);
}

/* [Storage] (record/upload.h): what went up, what failed, the spool. */
static void storage_families(FILE *f, const struct vigil_uploader *u)
{
	struct vigil_upload_stats s;
	const struct vigil_upload_stats *st = &s;
	uint64_t oldest, now = vigil_clock_ns(CLOCK_REALTIME);

	if (u == NULL)
		return;
	vigil_uploader_stats(u, &s);
	oldest = s.spool_oldest_ns;
	family(f, "vigil_uploaded_segments_total", "counter", "segments in the object store ([Storage])");
	fprintf(f, "vigil_uploaded_segments_total %llu\n", (unsigned long long)st->uploaded_segments);
	family(f, "vigil_uploaded_bytes_total", "counter", "their bytes");
	fprintf(f, "vigil_uploaded_bytes_total %llu\n", (unsigned long long)st->uploaded_bytes);
	family(f, "vigil_upload_failures_total", "counter", "requests to the object store that failed (then retried), by cause");
	for (unsigned i = 0; i < VIGIL_UPLOAD_FAILURES; i++)
		fprintf(f, "vigil_upload_failures_total{cause=\"%s\"} %llu\n", vigil_upload_failure_name[i],
			(unsigned long long)st->failures[i]);
	family(f, "vigil_spool_bytes", "gauge", "bytes of closed segments on disk not yet in the object store (SpoolBytes bounds it)");
	fprintf(f, "vigil_spool_bytes %llu\n", (unsigned long long)st->spool_bytes);
	family(f, "vigil_spool_segments", "gauge", "closed segments on disk not yet in the object store");
	fprintf(f, "vigil_spool_segments %llu\n", (unsigned long long)st->spool_segments);
	family(f, "vigil_spool_oldest_seconds", "gauge", "how long the oldest of them has waited (0: none)");
	fprintf(f, "vigil_spool_oldest_seconds %llu\n",
		(unsigned long long)(oldest != 0 && now > oldest ? (now - oldest) / 1000000000u : 0));
}

static void playback_families(FILE *f, const struct vigil_playback *pb)
{
	uint64_t n[VIGIL_PLAYBACK_OUTCOMES];

	if (pb == NULL)
		return;
	vigil_playback_counts(pb, n);
	family(f, "vigil_playback_requests_total", "counter",
	       "requests to PlaybackListen, by outcome: what was served, or why not");
	for (unsigned i = 0; i < VIGIL_PLAYBACK_OUTCOMES; i++)
		fprintf(f, "vigil_playback_requests_total{outcome=\"%s\"} %llu\n", vigil_playback_outcome_name[i],
			(unsigned long long)n[i]);
}

/* A camera's liveness and the time of its last authentic packet. */
static void camera_gauges(FILE *f, const struct vigil_commands *k)
{
	const struct vigil_cameras *cams = k->cams;
	uint64_t now = vigil_now_ns(), wall = vigil_clock_ns(CLOCK_REALTIME);

	family(f, "vigil_camera_info", "gauge", "1 for each camera, with its state and liveness");
	for (unsigned i = 0; i < cams->cfg->n_cameras; i++) {
		fputs("vigil_camera_info{camera=\"", f);
		put_label(f, cams->cfg->cameras[i].name);
		fprintf(f, "\",state=\"%s\",liveness=\"%s\"} 1\n", vigil_camera_state_name(vigil_cameras_state(cams, i)),
			vigil_liveness_name(vigil_cameras_liveness(cams, i, now)));
	}
	family(f, "vigil_camera_last_packet_timestamp_seconds", "gauge",
	       "when a camera's last authentic packet was seen (Unix time, to the second); cameras never seen left out");
	for (unsigned i = 0; i < cams->cfg->n_cameras; i++)
		if (cams->slots[i].seen_ns != 0) {
			fputs("vigil_camera_last_packet_timestamp_seconds{camera=\"", f);
			put_label(f, cams->cfg->cameras[i].name);
			fprintf(f, "\"} %llu\n",
				(unsigned long long)((wall - (now - cams->slots[i].seen_ns)) / 1000000000u));
		}
}

static int make_page(struct vigil_metrics *m, const struct vigil_commands *k, char **page, size_t *len)
{
	FILE *f = open_memstream(page, len);
	uint64_t total[VIGIL_CTR_MAX];
	struct vigil_recorder_stats rec_total;
	struct walk w = {.k = k};

	if (f == NULL)
		return -1;
	w.f = f;
	vigil_summary_walk(k->cams, k->ws->w, k->ws->n, k->rec, total, &rec_total, NULL, NULL);
	counter_families(&w, "vigil_", &(struct counted){total, &rec_total});
	gauges(f, k, m);
	event_families(f, k->events);
	storage_families(f, k->up);
	playback_families(f, k->playback);
	cluster_families(f, k->cluster);
	if (m->per_camera) {
		counter_families(&w, "vigil_camera_", NULL);
		camera_gauges(f, k);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* --- readiness --- */

const char *vigil_metrics_not_ready(const struct vigil_commands *k, char *buf, size_t buflen)
{
	const char *dir = k->cams->cfg->record_dir;

	struct vigil_cluster_stats cs;

	if (*k->stop)
		return "shutting down";
	/* Once synced, a node that loses etcd stays ready: etcd down for all
	 * would otherwise take every node out at once (docs/cluster.md). */
	if (k->cluster != NULL && (vigil_cluster_stats(k->cluster, &cs), !cs.synced))
		return "the cluster's cameras are not read from etcd yet";
	if (k->cluster != NULL && cs.draining)
		return "draining: its cameras are given back to the other nodes";
	for (unsigned w = 0; w < k->ws->n; w++)
		if (__atomic_load_n(&k->ws->w[w].done, __ATOMIC_RELAXED)) {
			snprintf(buf, buflen, "worker %u has stopped", w);
			return buf;
		}
	return vigil_metrics_record_dir_unwritable(dir, buf, buflen);
}

const char *vigil_metrics_record_dir_unwritable(const char *dir, char *buf, size_t buflen)
{
	int fd;

	/* A file made and removed: what a segment's open needs. */
	snprintf(buf, buflen, "%s/.vigild-ready", dir);
	fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(buf, buflen, "RecordDir %s is not writable: %s", dir, strerror(errno));
		return buf;
	}
	close(fd);
	unlink(buf);
	return NULL;
}

/* --- HTTP --- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_len, void **state)
{
	static const char text[] = "text/plain; charset=utf-8";
	struct vigil_metrics *m = cls;
	char why[300], *page;
	size_t len;

	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET only\n", 9, MHD_RESPMEM_PERSISTENT);
	if (*state == NULL) { /* the headers: the request's body (none) comes next */
		*state = m;
		return MHD_YES;
	}
	if (*upload_len != 0)
		return reply(conn, MHD_HTTP_BAD_REQUEST, text, "no body\n", 8, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/healthz") == 0)
		return reply(conn, MHD_HTTP_OK, text, "ok\n", 3, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/readyz") == 0) {
		pthread_mutex_lock(&m->lock);
		snprintf(why, sizeof(why), "%s\n", m->not_ready[0] != '\0' ? m->not_ready : "ready");
		len = strlen(why);
		pthread_mutex_unlock(&m->lock);
		return reply(conn, strcmp(why, "ready\n") == 0 ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text,
			     why, len, MHD_RESPMEM_MUST_COPY);
	}
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, text, "only /metrics, /healthz, /readyz\n", 33,
			     MHD_RESPMEM_PERSISTENT);

	struct timespec until;
	uint64_t gen;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += PAGE_WAIT_MS / 1000;
	pthread_mutex_lock(&m->lock);
	gen = m->page_gen;
	m->wanted = true;
	while (m->page_gen == gen && pthread_cond_timedwait(&m->made, &m->lock, &until) == 0)
		;
	/* The control loop busy for that long (a reload): the last page. */
	page = m->page != NULL ? malloc(m->page_len) : NULL;
	len = m->page_len;
	if (page != NULL)
		memcpy(page, m->page, len);
	pthread_mutex_unlock(&m->lock);
	if (page == NULL)
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text, "no page yet\n", 12, MHD_RESPMEM_PERSISTENT);
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", page, len,
		     MHD_RESPMEM_MUST_FREE);
}

struct vigil_metrics *vigil_metrics_start(const struct vigil_config *cfg, char *msg, size_t msglen)
{
	struct vigil_metrics *m = calloc(1, sizeof(*m));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(cfg->metrics_listen.port)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(cfg->metrics_listen.port)};
	bool v6 = cfg->metrics_listen.family == AF_INET6;
	pthread_condattr_t ca;

	if (m == NULL) {
		snprintf(msg, msglen, "MetricsListen: no memory");
		return NULL;
	}
	memcpy(&sin.sin_addr, cfg->metrics_listen.addr, 4);
	memcpy(&sin6.sin6_addr, cfg->metrics_listen.addr, 16);
	m->per_camera = cfg->metrics_per_camera;
	snprintf(m->not_ready, sizeof(m->not_ready), "starting");
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->made, &ca);
	pthread_condattr_destroy(&ca);
	m->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				    (v6 ? MHD_USE_IPv6 : 0),
				0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
				v6 ? (struct sockaddr *)&sin6 : (struct sockaddr *)&sin, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)HTTP_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_END);
	if (m->d == NULL) {
		snprintf(msg, msglen, "MetricsListen %s: cannot listen (in use, or not an address of this host)",
			 cfg->metrics_listen.text);
		vigil_metrics_stop(m);
		return NULL;
	}
	return m;
}

void vigil_metrics_stop(struct vigil_metrics *m)
{
	if (m == NULL)
		return;
	if (m->d != NULL)
		MHD_stop_daemon(m->d); /* joins its threads */
	pthread_cond_destroy(&m->made);
	pthread_mutex_destroy(&m->lock);
	free(m->page);
	free(m);
}

void vigil_metrics_serve(struct vigil_metrics *m, const struct vigil_commands *k)
{
	uint64_t now = vigil_now_ns();
	char buf[300], *page = NULL, *old;
	const char *why;
	bool wanted;
	size_t len = 0;

	if (m == NULL)
		return;
	if (now >= m->next_ready_ns || *k->stop) {
		why = vigil_metrics_not_ready(k, buf, sizeof(buf));
		pthread_mutex_lock(&m->lock);
		snprintf(m->not_ready, sizeof(m->not_ready), "%s", why != NULL ? why : "");
		pthread_mutex_unlock(&m->lock);
		m->next_ready_ns = now + READY_EVERY_NS;
	}
	pthread_mutex_lock(&m->lock);
	wanted = m->wanted;
	pthread_mutex_unlock(&m->lock);
	if (!wanted)
		return;
	if (make_page(m, k, &page, &len) < 0) {
		free(page);
		page = NULL;
	}
	pthread_mutex_lock(&m->lock);
	old = m->page;
	if (page != NULL) {
		m->page = page;
		m->page_len = len;
	}
	m->wanted = false;
	m->page_gen++;
	pthread_cond_broadcast(&m->made);
	pthread_mutex_unlock(&m->lock);
	if (page != NULL)
		free(old);
}
