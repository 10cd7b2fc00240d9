/* SPDX-License-Identifier: MIT */
/* The configuration keys: one table (keys[]) saying, for each key of
 * [Ingest] and [Camera], its kind, its range, where its value goes and its
 * error text, walked by one loop (config_key); the parsers of each kind,
 * and of the few keys that need their own. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "config_parse.h"
#include "seal.h"

enum kind {
	KIND_UNSIGNED,	 /* a number from min to max, times scale, into an integer of size bytes */
	KIND_SIZE,	 /* bytes, or with K, M, G or T (powers of 1024), into a uint64_t */
	KIND_ENUM,	 /* one of names (any case unless match_case): its value into an enum */
	KIND_STRING,	 /* not empty, shorter than size */
	KIND_PUBLIC_KEY, /* base64 of a 32-byte X25519 public key, not zero */
	KIND_SPECIAL,	 /* parse() does it all */
};

struct key_name {
	const char *name;
	unsigned value;
};

struct key_def {
	const char *name;
	enum config_section section;
	enum kind kind;
	/* [Camera]: its bit of cam_keys, refused when set twice; 0: may
	 * repeat. [Ingest] keys may repeat: the last one counts. */
	unsigned seen;
	/* Where the value goes: in struct vigil_config for [Ingest], in the
	 * camera for [Camera]; size 0: nowhere (checked only). */
	size_t offset, size;
	uint64_t min, max, scale;
	const struct key_name *names;
	bool match_case;
	int (*parse)(struct parser *p, const char *value); /* KIND_SPECIAL */
	int (*then)(struct parser *p); /* after the value is stored: checks against other keys, flags */
	/* The reason, after "Key: 'value' " (after "Key: " for a public key,
	 * not repeated); NULL for a number: "is not a number from MIN to MAX".
	 * Strings and the special keys say their own. */
	const char *err;
};

static struct vigil_camera_config *camera(struct parser *p)
{
	return &p->cfg->cameras[p->cfg->n_cameras - 1];
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

/* "5004, 5006-5010": numbers from min to max and ranges lo-hi, commas or
 * spaces; each range goes to take(). Returns 1, or 0 after config_fail(). */
static int parse_ranges(struct parser *p, const char *key, const char *value, unsigned min, unsigned max,
			int (*take)(struct parser *p, const char *key, unsigned lo, unsigned hi))
{
	char buf[1024], *tok, *save = NULL;
	unsigned n = 0;

	if (strlen(value) >= sizeof(buf))
		return config_fail(p, p->line, "%s: list too long", key);
	strcpy(buf, value);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save), n++) {
		uint64_t lo, hi;
		char *dash = strchr(tok, '-');

		if (dash != NULL)
			*dash = '\0';
		if (parse_u64(tok, min, max, &lo) < 0 ||
		    (dash != NULL && parse_u64(dash + 1, min, max, &hi) < 0))
			return config_fail(p, p->line, "%s: '%s' is not a number (%u-%u) or range (lo-hi)",
					   key, value, min, max);
		if (dash == NULL)
			hi = lo;
		if (hi < lo)
			return config_fail(p, p->line, "%s: range %" PRIu64 "-%" PRIu64 " is backwards", key,
					   lo, hi);
		if (take(p, key, (unsigned)lo, (unsigned)hi) == 0)
			return 0;
	}
	if (n == 0)
		return config_fail(p, p->line, "%s: empty list", key);
	return 1;
}

static int take_ports(struct parser *p, const char *key, unsigned lo, unsigned hi)
{
	(void)key;
	for (unsigned port = lo; port <= hi; port++)
		p->cfg->srtp_ports[port >> 3] |= (uint8_t)(1u << (port & 7));
	return 1;
}

/* "5004, 6000-6010": a list of ports and ranges, commas or spaces. */
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
	uint64_t *types = camera(p)->payload_types;

	if (lo <= 95 && hi >= 64)
		return config_fail(p, p->line,
				   "%s: 64-95 cannot be told from RTCP on a shared port (RFC 5761)", key);
	for (unsigned pt = lo; pt <= hi; pt++)
		types[pt >> 6] |= UINT64_C(1) << (pt & 63);
	return 1;
}

static int parse_payload_types(struct parser *p, const char *value)
{
	return parse_ranges(p, "PayloadTypes", value, 0, 127, take_payload_types);
}

/* "auto", "libsodium", "cryptodev" or "cryptodev:DEVICE" (a DPDK crypto
 * device's name: crypto_aesni_mb0, 0000:3d:01.0_qat_sym), and the same
 * with "cryptodev-async". */
