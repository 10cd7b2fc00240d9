/* SPDX-License-Identifier: MIT */
/* Viewer tokens (viewer_token.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "vigil/bytes.h"
#include "vigil/config_model.h"
#include "viewer_token.h"

#define LABEL "vigil-viewer-v1"
#define VERSION 1
#define BODY_MAX (1 + 3 * 8 + 1 + VIGIL_CAMERA_NAME_MAX)
#define KEY_FILE "playback.key"

_Static_assert(VIGIL_TOKEN_KEY_LEN == crypto_auth_KEYBYTES, "the token key is crypto_auth's");
_Static_assert(VIGIL_TOKEN_TEXT_MAX >= sodium_base64_ENCODED_LEN(BODY_MAX + crypto_auth_BYTES,
								 sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	       "VIGIL_TOKEN_TEXT_MAX holds the longest token");

/* The tag over the label and body. */
static void tag_of(const uint8_t *key, const uint8_t *body, size_t len, uint8_t tag[crypto_auth_BYTES])
{
	crypto_auth_hmacsha512256_state st;

	crypto_auth_hmacsha512256_init(&st, key, VIGIL_TOKEN_KEY_LEN);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)LABEL, sizeof(LABEL)); /* its 0 too */
	crypto_auth_hmacsha512256_update(&st, body, len);
	crypto_auth_hmacsha512256_final(&st, tag);
	sodium_memzero(&st, sizeof(st));
}

int vigil_token_issue(const uint8_t key[VIGIL_TOKEN_KEY_LEN], const struct vigil_viewer_scope *s, char *out,
		      size_t outlen)
{
	uint8_t b[BODY_MAX + crypto_auth_BYTES];
	size_t n = strlen(s->camera), len = 1 + 3 * 8 + 1 + n;

	if (!vigil_camera_name_ok(s->camera) || outlen < VIGIL_TOKEN_TEXT_MAX)
		return -EINVAL;
	b[0] = VERSION;
	vigil_put64(b + 1, s->expires);
	vigil_put64(b + 9, s->from);
	vigil_put64(b + 17, s->to);
	b[25] = (uint8_t)n;
	memcpy(b + 26, s->camera, n);
	tag_of(key, b, len, b + len);
	sodium_bin2base64(out, outlen, b, len + crypto_auth_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

enum vigil_token_verdict vigil_token_check(const uint8_t key[VIGIL_TOKEN_KEY_LEN], const char *text, uint64_t now,
					   struct vigil_viewer_scope *s)
{
	uint8_t b[BODY_MAX + crypto_auth_BYTES], tag[crypto_auth_BYTES];
	size_t len, n;
	int bad;

	if (text == NULL || text[0] == '\0')
		return VIGIL_TOKEN_MISSING;
	if (strlen(text) >= VIGIL_TOKEN_TEXT_MAX ||
	    sodium_base642bin(b, sizeof(b), text, strlen(text), NULL, &len, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    len < 26 + crypto_auth_BYTES)
		return VIGIL_TOKEN_BAD;
	len -= crypto_auth_BYTES;
	n = b[25];
	if (b[0] != VERSION || len != 26 + n)
		return VIGIL_TOKEN_BAD;
	tag_of(key, b, len, tag);
	bad = sodium_memcmp(tag, b + len, sizeof(tag)); /* constant time */
	sodium_memzero(tag, sizeof(tag));
	if (bad != 0)
		return VIGIL_TOKEN_BAD;
	/* Signed by us: what follows trusts it. */
	memcpy(s->camera, b + 26, n);
	s->camera[n] = '\0';
	s->expires = vigil_get64(b + 1);
	s->from = vigil_get64(b + 9);
	s->to = vigil_get64(b + 17);
	if (!vigil_camera_name_ok(s->camera))
		return VIGIL_TOKEN_BAD;
	return now >= s->expires ? VIGIL_TOKEN_EXPIRED : VIGIL_TOKEN_OK;
}

/* dir/playback.key: 32 bytes, made when missing. */
static int key_file(const char *dir, uint8_t *key, char *msg, size_t msglen)
{
	char path[4200];
	struct stat st;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, KEY_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			goto fail;
		randombytes_buf(key, VIGIL_TOKEN_KEY_LEN);
		if (write(fd, key, VIGIL_TOKEN_KEY_LEN) != VIGIL_TOKEN_KEY_LEN || fsync(fd) < 0) {
			close(fd);
			unlink(path);
			goto fail;
		}
		close(fd);
		return 0;
	}
	if (fd < 0)
		goto fail;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		snprintf(msg, msglen, "%s: not a regular file of mode 0600 or stricter", path);
		close(fd);
		return -EPERM;
	}
	got = read(fd, key, VIGIL_TOKEN_KEY_LEN);
	close(fd);
	if (got != VIGIL_TOKEN_KEY_LEN) {
		snprintf(msg, msglen, "%s: not a %u-byte key (remove it to make a new one; tokens issued under it "
				      "are then refused)", path, VIGIL_TOKEN_KEY_LEN);
		return -EINVAL;
	}
	return 0;
fail:
	snprintf(msg, msglen, "%s: %s", path, strerror(errno));
	return -errno;
}

int vigil_token_key(const uint8_t *master, const char *dir, uint8_t key[VIGIL_TOKEN_KEY_LEN], char *msg,
		    size_t msglen)
{
	_Static_assert(crypto_kdf_KEYBYTES == 32, "a master key derives it");

	msg[0] = '\0';
	if (master != NULL)
		return crypto_kdf_derive_from_key(key, VIGIL_TOKEN_KEY_LEN, 1, "vgviewer", master) == 0 ? 0 : -EINVAL;
	if (dir != NULL && dir[0] != '\0')
		return key_file(dir, key, msg, msglen);
	randombytes_buf(key, VIGIL_TOKEN_KEY_LEN);
	return 0;
}
