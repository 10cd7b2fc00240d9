/* SPDX-License-Identifier: MIT */
/* Access-unit assembly shared by the H.264 and H.265 depacketizers: frame
 * boundaries, loss, the wait for a clean key frame, parameter set insertion,
 * size limits and the one drop reason each lost frame is counted under.
 * A frame is the chain of its packets' mbufs; nothing is copied but the
 * few bytes of aggregated NAL units, moved down to make room for start
 * codes, and parameter sets a key frame lacks. */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>

#include "depay_internal.h"

/*
 * A frame is open from its first packet until the marker bit, a packet with
 * another timestamp, or flush. `broken` means the open frame was dropped
 * (and counted) already: its mbufs are back in the pool, and the rest of
 * its packets are still parsed (to count invalid payloads and to cache
 * parameter sets) but not kept. A parameter set split over an FU is
 * cached once whole, so not when its frame was dropped.
 *
 * Packets come in index order from the reorder stage (reorder.c) as far
 * as it could wait for them. One that still comes after a later one
 * (index not above the last) is counted as `late` and not used: the loss
 * its absence was taken for already dropped its frame.
 */

static const uint8_t start_code[4] = {0, 0, 0, 1};

static bool is_open(const struct vigil_depay *d)
{
	return d->open || d->broken;
}

static void free_chain(struct vigil_depay *d)
{
	/* rte_pktmbuf_free follows next, whatever the head's nb_segs says. */
	rte_pktmbuf_free(d->frame);
	d->frame = d->tail = NULL;
	d->segs = 0;
}

/* Count the open frame under one reason, once, and give its mbufs back. */
static void discard(struct vigil_depay *d, const struct vigil_depay_env *env, enum vigil_counter why)
{
	if (d->broken)
		return;
	env->ctr->v[why]++;
	free_chain(d);
	d->open = false;
	d->broken = true;
}

/* Discard, and since whatever references this frame cannot be decoded,
 * wait for a key frame. */
static void drop(struct vigil_depay *d, const struct vigil_depay_env *env, enum vigil_counter why)
{
	d->need_key = true;
	discard(d, env, why);
}

static void open_frame(struct vigil_depay *d, uint32_t ts, uint64_t now_ns, bool after_loss)
{
	d->ts = ts;
	d->arrival_ns = now_ns;
	d->frame_len = 0;
	d->frame_after_loss = after_loss;
	d->open = true;
}

static void close_frame(struct vigil_depay *d, const struct vigil_depay_env *env)
{
	struct rte_mbuf *head;
	struct vigil_frame *f;
	bool key = d->frame_is_key, vcl = d->frame_has_vcl;

	if (d->in_fu)
		drop(d, env, VIGIL_CTR_frame_incomplete);
	else if (d->need_key && !key && vcl)
		drop(d, env, VIGIL_CTR_frame_no_keyframe);
	head = d->frame;
	if (head != NULL) {
		head->nb_segs = d->segs;
		head->pkt_len = d->frame_len; /* every byte room() let in is in the chain */
	}
	d->frame = d->tail = NULL;
	d->segs = 0;
	d->open = false;
	d->broken = false;
	d->in_fu = false;
	d->frame_has_vcl = false;
	d->frame_is_key = false;
	d->frame_params = 0;
	if (head == NULL)
		return;
	if (!vcl) {
		/* Parameter sets or SEI alone: nothing to decode, nothing
		 * lost (sets are cached). Not a drop. */
		rte_pktmbuf_free(head);
		return;
	}
	f = vigil_frame_of(head);
	f->camera = env->camera;
	f->flags = key ? VIGIL_FRAME_KEY : 0;
	f->rtp_ts = d->ts;
	f->arrival_ns = d->arrival_ns;
	if (key) {
		d->skip_rasl = d->need_key;
		d->need_key = false;
	}
	env->emit(env->emit_arg, head); /* may set need_key again */
}

/* Whether n more bytes fit the open frame; drops it when they do not. */
static bool room(struct vigil_depay *d, const struct vigil_depay_env *env, size_t n)
{
	if (!d->open)
		return false;
	if (n > env->max_frame_bytes - d->frame_len) {
		drop(d, env, VIGIL_CTR_frame_too_large);
		return false;
	}
	d->frame_len += (uint32_t)n;
	return true;
}

