/* SPDX-License-Identifier: MIT */
/* vigil-open on a camera's folder: from what each sealed file said when it
 * was opened, the report of the folder's chain of segments (which are
 * missing, reordered, replaced, inserted or cut, and which of those a
 * crash explains). docs/sealed-segments.md says what it proves. */
#ifndef VIGIL_CHAIN_REPORT_H
#define VIGIL_CHAIN_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "seal.h"

/* One NNNNNNNN.ts.sealed of the folder. */
struct chain_file {
	uint32_t number;		/* NNNNNNNN of its name */
	int rc;				/* vigil_seal_open with partial: 0 whole, 1 cut, < 0 refused */
	char err[VIGIL_SEAL_ERR_BYTES]; /* why, when cut or refused */
	bool peeked;			/* its header reads as VGSEAL02: peek holds it (unauthenticated) */
	struct vigil_seal_info peek;
	struct vigil_seal_info info; /* what vigil_seal_open authenticated (rc >= 0) */
};

/* What is in the folder besides: plain segments (.ts, .m4s) and .partial
 * ones, by number. */
struct chain_folder {
	const char *camera;
	struct chain_file *files; /* sorted by number */
	unsigned n_files;
	const uint32_t *plain; /* sorted */
	unsigned n_plain;
	const char *const *partial; /* names */
	unsigned n_partial;
};

/* Prints the report on out, one line per finding, then a summary line.
 * Returns how many problems it found: findings that no crash, write error
 * or retention explains. */
unsigned chain_report(const struct chain_folder *d, FILE *out);

#endif
