/* SPDX-License-Identifier: MIT */
/* vigil-cam's live output over shared memory: a DPDK net_memif port in the
 * client role, connected to vigild's (Device = net_memif0,role=server,
 * socket=PATH,socket-abstract=no), so live load is not limited by an
 * AF_PACKET socket. The frames are copied into mbufs and handed over in
 * bursts; a full ring is waited out (memif loses nothing: the sender
 * slows to what vigild takes). What vigild sends back (its feedback) is
 * read off the same port. */
#ifndef VIGIL_BENCH_MEMIF_PORT_H
#define VIGIL_BENCH_MEMIF_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/uio.h>

/* The EAL (no hugepages, a file prefix of its own), the port on the
 * socket at path, started; waits up to 10 s for vigild to connect. 0, or
 * -1 with msg saying why. */
int memif_port_open(const char *path, char *msg, size_t msglen);

/* The n frames out, in order, waiting while the ring is full; how many
 * went (fewer only when no mbuf was left, or stop became true). */
unsigned memif_port_send(const struct iovec *frames, unsigned n, volatile sig_atomic_t *stop);

/* Up to max frames that came in, each to take(arg, frame, len); how many. */
unsigned memif_port_recv(void (*take)(void *arg, const uint8_t *frame, size_t len), void *arg, unsigned max);

void memif_port_close(void);

#endif