/* The bytes [start, end) of m end the frame so far. */
static void append(struct vigil_depay *d, const struct vigil_depay_env *env, struct rte_mbuf *m, uint8_t *start,
		   uint8_t *end)
{
	if (!d->open) {
		rte_pktmbuf_free(m);
		return;
	}
	if (d->segs == UINT16_MAX) {
		/* Only a camera sending tiny fragments gets here. */
		rte_pktmbuf_free(m);
		drop(d, env, VIGIL_CTR_frame_too_large);
		return;
	}
	/* The head's totals are written when the frame closes: with many
	 * cameras its line is long gone from the cache by then. */
	m->data_off = (uint16_t)(start - (uint8_t *)m->buf_addr);
	m->data_len = (uint16_t)(end - start);
	m->next = NULL;
	if (d->frame == NULL)
		d->frame = m;
	else
		d->tail->next = m;
	d->tail = m;
	d->segs++;
}

/* Start code and NAL unit at c->out, moved down when an aggregation
 * placed c->out below it. */
static void put_nal(struct depay_pkt *c, uint8_t *nal, size_t len)
{
	if (c->out == NULL)
		c->start = c->out = nal - sizeof(start_code);
	if (c->out + sizeof(start_code) != nal)
		memmove(c->out + sizeof(start_code), nal, len);
	memcpy(c->out, start_code, sizeof(start_code));
	c->out += sizeof(start_code) + len;
}

/* A key frame whose access unit lacks some parameter sets before its first
 * slice gets the cached ones, in an mbuf of their own, chained right before
 * that slice (after any AUD or SEI of the access unit). From the first missing kind
 * on, all are written in VPS, SPS, PPS order, even one the AU carried (the
 * same bytes: it was cached as it came): FFmpeg parses a PPS against its
 * SPS and an SPS against its VPS, and discards a set that comes first. */
