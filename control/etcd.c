/* SPDX-License-Identifier: MIT */
/* etcd over its v3 JSON gateway (etcd.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "etcd.h"

_Static_assert(VIGIL_ETCD_SEAL_OVERHEAD ==
		       crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "a record: nonce, ciphertext, tag");

struct vigil_etcd {
	CURL *curl;
	char *ca, *cert, *key; /* TLS (vigil_etcd_tls); NULL: curl's defaults, no client certificate */
	unsigned page;	       /* keys per range request */
	char *endpoint[VIGIL_ETCD_ENDPOINTS_MAX];
	unsigned n_endpoints, at; /* the endpoint that answered last */
};

/* An answer, as it comes. */
struct reply {
	char *b;
	size_t len, cap;
};

/* An answer larger than this is refused (etcd's requests are at most
 * 1.5 MiB; a range of a large fleet's records is a few MiB). */
#define REPLY_MAX (64u << 20)

static size_t take(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t add = size * n;

	if (add > REPLY_MAX - r->len - 1)
		return 0; /* ends the transfer: an error */
	if (r->len + add + 1 > r->cap) {
		size_t cap = (r->len + add + 1) * 2;
		char *b = realloc(r->b, cap);

		if (b == NULL)
			return 0;
		r->b = b;
		r->cap = cap;
	}
	memcpy(r->b + r->len, data, add);
	r->len += add;
	r->b[r->len] = '\0';
	return add;
}

struct vigil_etcd *vigil_etcd_open(const char *endpoints, char *msg, size_t msglen)
{
	struct vigil_etcd *e = calloc(1, sizeof(*e));
	char *list = strdup(endpoints), *save = NULL;

	if (e != NULL)
		e->page = VIGIL_ETCD_PAGE;
	if (e == NULL || list == NULL || (e->curl = curl_easy_init()) == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto fail;
	}
	for (char *t = strtok_r(list, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
		if (strncmp(t, "http://", 7) != 0 && strncmp(t, "https://", 8) != 0) {
			snprintf(msg, msglen, "etcd endpoint '%s' is not an http:// or https:// URL", t);
			goto fail;
		}
		if (e->n_endpoints == VIGIL_ETCD_ENDPOINTS_MAX) {
			snprintf(msg, msglen, "more than %u etcd endpoints", VIGIL_ETCD_ENDPOINTS_MAX);
			goto fail;
		}
		if ((e->endpoint[e->n_endpoints++] = strdup(t)) == NULL) {
			snprintf(msg, msglen, "out of memory");
			goto fail;
		}
	}
	if (e->n_endpoints == 0) {
		snprintf(msg, msglen, "no etcd endpoint");
		goto fail;
	}
	free(list);
	return e;
fail:
	free(list);
	vigil_etcd_close(e);
	return NULL;
}

/* *field = a copy of path, or NULL for none ("" too). */
static int set_path(char **field, const char *path)
{
	free(*field);
	*field = path != NULL && path[0] != '\0' ? strdup(path) : NULL;
	return path != NULL && path[0] != '\0' && *field == NULL ? -ENOMEM : 0;
}

int vigil_etcd_tls(struct vigil_etcd *e, const char *ca, const char *cert, const char *key)
{
	int rc = set_path(&e->ca, ca);

	if (rc == 0)
		rc = set_path(&e->cert, cert);
	if (rc == 0)
		rc = set_path(&e->key, key);
	return rc;
}

void vigil_etcd_close(struct vigil_etcd *e)
{
	if (e == NULL)
		return;
	free(e->ca);
	free(e->cert);
	free(e->key);
	for (unsigned i = 0; i < e->n_endpoints; i++)
		free(e->endpoint[i]);
	if (e->curl != NULL)
		curl_easy_cleanup(e->curl);
	free(e);
}

void vigil_etcd_kvs_free(struct vigil_etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; kvs != NULL && i < n; i++) {
		free(kvs[i].key);
		if (kvs[i].value != NULL)
			sodium_memzero(kvs[i].value, kvs[i].value_len);
		free(kvs[i].value);
	}
	free(kvs);
}

/* ---- JSON on the wire ------------------------------------------------------ */

