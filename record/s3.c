/* SPDX-License-Identifier: MIT */
/* S3 requests on a libcurl easy handle (s3.h). */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "s3.h"
#include "vigil/secret.h"

/* Connecting takes no longer than this; a transfer that moves less than
 * VIGIL_S3_LOW_SPEED bytes a second for VIGIL_S3_LOW_SPEED_TIME is cut
 * (a gateway that hangs); none takes longer than VIGIL_S3_TIMEOUT. */
#define VIGIL_S3_CONNECT_MS 5000
#define VIGIL_S3_LOW_SPEED 1024
#define VIGIL_S3_LOW_SPEED_TIME 20
#define VIGIL_S3_TIMEOUT 600

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct vigil_s3_req *r = arg;
	size_t take = r->len - r->off < size * n ? r->len - r->off : size * n;

	memcpy(buf, r->data + r->off, take);
	r->off += take;
	return take;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct vigil_s3_req *r = arg;
	size_t take = VIGIL_S3_BODY_MAX - r->body_len < size * n ? VIGIL_S3_BODY_MAX - r->body_len : size * n;

	memcpy(r->body + r->body_len, buf, take);
	r->body_len += take;
	r->body[r->body_len] = '\0';
	return size * n; /* the rest is not needed: an error's code comes first */
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct vigil_s3_req *r = arg;
	size_t len = size * n;

	if (len > 5 && strncasecmp(buf, "ETag:", 5) == 0) {
		const char *v = buf + 5;
		size_t k = 0;

		while (v < buf + len && (*v == ' ' || *v == '"'))
			v++;
		while (v < buf + len && *v != '"' && *v != '\r' && *v != '\n' && k + 1 < sizeof(r->etag))
			r->etag[k++] = *v++;
		r->etag[k] = '\0';
	}
	return len;
}

static int add_header(struct vigil_s3_req *r, const char *name, const char *value)
{
	char line[256];
	struct curl_slist *l;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	l = curl_slist_append(r->headers, line);
	if (l == NULL)
		return -ENOMEM;
	r->headers = l;
	return 0;
}

/* The payload's SHA-256 and (md5 not NULL) MD5, in one pass over it, a
 * cache-sized piece at a time. OpenSSL's, not libsodium's SHA-256: these
 * are the S3 protocol's content hashes, not a secret's, and OpenSSL's uses
 * the CPU's SHA extensions (here 1.8 GB/s against 0.21: libsodium's was
 * two thirds of the uploader's CPU). 0 or -ENOMEM. */
static int digests(const uint8_t *data, size_t len, uint8_t sha[32], uint8_t md5[16])
{
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *m = md5 != NULL ? EVP_MD_CTX_new() : NULL;
	int ok = s != NULL && (md5 == NULL || m != NULL) && EVP_DigestInit_ex(s, EVP_sha256(), NULL) == 1 &&
		 (m == NULL || EVP_DigestInit_ex(m, EVP_md5(), NULL) == 1);

	for (size_t off = 0; ok && off < len; off += 65536) {
		size_t n = len - off < 65536 ? len - off : 65536;

		ok = EVP_DigestUpdate(s, data + off, n) == 1 &&
		     (m == NULL || EVP_DigestUpdate(m, data + off, n) == 1);
	}
	ok = ok && EVP_DigestFinal_ex(s, sha, NULL) == 1 &&
	     (m == NULL || EVP_DigestFinal_ex(m, md5, NULL) == 1);
	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(m);
	return ok ? 0 : -ENOMEM;
}

int vigil_s3_prepare(const struct vigil_s3 *s3, struct vigil_s3_req *r, const char *method, const char *key,
		     const char *query, const uint8_t *data, size_t len, const char *content_type, bool md5)
{
	const struct vigil_storage_config *c = s3->conf;
	uint8_t sha[32];
	char url[2048], hex[2 * sizeof(sha) + 1],
	    b64[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
	CURL *e = r->easy;

	r->data = data;
	r->len = len;
	r->off = 0;
	r->status = 0;
	r->etag[0] = '\0';
	r->body_len = 0;
	r->body[0] = '\0';
	r->headers = NULL;
	if (snprintf(url, sizeof(url), "%s/%s/%s%s%s", c->endpoint, c->bucket, key, query ? "?" : "",
		     query ? query : "") >= (int)sizeof(url))
		return -ENAMETOOLONG;
	/* SigV4 over the payload itself: the gateway refuses bytes changed
	 * on the way, and Content-MD5 makes it check them once more. */
	if (digests(data, len, sha, md5 ? r->md5 : NULL) < 0)
		return -ENOMEM;
	sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	if (add_header(r, "x-amz-content-sha256", hex) < 0)
		return -ENOMEM;
	if (md5) {
		sodium_bin2base64(b64, sizeof(b64), r->md5, sizeof(r->md5), sodium_base64_VARIANT_ORIGINAL);
		if (add_header(r, "Content-MD5", b64) < 0)
			return -ENOMEM;
	} else {
		memset(r->md5, 0, sizeof(r->md5));
	}
	if (content_type != NULL && add_header(r, "Content-Type", content_type) < 0)
		return -ENOMEM;
	/* No "Expect:" taken away by a header of ours: libcurl would sign
	 * the header it then does not send. */

	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s3->sigv4);
	curl_easy_setopt(e, CURLOPT_USERPWD, s3->userpwd);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)VIGIL_S3_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)VIGIL_S3_LOW_SPEED);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)VIGIL_S3_LOW_SPEED_TIME);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)VIGIL_S3_TIMEOUT);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, r);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)data);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	return 0;
}