static int parse_crypto(struct parser *p, const char *value)
{
	struct vigil_config *cfg = p->cfg;
	bool async = strncasecmp(value, "cryptodev-async", 15) == 0;
	const char *rest = value + (async ? 15 : 9), *dev = NULL;

	cfg->crypto_device[0] = '\0';
	if (strcasecmp(value, "auto") == 0) {
		cfg->crypto = VIGIL_CRYPTO_AUTO;
		return 1;
	}
	if (strcasecmp(value, "libsodium") == 0) {
		cfg->crypto = VIGIL_CRYPTO_LIBSODIUM;
		return 1;
	}
	cfg->crypto = async ? VIGIL_CRYPTO_CRYPTODEV_ASYNC : VIGIL_CRYPTO_CRYPTODEV;
	if (strncasecmp(value, "cryptodev", 9) == 0 && *rest == '\0')
		return 1;
	if (strncasecmp(value, "cryptodev", 9) == 0 && *rest == ':')
		dev = rest + 1;
	if (dev == NULL || *dev == '\0' || strlen(dev) >= sizeof(cfg->crypto_device) ||
	    strspn(dev, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") != strlen(dev))
		return config_fail(p, p->line,
				   "Crypto: '%s' is not auto, libsodium, cryptodev or cryptodev:DEVICE (a crypto "
				   "device's name, such as crypto_aesni_mb0), or cryptodev-async[:DEVICE]",
				   value);
	strcpy(cfg->crypto_device, dev);
	return 1;
}

/* "127.0.0.1:9470", "[::1]:9470": an address to listen on and its port,
 * for key (its name in messages). */
static int listen_on(struct parser *p, const char *key, const char *value, struct vigil_listen *l)
{
	char host[64];
	const char *colon = strrchr(value, ':');
	uint64_t port;
	size_t len = colon != NULL ? (size_t)(colon - value) : 0;

	if (colon == NULL || len >= sizeof(host) || strlen(value) >= sizeof(l->text) ||
	    parse_u64(colon + 1, 1, 65535, &port) < 0)
		return config_fail(p, p->line, "%s: '%s' is not ADDRESS:PORT (127.0.0.1:9470, [::1]:9470)", key,
				   value);
	if (len >= 2 && value[0] == '[' && value[len - 1] == ']') {
		snprintf(host, sizeof(host), "%.*s", (int)len - 2, value + 1);
		l->family = AF_INET6;
	} else {
		snprintf(host, sizeof(host), "%.*s", (int)len, value);
		l->family = AF_INET;
	}
	if (inet_pton(l->family, host, l->addr) != 1)
		return config_fail(p, p->line, "%s: '%s' is not an IPv4 address or an IPv6 one in []", key, host);
	l->port = (uint16_t)port;
	strcpy(l->text, value);
	return 1;
}

static int parse_metrics_listen(struct parser *p, const char *value)
{
	return listen_on(p, "MetricsListen", value, &p->cfg->metrics_listen);
}

static int parse_playback_listen(struct parser *p, const char *value)
{
	return listen_on(p, "PlaybackListen", value, &p->cfg->playback_listen);
}

/* "198.18.0.1, fd00::1": unicast IPv4/IPv6 addresses, commas or spaces. */
static int parse_addresses(struct parser *p, const char *value)
{
	struct vigil_config *cfg = p->cfg;
	char buf[1024], *tok, *save = NULL;

	if (strlen(value) >= sizeof(buf))
		return config_fail(p, p->line, "Address: list too long");
	strcpy(buf, value);
	cfg->n_ipv4 = cfg->n_ipv6 = 0;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save)) {
		uint8_t a[16];

		if (inet_pton(AF_INET, tok, a) == 1) {
			uint32_t v4;

			memcpy(&v4, a, 4);
			if (a[0] == 0 || a[0] >= 224 || a[0] == 127)
				return config_fail(p, p->line, "Address: %s is not a unicast IPv4 address",
						   tok);
			for (unsigned i = 0; i < cfg->n_ipv4; i++)
				if (cfg->ipv4[i] == v4)
					return config_fail(p, p->line, "Address: %s is listed twice", tok);
			if (cfg->n_ipv4 == VIGIL_MAX_ADDRESSES)
				return config_fail(p, p->line, "Address: more than %d IPv4 addresses",
						   VIGIL_MAX_ADDRESSES);
			cfg->ipv4[cfg->n_ipv4++] = v4;
		} else if (inet_pton(AF_INET6, tok, a) == 1) {
			static const uint8_t loopback[16] = {[15] = 1};

			if (a[0] == 0xff || memcmp(a, loopback, 15) == 0)
				return config_fail(p, p->line, "Address: %s is not a unicast IPv6 address",
						   tok);
			for (unsigned i = 0; i < cfg->n_ipv6; i++)
				if (memcmp(cfg->ipv6[i], a, 16) == 0)
					return config_fail(p, p->line, "Address: %s is listed twice", tok);
			if (cfg->n_ipv6 == VIGIL_MAX_ADDRESSES)
				return config_fail(p, p->line, "Address: more than %d IPv6 addresses",
						   VIGIL_MAX_ADDRESSES);
			memcpy(cfg->ipv6[cfg->n_ipv6++], a, 16);
		} else {
			return config_fail(p, p->line, "Address: '%s' is not an IPv4 or IPv6 address", tok);
		}
	}
	if (cfg->n_ipv4 + cfg->n_ipv6 == 0)
		return config_fail(p, p->line, "Address: empty list");
	return 1;
}

