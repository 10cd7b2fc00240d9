/* SPDX-License-Identifier: MIT */
/* The lcores vigild gives DPDK (control/eal.c): each worker on a CPU of
 * its own while there are CPUs; the control lcore, whose threads are the
 * recorders, the playlist thread and io_uring's workers, on every CPU a
 * busy-polling worker leaves, on all of them when workers sleep when idle
 * or none is left. Run on two CPUs of this machine's, set by the test. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "eal.c"

static int cpu[2];

static const char *lcores(unsigned workers, bool workers_sleep, int n_cpus)
{
	static struct vigil_eal_args a;
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int i = 0; i < n_cpus; i++)
		CPU_SET(cpu[i], &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(add_lcores(&a, workers, workers_sleep), 0);
	assert_int_equal(a.argc, 1);
	return a.argv[0];
}

static void test_lcores(void **state)
{
	char want[128];

	(void)state;
	/* A busy worker keeps its CPU; control has the other. */
	snprintf(want, sizeof(want), "--lcores=0@(%d),1@%d", cpu[0], cpu[1]);
	assert_string_equal(lcores(1, false, 2), want);
	/* A worker that sleeps shares its CPU: control runs on both (it
	 * was pinned to the first, beside the camera fleet). */
	snprintf(want, sizeof(want), "--lcores=0@(%d,%d),1@%d", cpu[0], cpu[1], cpu[1]);
	assert_string_equal(lcores(1, true, 2), want);
	/* Workers take every CPU: control goes everywhere. */
	snprintf(want, sizeof(want), "--lcores=0@(%d,%d),1@%d,2@%d", cpu[0], cpu[1], cpu[1], cpu[0]);
	assert_string_equal(lcores(2, false, 2), want);
	/* One CPU: everyone on it. */
	snprintf(want, sizeof(want), "--lcores=0@(%d),1@%d", cpu[0], cpu[0]);
	assert_string_equal(lcores(1, false, 1), want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_lcores)};
	cpu_set_t set;
	int n = 0;

	/* vigild's machines have two cores at least; so do these. */
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpu[n++] = c;
	if (n < 2) {
		fprintf(stderr, "test_eal: needs two CPUs, has %d\n", n);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
