/* SPDX-License-Identifier: MIT */
/* vigilctl recordings (recordings.h): the bucket listed and read with
 * vigild's own [Storage] and credentials; no vigild needed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "config.h"
#include "recordings.h"
#include "s3.h"
#include "timeline.h"

#define BODY_MAX (64u << 20) /* a playlist of years of 2 s segments is some 100 MB: refused beyond this */

struct body {
	char *p;
	size_t len, cap;
	bool too_big;
};

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;

	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 65536;
		char *p;

		while (cap < b->len + add + 1)
			cap *= 2;
		if (cap > BODY_MAX || (p = realloc(b->p, cap)) == NULL) {
			b->too_big = true;
			return 0;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, buf, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* GET key?query into *b: the HTTP status, or -1 with err set. */
static long get(const struct vigil_s3 *s3, struct vigil_s3_req *r, const char *key, const char *query, struct body *b,
		char *err, size_t errlen)
{
	CURLcode cc;

	b->len = 0;
	b->too_big = false;
	if (b->p != NULL)
		b->p[0] = '\0';
	if (vigil_s3_prepare(s3, r, "GET", key, query, (const uint8_t *)"", 0, NULL, false) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, b);
	cc = vigil_s3_perform(r);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", b->too_big ? "larger than vigilctl reads" : curl_easy_strerror(cc));
		return -1;
	}
	return r->status;
}