bool vigil_config_valid_name(const char *s)
{
	return vigil_camera_name_ok(s);
}

static int parse_name(struct parser *p, const char *value)
{
	if (!vigil_config_valid_name(value))
		return config_fail(p, p->line, "Name: '%s' must be 1-%d characters of A-Z a-z 0-9 _ -", value,
				   VIGIL_CAMERA_NAME_MAX);
	json_t *seen = p->by_name != NULL ? json_object_get(p->by_name, value) : NULL;

	if (seen != NULL)
		return config_fail(p, p->line, "Name: '%s' is already used by the camera at line %u", value,
				   p->cfg->cameras[json_integer_value(seen)].line);
	strcpy(camera(p)->name, value);
	if (p->by_name != NULL &&
	    json_object_set_new(p->by_name, value, json_integer(p->cfg->n_cameras - 1)) < 0)
		return config_fail(p, p->line, "out of memory");
	return 1;
}

/* RFC 4568 inline key: base64(master key || master salt), optionally with
 * the "inline:" prefix. Lifetime and MKI parameters are not supported. */
int config_parse_key(struct parser *p, struct vigil_camera_config *cam, const char *value)
{
	uint8_t raw[VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN + 1];
	size_t len;
	bool weak = true;

	if (strncasecmp(value, "inline:", 7) == 0)
		value += 7;
	if (strchr(value, '|') != NULL)
		return config_fail(p, p->line, "Key: lifetime and MKI parameters ('|') are not supported");
	if (sodium_base642bin(raw, sizeof(raw), value, strlen(value), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN) {
		sodium_memzero(raw, sizeof(raw));
		return config_fail(p, p->line,
				   "Key: must be base64 of %d bytes (32-byte master key, 12-byte salt)",
				   VIGIL_SRTP_MASTER_KEY_LEN + VIGIL_SRTP_MASTER_SALT_LEN);
	}
	for (size_t i = 1; i < VIGIL_SRTP_MASTER_KEY_LEN; i++)
		weak &= raw[i] == raw[0];
	memcpy(cam->master_key, raw, VIGIL_SRTP_MASTER_KEY_LEN);
	memcpy(cam->master_salt, raw + VIGIL_SRTP_MASTER_KEY_LEN, VIGIL_SRTP_MASTER_SALT_LEN);
	sodium_memzero(raw, sizeof(raw));
	if (weak)
		return config_fail(p, p->line,
				   "Key: the master key is one repeated byte; generate a random key");
	return 1;
}

static int parse_camera_key(struct parser *p, const char *value)
{
	return config_parse_key(p, camera(p), value);
}

/* SDP sprop-parameter-sets (RFC 6184) or sprop-vps/-sps/-pps (RFC 7798):
 * comma-separated base64 NAL units. Repeated lines add up, since inih cuts
 * lines at 198 characters; check_camera checks them against the codec. */
static int parse_param_sets(struct parser *p, const char *value)
{
	struct vigil_camera_config *cam = camera(p);
	char buf[1024], *tok, *save = NULL;
	unsigned n = 0;

	if (strlen(value) >= sizeof(buf))
		return config_fail(p, p->line, "ParameterSets: list too long");
	strcpy(buf, value);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save), n++) {
		unsigned i = cam->n_param_sets;
		size_t len;

		if (i == 3)
			return config_fail(p, p->line,
					   "ParameterSets: more than 3 (a VPS, an SPS and a PPS)");
		if (sodium_base642bin(cam->param_sets[i].nal, sizeof(cam->param_sets[i].nal), tok,
				      strlen(tok), " \t", &len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    len == 0)
			return config_fail(p, p->line, "ParameterSets: '%s' is not base64 of 1 to %d bytes",
					   tok, VIGIL_PARAM_SET_MAX);
		cam->param_sets[i].len = (uint16_t)len;
		p->param_line[i] = p->line;
		cam->n_param_sets++;
	}
	if (n == 0)
		return config_fail(p, p->line, "ParameterSets: empty list");
	return 1;
}