static json_t *b64(const void *bytes, size_t len)
{
	size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	json_t *j;

	if (s == NULL)
		return NULL;
	sodium_bin2base64(s, cap, bytes, len, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(s);
	sodium_memzero(s, cap);
	free(s);
	return j;
}

/* base64 into a fresh buffer (NUL after it); NULL when not base64. */
static uint8_t *unb64(const char *s, size_t *len)
{
	size_t cap = strlen(s) / 4 * 3 + 3;
	uint8_t *b = malloc(cap + 1);

	if (b == NULL || sodium_base642bin(b, cap, s, strlen(s), NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(b);
		return NULL;
	}
	b[*len] = '\0';
	return b;
}

/* proto3's JSON writes 64-bit numbers as strings, and leaves out zeros. */
static int64_t num(const json_t *o, const char *name)
{
	const json_t *v = json_object_get(o, name);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static json_t *num_str(int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

/* The end of the range of keys that start with prefix: prefix with its
 * last byte below 0xff plus one (etcd's own rule). */
static json_t *prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	uint8_t *end = malloc(n + 1);
	json_t *j;

	if (end == NULL)
		return NULL;
	memcpy(end, prefix, n);
	while (n > 0 && end[n - 1] == 0xff)
		n--;
	if (n == 0) {
		free(end);
		return b64("\0", 1); /* every key */
	}
	end[n - 1]++;
	j = b64(end, n);
	free(end);
	return j;
}

/* A POST of text to path on the current endpoint, its answer to fn(arg). */
static void post_setup(struct vigil_etcd *e, const char *path, struct curl_slist *headers, const char *text,
		       curl_write_callback fn, void *arg)
{
	char url[1100];

	snprintf(url, sizeof(url), "%s%s", e->endpoint[e->at], path);
	curl_easy_reset(e->curl);
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, fn);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, arg);
	/* An endpoint is http:// or https://, never anything curl also speaks. */
	curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (e->ca != NULL)
		curl_easy_setopt(e->curl, CURLOPT_CAINFO, e->ca);
	if (e->cert != NULL) {
		curl_easy_setopt(e->curl, CURLOPT_SSLCERT, e->cert);
		curl_easy_setopt(e->curl, CURLOPT_SSLKEY, e->key);
	}
}

/* POST body to path on an endpoint that answers, the current one first.
 * *answer: its JSON. 0, -EIO (none answered), -EPROTO (not JSON), or
 * -ENOENT / -EINVAL for etcd's own refusals (msg says which). */
static int call(struct vigil_etcd *e, const char *path, json_t *body, json_t **answer, char *msg, size_t msglen)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	int rc = -EIO;

	json_decref(body);
	*answer = NULL;
	if (text == NULL || headers == NULL) {
		snprintf(msg, msglen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned tries = 0; tries < e->n_endpoints; tries++, e->at = (e->at + 1) % e->n_endpoints) {
		struct reply r = {0};
		long status = 0;
		CURLcode cc;
		json_error_t jerr;

		post_setup(e, path, headers, text, take, &r);
		curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)VIGIL_ETCD_TIMEOUT_MS);
		cc = curl_easy_perform(e->curl);
		if (cc == CURLE_OK)
			curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
		if (cc != CURLE_OK || status >= 500 || r.b == NULL) {
			/* Every endpoint's failure, in the order tried. */
			size_t at = tries == 0 ? 0 : strnlen(msg, msglen);

			snprintf(msg + at, msglen - at, "%s%s: %s", tries == 0 ? "" : "; ", e->endpoint[e->at],
				 cc != CURLE_OK ? curl_easy_strerror(cc) : "no answer");
			free(r.b);
			continue; /* the next endpoint */
		}
		*answer = json_loads(r.b, 0, &jerr);
		free(r.b);
		if (*answer == NULL || !json_is_object(*answer)) {
			snprintf(msg, msglen, "%s%s: not etcd's answer (HTTP %ld)", e->endpoint[e->at], path, status);
			json_decref(*answer);
			*answer = NULL;
			rc = -EPROTO;
			goto out;
		}
		if (status != 200 || json_object_get(*answer, "error") != NULL) {
			const char *why = json_string_value(json_object_get(*answer, "message"));

			snprintf(msg, msglen, "etcd: %s", why != NULL ? why : "refused");
			rc = why != NULL && strstr(why, "not found") != NULL ? -ENOENT : -EINVAL;
			json_decref(*answer);
			*answer = NULL;
			goto out;
		}
		rc = 0;
		goto out;
	}
