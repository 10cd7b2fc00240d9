#!/bin/bash
# SPDX-License-Identifier: MIT
# Restarts that a camera with a static key must not notice, and replays
# that a restart must not let through. A GStreamer H.264 camera streams
# live from a network namespace into vigild (af_packet), its RTP sequence
# number wrapping (ROC 0 -> 1) in its first seconds. vigild is stopped
# with SIGTERM and started again, later killed with SIGKILL and started
# again, each time on the same StateDir, while the camera goes on:
#   - after each restart the camera goes on being recorded within one key
#     frame interval of vigild being back (before the replay state was
#     kept, a restart after the wrap estimated ROC 0 and refused every
#     packet as auth_failed);
#   - traffic captured before the restarts, sent again after them, is
#     refused as replayed and recorded nowhere: every frame of the
#     recording is one of the camera's, once, in order;
#   - the same replay while the camera is silent is reported as a camera
#     that came back under the same key (same_key_restart, a log line);
#   - an Identity camera (vigil-stream, handshake keys, which vigild never
#     keeps) is told its session is unknown after each restart and is
#     recorded again within a few seconds, not at its next rekey.
# Prints, per restart, how long vigild was down, how many frames the
# GStreamer camera lost, and how soon the Identity camera was back.
#
# usage: restart.sh BUILD_DIR [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
FPS=30
FRAMES=1200 # 40 s: room for two restarts, slow ones on a busy machine
KEY_INT=30 # a key frame a second
SEQ=65300  # wraps after some 236 packets

target=${1:-} scratch=${2:-}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root
require_tools ip gst-launch-1.0 ffmpeg tcpdump jq
for e in x264enc srtpenc; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
vigilctl=$target/tools/vigilctl stream=$target/examples/vigil-stream
python=${PYTHON:-python3}
test_begin restart "$scratch"
vigil_netns_create restart

head -c 44 /dev/urandom >"$work/cam.key"
server_pk=$("$vigilctl" keygen x25519 "$work/server.sk")
door_pk=$("$vigilctl" keygen x25519 "$work/door.sk")
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=$FPS" -t 2 -c:v libx264 -g "$KEY_INT" -bf 0 \
	-pix_fmt yuv420p -f h264 "$work/door.h264" || { fail "ffmpeg cannot make the clip"; exit 1; }
{
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\nSegmentSeconds = 2\n' "$work" "$work"
	printf 'Device = net_af_packet0,iface=%s\nMaxCameras = 16\n' "$VIGIL_VETH_ROOT"
	printf 'Address = %s\nHandshakePort = 5006\nServerKeyFile = %s/server.sk\n' "$VIGIL_IP_ROOT" "$work"
	printf '[Camera]\nName = cam\nSSRC = 4242\nKey = %s\nCodec = H264\n' "$(base64 -w0 <"$work/cam.key")"
	printf '[Camera]\nName = door\nIdentity = %s\nCodec = H264\n' "$door_pk"
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf"

# stats_until N LABEL COND: SIGUSR1 to vigild until the counters it prints
# (the Nth run's log) satisfy the jq condition COND, at most 30 s.
stats_until() {
	local n=$1 label=$2 cond=$3 i line
	for ((i = 0; i < 150; i++)); do
		kill -USR1 "$vigild_pid"
		sleep 0.2
		line=$(grep '^vigild: stats ' "$work/run$n.log" | tail -n 1)
		if [ -n "$line" ] && jq -e "$cond" <<<"${line#vigild: stats }" >/dev/null 2>&1; then
			return 0
		fi
	done
	fail "run $n: $label: not reached in 30 s ($cond): $(jq -c '.cameras.cam | {decrypted, replayed, auth_failed, frames_recorded}' <<<"${line#vigild: stats }" 2>/dev/null)"
	exit 1
}

# send_early: the camera's first packets again, from the namespace.
send_early() {
	local out
	# slowly: af_packet's ring holds 512 frames, and the worker may wait
	# for a CPU on a busy machine
	out=$(ip netns exec "$VIGIL_NS" "$python" "$tools/pcap_send.py" "$work/early.pcap" "$VIGIL_IP_ROOT" 5004 \
		--rate 500 2>&1) || { fail "pcap_send: $out"; exit 1; }
	echo "${out#sent }"
}

test_start_vigild "$vigild" "$work/vigil.conf" "$work/run1.json" "$work/run1.log"
vigild_pid=$PROC_PID
# The camera's first packets, to be sent again after the restarts.
test_start_capture "$work/tcpdump.log" tcpdump -i "$VIGIL_VETH_ROOT" -U -w "$work/early.pcap" udp dst port 5004
tcpdump_pid=$PROC_PID
"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec h264 --key "$(od -An -tx1 -v "$work/cam.key" | tr -d ' \n')" \
	--ssrc 4242 --num-buffers "$FRAMES" --fps "$FPS" --key-int "$KEY_INT" --size 320x240 --pattern ball \
	--seqnum-offset "$SEQ" --dest "$VIGIL_IP_ROOT:5004" --ref "$work/cam.ref" >"$work/gst.log" 2>&1 &
gst_pid=$!
# The Identity camera, as long as the other (RekeySeconds stays 120 s: a
# rekey would not bring it back within this test).
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/door.h264" --identity "$work/door.sk" \
	--server-key "$server_pk" --loops $((FRAMES / FPS / 2)) >"$work/door.json" 2>"$work/door.log" &
door_pid=$!
proc_track "$door_pid"
# Past the wrap, and some seconds of it recorded.
stats_until 1 "the wrap" ".cameras.cam.decrypted > $((65536 - SEQ + 200)) and .cameras.cam.frames_recorded > $((3 * FPS))"
proc_stop "$tcpdump_pid" INT 10 || true
# The capture holds the Identity camera's first packets too.
early=$("$python" "$tools/srtp_pcap.py" count "$work/early.pcap" --ssrc 4242 --port 5004)

# restart N SIGNAL: stops vigild with SIGNAL, starts it again; sets
# down_s to how long it was away: from the signal to its readiness line.
restart() {
	local n=$1 sig=$2 t0
	t0=$EPOCHREALTIME
	if [ "$sig" = KILL ]; then
		kill -KILL "$vigild_pid"
		wait "$vigild_pid" 2>/dev/null || true
		proc_forget "$vigild_pid"
	else
		proc_stop "$vigild_pid" "$sig" 60 || fail "run $((n - 1)): vigild exited non-zero after SIG$sig"
	fi
	test_start_vigild "$vigild" "$work/vigil.conf" "$work/run$n.json" "$work/run$n.log"
	vigild_pid=$PROC_PID
	# test_start_vigild waits a second after the line, for af_packet
	down_s[n]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a - 1 }')
	grep -q "1 camera(s) continue from their persisted index" "$work/run$n.log" ||
		fail "run $n: the camera did not continue from its persisted index: $(grep 'replay state' "$work/run$n.log")"
	kill -0 "$gst_pid" 2>/dev/null || { fail "the camera ended before vigild was back: restarts too slow here"; exit 1; }
}

# door_back N: how long after run N was ready the Identity camera had a
# frame recorded again.
door_back() {
	local n=$1 t0=$EPOCHREALTIME
	stats_until "$n" "the Identity camera back" ".cameras.door.frames_recorded > 0"
	door_s[n]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a + 1 }')
	note "run $n: the Identity camera recorded again ${door_s[n]} s after vigild was ready"
}