/* The checks and flags that follow a value (then). */
static void ssrc_key(char key[16], uint32_t ssrc)
{
	snprintf(key, 16, "%" PRIu32, ssrc);
}

static void identity_key(char key[65], const uint8_t identity[32])
{
	sodium_bin2hex(key, 65, identity, 32);
}

void config_index_camera(struct parser *p)
{
	const struct vigil_camera_config *cam = camera(p);
	char key[65];

	if (p->by_ssrc == NULL)
		return;
	if (cam->has_identity)
		identity_key(key, cam->identity);
	else
		ssrc_key(key, cam->ssrc);
	/* The first one keeps its place: a later duplicate has failed already. */
	if (json_object_get(cam->has_identity ? p->by_identity : p->by_ssrc, key) == NULL)
		json_object_set_new(cam->has_identity ? p->by_identity : p->by_ssrc, key,
				    json_integer(p->cfg->n_cameras - 1));
	if (cam->has_rtx) {
		ssrc_key(key, cam->rtx_ssrc);
		if (json_object_get(p->by_ssrc, key) == NULL)
			json_object_set_new(p->by_ssrc, key, json_integer(p->cfg->n_cameras - 1));
	}
}

static int ssrc_unused(struct parser *p)
{
	char key[16];
	json_t *seen;

	ssrc_key(key, camera(p)->ssrc);
	seen = p->by_ssrc != NULL ? json_object_get(p->by_ssrc, key) : NULL;
	if (seen != NULL)
		return config_fail(p, p->line, "SSRC: %" PRIu32 " is already used by camera '%s'", camera(p)->ssrc,
				   p->cfg->cameras[json_integer_value(seen)].name);
	return 1;
}

static int rtx_ssrc_unused(struct parser *p)
{
	char key[16];
	json_t *seen;

	ssrc_key(key, camera(p)->rtx_ssrc);
	seen = p->by_ssrc != NULL ? json_object_get(p->by_ssrc, key) : NULL;
	if (seen != NULL)
		return config_fail(p, p->line, "RtxSSRC: %" PRIu32 " is already used by camera '%s'",
				   camera(p)->rtx_ssrc, p->cfg->cameras[json_integer_value(seen)].name);
	camera(p)->has_rtx = true;
	return 1;
}

static int identity_unused(struct parser *p)
{
	struct vigil_camera_config *cam = camera(p);
	char key[65];
	json_t *seen;

	identity_key(key, cam->identity);
	seen = p->by_identity != NULL ? json_object_get(p->by_identity, key) : NULL;
	if (seen != NULL)
		return config_fail(p, p->line, "Identity: already camera '%s''s",
				   p->cfg->cameras[json_integer_value(seen)].name);
	cam->has_identity = true;
	return 1;
}

static int owner_sealed(struct parser *p)
{
	camera(p)->sealed = true;
	return 1;
}

static int own_retain_hours(struct parser *p)
{
	camera(p)->retain_own |= 1;
	return 1;
}

static int own_retain_bytes(struct parser *p)
{
	camera(p)->retain_own |= 2;
	return 1;
}

static int handshake_where(struct parser *p)
{
	p->handshake_line = p->line;
	return 1;
}

/* EventHook: libcurl would take other schemes too (file://, smtp://). */
static int hook_url(struct parser *p)
{
	const char *url = p->cfg->event_hook;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return config_fail(p, p->line, "EventHook: '%s' is not an http:// or https:// URL", url);
	return 1;
}

static int storage_url(struct parser *p)
{
	const char *url = p->cfg->storage.endpoint;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return config_fail(p, p->line, "Endpoint: '%s' is not an http:// or https:// URL", url);
	if (strchr(strstr(url, "://") + 3, '/') != NULL)
		return config_fail(p, p->line, "Endpoint: '%s' has a path: give the server only (path-style requests)", url);
	return 1;
}