static void hmac(const uint8_t *key, size_t klen, const char *msg, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* SigV4's URI encoding: all but A-Z a-z 0-9 - . _ ~ as %XX. */
static int uri_encode(const char *in, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		bool keep = strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", *in) != NULL;

		if (n + (keep ? 1 : 3) >= outlen)
			return -ENAMETOOLONG;
		n += (size_t)snprintf(out + n, outlen - n, keep ? "%c" : "%%%02X", keep ? *in : (unsigned char)*in);
	}
	out[n] = '\0';
	return 0;
}

int vigil_sigv4_presign(const char *scheme, const char *host, const char *path, const char *region,
			const char *access, const char *secret, uint64_t now, unsigned expires, char *out,
			size_t outlen)
{
	char date[9], stamp[17], query[640], creq[3072], sts[512], hex[65], secret4[300], akid[384];
	uint8_t k[32], sha[32];
	time_t t = (time_t)now;
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* The canonical query: its names in order, the credential URI-encoded
	 * (an access key may hold '+', '/' or '='). */
	if (uri_encode(access, akid, sizeof(akid)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(query, sizeof(query),
		     "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F%s%%2F%s%%2Fs3%%2Faws4_request"
		     "&X-Amz-Date=%s&X-Amz-Expires=%u&X-Amz-SignedHeaders=host",
		     akid, date, region, stamp, expires);
	if (n < 0 || (size_t)n >= sizeof(query))
		return -ENAMETOOLONG;
	n = snprintf(creq, sizeof(creq), "GET\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", path, query, host);
	if (n < 0 || (size_t)n >= sizeof(creq))
		return -ENAMETOOLONG;
	crypto_hash_sha256(sha, (const uint8_t *)creq, (size_t)n);
	sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/s3/aws4_request\n%s", stamp, date, region, hex);
	n = snprintf(secret4, sizeof(secret4), "AWS4%s", secret);
	if (n < 0 || (size_t)n >= sizeof(secret4))
		return -ENAMETOOLONG;
	hmac((const uint8_t *)secret4, (size_t)n, date, k);
	sodium_memzero(secret4, sizeof(secret4));
	hmac(k, sizeof(k), region, k);
	hmac(k, sizeof(k), "s3", k);
	hmac(k, sizeof(k), "aws4_request", k);
	hmac(k, sizeof(k), sts, sha);
	sodium_memzero(k, sizeof(k));
	sodium_bin2hex(hex, sizeof(hex), sha, sizeof(sha));
	n = snprintf(out, outlen, "%s://%s%s?%s&X-Amz-Signature=%s", scheme, host, path, query, hex);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int vigil_s3_presign(const struct vigil_storage_config *conf, const char *access, const char *secret,
		     const char *key, uint64_t now, unsigned expires, char *out, size_t outlen)
{
	const char *rest = strstr(conf->endpoint, "://");
	char scheme[8], host[300], path[1200];
	size_t n;

	if (rest == NULL || rest - conf->endpoint >= (ptrdiff_t)sizeof(scheme))
		return -EINVAL;
	snprintf(scheme, sizeof(scheme), "%.*s", (int)(rest - conf->endpoint), conf->endpoint);
	/* The Host a browser sends: lower case, no default port. */
	if (snprintf(host, sizeof(host), "%s", rest + 3) >= (int)sizeof(host))
		return -ENAMETOOLONG;
	for (char *c = host; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	n = strlen(host);
	if ((strcmp(scheme, "http") == 0 && n > 3 && strcmp(host + n - 3, ":80") == 0) ||
	    (strcmp(scheme, "https") == 0 && n > 4 && strcmp(host + n - 4, ":443") == 0))
		*strrchr(host, ':') = '\0';
	if (snprintf(path, sizeof(path), "/%s/%s", conf->bucket, key) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return vigil_sigv4_presign(scheme, host, path, conf->region, access, secret, now, expires, out, outlen);
}

void vigil_s3_done(struct vigil_s3_req *r)
{
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(r->headers);
	r->headers = NULL;
}

bool vigil_s3_etag_ok(const struct vigil_s3_req *r)
{
	char hex[2 * sizeof(r->md5) + 1];

	if (r->status != 200)
		return false;
	sodium_bin2hex(hex, sizeof(hex), r->md5, sizeof(r->md5));
	return strcasecmp(hex, r->etag) == 0;
}

int vigil_xml_next(const char *text, size_t len, const char *tag, size_t *from, char *out, size_t outlen)
{
	char open[64], close[64];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (text == NULL || *from > len || (a = strstr(text + *from, open)) == NULL)
		return 0;
	a += strlen(open);
	if ((b = strstr(a, close)) == NULL)
		return 0;
	*from = (size_t)(b - text) + strlen(close);
	if ((size_t)(b - a) >= outlen)
		return -1;
	memcpy(out, a, (size_t)(b - a));
	out[b - a] = '\0';
	return 1;
}

bool vigil_s3_xml(const struct vigil_s3_req *r, const char *tag, size_t *from, char *out, size_t outlen)
{
	size_t at = *from;

	if (vigil_xml_next(r->body, r->body_len, tag, &at, out, outlen) <= 0)
		return false;
	*from = at;
	return true;
}

CURLcode vigil_s3_perform(struct vigil_s3_req *r)
{
	CURLcode rc = curl_easy_perform(r->easy);

	vigil_s3_done(r);
	return rc;
}

#define CREDENTIALS_MAX 4096

/* "name = value" under [default] in the AWS shared credentials format;
 * the text is not changed. */
static bool credential(const char *text, const char *name, char *out, size_t outlen)
{
	bool in_default = false;
	size_t n = strlen(name);

	for (const char *line = text; *line != '\0'; line += strcspn(line, "\n"), line += *line == '\n') {
		const char *p = line + strspn(line, " \t"), *v;
		size_t len;

		if (*p == '[') {
			in_default = strncmp(p, "[default]", 9) == 0;
			continue;
		}
		if (!in_default || strncmp(p, name, n) != 0)
			continue;
		v = p + n + strspn(p + n, " \t");
		if (*v++ != '=')
			continue;
		v += strspn(v, " \t");
		len = strcspn(v, " \t\r\n");
		if (len == 0 || len >= outlen)
			return false;
		memcpy(out, v, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

int vigil_s3_credentials(const struct vigil_storage_config *s, char *userpwd, size_t len, char *err, size_t errlen)
{
	char path[4200], *text = sodium_malloc(CREDENTIALS_MAX + 1);
	char ak[128], sk[128];
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	struct stat st;
	ssize_t n = -1;
	int fd = -1, rc = -EINVAL;

	if (s->credentials_file[0] != '\0')
		snprintf(path, sizeof(path), "%s", s->credentials_file);
	else if (dir != NULL)
		snprintf(path, sizeof(path), "%s/s3-credentials", dir);
	else {
		snprintf(err, errlen,
			 "[Storage] needs CredentialsFile (or the credential s3-credentials of the unit)");
		goto out;
	}
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "CredentialsFile %s: %s", path, strerror(errno));
		goto out;
	}
	if (!vigil_secret_mode_ok(path, st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0)) {
		snprintf(
		    err, errlen,
		    "CredentialsFile %s: mode %04o, owner %u: it must be vigild's (or root's), chmod 600",
		    path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		rc = -EPERM;
		goto out;
	}
	n = read(fd, text, CREDENTIALS_MAX);
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "CredentialsFile %s: %s", path, strerror(errno));
		goto out;
	}
	text[n] = '\0';
	if (!credential(text, "aws_access_key_id", ak, sizeof(ak)) ||
	    !credential(text, "aws_secret_access_key", sk, sizeof(sk))) {
		snprintf(err, errlen,
			 "CredentialsFile %s: no aws_access_key_id and aws_secret_access_key under [default]",
			 path);
		goto out;
	}
	if (strchr(ak, ':') != NULL || (size_t)snprintf(userpwd, len, "%s:%s", ak, sk) >= len) {
		snprintf(err, errlen, "CredentialsFile %s: the access key holds ':' or the keys are too long",
			 path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	sodium_memzero(sk, sizeof(sk));
	if (text != NULL)
		sodium_free(text);
	return rc;
}
