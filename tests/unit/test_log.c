/* SPDX-License-Identifier: MIT */
/* vigil/log.h: the journal's priority prefix only when stderr is the
 * journal's stream (JOURNAL_STREAM names its device:inode), and a cause's
 * limit: VIGIL_LOG_BURST lines a minute, then a line that counts the ones
 * held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vigil/log.h"

#define LOG_FILE "log.tmp"

static unsigned lines_of(const char *path, const char *prefix, unsigned *with_prefix)
{
	char line[4096];
	unsigned n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	*with_prefix = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		*with_prefix += strncmp(line, prefix, strlen(prefix)) == 0;
	}
	fclose(f);
	return n;
}

static void test_limit_and_journal(void **state)
{
	struct vigil_log_limit l = {0};
	struct stat st;
	char env[64];
	unsigned n, prefixed;

	(void)state;
	assert_non_null(freopen(LOG_FILE, "w", stderr));
	setvbuf(stderr, NULL, _IONBF, 0);
	/* stderr is this file: the journal's stream, as systemd would say. */
	assert_int_equal(fstat(2, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	for (unsigned i = 0; i < VIGIL_LOG_BURST + 5; i++)
		vigil_log_limited(&l, VIGIL_LOG_WARNING, "vigild: camera %u did not rekey in time\n", i);
	n = lines_of(LOG_FILE, "<4>vigild: camera ", &prefixed);
	assert_int_equal(n, VIGIL_LOG_BURST);
	assert_int_equal(prefixed, VIGIL_LOG_BURST);
	/* The next minute: the count of those held back, then the line. */
	l.minute--;
	vigil_log_limited(&l, VIGIL_LOG_WARNING, "vigild: camera %u did not rekey in time\n", 99u);
	vigil_log(VIGIL_LOG_INFO, "vigild: an info line\n");
	n = lines_of(LOG_FILE, "<4>vigild: (5 more lines like the next one held back", &prefixed);
	assert_int_equal(n, VIGIL_LOG_BURST + 3);
	assert_int_equal(prefixed, 1);
	lines_of(LOG_FILE, "<6>vigild: an info line", &prefixed);
	assert_int_equal(prefixed, 1);
	unlink(LOG_FILE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_limit_and_journal)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