/* Characters that need no escaping in a URL path nor in SigV4's canonical
 * one, so that an object's name is its path as written. */
static bool object_chars(const char *s, const char *more)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(more, *s) == NULL)
			return false;
	return true;
}

static int storage_bucket(struct parser *p)
{
	const char *b = p->cfg->storage.bucket;
	size_t n = strlen(b);

	for (const char *c = b; *c != '\0'; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '-' && *c != '.')
			n = 0;
	if (n < 3 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
		return config_fail(p, p->line, "Bucket: '%s' is not an S3 bucket name (3-63 of a-z 0-9 . -)", b);
	return 1;
}

static int storage_prefix(struct parser *p)
{
	if (!object_chars(p->cfg->storage.prefix, "/._-"))
		return config_fail(p, p->line, "Prefix: '%s' may hold only A-Z a-z 0-9 / . _ -", p->cfg->storage.prefix);
	return 1;
}

static int storage_node(struct parser *p)
{
	if (!object_chars(p->cfg->storage.node, "._-"))
		return config_fail(p, p->line, "Node: '%s' may hold only A-Z a-z 0-9 . _ -", p->cfg->storage.node);
	return 1;
}

static int storage_region(struct parser *p)
{
	if (!object_chars(p->cfg->storage.region, "_-"))
		return config_fail(p, p->line, "Region: '%s' may hold only A-Z a-z 0-9 _ -", p->cfg->storage.region);
	return 1;
}

/* Etcd: a list of http:// or https:// endpoints, at most
 * VIGIL_ETCD_ENDPOINTS_MAX (the client's). */
static int cluster_etcd(struct parser *p)
{
	char buf[sizeof(p->cfg->cluster.etcd)], *tok, *save = NULL;
	unsigned n = 0;

	strcpy(buf, p->cfg->cluster.etcd);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save), n++)
		if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0)
			return config_fail(p, p->line, "Etcd: '%s' is not an http:// or https:// URL", tok);
	if (n == 0 || n > 8)
		return config_fail(p, p->line, "Etcd: give 1 to 8 endpoints (http://host:port, commas between)");
	return 1;
}

static int cluster_node(struct parser *p)
{
	if (!vigil_config_valid_name(p->cfg->cluster.node))
		return config_fail(p, p->line, "Node: '%s' is not 1-%d of A-Z a-z 0-9 _ -", p->cfg->cluster.node,
				   VIGIL_CAMERA_NAME_MAX);
	return 1;
}

static int cluster_prefix(struct parser *p)
{
	const char *s = p->cfg->cluster.prefix;

	if (s[0] != '/' || s[strlen(s) - 1] != '/' || !object_chars(s, "/._-"))
		return config_fail(p, p->line, "Prefix: '%s' must start and end with '/' and hold only A-Z a-z 0-9 / . _ -", s);
	return 1;
}

static int cluster_anycast(struct parser *p)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, p->cfg->cluster.anycast, a) != 1 && inet_pton(AF_INET6, p->cfg->cluster.anycast, a) != 1)
		return config_fail(p, p->line, "Anycast: '%s' is not an IPv4 or IPv6 address", p->cfg->cluster.anycast);
	return 1;
}

static int keystore_where(struct parser *p)
{
	p->keystore_line = p->line;
	return 1;
}

static const struct key_name formats[] = {{"ts", VIGIL_FORMAT_TS}, {"fmp4", VIGIL_FORMAT_FMP4}, {NULL, 0}};
static const struct key_name codecs[] = {
    {"H264", VIGIL_CODEC_H264}, {"H265", VIGIL_CODEC_H265}, {"HEVC", VIGIL_CODEC_H265}, {NULL, 0}};
static const struct key_name suites[] = {{"AEAD_AES_256_GCM", 0}, {NULL, 0}};
static const struct key_name yes_no[] = {{"yes", 1}, {"true", 1}, {"no", 0}, {"false", 0}, {NULL, 0}};

#define INGEST(m)                                                                                            \
	.section = SEC_INGEST, .offset = offsetof(struct vigil_config, m),                                   \
	.size = sizeof(((struct vigil_config *)0)->m)
#define CAMERA(m)                                                                                            \
	.section = SEC_CAMERA, .offset = offsetof(struct vigil_camera_config, m),                            \
	.size = sizeof(((struct vigil_camera_config *)0)->m)
