/* SPDX-License-Identifier: MIT */
/* Access-unit assembly shared by the H.264 and H.265 depacketizers: frame
 * boundaries, loss, the wait for a clean key frame, parameter set insertion,
 * size limits and the one drop reason each lost frame is counted under. */
#include <errno.h>
#include <string.h>

#include "depay_internal.h"

/*
 * A frame is open from its first packet until the marker bit, a packet with
 * another timestamp, or flush. `broken` means the open frame was dropped
 * (and counted) already: its buffer is back in the pool, and the rest of
 * its packets are still parsed (to count invalid payloads and to cache
 * parameter sets) but not written. A parameter set split over an FU is
 * cached from the frame once whole, so not when its frame was dropped.
 *
 * Packets come in index order from the reorder stage (reorder.c) as far
 * as it could wait for them. One that still comes after a later one
 * (index not above the last) is counted as `late` and not used: the loss
 * its absence was taken for already dropped its frame.
 */

static const uint8_t start_code[4] = {0, 0, 0, 1};

static bool is_open(const struct vigil_depay *d)
{
	return d->frame != NULL || d->broken;
}

/* Count the open frame under one reason, once, and give its buffer back. */
static void discard(struct vigil_depay *d, const struct vigil_depay_env *env, enum vigil_counter why)
{
	if (d->broken)
		return;
	env->ctr->v[why]++;
	if (d->frame != NULL)
		vigil_frame_put(env->pool, d->frame);
	d->frame = NULL;
	d->broken = true;
}

/* Discard, and since whatever references this frame cannot be decoded,
 * wait for a key frame. */
static void drop(struct vigil_depay *d, const struct vigil_depay_env *env, enum vigil_counter why)
{
	d->need_key = true;
	discard(d, env, why);
}

static void open_frame(struct vigil_depay *d, const struct vigil_depay_env *env, uint32_t ts, uint64_t now_ns,
		       bool after_loss)
{
	struct vigil_frame *f = vigil_frame_get(env->pool);

	d->ts = ts;
	if (f == NULL) {
		env->ctr->v[VIGIL_CTR_frame_no_buffer]++;
		d->broken = true;
		d->need_key = true;
		return;
	}
	f->camera = env->camera;
	f->rtp_ts = ts;
	f->arrival_ns = now_ns;
	f->len = 0;
	f->flags = 0;
	d->frame_after_loss = after_loss;
	d->frame = f;
}

static void close_frame(struct vigil_depay *d, const struct vigil_depay_env *env)
{
	struct vigil_frame *f;
	bool key = d->frame_is_key, vcl = d->frame_has_vcl;

	if (d->in_fu)
		drop(d, env, VIGIL_CTR_frame_incomplete);
	else if (d->need_key && !key && vcl)
		drop(d, env, VIGIL_CTR_frame_no_keyframe);
	f = d->frame;
	d->frame = NULL;
	d->broken = false;
	d->in_fu = false;
	d->frame_has_vcl = false;
	d->frame_is_key = false;
	d->frame_params = 0;
	if (f == NULL)
		return;
	if (!vcl) {
		/* Parameter sets or SEI alone: nothing to decode, nothing
		 * lost (sets are cached). Not a drop. */
		vigil_frame_put(env->pool, f);
		return;
	}
	f->flags = key ? VIGIL_FRAME_KEY : 0;
	if (key) {
		d->skip_rasl = d->need_key;
		d->need_key = false;
	}
	env->emit(env->emit_arg, f); /* may set need_key again */
}

/* Whether n more bytes fit the open frame; drops it when they do not. */
static bool room(struct vigil_depay *d, const struct vigil_depay_env *env, size_t n)
{
	size_t limit;

	if (d->frame == NULL)
		return false;
	limit = env->max_frame_bytes < d->frame->cap ? env->max_frame_bytes : d->frame->cap;
	if (d->frame->len > limit || n > limit - d->frame->len) {
		drop(d, env, VIGIL_CTR_frame_too_large);
		return false;
	}
	return true;
}

static void put(struct vigil_frame *f, const uint8_t *p, size_t n)
{
	memcpy(f->data + f->len, p, n);
	f->len += (uint32_t)n;
}

