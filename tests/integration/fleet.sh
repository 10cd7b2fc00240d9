#!/bin/bash
# SPDX-License-Identifier: MIT
# A fleet from vigil-cam through vigild: a real clip (ffmpeg's test
# pattern, H.264 and H.265) sent by many cameras, each with its own key and
# SSRC, looped with timestamps and sequence numbers that go on, replayed
# with vigild --pcap; then, as root, the same live: vigil-cam sending at
# the clip's pace from a network namespace into vigild on af_packet. Every
# packet decrypts, every frame of every camera is recorded, and what some
# cameras' playlists play is the clip, frame for frame, looped.
#
# usage: fleet.sh BUILD_DIR|VIGILD VIGIL_CAM [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} vigil_cam=${2:-} scratch=${3:-}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_tools ffmpeg jq
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
[ -x "$vigil_cam" ] || { echo "FAIL: vigil-cam not found at $vigil_cam" >&2; exit 1; }
test_begin fleet "$scratch"

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }

# run capture|live CODEC ENCODER CAMERAS SECONDS
run() {
	local mode=$1 codec=$2 encoder=$3 cameras=$4 seconds=$5 dir=$work/$1-$2 sent frames c cam_codec
	cam_codec=$([ "$codec" = hevc ] && echo h265 || echo h264)
	mkdir -p "$dir"
	ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -t 2 -c:v "$encoder" -g 30 -bf 0 \
		-pix_fmt yuv420p $([ "$encoder" = libx265 ] && echo -x265-params log-level=error) \
		-f "$codec" "$dir/clip" || { fail "$codec: ffmpeg cannot make the clip"; return; }
	if [ "$mode" = capture ]; then
		"$vigil_cam" --clip "$dir/clip" --codec "$cam_codec" --cameras "$cameras" --seconds "$seconds" \
			--out "$dir/fleet.pcap" --config "$dir/vigil.conf" --record-dir "$dir/rec" >"$dir/sent.json" ||
			{ fail "$codec: vigil-cam failed"; return; }
		timeout 120 "$vigild" --config "$dir/vigil.conf" --pcap "$dir/fleet.pcap" >"$dir/summary.json" \
			2>"$dir/vigild.log" || { fail "$codec: vigild failed: $(tail -n 3 "$dir/vigild.log")"; return; }
	else
		# The configuration first, then the same cameras (--seed) live.
		"$vigil_cam" --clip "$dir/clip" --codec "$cam_codec" --cameras "$cameras" --seconds 0.1 --seed fleet \
			--out /dev/null --config "$dir/vigil.conf" --record-dir "$dir/rec" >/dev/null ||
			{ fail "$codec: vigil-cam failed"; return; }
		sed -i "/^\[Ingest\]/a Device = net_af_packet0,iface=$VIGIL_VETH_ROOT\nStateDir = $dir/state" "$dir/vigil.conf"
		test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log"
		ip netns exec "$VIGIL_NS" "$vigil_cam" --clip "$dir/clip" --codec "$cam_codec" --cameras "$cameras" \
			--seconds "$seconds" --seed fleet --live "$VIGIL_VETH_CAM" --config "$dir/live.conf" >"$dir/sent.json" ||
			fail "$codec: vigil-cam --live failed"
		sleep 1
		proc_stop "$PROC_PID" INT 60 || fail "$codec: vigild exited non-zero after SIGINT"
	fi
	sent=$(jq .packets "$dir/sent.json")
	frames=$(jq .frames_per_camera "$dir/sent.json")
	check_counter "$codec" "$dir/summary.json" .totals.rx_packets "$sent"
	check_counter "$codec" "$dir/summary.json" .totals.decrypted "$sent"
	check_counter "$codec" "$dir/summary.json" .totals.frames_recorded $((cameras * frames))
	check_counter "$codec" "$dir/summary.json" .totals.frames_dropped 0
	[ "$(jq '[.cameras[] | select(.frames_recorded != '"$frames"')] | length' "$dir/summary.json")" = 0 ] ||
		fail "$codec: a camera did not record all its $frames frames"
	# The clip's 60 frames, looped to the length sent.
	frame_md5 -i "$dir/clip" >"$dir/clip.md5"
	for ((i = 0; i < frames; i++)); do sed -n "$((i % 60 + 1))p" "$dir/clip.md5"; done >"$dir/want.md5"
	for c in 00000 $(printf '%05d' $((cameras / 2))) $(printf '%05d' $((cameras - 1))); do
		frame_md5 -i "$dir/rec/cam$c/index.m3u8" >"$dir/cam$c.md5"
		cmp -s "$dir/want.md5" "$dir/cam$c.md5" ||
			fail "$codec: cam$c's recording is not the clip ($(wc -l <"$dir/cam$c.md5") of $frames frames)"
	done
	echo "$mode $codec: $cameras cameras, $sent packets, $((cameras * frames)) frames recorded; three cameras checked frame for frame"
}

# open_files: the capture h264 fleet again, vigild under a limit of 256 open
# files, far below what its 200 cameras need (a segment each and a second
# descriptor for unaligned writes): vigild raises the limit where it may
# (root with CAP_SYS_RESOURCE), and every frame is recorded; where it may
# not, it says so at start. Before, it said nothing and recorded nothing
# (every open failed with EMFILE).
open_files() {
	local dir=$work/capture-h264 limited=$work/open-files frames
	mkdir -p "$limited"
	sed "s|^RecordDir = .*|RecordDir = $limited/rec|" "$dir/vigil.conf" >"$limited/vigil.conf"
	chmod 600 "$limited/vigil.conf"
	(ulimit -n 256 && timeout 120 "$vigild" --config "$limited/vigil.conf" --pcap "$dir/fleet.pcap") \
		>"$limited/summary.json" 2>"$limited/vigild.log" || { fail "open files: vigild failed: $(tail -n 3 "$limited/vigild.log")"; return; }
	frames=$(jq .frames_per_camera "$dir/sent.json")
	if grep -q 'open files are limited to 256 (RLIMIT_NOFILE) and cannot be raised: MaxCameras = 200' "$limited/vigild.log"; then
		echo "open files: the limit could not be raised here (no CAP_SYS_RESOURCE); vigild said so"
	else
		check_counter "open files" "$limited/summary.json" .totals.frames_recorded $((200 * frames))
		check_counter "open files" "$limited/summary.json" .totals.write_errors 0
		echo "open files: vigild raised the limit; every frame recorded"
	fi
}

run capture h264 libx264 200 3
open_files
run capture hevc libx265 40 3
if [ "$(id -u)" = 0 ]; then
	vigil_netns_create fleet
	run live h264 libx264 30 3
else
	echo "live: skipped (needs root for the network namespace)"
fi
test_finish fleet