int vigilctl_recordings(const char *config, const char *camera, const char *from, const char *to)
{
	struct vigil_config *cfg = calloc(1, sizeof(*cfg));
	struct vigil_timeline t = {0};
	struct vigil_s3_req *r = calloc(1, sizeof(*r));
	struct vigil_s3 s3 = {0};
	struct body b = {0}, pl = {0};
	char err[1024], prefix[600], node_prefix[700], key[800], query[2048], token[1024] = "", base[4096];
	char *userpwd = sodium_malloc(VIGIL_S3_USERPWD_MAX), *text = NULL, *esc = NULL;
	uint64_t from_ns = 0, to_ns = 0;
	unsigned segments = 0, nodes = 0, missing = 0;
	bool ok = true;
	int status = 1;

	if (cfg == NULL || r == NULL || userpwd == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "vigilctl: out of memory\n");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		const char *arg = i == 0 ? from : to;

		if (arg != NULL && (*(i == 0 ? &from_ns : &to_ns) = vigil_time_arg(arg, &ok), !ok)) {
			fprintf(stderr, "vigilctl: --%s '%s': not a time (2026-12-07T10:00:00Z, or seconds since 1970)\n",
				i == 0 ? "from" : "to", arg);
			status = 2;
			goto out;
		}
	}
	if (!vigil_camera_name_ok(camera)) {
		fprintf(stderr, "vigilctl: '%s' is not a camera name\n", camera);
		status = 2;
		goto out;
	}
	if (vigil_config_load(cfg, config, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", err);
		goto out;
	}
	if (cfg->storage.endpoint[0] == '\0') {
		fprintf(stderr,
			"vigilctl: %s has no [Storage]: without an object store each node records its cameras on its "
			"own disk, this one camera %s under %s/%s/ (its playlist index.m3u8); there is no timeline "
			"across nodes\n",
			config, camera, cfg->record_dir, camera);
		goto out;
	}
	if (vigil_s3_credentials(&cfg->storage, userpwd, VIGIL_S3_USERPWD_MAX, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigilctl: %s\n", err);
		goto out;
	}
	s3.conf = &cfg->storage;
	s3.userpwd = userpwd;
	snprintf(s3.sigv4, sizeof(s3.sigv4), "aws:amz:%s:s3", cfg->storage.region);
	r->easy = curl_easy_init();
	snprintf(prefix, sizeof(prefix), "%s%s/", cfg->storage.prefix, camera);
	if (r->easy == NULL || (esc = curl_easy_escape(r->easy, prefix, 0)) == NULL) {
		fprintf(stderr, "vigilctl: out of memory\n");
		goto out;
	}
	/* The nodes: <Prefix><camera>/<node>/, a page of 1,000 at a time. */
	for (;;) {
		char *tok = token[0] != '\0' ? curl_easy_escape(r->easy, token, 0) : NULL;
		char truncated[8] = "false";
		int found;
		size_t at = 0;
		long st;

		/* In SigV4's canonical order, encoded as it wants: libcurl
		 * (7.88) signs the query as it is given. */
		if (snprintf(query, sizeof(query), "%s%s%sdelimiter=%%2F&list-type=2&prefix=%s",
			     tok != NULL ? "continuation-token=" : "", tok != NULL ? tok : "", tok != NULL ? "&" : "",
			     esc) >= (int)sizeof(query)) {
			curl_free(tok);
			fprintf(stderr, "vigilctl: the listing's continuation token is too long\n");
			goto out;
		}
		curl_free(tok);
		st = get(&s3, r, "", query, &b, err, sizeof(err));
		if (st != 200) {
			fprintf(stderr, "vigilctl: cannot list %s/%s/%s: %s\n", cfg->storage.endpoint, cfg->storage.bucket,
				prefix, st < 0 ? err : "the store refused (HTTP status in its answer)");
			if (st > 0)
				fprintf(stderr, "vigilctl: HTTP %ld\n", st);
			goto out;
		}
		while ((found = vigil_xml_next(b.p, b.len, "CommonPrefixes", &at, node_prefix, sizeof(node_prefix))) != 0) {
			char node[VIGIL_TIMELINE_NODE_MAX + 1];
			size_t p = 0, n;

			/* One too long to be ours is skipped, the next ones read. */
			if (found < 0 || vigil_xml_next(node_prefix, strlen(node_prefix), "Prefix", &p, key, sizeof(key)) <= 0 ||
			    strncmp(key, prefix, strlen(prefix)) != 0 || (n = strlen(key) - strlen(prefix)) < 2 ||
			    n > sizeof(node) || key[strlen(key) - 1] != '/')
				continue;
			memcpy(node, key + strlen(prefix), n - 1);
			node[n - 1] = '\0';
			/* Not a node of ours (an object put there by hand): its name
			 * would not make a clean key or URL. */
			if (!vigil_timeline_node_ok(node)) {
				fprintf(stderr, "vigilctl: %s: not a node name, left out\n", key);
				continue;
			}
			snprintf(key, sizeof(key), "%s%s/index.m3u8", prefix, node);
			st = get(&s3, r, key, NULL, &pl, err, sizeof(err));
			if (st == 404)
				continue; /* segments without a playlist yet */
			if (st != 200) {
				fprintf(stderr, "vigilctl: cannot read %s (%s): node %s left out\n", key,
					st < 0 ? err : "refused", node);
				missing++;
				continue;
			}
			if (vigil_timeline_add(&t, node, pl.p != NULL ? pl.p : "", pl.len) < 0) {
				fprintf(stderr, "vigilctl: out of memory\n");
				goto out;
			}
			nodes++;
		}
		char next[sizeof(token)] = "";

		at = 0;
		(void)vigil_xml_next(b.p, b.len, "IsTruncated", &at, truncated, sizeof(truncated));
		at = 0;
		if (strcmp(truncated, "true") != 0 || vigil_xml_next(b.p, b.len, "NextContinuationToken", &at, next, sizeof(next)) == 0)
			break;
		/* A store that answers the same page again would hold us for ever. */
		if (next[0] == '\0' || strcmp(next, token) == 0) {
			fprintf(stderr, "vigilctl: the listing does not move on: nodes after '%s' left out\n", token);
			missing++;
			break;
		}
		snprintf(token, sizeof(token), "%s", next);
	}
	/* Path-style URLs, as vigild uploads: a player reads them from a
	 * bucket that lets it (a policy, or a proxy that signs). */
	snprintf(base, sizeof(base), "%s/%s/%s", cfg->storage.endpoint, cfg->storage.bucket, prefix);
	text = vigil_timeline_playlist(&t, from_ns, to_ns, base, "", 0, &segments);
	if (text == NULL) {
		fprintf(stderr, "vigilctl: out of memory\n");
		goto out;
	}
	fputs(text, stdout);
	fprintf(stderr, "vigilctl: camera %s: %u segment(s) from %u node(s) in %s/%s/%s%s\n", camera, segments, nodes,
		cfg->storage.endpoint, cfg->storage.bucket, prefix,
		missing > 0 ? " (incomplete: see above)" : "");
	status = missing > 0 ? 1 : 0;
out:
	if (r != NULL && r->easy != NULL) {
		curl_free(esc);
		curl_easy_cleanup(r->easy);
	}
	free(r);
	free(b.p);
	free(pl.p);
	free(text);
	vigil_timeline_free(&t);
	if (userpwd != NULL)
		sodium_free(userpwd);
	if (cfg != NULL)
		vigil_config_free(cfg);
	free(cfg);
	return status;
}
