/* SPDX-License-Identifier: MIT */
/* Who may read a file that holds a secret (the keystore's master key,
 * the webhook's key): its owner alone, mode 0600 or less. The exception
 * is a systemd credential: $CREDENTIALS_DIRECTORY is a private directory
 * only the service may enter, and newer systemd makes the files in it
 * 0440 with the service's group; there the group may read, never write. */
#ifndef VIGIL_SECRET_H
#define VIGIL_SECRET_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline bool vigil_secret_mode_ok(const char *path, mode_t mode)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	size_t n = creds != NULL ? strlen(creds) : 0;

	if (n > 0 && strncmp(path, creds, n) == 0 && path[n] == '/' && strchr(path + n + 1, '/') == NULL)
		return (mode & (S_IWGRP | S_IXGRP | S_IRWXO)) == 0;
	return (mode & (S_IRWXG | S_IRWXO)) == 0;
}

#endif
