/* SPDX-License-Identifier: MIT */
/* [Storage] as vigild runs it: the credentials read, the node named, the
 * uploader (record/upload.h) made and checked; its summary. */
#ifndef VIGIL_STORAGE_H
#define VIGIL_STORAGE_H

#include <jansson.h>

#include "upload.h"
#include "vigil/config_model.h"

/* The uploader of cfg's [Storage], its bucket checked (NULL and err: a
 * refusal, which stops vigild). cfg->storage.node filled in (the host
 * name) when not set. */
struct vigil_uploader *vigil_storage_open(struct vigil_config *cfg, char *err, size_t errlen);

/* The summary's "storage". */
json_t *vigil_storage_summary(const struct vigil_uploader *u);

#endif
