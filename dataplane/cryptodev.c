/* SPDX-License-Identifier: MIT */
/* SRTP's AES-256-GCM through a DPDK crypto device's CPU crypto API or
 * its queue pairs (cryptodev.h). */
/* The CPU crypto API and the session pool are still marked experimental
 * in DPDK 22.11. */
#define ALLOW_EXPERIMENTAL_API

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "cryptodev.h"
#include "srtp.h"

#define QP_DESCRIPTORS 128 /* the queue pair start asks for; the CPU API uses none */
#define OPS 1024           /* the asynchronous path's operations, per queue pair */
/* In an operation's private area: the IV (where the session says), then
 * the packet's place in the burst. */
#define IV_OFFSET (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))
#define SLOT_OFFSET (IV_OFFSET + 16)

int vigil_cryptodev_open(struct vigil_cryptodev *d, const char *name, unsigned max_sessions, uint16_t n_workers,
			 bool async, char *msg, size_t msglen)
{
	struct rte_cryptodev_config conf = {
	    .socket_id = (int)rte_socket_id(),
	    .ff_disable = RTE_CRYPTODEV_FF_ASYMMETRIC_CRYPTO | RTE_CRYPTODEV_FF_SECURITY,
	};
	struct rte_cryptodev_qp_conf qp = {.nb_descriptors = QP_DESCRIPTORS};
	struct rte_cryptodev_info info;
	char pool[RTE_MEMPOOL_NAMESIZE];
	int id;

	memset(d, 0, sizeof(*d));
	id = rte_cryptodev_get_dev_id(name);
	if (id < 0) {
		snprintf(msg, msglen, "%s: no such crypto device (a vdev needs --vdev=%s; its PMD installed)", name,
			 name);
		return -ENODEV;
	}
	d->dev_id = (uint8_t)id;
	rte_cryptodev_info_get(d->dev_id, &info);
	d->cpu = info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO;
	d->async = async || !d->cpu;
	/* The CPU path takes no queue pair, but the device starts with one. */
	conf.nb_queue_pairs = d->async && n_workers > 1 ? n_workers : 1;
	if (conf.nb_queue_pairs > info.max_nb_queue_pairs) {
		snprintf(msg, msglen, "%s: %u queue pairs, and %u workers need one each", name,
			 info.max_nb_queue_pairs, conf.nb_queue_pairs);
		return -ENOSPC;
	}
	d->n_qps = (uint16_t)conf.nb_queue_pairs;
	snprintf(pool, sizeof(pool), "vigil_cs_%u", d->dev_id);
	d->sessions = rte_cryptodev_sym_session_pool_create(
	    pool, max_sessions, rte_cryptodev_sym_get_private_session_size(d->dev_id), 0, 0, conf.socket_id);
	snprintf(pool, sizeof(pool), "vigil_co_%u", d->dev_id);
	d->ops = rte_crypto_op_pool_create(pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC, OPS * d->n_qps, 0,
					   16 + sizeof(uint32_t), conf.socket_id);
	if (d->sessions == NULL || d->ops == NULL) {
		vigil_cryptodev_close(d);
		snprintf(msg, msglen, "%s: no memory for its sessions or operations", name);
		return -ENOMEM;
	}
	/* aesni_gcm's 1,028 bytes and the header: 18; aesni_mb's: 24. */
	d->session_lines = RTE_MIN((d->sessions->elt_size + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE,
				   VIGIL_CRYPTODEV_PREFETCH_LINES);
	qp.mp_session = d->sessions;
	if (rte_cryptodev_configure(d->dev_id, &conf) < 0)
		goto fail;
	for (uint16_t q = 0; q < d->n_qps; q++)
		if (rte_cryptodev_queue_pair_setup(d->dev_id, q, &qp, conf.socket_id) < 0)
			goto fail;
	if (rte_cryptodev_start(d->dev_id) < 0)
		goto fail;
	return 0;
fail:
	vigil_cryptodev_close(d);
	snprintf(msg, msglen, "%s: cannot be configured and started", name);
	return -EIO;
}

void vigil_cryptodev_close(struct vigil_cryptodev *d)
{
	if (d->sessions == NULL && d->ops == NULL)
		return;
	rte_cryptodev_stop(d->dev_id);
	rte_mempool_free(d->sessions);
	rte_mempool_free(d->ops);
	d->sessions = NULL;
	d->ops = NULL;
}

void *vigil_cryptodev_session(struct vigil_cryptodev *d, const uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
			      uint16_t hdr_len, bool encrypt)
{
	struct rte_crypto_sym_xform xf = {
	    .type = RTE_CRYPTO_SYM_XFORM_AEAD,
	    .aead =
		{
		    .op = encrypt ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT,
		    .algo = RTE_CRYPTO_AEAD_AES_GCM,
		    .key = {.data = key, .length = VIGIL_SRTP_MASTER_KEY_LEN},
		    /* Where an op would carry it; the CPU API takes it apart. */
		    .iv = {.offset = IV_OFFSET, .length = VIGIL_SRTP_IV_LEN},
		    .digest_length = VIGIL_SRTP_TAG_LEN,
		    .aad_length = hdr_len,
		},
	};
	void *s = rte_cryptodev_sym_session_create(d->dev_id, &xf, d->sessions);

	if (s == NULL)
		errno = rte_errno ? rte_errno : ENOMEM;
	return s;
}

void vigil_cryptodev_session_free(struct vigil_cryptodev *d, void *sess)
{
	if (sess != NULL)
		rte_cryptodev_sym_session_free(d->dev_id, sess);
}

/* A burst for the CPU API, put together packet by packet. */
struct cpu_burst {
	uint8_t iv[VIGIL_BURST][VIGIL_SRTP_IV_LEN];
	uint8_t aad[VIGIL_BURST][VIGIL_SRTCP_HEADER_LEN + 4]; /* SRTCP's, out of two pieces */
	struct rte_crypto_vec vec[VIGIL_BURST];
	struct rte_crypto_sgl sgl[VIGIL_BURST];
	struct rte_crypto_va_iova_ptr ivp[VIGIL_BURST], digest[VIGIL_BURST], aadp[VIGIL_BURST];
	int32_t status[VIGIL_BURST];
	unsigned idx[VIGIL_BURST], k;
};

/* Packet i of the caller's burst, its IV in b->iv[b->k] already: the
 * vector is the body bytes at base (the ciphertext alone, at no offset:
 * aesni_gcm ignores the offsets, aesni_mb takes them), the tag after
 * them, the AAD at aad. */
static void cpu_add(struct cpu_burst *b, unsigned i, uint8_t *base, uint32_t body, uint8_t *aad)
{
	unsigned k = b->k++;

	b->vec[k] = (struct rte_crypto_vec){.base = base, .len = body, .tot_len = body};
	b->sgl[k] = (struct rte_crypto_sgl){.vec = &b->vec[k], .num = 1};
	b->ivp[k] = (struct rte_crypto_va_iova_ptr){.va = b->iv[k]};
	b->digest[k] = (struct rte_crypto_va_iova_ptr){.va = base + body};
	b->aadp[k] = (struct rte_crypto_va_iova_ptr){.va = aad};
	b->idx[k] = i;
}

/* The burst through the device: each packet's status 0, or refused
 * (anything but success is a refusal, whatever the PMD says). How many
 * succeeded. */
static unsigned cpu_run(const struct vigil_cryptodev *d, void *sess, struct cpu_burst *b,
			struct vigil_cryptodev_pkt *p, int32_t refused)
{
	union rte_crypto_sym_ofs ofs = {.raw = 0};
	struct rte_crypto_sym_vec sv = {.src_sgl = b->sgl, .iv = b->ivp, .digest = b->digest, .aad = b->aadp,
					.status = b->status, .num = b->k};
	unsigned ok = 0;

	if (b->k == 0)
		return 0;
	rte_cryptodev_sym_cpu_crypto_process(d->dev_id, sess, ofs, &sv);
	for (unsigned j = 0; j < b->k; j++) {
		p[b->idx[j]].status = b->status[j] == 0 ? 0 : refused;
		ok += b->status[j] == 0;
	}
	return ok;
}

/* Both directions of SRTP: the payload (ciphertext or plaintext) is the
 * vector, the header the AAD, the tag after the payload (read when
 * decrypting, written when encrypting). A refusal: EBADMSG for a tag that
 * does not match, EIO for an encryption the device did not do. */
static unsigned cpu_process(const struct vigil_cryptodev *d, void *sess, const uint8_t *salt, uint16_t hdr_len,
			    struct vigil_cryptodev_pkt *p, unsigned n, bool encrypt)
{
	const uint32_t tag = encrypt ? 0 : VIGIL_SRTP_TAG_LEN; /* of len */
	struct cpu_burst b;

	b.k = 0;
	for (unsigned i = 0; i < n && i < VIGIL_BURST; i++) {
		if (p[i].len < (uint32_t)hdr_len + tag) {
			p[i].status = EINVAL;
			continue;
		}
		vigil_srtp_iv(b.iv[b.k], salt, p[i].ssrc, p[i].roc, p[i].seq);
		cpu_add(&b, i, p[i].pkt + hdr_len, p[i].len - tag - hdr_len, p[i].pkt);
	}
	return cpu_run(d, sess, &b, p, encrypt ? EIO : EBADMSG);
}

unsigned vigil_cryptodev_srtp_decrypt(const struct vigil_cryptodev *d, void *sess,
				      const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], uint16_t hdr_len,
				      struct vigil_cryptodev_pkt *p, unsigned n)
{
	return cpu_process(d, sess, salt, hdr_len, p, n, false);
}

