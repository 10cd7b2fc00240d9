/* SPDX-License-Identifier: MIT */
/* vigil.conf: an INI file parsed by inih, validated into struct
 * vigil_config: reading the file, its sections, each camera's required
 * keys and the checks across keys; the keys themselves are the table of
 * config_keys.c. Every error names the file, the line and what is wrong. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <sodium.h>

#include "config_parse.h"

#define CONFIG_IO_BUF 4096 /* stdio's buffer for the file */

int config_fail(struct parser *p, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (p->err_line != 0)
		return 0; /* keep the first error */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->cfg->path[0] == '\0') /* a camera from the admin socket */
		snprintf(p->err, p->errlen, "%s", msg);
	else
		snprintf(p->err, p->errlen, "%s:%u: %s", p->cfg->path, line, msg);
	p->err_line = line != 0 ? line : 1; /* nonzero: failed */
	return 0;
}

/* inih calls this for each line; it lets us number lines and see section
 * headers, which inih does not report for repeated [Camera] sections.
 * buf is inih's one line buffer (on its stack): it held Key lines, and
 * inih reads to the end of the file whatever fails (it is built without
 * INI_STOP_ON_FIRST_ERROR), so it is wiped at the end. */
static char *read_line(char *buf, int size, void *stream)
{
	struct parser *p = stream;
	const char *s;

	if (fgets(buf, size, p->file) == NULL) {
		sodium_memzero(buf, (size_t)size);
		return NULL;
	}
	p->line++;
	if (strchr(buf, '\n') == NULL && !feof(p->file)) {
		config_fail(p, p->line, "line longer than %d characters", size - 2);
		int c;
		while ((c = fgetc(p->file)) != EOF && c != '\n')
			;
		buf[0] = '\0';
		return buf;
	}
	for (s = buf; isspace((unsigned char)*s); s++)
		;
	if (*s == '[') {
		p->section_count++;
		p->section_line = p->line;
	}
	return buf;
}

/* The kind (0 VPS, 1 SPS, 2 PPS) of a parameter set NAL unit of the codec,
 * or -1; the same test as vigil_depay_seed_params, which is not linked in. */
static int param_kind(enum vigil_codec codec, const uint8_t *nal, size_t len)
{
	unsigned type;

	if (codec == VIGIL_CODEC_H265) {
		type = nal[0] >> 1 & 0x3f;
		if (len < 3 || (nal[0] & 0x80) || (nal[1] & 0x07) == 0 || type < 32 || type > 34)
			return -1;
		return (int)type - 32;
	}
	type = nal[0] & 0x1f;
	if (len < 2 || (nal[0] & 0x80) || type < 7 || type > 8)
		return -1;
	return (int)type - 6;
}

/* 00 00 00, 00 00 01 or 00 00 02 inside, or a last byte 00: emulation
 * prevention forbids them in a NAL unit (as the depacketizers refuse). */
static bool nal_clean(const uint8_t *nal, size_t len)
{
	for (size_t i = 2; i < len; i++)
		if (nal[i - 2] == 0 && nal[i - 1] == 0 && nal[i] <= 2)
			return false;
	return len > 0 && nal[len - 1] != 0;
}

static int check_param_sets(struct parser *p, const struct vigil_camera_config *cam)
{
	static const char *const kinds[] = {"VPS", "SPS", "PPS"};
	unsigned seen = 0;

	for (unsigned i = 0; i < cam->n_param_sets; i++) {
		int kind = param_kind(cam->codec, cam->param_sets[i].nal, cam->param_sets[i].len);

		if (kind < 0)
			return config_fail(p, p->param_line[i], "ParameterSets: unit %u is not %s", i + 1,
					   cam->codec == VIGIL_CODEC_H265 ? "an H.265 VPS, SPS or PPS"
									  : "an H.264 SPS or PPS");
		if (!nal_clean(cam->param_sets[i].nal, cam->param_sets[i].len))
			return config_fail(
			    p, p->param_line[i],
			    "ParameterSets: unit %u holds a start code prefix (00 00 00/01/02) or "
			    "ends in 00: not a NAL unit",
			    i + 1);
		if (seen & 1u << kind)
			return config_fail(p, p->param_line[i],
					   "ParameterSets: unit %u is a second %s (one of each is kept)",
					   i + 1, kinds[kind]);
		seen |= 1u << kind;
	}
	return 1;
}

