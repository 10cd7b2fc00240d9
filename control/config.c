/* SPDX-License-Identifier: MIT */
/* vigil.conf: an INI file parsed by inih, validated into struct
 * vigil_config. Every error names the file, the line and what is wrong. */
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

#include "vigil/config.h"
#include "seal.h"

#define CONFIG_IO_BUF 4096 /* stdio's buffer for the file */

enum section { SEC_NONE, SEC_INGEST, SEC_CAMERA };

/* Which keys a [Camera] section has set, to report the missing ones. */
enum {
	CAM_NAME = 1,
	CAM_SSRC = 2,
	CAM_SUITE = 4,
	CAM_KEY = 8,
	CAM_CODEC = 16,
	CAM_PT = 32,
	CAM_OWNER = 64,
	CAM_RETAIN_HOURS = 128,
	CAM_RETAIN_BYTES = 256,
	CAM_IDENTITY = 512,
};

struct parser {
	struct vigil_config *cfg;
	FILE *file;
	bool has_key;           /* a Key = line: the file holds secrets */
	unsigned cap;           /* cameras allocated */
	unsigned line;          /* line the reader returned last */
	unsigned section_count; /* section headers read so far */
	unsigned section_line;
	unsigned seen_section;  /* section_count when the handler last ran */
	enum section section;
	unsigned cam_keys;
	unsigned param_line[3]; /* line of each ParameterSets unit of this camera */
	unsigned ingest_keys;
	bool ports_set;
	unsigned handshake_line; /* where HandshakePort is */
	char *err;
	size_t errlen;
	unsigned err_line;
};

static int fail(struct parser *p, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, unsigned line, const char *fmt, ...)
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
		fail(p, p->line, "line longer than %d characters", size - 2);
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

static int parse_u64(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (*v == '\0' || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -ERANGE;
	*out = n;
	return 0;
}

static void set_ports(struct vigil_config *cfg, unsigned lo, unsigned hi)
{
	for (unsigned port = lo; port <= hi; port++)
		cfg->srtp_ports[port >> 3] |= (uint8_t)(1u << (port & 7));
}

/* "5004, 6000-6010": a list of ports and ranges, commas or spaces. */
/* "5004, 5006-5010": numbers from min to max and ranges lo-hi, commas or
 * spaces; each range goes to take(). Returns 1, or 0 after fail(). */
static int parse_ranges(struct parser *p, const char *key, const char *value, unsigned min, unsigned max,
			int (*take)(struct parser *p, const char *key, unsigned lo, unsigned hi))
{
	char buf[1024], *tok, *save = NULL;
	unsigned n = 0;

	if (strlen(value) >= sizeof(buf))
		return fail(p, p->line, "%s: list too long", key);
	strcpy(buf, value);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save), n++) {
		uint64_t lo, hi;
		char *dash = strchr(tok, '-');

		if (dash != NULL)
			*dash = '\0';
		if (parse_u64(tok, min, max, &lo) < 0 || (dash != NULL && parse_u64(dash + 1, min, max, &hi) < 0))
			return fail(p, p->line, "%s: '%s' is not a number (%u-%u) or range (lo-hi)", key, value, min,
				    max);
		if (dash == NULL)
			hi = lo;
		if (hi < lo)
			return fail(p, p->line, "%s: range %" PRIu64 "-%" PRIu64 " is backwards", key, lo, hi);
		if (take(p, key, (unsigned)lo, (unsigned)hi) == 0)
			return 0;
	}
	if (n == 0)
		return fail(p, p->line, "%s: empty list", key);
	return 1;
}

static int take_ports(struct parser *p, const char *key, unsigned lo, unsigned hi)
{
	(void)key;
	set_ports(p->cfg, lo, hi);
	return 1;
}

static int parse_ports(struct parser *p, const char *value)
{
	memset(p->cfg->srtp_ports, 0, sizeof(p->cfg->srtp_ports));
	if (parse_ranges(p, "Ports", value, 1, 65535, take_ports) == 0)
		return 0;
	p->ports_set = true;
	return 1;
}

