/* SPDX-License-Identifier: MIT */
/* vigild's log: one line per event on stderr, written at once. Under
 * journald (systemd sets JOURNAL_STREAM to stderr's device:inode) each
 * line starts with its syslog priority, "<3>", which the journal takes as
 * the line's level (SyslogLevelPrefix); anywhere else the line is plain.
 * A cause that can repeat (a camera's key expiring, a peer refused) goes
 * through a limit of its own: a few lines a minute, then one that says how
 * many were held back. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

enum vigil_log_level {
	VIGIL_LOG_ERR = 3,     /* it failed: what it was to do is not done */
	VIGIL_LOG_WARNING = 4, /* done otherwise, or less than asked: look at it */
	VIGIL_LOG_NOTICE = 5,  /* a change: a reload, a camera, an admin command */
	VIGIL_LOG_INFO = 6,    /* how it started, what it found */
};

static inline bool vigil_log_to_journal(void)
{
	static int journal = -1; /* once per file that logs; threads find the same */

	if (__atomic_load_n(&journal, __ATOMIC_RELAXED) < 0) {
		const char *e = getenv("JOURNAL_STREAM");
		unsigned long long dev, ino;
		struct stat st;

		__atomic_store_n(&journal,
				 e != NULL && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
				     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino,
				 __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&journal, __ATOMIC_RELAXED);
}

static inline void vigil_vlog(enum vigil_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	if (n < 0)
		return;
	if (vigil_log_to_journal())
		fprintf(stderr, "<%d>%s", (int)level, line);
	else
		fputs(line, stderr);
}

static inline void vigil_log(enum vigil_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void vigil_log(enum vigil_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vigil_vlog(level, fmt, ap);
	va_end(ap);
}

/* One cause's limit: VIGIL_LOG_BURST lines a minute. */
#define VIGIL_LOG_BURST 10
struct vigil_log_limit {
	uint64_t minute; /* the minute (CLOCK_MONOTONIC) the lines counted are in */
	unsigned lines;
	unsigned held;	 /* held back since the last line written */
};

static inline void vigil_log_limited(struct vigil_log_limit *l, enum vigil_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void vigil_log_limited(struct vigil_log_limit *l, enum vigil_log_level level, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if ((uint64_t)ts.tv_sec / 60 != l->minute) {
		l->minute = (uint64_t)ts.tv_sec / 60;
		l->lines = 0;
	}
	if (l->lines >= VIGIL_LOG_BURST) {
		l->held++;
		return;
	}
	l->lines++;
	if (l->held > 0) {
		vigil_log(level, "vigild: (%u more lines like the next one held back: at most %d a minute)\n", l->held,
			  VIGIL_LOG_BURST);
		l->held = 0;
	}
	va_start(ap, fmt);
	vigil_vlog(level, fmt, ap);
	va_end(ap);
}

#endif