static int check_camera(struct parser *p)
{
	static const struct {
		unsigned bit;
		const char *name;
	} required[] = {{CAM_NAME, "Name"}, {CAM_SSRC, "SSRC"}, {CAM_KEY, "Key"}, {CAM_CODEC, "Codec"}};
	const struct vigil_camera_config *cam;

	if (p->section != SEC_CAMERA)
		return 1;
	cam = &p->cfg->cameras[p->cfg->n_cameras - 1];
	if (p->cam_keys & CAM_IDENTITY) {
		/* Key and SSRC come from its handshakes. */
		if (p->cam_keys & (CAM_KEY | CAM_SSRC))
			return config_fail(p, cam->line,
					   "[Camera] with an Identity takes no %s: the handshake gives it",
					   p->cam_keys & CAM_KEY ? "Key" : "SSRC");
		p->cam_keys |= CAM_KEY | CAM_SSRC;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!(p->cam_keys & required[i].bit))
			return config_fail(p, cam->line, "[Camera] has no %s%s", required[i].name,
					   required[i].bit == CAM_KEY ? " (or Identity)" : "");
	if (!(p->cam_keys & CAM_RTX_SSRC) != !(p->cam_keys & CAM_RTX_PT))
		return config_fail(p, cam->line, "[Camera] has %s without %s: a camera retransmits with both",
				   p->cam_keys & CAM_RTX_SSRC ? "RtxSSRC" : "RtxPayloadType",
				   p->cam_keys & CAM_RTX_SSRC ? "RtxPayloadType" : "RtxSSRC");
	if (cam->has_rtx && (p->cam_keys & CAM_IDENTITY))
		return config_fail(p, cam->line, "[Camera] with an Identity takes no RtxSSRC: the handshake gives it");
	if ((p->cam_keys & CAM_RTCP_RSIZE) && (p->cam_keys & CAM_IDENTITY))
		return config_fail(p, cam->line,
				   "[Camera] with an Identity takes no RtcpReducedSize: one that retransmits takes it");
	if ((p->cam_keys & CAM_RTCP_RSIZE) && !cam->has_rtx)
		return config_fail(p, cam->line,
				   "[Camera] has RtcpReducedSize without RtxSSRC: feedback goes only to a camera that retransmits");
	if (cam->has_rtx && cam->rtx_ssrc == cam->ssrc)
		return config_fail(p, cam->line, "[Camera] RtxSSRC %" PRIu32 " is its own SSRC: RTX needs an SSRC of its own",
				   cam->rtx_ssrc);
	if (!(p->cam_keys & CAM_PT))
		/* 96-127 */
		p->cfg->cameras[p->cfg->n_cameras - 1].payload_types[1] = UINT64_C(0xffffffff) << 32;
	if (!check_param_sets(p, cam)) /* the Codec may come after them */
		return 0;
	config_index_camera(p);
	return 1;
}

