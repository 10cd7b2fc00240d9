/* SPDX-License-Identifier: MIT */
/* Config parsing: a good file loads with every value; each kind of mistake
 * is refused with the file, the line and the reason. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "leftovers.h"
#include "config.h"

/* base64 of bytes 1..44: a valid, non-repeating master key and salt */
#define KEY "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKyw="
#define ZERO_KEY "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
/* NAL units in base64: H.264 SPS 67 42 00 1f, PPS 68 ce 3c 80, IDR slice;
 * H.265 VPS 40 01 0c 01, SPS 42 01 01 60, PPS 44 01 c1 72 */
#define SPS264 "Z0IAHw=="
#define PPS264 "aM48gA=="
#define IDR264 "ZYiEIQ=="
#define VPS265 "QAEMAQ=="
#define SPS265 "QgEBYA=="
#define PPS265 "RAHBcg=="

static const char *write_conf(const char *text, mode_t mode)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "test_config_%d.conf", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void test_good(void **state)
{
	const char *path = write_conf("; a comment\n"
				      "[Ingest]\n"
				      "Ports = 5004, 6000-6002 ; inline comment\n"
				      "RecordDir = /tmp/rec\n"
				      "Device = net_af_packet0,iface=eth1\n"
				      "Workers = 1\n"
				      "Recorders = 3\n"
				      "IdleSleepMicroseconds = 50\n"
				      "Crypto = cryptodev:crypto_aesni_mb0\n"
				      "SegmentSeconds = 2\n"
				      "Address = 198.18.0.1, fd00::1 198.18.0.3\n"
				      "RetainHours = 48\n"
				      "RecordFormat = fmp4\n"
				      "RetainBytes = 3G\n"
				      "StateDir = /tmp/state\n"
				      "MetricsListen = [::1]:9470\n"
				      "MetricsPerCamera = yes\n"
				      "EventHook = https://hooks.example/vigil\n"
				      "EventHookSecretFile = /etc/vigil/hook.key\n"
				      "EventQueue = 500\n"
				      "PlaybackConnectionsPerAddress = 64\n"
				      "[Camera]\n"
				      "Name = lobby\n"
				      "SSRC = 286331153\n"
				      "Suite = AEAD_AES_256_GCM\n"
				      "Key = " KEY "\n"
				      "ParameterSets = " SPS264 "," PPS264 "\n"
				      "Codec = H264\n"
				      "[Camera]\n"
				      "Name = gate-2\n"
				      "SSRC = 0x10\n"
				      "Key = inline:" KEY "\n"
				      "ParameterSets = " PPS265 " , " VPS265 "\n"
				      "ParameterSets = " SPS265 "\n"
				      "PayloadTypes = 100-101, 0 96\n"
				      "RetainBytes = 0\n"
				      "RetainHours = 720\n"
				      "Codec = h265\n"
				      "[Camera]\n"
				      "Name = none\n"
				      "SSRC = 3\n"
				      "Key = " KEY "\n"
				      "Codec = H264\n",
				      0600);
	struct vigil_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(vigil_config_is_srtp_port(&cfg, 5004));
	assert_true(vigil_config_is_srtp_port(&cfg, 6000));
	assert_true(vigil_config_is_srtp_port(&cfg, 6002));
	assert_false(vigil_config_is_srtp_port(&cfg, 6003));
	assert_false(vigil_config_is_srtp_port(&cfg, 5005));
	assert_string_equal(cfg.record_dir, "/tmp/rec");
	assert_string_equal(cfg.device, "net_af_packet0,iface=eth1");
	assert_string_equal(cfg.state_dir, "/tmp/state");
	assert_int_equal(cfg.crypto, VIGIL_CRYPTO_CRYPTODEV);
	assert_string_equal(cfg.crypto_device, "crypto_aesni_mb0");
	assert_int_equal(cfg.metrics_listen.family, AF_INET6);
	assert_int_equal(cfg.metrics_listen.port, 9470);
	assert_int_equal(cfg.metrics_listen.addr[15], 1);
	assert_string_equal(cfg.metrics_listen.text, "[::1]:9470");
	assert_int_equal(cfg.metrics_per_camera, 1);
	assert_string_equal(cfg.event_hook, "https://hooks.example/vigil");
	assert_string_equal(cfg.event_hook_secret_file, "/etc/vigil/hook.key");
	assert_int_equal(cfg.event_queue, 500);
	assert_int_equal(cfg.auth_failed_per_minute, VIGIL_DEFAULT_AUTH_FAILED_PER_MINUTE);
	assert_int_equal(cfg.offline_seconds, 10);
	assert_int_equal(cfg.playback_per_address, 64);
	assert_int_equal(cfg.segment_seconds, 2);
	assert_int_equal(cfg.recorders, 3);
	assert_int_equal(cfg.idle_sleep_us, 50);
	assert_int_equal(cfg.max_frame_bytes, VIGIL_DEFAULT_MAX_FRAME_BYTES);
	assert_int_equal(cfg.n_ipv4, 2);
	assert_memory_equal(&cfg.ipv4[0], ((uint8_t[]){198, 18, 0, 1}), 4);
	assert_memory_equal(&cfg.ipv4[1], ((uint8_t[]){198, 18, 0, 3}), 4);
	assert_int_equal(cfg.n_ipv6, 1);
	assert_memory_equal(cfg.ipv6[0], ((uint8_t[16]){0xfd, [15] = 1}), 16);
	assert_int_equal(cfg.n_cameras, 3);
	assert_string_equal(cfg.cameras[0].name, "lobby");
	assert_int_equal(cfg.cameras[0].ssrc, 286331153);
	assert_int_equal(cfg.cameras[0].codec, VIGIL_CODEC_H264);
	assert_int_equal(cfg.cameras[0].line, 22);
	assert_int_equal(cfg.format, VIGIL_FORMAT_FMP4);
	for (int i = 0; i < 32; i++)
		assert_int_equal(cfg.cameras[0].master_key[i], i + 1);
	for (int i = 0; i < 12; i++)
		assert_int_equal(cfg.cameras[0].master_salt[i], 33 + i);
	assert_string_equal(cfg.cameras[1].name, "gate-2");
	assert_int_equal(cfg.cameras[1].ssrc, 16);
	assert_int_equal(cfg.cameras[1].codec, VIGIL_CODEC_H265);
	assert_memory_equal(cfg.cameras[1].master_key, cfg.cameras[0].master_key, 32);
	/* ParameterSets: decoded, in the order given, across lines */
	assert_int_equal(cfg.cameras[0].n_param_sets, 2);
	assert_int_equal(cfg.cameras[0].param_sets[0].len, 4);
	assert_memory_equal(cfg.cameras[0].param_sets[0].nal, ((uint8_t[]){0x67, 0x42, 0x00, 0x1f}), 4);
	assert_int_equal(cfg.cameras[0].param_sets[1].len, 4);
	assert_memory_equal(cfg.cameras[0].param_sets[1].nal, ((uint8_t[]){0x68, 0xce, 0x3c, 0x80}), 4);
	assert_int_equal(cfg.cameras[1].n_param_sets, 3);
	assert_memory_equal(cfg.cameras[1].param_sets[0].nal, ((uint8_t[]){0x44, 0x01, 0xc1, 0x72}), 4);
	assert_memory_equal(cfg.cameras[1].param_sets[1].nal, ((uint8_t[]){0x40, 0x01, 0x0c, 0x01}), 4);
	assert_memory_equal(cfg.cameras[1].param_sets[2].nal, ((uint8_t[]){0x42, 0x01, 0x01, 0x60}), 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cfg.cameras[1].param_sets[i].len, 4);
	assert_int_equal(cfg.cameras[2].n_param_sets, 0);
	/* Retain*: [Ingest]'s unless the camera has its own */
	assert_int_equal(cfg.cameras[0].retain_hours, 48);
	assert_int_equal(cfg.cameras[0].retain_bytes, UINT64_C(3) << 30);
	assert_int_equal(cfg.cameras[1].retain_hours, 720);
	assert_int_equal(cfg.cameras[1].retain_bytes, 0);
	assert_false(cfg.cameras[0].sealed);
	/* PayloadTypes: the dynamic range unless given */
	assert_int_equal(cfg.cameras[0].payload_types[0], 0);
	assert_int_equal(cfg.cameras[0].payload_types[1], UINT64_C(0xffffffff00000000));
	assert_int_equal(cfg.cameras[1].payload_types[0], 1);
	assert_int_equal(cfg.cameras[1].payload_types[1], UINT64_C(0x31) << 32);
	assert_true(vigil_payload_type_ok(cfg.cameras[1].payload_types, 101));
	assert_false(vigil_payload_type_ok(cfg.cameras[1].payload_types, 99));
	vigil_config_free(&cfg);
	unlink(path);
}

