#!/bin/bash
# SPDX-License-Identifier: MIT
# Retransmission for a handshake camera (docs/handshake.md, "RTX"). vigild
# runs live on af_packet with a HandshakePort; from a network namespace:
#  - camera `door` (vigil-stream --rtx) asks for an RTX stream in its
#    initiation, gets an RTX SSRC in each 116-byte response (the same at
#    every rekey, every 2 s), and loses every 37th media packet on its way
#    out (--drop-every): vigild NACKs each loss, door answers with RFC 4588
#    RTX packets from the same socket, and every frame is recorded, the
#    recording the clip frame for frame;
#  - camera `porch` (vigil-stream, no --rtx) beside it gets the 108-byte
#    response of before, and no RTX stream.
# The counters add up: every packet vigild received has one outcome.
#
# usage: handshake_rtx.sh BUILD_DIR [SCRATCH_DIR]  (vigild, vigilctl, vigil-stream under it)
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
build=${1:?usage: handshake_rtx.sh BUILD_DIR [SCRATCH_DIR]} scratch=${2:-}
FPS=30
# Not a divisor of door's packet count (313 for this clip): a loss is seen
# only when a later packet comes, so the very last one must not be lost.
DROP_EVERY=37

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces"
require_tools ip ffmpeg jq tcpdump
require_aesni
vigild=$build/control/vigild vigilctl=$build/tools/vigilctl stream=$build/examples/vigil-stream
require_vigild "$vigild"
test_begin handshake_rtx "$scratch"
vigil_netns_create handshake-rtx

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }
clip() { # SECONDS OUT
	ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=$FPS" -t "$1" -c:v libx264 -g 30 -bf 0 \
		-pix_fmt yuv420p -f h264 "$2"
}
clip 6 "$work/door.h264" && clip 2 "$work/porch.h264" || { fail "ffmpeg cannot make the clips"; exit 1; }