/* RTP payload types 64-95 look like RTCP packet types 192-223 once the
 * marker bit is set, and RTCP shares the port (RFC 5761 section 4). */
static int take_payload_types(struct parser *p, const char *key, unsigned lo, unsigned hi)
{
	uint64_t *types = p->cfg->cameras[p->cfg->n_cameras - 1].payload_types;

	if (lo <= 95 && hi >= 64)
		return fail(p, p->line, "%s: 64-95 cannot be told from RTCP on a shared port (RFC 5761)", key);
	for (unsigned pt = lo; pt <= hi; pt++)
		types[pt >> 6] |= UINT64_C(1) << (pt & 63);
	return 1;
}

/* "198.18.0.1, fd00::1": unicast IPv4/IPv6 addresses, commas or spaces. */
static int parse_addresses(struct parser *p, const char *value)
{
	struct vigil_config *cfg = p->cfg;
	char buf[1024], *tok, *save = NULL;

	if (strlen(value) >= sizeof(buf))
		return fail(p, p->line, "Address: list too long");
	strcpy(buf, value);
	cfg->n_ipv4 = cfg->n_ipv6 = 0;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		uint8_t a[16];

		if (inet_pton(AF_INET, tok, a) == 1) {
			uint32_t v4;

			memcpy(&v4, a, 4);
			if (a[0] == 0 || a[0] >= 224 || a[0] == 127)
				return fail(p, p->line, "Address: %s is not a unicast IPv4 address", tok);
			for (unsigned i = 0; i < cfg->n_ipv4; i++)
				if (cfg->ipv4[i] == v4)
					return fail(p, p->line, "Address: %s is listed twice", tok);
			if (cfg->n_ipv4 == VIGIL_MAX_ADDRESSES)
				return fail(p, p->line, "Address: more than %d IPv4 addresses", VIGIL_MAX_ADDRESSES);
			cfg->ipv4[cfg->n_ipv4++] = v4;
		} else if (inet_pton(AF_INET6, tok, a) == 1) {
			static const uint8_t loopback[16] = {[15] = 1};

			if (a[0] == 0xff || memcmp(a, loopback, 15) == 0)
				return fail(p, p->line, "Address: %s is not a unicast IPv6 address", tok);
			for (unsigned i = 0; i < cfg->n_ipv6; i++)
				if (memcmp(cfg->ipv6[i], a, 16) == 0)
					return fail(p, p->line, "Address: %s is listed twice", tok);
			if (cfg->n_ipv6 == VIGIL_MAX_ADDRESSES)
				return fail(p, p->line, "Address: more than %d IPv6 addresses", VIGIL_MAX_ADDRESSES);
			memcpy(cfg->ipv6[cfg->n_ipv6++], a, 16);
		} else {
			return fail(p, p->line, "Address: '%s' is not an IPv4 or IPv6 address", tok);
		}
	}
	if (cfg->n_ipv4 + cfg->n_ipv6 == 0)
		return fail(p, p->line, "Address: empty list");
	return 1;
}

static int copy_str(struct parser *p, const char *key, char *dst, size_t len, const char *value)
{
	if (*value == '\0')
		return fail(p, p->line, "%s: empty value", key);
	if (strlen(value) >= len)
		return fail(p, p->line, "%s: longer than %zu characters", key, len - 1);
	strcpy(dst, value);
	return 1;
}

/* RetainHours = N, RetainBytes = N[K|M|G|T] (powers of 1024), in [Ingest]
 * or [Camera]. 0: this is not one of them, 1: taken, -1: failed. */
static int retain_key(struct parser *p, const char *name, const char *value, uint32_t *hours, uint64_t *bytes)
{
	uint64_t n, unit = 1;
	char num[32];
	size_t len = strlen(value);

	if (strcasecmp(name, "RetainHours") == 0) {
		if (parse_u64(value, 0, 24 * 365 * 100, &n) < 0) {
			fail(p, p->line, "RetainHours: '%s' is not a number of hours from 0 to 876000", value);
			return -1;
		}
		*hours = (uint32_t)n;
		return 1;
	}
	if (strcasecmp(name, "RetainBytes") != 0)
		return 0;
	if (len > 0 && len < sizeof(num) && strchr("KkMmGgTt", value[len - 1]) != NULL) {
		unit = UINT64_C(1) << (10 * (strchr("KMGT", toupper((unsigned char)value[len - 1])) - "KMGT" + 1));
		len--;
	}
	snprintf(num, sizeof(num), "%.*s", (int)len, value);
	if (len == 0 || len >= sizeof(num) || parse_u64(num, 0, UINT64_MAX / unit, &n) < 0) {
		fail(p, p->line, "RetainBytes: '%s' is not a size (bytes, or with K, M, G or T)", value);
		return -1;
	}
	*bytes = n * unit;
	return 1;
}