/* OwnerKey: the camera's recordings are sealed to it. */
static void test_owner_key(void **state)
{
	const char *path = write_conf("[Ingest]\nPorts = 5004\n[Camera]\nName = a\nSSRC = 1\nKey = " KEY
				      "\nCodec = H264\nOwnerKey = 3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=\n",
				      0600);
	struct vigil_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_true(cfg.cameras[0].sealed);
	assert_memory_equal(cfg.cameras[0].owner_key, ((uint8_t[]){0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}), 8);
	assert_int_equal(cfg.format, VIGIL_FORMAT_TS);
	vigil_config_free(&cfg);
	unlink(path);
}

#define INGEST "[Ingest]\nPorts = 5004\n"
#define HS "HandshakePort = 5006\nServerKeyFile = /etc/vigil/server.key\nAddress = 198.18.0.1\n"
#define ID "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs="
#define CAMERA(name, ssrc) "[Camera]\nName = " name "\nSSRC = " ssrc "\nKey = " KEY "\nCodec = H264\n"

static const struct {
	const char *text;
	const char *error; /* after "PATH:" */
} bad[] = {
	{INGEST "Ports = 0\n" CAMERA("a", "1"), "3: Ports: '0' is not a number (1-65535) or range"},
	{INGEST "Ports = 70000\n", "3: Ports: '70000' is not a number (1-65535)"},
	{INGEST "RecordFormat = mkv\n" CAMERA("a", "1"), "3: RecordFormat: 'mkv' is not ts or fmp4"},
	{INGEST "RecordFormat = fmp4\n" CAMERA("a", "1") "OwnerKey = 3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=\n",
	 "4: OwnerKey: sealed recordings are MPEG-TS only"},
	{INGEST CAMERA("a", "1") "RetainBytes = 12X\n", "8: RetainBytes: '12X' is not a size"},
	{INGEST CAMERA("a", "1") "RetainBytes = G\n", "8: RetainBytes: 'G' is not a size"},
	{INGEST "RetainHours = -1\n" CAMERA("a", "1"), "3: RetainHours: '-1' is not a number of hours"},
	{INGEST CAMERA("a", "1") "RetainHours = 1\nRetainHours = 2\n", "9: RetainHours: set twice"},
	{INGEST CAMERA("a", "1") "OwnerKey = AAAA\n", "8: OwnerKey: must be base64 of a 32-byte X25519 public key"},
	{INGEST CAMERA("a", "1") "OwnerKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "8: OwnerKey: must be base64"},
	{INGEST CAMERA("a", "1") "PayloadTypes = 128\n", "8: PayloadTypes: '128' is not a number (0-127)"},
	{INGEST CAMERA("a", "1") "PayloadTypes = 96,72\n", "8: PayloadTypes: 64-95 cannot be told from RTCP"},
	{INGEST CAMERA("a", "1") "PayloadTypes = 60-100\n", "8: PayloadTypes: 64-95 cannot be told from RTCP"},
	{INGEST CAMERA("a", "1") "PayloadTypes = 100-96\n", "8: PayloadTypes: range 100-96 is backwards"},
	{INGEST CAMERA("a", "1") "PayloadTypes = ,\n", "8: PayloadTypes: empty list"},
	{INGEST CAMERA("a", "1") "PayloadTypes = 96\nPayloadTypes = 97\n", "9: PayloadTypes: set twice"},
	{INGEST "Ports = 6000-5000\n", "3: Ports: range 6000-5000 is backwards"},
	{"[Ingest]\nPorts = 5004\nBogus = 1\n", "3: unknown key 'Bogus' in [Ingest]"},
	{"[Ingest]\nPorts = 5004\n[Cameras]\nName = a\n", "3: unknown section [Cameras]"},
	{"Ports = 5004\n", "1: 'Ports' is outside any section"},
	{INGEST "Workers = 0\n" CAMERA("a", "1"), "3: Workers: '0' is not a number"},
	{INGEST "Workers = 65\n" CAMERA("a", "1"), "3: Workers: '65' is not a number from 1 to 64"},
	{INGEST "Recorders = 0\n" CAMERA("a", "1"), "3: Recorders: '0' is not a number from 1 to 16"},
	{INGEST "Recorders = 2x\n" CAMERA("a", "1"), "3: Recorders: '2x' is not a number from 1 to 16"},
	{INGEST "IdleSleepMicroseconds = 1001\n" CAMERA("a", "1"),
	 "3: IdleSleepMicroseconds: '1001' is not a number from 0 to 1000"},
	{INGEST "SegmentSeconds = x\n" CAMERA("a", "1"), "3: SegmentSeconds: 'x'"},
	{INGEST CAMERA("bad name", "1"), "4: Name: 'bad name' must be"},
	{INGEST CAMERA("a", "1") CAMERA("a", "2"), "9: Name: 'a' is already used by the camera at line 3"},
	{INGEST CAMERA("a", "1") CAMERA("b", "1"), "10: SSRC: 1 is already used by camera 'a'"},
	{INGEST CAMERA("a", "4294967296"), "5: SSRC: '4294967296' is not a 32-bit number"},
	{INGEST CAMERA("a", "-1"), "5: SSRC: '-1' is not a 32-bit number"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nKey = AAAA\nCodec = H264\n", "6: Key: must be base64 of 44 bytes"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nKey = " ZERO_KEY "\nCodec = H264\n", "6: Key: the master key is one repeated byte"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nKey = " KEY "|2^31\nCodec = H264\n", "6: Key: lifetime and MKI"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nKey = " KEY "\nCodec = VP8\n", "7: Codec: 'VP8' is not H264 or H265"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nSuite = AES_CM_128_HMAC_SHA1_80\n", "6: Suite: 'AES_CM_128_HMAC_SHA1_80' is not supported"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nCodec = H264\n", "3: [Camera] has no Key"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nSSRC = 2\n", "6: SSRC: set twice"},
	{INGEST, "2: no [Camera] section, no Keystore and no [Cluster]"},
#define CLUSTER "KeystoreKeyFile = /k\n[Cluster]\n"
	{INGEST CLUSTER "Node = a\n", "4: [Cluster] has no Etcd"},
	{INGEST CLUSTER "Etcd = etcd:2379\n", "5: Etcd: 'etcd:2379' is not an http:// or https:// URL"},
	{INGEST CLUSTER "Etcd = http://198.18.0.1:2379\n" CAMERA("a", "1"), "6: [Camera] in a cluster node"},
	{INGEST "Keystore = /ks\n" CLUSTER "Etcd = http://198.18.0.1:2379\n", "3: Keystore: a cluster node keeps"},
	{INGEST "[Cluster]\nEtcd = http://198.18.0.1:2379\nNode = n1\n", "5: [Cluster]: needs KeystoreKeyFile"},
	{INGEST CLUSTER "Etcd = http://198.18.0.1:2379\nNode = two words\n", "6: Node: 'two words' is not 1-64"},
	{INGEST CLUSTER "Etcd = http://198.18.0.1:2379\nPrefix = vigil\n", "6: Prefix: 'vigil' must start and end"},
	{INGEST CLUSTER "Etcd = http://198.18.0.1:2379\nAnycast = 198.18.0\n", "6: Anycast: '198.18.0' is not an IPv4"},
	{INGEST CLUSTER "Etcd = http://198.18.0.1:2379\nLeaseSeconds = 1\n", "6: LeaseSeconds: '1' is not a number from 3"},
	{INGEST CLUSTER "Etcd = http://198.18.0.1:2379\n[Cluster]\nNode = b\n", "6: [Cluster] appears twice"},
	{INGEST CLUSTER "Etcd = http://198.18.0.1:2379\nBogus = 1\n", "6: unknown key 'Bogus' in [Cluster]"},
	{"[Ingest]\nRecordDir = /x\n" CAMERA("a", "1"), "[Ingest] has no Ports"},
	{INGEST "this is not ini\n", "3: not a 'Key = value' line"},
	{INGEST "Address = 198.18.0.256\n" CAMERA("a", "1"), "3: Address: '198.18.0.256' is not an IPv4 or IPv6"},
	{INGEST "Address = fd00::1::2\n" CAMERA("a", "1"), "3: Address: 'fd00::1::2' is not an IPv4 or IPv6"},
	{INGEST "Address = 198.18.0.1/24\n" CAMERA("a", "1"), "3: Address: '198.18.0.1/24' is not an IPv4"},
	{INGEST "Address = ,\n" CAMERA("a", "1"), "3: Address: empty list"},
	{INGEST "Address = 224.0.0.1\n" CAMERA("a", "1"), "3: Address: 224.0.0.1 is not a unicast IPv4"},
	{INGEST "Address = 0.0.0.0\n" CAMERA("a", "1"), "3: Address: 0.0.0.0 is not a unicast IPv4"},
	{INGEST "Address = ff02::1\n" CAMERA("a", "1"), "3: Address: ff02::1 is not a unicast IPv6"},
	{INGEST "Address = ::\n" CAMERA("a", "1"), "3: Address: :: is not a unicast IPv6"},
	{INGEST "Address = fd00::1, FD00::01\n" CAMERA("a", "1"), "3: Address: FD00::01 is listed twice"},
	{INGEST CAMERA("a", "1") "ParameterSets = " SPS264 ",Z0IA*w==\n", "8: ParameterSets: 'Z0IA*w==' is not base64"},
	{INGEST CAMERA("a", "1") "ParameterSets = Z0IAHw\n", "8: ParameterSets: 'Z0IAHw' is not base64"},
	{INGEST CAMERA("a", "1") "ParameterSets = ,\n", "8: ParameterSets: empty list"},
	{INGEST CAMERA("a", "1") "ParameterSets = " SPS264 "," PPS264 "\nParameterSets = " VPS265 "," SPS265 "\n",
	 "9: ParameterSets: more than 3"},
	{INGEST CAMERA("a", "1") "ParameterSets = " SPS264 "," IDR264 "\n",
	 "8: ParameterSets: unit 2 is not an H.264 SPS or PPS"},
	{INGEST CAMERA("a", "1") "ParameterSets = Zw==\n", "8: ParameterSets: unit 1 is not an H.264 SPS"},
	{INGEST CAMERA("a", "1") "ParameterSets = Z0IAAAEx\n",
	 "8: ParameterSets: unit 1 holds a start code prefix (00 00 00/01/02) or ends in 00: not a NAL unit"},
	{INGEST CAMERA("a", "1") "ParameterSets = Z0IAHwA=\n",
	 "8: ParameterSets: unit 1 holds a start code prefix (00 00 00/01/02) or ends in 00: not a NAL unit"},
	{INGEST CAMERA("a", "1") "ParameterSets = 50IAHw==\n", "8: ParameterSets: unit 1 is not an H.264 SPS"},
	{INGEST CAMERA("a", "1") "ParameterSets = " SPS264 "\nParameterSets = " SPS264 "\n",
	 "9: ParameterSets: unit 2 is a second SPS"},
	/* the codec comes after: checked at the end of the section */
	{INGEST "[Camera]\nName = a\nSSRC = 1\nKey = " KEY "\nParameterSets = " SPS264 "," PPS264
		"\nCodec = H265\n" CAMERA("b", "2"),
	 "7: ParameterSets: unit 1 is not an H.265 VPS, SPS or PPS"},
	{INGEST "[Camera]\nName = a\nSSRC = 1\nKey = " KEY "\nParameterSets = " VPS265 ", QAAMAQ==\nCodec = H265\n",
	 "7: ParameterSets: unit 2 is not an H.265"},
	{INGEST "HandshakePort = 5004\n" CAMERA("a", "1"), "3: HandshakePort: 5004 is one of the SRTP Ports"},
	{INGEST "HandshakePort = 0\n" CAMERA("a", "1"), "3: HandshakePort: '0' is not a UDP port"},
	{INGEST "RekeySeconds = 5\n" CAMERA("a", "1"), "3: RekeySeconds: '5' is not a number from 10"},
	{INGEST "MetricsListen = 9470\n" CAMERA("a", "1"), "3: MetricsListen: '9470' is not ADDRESS:PORT"},
	{INGEST "Crypto = openssl\n" CAMERA("a", "1"),
	 "3: Crypto: 'openssl' is not auto, libsodium, cryptodev or cryptodev:DEVICE"},
	{INGEST "Crypto = cryptodev:a b\n" CAMERA("a", "1"),
	 "3: Crypto: 'cryptodev:a b' is not auto, libsodium, cryptodev or cryptodev:DEVICE"},
	{INGEST "Crypto = cryptodev-async:\n" CAMERA("a", "1"), "3: Crypto: 'cryptodev-async:' is not auto"},
	{INGEST "Crypto = cryptodev-asyncx\n" CAMERA("a", "1"), "3: Crypto: 'cryptodev-asyncx' is not auto"},
	{INGEST "Crypto = cryptodevx\n" CAMERA("a", "1"), "3: Crypto: 'cryptodevx' is not auto"},
	{INGEST "MetricsListen = 127.0.0.1:0\n" CAMERA("a", "1"), "3: MetricsListen: '127.0.0.1:0' is not ADDRESS:PORT"},
	{INGEST "MetricsListen = localhost:9470\n" CAMERA("a", "1"),
	 "3: MetricsListen: 'localhost' is not an IPv4 address or an IPv6 one in []"},
	{INGEST "MetricsListen = ::1:9470\n" CAMERA("a", "1"),
	 "3: MetricsListen: '::1' is not an IPv4 address or an IPv6 one in []"},
	{INGEST "MetricsPerCamera = maybe\n" CAMERA("a", "1"), "3: MetricsPerCamera: 'maybe' is not yes or no"},
	{INGEST "OfflineSeconds = 0\n" CAMERA("a", "1"), "3: OfflineSeconds: '0' is not a number from 1"},
	{INGEST "EventHook = ftp://example.com/x\n" CAMERA("a", "1"),
	 "3: EventHook: 'ftp://example.com/x' is not an http:// or https:// URL"},
	{INGEST "EventQueue = 0\n" CAMERA("a", "1"), "3: EventQueue: '0' is not a number from 1"},
	{INGEST "PlaybackConnectionsPerAddress = 65\n" CAMERA("a", "1"),
	 "3: PlaybackConnectionsPerAddress: '65' is not a number from 1 to 64"},
	{INGEST "AuthFailedPerMinute = -1\n" CAMERA("a", "1"), "3: AuthFailedPerMinute: '-1' is not a number from 1"},
	{INGEST "[Camera]\nName = a\nIdentity = " ID "\nCodec = H264\n", "3: Identity: needs HandshakePort and ServerKeyFile"},
	{INGEST HS "[Camera]\nName = a\nIdentity = " ID "\nSSRC = 3\nCodec = H264\n",
	 "6: [Camera] with an Identity takes no SSRC: the handshake gives it"},
	{INGEST HS "[Camera]\nName = a\nIdentity = " ID "\nKey = " KEY "\nCodec = H264\n",
	 "6: [Camera] with an Identity takes no Key"},
	{INGEST HS "[Camera]\nName = a\nIdentity = AAAA\nCodec = H264\n", "8: Identity: must be base64 of the camera's"},
	{INGEST HS "[Camera]\nName = a\nIdentity = " ID "\nCodec = H264\n[Camera]\nName = b\nIdentity = " ID "\n",
	 "12: Identity: already camera 'a''s"},
	/* Handshakes are answered only when sent to our address. */
	{INGEST "HandshakePort = 5006\nServerKeyFile = /k\n" CAMERA("a", "1"),
	 "3: HandshakePort: needs Address in [Ingest]"},
	{INGEST "Keystore = /x\n", "3: Keystore: needs KeystoreKeyFile"},
	{INGEST "[Camera]\nName = a\nCodec = H264\n", "3: [Camera] has no SSRC"},
	{INGEST "Address = 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 10.0.0.9\n"
		CAMERA("a", "1"), "3: Address: more than 8 IPv4 addresses"},
	/* Retransmission (RtxSSRC, RtxPayloadType, RtcpReducedSize) */
	{INGEST CAMERA("a", "1") "RtxSSRC = 2\n", "3: [Camera] has RtxSSRC without RtxPayloadType"},
	{INGEST CAMERA("a", "1") "RtxPayloadType = 97\n", "3: [Camera] has RtxPayloadType without RtxSSRC"},
	{INGEST CAMERA("a", "1") "RtxSSRC = 2\nRtxPayloadType = 95\n", "9: RtxPayloadType: '95' is not a dynamic RTP"},
	{INGEST CAMERA("a", "1") "RtxSSRC = 1\nRtxPayloadType = 97\n", "3: [Camera] RtxSSRC 1 is its own SSRC"},
	{INGEST CAMERA("a", "1") "RtxSSRC = 3\nRtxPayloadType = 97\n" CAMERA("b", "3"),
	 "12: SSRC: 3 is already used by camera 'a'"},
	{INGEST CAMERA("a", "1") CAMERA("b", "2") "RtxSSRC = 1\nRtxPayloadType = 97\n",
	 "13: RtxSSRC: 1 is already used by camera 'a'"},
	{INGEST CAMERA("a", "1") "RtcpReducedSize = yes\n", "3: [Camera] has RtcpReducedSize without RtxSSRC"},
	{INGEST CAMERA("a", "1") "RtxSSRC = 2\nRtxPayloadType = 97\nRtcpReducedSize = maybe\n",
	 "10: RtcpReducedSize: 'maybe' is not yes or no"},
	{INGEST HS "[Camera]\nName = a\nIdentity = " ID "\nCodec = H264\nRtcpReducedSize = yes\n",
	 "6: [Camera] with an Identity takes no RtcpReducedSize"},
};

/* Crypto's forms: the device's queue pairs asked for, with a device or
 * without (the default one). */
static void test_crypto_async(void **state)
{
	static const struct {
		const char *value;
		int crypto;
		const char *device;
	} forms[] = {
	    {"cryptodev-async:crypto_aesni_mb0", VIGIL_CRYPTO_CRYPTODEV_ASYNC, "crypto_aesni_mb0"},
	    {"cryptodev-async", VIGIL_CRYPTO_CRYPTODEV_ASYNC, ""},
	    {"cryptodev", VIGIL_CRYPTO_CRYPTODEV, ""},
	    {"libsodium", VIGIL_CRYPTO_LIBSODIUM, ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char text[256], err[512] = "";
		struct vigil_config cfg;
		const char *path;

		snprintf(text, sizeof(text), INGEST "Crypto = %s\n" CAMERA("a", "1"), forms[i].value);
		path = write_conf(text, 0600);
		assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), 0);
		assert_int_equal(cfg.crypto, forms[i].crypto);
		assert_string_equal(cfg.crypto_device, forms[i].device);
		vigil_config_free(&cfg);
		unlink(path);
	}
}

/* A camera that retransmits, with and without reduced-size RTCP. */
static void test_rtx(void **state)
{
	const char *path = write_conf(INGEST CAMERA("a", "1") "RtxSSRC = 2\nRtxPayloadType = 97\nRtcpReducedSize = yes\n"
					  CAMERA("b", "3") "RtxSSRC = 4\nRtxPayloadType = 120\n" CAMERA("c", "5"),
				      0600);
	struct vigil_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_cameras, 3);
	assert_true(cfg.cameras[0].has_rtx);
	assert_int_equal(cfg.cameras[0].rtx_ssrc, 2);
	assert_int_equal(cfg.cameras[0].rtx_payload_type, 97);
	assert_true(cfg.cameras[0].rtcp_rsize);
	assert_true(cfg.cameras[1].has_rtx);
	assert_int_equal(cfg.cameras[1].rtx_ssrc, 4);
	assert_int_equal(cfg.cameras[1].rtx_payload_type, 120);
	assert_false(cfg.cameras[1].rtcp_rsize);
	assert_false(cfg.cameras[2].has_rtx);
	assert_false(cfg.cameras[2].rtcp_rsize);
	vigil_config_free(&cfg);
	unlink(path);
}