server_pk=$("$vigilctl" keygen x25519 "$work/server.sk")
door_pk=$("$vigilctl" keygen x25519 "$work/door.sk")
porch_pk=$("$vigilctl" keygen x25519 "$work/porch.sk")
{
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\nDevice = net_af_packet0,iface=%s\n' "$work" "$work" "$VIGIL_VETH_ROOT"
	printf 'Address = %s\nHandshakePort = 5006\nServerKeyFile = %s/server.sk\nMaxCameras = 4\n' "$VIGIL_IP_ROOT" "$work"
	printf '[Camera]\nName = door\nIdentity = %s\nCodec = H264\n' "$door_pk"
	printf '[Camera]\nName = porch\nIdentity = %s\nCodec = H264\n' "$porch_pk"
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf" "$work/server.sk"

proc_start "$work/summary.json" "$work/vigild.log" "$VIGILD_READY" 30 "$vigild" --config "$work/vigil.conf" \
	--admin none || { fail "vigild did not start: $(cat "$work/vigild.log")"; exit 1; }
vigild_pid=$PROC_PID
test_start_capture "$work/tcpdump.log" ip netns exec "$VIGIL_NS" \
	tcpdump -i "$VIGIL_VETH_CAM" -w "$work/hs.pcap" -U udp src port 5006
tcpdump_pid=$PROC_PID

ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/porch.h264" --identity "$work/porch.sk" \
	--server-key "$server_pk" >"$work/porch.json" 2>"$work/porch.log" &
porch_pid=$!
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/door.h264" --identity "$work/door.sk" \
	--server-key "$server_pk" --rekey-seconds 2 --rtx --drop-every "$DROP_EVERY" >"$work/door.json" 2>"$work/door.log" ||
	fail "door: vigil-stream --rtx failed: $(cat "$work/door.log")"
wait "$porch_pid" || fail "porch: vigil-stream failed: $(cat "$work/porch.log")"
sleep 1
proc_stop "$tcpdump_pid" INT 5 || true
proc_stop "$vigild_pid" INT 60 || fail "vigild exited non-zero after SIGINT: $(tail -n 5 "$work/vigild.log")"
cat "$work/door.json" "$work/porch.json"

# ---- the wire: a response of 116 bytes per door handshake, 108 per porch's ----
tcpdump -nn -r "$work/hs.pcap" 2>/dev/null | sed -n 's/.*UDP, length \([0-9]*\)$/\1/p' | sort | uniq -c | xargs >"$work/lengths"
[ "$(cat "$work/lengths")" = "$(jq .handshakes "$work/porch.json") 108 $(jq .handshakes "$work/door.json") 116" ] ||
	fail "handshake responses by length: '$(cat "$work/lengths")', want porch's 108 bytes, door's 116"

# ---- what the cameras saw -------------------------------------------------------
d=$work/door.json
[ "$(jq .handshakes "$d")" -ge 3 ] || fail "door: $(jq .handshakes "$d") handshakes in 6 s, want a rekey every 2 s"
[ "$(jq '.rtx_ssrc != 0 and .rtx_ssrc != .ssrc' "$d")" = true ] || fail "door: no RTX SSRC of its own: $(jq -c . "$d")"
[ "$(jq .dropped "$d")" -ge 5 ] || fail "door: only $(jq .dropped "$d") packets dropped"
[ "$(jq '.rtx_packets >= .dropped and .nacked >= .dropped' "$d")" = true ] ||
	fail "door: $(jq .dropped "$d") dropped, $(jq .nacked "$d") NACKed, $(jq .rtx_packets "$d") RTX sent"
check_counter porch "$work/porch.json" .rtx_ssrc 0

# ---- what vigild counted and recorded -------------------------------------------
s=$work/summary.json
check_invariant handshake_rtx "$s"
check_counter door "$s" .cameras.door.ssrc "$(jq .ssrc "$d")"
check_counter door "$s" .cameras.door.decrypted "$(jq .packets "$d")"
check_counter door "$s" .cameras.door.retransmitted "$(jq .dropped "$d")"
check_counter door "$s" .cameras.door.rtx_unwanted "$(($(jq .rtx_packets "$d") - $(jq .dropped "$d")))"
check_counter door "$s" .cameras.door.auth_failed 0
check_counter door "$s" .cameras.door.frames_recorded "$(jq .frames "$d")"
[ "$(jq '.cameras.door.nack_sent > 0 and .cameras.door.retransmitted > 0' "$s")" = true ] ||
	fail "door: nack_sent $(jq .cameras.door.nack_sent "$s"), retransmitted $(jq .cameras.door.retransmitted "$s")"
# Every feedback packet a NACK (no frame lost for good: no PLI), reduced-size
# but for a receiver report a second: door's libvigilcam reads both.
check_counter door "$s" '.cameras.door | .rtcp_rr_sent + .rtcp_rsize_sent' "$(jq .cameras.door.nack_sent "$s")"
check_counter door "$s" .cameras.door.pli_sent 0
check_counter porch "$s" .cameras.porch.frames_recorded "$(jq .frames "$work/porch.json")"
check_counter porch "$s" .cameras.porch.nack_sent 0
check_counter handshakes "$s" .handshakes.accepted $(($(jq .handshakes "$d") + $(jq .handshakes "$work/porch.json")))
for cam in door porch; do
	frame_md5 -i "$work/$cam.h264" >"$work/$cam.want"
	frame_md5 -i "$work/rec/$cam/index.m3u8" >"$work/$cam.got"
	cmp -s "$work/$cam.want" "$work/$cam.got" ||
		fail "$cam: the recording is not the clip ($(wc -l <"$work/$cam.got") of $(wc -l <"$work/$cam.want") frames)"
done
note "door: $(jq -r '"\(.handshakes) handshakes, RTX SSRC \(.rtx_ssrc), \(.dropped) dropped, \(.nacked) NACKed, \(.rtx_packets) RTX sent, \(.pli) PLIs, \(.feedback_refused) feedback refused"' "$d"); vigild: $(jq -r '.cameras.door | "\(.nack_sent) NACK packets naming \(.nacked) (\(.rtcp_rsize_sent) reduced-size), \(.retransmitted) retransmitted, \(.rtx_unwanted) unwanted"' "$s")"
test_finish handshake_rtx
