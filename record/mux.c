/* SPDX-License-Identifier: MIT */
/* Muxing of Annex-B access units (mux.h): libavformat's "mpegts" or "mp4"
 * muxer writing through an AVIOContext whose write callback hands the bytes
 * on. Packets point at the caller's frame: nothing is copied on our side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "mux.h"

#define MUX_AVIO_BYTES (64u << 10)

struct vigil_mux {
	AVFormatContext *ctx;
	AVIOContext *pb;
	uint8_t *own; /* the AVIOContext's buffer when nothing is placed */
	bool placed;  /* the AVIOContext writes into the caller's buffer */
	AVPacket *pkt;
	enum vigil_codec codec;
	enum vigil_format format;
	bool started;   /* the header is written */
	int64_t ts0;    /* fMP4: the first presentation time: the empty moov has no edit list to say it */
	bool in_header; /* its bytes go to init_out */
	vigil_mux_out_fn out, init_out;
	void *arg;
};

/* libavformat errors are -errno for system errors, tags otherwise. */
static int av_errno(int ret)
{
	return ret < 0 && ret > -4096 ? ret : -EIO;
}

/* Never report an error here: an AVIOContext error is sticky and would
 * silence every later segment. The writer tracks file failures. */
static int mux_write(void *opaque, uint8_t *buf, int len)
{
	struct vigil_mux *m = opaque;

	if (len > 0)
		(m->in_header ? m->init_out : m->out)(m->arg, buf, (size_t)len);
	return len;
}

static int start(struct vigil_mux *m)
{
	AVDictionary *opts = NULL;
	int ret;

	if (m->format == VIGIL_FORMAT_FMP4) {
		/* CMAF: an empty moov for the init segment, then a fragment
		 * at each key frame and at least every second, so a segment
		 * reaches its file as it goes (MaxUnsyncedSeconds). */
		av_dict_set(&opts, "movflags", "+frag_keyframe+empty_moov+default_base_moof+cmaf", 0);
		av_dict_set(&opts, "frag_duration", "1000000", 0);
	}
	m->in_header = true;
	ret = avformat_write_header(m->ctx, &opts);
	avio_flush(m->pb);
	m->in_header = false;
	av_dict_free(&opts);
	if (ret < 0)
		return av_errno(ret);
	m->started = true;
	return 0;
}

struct vigil_mux *vigil_mux_create(enum vigil_codec codec, enum vigil_format format, vigil_mux_out_fn out,
				   vigil_mux_out_fn init_out, void *arg)
{
	struct vigil_mux *m;
	AVStream *st;
	uint8_t *buf;
	int ret = -ENOMEM;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->codec = codec;
	m->format = format;
	m->out = out;
	m->init_out = init_out;
	m->arg = arg;
	ret = avformat_alloc_output_context2(&m->ctx, NULL, format == VIGIL_FORMAT_FMP4 ? "mp4" : "mpegts", NULL);
	if (ret < 0)
		goto err_mux;
	ret = -ENOMEM;
	m->pkt = av_packet_alloc();
	if (m->pkt == NULL)
		goto err_ctx;
	st = avformat_new_stream(m->ctx, NULL);
	if (st == NULL)
		goto err_pkt;
	st->time_base = (AVRational){1, 90000};
	st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
	st->codecpar->codec_id = codec == VIGIL_CODEC_H265 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264;
	buf = av_malloc(MUX_AVIO_BYTES);
	if (buf == NULL)
		goto err_pkt;
	m->pb = avio_alloc_context(buf, MUX_AVIO_BYTES, 1, m, NULL, mux_write, NULL);
	if (m->pb == NULL) {
		av_free(buf);
		goto err_pkt;
	}
	m->own = buf;
	m->ctx->pb = m->pb;
	m->ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
	/* MPEG-TS needs nothing from the stream to start. */
	if (format == VIGIL_FORMAT_TS && (ret = start(m)) < 0)
		goto err_pb;
	return m;

err_pb:
	av_freep(&m->own);
	avio_context_free(&m->pb);
err_pkt:
	av_packet_free(&m->pkt);
err_ctx:
	avformat_free_context(m->ctx);
err_mux:
	free(m);
	errno = -av_errno(ret);
	return NULL;
}

