/* SPDX-License-Identifier: MIT */
/* MPEG-TS muxing of Annex-B access units: libavformat's "mpegts" muxer
 * writing through an AVIOContext whose write callback hands the bytes on.
 * Packets point at the caller's frame: nothing is copied on our side. */
#include <errno.h>
#include <stdlib.h>

#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "mux_ts.h"

#define MUX_AVIO_BYTES (64u << 10)

struct vigil_mux_ts {
	AVFormatContext *ctx;
	AVIOContext *pb;
	AVPacket *pkt;
	vigil_mux_out_fn out;
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
	struct vigil_mux_ts *m = opaque;

	if (len > 0)
		m->out(m->arg, buf, (size_t)len);
	return len;
}

struct vigil_mux_ts *vigil_mux_ts_create(enum vigil_codec codec, vigil_mux_out_fn out, void *arg)
{
	struct vigil_mux_ts *m;
	AVStream *st;
	uint8_t *buf;
	int ret = -ENOMEM;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->out = out;
	m->arg = arg;
	ret = avformat_alloc_output_context2(&m->ctx, NULL, "mpegts", NULL);
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
	m->ctx->pb = m->pb;
	m->ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
	ret = avformat_write_header(m->ctx, NULL);
	if (ret < 0)
		goto err_pb;
	return m;

err_pb:
	av_freep(&m->pb->buffer);
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

void vigil_mux_ts_free(struct vigil_mux_ts *m)
{
	if (m == NULL)
		return;
	/* Frees the muxer's private state (deinit) without writing more. */
	avformat_free_context(m->ctx);
	av_freep(&m->pb->buffer);
	avio_context_free(&m->pb);
	av_packet_free(&m->pkt);
	free(m);
}

int vigil_mux_ts_write(struct vigil_mux_ts *m, const uint8_t *data, size_t len, int64_t pts, int64_t dts,
		       bool key)
{
	AVPacket *pkt = m->pkt;
	int ret;

	if (len == 0 || len > INT32_MAX)
		return -EINVAL;
	pkt->data = (uint8_t *)data;
	pkt->size = (int)len;
	pkt->pts = pts;
	pkt->dts = dts;
	pkt->stream_index = 0;
	pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
	ret = av_write_frame(m->ctx, pkt);
	pkt->data = NULL;
	pkt->size = 0;
	return ret < 0 ? av_errno(ret) : 0;
}

int vigil_mux_ts_cut(struct vigil_mux_ts *m)
{
	int ret = av_write_frame(m->ctx, NULL);

	avio_flush(m->pb);
	if (ret < 0)
		return av_errno(ret);
	ret = av_opt_set(m->ctx->priv_data, "mpegts_flags", "+resend_headers", 0);
	return ret < 0 ? av_errno(ret) : 0;
}
