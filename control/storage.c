/* SPDX-License-Identifier: MIT */
/* [Storage] as vigild runs it (storage.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "storage.h"
#include "vigil/clock.h"
#include "vigil/secret.h"

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

/* CredentialsFile, else $CREDENTIALS_DIRECTORY/s3-credentials: owned by
 * vigild's user or root, not readable by others (as the key files). */
static int read_credentials(const struct vigil_storage_config *s, char *userpwd, size_t len, char *err,
			    size_t errlen)
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

struct vigil_uploader *vigil_storage_open(struct vigil_config *cfg, char *err, size_t errlen)
{
	struct vigil_storage_config *s = &cfg->storage;
	struct vigil_uploader *u = NULL;
	char *userpwd = sodium_malloc(300);

	if (userpwd == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (s->node[0] == '\0' && gethostname(s->node, sizeof(s->node) - 1) < 0)
		snprintf(s->node, sizeof(s->node), "vigild");
	if (cfg->state_dir[0] == '\0')
		snprintf(err, errlen,
			 "[Storage] needs StateDir in [Ingest] (what is uploaded is recorded there)");
	else if (read_credentials(s, userpwd, 300, err, errlen) == 0)
		u = vigil_uploader_create(s, cfg->record_dir, cfg->state_dir, cfg->recorders, userpwd, err, errlen);
	sodium_free(userpwd);
	return u;
}

json_t *vigil_storage_summary(const struct vigil_uploader *u)
{
	struct vigil_upload_stats s;
	const struct vigil_upload_stats *st = &s;
	json_t *o = json_object(), *f = json_object();
	uint64_t oldest;
	uint64_t now = vigil_clock_ns(CLOCK_REALTIME);

	vigil_uploader_stats(u, &s);
	oldest = s.spool_oldest_ns;
	for (unsigned i = 0; i < VIGIL_UPLOAD_FAILURES; i++)
		json_object_set_new(f, vigil_upload_failure_name[i],
				    json_integer((json_int_t)st->failures[i]));
	json_object_set_new(o, "uploaded_segments", json_integer((json_int_t)st->uploaded_segments));
	json_object_set_new(o, "uploaded_bytes", json_integer((json_int_t)st->uploaded_bytes));
	json_object_set_new(o, "uploaded_inits", json_integer((json_int_t)st->uploaded_inits));
	json_object_set_new(o, "uploaded_playlists", json_integer((json_int_t)st->uploaded_playlists));
	json_object_set_new(o, "upload_failures", f);
	json_object_set_new(o, "vanished", json_integer((json_int_t)st->vanished));
	json_object_set_new(o, "spool_bytes", json_integer((json_int_t)st->spool_bytes));
	json_object_set_new(o, "spool_segments", json_integer((json_int_t)st->spool_segments));
	json_object_set_new(
	    o, "spool_oldest_seconds",
	    json_integer(oldest != 0 && now > oldest ? (json_int_t)((now - oldest) / 1000000000u) : 0));
	return o;
}
