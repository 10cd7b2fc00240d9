/* SPDX-License-Identifier: MIT */
/* MetricsListen: Prometheus metrics, /healthz and /readyz over HTTP
 * (libmicrohttpd, on threads of its own). The page is made by the control
 * loop when a scrape asks for one, from the same lists as the summary's
 * counters; the HTTP threads only copy it out. */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stddef.h>

#include "commands.h"

struct vigil_metrics;

/* Listens on cfg->metrics_listen. NULL with msg set. */
struct vigil_metrics *vigil_metrics_start(const struct vigil_config *cfg, char *msg, size_t msglen);
void vigil_metrics_stop(struct vigil_metrics *m);

/* From the control loop, every pass: a page made for the scrapes that
 * wait for one, and about once a second the readiness (/readyz). */
void vigil_metrics_serve(struct vigil_metrics *m, const struct vigil_commands *k);

/* Readiness as /readyz and `vigilctl health` say it: NULL when ready, else
 * why not (a static string or one in buf). */
const char *vigil_metrics_not_ready(const struct vigil_commands *k, char *buf, size_t buflen);

/* Whether dir takes a new file (one is made and removed): NULL, or why
 * not in buf. Readiness and the disk events ask it. */
const char *vigil_metrics_record_dir_unwritable(const char *dir, char *buf, size_t buflen);

#endif
