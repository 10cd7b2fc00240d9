/* SPDX-License-Identifier: MIT */
/* A cluster's records and replay states as bytes (control/cluster_record.h):
 * a camera comes back from its record as it went in, RTX settings too; a
 * record with anything no record holds is refused and nothing of it kept;
 * a replay state finds the highest index of an SSRC under a key, and reads
 * nothing past its length whatever its count says; an Identity camera's
 * handshake comes back as it went in, with or without RTX, and one with
 * anything no handshake holds is refused, nothing of it kept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cluster_record.h"

static void camera(struct vigil_camera_config *cam, bool rtx)
{
	memset(cam, 0, sizeof(*cam));
	strcpy(cam->name, "porch-2");
	cam->ssrc = 0x11223344;
	cam->codec = VIGIL_CODEC_H265;
	cam->payload_types[1] = UINT64_C(0xffffffff) << 32;
	randombytes_buf(cam->master_key, sizeof(cam->master_key));
	randombytes_buf(cam->master_salt, sizeof(cam->master_salt));
	cam->sealed = true;
	randombytes_buf(cam->owner_key, sizeof(cam->owner_key));
	cam->retain_hours = 48;
	cam->retain_own = 1;
	if (rtx) {
		cam->has_rtx = true;
		cam->rtx_ssrc = 0x55667788;
		cam->rtx_payload_type = 97;
		cam->rtcp_rsize = 1;
	}
}

static void test_record_round_trip(void **state)
{
	uint8_t b[VIGIL_CLUSTER_RECORD_LEN];
	struct vigil_camera_config in, out;

	(void)state;
	for (int rtx = 0; rtx < 2; rtx++) {
		camera(&in, rtx);
		vigil_cluster_record_encode(b, &in);
		assert_int_equal(vigil_cluster_record_decode(b, &out), 0);
		assert_string_equal(out.name, in.name);
		assert_int_equal(out.ssrc, in.ssrc);
		assert_int_equal(out.codec, in.codec);
		assert_memory_equal(out.payload_types, in.payload_types, sizeof(in.payload_types));
		assert_memory_equal(out.master_key, in.master_key, sizeof(in.master_key));
		assert_memory_equal(out.master_salt, in.master_salt, sizeof(in.master_salt));
		assert_true(out.sealed);
		assert_memory_equal(out.owner_key, in.owner_key, sizeof(in.owner_key));
		assert_int_equal(out.retain_hours, 48);
		assert_int_equal(out.has_rtx, in.has_rtx);
		assert_int_equal(out.rtx_ssrc, in.rtx_ssrc);
		assert_int_equal(out.rtx_payload_type, in.rtx_payload_type);
		assert_int_equal(out.rtcp_rsize, in.rtcp_rsize);
	}
	/* An Identity camera: no key and no SSRC go out. */
	camera(&in, false);
	in.has_identity = true;
	randombytes_buf(in.identity, sizeof(in.identity));
	memset(in.master_key, 0, sizeof(in.master_key));
	vigil_cluster_record_encode(b, &in);
	assert_int_equal(vigil_cluster_record_decode(b, &out), 0);
	assert_true(out.has_identity);
	assert_memory_equal(out.identity, in.identity, sizeof(in.identity));
}

/* Each alteration alone is refused, and the camera left all zeros. */
static void test_record_refused(void **state)
{
	static const struct {
		size_t at;
		uint8_t value;
		const char *what;
	} bad[] = {
		{0, 'X', "magic"},
		{4 + VIGIL_KEYSTORE_RECORD_LEN + 5, 4, "an unknown RTX flag"},
		{4 + VIGIL_KEYSTORE_RECORD_LEN + 5, 2, "reduced size without RTX"},
		{4 + 69, 7, "an unknown codec"},
		{4 + 0, ' ', "a name that is not one"},
		{4 + 130, 0x80, "an unknown keystore flag"},
	};
	uint8_t b[VIGIL_CLUSTER_RECORD_LEN];
	struct vigil_camera_config in, out;
	static const uint8_t zero[sizeof(struct vigil_camera_config)];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		camera(&in, false);
		vigil_cluster_record_encode(b, &in);
		b[bad[i].at] = bad[i].value;
		memset(&out, 0xa5, sizeof(out));
		if (vigil_cluster_record_decode(b, &out) != -EINVAL)
			fail_msg("%s was taken", bad[i].what);
		assert_memory_equal(&out, zero, sizeof(out));
	}
}