/* A key frame whose access unit lacks some parameter sets before its first
 * slice gets the cached ones, written right before that slice (after any
 * AUD or SEI: moving those would cost a copy). From the first missing kind
 * on, all are written in VPS, SPS, PPS order, even one the AU carried (the
 * same bytes: it was cached as it came): FFmpeg parses a PPS against its
 * SPS and an SPS against its VPS, and discards a set that comes first. */
static void insert_params(struct depay_pkt *c)
{
	struct vigil_depay *d = c->d;
	unsigned missing = ((1u << VIGIL_PARAM_KINDS) - 1) & ~d->frame_params;
	unsigned k, first;
	size_t need = 0;

	if (d->codec == VIGIL_CODEC_H264)
		missing &= ~(1u << VIGIL_PARAM_VPS); /* H.264 has none */
	if (missing == 0)
		return;
	first = (unsigned)__builtin_ctz(missing);
	for (k = first; k < VIGIL_PARAM_KINDS; k++) {
		if (d->params[k].len != 0) {
			need += sizeof(start_code) + d->params[k].len;
		} else if (missing & 1u << k) {
			/* Not decodable without it. */
			drop(d, c->env, VIGIL_CTR_frame_no_keyframe);
			return;
		}
	}
	if (!room(d, c->env, need))
		return;
	for (k = first; k < VIGIL_PARAM_KINDS; k++) {
		if (d->params[k].len == 0)
			continue; /* carried by the AU but too large to cache */
		put(d->frame, start_code, sizeof(start_code));
		put(d->frame, d->params[k].nal, d->params[k].len);
	}
}

/* The first slice of the access unit decides whether it is a key frame and
 * whether it can be recorded at all. */
static void first_slice(struct depay_pkt *c, enum depay_nal_kind kind, const uint8_t *body, size_t body_len)
{
	struct vigil_depay *d = c->d;
	bool key = kind == DEPAY_NAL_KEY;
	/* first_mb_in_slice == 0 (H.264 ue(v) "1") or
	 * first_slice_segment_in_pic_flag (H.265): the picture's first slice. */
	bool starts_picture = body_len > 0 && (body[0] & 0x80);

	d->frame_has_vcl = true;
	d->frame_is_key = key;
	if (kind != DEPAY_NAL_RASL)
		d->skip_rasl = d->need_key;
	if (d->frame == NULL)
		return;
	if (d->frame_after_loss && !starts_picture)
		drop(d, c->env, VIGIL_CTR_frame_incomplete);
	else if (kind == DEPAY_NAL_RASL && d->skip_rasl)
		discard(d, c->env, VIGIL_CTR_frame_no_keyframe); /* its references were never recorded */
	else if (d->need_key && !key)
		drop(d, c->env, VIGIL_CTR_frame_no_keyframe);
	else if (key)
		insert_params(c);
}

/* Keep a complete parameter set NAL unit for key frames that lack one. */
static void param_cache(struct vigil_param_set *ps, const uint8_t *nal, size_t len)
{
	if (len > sizeof(ps->nal)) {
		/* Too large to keep; an older set would now be wrong. */
		ps->len = 0;
		return;
	}
	memcpy(ps->nal, nal, len);
	ps->len = (uint16_t)len;
}

void depay_unit(struct depay_pkt *c, enum depay_nal_kind kind, const uint8_t *nal, size_t hdr_len, size_t len)
{
	if (kind < DEPAY_NAL_OTHER)
		param_cache(&c->d->params[kind], nal, len);
	depay_nal(c, kind, nal, hdr_len, nal + hdr_len, len - hdr_len);
}

void depay_nal(struct depay_pkt *c, enum depay_nal_kind kind, const uint8_t *hdr, size_t hdr_len,
	       const uint8_t *body, size_t body_len)
{
	struct vigil_depay *d = c->d;

	if (d->in_fu)
		depay_break(c); /* the open FU never got its end */
	if (kind < DEPAY_NAL_OTHER && !d->frame_has_vcl)
		d->frame_params |= (uint8_t)(1u << kind);
	if (kind >= DEPAY_NAL_SLICE && !d->frame_has_vcl)
		first_slice(c, kind, body, body_len);
	if (!room(d, c->env, sizeof(start_code) + hdr_len + body_len))
		return;
	put(d->frame, start_code, sizeof(start_code));
	put(d->frame, hdr, hdr_len);
	put(d->frame, body, body_len);
}