static int ingest_key(struct parser *p, const char *name, const char *value)
{
	struct vigil_config *cfg = p->cfg;
	uint64_t n;

	if (strcasecmp(name, "Ports") == 0)
		return parse_ports(p, value);
	if (strcasecmp(name, "Address") == 0)
		return parse_addresses(p, value);
	if (strcasecmp(name, "RecordDir") == 0)
		return copy_str(p, "RecordDir", cfg->record_dir, sizeof(cfg->record_dir), value);
	if (strcasecmp(name, "Device") == 0)
		return copy_str(p, "Device", cfg->device, sizeof(cfg->device), value);
	if (strcasecmp(name, "Workers") == 0) {
		if (parse_u64(value, 1, VIGIL_MAX_WORKERS, &n) < 0)
			return fail(p, p->line, "Workers: '%s' is not a number from 1 to %d", value,
				    VIGIL_MAX_WORKERS);
		cfg->workers = (unsigned)n;
		return 1;
	}
	if (strcasecmp(name, "Recorders") == 0) {
		if (parse_u64(value, 1, VIGIL_MAX_RECORDERS, &n) < 0)
			return fail(p, p->line, "Recorders: '%s' is not a number from 1 to %d", value,
				    VIGIL_MAX_RECORDERS);
		cfg->recorders = (unsigned)n;
		return 1;
	}
	if (strcasecmp(name, "SegmentSeconds") == 0) {
		if (parse_u64(value, 1, 3600, &n) < 0)
			return fail(p, p->line, "SegmentSeconds: '%s' is not a number from 1 to 3600", value);
		cfg->segment_seconds = (unsigned)n;
		return 1;
	}
	if (strcasecmp(name, "MaxCameras") == 0) {
		if (parse_u64(value, 1, VIGIL_MAX_CAMERAS, &n) < 0)
			return fail(p, p->line, "MaxCameras: '%s' is not a number from 1 to %d", value,
				    VIGIL_MAX_CAMERAS);
		cfg->max_cameras = (unsigned)n;
		return 1;
	}
	if (strcasecmp(name, "KeyGraceSeconds") == 0) {
		if (parse_u64(value, 0, 3600, &n) < 0)
			return fail(p, p->line, "KeyGraceSeconds: '%s' is not a number from 0 to 3600", value);
		cfg->key_grace_ms = (unsigned)n * 1000;
		return 1;
	}
	switch (retain_key(p, name, value, &cfg->retain_hours, &cfg->retain_bytes)) {
	case 1:
		return 1;
	case -1:
		return 0;
	}
	if (strcasecmp(name, "RecordFormat") == 0) {
		if (strcasecmp(value, "ts") == 0)
			cfg->format = VIGIL_FORMAT_TS;
		else if (strcasecmp(value, "fmp4") == 0)
			cfg->format = VIGIL_FORMAT_FMP4;
		else
			return fail(p, p->line, "RecordFormat: '%s' is not ts or fmp4", value);
		return 1;
	}
	if (strcasecmp(name, "MaxUnsyncedSeconds") == 0) {
		if (parse_u64(value, 0, 3600, &n) < 0)
			return fail(p, p->line, "MaxUnsyncedSeconds: '%s' is not a number from 0 to 3600", value);
		cfg->max_unsynced_ms = (unsigned)n * 1000;
		return 1;
	}
	if (strcasecmp(name, "MaxFrameBytes") == 0) {
		if (parse_u64(value, 64 << 10, 64 << 20, &n) < 0)
			return fail(p, p->line, "MaxFrameBytes: '%s' is not a number from 65536 to 67108864",
				    value);
		cfg->max_frame_bytes = n;
		return 1;
	}
	if (strcasecmp(name, "Keystore") == 0)
		return copy_str(p, "Keystore", cfg->keystore, sizeof(cfg->keystore), value);
	if (strcasecmp(name, "KeystoreKeyFile") == 0)
		return copy_str(p, "KeystoreKeyFile", cfg->keystore_key_file, sizeof(cfg->keystore_key_file), value);
	if (strcasecmp(name, "AdminGroup") == 0)
		return copy_str(p, "AdminGroup", cfg->admin_group, sizeof(cfg->admin_group), value);
	if (strcasecmp(name, "StateDir") == 0)
		return copy_str(p, "StateDir", cfg->state_dir, sizeof(cfg->state_dir), value);
	if (strcasecmp(name, "ServerKeyFile") == 0)
		return copy_str(p, "ServerKeyFile", cfg->server_key_file, sizeof(cfg->server_key_file), value);
	if (strcasecmp(name, "HandshakePort") == 0) {
		if (parse_u64(value, 1, 65535, &n) < 0)
			return fail(p, p->line, "HandshakePort: '%s' is not a UDP port", value);
		cfg->handshake_port = (uint16_t)n;
		p->handshake_line = p->line;
		return 1;
	}
	if (strcasecmp(name, "RekeySeconds") == 0) {
		if (parse_u64(value, 10, 86400, &n) < 0)
			return fail(p, p->line, "RekeySeconds: '%s' is not a number from 10 to 86400", value);
		cfg->rekey_seconds = (unsigned)n;
		return 1;
	}
	if (strcasecmp(name, "RekeyPackets") == 0) {
		if (parse_u64(value, 1000, UINT64_C(1) << 40, &n) < 0)
			return fail(p, p->line, "RekeyPackets: '%s' is not a number from 1000 to 2^40", value);
		cfg->rekey_packets = n;
		return 1;
	}
	return fail(p, p->line, "unknown key '%s' in [Ingest]", name);
}

