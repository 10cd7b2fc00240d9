/* SPDX-License-Identifier: MIT */
/* Inside the configuration parser: its state, shared by config.c (the
 * file, its sections, the cross checks) and config_keys.c (the table of
 * keys and their value parsers). No other file includes it. */
#ifndef VIGIL_CONFIG_PARSE_H
#define VIGIL_CONFIG_PARSE_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "config.h"

enum config_section { SEC_NONE, SEC_INGEST, SEC_CAMERA, SEC_STORAGE, SEC_CLUSTER };

/* Which keys a [Camera] section has set: "set twice", the missing ones. */
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
	CAM_RTX_SSRC = 1024,
	CAM_RTX_PT = 2048,
	CAM_RTCP_RSIZE = 4096,
};

struct parser {
	struct vigil_config *cfg;
	FILE *file;
	bool has_key;		/* a Key = line: the file holds secrets */
	unsigned cap;		/* cameras allocated */
	unsigned line;		/* line the reader returned last */
	unsigned section_count; /* section headers read so far */
	unsigned section_line;
	unsigned seen_section; /* section_count when the handler last ran */
	enum config_section section;
	unsigned cam_keys;
	unsigned param_line[3]; /* line of each ParameterSets unit of this camera */
	unsigned ingest_keys;
	unsigned storage_sections;
	unsigned storage_line; /* where [Storage] is */
	unsigned cluster_sections;
	unsigned cluster_line; /* where [Cluster] is */
	unsigned keystore_line; /* where Keystore is */
	bool ports_set;
	unsigned handshake_line; /* where HandshakePort is */
	char *err;
	size_t errlen;
	unsigned err_line;
	/* The cameras so far by Name, and the complete ones by SSRC and by
	 * Identity (hex), to their index: duplicates found in O(1), not by
	 * walking every camera before (10,000 cameras took seconds a reload).
	 * NULL: one camera alone (the admin socket's). */
	json_t *by_name, *by_ssrc, *by_identity;
};

/* The camera just read is complete: indexed for the checks of the next. */
void config_index_camera(struct parser *p);

/* Keeps the first error, "FILE:LINE: reason" (just the reason for a
 * camera from the admin socket). Returns 0. */
int config_fail(struct parser *p, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* NAME = VALUE in p's section ([Ingest], or the last camera's). Returns 1,
 * or 0 after config_fail. */
int config_key(struct parser *p, const char *name, const char *value);
/* An RFC 4568 inline key into cam. Returns 1, or 0 after config_fail. */
int config_parse_key(struct parser *p, struct vigil_camera_config *cam, const char *value);

#endif
