/* SPDX-License-Identifier: MIT */
/* Aggregates the workers' and the recorder's counters into the summary:
 * totals are the workers' own counters plus every camera's. */
#include <string.h>

#include "vigil/clock.h"
#include "summary.h"

static const enum vigil_counter frame_drops[] = {
#define VIGIL_X_ENUM(name, help) VIGIL_CTR_##name,
	VIGIL_FOREACH_FRAME_DROP(VIGIL_X_ENUM)
#undef VIGIL_X_ENUM
};

static void add_counters(uint64_t *sum, const struct vigil_counters *c)
{
	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		sum[i] += c->v[i];
}

/* The recorder's errors by cause name, those not 0. */
static json_t *by_cause(const uint64_t errors[VIGIL_REC_CAUSES])
{
	json_t *obj = json_object();

	for (unsigned k = 0; obj != NULL && k < VIGIL_REC_CAUSES; k++)
		if (vigil_recorder_cause_name(k) != NULL && errors[k] != 0)
			json_object_set_new(obj, vigil_recorder_cause_name(k),
					    json_integer((json_int_t)errors[k]));
	return obj;
}

/* Fills obj with the data-plane counters in sum and the recorder's, as
 * their lists say (counters.h, stats.h): the recorder's measurements of
 * the disk, that vary run to run, apart in "io". */