bool vigil_config_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VIGIL_CAMERA_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* RFC 4568 inline key: base64(master key || master salt), optionally with
 * the "inline:" prefix. Lifetime and MKI parameters are not supported. */
static int parse_key(struct parser *p, struct vigil_camera_config *cam, const char *value)
{
	uint8_t raw[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN + 1];
	size_t len;
	bool weak = true;

	if (strncasecmp(value, "inline:", 7) == 0)
		value += 7;
	if (strchr(value, '|') != NULL)
		return fail(p, p->line, "Key: lifetime and MKI parameters ('|') are not supported");
	if (sodium_base642bin(raw, sizeof(raw), value, strlen(value), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN) {
		sodium_memzero(raw, sizeof(raw));
		return fail(p, p->line, "Key: must be base64 of %d bytes (32-byte master key, 12-byte salt)",
			    VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN);
	}
	for (size_t i = 1; i < VIGIL_SRTP_MASTER_KEY_LEN; i++)
		weak &= raw[i] == raw[0];
	memcpy(cam->master_key, raw, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(cam->master_salt, raw + VIGIL_SRTP_MASTER_KEY_LEN, VIGIL_SRTP_MASTER_SALT_LEN);
	sodium_memzero(raw, sizeof(raw));
	if (weak)
		return fail(p, p->line, "Key: the master key is one repeated byte; generate a random key");
	return 1;
}

/* SDP sprop-parameter-sets (RFC 6184) or sprop-vps/-sps/-pps (RFC 7798):
 * comma-separated base64 NAL units. Repeated lines add up, since inih cuts
 * lines at 198 characters; check_camera checks them against the codec. */
static int parse_param_sets(struct parser *p, struct vigil_camera_config *cam, const char *value)
{
	char buf[1024], *tok, *save = NULL;
	unsigned n = 0;

	if (strlen(value) >= sizeof(buf))
		return fail(p, p->line, "ParameterSets: list too long");
	strcpy(buf, value);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save), n++) {
		unsigned i = cam->n_param_sets;
		size_t len;

		if (i == 3)
			return fail(p, p->line, "ParameterSets: more than 3 (a VPS, an SPS and a PPS)");
		if (sodium_base642bin(cam->param_sets[i].nal, sizeof(cam->param_sets[i].nal), tok,
				      strlen(tok), " \t", &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    len == 0)
			return fail(p, p->line, "ParameterSets: '%s' is not base64 of 1 to %d bytes", tok,
				    VIGIL_PARAM_SET_MAX);
		cam->param_sets[i].len = (uint16_t)len;
		p->param_line[i] = p->line;
		cam->n_param_sets++;
	}
	if (n == 0)
		return fail(p, p->line, "ParameterSets: empty list");
	return 1;
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
			return fail(p, p->param_line[i], "ParameterSets: unit %u is not %s", i + 1,
				    cam->codec == VIGIL_CODEC_H265 ? "an H.265 VPS, SPS or PPS"
								   : "an H.264 SPS or PPS");
		if (!nal_clean(cam->param_sets[i].nal, cam->param_sets[i].len))
			return fail(p, p->param_line[i],
				    "ParameterSets: unit %u holds a start code prefix (00 00 00/01/02) or ends in 00: "
				    "not a NAL unit",
				    i + 1);
		if (seen & 1u << kind)
			return fail(p, p->param_line[i],
				    "ParameterSets: unit %u is a second %s (one of each is kept)", i + 1,
				    kinds[kind]);
		seen |= 1u << kind;
	}
	return 1;
}

