/* SPDX-License-Identifier: MIT */
/* libFuzzer target: handshake messages from the network, on both sides.
 * Input: [mode][message]. Mode bit 0: give the message a valid mac1 (the
 * key is public), so the fuzzer reaches the Noise decryption; bit 1: the
 * server is under load (mac2 checked, cookie replies); bit 2: the message
 * goes to a camera with an initiation pending (as a response, then as a
 * cookie reply) instead of to the server; bit 3: the message is padded or
 * cut to the length its kind has; bit 4: that camera asked for RTX, so a
 * response is 116 bytes (docs/handshake.md). Nothing may be read out of
 * bounds, and nothing made up may ever be accepted: no one can forge a
 * Noise message without the keys. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vigil_hs_responder server;
static struct vigil_hs_initiator camera, rtx_camera;

static void setup(void)
{
	uint8_t server_sk[32], cam_sk[32], server_pk[32], msg[VIGIL_HS_INITIATION_LEN];
	size_t len = sizeof(msg);

	if (sodium_init() < 0)
		abort();
	memset(server_sk, 7, sizeof(server_sk));
	memset(cam_sk, 9, sizeof(cam_sk));
	crypto_scalarmult_base(server_pk, server_sk);
	if (vigil_hs_responder_init(&server, server_sk) < 0 || vigil_hs_initiator_init(&camera, cam_sk, server_pk) < 0 ||
	    vigil_hs_initiation_write(&camera, 0, msg, &len) < 0 ||
	    vigil_hs_initiator_init(&rtx_camera, cam_sk, server_pk) < 0)
		abort();
	rtx_camera.ask_rtx = true;
	len = sizeof(msg);
	if (vigil_hs_initiation_write(&rtx_camera, 0, msg, &len) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t msg[512], reply[VIGIL_HS_RESPONSE_RTX_LEN], src[18] = {198, 18, 0, 2};
	struct vigil_hs_initiator *cam;
	size_t resp_len, mac1_off, mac2_off;
	struct vigil_hs_init init;
	struct vigil_hs_keys keys;
	size_t len, reply_len = sizeof(reply);
	uint8_t mode;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size < 1 || size - 1 > sizeof(msg))
		return 0;
	mode = data[0];
	cam = mode & 16 ? &rtx_camera : &camera;
	resp_len = mode & 16 ? VIGIL_HS_RESPONSE_RTX_LEN : VIGIL_HS_RESPONSE_LEN;
	mac1_off = mode & 16 ? VIGIL_HS_RESPONSE_RTX_MAC1_OFF : VIGIL_HS_RESPONSE_MAC1_OFF;
	mac2_off = mode & 16 ? VIGIL_HS_RESPONSE_RTX_MAC2_OFF : VIGIL_HS_RESPONSE_MAC2_OFF;
	memset(msg, 0, sizeof(msg));
	memcpy(msg, data + 1, size - 1);
	len = !(mode & 8) ? size - 1 : mode & 4 ? resp_len : VIGIL_HS_INITIATION_LEN;
	msg[0] = mode & 8 ? (mode & 4 ? VIGIL_HS_TYPE_RESPONSE : VIGIL_HS_TYPE_INITIATION) : msg[0];
	if (!(mode & 4)) {
		if ((mode & 1) && len == VIGIL_HS_INITIATION_LEN)
			crypto_generichash(msg + VIGIL_HS_INITIATION_MAC1_OFF, VIGIL_HS_MAC_LEN, msg,
					   VIGIL_HS_INITIATION_MAC1_OFF, server.mac1_key, sizeof(server.mac1_key));
		int rc = vigil_hs_initiation_read(&server, msg, len, src, sizeof(src), mode & 2, &init, reply, &reply_len);

		if (rc == 0)
			abort(); /* a forged initiation got through */
		if (rc == VIGIL_HS_NEED_COOKIE && reply_len != VIGIL_HS_COOKIE_REPLY_LEN)
			abort();
		return 0;
	}
	if ((mode & 1) && len == resp_len) {
		crypto_generichash(msg + mac1_off, VIGIL_HS_MAC_LEN, msg, mac1_off, cam->mac1_key_self,
				   sizeof(cam->mac1_key_self));
		memset(msg + mac2_off, 0, VIGIL_HS_MAC_LEN);
	}
	if (vigil_hs_response_read(cam, msg, len, &keys) == 0 || vigil_hs_cookie_read(cam, msg, len) == 0)
		abort(); /* a forged response or cookie reply got through */
	return 0;
}