declare -a down_s door_s
restart 2 TERM
door_back 2
stats_until 2 "recording again" ".cameras.cam.frames_recorded > $((2 * FPS))"
# The Identity camera handshakes on an unknown-session message once in 5 s
# at most (VIGIL_HS_UNKNOWN_SESSION_MIN_S): the next restart after that.
sleep 5
restart 3 KILL
door_back 3
stats_until 3 "recording again" ".cameras.cam.frames_recorded > $((2 * FPS))"
# The first packets again, while the camera streams on.
sent=$(send_early)
note "sent again ${sent} packets captured before the restarts, while the camera streams"
kill -0 "$gst_pid" 2>/dev/null || fail "the camera ended before the replay: it was not live"
wait "$gst_pid" || { fail "the GStreamer camera failed: $(tail -n 5 "$work/gst.log")"; exit 1; }
wait "$door_pid" || fail "the Identity camera failed: $(tail -n 5 "$work/door.log")"
proc_forget "$door_pid"
sleep 2 # silence
# Once more, the camera silent: a camera back under the same key.
sent2=$(send_early)
stats_until 3 "the replays counted" ".cameras.cam.replayed >= $((2 * early))"
proc_stop "$vigild_pid" INT 60 || fail "run 3: vigild exited non-zero after SIGINT"

# ---- counters ----------------------------------------------------------------------

[ "${early:-0}" -gt 100 ] && [ "$sent" -ge "$early" ] && [ "$sent2" = "$sent" ] ||
	fail "${early:-0} of the camera's packets captured in the first seconds, sent ${sent:-0} and ${sent2:-0}"
decrypted1=$(jq '.cameras.cam.decrypted // 0' "$work/run1.json")
[ "$decrypted1" -gt $((65536 - SEQ + 50)) ] ||
	fail "run 1: $decrypted1 packets decrypted: the sequence number did not wrap before the restart"