static void test_state(void **state)
{
	uint8_t p[VIGIL_CLUSTER_STATE_HEAD + 4 * VIGIL_CLUSTER_STATE_ENTRY], key[VIGIL_STATE_KEY_ID_LEN],
	    other[VIGIL_STATE_KEY_ID_LEN];
	uint64_t index = 0;
	bool found = false;
	size_t len;

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	len = vigil_cluster_state_init(p);
	vigil_cluster_state_find(p, len, 7, key, &index, &found);
	assert_false(found);
	len = vigil_cluster_state_add(p, len, 7, key, (UINT64_C(3) << 16) | 100);
	len = vigil_cluster_state_add(p, len, 7, other, UINT64_C(9) << 16); /* another key: not it */
	len = vigil_cluster_state_add(p, len, 8, key, UINT64_C(9) << 16);   /* another SSRC: not it */
	len = vigil_cluster_state_add(p, len, 7, key, (UINT64_C(2) << 16) | 65000);
	assert_int_equal(len, sizeof(p));
	vigil_cluster_state_find(p, len, 7, key, &index, &found);
	assert_true(found);
	assert_int_equal(index, (UINT64_C(3) << 16) | 100);
	/* Across states: the highest of them all. */
	index = (UINT64_C(5) << 16);
	vigil_cluster_state_find(p, len, 7, key, &index, &found);
	assert_int_equal(index, UINT64_C(5) << 16);
	/* Cut short, its count still 4: the entries past the end not read. */
	found = false;
	index = 0;
	vigil_cluster_state_find(p, VIGIL_CLUSTER_STATE_HEAD + VIGIL_CLUSTER_STATE_ENTRY - 1, 7, key, &index, &found);
	assert_false(found);
	/* A count past what is there. */
	p[7] = 0xff;
	vigil_cluster_state_find(p, len, 7, key, &index, &found);
	assert_true(found);
	assert_int_equal(index, (UINT64_C(3) << 16) | 100);
	/* Not a state. */
	found = false;
	p[0] = 'X';
	vigil_cluster_state_find(p, len, 7, key, &index, &found);
	assert_false(found);
	vigil_cluster_state_find(p, 3, 7, key, &index, &found);
	assert_false(found);
}

static void handshake(struct vigil_cluster_handshake *hs, bool rtx)
{
	memset(hs, 0, sizeof(*hs));
	randombytes_buf(hs->identity, sizeof(hs->identity));
	randombytes_buf(hs->timestamp, sizeof(hs->timestamp));
	hs->ssrc = 0xa1b2c3d4;
	hs->has_rtx = rtx;
	if (rtx)
		hs->rtx = (struct vigil_hs_rtx){.ssrc = 0x0badcafe, .payload_type = 100};
	randombytes_buf(hs->key, sizeof(hs->key));
	randombytes_buf(hs->salt, sizeof(hs->salt));
	hs->unix_ns = UINT64_C(1796600000123456789);
	strcpy(hs->node, "node-7");
}

static void test_handshake_round_trip(void **state)
{
	(void)state;
	for (int rtx = 0; rtx < 2; rtx++) {
		struct vigil_cluster_handshake in, out;
		uint8_t b[VIGIL_CLUSTER_HANDSHAKE_LEN];

		handshake(&in, rtx);
		vigil_cluster_handshake_encode(b, &in);
		assert_memory_equal(b, "VGH1", 4);
		assert_int_equal(vigil_cluster_handshake_decode(b, &out), 0);
		assert_memory_equal(out.identity, in.identity, 32);
		assert_memory_equal(out.timestamp, in.timestamp, sizeof(in.timestamp));
		assert_int_equal(out.ssrc, in.ssrc);
		assert_int_equal(out.has_rtx, rtx);
		assert_int_equal(out.rtx.ssrc, rtx ? 0x0badcafe : 0);
		assert_int_equal(out.rtx.payload_type, rtx ? 100 : 0);
		assert_memory_equal(out.key, in.key, sizeof(in.key));
		assert_memory_equal(out.salt, in.salt, sizeof(in.salt));
		assert_true(out.unix_ns == in.unix_ns);
		assert_string_equal(out.node, "node-7");
	}
}

static void test_handshake_refused(void **state)
{
	static const uint8_t zero[sizeof(struct vigil_cluster_handshake)];
	struct vigil_cluster_handshake in, out;
	uint8_t good[VIGIL_CLUSTER_HANDSHAKE_LEN], b[VIGIL_CLUSTER_HANDSHAKE_LEN];
	/* magic; an unknown flag; RTX fields without the flag; an RTX SSRC
	 * that is the SSRC; a node name with no NUL. */
	const struct {
		size_t at;
		uint8_t v;
		bool rtx;
	} bad[] = {{0, 'X', false}, {52, 2, false}, {53, 1, false}, {57, 96, false}, {53, 0xd4, true},
		   {110 + 63, 'x', false}};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		handshake(&in, bad[i].rtx);
		vigil_cluster_handshake_encode(good, &in);
		memcpy(b, good, sizeof(b));
		if (bad[i].at == 53 && bad[i].rtx) /* the RTX SSRC made the SSRC */
			memcpy(b + 53, b + 48, 4);
		else
			b[bad[i].at] = bad[i].v;
		memset(&out, 0x5a, sizeof(out));
		assert_int_equal(vigil_cluster_handshake_decode(b, &out), -EINVAL);
		assert_memory_equal(&out, zero, sizeof(out));
		assert_int_equal(vigil_cluster_handshake_decode(good, &out), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_refused),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_handshake_round_trip),
		cmocka_unit_test(test_handshake_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