static int start_section(struct parser *p, const char *section)
{
	if (!check_camera(p))
		return 0;
	p->seen_section = p->section_count;
	if (strcasecmp(section, "Ingest") == 0) {
		if (p->ingest_keys++)
			return config_fail(p, p->section_line, "[Ingest] appears twice");
		p->section = SEC_INGEST;
		return 1;
	}
	if (strcasecmp(section, "Storage") == 0) {
		if (p->storage_sections++)
			return config_fail(p, p->section_line, "[Storage] appears twice");
		p->storage_line = p->section_line;
		p->section = SEC_STORAGE;
		return 1;
	}
	if (strcasecmp(section, "Cluster") == 0) {
		if (p->cluster_sections++)
			return config_fail(p, p->section_line, "[Cluster] appears twice");
		p->cluster_line = p->section_line;
		p->section = SEC_CLUSTER;
		return 1;
	}
	if (strcasecmp(section, "Camera") == 0) {
		struct vigil_camera_config *cams = p->cfg->cameras;

		/* Doubled, never realloc'd: the old array holds keys, wiped
		 * before it is freed. */
		if (p->cfg->n_cameras == p->cap) {
			unsigned cap = p->cap > 0 ? 2 * p->cap : 16;

			cams = calloc(cap, sizeof(*cams));
			if (cams == NULL)
				return config_fail(p, p->section_line, "out of memory");
			if (p->cfg->n_cameras > 0) {
				memcpy(cams, p->cfg->cameras, p->cfg->n_cameras * sizeof(*cams));
				sodium_memzero(p->cfg->cameras, p->cfg->n_cameras * sizeof(*cams));
			}
			free(p->cfg->cameras);
			p->cfg->cameras = cams;
			p->cap = cap;
		}
		memset(&cams[p->cfg->n_cameras], 0, sizeof(*cams));
		cams[p->cfg->n_cameras].line = p->section_line;
		p->cfg->n_cameras++;
		p->cam_keys = 0;
		p->section = SEC_CAMERA;
		return 1;
	}
	return config_fail(p, p->section_line, "unknown section [%s] (expected [Ingest], [Storage], [Cluster] or [Camera])",
			   section);
}

static int handle(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;

	p->has_key |= strcasecmp(name, "Key") == 0;
	if (p->err_line != 0)
		return 1; /* already failed; let inih finish quietly */
	if (p->seen_section != p->section_count && !start_section(p, section))
		return 0;
	if (p->section == SEC_NONE)
		return config_fail(p, p->line, "'%s' is outside any section", name);
	return config_key(p, name, value);
}

/* Who may read or change the file, as for the key files: not group or
 * others if it holds a key; not group or others either, keys or not, to
 * write it (whoever writes it chooses, at the next reload, the cameras and
 * their keys, where vigild writes as root, which keystore it trusts); and
 * owned by vigild's user or root, who alone could chmod it. A file with no
 * Key (Identity cameras, a Keystore) may be readable: it holds public keys
 * and paths. -EPERM with the message, whatever else is wrong in it. */
static int refuse_mode(struct parser *p, const struct stat *st)
{
	static const char *const who[] = {"", "others", "group", "group and others"};
	const char *path = p->cfg->path;
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (mode & 022)
		snprintf(p->err, p->errlen,
			 "%s: writable by %s (mode %04o): they could choose the cameras, their keys and "
			 "where vigild writes; chmod go-w %s",
			 path, who[(mode & 020) >> 3 | (mode & 002) >> 1], mode, path);
	else if (p->has_key && (mode & 044))
		snprintf(p->err, p->errlen,
			 "%s: readable by %s (mode %04o) but holds camera keys (Key =); chmod 600 %s", path,
			 who[(mode & 040) >> 4 | (mode & 004) >> 2], mode, path);
	else if (st->st_uid != geteuid() && st->st_uid != 0)
		snprintf(p->err, p->errlen,
			 "%s: owned by uid %u, neither vigild's user (uid %u) nor root, who could change "
			 "it; chown it",
			 path, (unsigned)st->st_uid, (unsigned)geteuid());
	else
		return 0;
	return -EPERM;
}

/* A cluster node has one source of truth for its cameras, etcd: no
 * [Camera] sections, no keystore file. Its Anycast address is one of its
 * Addresses (answered for ARP/NDP, handshakes to it taken). */
