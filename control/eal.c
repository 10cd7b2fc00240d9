/* SPDX-License-Identifier: MIT */
/* Builds the EAL arguments: hugepages when they are there or can be
 * reserved (we run as root), ordinary memory otherwise; one lcore for
 * control plus one per worker, each worker on a CPU, control on the CPUs
 * workers leave; the ingest device; a per-process prefix. */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_memory.h>

#include "eal.h"
#include "port.h"

#define HUGEPAGE_SYSFS "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define HUGEPAGE_MOUNT "/dev/hugepages"
#define BASE_MEMORY_MB 128 /* rings, tables, DPDK itself */
/* A stream, its keys, its hash entry; the cryptodev engine's sessions
 * (4.25 a camera, up to 1.4 KiB each). */
#define CAMERA_MEMORY_KB 12
/* An mbuf, its 2 KiB of data and its share of the pool: 3 fell 4% short
 * of 142,000 mbufs in ordinary pages (--no-huge). */
#define MBUF_KB 4
/* A worker's hold windows (reorder.h: 32 of 1,024 packets, 1,024 of 64,
 * 40 bytes a packet): 4.1 MiB. */
#define HOLD_WINDOWS_MB 5

static int add(struct vigil_eal_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int add(struct vigil_eal_args *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->argc == VIGIL_EAL_MAX_ARGS)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - a->used)
		return -E2BIG;
	a->argv[a->argc++] = a->buf + a->used;
	a->argv[a->argc] = NULL;
	a->used += (size_t)n + 1;
	return 0;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool hugetlbfs_mounted(void)
{
	FILE *f = fopen("/proc/mounts", "re");
	char line[1024];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, " hugetlbfs ") != NULL;
	fclose(f);
	return found;
}

/* Reserve what is missing of `needed` free 2 MiB pages. */
static bool hugepages_ready(long needed)
{
	long free_pages = read_long(HUGEPAGE_SYSFS "free_hugepages");
	long total = read_long(HUGEPAGE_SYSFS "nr_hugepages");

	if (free_pages < 0 || total < 0)
		return false;
	if (free_pages < needed && geteuid() == 0) {
		FILE *f = fopen(HUGEPAGE_SYSFS "nr_hugepages", "we");

		if (f != NULL) {
			fprintf(f, "%ld\n", total + needed - free_pages);
			fclose(f);
		}
		free_pages = read_long(HUGEPAGE_SYSFS "free_hugepages");
	}
	if (free_pages < needed)
		return false;
	if (!hugetlbfs_mounted() && geteuid() == 0) {
		mkdir(HUGEPAGE_MOUNT, 0755);
		mount("nodev", HUGEPAGE_MOUNT, "hugetlbfs", 0, NULL);
	}
	return hugetlbfs_mounted();
}

/* "0@(a,b),1@c,...": each worker on a CPU we may run on, sharing CPUs
 * when there are fewer than lcores; the control lcore, and with it every
 * thread vigild starts (recorders, the playlist thread, io_uring's
 * workers, HTTP), on every CPU a busy-polling worker does not take, or on
 * all of them when none is left. A worker that sleeps when idle
 * (IdleSleepMicroseconds) takes none. On its one CPU, the recorder of
 * 10,000 cameras waited for the CPU 80% of the time, beside eight
 * io_uring workers, while the worker's CPU sat 40% idle. */
static int add_lcores(struct vigil_eal_args *a, unsigned workers, bool workers_sleep)
{
	char map[4096];
	size_t used = 0;
	cpu_set_t set, control;
	int cpus[CPU_SETSIZE], n = 0, w;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	if (n == 0)
		return -ENODEV;
	control = set;
	for (unsigned l = 1; l <= workers && !workers_sleep; l++)
		CPU_CLR(cpus[l % (unsigned)n], &control);
	if (CPU_COUNT(&control) == 0)
		control = set;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &control))
			continue;
		w = snprintf(map + used, sizeof(map) - used, "%s%d", used ? "," : "0@(", c);
		if (w < 0 || (size_t)w >= sizeof(map) - used)
			return -E2BIG;
		used += (size_t)w;
	}
	for (unsigned l = 0; l <= workers; l++) {
		if (l == 0)
			w = snprintf(map + used, sizeof(map) - used, ")");
		else
			w = snprintf(map + used, sizeof(map) - used, ",%u@%d", l, cpus[l % (unsigned)n]);
		if (w < 0 || (size_t)w >= sizeof(map) - used)
			return -E2BIG;
		used += (size_t)w;
	}
	snprintf(a->lcores, sizeof(a->lcores), "lcores: %s (control, then each worker, @ CPUs)", map);
	return add(a, "--lcores=%s", map);
}

