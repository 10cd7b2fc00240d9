/* SPDX-License-Identifier: MIT */
/* vigilctl recordings CAMERA [--from T] [--to T] [--config FILE]: one
 * camera's recordings across the nodes of a cluster as one HLS playlist
 * on stdout, from the object store of vigild's configuration ([Storage],
 * its CredentialsFile): the nodes under <Prefix><camera>/ listed, each
 * one's playlist read and merged in time order (record/timeline.h).
 * 0 done; 1 refused (no [Storage], the store unreachable: why on stderr);
 * 2 usage. */
#ifndef VIGILCTL_RECORDINGS_H
#define VIGILCTL_RECORDINGS_H

#define VIGIL_DEFAULT_CONFIG "/etc/vigil/vigil.conf" /* what the unit runs vigild with */

int vigilctl_recordings(const char *config, const char *camera, const char *from, const char *to);

#endif
