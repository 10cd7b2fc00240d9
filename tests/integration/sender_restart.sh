#!/bin/bash
# SPDX-License-Identifier: MIT
# A camera under a static key (vigil-stream --key-file --state) run four
# times (three restarts) never repeats a packet index, so never an AES-GCM nonce: it
# streams from a network namespace into vigild live on af_packet, runs to
# its end, is killed with SIGKILL and with SIGTERM mid-stream (each after
# it has reserved indices at least twice), and runs again, all under the
# same key and state file. tcpdump captures each run; srtp_index decrypts
# every packet with the key, trying ROCs, to find its true 48-bit index,
# and checks that no index repeats, that each run starts above every index
# before it, at most VIGIL_INDEX_RESERVE + 1 past the last one sent, and
# that RFC 3711's estimate (a receiver that saw every run) finds each
# packet's index; vigild decrypts every packet it receives, none replayed
# or refused, and sees no camera back under the same key.
# The checker is shown to see a repeat (a run fed to it twice). Refused:
# --key-file without --state, and a corrupt state file (nothing sent, the
# file left as it was).
#
# usage: sender_restart.sh BUILD_DIR [SCRATCH_DIR]  (vigild, vigil-stream, srtp_index under it)
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
build=${1:?usage: sender_restart.sh BUILD_DIR [SCRATCH_DIR]} scratch=${2:-}
RESERVE=8192 # VIGIL_INDEX_RESERVE (cam/index_store.h)
SSRC=3054

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces"
require_tools ip ffmpeg jq tcpdump od
require_aesni
vigild=$build/control/vigild stream=$build/examples/vigil-stream index=$build/tests/integration/srtp_index
require_vigild "$vigild"
test_begin sender_restart "$scratch"
vigil_netns_create sender-restart

ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -t 2 -c:v libx264 -g 30 -bf 0 \
	-pix_fmt yuv420p -f h264 "$work/clip.h264" || { fail "ffmpeg cannot make the clip"; exit 1; }
