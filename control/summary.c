/* SPDX-License-Identifier: MIT */
/* Aggregates the workers' and the recorder's counters into the summary:
 * totals are the workers' own counters plus every camera's. */
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

/* Fills obj with the data-plane counters in sum and the recorder's. */
static int put_counters(json_t *obj, const uint64_t *sum, const struct vigil_recorder_stats *rs)
{
	uint64_t frames_dropped = rs->frames_dropped;
	json_t *io, *errors;
	int rc = 0;

	for (unsigned i = 0; i < VIGIL_CTR_MAX; i++)
		rc |= json_object_set_new(obj, vigil_counter_names[i], json_integer((json_int_t)sum[i]));
	for (size_t i = 0; i < sizeof(frame_drops) / sizeof(frame_drops[0]); i++)
		frames_dropped += sum[frame_drops[i]];
	rc |= json_object_set_new(obj, "frames_dropped", json_integer((json_int_t)frames_dropped));
	rc |= json_object_set_new(obj, "frames_recorded", json_integer((json_int_t)rs->frames_recorded));
	rc |= json_object_set_new(obj, "bytes_written", json_integer((json_int_t)rs->bytes_written));
	rc |= json_object_set_new(obj, "segments", json_integer((json_int_t)rs->segments));
	rc |= json_object_set_new(obj, "segments_removed", json_integer((json_int_t)rs->segments_removed));
	/* How the disk is doing: measurements that vary run to run, apart
	 * from the counters. */
	io = json_pack("{sI, sI, sI, sI}", "syncs", (json_int_t)rs->syncs, "write_p50_us",
		       (json_int_t)vigil_latency_quantile(rs->write_latency, 0.5), "write_p99_us",
		       (json_int_t)vigil_latency_quantile(rs->write_latency, 0.99), "writes_inflight",
		       (json_int_t)rs->writes_inflight);
	errors = json_object();
	for (unsigned k = 0; k < VIGIL_REC_CAUSES; k++)
		if (vigil_recorder_cause_name(k) != NULL && rs->errors[k] != 0)
			json_object_set_new(errors, vigil_recorder_cause_name(k), json_integer((json_int_t)rs->errors[k]));
	json_object_set_new(io, "errors", errors);
	rc |= json_object_set_new(obj, "io", io);
	rc |= json_object_set_new(obj, "recorder_dropped", json_integer((json_int_t)rs->frames_dropped));
	rc |= json_object_set_new(obj, "write_errors", json_integer((json_int_t)rs->write_errors));
	return rc;
}

json_t *vigil_summary(const struct vigil_cameras *cams, const struct vigil_worker *workers, unsigned n_workers,
		      const struct vigil_recorder *rec, const struct vigil_handshakes *hs)
{
	const struct vigil_config *cfg = cams->cfg;
	json_t *root = json_object(), *totals = json_object(), *cameras = json_object();
	uint64_t total[VIGIL_CTR_MAX] = {0};
	struct vigil_recorder_stats rec_total = {0};
	int rc = 0;

	if (root == NULL || totals == NULL || cameras == NULL)
		goto err;
	for (unsigned w = 0; w < n_workers; w++)
		add_counters(total, &workers[w].ctr);
	for (unsigned i = 0; i < cfg->n_cameras; i++) {
		const struct vigil_recorder_stats *rs = vigil_recorder_stats(rec, i);
		uint64_t cam[VIGIL_CTR_MAX] = {0};
		json_t *obj = json_object();

		if (obj == NULL)
			goto err;
		vigil_cameras_counters(cams, i, cam);
		for (unsigned c = 0; c < VIGIL_CTR_MAX; c++)
			total[c] += cam[c];
		rc |= put_counters(obj, cam, rs);
		rc |= json_object_set_new(obj, "ssrc", json_integer(cfg->cameras[i].ssrc));
		rc |= json_object_set_new(obj, "codec",
					  json_string(cfg->cameras[i].codec == VIGIL_CODEC_H264 ? "H264" : "H265"));
		rc |= json_object_set_new(obj, "recording_dir",
					  json_sprintf("%s/%s", cfg->record_dir, cfg->cameras[i].name));
		rc |= json_object_set_new(obj, "state", json_string(vigil_camera_state_name(vigil_cameras_state(cams, i))));
		if (cam[VIGIL_CTR_same_key_restart] != 0)
			rc |= json_object_set_new(obj, "warning",
						  json_string("came back under the same key with SRTP indices it had "
							      "used (restarted without its sender state, or old "
							      "traffic replayed): rotate its key"));
		rc |= json_object_set_new(cameras, cfg->cameras[i].name, obj);
		rec_total.frames_recorded += rs->frames_recorded;
		rec_total.bytes_written += rs->bytes_written;
		rec_total.segments += rs->segments;
		rec_total.syncs += rs->syncs;
		rec_total.segments_removed += rs->segments_removed;
		for (unsigned k = 0; k < VIGIL_REC_CAUSES; k++)
			rec_total.errors[k] += rs->errors[k];
		for (unsigned k = 0; k < VIGIL_LATENCY_BUCKETS; k++)
			rec_total.write_latency[k] += rs->write_latency[k];
		rec_total.frames_dropped += rs->frames_dropped;
		rec_total.write_errors += rs->write_errors;
	}
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