#define STORAGE(m)                                                                                           \
	.section = SEC_STORAGE, .offset = offsetof(struct vigil_config, storage.m),                          \
	.size = sizeof(((struct vigil_config *)0)->storage.m)
#define CLUSTER(m)                                                                                           \
	.section = SEC_CLUSTER, .offset = offsetof(struct vigil_config, cluster.m),                          \
	.size = sizeof(((struct vigil_config *)0)->cluster.m)
#define NUMBER(lo, hi, times) .kind = KIND_UNSIGNED, .min = (lo), .max = (hi), .scale = (times)
#define SIZE .kind = KIND_SIZE, .min = 0, .max = UINT64_MAX, .scale = 1
#define ONE_OF(list) .kind = KIND_ENUM, .names = (list)
#define STRING .kind = KIND_STRING
#define SPECIAL(fn) .kind = KIND_SPECIAL, .parse = (fn)

static const struct key_def keys[] = {
    /* [Ingest] */
    {"Ports", .section = SEC_INGEST, SPECIAL(parse_ports)},
    {"Address", .section = SEC_INGEST, SPECIAL(parse_addresses)},
    {"RecordDir", INGEST(record_dir), STRING},
    {"Device", INGEST(device), STRING},
    {"Workers", INGEST(workers), NUMBER(1, VIGIL_MAX_WORKERS, 1)},
    {"Recorders", INGEST(recorders), NUMBER(1, VIGIL_MAX_RECORDERS, 1)},
    {"IdleSleepMicroseconds", INGEST(idle_sleep_us), NUMBER(0, 1000, 1)},
    {"Crypto", .section = SEC_INGEST, SPECIAL(parse_crypto)},
    {"SegmentSeconds", INGEST(segment_seconds), NUMBER(1, 3600, 1)},
    {"MaxCameras", INGEST(max_cameras), NUMBER(1, VIGIL_MAX_CAMERAS, 1)},
    {"KeyGraceSeconds", INGEST(key_grace_ms), NUMBER(0, 3600, 1000)},
    {"RetainHours", INGEST(retain_hours), NUMBER(0, 24 * 365 * 100, 1),
     .err = "is not a number of hours from 0 to 876000"},
    {"RetainBytes", INGEST(retain_bytes), SIZE, .err = "is not a size (bytes, or with K, M, G or T)"},
    {"RecordFormat", INGEST(format), ONE_OF(formats), .err = "is not ts or fmp4"},
    {"MaxUnsyncedSeconds", INGEST(max_unsynced_ms), NUMBER(0, 3600, 1000)},
    {"MaxFrameBytes", INGEST(max_frame_bytes), NUMBER(64 << 10, 64 << 20, 1)},
    {"Keystore", INGEST(keystore), STRING, .then = keystore_where},
    {"KeystoreKeyFile", INGEST(keystore_key_file), STRING},
    {"AdminGroup", INGEST(admin_group), STRING},
    {"StateDir", INGEST(state_dir), STRING},
    {"ServerKeyFile", INGEST(server_key_file), STRING},
    {"HandshakePort", INGEST(handshake_port), NUMBER(1, 65535, 1), .then = handshake_where,
     .err = "is not a UDP port"},
    {"RekeySeconds", INGEST(rekey_seconds), NUMBER(10, 86400, 1)},
    {"MetricsListen", .section = SEC_INGEST, SPECIAL(parse_metrics_listen)},
    {"PlaybackListen", .section = SEC_INGEST, SPECIAL(parse_playback_listen)},
    {"PlayerDir", INGEST(player_dir), STRING},
    {"PlaybackCertFile", INGEST(playback_cert_file), STRING},
    {"PlaybackKeyFile", INGEST(playback_key_file), STRING},
    {"PlaybackConnectionsPerAddress", INGEST(playback_per_address), NUMBER(1, VIGIL_PLAYBACK_CONNECTIONS, 1)},
    {"MetricsPerCamera", INGEST(metrics_per_camera), ONE_OF(yes_no), .err = "is not yes or no"},
    {"OfflineSeconds", INGEST(offline_seconds), NUMBER(1, 86400, 1)},
    {"EventHook", INGEST(event_hook), STRING, .then = hook_url},
    {"EventHookSecretFile", INGEST(event_hook_secret_file), STRING},
    {"EventQueue", INGEST(event_queue), NUMBER(1, 10000000, 1)},
    {"AuthFailedPerMinute", INGEST(auth_failed_per_minute), NUMBER(1, UINT32_MAX, 1)},
    {"RetransmitHoldMs", INGEST(retransmit_hold_ms), NUMBER(0, 5000, 1)},
    {"RekeyPackets", INGEST(rekey_packets), NUMBER(1000, UINT64_C(1) << 40, 1),
     .err = "is not a number from 1000 to 2^40"},
    /* [Storage] */
    {"Endpoint", STORAGE(endpoint), STRING, .then = storage_url},
    {"Bucket", STORAGE(bucket), STRING, .then = storage_bucket},
    {"Region", STORAGE(region), STRING, .then = storage_region},
    {"Prefix", STORAGE(prefix), STRING, .then = storage_prefix},
    {"CAFile", STORAGE(ca_file), STRING},
    {"Node", STORAGE(node), STRING, .then = storage_node},
    {"CredentialsFile", STORAGE(credentials_file), STRING},
    {"KeepLocal", STORAGE(keep_local), ONE_OF(yes_no), .err = "is not yes or no"},
    {"SpoolBytes", STORAGE(spool_bytes), .kind = KIND_SIZE, .min = 64 << 10, .max = UINT64_MAX, .scale = 1,
     .err = "is not a size of 64K or more (bytes, or with K, M, G or T)"},
    {"UploadWaitSeconds", STORAGE(upload_wait_seconds), NUMBER(0, 86400, 1)},
    /* [Cluster] */
    {"Etcd", CLUSTER(etcd), STRING, .then = cluster_etcd},
    {"Node", CLUSTER(node), STRING, .then = cluster_node},
    {"Prefix", CLUSTER(prefix), STRING, .then = cluster_prefix},
    {"Anycast", CLUSTER(anycast), STRING, .then = cluster_anycast},
    {"LeaseSeconds", CLUSTER(lease_seconds), NUMBER(3, 3600, 1)},
    {"EtcdCAFile", CLUSTER(ca_file), STRING},
    {"EtcdCertFile", CLUSTER(cert_file), STRING},
    {"EtcdKeyFile", CLUSTER(key_file), STRING},
    {"DrainFile", CLUSTER(drain_file), STRING},
    /* [Camera] */
    {"Name", .section = SEC_CAMERA, .seen = CAM_NAME, SPECIAL(parse_name)},
    {"SSRC", CAMERA(ssrc), .seen = CAM_SSRC, NUMBER(0, UINT32_MAX, 1), .then = ssrc_unused,
     .err = "is not a 32-bit number"},
    {"Suite", .section = SEC_CAMERA, .seen = CAM_SUITE, ONE_OF(suites), .match_case = true,
     .err = "is not supported (supported: AEAD_AES_256_GCM)"},
    {"Key", .section = SEC_CAMERA, .seen = CAM_KEY, SPECIAL(parse_camera_key)},
    {"Codec", CAMERA(codec), .seen = CAM_CODEC, ONE_OF(codecs), .err = "is not H264 or H265"},
    {"OwnerKey", CAMERA(owner_key), .seen = CAM_OWNER, .kind = KIND_PUBLIC_KEY, .then = owner_sealed,
     .err = "must be base64 of a 32-byte X25519 public key (vigil-open --keygen makes one)"},
    {"Identity", CAMERA(identity), .seen = CAM_IDENTITY, .kind = KIND_PUBLIC_KEY, .then = identity_unused,
     .err = "must be base64 of the camera's 32-byte X25519 public key"},
    {"PayloadTypes", .section = SEC_CAMERA, .seen = CAM_PT, SPECIAL(parse_payload_types)},
    {"ParameterSets", .section = SEC_CAMERA, SPECIAL(parse_param_sets)}, /* may repeat */
    {"RetainHours", CAMERA(retain_hours), .seen = CAM_RETAIN_HOURS, NUMBER(0, 24 * 365 * 100, 1),
     .then = own_retain_hours, .err = "is not a number of hours from 0 to 876000"},
    {"RetainBytes", CAMERA(retain_bytes), .seen = CAM_RETAIN_BYTES, SIZE, .then = own_retain_bytes,
     .err = "is not a size (bytes, or with K, M, G or T)"},
    {"RtxSSRC", CAMERA(rtx_ssrc), .seen = CAM_RTX_SSRC, NUMBER(0, UINT32_MAX, 1), .then = rtx_ssrc_unused,
     .err = "is not a 32-bit number"},
    {"RtxPayloadType", CAMERA(rtx_payload_type), .seen = CAM_RTX_PT, NUMBER(96, 127, 1),
     .err = "is not a dynamic RTP payload type (96-127)"},
    {"RtcpReducedSize", CAMERA(rtcp_rsize), .seen = CAM_RTCP_RSIZE, ONE_OF(yes_no), .err = "is not yes or no"},
};