out:
	curl_slist_free_all(headers);
	free(text);
	return rc;
}

static json_t *range_of(const char *key, bool prefix)
{
	json_t *o = json_pack("{s:o}", "key", b64(key, strlen(key)));

	if (o != NULL && prefix)
		json_object_set_new(o, "range_end", prefix_end(key));
	return o;
}

static json_t *put_of(const char *key, const void *value, size_t len, int64_t lease)
{
	json_t *o = json_pack("{s:o, s:o}", "key", b64(key, strlen(key)), "value", b64(value, len));

	if (o != NULL && lease != 0)
		json_object_set_new(o, "lease", num_str(lease));
	return o;
}

/* ---- the calls ------------------------------------------------------------- */

/* One page of a range: from (from_len bytes) up to key's prefix end, at
 * revision at (0: the latest), at most e->page keys; appended to *kvs. */
static int range_page(struct vigil_etcd *e, const uint8_t *from, size_t from_len, const char *key, bool prefix,
		      int64_t *at, struct vigil_etcd_kv **kvs, size_t *n, bool *more, char *msg, size_t msglen)
{
	json_t *req = json_pack("{s:o}", "key", b64(from, from_len)), *a, *list;
	struct vigil_etcd_kv *grown;
	size_t i, count;
	int rc;

	if (req != NULL && prefix) {
		json_object_set_new(req, "range_end", prefix_end(key));
		json_object_set_new(req, "limit", num_str(e->page));
		if (*at != 0) /* every page of one revision: one consistent answer */
			json_object_set_new(req, "revision", num_str(*at));
	}
	rc = call(e, "/v3/kv/range", req, &a, msg, msglen);
	if (rc < 0)
		return rc;
	if (*at == 0)
		*at = num(json_object_get(a, "header"), "revision");
	*more = prefix && json_is_true(json_object_get(a, "more"));
	list = json_object_get(a, "kvs");
	count = json_array_size(list);
	if (count > 0) {
		grown = realloc(*kvs, (*n + count) * sizeof(**kvs));
		if (grown == NULL) {
			json_decref(a);
			return -ENOMEM;
		}
		*kvs = grown;
		memset(*kvs + *n, 0, count * sizeof(**kvs));
	}
	for (i = 0; i < count; i++) {
		const json_t *kv = json_array_get(list, i);
		const char *k = json_string_value(json_object_get(kv, "key"));
		const char *v = json_string_value(json_object_get(kv, "value"));
		struct vigil_etcd_kv *out = &(*kvs)[*n];

		if (k == NULL || (out->key = (char *)unb64(k, &out->key_len)) == NULL ||
		    (out->value = unb64(v != NULL ? v : "", &out->value_len)) == NULL) {
			free(out->key);
			out->key = NULL;
			json_decref(a);
			snprintf(msg, msglen, "etcd: a key or value that is not base64");
			return -EPROTO;
		}
		out->create_revision = num(kv, "create_revision");
		out->mod_revision = num(kv, "mod_revision");
		out->lease = num(kv, "lease");
		(*n)++;
	}
	json_decref(a);
	if (*more && count == 0) {
		snprintf(msg, msglen, "etcd: a range page said more but held nothing");
		return -EPROTO;
	}
	return 0;
}

int vigil_etcd_range(struct vigil_etcd *e, const char *key, bool prefix, struct vigil_etcd_kv **kvs, size_t *n,
		     int64_t *revision, char *msg, size_t msglen)
{
	uint8_t *from = (uint8_t *)strdup(key);
	size_t from_len = strlen(key);
	int64_t at = 0;
	bool more = true;
	int rc = from == NULL ? -ENOMEM : 0;

	*kvs = NULL;
	*n = 0;
	/* Pages of e->page keys, each from just after the last key of the one
	 * before (its bytes and a NUL): a large fleet's prefix is never one
	 * answer of hundreds of MB. */
	while (rc == 0 && more) {
		rc = range_page(e, from, from_len, key, prefix, &at, kvs, n, &more, msg, msglen);
		if (rc == 0 && more) {
			const struct vigil_etcd_kv *last = &(*kvs)[*n - 1];
			uint8_t *next = malloc(last->key_len + 1);

			free(from);
			from = next;
			if (next == NULL) {
				rc = -ENOMEM;
				break;
			}
			/* Its bytes and a NUL: the smallest key after it. */
			memcpy(next, last->key, last->key_len);
			next[last->key_len] = 0;
			from_len = last->key_len + 1;
		}
	}
	free(from);
	if (rc < 0) {
		if (rc == -ENOMEM)
			snprintf(msg, msglen, "out of memory");
		vigil_etcd_kvs_free(*kvs, *n);
		*kvs = NULL;
		*n = 0;
		return rc;
	}
	if (revision != NULL)
		*revision = at;
	return 0;
}