/* A cluster node: no cameras of its own, its Anycast one of its
 * Addresses, the defaults. */
static void test_cluster(void **state)
{
	const char *path = write_conf(INGEST "Address = 198.18.0.2\n" CLUSTER
					  "Etcd = http://198.18.0.1:2379, http://198.18.0.3:2379\nNode = n1\nAnycast = 198.18.0.100\n",
				      0600);
	struct vigil_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_string_equal(cfg.cluster.node, "n1");
	assert_string_equal(cfg.cluster.prefix, "/vigil/");
	assert_int_equal(cfg.cluster.lease_seconds, 10);
	assert_int_equal(cfg.n_cameras, 0);
	assert_int_equal(cfg.n_ipv4, 2);
	assert_int_equal(cfg.ipv4[1], htonl(0xc6120064));
	vigil_config_free(&cfg);
	unlink(path);
}

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_conf(bad[i].text, 0600);
		struct vigil_config cfg;
		char err[512] = "", want[600];

		snprintf(want, sizeof(want), "%s:%s", path, bad[i].error);
		assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), -EINVAL);
		if (strncmp(err, want, strlen(want)) != 0 && strstr(bad[i].error, ":") != NULL) {
			print_error("case %zu: got '%s', want prefix '%s'\n", i, err, want);
			fail();
		}
		if (strstr(err, bad[i].error) == NULL) {
			print_error("case %zu: got '%s', want '%s'\n", i, err, bad[i].error);
			fail();
		}
		assert_null(cfg.cameras);
		unlink(path);
	}
}

