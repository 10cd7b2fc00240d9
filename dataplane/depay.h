/* SPDX-License-Identifier: MIT */
/* Depacketization of authenticated RTP payloads into Annex-B access units:
 * H.264 per RFC 6184 (single NAL, STAP-A, FU-A) and H.265 per RFC 7798
 * (single, AP, FU). One struct per stream, owned by one worker. A frame that
 * lost a packet is dropped and the stream resumes at the next key frame.
 * Frames are chains of the packets' own mbufs, rewritten in place: start
 * codes go over the RTP and payload headers already read. */
#ifndef VIGIL_DEPAY_H
#define VIGIL_DEPAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config_model.h"
#include "counters.h"
#include "vigil/frame.h"
#include "vigil/limits.h"

struct rte_mbuf;
struct rte_mempool;

/* Receives each complete, decodable access unit (see vigil/frame.h), its
 * description filled in; owns it from then on. */
typedef void (*vigil_frame_emit_fn)(void *arg, struct rte_mbuf *frame);

/* What a stream's depacketizer works with, set once at stream setup. */
struct vigil_depay_env {
	struct rte_mempool *pool; /* mbufs for parameter sets a key frame lacks */
	struct vigil_counters *ctr; /* frame drops and payload_invalid counted here */
	vigil_frame_emit_fn emit;
	void *emit_arg;
	uint32_t camera;
	size_t max_frame_bytes; /* frames larger than this are dropped */
};

/* Parameter set kinds, in the order a decoder needs them. */
enum vigil_param_kind {
	VIGIL_PARAM_VPS,
	VIGIL_PARAM_SPS,
	VIGIL_PARAM_PPS,
	VIGIL_PARAM_KINDS,
};

struct vigil_param_set {
	uint16_t len;
	uint8_t nal[VIGIL_PARAM_SET_MAX];
};

struct vigil_depay {
	enum vigil_codec codec;
	struct rte_mbuf *frame;    /* head of the access unit under assembly, or NULL */
	struct rte_mbuf *tail;     /* its last mbuf */
	uint16_t segs;             /* mbufs in the chain */
	uint64_t arrival_ns;       /* when its first packet came */
	uint64_t last_index;       /* extended sequence index of the last packet */
	uint32_t frame_len;        /* its bytes, those of the packet being read included */
	uint32_t ts;               /* RTP timestamp of the frame under assembly */
	bool have_last;
	bool open;     /* a frame is under assembly (frame is NULL until it has bytes) */
	bool broken;   /* the frame under assembly is already dropped and counted */
	bool need_key; /* skip frames until a clean key frame */
	bool in_fu;    /* a fragmentation unit is open */
	bool skip_rasl; /* resumed at a CRA: its RASL pictures cannot decode */
	uint8_t fu_type;        /* NAL type of the open fragmentation unit */
	uint8_t fu_kind;        /* its depay_nal_kind: a parameter set is cached at its end */
	uint8_t fu_zeros;       /* 00 bytes (0-2) its fragments so far end with (depay_scan.h) */
	bool frame_after_loss;  /* packets may be missing before this frame */
	bool frame_has_vcl, frame_is_key;
	uint8_t frame_params; /* bit per vigil_param_kind seen before the first slice */
	/* Latest parameter sets, inserted before a key frame that lacks them. */
	struct vigil_param_set params[VIGIL_PARAM_KINDS];
	struct vigil_param_set fu_param; /* a parameter set arriving in an FU */
};

void vigil_depay_init(struct vigil_depay *d, enum vigil_codec codec);

/* Cache a parameter set known out of band (SDP sprop-*), as if it had
 * arrived in band; a later in-band set of its kind replaces it. -EINVAL:
 * not a VPS/SPS/PPS NAL unit of d->codec, or over VIGIL_PARAM_SET_MAX. */
int vigil_depay_seed_params(struct vigil_depay *d, const uint8_t *nal, size_t len);

/* Push one authenticated, decrypted RTP payload (padding removed), which
 * lies in m after at least its RTP header. Takes m: it joins the frame or
 * is freed. index is the packet's extended sequence index (ROC << 16 |
 * SEQ). A payload that is not valid for the codec is counted as
 * payload_invalid and breaks the frame: so is a NAL unit that holds a start
 * code prefix or ends in 00 (depay_scan.h). May call env->emit once or twice (a
 * frame closed by a timestamp change, then one closed by the marker bit). */
void vigil_depay_push(struct vigil_depay *d, const struct vigil_depay_env *env, uint64_t index, uint32_t ts,
		      bool marker, struct rte_mbuf *m, uint8_t *payload, size_t len, uint64_t now_ns);

/* The frame under assembly goes back to the pool (the stream is removed). */
void vigil_depay_discard(struct vigil_depay *d);

/* End of stream: a frame still open is emitted if it is whole (it saw its
 * last NAL complete and no loss) or else dropped as incomplete. */
void vigil_depay_flush(struct vigil_depay *d, const struct vigil_depay_env *env);

#endif
