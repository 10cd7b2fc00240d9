/* SPDX-License-Identifier: MIT */
/* The crypto engine's choice (crypto.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_cryptodev.h>

#include "crypto.h"

/* The ipsec-mb PMDs, in the order auto tries them: aesni_gcm is the
 * faster at GCM alone (bench/dataplane_bench crypto). */
static const char *const soft_pmds[] = {"crypto_aesni_gcm0", "crypto_aesni_mb0"};

/* A key's sessions: every camera's current and previous key, one header
 * length each and SRTCP's, and a quarter more for other lengths. Past
 * that a key works through libsodium (decrypted_libsodium). */
static unsigned max_sessions(const struct vigil_config *cfg)
{
	return 4 * cfg->max_cameras + cfg->max_cameras / 4 + 64;
}

/* The device NAME, for the workers: on the CPU where it can, else (or
 * asked to) through a queue pair per worker. */
static int open_device(struct vigil_crypto *c, const struct vigil_config *cfg, const char *name, bool async,
		       char *msg, size_t msglen)
{
	int rc;

	/* A virtual device is made here, not with the EAL's --vdev: a PMD
	 * that is not installed then fails this, not the EAL. */
	if (strncmp(name, "crypto_", 7) == 0 && rte_cryptodev_get_dev_id(name) < 0 && rte_vdev_init(name, NULL) < 0) {
		snprintf(msg, msglen, "%s: no such crypto device (its PMD, DPDK's ipsec-mb one, not installed?)", name);
		return -ENODEV;
	}
	rc = vigil_cryptodev_open(&c->dev, name, max_sessions(cfg), (uint16_t)cfg->workers, async, msg, msglen);
	if (rc < 0)
		return rc;
	c->cryptodev = true;
	snprintf(c->engine, sizeof(c->engine), "%s:%s", c->dev.async ? "cryptodev-async" : "cryptodev", name);
	return 0;
}

int vigil_crypto_open(struct vigil_crypto *c, const struct vigil_config *cfg, char *msg, size_t msglen)
{
	char why[512] = "";

	memset(c, 0, sizeof(*c));
	snprintf(c->engine, sizeof(c->engine), "libsodium");
	msg[0] = '\0';
	if (cfg->crypto == VIGIL_CRYPTO_LIBSODIUM)
		return 0;
	if (cfg->crypto == VIGIL_CRYPTO_CRYPTODEV || cfg->crypto == VIGIL_CRYPTO_CRYPTODEV_ASYNC)
		return open_device(c, cfg, cfg->crypto_device[0] != '\0' ? cfg->crypto_device : soft_pmds[0],
				   cfg->crypto == VIGIL_CRYPTO_CRYPTODEV_ASYNC, msg, msglen);
	/* auto: a hardware device the EAL found, then the software ones. */
	for (uint8_t id = 0; id < rte_cryptodev_count(); id++)
		if (open_device(c, cfg, rte_cryptodev_name_get(id), false, why, sizeof(why)) == 0)
			return 0;
	for (size_t i = 0; i < sizeof(soft_pmds) / sizeof(soft_pmds[0]); i++)
		if (open_device(c, cfg, soft_pmds[i], false, why, sizeof(why)) == 0)
			return 0;
	snprintf(msg, msglen, "Crypto = auto: no crypto device (%s), libsodium decrypts", why);
	return 0;
}

void vigil_crypto_close(struct vigil_crypto *c)
{
	if (c->cryptodev)
		vigil_cryptodev_close(&c->dev);
	c->cryptodev = false;
}