unsigned vigil_etcd_endpoint(const struct vigil_etcd *e)
{
	return e->at;
}

void vigil_etcd_page(struct vigil_etcd *e, unsigned keys)
{
	e->page = keys > 0 ? keys : VIGIL_ETCD_PAGE;
}

int vigil_etcd_put(struct vigil_etcd *e, const char *key, const void *value, size_t len, int64_t lease,
		   int64_t *revision, char *msg, size_t msglen)
{
	json_t *a;
	int rc = call(e, "/v3/kv/put", put_of(key, value, len, lease), &a, msg, msglen);

	if (rc == 0 && revision != NULL)
		*revision = num(json_object_get(a, "header"), "revision");
	json_decref(a);
	return rc;
}

int vigil_etcd_txn(struct vigil_etcd *e, const struct vigil_etcd_op *ops, size_t n, bool *done, int64_t *revision,
		   char *msg, size_t msglen)
{
	json_t *cmp = json_array(), *success = json_array(), *body, *a;
	bool whole = cmp != NULL && success != NULL;
	int rc;

	for (size_t i = 0; i < n && whole; i++) {
		const struct vigil_etcd_op *op = &ops[i];

		/* expect 0: the key was never made (its create_revision is 0). */
		if (op->expect >= 0)
			whole = json_array_append_new(cmp, json_pack("{s:s, s:o, s:s, s:o}", "target",
								     op->expect == 0 ? "CREATE" : "MOD", "key",
								     b64(op->key, strlen(op->key)), "result", "EQUAL",
								     op->expect == 0 ? "create_revision" : "mod_revision",
								     num_str(op->expect))) == 0;
		if (whole)
			whole = json_array_append_new(success, op->value != NULL
								   ? json_pack("{s:o}", "request_put",
									       put_of(op->key, op->value, op->len, op->lease))
								   : json_pack("{s:o}", "request_delete_range",
									       range_of(op->key, false))) == 0;
	}
	/* A compare lost to a failed allocation would make the puts
	 * unconditional: nothing is sent then. */
	if (!whole) {
		json_decref(cmp);
		json_decref(success);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	body = json_pack("{s:o, s:o}", "compare", cmp, "success", success);
	rc = call(e, "/v3/kv/txn", body, &a, msg, msglen);
	if (rc == 0) {
		*done = json_is_true(json_object_get(a, "succeeded"));
		if (revision != NULL)
			*revision = num(json_object_get(a, "header"), "revision");
	}
	json_decref(a);
	return rc;
}

int vigil_etcd_put_if(struct vigil_etcd *e, const char *key, const void *value, size_t len, int64_t expect,
		      int64_t lease, bool *done, int64_t *revision, char *msg, size_t msglen)
{
	struct vigil_etcd_op op = {.key = key, .expect = expect, .value = value, .len = len, .lease = lease};

	return vigil_etcd_txn(e, &op, 1, done, revision, msg, msglen);
}

int vigil_etcd_delete_if(struct vigil_etcd *e, const char *key, int64_t expect, bool *done, int64_t *revision,
			 char *msg, size_t msglen)
{
	struct vigil_etcd_op op = {.key = key, .expect = expect};

	return vigil_etcd_txn(e, &op, 1, done, revision, msg, msglen);
}

int vigil_etcd_delete(struct vigil_etcd *e, const char *key, bool prefix, int64_t *deleted, char *msg,
		      size_t msglen)
{
	json_t *a;
	int rc = call(e, "/v3/kv/deleterange", range_of(key, prefix), &a, msg, msglen);

	if (rc == 0 && deleted != NULL)
		*deleted = num(a, "deleted");
	json_decref(a);
	return rc;
}

int vigil_etcd_compact(struct vigil_etcd *e, int64_t revision, char *msg, size_t msglen)
{
	json_t *a;
	int rc = call(e, "/v3/kv/compaction", json_pack("{s:o, s:b}", "revision", num_str(revision), "physical", 1),
		      &a, msg, msglen);

	json_decref(a);
	return rc;
}

int vigil_etcd_lease_grant(struct vigil_etcd *e, int ttl, int64_t *id, char *msg, size_t msglen)
{
	json_t *a;
	int rc = call(e, "/v3/lease/grant", json_pack("{s:o}", "TTL", num_str(ttl)), &a, msg, msglen);

	if (rc == 0 && (*id = num(a, "ID")) == 0) {
		snprintf(msg, msglen, "etcd: a lease without an ID");
		rc = -EPROTO;
	}
	json_decref(a);
	return rc;
}

int vigil_etcd_lease_keepalive(struct vigil_etcd *e, int64_t id, int *ttl, char *msg, size_t msglen)
{
	json_t *a;
	int rc = call(e, "/v3/lease/keepalive", json_pack("{s:o}", "ID", num_str(id)), &a, msg, msglen);

	/* A stream of answers, of which one came: {"result": {"TTL": ...}};
	 * no TTL (or a negative one) is a lease that expired. */
	if (rc == 0) {
		int64_t t = num(json_object_get(a, "result"), "TTL");

		*ttl = t > 0 ? (int)t : 0;
	}
	json_decref(a);
	return rc;
}

int vigil_etcd_lease_revoke(struct vigil_etcd *e, int64_t id, char *msg, size_t msglen)
{
	json_t *a;
	int rc = call(e, "/v3/lease/revoke", json_pack("{s:o}", "ID", num_str(id)), &a, msg, msglen);

	json_decref(a);
	return rc;
}

/* ---- watch ------------------------------------------------------------------- */

struct watch {
	struct reply r;	     /* what came and is not a whole line yet */
	vigil_etcd_event_fn on_event;
	void *arg;
	const volatile bool *stop;
	int64_t *revision;
	int rc; /* why the stream was left: 0 (stop), on_event's, -ESTALE, -EPROTO */
	bool left;
	bool answered; /* the endpoint said something */
	char *msg;
	size_t msglen;
};

/* One message of the stream: {"result": {"events": [...], ...}}. */
static void watch_message(struct watch *w, const json_t *m)
{
	const json_t *res = json_object_get(m, "result"), *events = json_object_get(res, "events");

	if (res == NULL) {
		const char *why = json_string_value(json_object_get(json_object_get(m, "error"), "message"));

		snprintf(w->msg, w->msglen, "etcd watch: %s", why != NULL ? why : "an answer without a result");
		w->rc = -EPROTO;
		w->left = true;
		return;
	}
	if (num(res, "compact_revision") > 0) {
		snprintf(w->msg, w->msglen, "etcd watch: compacted past revision %" PRId64 " (now %" PRId64 ")",
			 *w->revision, num(res, "compact_revision"));
		w->rc = -ESTALE;
		w->left = true;
		return;
	}
	for (size_t i = 0; i < json_array_size(events) && !w->left; i++) {
		const json_t *ev = json_array_get(events, i), *kv = json_object_get(ev, "kv");
		const char *k = json_string_value(json_object_get(kv, "key"));
		const char *v = json_string_value(json_object_get(kv, "value"));
		bool put = json_object_get(ev, "type") == NULL; /* PUT is proto3's 0: left out */
		struct vigil_etcd_kv out = {0};
		int rc;

		if (k == NULL || (out.key = (char *)unb64(k, &out.key_len)) == NULL ||
		    (out.value = unb64(v != NULL ? v : "", &out.value_len)) == NULL) {
			free(out.key);
			snprintf(w->msg, w->msglen, "etcd watch: an event without a key");
			w->rc = -EPROTO;
			w->left = true;
			return;
		}
		out.create_revision = num(kv, "create_revision");
		out.mod_revision = num(kv, "mod_revision");
		out.lease = num(kv, "lease");
		rc = w->on_event(w->arg, put, &out);
		*w->revision = out.mod_revision;
		sodium_memzero(out.value, out.value_len);
		free(out.value);
		free(out.key);
		if (rc != 0) {
			w->rc = rc;
			w->left = true;
		}
	}
}

static size_t watch_take(char *data, size_t size, size_t n, void *arg)
{
	struct watch *w = arg;
	char *line, *nl;

	if (take(data, size, n, &w->r) != size * n)
		return 0;
	w->answered = true;
	line = w->r.b;
	while (!w->left && (nl = memchr(line, '\n', w->r.len - (size_t)(line - w->r.b))) != NULL) {
		json_error_t jerr;
		json_t *m;

		*nl = '\0';
		m = json_loads(line, 0, &jerr);
		if (m == NULL) {
			snprintf(w->msg, w->msglen, "etcd watch: not JSON: %s", jerr.text);
			w->rc = -EPROTO;
			w->left = true;
		} else {
			watch_message(w, m);
			json_decref(m);
		}
		line = nl + 1;
	}
	w->r.len -= (size_t)(line - w->r.b);
	memmove(w->r.b, line, w->r.len + 1);
	return w->left ? 0 : size * n; /* 0 ends the transfer */
}

/* A watch is quiet while nothing changes: TCP keep-alives (every 2 s
 * after 3 s idle, 3 unanswered) and a send timeout find a peer that died
 * without a word within about 10 s, so the watch ends and is made again. */
static int watch_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int on = 1, idle = 3, intvl = 2, cnt = 3;
	unsigned timeout_ms = 10000;

	(void)arg;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKOPT_OK;
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof(timeout_ms));
	return CURL_SOCKOPT_OK;
}

