/* SPDX-License-Identifier: MIT */
/* Names and help strings of the counters, generated from the one list. */
#include "counters.h"

const char *const vigil_counter_names[VIGIL_CTR_MAX] = {
#define VIGIL_X_NAME(name, help) [VIGIL_CTR_##name] = #name,
	VIGIL_FOREACH_COUNTER(VIGIL_X_NAME)
#undef VIGIL_X_NAME
};

const char *const vigil_counter_help[VIGIL_CTR_MAX] = {
#define VIGIL_X_HELP(name, help) [VIGIL_CTR_##name] = help,
	VIGIL_FOREACH_COUNTER(VIGIL_X_HELP)
#undef VIGIL_X_HELP
};
