/* SPDX-License-Identifier: MIT */
/* S3 requests on a libcurl easy handle: path-style URLs, signed with
 * libcurl's SigV4 (CURLOPT_AWS_SIGV4) over the payload's own SHA-256
 * (x-amz-content-sha256, never UNSIGNED-PAYLOAD), Content-MD5 where the
 * API takes it, the response's status, ETag and body (the start of it)
 * kept for the caller. No state of its own: the uploader (upload.c) owns
 * the handles and decides what to send. */
#ifndef VIGIL_S3_H
#define VIGIL_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "vigil/config_model.h"

/* Where requests go and who signs them. The secret is the caller's
 * (locked, wiped); libcurl keeps a copy of "access:secret" for as long as
 * a handle lives (it has no way to wipe it). */
struct vigil_s3 {
	const struct vigil_storage_config *conf;
	const char *userpwd; /* "access_key:secret_key" */
	char sigv4[96];	     /* "aws:amz:REGION:s3" */
};

#define VIGIL_S3_BODY_MAX 16384

/* One request: what is sent and what came back. */
struct vigil_s3_req {
	CURL *easy;
	struct curl_slist *headers;
	const uint8_t *data; /* the payload, len bytes; sent from off */
	size_t len, off;
	uint8_t md5[16];		  /* the payload's, for Content-MD5 and the ETag */
	long status;			  /* HTTP status; 0 before an answer */
	char etag[80];			  /* the ETag header, without quotes */
	char body[VIGIL_S3_BODY_MAX + 1]; /* the start of the response body */
	size_t body_len;
};

/* The request set up on r->easy (which it resets): METHOD
 * /bucket/key?query (key "" for the bucket, query NULL for none) with len
 * bytes of data (content_type NULL: none; md5: send Content-MD5).
 * 0 or -ENOMEM. */
int vigil_s3_prepare(const struct vigil_s3 *s3, struct vigil_s3_req *r, const char *method, const char *key,
		     const char *query, const uint8_t *data, size_t len, const char *content_type, bool md5);
/* After the transfer: the headers freed. */
void vigil_s3_done(struct vigil_s3_req *r);

/* The payload came through whole: status 200 and, for a PUT with
 * Content-MD5, an ETag equal to the MD5 (not true of a multipart
 * upload's, which is checked part by part). */
bool vigil_s3_etag_ok(const struct vigil_s3_req *r);

/* The text of the next <tag>...</tag> in text (len bytes, NUL-terminated)
 * from *from: 1, it in out and *from past it; 0, none; -1, one longer than
 * out (*from past it: the next ones are still found). */
int vigil_xml_next(const char *text, size_t len, const char *tag, size_t *from, char *out, size_t outlen);
/* The text of <tag>...</tag> in the body, first from *from (advanced past
 * it); false when not found or longer than out. */
bool vigil_s3_xml(const struct vigil_s3_req *r, const char *tag, size_t *from, char *out, size_t outlen);

/* A presigned URL of GET host/path (SigV4 in the query, X-Amz-Expires
 * expires seconds from now, seconds since the epoch; the payload
 * UNSIGNED-PAYLOAD, as presigned URLs are): scheme "http" or "https", host
 * as the Host header carries it (with a port that is not the default),
 * path of characters that need no escaping. 0, or -ENAMETOOLONG. */
int vigil_sigv4_presign(const char *scheme, const char *host, const char *path, const char *region,
			const char *access, const char *secret, uint64_t now, unsigned expires, char *out,
			size_t outlen);
/* The same for key in conf's bucket (path-style, as every request here). */
int vigil_s3_presign(const struct vigil_storage_config *conf, const char *access, const char *secret,
		     const char *key, uint64_t now, unsigned expires, char *out, size_t outlen);

#define VIGIL_S3_USERPWD_MAX 300 /* "access:secret", NUL included */

/* The keys of s's CredentialsFile (else $CREDENTIALS_DIRECTORY/s3-credentials,
 * AWS's shared credentials format, [default]) into userpwd as
 * "access:secret". The file must be the caller's or root's, not readable
 * by others (as the key files). 0, or -errno with err saying why. */
int vigil_s3_credentials(const struct vigil_storage_config *s, char *userpwd, size_t len, char *err, size_t errlen);
/* Runs one request to its end on its own (start-up checks). CURLE_*. */
CURLcode vigil_s3_perform(struct vigil_s3_req *r);

#endif