static int watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	const struct watch *w = arg;

	(void)a, (void)b, (void)c, (void)d;
	return *w->stop ? 1 : 0;
}

int vigil_etcd_watch(struct vigil_etcd *e, const char *prefix, int64_t from, vigil_etcd_event_fn on_event,
		     void *arg, const volatile bool *stop, int64_t *revision, char *msg, size_t msglen)
{
	json_t *req = range_of(prefix, true), *body;
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	struct watch w = {.on_event = on_event, .arg = arg, .stop = stop, .revision = revision, .msg = msg,
			  .msglen = msglen};
	char *text;
	CURLcode cc;

	if (from > 0 && req != NULL)
		json_object_set_new(req, "start_revision", num_str(from));
	body = json_pack("{s:o}", "create_request", req);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL || headers == NULL) {
		curl_slist_free_all(headers);
		free(text);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	/* An endpoint that does not answer at all: the next one, at once. */
	for (unsigned tries = 0; tries < e->n_endpoints; tries++) {
		post_setup(e, "/v3/watch", headers, text, watch_take, &w);
		curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)VIGIL_ETCD_TIMEOUT_MS);
		curl_easy_setopt(e->curl, CURLOPT_SOCKOPTFUNCTION, watch_sockopt);
		curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, watch_progress);
		curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, &w);
		cc = curl_easy_perform(e->curl);
		if (w.answered || *stop || cc != CURLE_COULDNT_CONNECT)
			break;
		e->at = (e->at + 1) % e->n_endpoints;
	}
	curl_slist_free_all(headers);
	free(text);
	free(w.r.b);
	if (w.left)
		return w.rc;
	if (*stop)
		return 0;
	/* Lost: the next call tries the next endpoint. */
	snprintf(msg, msglen, "%s: watch ended: %s", e->endpoint[e->at],
		 cc != CURLE_OK ? curl_easy_strerror(cc) : "the stream closed");
	e->at = (e->at + 1) % e->n_endpoints;
	return -EIO;
}

/* ---- records ---------------------------------------------------------------- */

void vigil_etcd_seal(const uint8_t master[32], const char *key, const void *plain, size_t len, uint8_t *out)
{
	randombytes_buf(out, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL, plain,
						   len, (const uint8_t *)key, strlen(key), NULL, out, master);
}

int vigil_etcd_open_record(const uint8_t master[32], const char *key, const uint8_t *sealed, size_t sealed_len,
			   uint8_t *out)
{
	if (sealed_len < VIGIL_ETCD_SEAL_OVERHEAD ||
	    crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						       sealed_len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
						       (const uint8_t *)key, strlen(key), sealed, master) != 0)
		return -EBADMSG;
	return 0;
}
