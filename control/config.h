/* SPDX-License-Identifier: MIT */
/* The configuration parser's API: vigil.conf (and the admin socket's
 * camera lines) into the model of vigil/config_model.h, with file, line
 * and reason for every refusal. */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/config_model.h"

/* Parse and validate FILE. On error returns -errno (or -EINVAL) and writes
 * one message "FILE:LINE: reason" into err. */
int vigil_config_load(struct vigil_config *cfg, const char *path, char *err, size_t errlen);
void vigil_config_free(struct vigil_config *cfg);
/* The keys the parser knows, in its table's order: the i-th one's name,
 * and *camera whether it belongs in [Camera] (else [Ingest]); NULL past
 * the end. The documentation's lists are checked against it. */
const char *vigil_config_key_name(unsigned i, bool *camera);
/* A camera Name: 1-VIGIL_CAMERA_NAME_MAX characters of A-Z a-z 0-9 _ -. */
bool vigil_config_valid_name(const char *name);

/* One camera from KEY = VALUE pairs, validated as a [Camera] section of
 * cfg's file would be (for cameras added through the admin socket). On
 * error returns -EINVAL with "Key: reason" in err. */
int vigil_config_camera(const struct vigil_config *cfg, struct vigil_camera_config *cam, const char *const *keys,
			const char *const *values, unsigned n, char *err, size_t errlen);
/* A Key = value (RFC 4568 inline key) alone, for a rotation. */
int vigil_config_key(const char *value, uint8_t key[VIGIL_SRTP_MASTER_KEY_LEN],
		     uint8_t salt[VIGIL_SRTP_MASTER_SALT_LEN], char *err, size_t errlen);

#endif
