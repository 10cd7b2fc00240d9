#!/bin/bash
# SPDX-License-Identifier: MIT
# Camera handshakes through the whole server (docs/handshake.md). vigild
# runs live on af_packet with a HandshakePort; from a network namespace:
#  1. camera `door` (vigil-stream: libvigilcam and a UDP socket) has only an
#     Identity: it handshakes, streams a 6 s clip and rekeys every 2 s,
#     while a GStreamer camera keyed by SDES streams beside it. Both
#     recordings are their references frame for frame: no frame is lost
#     across the rekeys;
#  2. door's first initiation, captured, is sent again: refused as replayed;
#  3. a flood of forged initiations (fresh identities, valid mac1), 3,000
#     a second from 32 source addresses (paced, so the test's own processes
#     keep their share of the two cores), while camera `porch` (added with
#     vigilctl, into the keystore) connects: it is answered within three initiations (a cookie
#     first if vigild is under load by then), and records all its frames;
#     the flood is rate-limited per source and answered with cookies;
#  4. camera `lazy` never rekeys: past 1.5 x RekeyPackets its key is
#     refused, and its packets count as unknown_ssrc;
#  5. a camera that vigild never answers (its initiations go to another
#     port) keeps trying all along, well past 20 tries;
#  6. `vigilctl watch` saw a key_rotated event (by handshake) per handshake
#     and lazy's key_expired, once.
# Every counter checked is exact where the test controls it.
#
# usage: handshake.sh BUILD_DIR [SCRATCH_DIR]  (vigild, vigilctl, vigil-stream, hs_flood under it)
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
build=${1:?usage: handshake.sh BUILD_DIR [SCRATCH_DIR]} scratch=${2:-}
PYTHON=${PYTHON:-/usr/bin/python3}
FPS=30

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces"
require_tools ip gst-launch-1.0 ffmpeg jq tcpdump "$PYTHON"
for e in x264enc srtpenc; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
require_aesni
vigild=$build/control/vigild vigilctl=$build/tools/vigilctl stream=$build/examples/vigil-stream
flood=$build/tests/integration/hs_flood
require_vigild "$vigild"
test_begin handshake "$scratch"
vigil_netns_create handshake

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }
clip() { # SECONDS OUT
	ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=$FPS" -t "$1" -c:v libx264 -g 30 -bf 0 \
		-pix_fmt yuv420p -f h264 "$2"
}
clip 6 "$work/door.h264" && clip 2 "$work/porch.h264" || { fail "ffmpeg cannot make the clips"; exit 1; }

