#!/bin/bash
# SPDX-License-Identifier: MIT
# Live load over shared memory (issue 16): vigil-cam's cameras send over a
# DPDK memif port (client) into vigild's (Device = net_memif0,role=server),
# no socket and no network namespace between them. Paced at the clip's
# frame rate: every packet received, decrypted and every frame recorded,
# the clip's in its place. Unpaced (as fast as vigil-cam goes, memif
# slowing it to what vigild takes): still every packet received and
# decrypted, the counters adding up; the rate is printed (a figure, not
# an assertion).
#
# usage: memif.sh BUILD_DIR|VIGILD VIGIL_CAM [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} vigil_cam=${2:-} scratch=${3:-}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_tools ffmpeg jq
require_aesni
require_root "hugepages for vigild"
vigild=$(vigild_path "$target")
require_vigild "$vigild"
[ -x "$vigil_cam" ] || { echo "FAIL: vigil-cam not found at $vigil_cam" >&2; exit 1; }
test_begin memif "$scratch"

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=640x360:rate=30 -t 2 -c:v libx264 -g 30 -bf 0 -b:v 1M \
	-pix_fmt yuv420p -f h264 "$work/clip" || { fail "ffmpeg cannot make the clip"; test_finish memif; }
frame_md5 -i "$work/clip" >"$work/clip.md5"

# run LABEL CAMERAS SECONDS VIGIL_CAM_OPTIONS...
run() {
	local label=$1 cameras=$2 seconds=$3 dir=$work/$1 sock packets frames c
	shift 3
	mkdir -p "$dir"
	sock=$dir/memif.sock
	"$vigil_cam" --clip "$work/clip" --codec h264 --cameras $cameras --seconds 0.1 --seed memif \
		--out /dev/null --config "$dir/vigil.conf" --record-dir "$dir/rec" >/dev/null ||
		{ fail "$label: vigil-cam failed"; return; }
	sed -i "/^\[Ingest\]/a Device = net_memif0,role=server,socket=$sock,socket-abstract=no\nStateDir = $dir/state" \
		"$dir/vigil.conf"
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log"
	"$vigil_cam" --clip "$work/clip" --codec h264 --cameras $cameras --seconds "$seconds" --seed memif \
		--live "memif:$sock" --config "$dir/live.conf" "$@" >"$dir/sent.json" 2>"$dir/cam.log" ||
		fail "$label: vigil-cam --live memif failed: $(tail -n 3 "$dir/cam.log")"
	sleep 1
	proc_stop "$PROC_PID" INT 60 || fail "$label: vigild exited non-zero after SIGINT: $(tail -n 3 "$dir/vigild.log")"
	check_invariant "$label" "$dir/summary.json"
	[ -s "$dir/sent.json" ] || { fail "$label: vigil-cam printed nothing"; return; }
	packets=$(jq .packets "$dir/sent.json")
	check_counter "$label" "$dir/sent.json" .send_errors 0
	# Nothing else on the port: every packet received is one sent.
	check_counter "$label" "$dir/summary.json" .totals.rx_packets "$packets"
	check_counter "$label" "$dir/summary.json" .totals.decrypted "$packets"
	check_counter "$label" "$dir/summary.json" .totals.auth_failed 0
	if [ "$label" = paced ]; then
		frames=$(jq .frames "$dir/sent.json")
		check_counter "$label" "$dir/summary.json" .totals.frames_recorded "$frames"
		for ((i = 0; i < $(jq .frames_per_camera "$dir/sent.json"); i++)); do
			sed -n "$((i % 60 + 1))p" "$work/clip.md5"
		done >"$dir/want.md5"
		for c in $(seq -f '%05g' 0 $((cameras - 1))); do
			frame_md5 -i "$dir/rec/cam$c/index.m3u8" >"$dir/cam$c.md5" 2>/dev/null
			cmp -s "$dir/want.md5" "$dir/cam$c.md5" ||
				fail "$label: cam$c's recording is not the clip looped ($(wc -l <"$dir/cam$c.md5") frames)"
		done
	fi
	echo "$label: $packets packets in $(jq .elapsed_s "$dir/sent.json") s" \
		"($(jq '.packets / .elapsed_s / 100 | floor / 10' "$dir/sent.json") kpps), all received and decrypted;" \
		"$(jq .totals.frames_recorded "$dir/summary.json") of $(jq .frames "$dir/sent.json") frames recorded"
}

run paced 4 4
run unpaced 200 10 --unpaced
test_finish memif