static void store(void *field, size_t size, uint64_t n)
{
	uint16_t n16 = (uint16_t)n;
	uint32_t n32 = (uint32_t)n;

	if (size == sizeof(n16))
		memcpy(field, &n16, size);
	else if (size == sizeof(n32))
		memcpy(field, &n32, size);
	else if (size == sizeof(n))
		memcpy(field, &n, size);
}

/* "N", or "N" and one of K, M, G, T: N times 1024, 1024^2, ... */
static int parse_size(const char *value, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t n, unit = 1;
	char num[32];
	size_t len = strlen(value);

	if (len > 0 && len < sizeof(num) && strchr("KkMmGgTt", value[len - 1]) != NULL) {
		unit = UINT64_C(1) << (10 *
				       (strchr("KMGT", toupper((unsigned char)value[len - 1])) - "KMGT" + 1));
		len--;
	}
	snprintf(num, sizeof(num), "%.*s", (int)len, value);
	if (len == 0 || len >= sizeof(num) || parse_u64(num, 0, max / unit, &n) < 0 || n * unit < min)
		return -ERANGE;
	*out = n * unit;
	return 0;
}

/* The value of k into field. Returns 1, or 0 after config_fail. */
static int parse_value(struct parser *p, const struct key_def *k, void *field, const char *value)
{
	static const uint8_t zero[32];
	const struct key_name *e;
	uint64_t n;

	switch (k->kind) {
	case KIND_UNSIGNED:
	case KIND_SIZE:
		if ((k->kind == KIND_SIZE ? parse_size : parse_u64)(value, k->min, k->max, &n) < 0) {
			if (k->err != NULL)
				return config_fail(p, p->line, "%s: '%s' %s", k->name, value, k->err);
			return config_fail(p, p->line,
					   "%s: '%s' is not a number from %" PRIu64 " to %" PRIu64, k->name,
					   value, k->min, k->max);
		}
		store(field, k->size, n * k->scale);
		return 1;
	case KIND_ENUM:
		for (e = k->names; e->name != NULL; e++)
			if ((k->match_case ? strcmp : strcasecmp)(value, e->name) == 0)
				break;
		if (e->name == NULL)
			return config_fail(p, p->line, "%s: '%s' %s", k->name, value, k->err);
		store(field, k->size, e->value);
		return 1;
	case KIND_STRING:
		if (*value == '\0')
			return config_fail(p, p->line, "%s: empty value", k->name);
		if (strlen(value) >= k->size)
			return config_fail(p, p->line, "%s: longer than %zu characters", k->name,
					   k->size - 1);
		strcpy(field, value);
		return 1;
	case KIND_PUBLIC_KEY:
		if (vigil_seal_key_decode(field, value) < 0 || sodium_memcmp(field, zero, sizeof(zero)) == 0)
			return config_fail(p, p->line, "%s: %s", k->name, k->err);
		return 1;
	case KIND_SPECIAL:
		return k->parse(p, value);
	}
	return 0;
}