head -c 44 /dev/urandom | base64 -w0 >"$work/cam.key"
state=$work/cam/state
mkdir -p "$work/cam"
{
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\nDevice = net_af_packet0,iface=%s\n' \
		"$work" "$work" "$VIGIL_VETH_ROOT"
	printf '[Camera]\nName = porch\nSSRC = %s\nKey = %s\nCodec = H264\n' "$SSRC" "$(cat "$work/cam.key")"
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf"
test_start_vigild "$vigild" "$work/vigil.conf" "$work/summary.json" "$work/vigild.log"
vigild_pid=$PROC_PID

# The state's reserved limit (bytes 16-23, big-endian), or 0 without one.
limit() { [ -f "$state" ] && echo $((16#$(od -An -tx1 -j16 -N8 "$state" | tr -d ' \n'))) || echo 0; }

# cam NAME LOOPS [STOP_SIGNAL]: one run, captured on its own. With a
# signal, the run is stopped by it once the state has moved twice (two
# reservations: it is mid-stream, past a reservation of its own).
cam() {
	local name=$1 loops=$2 sig=${3:-} from pid rc=0
	test_start_capture "$work/$name.tcpdump.log" ip netns exec "$VIGIL_NS" \
		tcpdump -i "$VIGIL_VETH_CAM" -B 32768 -U -w "$work/$name.pcap" udp dst port 5004
	local tcpdump_pid=$PROC_PID
	from=$(limit)
	ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/clip.h264" --ssrc "$SSRC" \
		--key-file "$work/cam.key" --state "$state" --fps 600 --payload 200 --loops "$loops" \
		>"$work/$name.json" 2>"$work/$name.log" &
	pid=$!
	proc_track "$pid"
	if [ -n "$sig" ]; then
		for ((i = 0; i < 200; i++)); do
			[ "$(limit)" -ge $((from + 2 * RESERVE)) ] && break
			sleep 0.05
		done
		[ "$(limit)" -ge $((from + 2 * RESERVE)) ] || fail "$name: the state did not move twice in 10 s"
		kill -s "$sig" "$pid" 2>/dev/null || true
	fi
	wait "$pid" || rc=$?
	proc_forget "$pid"
	if [ -n "$sig" ]; then
		[ "$rc" = $((128 + $(kill -l "$sig"))) ] || fail "$name: exit $rc, not killed by SIG$sig"
	else
		[ "$rc" = 0 ] || fail "$name: vigil-stream failed ($rc): $(cat "$work/$name.log")"
	fi
	sleep 1.5 # tcpdump hands over a block of packets at least every second
	proc_stop "$tcpdump_pid" INT 10 || true
	grep -q "^0 packets dropped by kernel" "$work/$name.tcpdump.log" ||
		fail "$name: tcpdump dropped packets: $(cat "$work/$name.tcpdump.log")"
	note "$name: $(head -n 1 "$work/$name.log"), then $(limit)"
}

# ---- refused -------------------------------------------------------------------
rc=0
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/clip.h264" --ssrc "$SSRC" \
	--key-file "$work/cam.key" >"$work/nostate.json" 2>"$work/nostate.log" || rc=$?
[ "$rc" = 1 ] && grep -q -- "--key-file needs --state FILE" "$work/nostate.log" && [ ! -s "$work/nostate.json" ] ||
	fail "--key-file without --state: exit $rc, $(cat "$work/nostate.log")"

# ---- four runs under one key and state ---------------------------------------------
# The first starts a stream (no state); the rest resume from the state.
cam a 30          # to its end: ~13,000 packets, two reservations
cam b 400 KILL    # mid-stream, as a crash
cam c 400 TERM    # mid-stream, as a stop
cam d 5           # to its end
grep -q "no state yet: a new stream at index" "$work/a.log" || fail "a: $(cat "$work/a.log")"
for r in b c d; do
	grep -q "resumed at index" "$work/$r.log" || fail "$r did not resume: $(cat "$work/$r.log")"
done
sleep 1
proc_stop "$vigild_pid" INT 60 || fail "vigild exited non-zero after SIGINT: $(tail -n 3 "$work/vigild.log")"

"$index" --key-file "$work/cam.key" --ssrc "$SSRC" --port 5004 "$work"/{a,b,c,d}.pcap >"$work/index.json" ||
	fail "srtp_index failed"
note "$(cat "$work/index.json")"
j() { jq -r "$1" "$work/index.json"; }
total=$(j .packets)
# a: some 13,000; b and c: killed just past their second reservation, some
# 8,200 each; d: some 2,200 (4 x RESERVE was the expected total itself)
[ "$total" -gt $((3 * RESERVE)) ] || fail "only $total packets captured"
for k in not_authentic repeated estimate_wrong backwards; do
	[ "$(j ".$k")" = 0 ] || fail "$k = $(j ".$k") (want 0)"
done
[ "$(j .max_jump)" -ge 1 ] && [ "$(j .max_jump)" -le $((RESERVE + 1)) ] ||
	fail "a restart moved the index by $(j .max_jump), beyond $((RESERVE + 1))"
for i in 0 1 2 3; do
	[ "$(j ".runs[$i].packets")" -gt 0 ] || fail "run $i: nothing captured"
done
[ "$(j '.runs[0].packets')" = "$(jq .packets "$work/a.json")" ] || fail "a: sent $(jq .packets "$work/a.json"), captured $(j '.runs[0].packets')"
[ "$(j '.runs[3].packets')" = "$(jq .packets "$work/d.json")" ] || fail "d: sent $(jq .packets "$work/d.json"), captured $(j '.runs[3].packets')"
[ "$(jq .reservations "$work/a.json")" = 2 ] || fail "a: $(jq .reservations "$work/a.json") reservations, want 2"
[ "$(jq .next_index "$work/d.json")" = $(($(j '.runs[3].last') + 1)) ] || fail "d: next_index is not past its last packet"
note "reservation (write, fdatasync, rename, fsync dir): slowest $(jq .reserve_max_us "$work/a.json") us in run a"

# A receiver that saw every run: vigild, whose ROC estimate follows each
# restart. Every packet of the camera it received decrypted, none refused
# (af_packet may lose some on a busy machine; those are not counted).
s=$work/summary.json
check_counter porch "$s" .totals.decrypted \
	"$(jq '.totals.rx_packets - .totals.not_ip - .totals.not_udp' "$s")"
check_counter porch "$s" .totals.auth_failed 0
check_counter porch "$s" .totals.replayed 0
check_counter porch "$s" .totals.roc_trials 0
check_counter porch "$s" .totals.same_key_restart 0
check_counter porch "$s" .cameras.porch.decrypted "$(jq .totals.decrypted "$s")"
[ "$(jq .totals.decrypted "$s")" -ge $((total * 9 / 10)) ] ||
	fail "vigild decrypted $(jq .totals.decrypted "$s") of the $total packets captured"

# The checker sees a repeat: the first run twice.
"$index" --key-file "$work/cam.key" --ssrc "$SSRC" --port 5004 "$work"/{a,a}.pcap >"$work/twice.json"
[ "$(jq .repeated "$work/twice.json")" = "$(j '.runs[0].packets')" ] && [ "$(jq .backwards "$work/twice.json")" = 1 ] ||
	fail "srtp_index does not see a run sent twice: $(cat "$work/twice.json")"

# ---- a corrupt state: refused, left as it was, nothing sent ------------------------------
cp "$state" "$work/state.good"
byte=$(od -An -tx1 -j20 -N1 "$state" | tr -d ' \n')
printf "\\x$(printf %02x $((16#$byte ^ 1)))" | dd of="$state" bs=1 seek=20 conv=notrunc status=none
cp "$state" "$work/state.bad"
rc=0
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/clip.h264" --ssrc "$SSRC" \
	--key-file "$work/cam.key" --state "$state" >"$work/corrupt.json" 2>"$work/corrupt.log" || rc=$?
[ "$rc" = 1 ] && grep -q "corrupt" "$work/corrupt.log" && [ ! -s "$work/corrupt.json" ] ||
	fail "a corrupt state: exit $rc, $(cat "$work/corrupt.log")"
cmp -s "$state" "$work/state.bad" || fail "the corrupt state file was changed"
test_finish sender_restart
