/* SPDX-License-Identifier: MIT */
/* The EAL command line vigild builds for itself, so that operators never
 * type one: memory (hugepages when it can, else ordinary pages), lcores,
 * the device and a private file prefix. */
#ifndef VIGIL_EAL_H
#define VIGIL_EAL_H

#include <stdbool.h>
#include <stddef.h>

#define VIGIL_EAL_MAX_ARGS 64

struct vigil_eal_args {
	int argc;
	char *argv[VIGIL_EAL_MAX_ARGS + 1];
	char buf[8192];
	size_t used;
	char memory[256]; /* one line saying how memory was set up */
	char lcores[4200]; /* ... and the lcores */
};

/* Memory is sized for max_cameras streams; workers_sleep: the workers
 * sleep when idle (IdleSleepMicroseconds), so their CPUs are shared with
 * the control lcore's threads. device: a DPDK device string (vdev "net_..." or a PCI address); pcap, if
 * set, replaces it with a net_pcap reader of that file; extra: more EAL
 * arguments, space separated. 0 or -errno with msg filled in. */
int vigil_eal_build(struct vigil_eal_args *a, unsigned workers, bool workers_sleep, unsigned max_cameras,
		    const char *device, const char *pcap, const char *extra, char *msg, size_t msglen);

/* After rte_eal_init: DPDK's memory, where the streams' session keys
 * live, is left out of core dumps (gcore included). */
void vigil_eal_dontdump(void);

#endif