/* Identity cameras, and a camera from the admin socket's KEY = VALUE
 * pairs, validated as the file's. */
static void test_identity_and_socket_camera(void **state)
{
	const char *path = write_conf(INGEST HS "Keystore = /k\nKeystoreKeyFile = /kk\n"
					     "[Camera]\nName = a\nIdentity = " ID "\nCodec = H265\n" CAMERA("b", "0"),
				      0600);
	const char *keys[] = {"Name", "SSRC", "Codec", "Key", "RetainHours"};
	const char *values[] = {"porch", "7", "h264", KEY, "5"};
	struct vigil_camera_config cam;
	struct vigil_config cfg;
	char err[512] = "";

	(void)state;
	assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), 0);
	assert_true(cfg.cameras[0].has_identity);
	assert_int_equal(cfg.cameras[0].identity[0], 0xde);
	assert_false(cfg.cameras[1].has_identity);
	assert_int_equal(cfg.cameras[1].ssrc, 0); /* not taken by the Identity camera */
	assert_int_equal(cfg.handshake_port, 5006);
	assert_string_equal(cfg.keystore, "/k");
	assert_int_equal(cfg.rekey_seconds, 120);

	assert_int_equal(vigil_config_camera(&cfg, &cam, keys, values, 5, err, sizeof(err)), 0);
	assert_string_equal(cam.name, "porch");
	assert_int_equal(cam.ssrc, 7);
	assert_int_equal(cam.retain_hours, 5);
	assert_int_equal(cam.payload_types[1], UINT64_C(0xffffffff) << 32);
	values[3] = "AAAA";
	assert_int_equal(vigil_config_camera(&cfg, &cam, keys, values, 5, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "Key: must be base64 of 44 bytes (32-byte master key, 12-byte salt)");
	assert_int_equal(vigil_config_camera(&cfg, &cam, keys, values, 3, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "[Camera] has no Key (or Identity)");
	vigil_config_free(&cfg);
	unlink(path);
}

static void test_long_line(void **state)
{
	char text[1024] = INGEST "RecordDir = /";
	const char *path;
	struct vigil_config cfg;
	char err[512];

	(void)state;
	memset(text + strlen(text), 'x', 400);
	strcat(text, "\n" CAMERA("a", "1"));
	path = write_conf(text, 0600);
	assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":3: line longer than"));
	unlink(path);
}