static void check_cluster(struct parser *p)
{
	struct vigil_config *cfg = p->cfg;
	uint8_t a[16];

	if (cfg->cluster.etcd[0] == '\0') {
		config_fail(p, p->cluster_line, "[Cluster] has no Etcd");
		return;
	}
	if (cfg->n_cameras > 0) {
		config_fail(p, cfg->cameras[0].line,
			    "[Camera] in a cluster node: its cameras come from etcd ([Cluster]); add them with "
			    "vigilctl camera add on any node");
		return;
	}
	if (cfg->keystore[0] != '\0') {
		config_fail(p, p->keystore_line,
			    "Keystore: a cluster node keeps its cameras in etcd, not in a keystore file; remove it "
			    "(KeystoreKeyFile stays: the cluster master key)");
		return;
	}
	if ((cfg->cluster.cert_file[0] == '\0') != (cfg->cluster.key_file[0] == '\0')) {
		config_fail(p, p->cluster_line, "[Cluster] has %s without %s: a client certificate goes with its key",
			    cfg->cluster.cert_file[0] ? "EtcdCertFile" : "EtcdKeyFile",
			    cfg->cluster.cert_file[0] ? "EtcdKeyFile" : "EtcdCertFile");
		return;
	}
	if (cfg->cluster.node[0] == '\0') {
		char host[256] = "";

		(void)gethostname(host, sizeof(host) - 1);
		snprintf(cfg->cluster.node, sizeof(cfg->cluster.node), "%.*s", (int)strcspn(host, "."), host);
		if (!vigil_config_valid_name(cfg->cluster.node)) {
			config_fail(p, p->cluster_line, "[Cluster] has no Node, and the host name '%s' is not one: set Node",
				    host);
			return;
		}
	}
	if (cfg->cluster.anycast[0] == '\0')
		return;
	if (inet_pton(AF_INET, cfg->cluster.anycast, a) == 1) {
		uint32_t v4;

		memcpy(&v4, a, 4);
		for (unsigned i = 0; i < cfg->n_ipv4; i++)
			if (cfg->ipv4[i] == v4)
				return;
		if (cfg->n_ipv4 < VIGIL_MAX_ADDRESSES)
			cfg->ipv4[cfg->n_ipv4++] = v4;
		else
			config_fail(p, p->cluster_line, "Anycast: more than %d IPv4 addresses with Address's", VIGIL_MAX_ADDRESSES);
	} else if (inet_pton(AF_INET6, cfg->cluster.anycast, a) == 1) {
		for (unsigned i = 0; i < cfg->n_ipv6; i++)
			if (memcmp(cfg->ipv6[i], a, 16) == 0)
				return;
		if (cfg->n_ipv6 < VIGIL_MAX_ADDRESSES)
			memcpy(cfg->ipv6[cfg->n_ipv6++], a, 16);
		else
			config_fail(p, p->cluster_line, "Anycast: more than %d IPv6 addresses with Address's", VIGIL_MAX_ADDRESSES);
	}
}

