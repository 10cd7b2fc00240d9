/* SPDX-License-Identifier: MIT */
/* [Storage] as vigild runs it (storage.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "storage.h"
#include "s3.h"
#include "vigil/clock.h"

struct vigil_uploader *vigil_storage_open(struct vigil_config *cfg, char *err, size_t errlen)
{
	struct vigil_storage_config *s = &cfg->storage;
	struct vigil_uploader *u = NULL;
	char *userpwd = sodium_malloc(VIGIL_S3_USERPWD_MAX);

	if (userpwd == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (s->node[0] == '\0' && gethostname(s->node, sizeof(s->node) - 1) < 0)
		snprintf(s->node, sizeof(s->node), "vigild");
	if (cfg->state_dir[0] == '\0')
		snprintf(err, errlen,
			 "[Storage] needs StateDir in [Ingest] (what is uploaded is recorded there)");
	else if (vigil_s3_credentials(s, userpwd, VIGIL_S3_USERPWD_MAX, err, errlen) == 0)
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