/* Who may read and write the file: as for the key files, whatever else is
 * wrong in it. */
static void test_modes(void **state)
{
	static const struct {
		const char *text;
		mode_t mode;
		const char *want; /* NULL: loads */
	} cases[] = {
		{INGEST CAMERA("a", "1"), 0644,
		 "readable by group and others (mode 0644) but holds camera keys (Key =); chmod 600"},
		{INGEST CAMERA("a", "1"), 0640, "readable by group (mode 0640) but holds camera keys (Key =); chmod 600"},
		{INGEST CAMERA("a", "1"), 0604, "readable by others (mode 0604)"},
		{INGEST CAMERA("a", "1"), 0620, "writable by group (mode 0620): they could choose the cameras"},
		{INGEST CAMERA("a", "1"), 0602, "writable by others (mode 0602)"},
		{INGEST CAMERA("a", "1"), 0600, NULL},
		{INGEST CAMERA("a", "1"), 0400, NULL},
		/* An error in it: the mode is what it says first. */
		{INGEST "Bogus = 1\n" CAMERA("a", "1"), 0640, "readable by group (mode 0640)"},
		/* No key in it: readable is fine, writable is not. */
		{INGEST HS "[Camera]\nName = a\nIdentity = " ID "\nCodec = H265\n", 0644, NULL},
		{INGEST HS "[Camera]\nName = a\nIdentity = " ID "\nCodec = H265\n", 0664,
		 "writable by group (mode 0664)"},
	};
	struct vigil_config cfg;
	char err[512], want[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = write_conf(cases[i].text, cases[i].mode);

		err[0] = '\0';
		if (cases[i].want == NULL) {
			assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), 0);
			vigil_config_free(&cfg);
		} else {
			assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), -EPERM);
			snprintf(want, sizeof(want), "%s: %s", path, cases[i].want);
			if (strncmp(err, want, strlen(want)) != 0)
				fail_msg("case %zu: got '%s', want '%s...'", i, err, want);
			assert_null(cfg.cameras);
		}
		unlink(path);
	}
	/* Owned by someone else, who could chmod it: refused (root only can
	 * give it away). */
	if (geteuid() == 0) {
		const char *path = write_conf(INGEST CAMERA("a", "1"), 0600);

		assert_int_equal(chown(path, 4242, (gid_t)-1), 0);
		assert_int_equal(vigil_config_load(&cfg, path, err, sizeof(err)), -EPERM);
		snprintf(want, sizeof(want), "%s: owned by uid 4242, neither vigild's user (uid 0) nor root", path);
		assert_true(strncmp(err, want, strlen(want)) == 0);
		unlink(path);
	}
}