int vigil_eal_build(struct vigil_eal_args *a, unsigned workers, bool workers_sleep, unsigned max_cameras,
		    const char *device, const char *pcap, const char *extra, char *msg, size_t msglen)
{
	long memory_mb = BASE_MEMORY_MB + (long)vigil_port_mbufs(workers, max_cameras) * MBUF_KB / 1024 +
			 (long)max_cameras * CAMERA_MEMORY_KB / 1024 + (long)workers * HOLD_WINDOWS_MB;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	rc |= add(a, "vigild");
	rc |= add(a, "--file-prefix=vigil-%d", (int)getpid());
	rc |= add(a, "--log-level=*:warning");
	/* Hugepage sizes we do not use and the telemetry socket are not news. */
	rc |= add(a, "--log-level=lib.eal:error");
	rc |= add(a, "--log-level=lib.telemetry:error");
	/* A memif port registers a multi-process action at probe, which an
	 * EAL without shared configuration refuses: its hugepage files are
	 * unlinked instead, the runtime directory kept while it runs. */
	bool ipc = pcap == NULL && strncmp(device, "net_memif", 9) == 0;

	if (hugepages_ready((memory_mb + 1) / 2)) {
		rc |= add(a, ipc ? "--huge-unlink" : "--in-memory");
		snprintf(a->memory, sizeof(a->memory), "memory: up to %ld MiB in 2 MiB hugepages, %s", memory_mb,
			 ipc ? "unlinked (memif needs the multi-process channel)" : "in-memory (no shared files)");
	} else {
		rc |= add(a, "--no-huge");
		if (!ipc)
			rc |= add(a, "--no-shconf");
		rc |= add(a, "-m");
		rc |= add(a, "%ld", memory_mb);
		snprintf(a->memory, sizeof(a->memory),
			 "memory: no hugepages available, %ld MiB of ordinary pages (--no-huge%s)", memory_mb,
			 ipc ? "" : " --no-shconf");
	}
	if (rc == 0)
		rc = add_lcores(a, workers, workers_sleep);
	if (rc < 0) {
		snprintf(msg, msglen, "cannot choose lcores: %s", strerror(-rc));
		return rc;
	}
	if (pcap != NULL) {
		/* A comma would end the devargs early. */
		if (strchr(pcap, ',') != NULL) {
			snprintf(msg, msglen, "%s: capture file names must not contain ','", pcap);
			return -EINVAL;
		}
		rc |= add(a, "--no-pci");
		rc |= add(a, "--vdev=net_pcap0,rx_pcap=%s", pcap);
	} else if (strncmp(device, "net_", 4) == 0) {
		rc |= add(a, "--no-pci");
		rc |= add(a, "--vdev=%s", device);
	} else {
		rc |= add(a, "--allow=%s", device);
	}
	if (rc == 0 && extra != NULL) {
		char copy[2048], *tok, *save = NULL;

		snprintf(copy, sizeof(copy), "%s", extra);
		for (tok = strtok_r(copy, " \t", &save); tok != NULL && rc == 0; tok = strtok_r(NULL, " \t", &save))
			rc = add(a, "%s", tok);
	}
	if (rc < 0) {
		snprintf(msg, msglen, "EAL arguments too long");
		return -E2BIG;
	}
	return 0;
}

static int dontdump(const struct rte_memseg_list *msl, void *arg)
{
	(void)arg;
	if (!msl->external && msl->base_va != NULL && msl->len > 0)
		(void)madvise(msl->base_va, msl->len, MADV_DONTDUMP);
	return 0;
}

void vigil_eal_dontdump(void)
{
	FILE *f = fopen("/proc/self/coredump_filter", "r+e");
	unsigned long filter;

	/* Ordinary pages (--no-huge) are all mapped by rte_eal_init. */
	rte_memseg_list_walk(dontdump, NULL);
	/* Hugepages mapped later get no MADV_DONTDUMP: the filter leaves out
	 * hugetlb memory, private (bit 5, in the default 0x33) and shared (6). */
	if (f != NULL && fscanf(f, "%lx", &filter) == 1 && (filter & 0x60) != 0) {
		rewind(f);
		fprintf(f, "%#lx\n", filter & ~0x60ul);
	}
	if (f != NULL)
		fclose(f);
}
