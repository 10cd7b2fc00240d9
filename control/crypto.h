/* SPDX-License-Identifier: MIT */
/* Which engine decrypts SRTP (Crypto in [Ingest]): libsodium, or a DPDK
 * crypto device (dataplane/cryptodev.c), opened here after the EAL. */
#ifndef VIGIL_CRYPTO_H
#define VIGIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/config_model.h"
#include "cryptodev.h"

struct vigil_crypto {
	struct vigil_cryptodev dev;
	bool cryptodev;  /* dev is open: the workers use it */
	char engine[96]; /* "libsodium", "cryptodev:DEVICE" or "cryptodev-async:DEVICE", for the start line and the summary */
};

/* The engine cfg asks for, with sessions for cfg's MaxCameras. auto: a
 * crypto device that does AES-GCM (hardware first, then the ipsec-mb
 * PMDs crypto_aesni_gcm and crypto_aesni_mb), else libsodium, msg saying
 * why. cryptodev[:DEVICE]: that device or an error (-errno, msg). */
int vigil_crypto_open(struct vigil_crypto *c, const struct vigil_config *cfg, char *msg, size_t msglen);
void vigil_crypto_close(struct vigil_crypto *c);

#endif