for n in 1 3; do # run 2 was killed: no summary
	check_invariant "run $n" "$work/run$n.json"
	check_counter "run $n" "$work/run$n.json" .cameras.cam.auth_failed 0
	[ "$(jq '.cameras.cam.frames_recorded // 0' "$work/run$n.json")" -gt $((2 * FPS)) ] ||
		fail "run $n: $(jq '.cameras.cam.frames_recorded' "$work/run$n.json") frames recorded"
done
check_counter "run 3" "$work/run3.json" .cameras.cam.replayed $((2 * early))
check_counter "run 3" "$work/run3.json" .cameras.cam.same_key_restart 1
grep -q "camera cam came back under the same key" "$work/run3.log" ||
	fail "run 3: no log line about the camera back under the same key"
jq -e '.cameras.cam.warning | test("same key")' "$work/run3.json" >/dev/null ||
	fail "run 3: the summary has no warning for the camera"
check_counter "run 3" "$work/run3.json" .replay_state.resumed 1 # not door: its keys are never kept
# door was told twice that its session was unknown, and handshook each time
[ "$(jq .unknown_session "$work/door.json")" = 2 ] ||
	fail "the Identity camera handshook $(jq .unknown_session "$work/door.json") times on unknown-session messages, want 2"
[ "$(jq '.handshakes.unknown_session' "$work/run3.json")" -ge 1 ] || fail "run 3: no unknown-session message sent"
for n in 2 3; do
	awk -v s="${door_s[n]}" -v k="$KEY_INT" -v f="$FPS" 'BEGIN { exit !(s <= 2 + k / f) }' ||
		fail "run $n: the Identity camera was back only ${door_s[n]} s after vigild (want within 2 s and a key frame interval)"
done
check_counter "run 3" "$work/run3.json" .replay_state.write_errors 0
[ "$(jq '.replay_state.writes' "$work/run1.json")" -ge 2 ] ||
	fail "run 1: the replay state was written $(jq '.replay_state.writes' "$work/run1.json") times"

# A state file cut short: set aside, reported, and vigild runs on.
truncate -s 50 "$work/state/replay.state"
test_start_vigild "$vigild" "$work/vigil.conf" "$work/run4.json" "$work/run4.log"
proc_stop "$PROC_PID" INT 60 || fail "run 4: vigild exited non-zero after SIGINT"
grep -q "replay.state: .*set aside as" "$work/run4.log" || fail "run 4: the corrupt state file was not reported"
check_counter "run 4" "$work/run4.json" .replay_state.set_aside true
check_counter "run 4" "$work/run4.json" .replay_state.resumed 0
ls "$work/state"/replay.state.corrupt-* >/dev/null 2>&1 || fail "run 4: the corrupt state file was not kept aside"

# ---- the recording -------------------------------------------------------------------

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }
frame_md5 -i "$work/cam.ref" >"$work/ref.md5"
[ "$(sort -u "$work/ref.md5" | wc -l)" = "$FRAMES" ] || fail "the camera's frames are not all different"
frame_md5 -i "$work/rec/cam/index.m3u8" >"$work/rec.md5"
# Each recorded frame's place in what the camera sent; the gaps.
awk 'NR == FNR { at[$1] = FNR; next }
     !($1 in at) { print "foreign"; next }
     { print at[$1] }' "$work/ref.md5" "$work/rec.md5" >"$work/rec.idx"
grep -q foreign "$work/rec.idx" && fail "$(grep -c foreign "$work/rec.idx") recorded frames are not the camera's"
sort -n -c "$work/rec.idx" 2>/dev/null || fail "recorded frames out of order or recorded twice (a replay got through)"
[ "$(sort -u "$work/rec.idx" | wc -l)" = "$(wc -l <"$work/rec.idx")" ] || fail "a frame was recorded twice"
awk 'NR > 1 && $1 > prev + 1 { print prev, $1 - prev - 1 } { prev = $1 }' "$work/rec.idx" >"$work/gaps"
[ "$(wc -l <"$work/gaps")" = 2 ] || fail "frames lost in $(wc -l <"$work/gaps") places, want 2 (one per restart): $(tr '\n' ' ' <"$work/gaps")"
n=2
while read -r at lost; do
	allowed=$(awk -v d="${down_s[n]}" -v f="$FPS" -v k="$KEY_INT" 'BEGIN { printf "%d", d * f + k + f / 2 }')
	back=$(awk -v l="$lost" -v d="${down_s[n]}" -v f="$FPS" 'BEGIN { printf "%.2f", l / f - d }')
	note "restart $((n - 1)) (run $n, SIG$([ $n = 2 ] && echo TERM || echo KILL)): vigild away ${down_s[n]} s; $lost frames lost after frame $at; recording again ${back} s after it was back"
	[ "$lost" -le "$allowed" ] ||
		fail "restart $((n - 1)): $lost frames lost, more than the ${down_s[n]} s away and one key frame interval ($allowed)"
	n=$((n + 1))
done <"$work/gaps"
test_finish restart
