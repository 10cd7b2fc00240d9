/* SPDX-License-Identifier: MIT */
/* Whether a secret is left in this process's heap or stack (dead frames
 * included) once the code under test is done with it. Light on the stack
 * itself, so as not to overwrite the frames it looks at: static buffers,
 * no stdio, no scanf. Call leftovers_start() first: meson's
 * MALLOC_PERTURB_ fills freed memory, which would hide what production
 * leaves there. Include cmocka.h before it. */
#ifndef VIGIL_TEST_LEFTOVERS_H
#define VIGIL_TEST_LEFTOVERS_H

#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* False under ASan, said on the output: its allocator keeps the heap in
 * mappings of its own and quarantines what is freed, while this looks at
 * glibc's (the same tests run in the ordinary build). A cmocka skip()
 * would count as a failure in meson's TAP. */
static inline bool leftovers_start(void)
{
#ifdef __SANITIZE_ADDRESS__
	print_message("# not under ASan: the heap looked at is glibc's\n");
	return false;
#endif
	mallopt(M_PERTURB, 0);
	return true;
}

/* Whether the bytes of pat are in [lo, hi). */
static inline bool leftovers_in(const uint8_t *lo, const uint8_t *hi, const uint8_t *pat, size_t len)
{
	for (const uint8_t *p = lo; p + len <= hi; p++)
		if (*p == pat[0] && memcmp(p, pat, len) == 0)
			return true;
	return false;
}

/* Somewhere in the [heap] or the [stack] mapping, the bytes of pat. */
static inline bool leftovers_found(const void *pat, size_t len)
{
	static char maps[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, maps, sizeof(maps) - 1);
	char *l, *end;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		abort();
	maps[n] = '\0';
	for (l = maps; (end = strchr(l, '\n')) != NULL; l = end + 1) {
		*end = '\0';
		if (strstr(l, "[heap]") != NULL || strstr(l, "[stack]") != NULL) {
			char *dash;
			uintptr_t lo = strtoul(l, &dash, 16), hi = strtoul(dash + 1, NULL, 16);

			if (leftovers_in((const uint8_t *)lo, (const uint8_t *)hi, pat, len))
				return true;
		}
	}
	return false;
}

#endif