int vigil_config_load(struct vigil_config *cfg, const char *path, char *err, size_t errlen)
{
	struct parser p = {.cfg = cfg, .err = err, .errlen = errlen};
	struct stat st;
	char *iobuf;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	cfg->workers = 1;
	cfg->recorders = 1;
	cfg->segment_seconds = VIGIL_DEFAULT_SEGMENT_SECONDS;
	cfg->max_frame_bytes = VIGIL_DEFAULT_MAX_FRAME_BYTES;
	cfg->max_cameras = VIGIL_DEFAULT_MAX_CAMERAS;
	cfg->key_grace_ms = VIGIL_DEFAULT_KEY_GRACE_MS;
	cfg->max_unsynced_ms = VIGIL_DEFAULT_MAX_UNSYNCED_MS;
	cfg->rekey_seconds = VIGIL_DEFAULT_REKEY_SECONDS;
	cfg->rekey_packets = VIGIL_DEFAULT_REKEY_PACKETS;
	cfg->retransmit_hold_ms = VIGIL_DEFAULT_RETRANSMIT_HOLD_MS;
	cfg->offline_seconds = VIGIL_DEFAULT_OFFLINE_SECONDS;
	cfg->playback_per_address = VIGIL_DEFAULT_PLAYBACK_PER_ADDRESS;
	cfg->event_queue = VIGIL_DEFAULT_EVENT_QUEUE;
	cfg->auth_failed_per_minute = VIGIL_DEFAULT_AUTH_FAILED_PER_MINUTE;
	cfg->storage.spool_bytes = VIGIL_DEFAULT_SPOOL_BYTES;
	cfg->storage.upload_wait_seconds = VIGIL_DEFAULT_UPLOAD_WAIT_SECONDS;
	snprintf(cfg->storage.region, sizeof(cfg->storage.region), "us-east-1");
	snprintf(cfg->cluster.prefix, sizeof(cfg->cluster.prefix), "%s", VIGIL_DEFAULT_CLUSTER_PREFIX);
	cfg->cluster.lease_seconds = VIGIL_DEFAULT_LEASE_SECONDS;
	snprintf(cfg->player_dir, sizeof(cfg->player_dir), "%s", VIGIL_DEFAULT_PLAYER_DIR);

	p.file = fopen(path, "re");
	if (p.file == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return rc;
	}
	/* stdio's buffer is ours, locked and wiped: it holds the keys. */
	iobuf = sodium_init() < 0 ? NULL : sodium_malloc(CONFIG_IO_BUF);
	if (iobuf == NULL || setvbuf(p.file, iobuf, _IOFBF, CONFIG_IO_BUF) != 0 ||
	    fstat(fileno(p.file), &st) < 0) {
		rc = iobuf == NULL ? -ENOMEM : -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		fclose(p.file);
		sodium_free(iobuf);
		return rc;
	}
	p.by_name = json_object();
	p.by_ssrc = json_object();
	p.by_identity = json_object();
	rc = p.by_name != NULL && p.by_ssrc != NULL && p.by_identity != NULL ? ini_parse_stream(read_line, &p, handle, &p)
									      : -1;
	json_decref(p.by_name);
	json_decref(p.by_ssrc);
	json_decref(p.by_identity);
	p.by_name = p.by_ssrc = p.by_identity = NULL;
	fclose(p.file);
	sodium_free(iobuf); /* wipes */
	if (refuse_mode(&p, &st) < 0) {
		vigil_config_free(cfg);
		return -EPERM;
	}
	if (rc > 0 && p.err_line == 0)
		config_fail(&p, (unsigned)rc, "not a 'Key = value' line or section header");
	if (rc < 0 && p.err_line == 0)
		config_fail(&p, p.line, "cannot parse (out of memory)");
	if (p.err_line == 0)
		check_camera(&p);
	if (p.err_line == 0 && !p.ports_set)
		config_fail(&p, p.line, "[Ingest] has no Ports");
	if (p.err_line == 0 && p.cluster_sections > 0)
		check_cluster(&p);
	if (p.err_line == 0 && cfg->n_cameras == 0 && cfg->keystore[0] == '\0' && p.cluster_sections == 0)
		config_fail(&p, p.line, "no [Camera] section, no Keystore and no [Cluster]: nothing to ingest");
	if (p.err_line == 0 && (cfg->keystore[0] != '\0' || p.cluster_sections > 0) &&
	    cfg->keystore_key_file[0] == '\0' && getenv("VIGIL_KEYSTORE_KEY_FILE") == NULL)
		config_fail(&p, p.line, "%s: needs KeystoreKeyFile (or VIGIL_KEYSTORE_KEY_FILE in the environment)",
			    p.cluster_sections > 0 ? "[Cluster]" : "Keystore");
	if (p.err_line == 0 && cfg->handshake_port != 0 &&
	    vigil_config_is_srtp_port(cfg, cfg->handshake_port))
		config_fail(&p, p.handshake_line,
			    "HandshakePort: %u is one of the SRTP Ports; give it a port of its own",
			    cfg->handshake_port);
	/* The port is promiscuous: only handshakes sent to an Address of ours
	 * are answered. */
	if (p.err_line == 0 && cfg->handshake_port != 0 && cfg->n_ipv4 + cfg->n_ipv6 == 0)
		config_fail(
		    &p, p.handshake_line,
		    "HandshakePort: needs Address in [Ingest], the address cameras send their handshakes to");
	for (unsigned i = 0; p.err_line == 0 && i < cfg->n_cameras; i++)
		if (cfg->cameras[i].has_identity &&
		    (cfg->handshake_port == 0 || cfg->server_key_file[0] == '\0'))
			config_fail(&p, cfg->cameras[i].line,
				    "Identity: needs HandshakePort and ServerKeyFile in [Ingest]");
	for (unsigned i = 0; p.err_line == 0 && i < cfg->n_cameras; i++)
		if (cfg->cameras[i].sealed && cfg->format != VIGIL_FORMAT_TS)
			config_fail(&p, cfg->cameras[i].line,
				    "OwnerKey: sealed recordings are MPEG-TS only (RecordFormat = ts)");
	if (p.err_line == 0 && (cfg->playback_cert_file[0] == '\0') != (cfg->playback_key_file[0] == '\0'))
		config_fail(&p, p.line, "PlaybackCertFile and PlaybackKeyFile: give both (TLS) or neither");
	if (p.err_line == 0 && p.storage_sections > 0 && cfg->storage.endpoint[0] == '\0')
		config_fail(&p, p.storage_line, "[Storage] has no Endpoint");
	if (p.err_line == 0 && p.storage_sections > 0 && cfg->storage.bucket[0] == '\0')
		config_fail(&p, p.storage_line, "[Storage] has no Bucket");
	/* [Ingest] may come after the cameras: their defaults, now. */
	for (unsigned i = 0; p.err_line == 0 && i < cfg->n_cameras; i++) {
		if (!(cfg->cameras[i].retain_own & 1))
			cfg->cameras[i].retain_hours = cfg->retain_hours;
		if (!(cfg->cameras[i].retain_own & 2))
			cfg->cameras[i].retain_bytes = cfg->retain_bytes;
	}
	if (p.err_line == 0 && cfg->n_cameras > cfg->max_cameras)
		config_fail(&p, cfg->cameras[cfg->max_cameras].line, "camera %u is over MaxCameras = %u",
			    cfg->max_cameras + 1, cfg->max_cameras);
	if (p.err_line != 0) {
		vigil_config_free(cfg);
		return -EINVAL;
	}
	return 0;
}