/* After a load and a free, no copy of a key is left anywhere: not in the
 * cameras array as it grew (40 cameras: it moves), not in stdio's buffer,
 * not in inih's line buffer. The key is random, in static storage, and
 * the file is written with write(2): only the parser could leave one. */
static void test_no_key_left(void **state)
{
	static uint8_t raw[44];
	static char b64[64], text[16384], path[64];
	struct vigil_config cfg;
	char err[512];
	size_t len = 0;
	int fd;

	(void)state;
	if (!leftovers_start())
		return;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
	len += (size_t)snprintf(text + len, sizeof(text) - len, INGEST "MaxCameras = 64\n");
	for (unsigned i = 0; i < 40; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[Camera]\nName = c%u\nSSRC = %u\nKey = %s\nCodec = H264\n", i, i, b64);
	assert_true(len < sizeof(text));
	snprintf(path, sizeof(path), "test_config_%d.conf", (int)getpid());
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	sodium_memzero(text, sizeof(text));

	if (vigil_config_load(&cfg, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.n_cameras, 40);
	assert_memory_equal(cfg.cameras[39].master_key, raw, 32);
	assert_memory_equal(cfg.cameras[0].master_salt, raw + 32, 12);
	assert_true(leftovers_found(raw, 16)); /* the scan finds the live array */
	vigil_config_free(&cfg);
	unlink(path);
	/* From its 20th character: a shorter line read after it overwrites
	 * the start of a line buffer, not the end. */
	if (leftovers_found(b64 + 20, 24))
		fail_msg("the key's base64 is left in the heap or the stack");
	if (leftovers_found(raw, 16))
		fail_msg("the raw key is left in the heap or the stack");
}

static void test_missing_file(void **state)
{
	struct vigil_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(vigil_config_load(&cfg, "/nonexistent/vigil.conf", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/vigil.conf: cannot open: No such file or directory");
}

static char *slurp(const char *name)
{
	char path[4096];
	const char *src = getenv("VIGIL_SOURCE");
	FILE *f;
	char *text;
	long n;

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/%s", src, name);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

/* Every key the parser takes is documented: in vigild(8) as *Key* and in
 * the README's table as `Key`. The lists are written by hand; this keeps
 * them whole. */
static void test_keys_documented(void **state)
{
	char *man = slurp("docs/man/vigild.8.scd"), *readme = slurp("README.md"), want[128];
	const char *name;
	bool camera;
	unsigned n = 0;

	(void)state;
	for (unsigned i = 0; (name = vigil_config_key_name(i, &camera)) != NULL; i++, n++) {
		snprintf(want, sizeof(want), "*%s*", name);
		if (strstr(man, want) == NULL)
			fail_msg("%s ([%s]) is not in docs/man/vigild.8.scd", name, camera ? "Camera" : "Ingest");
		snprintf(want, sizeof(want), "`%s`", name);
		if (strstr(readme, want) == NULL)
			fail_msg("%s ([%s]) is not in README.md", name, camera ? "Camera" : "Ingest");
	}
	assert_true(n > 40);
	free(man);
	free(readme);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_key),
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_cluster),
	    cmocka_unit_test(test_rtx),
	    cmocka_unit_test(test_crypto_async),
		cmocka_unit_test(test_identity_and_socket_camera),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_no_key_left),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_keys_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
