#!/bin/bash
# SPDX-License-Identifier: MIT
# Several workers: three GStreamer cameras (two H.264, one H.265) stream at
# once from a network namespace into vigild with Workers = 2 (and two
# recorder threads, each with its own cameras' rings from both), live on
# af_packet with two queue pairs (kernel fan-out), then the capture of the
# same traffic through `vigild --pcap` (one queue: the first worker hands
# packets to the owner of their camera). Every camera's recording must equal
# its reference frame for frame and every packet be decrypted exactly once;
# a debug build aborts if a stream is ever touched by two workers.
#
# usage: workers.sh BUILD_DIR|VIGILD [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
PYTHON=${PYTHON:-/usr/bin/python3}
FRAMES=120

target=${1:-} scratch=${2:-}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root
require_tools ip tcpdump gst-launch-1.0 ffmpeg jq flock "$PYTHON"
for e in x264enc x265enc srtpenc; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
test_begin workers "$scratch"
vigil_netns_create workers

# name codec ssrc port
cameras=("north h264 1001 5004" "south h264 2002 5006" "gate h265 3003 5008")
{
	printf '[Ingest]\nPorts = 5004-5008\nRecordDir = %s/rec-live\nStateDir = %s/state\nWorkers = 2\nRecorders = 2\nSegmentSeconds = 2\n' "$work" "$work"
	printf 'Device = net_af_packet0,iface=%s,qpairs=2\n' "$VIGIL_VETH_ROOT"
} >"$work/vigil.conf"
for c in "${cameras[@]}"; do
	read -r name codec ssrc port <<<"$c"
	head -c 44 /dev/urandom >"$work/$name.key"
	printf '[Camera]\nName = %s\nSSRC = %s\nKey = %s\nCodec = %s\n' "$name" "$ssrc" \
		"$(base64 -w0 <"$work/$name.key")" "${codec^^}" >>"$work/vigil.conf"
done
chmod 600 "$work/vigil.conf"

test_start_capture "$work/tcpdump.log" tcpdump -i "$VIGIL_VETH_ROOT" -n -s 0 -U -w "$work/cap.pcap" \
	"udp and dst portrange 5004-5008"
tcpdump_pid=$PROC_PID
test_start_vigild "$vigild" "$work/vigil.conf" "$work/live.json" "$work/live.log"
vigild_pid=$PROC_PID
grep -q "2 worker(s), the device's own spreading over 2 RX queues" "$work/live.log" ||
	fail "vigild did not spread over 2 queues: $(grep worker "$work/live.log")"
grep -q "2 recorder thread(s)" "$work/live.log" || fail "vigild did not start 2 recorder threads: $(grep worker "$work/live.log")"

pids=()
for c in "${cameras[@]}"; do
	read -r name codec ssrc port <<<"$c"
	"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec "$codec" --key "$(od -An -tx1 -v "$work/$name.key" | tr -d ' \n')" \
		--ssrc "$ssrc" --num-buffers "$FRAMES" --key-int 30 --size 320x240 --seqnum-offset $((65535 - ssrc / 10)) \
		--dest "$VIGIL_IP_ROOT:$port" --ref "$work/$name.ref" >"$work/$name.gst.log" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { fail "a GStreamer camera failed"; exit 1; }; done
sleep 1
proc_stop "$vigild_pid" INT 60 || fail "vigild exited non-zero after SIGINT"
proc_stop "$tcpdump_pid" INT 10 || true

frame_md5() { ffmpeg -nostdin -v error "$@" -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }

# check LABEL SUMMARY RECORD_DIR
check() {
	local label=$1 summary=$2 dir=$3 name codec ssrc port sent got k
	for c in "${cameras[@]}"; do
		read -r name codec ssrc port <<<"$c"
		sent=$(tcpdump -r "$work/cap.pcap" -n "udp dst port $port" 2>/dev/null | wc -l)
		got=$(jq ".cameras.$name.decrypted" "$summary")
		[ "$got" = "$sent" ] || fail "$label: $name decrypted $got of $sent packets"
		frame_md5 -i "$work/$name.ref" >"$work/$name.ref.md5"
		cat "$dir/$name"/*.ts >"$work/$label-$name.ts"
		frame_md5 -i "$work/$label-$name.ts" >"$work/$label-$name.md5"
		if cmp -s "$work/$name.ref.md5" "$work/$label-$name.md5"; then
			echo "$label: $name: $(wc -l <"$work/$name.ref.md5") frames identical to the reference"
		else
			fail "$label: $name: recording differs from the reference ($(wc -l <"$work/$label-$name.md5") vs $(wc -l <"$work/$name.ref.md5") frames)"
		fi
	done
	for k in auth_failed replayed unknown_ssrc handoff_full frames_dropped late; do
		got=$(jq ".totals.$k" "$summary")
		[ "$got" = 0 ] || fail "$label: totals.$k = $got, want 0"
	done
}

check live "$work/live.json" "$work/rec-live"
# The capture of the live run, replayed without its replay state.
grep -v '^StateDir' "$work/vigil.conf" >"$work/pcap.conf"
chmod 600 "$work/pcap.conf"
timeout 120 "$vigild" --config "$work/pcap.conf" --pcap "$work/cap.pcap" --record-dir "$work/rec-pcap" \
	>"$work/pcap.json" 2>"$work/pcap.log" || fail "vigild --pcap failed: $(tail -n 5 "$work/pcap.log")"
grep -q "2 worker(s), one RX queue" "$work/pcap.log" || fail "capture run did not use 2 workers"
check pcap "$work/pcap.json" "$work/rec-pcap"
# Only the first worker reads the capture; north and gate belong to the
# second (by SSRC), so each of their packets must have been handed over.
want=$(jq '.cameras.north.decrypted + .cameras.gate.decrypted' "$work/pcap.json")
got=$(jq '.totals.handed_off' "$work/pcap.json")
[ "$got" = "$want" ] || fail "pcap: handed_off = $got, want $want (north + gate)"

check_invariant live "$work/live.json"
check_invariant pcap "$work/pcap.json"
test_finish workers