static int camera_key(struct parser *p, const char *name, const char *value)
{
	struct vigil_camera_config *cam = &p->cfg->cameras[p->cfg->n_cameras - 1];
	unsigned bit;
	uint64_t n;
	int rc;

	if (strcasecmp(name, "Name") == 0) {
		bit = CAM_NAME;
		if (!vigil_config_valid_name(value))
			return fail(p, p->line, "Name: '%s' must be 1-%d characters of A-Z a-z 0-9 _ -", value,
				    VIGIL_CAMERA_NAME_MAX);
		for (unsigned i = 0; i + 1 < p->cfg->n_cameras; i++)
			if (strcmp(p->cfg->cameras[i].name, value) == 0)
				return fail(p, p->line, "Name: '%s' is already used by the camera at line %u",
					    value, p->cfg->cameras[i].line);
		strcpy(cam->name, value);
	} else if (strcasecmp(name, "SSRC") == 0) {
		bit = CAM_SSRC;
		if (parse_u64(value, 0, UINT32_MAX, &n) < 0)
			return fail(p, p->line, "SSRC: '%s' is not a 32-bit number", value);
		for (unsigned i = 0; i + 1 < p->cfg->n_cameras; i++)
			if (p->cfg->cameras[i].ssrc == n && !p->cfg->cameras[i].has_identity)
				return fail(p, p->line, "SSRC: %" PRIu64 " is already used by camera '%s'", n,
					    p->cfg->cameras[i].name);
		cam->ssrc = (uint32_t)n;
	} else if (strcasecmp(name, "Suite") == 0) {
		bit = CAM_SUITE;
		if (strcmp(value, "AEAD_AES_256_GCM") != 0)
			return fail(p, p->line, "Suite: '%s' is not supported (supported: AEAD_AES_256_GCM)",
				    value);
	} else if (strcasecmp(name, "Key") == 0) {
		bit = CAM_KEY;
		if (parse_key(p, cam, value) == 0)
			return 0;
	} else if (strcasecmp(name, "Codec") == 0) {
		bit = CAM_CODEC;
		if (strcasecmp(value, "H264") == 0)
			cam->codec = VIGIL_CODEC_H264;
		else if (strcasecmp(value, "H265") == 0 || strcasecmp(value, "HEVC") == 0)
			cam->codec = VIGIL_CODEC_H265;
		else
			return fail(p, p->line, "Codec: '%s' is not H264 or H265", value);
	} else if (strcasecmp(name, "OwnerKey") == 0) {
		static const uint8_t zero[sizeof(cam->owner_key)];

		bit = CAM_OWNER;
		if (vigil_seal_key_decode(cam->owner_key, value) < 0 ||
		    sodium_memcmp(cam->owner_key, zero, sizeof(zero)) == 0)
			return fail(p, p->line,
				    "OwnerKey: must be base64 of a 32-byte X25519 public key (vigil-open --keygen makes one)");
		cam->sealed = true;
	} else if (strcasecmp(name, "Identity") == 0) {
		static const uint8_t zero[sizeof(cam->identity)];

		bit = CAM_IDENTITY;
		if (vigil_seal_key_decode(cam->identity, value) < 0 ||
		    sodium_memcmp(cam->identity, zero, sizeof(zero)) == 0)
			return fail(p, p->line, "Identity: must be base64 of the camera's 32-byte X25519 public key");
		for (unsigned i = 0; i + 1 < p->cfg->n_cameras; i++)
			if (p->cfg->cameras[i].has_identity &&
			    sodium_memcmp(p->cfg->cameras[i].identity, cam->identity, sizeof(zero)) == 0)
				return fail(p, p->line, "Identity: already camera '%s''s", p->cfg->cameras[i].name);
		cam->has_identity = true;
	} else if (strcasecmp(name, "PayloadTypes") == 0) {
		bit = CAM_PT;
		if (parse_ranges(p, "PayloadTypes", value, 0, 127, take_payload_types) == 0)
			return 0;
	} else if (strcasecmp(name, "ParameterSets") == 0) {
		return parse_param_sets(p, cam, value); /* may repeat */
	} else if ((rc = retain_key(p, name, value, &cam->retain_hours, &cam->retain_bytes)) != 0) {
		if (rc < 0)
			return 0;
		bit = toupper((unsigned char)name[6]) == 'H' ? CAM_RETAIN_HOURS : CAM_RETAIN_BYTES;
		cam->retain_own |= bit == CAM_RETAIN_HOURS ? 1 : 2;
	} else {
		return fail(p, p->line, "unknown key '%s' in [Camera]", name);
	}
	if (p->cam_keys & bit)
		return fail(p, p->line, "%s: set twice in this [Camera] section", name);
	p->cam_keys |= bit;
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
			return fail(p, cam->line, "[Camera] with an Identity takes no %s: the handshake gives it",
				    p->cam_keys & CAM_KEY ? "Key" : "SSRC");
		p->cam_keys |= CAM_KEY | CAM_SSRC;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!(p->cam_keys & required[i].bit))
			return fail(p, cam->line, "[Camera] has no %s%s", required[i].name,
				    required[i].bit == CAM_KEY ? " (or Identity)" : "");
	if (!(p->cam_keys & CAM_PT))
		p->cfg->cameras[p->cfg->n_cameras - 1].payload_types[1] = UINT64_C(0xffffffff) << 32; /* 96-127 */
	return check_param_sets(p, cam); /* the Codec may come after them */
}