void depay_fu_start(struct depay_pkt *c, enum depay_nal_kind kind, const uint8_t *hdr, size_t hdr_len,
		    unsigned type, const uint8_t *body, size_t body_len)
{
	struct vigil_depay *d = c->d;

	depay_nal(c, kind, hdr, hdr_len, body, body_len);
	d->in_fu = true;
	d->fu_type = (uint8_t)type;
	d->fu_kind = (uint8_t)kind;
	if (d->frame != NULL)
		d->fu_start = d->frame->len - (uint32_t)(hdr_len + body_len);
}

void depay_fu_more(struct depay_pkt *c, unsigned type, const uint8_t *p, size_t n, bool end)
{
	struct vigil_depay *d = c->d;

	if (!d->in_fu || (d->frame != NULL && d->fu_type != type)) {
		depay_break(c);
		return;
	}
	if (end)
		d->in_fu = false;
	if (!room(d, c->env, n))
		return;
	put(d->frame, p, n);
	/* The frame holds the whole NAL unit now (a drop would have taken it). */
	if (end && d->fu_kind < DEPAY_NAL_OTHER)
		param_cache(&d->params[d->fu_kind], d->frame->data + d->fu_start,
			    d->frame->len - d->fu_start);
}

void depay_break(struct depay_pkt *c)
{
	c->d->in_fu = false;
	drop(c->d, c->env, VIGIL_CTR_frame_incomplete);
}

void vigil_depay_init(struct vigil_depay *d, enum vigil_codec codec)
{
	memset(d, 0, sizeof(*d));
	d->codec = codec;
	d->need_key = true; /* a recording starts at a key frame */
}

int vigil_depay_seed_params(struct vigil_depay *d, const uint8_t *nal, size_t len)
{
	int kind = d->codec == VIGIL_CODEC_H265 ? depay_h265_kind(nal, len) : depay_h264_kind(nal, len);

	if (kind < 0 || kind >= DEPAY_NAL_OTHER || len > VIGIL_PARAM_SET_MAX)
		return -EINVAL;
	param_cache(&d->params[kind], nal, len);
	return 0;
}

void vigil_depay_push(struct vigil_depay *d, const struct vigil_depay_env *env, uint64_t index, uint32_t ts,
		      bool marker, const uint8_t *payload, size_t len, uint64_t now_ns)
{
	struct depay_pkt c = {.d = d, .env = env};
	bool loss = !d->have_last; /* joined mid-stream: the start may be gone */
	int rc;

	if (d->have_last) {
		if (index <= d->last_index) {
			env->ctr->v[VIGIL_CTR_late]++; /* see the top of this file */
			return;
		}
		loss = index != d->last_index + 1;
		if (loss)
			d->need_key = true;
	}
	d->have_last = true;
	d->last_index = index;
	if (len == 0) {
		/* Padding only (RFC 3550 5.1): nothing to depacketize. */
		if (loss && is_open(d))
			drop(d, env, VIGIL_CTR_frame_incomplete);
		return;
	}
	if (is_open(d)) {
		if (loss)
			drop(d, env, VIGIL_CTR_frame_incomplete);
		if (ts != d->ts)
			close_frame(d, env);
	}
	if (!is_open(d))
		open_frame(d, env, ts, now_ns, loss);
	if (d->codec == VIGIL_CODEC_H265)
		rc = depay_h265_packet(&c, payload, len);
	else
		rc = depay_h264_packet(&c, payload, len);
	if (rc < 0) {
		env->ctr->v[VIGIL_CTR_payload_invalid]++;
		depay_break(&c);
	}
	if (marker)
		close_frame(d, env);
}

void vigil_depay_flush(struct vigil_depay *d, const struct vigil_depay_env *env)
{
	if (is_open(d))
		close_frame(d, env);
}
