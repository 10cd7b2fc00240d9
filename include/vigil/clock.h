/* SPDX-License-Identifier: MIT */
/* The clocks every thread outside the workers' hot loop reads (workers
 * count TSC cycles): nanoseconds of CLOCK_MONOTONIC, for intervals and
 * deadlines, or CLOCK_REALTIME, for names and timestamps on disk. */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t vigil_clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t vigil_now_ns(void)
{
	return vigil_clock_ns(CLOCK_MONOTONIC);
}

#endif