unsigned vigil_cryptodev_srtp_encrypt(const struct vigil_cryptodev *d, void *sess,
				      const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], uint16_t hdr_len,
				      struct vigil_cryptodev_pkt *p, unsigned n)
{
	return cpu_process(d, sess, salt, hdr_len, p, n, true);
}

unsigned vigil_cryptodev_srtcp_decrypt(const struct vigil_cryptodev *d, void *sess,
				       const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], struct vigil_cryptodev_pkt *p,
				       unsigned n)
{
	const uint32_t head = VIGIL_SRTCP_HEADER_LEN, tail = VIGIL_SRTP_TAG_LEN + 4;
	struct cpu_burst b;

	b.k = 0;
	for (unsigned i = 0; i < n && i < VIGIL_BURST; i++) {
		uint32_t esi;

		if (p[i].len < head + tail || !((esi = vigil_get32(p[i].pkt + p[i].len - 4)) & VIGIL_SRTCP_E_BIT)) {
			p[i].status = EINVAL;
			continue;
		}
		esi &= ~VIGIL_SRTCP_E_BIT;
		/* Section 9.1: the RTP IV with the index where ROC and SEQ were. */
		vigil_srtp_iv(b.iv[b.k], salt, vigil_get32(p[i].pkt + 4), esi >> 16, (uint16_t)esi);
		memcpy(b.aad[b.k], p[i].pkt, head);
		memcpy(b.aad[b.k] + head, p[i].pkt + p[i].len - 4, 4);
		cpu_add(&b, i, p[i].pkt + head, p[i].len - head - tail, b.aad[b.k]);
	}
	return cpu_run(d, sess, &b, p, EBADMSG);
}