void vigil_config_free(struct vigil_config *cfg)
{
	if (cfg->cameras != NULL)
		sodium_memzero(cfg->cameras, cfg->n_cameras * sizeof(*cfg->cameras));
	free(cfg->cameras);
	cfg->cameras = NULL;
	cfg->n_cameras = 0;
}

int vigil_config_camera(const struct vigil_config *cfg, struct vigil_camera_config *cam,
			const char *const *keys, const char *const *values, unsigned n, char *err,
			size_t errlen)
{
	struct vigil_config one = {.n_cameras = 1, .cameras = cam, .format = cfg->format};
	struct parser p = {.cfg = &one, .err = err, .errlen = errlen, .section = SEC_CAMERA};

	memset(cam, 0, sizeof(*cam));
	for (unsigned i = 0; i < n && p.err_line == 0; i++)
		config_key(&p, keys[i], values[i]);
	if (p.err_line == 0)
		check_camera(&p);
	if (p.err_line == 0 && cam->sealed && cfg->format != VIGIL_FORMAT_TS)
		config_fail(&p, 0, "OwnerKey: sealed recordings are MPEG-TS only (RecordFormat = ts)");
	if (p.err_line == 0 && cam->has_identity &&
	    (cfg->handshake_port == 0 || cfg->server_key_file[0] == '\0'))
		config_fail(&p, 0, "Identity: vigild has no HandshakePort and ServerKeyFile in [Ingest]");
	if (p.err_line != 0) {
		sodium_memzero(cam, sizeof(*cam));
		return -EINVAL;
	}
	if (!(cam->retain_own & 1))
		cam->retain_hours = cfg->retain_hours;
	if (!(cam->retain_own & 2))
		cam->retain_bytes = cfg->retain_bytes;
	return 0;
}

int vigil_config_key(const char *value, uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
		     uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], char *err, size_t errlen)
{
	struct vigil_camera_config cam;
	struct vigil_config one = {.n_cameras = 1, .cameras = &cam};
	struct parser p = {.cfg = &one, .err = err, .errlen = errlen, .section = SEC_CAMERA};

	if (!config_parse_key(&p, &cam, value)) {
		sodium_memzero(&cam, sizeof(cam));
		return -EINVAL;
	}
	memcpy(key, cam.master_key, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(salt, cam.master_salt, VIGIL_SRTP_MASTER_SALT_LEN);
	sodium_memzero(&cam, sizeof(cam));
	return 0;
}