const char *vigil_config_key_name(unsigned i, bool *camera)
{
	if (i >= sizeof(keys) / sizeof(keys[0]))
		return NULL;
	*camera = keys[i].section == SEC_CAMERA;
	return keys[i].name;
}

int config_key(struct parser *p, const char *name, const char *value)
{
	const char *section = p->section == SEC_INGEST    ? "Ingest"
			      : p->section == SEC_STORAGE ? "Storage"
			      : p->section == SEC_CLUSTER ? "Cluster"
							  : "Camera";
	const struct key_def *k;
	char *base;

	for (k = keys; k < keys + sizeof(keys) / sizeof(keys[0]); k++)
		if (k->section == p->section && strcasecmp(name, k->name) == 0)
			break;
	if (k == keys + sizeof(keys) / sizeof(keys[0]))
		return config_fail(p, p->line, "unknown key '%s' in [%s]", name, section);
	base = p->section == SEC_CAMERA ? (char *)camera(p) : (char *)p->cfg;
	if (!parse_value(p, k, base + k->offset, value) || (k->then != NULL && !k->then(p)))
		return 0;
	if (p->cam_keys & k->seen)
		return config_fail(p, p->line, "%s: set twice in this [Camera] section", name);
	p->cam_keys |= k->seen;
	return 1;
}