void vigil_mux_free(struct vigil_mux *m)
{
	if (m == NULL)
		return;
	/* Frees the muxer's private state (deinit) without writing more. */
	avformat_free_context(m->ctx);
	if (!m->placed)
		m->own = m->pb->buffer; /* as libavformat left it */
	av_freep(&m->own);
	avio_context_free(&m->pb);
	av_packet_free(&m->pkt);
	free(m);
}

/* Whether a NAL unit header is a parameter set of the codec. */
static bool param_set(enum vigil_codec codec, const uint8_t *nal)
{
	if (codec == VIGIL_CODEC_H265) {
		unsigned type = nal[0] >> 1 & 0x3f;

		return type >= 32 && type <= 34;
	}
	return (nal[0] & 0x1f) == 7 || (nal[0] & 0x1f) == 8;
}

/* libavformat 59 writes an hvcC from what its own SPS parser reads, which
 * reads on past the end of an SPS cut short and then loops as many times
 * as the bytes there say (up to 2^32 per reference picture set): such an
 * SPS held a recorder thread for minutes. The sets must first pass
 * libavcodec's parser that checks every value's range (CBS, behind the
 * hevc_metadata filter, which changes nothing unless told to). */
static int sets_parse(const uint8_t *sets, size_t n)
{
	const AVBitStreamFilter *f = av_bsf_get_by_name("hevc_metadata");
	AVBSFContext *bsf = NULL;
	AVPacket *pkt = av_packet_alloc();
	int ret = pkt == NULL ? AVERROR(ENOMEM) : f == NULL ? AVERROR(ENOSYS) : av_bsf_alloc(f, &bsf);

	if (ret == 0) {
		bsf->par_in->codec_id = AV_CODEC_ID_HEVC;
		ret = av_bsf_init(bsf);
	}
	if (ret == 0)
		ret = av_new_packet(pkt, (int)n);
	if (ret == 0) {
		memcpy(pkt->data, sets, n);
		ret = av_bsf_send_packet(bsf, pkt);
	}
	if (ret == 0)
		ret = av_bsf_receive_packet(bsf, pkt);
	av_bsf_free(&bsf);
	av_packet_free(&pkt);
	return ret == AVERROR_INVALIDDATA ? -EBADMSG : ret < 0 ? av_errno(ret) : 0;
}

/* The MP4 sample entry (avcC/hvcC) needs the parameter sets and the
 * picture size: both from the first key frame, its sets as Annex-B
 * extradata (libavformat converts it), its size from libavcodec's parser. */