/* An operation for a packet, in place in its mbuf: the ciphertext from
 * after the header, the header as AAD, the tag after the ciphertext. */
static void op_fill(struct rte_crypto_op *op, void *sess, const uint8_t *salt, uint16_t hdr_len,
		    const struct vigil_cryptodev_pkt *q, uint32_t slot)
{
	struct rte_crypto_sym_op *sym = op->sym;
	uint32_t off = (uint32_t)(q->pkt - rte_pktmbuf_mtod(q->m, uint8_t *));
	uint32_t body = q->len - VIGIL_SRTP_TAG_LEN - hdr_len;

	rte_crypto_op_attach_sym_session(op, sess);
	sym->m_src = q->m;
	sym->m_dst = NULL;
	sym->aead.data.offset = off + hdr_len;
	sym->aead.data.length = body;
	sym->aead.digest.data = q->pkt + hdr_len + body;
	sym->aead.digest.phys_addr = rte_pktmbuf_iova_offset(q->m, off + hdr_len + body);
	sym->aead.aad.data = q->pkt;
	sym->aead.aad.phys_addr = rte_pktmbuf_iova_offset(q->m, off);
	vigil_srtp_iv(rte_crypto_op_ctod_offset(op, uint8_t *, IV_OFFSET), salt, q->ssrc, q->roc, q->seq);
	*rte_crypto_op_ctod_offset(op, uint32_t *, SLOT_OFFSET) = slot;
}

unsigned vigil_cryptodev_srtp_decrypt_qp(const struct vigil_cryptodev *d, uint16_t qp, void *sess,
					 const uint8_t salt[VIGIL_SRTP_SESSION_SALT_LEN], uint16_t hdr_len,
					 struct vigil_cryptodev_pkt *p, unsigned n)
{
	struct rte_crypto_op *ops[VIGIL_BURST];
	unsigned k = 0, sent = 0, back = 0, ok = 0;

	if (n > VIGIL_BURST)
		n = VIGIL_BURST;
	for (unsigned i = 0; i < n; i++)
		p[i].status = p[i].len < (uint32_t)hdr_len + VIGIL_SRTP_TAG_LEN ? EINVAL : ENOBUFS;
	for (unsigned i = 0; i < n; i++)
		k += p[i].status == ENOBUFS;
	if (k == 0 || rte_crypto_op_bulk_alloc(d->ops, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, k) != k)
		return 0;
	for (unsigned i = 0, j = 0; i < n; i++)
		if (p[i].status == ENOBUFS)
			op_fill(ops[j++], sess, salt, hdr_len, &p[i], i);
	/* The device takes what it has room for and gives back what it
	 * finished: until all are back. */
	while (back < k) {
		struct rte_crypto_op *done[VIGIL_BURST];
		uint16_t got;

		if (sent < k)
			sent += rte_cryptodev_enqueue_burst(d->dev_id, qp, &ops[sent], (uint16_t)(k - sent));
		got = rte_cryptodev_dequeue_burst(d->dev_id, qp, done, VIGIL_BURST);
		for (uint16_t j = 0; j < got; j++) {
			uint32_t slot = *rte_crypto_op_ctod_offset(done[j], uint32_t *, SLOT_OFFSET);

			/* Anything but success is a refusal, as on the CPU path. */
			p[slot].status = done[j]->status == RTE_CRYPTO_OP_STATUS_SUCCESS ? 0 : EBADMSG;
			ok += p[slot].status == 0;
			rte_crypto_op_free(done[j]);
		}
		back += got;
	}
	return ok;
}