static void insert_params(struct depay_pkt *c)
{
	struct vigil_depay *d = c->d;
	unsigned missing = ((1u << VIGIL_PARAM_KINDS) - 1) & ~d->frame_params;
	struct rte_mbuf *ps, *rest;
	bool split;
	unsigned k, first;
	size_t need = 0;
	uint8_t *w;

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
	/* NAL units of this packet before the slice (an aggregated AUD or
	 * SEI) stay before the sets: the packet's mbuf ends the frame there,
	 * and a clone sharing its data takes the rest of the packet. */
	split = c->out != c->start;
	ps = rte_pktmbuf_alloc(c->env->pool);
	rest = ps != NULL && split ? rte_pktmbuf_clone(c->m, c->env->pool) : NULL;
	if (ps == NULL || (split && rest == NULL) || need > rte_pktmbuf_tailroom(ps)) {
		rte_pktmbuf_free(ps);
		rte_pktmbuf_free(rest);
		drop(d, c->env, VIGIL_CTR_frame_no_buffer);
		return;
	}
	for (k = first; k < VIGIL_PARAM_KINDS; k++) {
		if (d->params[k].len == 0)
			continue; /* carried by the AU but too large to cache */
		w = (uint8_t *)rte_pktmbuf_append(ps, (uint16_t)(sizeof(start_code) + d->params[k].len));
		memcpy(w, start_code, sizeof(start_code));
		memcpy(w + sizeof(start_code), d->params[k].nal, d->params[k].len);
	}
	if (split) {
		append(d, c->env, c->m, c->start, c->out);
		c->m = rest;
		c->start = c->out;
	}
	append(d, c->env, ps, rte_pktmbuf_mtod(ps, uint8_t *), rte_pktmbuf_mtod(ps, uint8_t *) + ps->data_len);
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
	if (!d->open)
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

void depay_unit(struct depay_pkt *c, enum depay_nal_kind kind, uint8_t *nal, size_t hdr_len, size_t len)
{
	if (kind < DEPAY_NAL_OTHER)
		param_cache(&c->d->params[kind], nal, len);
	depay_nal(c, kind, nal, hdr_len, len);
}

void depay_nal(struct depay_pkt *c, enum depay_nal_kind kind, uint8_t *nal, size_t hdr_len, size_t len)
{
	struct vigil_depay *d = c->d;

	if (d->in_fu)
		depay_break(c); /* the open FU never got its end */
	if (kind < DEPAY_NAL_OTHER && !d->frame_has_vcl)
		d->frame_params |= (uint8_t)(1u << kind);
	if (kind >= DEPAY_NAL_SLICE && !d->frame_has_vcl)
		first_slice(c, kind, nal + hdr_len, len - hdr_len);
	if (!room(d, c->env, sizeof(start_code) + len))
		return;
	put_nal(c, nal, len);
}

int depay_spread(struct depay_pkt *c, uint8_t *payload, size_t len, size_t out_len)
{
	uint8_t *lowest = (uint8_t *)c->m->buf_addr;

	if (out_len > len && (size_t)(payload - lowest) < out_len - len)
		return -ENOBUFS;
	c->start = c->out = payload + len - out_len;
	return 0;
}

void depay_fu_start(struct depay_pkt *c, enum depay_nal_kind kind, uint8_t *nal, size_t hdr_len, unsigned type,
		    size_t len)
{
	struct vigil_depay *d = c->d;

	depay_nal(c, kind, nal, hdr_len, len);
	d->in_fu = true;
	d->fu_type = (uint8_t)type;
	d->fu_kind = (uint8_t)kind;
	if (kind < DEPAY_NAL_OTHER)
		param_cache(&d->fu_param, nal, len);
}

int depay_fu_scan(struct depay_pkt *c, const uint8_t *frag, size_t n, unsigned type, bool start, bool end)
{
	struct vigil_depay *d = c->d;
	/* A start follows the NAL header (never 00); a fragment that does not
	 * continue the open FU follows nothing known. */
	unsigned zeros = start || !d->in_fu || d->fu_type != type ? 0 : d->fu_zeros;

	if (!depay_scan(frag, n, &zeros) || (end && zeros != 0))
		return -EBADMSG;
	d->fu_zeros = (uint8_t)zeros;
	return 0;
}

void depay_fu_more(struct depay_pkt *c, unsigned type, uint8_t *p, size_t n, bool end)
{
	struct vigil_depay *d = c->d;
	struct vigil_param_set *ps = &d->fu_param;

	if (!d->in_fu || (d->open && d->fu_type != type)) {
		depay_break(c);
		return;
	}
	if (end)
		d->in_fu = false;
	if (d->fu_kind < DEPAY_NAL_OTHER) {
		/* A parameter set is kept aside as it comes, and cached
		 * once whole if its frame still is. */
		if (ps->len != 0 && n <= sizeof(ps->nal) - ps->len) {
			memcpy(ps->nal + ps->len, p, n);
			ps->len = (uint16_t)(ps->len + n);
		} else {
			ps->len = 0;
		}
		if (end && d->open)
			d->params[d->fu_kind] = *ps; /* len 0, too large: an older set would be wrong */
	}
	if (!room(d, c->env, n))
		return;
	if (c->out == NULL)
		c->start = c->out = p;
	c->out += n;
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

	if (kind < 0 || kind >= DEPAY_NAL_OTHER || len > VIGIL_PARAM_SET_MAX || !depay_nal_clean(nal, len))
		return -EINVAL;
	param_cache(&d->params[kind], nal, len);
	return 0;
}

void vigil_depay_push(struct vigil_depay *d, const struct vigil_depay_env *env, uint64_t index, uint32_t ts,
		      bool marker, struct rte_mbuf *m, uint8_t *payload, size_t len, uint64_t now_ns)
{
	struct depay_pkt c = {.d = d, .env = env, .m = m};
	bool loss = !d->have_last; /* joined mid-stream: the start may be gone */
	int rc;

	if (d->have_last) {
		if (index <= d->last_index) {
			env->ctr->v[VIGIL_CTR_late]++; /* see the top of this file */
			rte_pktmbuf_free(m);
			return;
		}
		loss = index != d->last_index + 1;
		if (loss) {
			d->need_key = true;
			d->fu_zeros = 0; /* what the lost packets ended with is not known */
		}
	}
	d->have_last = true;
	d->last_index = index;
	if (len == 0) {
		/* Padding only (RFC 3550 5.1): nothing to depacketize. */
		if (loss && is_open(d))
			drop(d, env, VIGIL_CTR_frame_incomplete);
		rte_pktmbuf_free(m);
		return;
	}
	if (is_open(d)) {
		if (loss)
			drop(d, env, VIGIL_CTR_frame_incomplete);
		if (ts != d->ts)
			close_frame(d, env);
	}
	if (!is_open(d))
		open_frame(d, ts, now_ns, loss);
	if (d->codec == VIGIL_CODEC_H265)
		rc = depay_h265_packet(&c, payload, len);
	else
		rc = depay_h264_packet(&c, payload, len);
	if (rc < 0) {
		env->ctr->v[VIGIL_CTR_payload_invalid]++;
		depay_break(&c);
	}
	if (d->open && c.out != c.start)
		append(d, env, c.m, c.start, c.out);
	else
		rte_pktmbuf_free(c.m);
	if (marker)
		close_frame(d, env);
}

void vigil_depay_flush(struct vigil_depay *d, const struct vigil_depay_env *env)
{
	if (is_open(d))
		close_frame(d, env);
}

void vigil_depay_discard(struct vigil_depay *d)
{
	free_chain(d);
	d->open = false;
}