static int describe(struct vigil_mux *m, const uint8_t *data, size_t len)
{
	AVCodecParameters *par = m->ctx->streams[0]->codecpar;
	AVCodecParserContext *parser = av_parser_init(par->codec_id);
	AVCodecContext *avctx = avcodec_alloc_context3(NULL);
	/* Each set is written after a 4-byte start code, whatever the frame
	 * had: one byte more than it took there when that was 00 00 01, and
	 * it took at least 4 (start code, header byte). */
	size_t cap = len + len / 4;
	uint8_t *extra = av_mallocz(cap + AV_INPUT_BUFFER_PADDING_SIZE), *out;
	size_t n = 0, i = 0;
	int out_len, ret = 0;

	if (parser == NULL || avctx == NULL || extra == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	/* NAL units start after 00 00 01; a set runs to the next start code. */
	while (i + 3 < len) {
		size_t s, e;

		if (!(data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1)) {
			i++;
			continue;
		}
		s = i + 3;
		for (e = s; e + 2 < len && !(data[e] == 0 && data[e + 1] == 0 && data[e + 2] <= 1); e++)
			;
		if (e + 2 >= len)
			e = len;
		if (param_set(m->codec, data + s)) {
			if (4 + e - s > cap - n) {
				ret = -EBADMSG; /* cannot happen (see cap): never write past it */
				goto out;
			}
			memcpy(extra + n, (const uint8_t[]){0, 0, 0, 1}, 4);
			memcpy(extra + n + 4, data + s, e - s);
			n += 4 + e - s;
		}
		i = e;
	}
	if (n == 0) {
		ret = -EAGAIN; /* a key frame without its sets: wait for the next */
		goto out;
	}
	if (m->codec == VIGIL_CODEC_H265 && (ret = sets_parse(extra, n)) < 0)
		goto out; /* the next key frame may do better */
	/* The parser reads an access unit once it has all of it: the frame,
	 * then the end of the input. */
	av_parser_parse2(parser, avctx, &out, &out_len, data, (int)len, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
	if (parser->width <= 0)
		av_parser_parse2(parser, avctx, &out, &out_len, NULL, 0, AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
	par->width = parser->width > 0 ? parser->width : avctx->width;
	par->height = parser->height > 0 ? parser->height : avctx->height;
	av_free(par->extradata); /* of a key frame whose start failed */
	par->extradata = extra;
	par->extradata_size = (int)n;
	extra = NULL;
out:
	av_free(extra);
	avcodec_free_context(&avctx);
	if (parser != NULL)
		av_parser_close(parser);
	return ret;
}

int vigil_mux_write(struct vigil_mux *m, const uint8_t *data, size_t len, int64_t pts, int64_t dts,
		    int64_t duration, bool key)
{
	AVPacket *pkt = m->pkt;
	int ret;

	if (len == 0 || len > INT32_MAX / 2) /* extradata (up to 5/4 of it) has an int size */
		return -EINVAL;
	if (!m->started) {
		if (!key)
			return -EAGAIN;
		ret = describe(m, data, len);
		if (ret == 0)
			ret = start(m);
		if (ret < 0)
			return ret;
		if (m->format == VIGIL_FORMAT_FMP4)
			m->ts0 = pts;
	}
	pkt->data = (uint8_t *)data;
	pkt->size = (int)len;
	pkt->pts = pts - m->ts0;
	pkt->dts = dts - m->ts0;
	pkt->duration = duration;
	pkt->stream_index = 0;
	pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
	ret = av_write_frame(m->ctx, pkt);
	pkt->data = NULL;
	pkt->size = 0;
	return ret < 0 ? av_errno(ret) : 0;
}

void vigil_mux_flush(struct vigil_mux *m)
{
	avio_flush(m->pb);
}

/* The AVIOContext's buffer fields are public (avio.h); with nothing in the
 * buffer (from its write callback, whose return resets the position to
 * buffer, or after a flush) moving them loses nothing. */
void vigil_mux_place(struct vigil_mux *m, uint8_t *p, size_t len)
{
	AVIOContext *pb = m->pb;

	if (m->format != VIGIL_FORMAT_TS)
		return; /* fMP4's muxer seeks back in its buffer: left alone */
	if (p == NULL || len == 0 || len > INT32_MAX) {
		p = m->own;
		len = MUX_AVIO_BYTES;
	}
	m->placed = p != m->own;
	pb->buffer = pb->buf_ptr = pb->buf_ptr_max = p;
	pb->buffer_size = (int)len;
	pb->buf_end = p + len;
}

int vigil_mux_cut(struct vigil_mux *m)
{
	int ret;

	if (!m->started)
		return 0;
	ret = av_write_frame(m->ctx, NULL);
	avio_flush(m->pb);
	if (ret < 0)
		return av_errno(ret);
	if (m->format == VIGIL_FORMAT_TS)
		ret = av_opt_set(m->ctx->priv_data, "mpegts_flags", "+resend_headers", 0);
	return ret < 0 ? av_errno(ret) : 0;
}
