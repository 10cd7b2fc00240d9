/* SPDX-License-Identifier: MIT */
/* The recorder's causes by name, generated from their list (stats.h), and
 * the quantiles of its write latencies. */
#include "stats.h"

static const char *const cause_names[VIGIL_REC_CAUSES] = {
#define VIGIL_X_NAME(name, help) [VIGIL_REC_CAUSE_##name] = #name,
	VIGIL_FOREACH_REC_CAUSE(VIGIL_X_NAME)
#undef VIGIL_X_NAME
};

const char *vigil_recorder_cause_name(unsigned cause)
{
	return cause < VIGIL_REC_CAUSES ? cause_names[cause] : NULL;
}

uint64_t vigil_latency_quantile(const uint64_t buckets[VIGIL_LATENCY_BUCKETS], double share)
{
	uint64_t total = 0, seen = 0;

	for (unsigned k = 0; k < VIGIL_LATENCY_BUCKETS; k++)
		total += buckets[k];
	for (unsigned k = 0; k < VIGIL_LATENCY_BUCKETS && total > 0; k++) {
		seen += buckets[k];
		if ((double)seen >= share * (double)total)
			return UINT64_C(1) << k;
	}
	return 0;
}