static int put_counters(json_t *obj, const uint64_t *sum, const struct vigil_recorder_stats *rs)
{
	uint64_t frames_dropped = rs->frames_dropped;
	json_t *top = obj, *io = json_object();
	int rc = 0;

	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		rc |= json_object_set_new(obj, vigil_counter_names[i], json_integer((json_int_t)sum[i]));
	for (size_t i = 0; i < sizeof(frame_drops) / sizeof(frame_drops[0]); i++)
		frames_dropped += sum[frame_drops[i]];
	rc |= json_object_set_new(obj, "frames_dropped", json_integer((json_int_t)frames_dropped));
	if (io == NULL)
		return -1;
#define PUT(where, key, value) rc |= json_object_set_new(where, key, json_integer((json_int_t)(value)));
#define PUT_COUNT(field, key, where, help) PUT(where, #key, rs->field)
#define PUT_LATENCY(field, key, where, help)                                                                 \
	PUT(where, #key "_p50_us", vigil_latency_quantile(rs->field, 0.5))                                   \
	PUT(where, #key "_p99_us", vigil_latency_quantile(rs->field, 0.99))
#define PUT_BY_CAUSE(field, key, where, help) rc |= json_object_set_new(where, #key, by_cause(rs->field));
	VIGIL_FOREACH_REC_STAT(PUT_COUNT, PUT_COUNT, PUT_LATENCY, PUT_BY_CAUSE)
#undef PUT
#undef PUT_COUNT
#undef PUT_LATENCY
#undef PUT_BY_CAUSE
	rc |= json_object_set_new(top, "io", io);
	return rc;
}

/* A camera's recorder stats added to the totals, as their list says:
 * counters summed, a camera's gauges left out. */
static void add_recorder_stats(struct vigil_recorder_stats *sum, const struct vigil_recorder_stats *rs)
{
#define ADD_COUNT(field, key, where, help) sum->field += rs->field;
#define ADD_GAUGE(field, key, where, help)
#define ADD_ARRAY(field, key, where, help)                                                                   \
	for (size_t k = 0; k < sizeof(sum->field) / sizeof(sum->field[0]); k++)                              \
		sum->field[k] += rs->field[k];
	VIGIL_FOREACH_REC_STAT(ADD_COUNT, ADD_GAUGE, ADD_ARRAY, ADD_ARRAY)
#undef ADD_COUNT
#undef ADD_GAUGE
#undef ADD_ARRAY
}

void vigil_summary_walk(const struct vigil_cameras *cams, const struct vigil_worker *workers, unsigned n_workers,
			const struct vigil_recorder *rec, uint64_t total[VIGIL_CTR_MAX],
			struct vigil_recorder_stats *rec_total, vigil_summary_each_fn each, void *arg)
{
	memset(total, 0, VIGIL_CTR_MAX * sizeof(*total));
	memset(rec_total, 0, sizeof(*rec_total));
	for (unsigned w = 0; w < n_workers; w++)
		add_counters(total, &workers[w].ctr);
	for (unsigned i = 0; i < cams->cfg->n_cameras; i++) {
		const struct vigil_recorder_stats *rs = vigil_recorder_stats(rec, i);
		uint64_t cam[VIGIL_CTR_MAX];

		vigil_cameras_counters(cams, i, cam);
		for (unsigned c = 0; c < VIGIL_CTR_MAX; c++)
			total[c] += cam[c];
		add_recorder_stats(rec_total, rs);
		if (each != NULL)
			each(arg, i, cam, rs);
	}
}

struct camera_json {
	const struct vigil_cameras *cams;
	json_t *cameras;
	uint64_t now;
	int rc;
};

/* One camera's object in the summary. */
static void camera_json(void *arg, unsigned i, const uint64_t *cam, const struct vigil_recorder_stats *rs)
{
	struct camera_json *cj = arg;
	const struct vigil_config *cfg = cj->cams->cfg;
	json_t *obj = json_object();
	int rc = 0;

	if (obj == NULL) {
		cj->rc = -1;
		return;
	}
	rc |= put_counters(obj, cam, rs);
	rc |= json_object_set_new(obj, "ssrc", json_integer(cfg->cameras[i].ssrc));
	rc |= json_object_set_new(obj, "codec", json_string(cfg->cameras[i].codec == VIGIL_CODEC_H264 ? "H264" : "H265"));
	rc |= json_object_set_new(obj, "recording_dir", json_sprintf("%s/%s", cfg->record_dir, cfg->cameras[i].name));
	rc |= json_object_set_new(obj, "state", json_string(vigil_camera_state_name(vigil_cameras_state(cj->cams, i))));
	rc |= json_object_set_new(obj, "liveness",
				  json_string(vigil_liveness_name(vigil_cameras_liveness(cj->cams, i, cj->now))));
	if (cam[VIGIL_CTR_same_key_restart] != 0)
		rc |= json_object_set_new(obj, "warning",
					  json_string("came back under the same key with SRTP indices it had "
						      "used (restarted without its sender state, or old "
						      "traffic replayed): rotate its key"));
	cj->rc |= rc | json_object_set_new(cj->cameras, cfg->cameras[i].name, obj);
}

json_t *vigil_summary(const struct vigil_cameras *cams, const struct vigil_worker *workers, unsigned n_workers,
		      const struct vigil_recorder *rec, const struct vigil_handshakes *hs)
{
	json_t *root = json_object(), *totals = json_object(), *cameras = json_object();
	uint64_t total[VIGIL_CTR_MAX];
	struct vigil_recorder_stats rec_total;
	struct camera_json cj = {.cams = cams, .cameras = cameras, .now = vigil_now_ns()};
	int rc = 0;

	if (root == NULL || totals == NULL || cameras == NULL)
		goto err;
	vigil_summary_walk(cams, workers, n_workers, rec, total, &rec_total, camera_json, &cj);
	rc |= cj.rc;
	rc |= put_counters(totals, total, &rec_total);
	rc |= json_object_set_new(root, "totals", totals);
	rc |= json_object_set_new(root, "cameras", cameras);
	if (hs != NULL)
		rc |= json_object_set_new(root, "handshakes", vigil_handshakes_stats(hs));
	if (cams->state != NULL) {
		struct vigil_state_stats ss;

		vigil_state_stats(cams->state, &ss);
		rc |= json_object_set_new(root, "replay_state",
					  json_pack("{ss, sI, sI, sI, sb}", "dir", vigil_state_dir(cams->state),
						    "resumed", (json_int_t)cams->resumed, "writes", (json_int_t)ss.writes,
						    "write_errors", (json_int_t)ss.write_errors, "set_aside",
						    ss.set_aside));
	}
	if (rc != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
err:
	json_decref(totals);
	json_decref(cameras);
	json_decref(root);
	return NULL;
}