server_pk=$("$vigilctl" keygen x25519 "$work/server.sk")
door_pk=$("$vigilctl" keygen x25519 "$work/door.sk")
porch_pk=$("$vigilctl" keygen x25519 "$work/porch.sk")
lazy_pk=$("$vigilctl" keygen x25519 "$work/lazy.sk")
"$vigilctl" keygen x25519 "$work/mute.sk" >/dev/null
head -c 44 /dev/urandom >"$work/gst.key"
{
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\nDevice = net_af_packet0,iface=%s\n' "$work" "$work" "$VIGIL_VETH_ROOT"
	printf 'Address = %s\nHandshakePort = 5006\nServerKeyFile = %s/server.sk\nMaxCameras = 16\nRekeyPackets = 1000\n' \
		"$VIGIL_IP_ROOT" "$work"
	printf 'Keystore = %s/keystore\nKeystoreKeyFile = %s/keystore.key\n' "$work" "$work"
	printf '[Camera]\nName = door\nIdentity = %s\nCodec = H264\n' "$door_pk"
	printf '[Camera]\nName = lazy\nIdentity = %s\nCodec = H264\n' "$lazy_pk"
	printf '[Camera]\nName = gst\nSSRC = 4242\nKey = %s\nCodec = H264\n' "$(base64 -w0 <"$work/gst.key")"
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf"
"$vigilctl" keygen keystore "$work/keystore.key" >/dev/null

# ---- 0. the server's secret key: the owner's alone, or a systemd credential --
# A group-readable ServerKeyFile is refused; in $CREDENTIALS_DIRECTORY, where
# newer systemd makes credentials 0440, the same mode is taken (the run below).
chmod 640 "$work/server.sk"
if timeout 60 "$vigild" --config "$work/vigil.conf" --admin none >/dev/null 2>"$work/mode.log" ||
	! grep -q "ServerKeyFile $work/server.sk: mode 640 lets others read" "$work/mode.log"; then
	fail "a group-readable ServerKeyFile was not refused: $(tail -3 "$work/mode.log")"
fi
chmod 440 "$work/server.sk"
export CREDENTIALS_DIRECTORY=$work

proc_start "$work/summary.json" "$work/vigild.log" "$VIGILD_READY" 30 "$vigild" --config "$work/vigil.conf" \
	--admin "$work/admin.sock" --audit "$work/audit.log" || { fail "vigild did not start: $(cat "$work/vigild.log")"; exit 1; }
vigild_pid=$PROC_PID
# Its events, as an operator's `vigilctl watch` sees them.
proc_start "$work/watch.jsonl" "$work/watch.log" "" 0 "$vigilctl" --socket "$work/admin.sock" watch || true
watch_pid=$PROC_PID
for _ in $(seq 50); do
	[ "$("$vigilctl" --socket "$work/admin.sock" --json stats | jq .stats.events.watchers)" = 1 ] && break
	sleep 0.1
done
# porch comes through the admin socket, into the keystore.
"$vigilctl" --socket "$work/admin.sock" camera add porch --identity "$porch_pk" --codec h264 >"$work/add.out" ||
	fail "camera add porch --identity: $(cat "$work/add.out")"
[ "$(cat "$work/add.out")" = "camera porch added, waiting for its handshake" ] || fail "add porch: $(cat "$work/add.out")"
[ "$("$vigilctl" --socket "$work/admin.sock" cameras | awk '$1 == "porch" { print $2 }')" = handshake ] ||
	fail "porch is not waiting for its handshake"

# ---- 5. (all along) a camera with no answer ----------------------------------------
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/porch.h264" --identity "$work/mute.sk" \
	--server-key "$server_pk" --handshake-port 5007 >"$work/mute.json" 2>"$work/mute.log" &
mute_pid=$! mute_since=$SECONDS
proc_track "$mute_pid"

# ---- 1. a handshake camera and an SDES camera side by side ------------------------
test_start_capture "$work/tcpdump.log" ip netns exec "$VIGIL_NS" \
	tcpdump -i "$VIGIL_VETH_CAM" -w "$work/hs.pcap" -U -c 1 udp dst port 5006
tcpdump_pid=$PROC_PID
"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec h264 --key "$(od -An -tx1 -v "$work/gst.key" | tr -d ' \n')" \
	--ssrc 4242 --num-buffers 150 --key-int 30 --size 320x240 --pattern ball \
	--dest "$VIGIL_IP_ROOT:5004" --ref "$work/gst.ref" >"$work/gst.log" 2>&1 &
gst_pid=$!
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/door.h264" --identity "$work/door.sk" \
	--server-key "$server_pk" --rekey-seconds 2 >"$work/door.json" 2>"$work/door.log" ||
	fail "door: vigil-stream failed: $(cat "$work/door.log")"
wait "$gst_pid" || fail "the GStreamer camera failed: $(tail -n 5 "$work/gst.log")"
wait "$tcpdump_pid" 2>/dev/null || true
proc_forget "$tcpdump_pid"
cat "$work/door.json"
[ "$(jq .handshakes "$work/door.json")" -ge 3 ] || fail "door: $(jq .handshakes "$work/door.json") handshakes in 6 s, want a rekey every 2 s"

# ---- 2. a replayed initiation -------------------------------------------------------
"$PYTHON" - "$work/hs.pcap" "$work/initiation.bin" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
off = 24 + 16  # the one record: Ethernet, IPv4, UDP
frame = data[off:]
ihl = (frame[14] & 15) * 4
open(sys.argv[2], "wb").write(frame[14 + ihl + 8:])
PY
ip netns exec "$VIGIL_NS" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(open(sys.argv[1], "rb").read(), (sys.argv[2], 5006))' "$work/initiation.bin" "$VIGIL_IP_ROOT"
sleep 0.5

# ---- 3. a flood, and a camera that connects through it -------------------------------
n=${VIGIL_IP_ROOT#198.18.} n=${n%.1}
sources=""
for i in $(seq 1 32); do
	ip netns exec "$VIGIL_NS" ip addr add "198.19.$n.$i/32" dev "$VIGIL_VETH_CAM"
	sources+="${sources:+,}198.19.$n.$i"
done
ip route add "198.19.$n.0/24" dev "$VIGIL_VETH_ROOT" 2>/dev/null || true
ip netns exec "$VIGIL_NS" "$flood" --to "$VIGIL_IP_ROOT" --port 5006 --server-key "$server_pk" --from "$sources" \
	--seconds 5 --rate 3000 >"$work/flood.json" 2>"$work/flood.log" &
flood_pid=$!
sleep 1
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/porch.h264" --identity "$work/porch.sk" \
	--server-key "$server_pk" >"$work/porch.json" 2>"$work/porch.log" ||
	fail "porch: vigil-stream failed under the flood: $(cat "$work/porch.log")"
wait "$flood_pid" || fail "hs_flood failed: $(cat "$work/flood.log")"
cat "$work/porch.json" "$work/flood.json"
[ "$(jq .initiations "$work/porch.json")" -le 3 ] || fail "porch needed $(jq .initiations "$work/porch.json") initiations"

# ---- 4. a camera that never rekeys ---------------------------------------------------
# Six times the door clip at 300 frames/s: 1,878 packets, more than 1.5 x
# RekeyPackets = 1000 under one key.
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/door.h264" --identity "$work/lazy.sk" \
	--server-key "$server_pk" --no-rekey --fps 300 --loops 6 >"$work/lazy.json" 2>"$work/lazy.log" ||
	fail "lazy: vigil-stream failed: $(cat "$work/lazy.log")"
sleep 1
# 20 tries take 25 s at most: by 30 s a camera that gives up has.
sleep $((mute_since + 30 > SECONDS ? mute_since + 30 - SECONDS : 0))
kill -0 "$mute_pid" 2>/dev/null || fail "the camera with no answer gave up: $(cat "$work/mute.log")"
proc_stop "$mute_pid" TERM 10 || true
proc_stop "$watch_pid" TERM 5 >/dev/null || true
proc_stop "$vigild_pid" INT 60 || fail "vigild exited non-zero after SIGINT"

# ---- what vigild counted and recorded ----------------------------------------------
s=$work/summary.json
check_invariant handshake "$s"
check_counter door "$s" .cameras.door.decrypted "$(jq .packets "$work/door.json")"
check_counter door "$s" .cameras.door.auth_failed 0
check_counter door "$s" .cameras.door.frames_recorded "$(jq .frames "$work/door.json")"
check_counter door "$s" .cameras.door.ssrc "$(jq .ssrc "$work/door.json")"
check_counter porch "$s" .cameras.porch.frames_recorded "$(jq .frames "$work/porch.json")"
check_counter handshakes "$s" .handshakes.replayed 1
check_counter handshakes "$s" .handshakes.revoked 0
[ "$(jq .handshakes.accepted "$s")" -ge $(($(jq .handshakes "$work/door.json") + 1)) ] ||
	fail "handshakes accepted: $(jq -c .handshakes "$s")"
[ "$(jq .handshakes.cookie_sent "$s")" -ge 1 ] && [ "$(jq .handshakes.rate_limited "$s")" -ge 1 ] ||
	fail "under the flood, want cookies sent and sources rate-limited: $(jq -c .handshakes "$s")"
lazy_sent=$(jq .packets "$work/lazy.json") lazy_ok=$(jq .cameras.lazy.decrypted "$s")
[ "$lazy_ok" -ge 1500 ] && [ "$lazy_ok" -lt "$lazy_sent" ] ||
	fail "lazy: $lazy_ok of $lazy_sent packets accepted; want its key refused past 1500"
check_counter lazy "$s" .totals.unknown_ssrc $((lazy_sent - lazy_ok))
check_counter lazy "$s" .cameras.lazy.state handshake
grep -q "camera lazy did not rekey in time" "$work/vigild.log" || fail "lazy: no log line for its spent key"
# The events: a key_rotated by handshake for each handshake a camera made
# (its first key included), and lazy's key_expired, once.
events() { jq -r --arg t "$1" --arg c "$2" 'select(.type == $t and .camera == $c) | .by // "-"' "$work/watch.jsonl" | sort | uniq -c | xargs; }
[ "$(events key_rotated door)" = "$(jq .handshakes "$work/door.json") handshake" ] ||
	fail "door: key_rotated events '$(events key_rotated door)', want $(jq .handshakes "$work/door.json") by handshake"
[ "$(events key_rotated lazy)" = "1 handshake" ] || fail "lazy: key_rotated events '$(events key_rotated lazy)'"
[ "$(events key_expired lazy)" = "1 -" ] || fail "lazy: key_expired events '$(events key_expired lazy)', want one"
[ "$(events key_expired door)" = "" ] || fail "door: key_expired events '$(events key_expired door)'"
check_counter events "$s" .events.emitted.key_expired 1
for cam in door porch; do
	frame_md5 -i "$work/$cam.h264" >"$work/$cam.want"
	frame_md5 -i "$work/rec/$cam/index.m3u8" >"$work/$cam.got"
	cmp -s "$work/$cam.want" "$work/$cam.got" ||
		fail "$cam: the recording is not the clip ($(wc -l <"$work/$cam.got") of $(wc -l <"$work/$cam.want") frames)"
done
frame_md5 -i "$work/gst.ref" >"$work/gst.want"
frame_md5 -i "$work/rec/gst/index.m3u8" >"$work/gst.got"
cmp -s "$work/gst.want" "$work/gst.got" || fail "gst: the recording is not the reference"
note "door: $(jq .handshakes "$work/door.json") handshakes, porch through a flood of $(jq .sent "$work/flood.json"): $(jq -c .handshakes "$s")"
test_finish handshake