static int start_section(struct parser *p, const char *section)
{
	if (!check_camera(p))
		return 0;
	p->seen_section = p->section_count;
	if (strcasecmp(section, "Ingest") == 0) {
		if (p->ingest_keys++)
			return fail(p, p->section_line, "[Ingest] appears twice");
		p->section = SEC_INGEST;
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
				return fail(p, p->section_line, "out of memory");
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
	return fail(p, p->section_line, "unknown section [%s] (expected [Ingest] or [Camera])", section);
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
		return fail(p, p->line, "'%s' is outside any section", name);
	if (p->section == SEC_INGEST)
		return ingest_key(p, name, value);
	return camera_key(p, name, value);
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
	rc = ini_parse_stream(read_line, &p, handle, &p);
	fclose(p.file);
	sodium_free(iobuf); /* wipes */
	if (refuse_mode(&p, &st) < 0) {
		vigil_config_free(cfg);
		return -EPERM;
	}
	if (rc > 0 && p.err_line == 0)
		fail(&p, (unsigned)rc, "not a 'Key = value' line or section header");
	if (rc < 0 && p.err_line == 0)
		fail(&p, p.line, "cannot parse (out of memory)");
	if (p.err_line == 0)
		check_camera(&p);
	if (p.err_line == 0 && !p.ports_set)
		fail(&p, p.line, "[Ingest] has no Ports");
	if (p.err_line == 0 && cfg->n_cameras == 0 && cfg->keystore[0] == '\0')
		fail(&p, p.line, "no [Camera] section and no Keystore: nothing to ingest");
	if (p.err_line == 0 && cfg->keystore[0] != '\0' && cfg->keystore_key_file[0] == '\0' &&
	    getenv("VIGIL_KEYSTORE_KEY_FILE") == NULL)
		fail(&p, p.line, "Keystore: needs KeystoreKeyFile (or VIGIL_KEYSTORE_KEY_FILE in the environment)");
	if (p.err_line == 0 && cfg->handshake_port != 0 && vigil_config_is_srtp_port(cfg, cfg->handshake_port))
		fail(&p, p.handshake_line, "HandshakePort: %u is one of the SRTP Ports; give it a port of its own",
		     cfg->handshake_port);
	/* The port is promiscuous: only handshakes sent to an Address of ours
	 * are answered. */
	if (p.err_line == 0 && cfg->handshake_port != 0 && cfg->n_ipv4 + cfg->n_ipv6 == 0)
		fail(
		    &p, p.handshake_line,
		    "HandshakePort: needs Address in [Ingest], the address cameras send their handshakes to");
	for (unsigned i = 0; p.err_line == 0 && i < cfg->n_cameras; i++)
		if (cfg->cameras[i].has_identity && (cfg->handshake_port == 0 || cfg->server_key_file[0] == '\0'))
			fail(&p, cfg->cameras[i].line, "Identity: needs HandshakePort and ServerKeyFile in [Ingest]");
	for (unsigned i = 0; p.err_line == 0 && i < cfg->n_cameras; i++)
		if (cfg->cameras[i].sealed && cfg->format != VIGIL_FORMAT_TS)
			fail(&p, cfg->cameras[i].line, "OwnerKey: sealed recordings are MPEG-TS only (RecordFormat = ts)");
	/* [Ingest] may come after the cameras: their defaults, now. */
	for (unsigned i = 0; p.err_line == 0 && i < cfg->n_cameras; i++) {
		if (!(cfg->cameras[i].retain_own & 1))
			cfg->cameras[i].retain_hours = cfg->retain_hours;
		if (!(cfg->cameras[i].retain_own & 2))
			cfg->cameras[i].retain_bytes = cfg->retain_bytes;
	}
	if (p.err_line == 0 && cfg->n_cameras > cfg->max_cameras)
		fail(&p, cfg->cameras[cfg->max_cameras].line, "camera %u is over MaxCameras = %u",
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

int vigil_config_camera(const struct vigil_config *cfg, struct vigil_camera_config *cam, const char *const *keys,
			const char *const *values, unsigned n, char *err, size_t errlen)
{
	struct vigil_config one = {.n_cameras = 1, .cameras = cam, .format = cfg->format};
	struct parser p = {.cfg = &one, .err = err, .errlen = errlen, .section = SEC_CAMERA};

	memset(cam, 0, sizeof(*cam));
	for (unsigned i = 0; i < n && p.err_line == 0; i++)
		camera_key(&p, keys[i], values[i]);
	if (p.err_line == 0)
		check_camera(&p);
	if (p.err_line == 0 && cam->sealed && cfg->format != VIGIL_FORMAT_TS)
		fail(&p, 0, "OwnerKey: sealed recordings are MPEG-TS only (RecordFormat = ts)");
	if (p.err_line == 0 && cam->has_identity && (cfg->handshake_port == 0 || cfg->server_key_file[0] == '\0'))
		fail(&p, 0, "Identity: vigild has no HandshakePort and ServerKeyFile in [Ingest]");
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

	if (!parse_key(&p, &cam, value)) {
		sodium_memzero(&cam, sizeof(cam));
		return -EINVAL;
	}
	memcpy(key, cam.master_key, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(salt, cam.master_salt, VIGIL_SRTP_MASTER_SALT_LEN);
	sodium_memzero(&cam, sizeof(cam));
	return 0;
}
