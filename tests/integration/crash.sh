#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 while recording. A GStreamer H.264 camera streams live from a
# network namespace into vigild (af_packet, SegmentSeconds = 2,
# MaxUnsyncedSeconds = 1); vigild is killed with SIGKILL at random moments
# and started again on the same RecordDir, three times, then stopped
# cleanly. At each kill, the segment being written must hold what arrived
# up to MaxUnsyncedSeconds before it. At the end: no .partial is left,
# every segment decodes without a single error, the playlist lists every
# segment in order (a discontinuity at each restart) and ends, and every
# frame played through it is one of the camera's own frames.
#
# usage: crash.sh BUILD_DIR|VIGILD [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
FRAMES=540 # 18 s at 30 frames/s
KILLS=3
MAX_UNSYNCED=1

target=${1:-} scratch=${2:-}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root
require_tools ip gst-launch-1.0 ffmpeg ffprobe stat
for e in x264enc srtpenc; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
test_begin crash "$scratch"
vigil_netns_create crash

head -c 44 /dev/urandom >"$work/cam.key"
{
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\nSegmentSeconds = 2\nMaxUnsyncedSeconds = %s\n' \
		"$work" "$work" "$MAX_UNSYNCED"
	printf 'Device = net_af_packet0,iface=%s\nMaxCameras = 16\n' "$VIGIL_VETH_ROOT"
	printf '[Camera]\nName = cam\nSSRC = 4242\nKey = %s\nCodec = H264\n' "$(base64 -w0 <"$work/cam.key")"
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf"
dir=$work/rec/cam

test_start_vigild "$vigild" "$work/vigil.conf" "$work/run0.json" "$work/run0.log"
vigild_pid=$PROC_PID
"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec h264 --key "$(od -An -tx1 -v "$work/cam.key" | tr -d ' \n')" \
	--ssrc 4242 --num-buffers "$FRAMES" --key-int 30 --size 320x240 --pattern ball \
	--dest "$VIGIL_IP_ROOT:5004" --ref "$work/cam.ref" >"$work/gst.log" 2>&1 &
gst_pid=$!

for ((k = 1; k <= KILLS; k++)); do
	sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 2.5 + r % 150 / 100 }')"
	kill -KILL "$vigild_pid"
	killed_at=$EPOCHREALTIME
	wait "$vigild_pid" 2>/dev/null || true
	proc_forget "$vigild_pid"
	partial=$(ls "$dir"/*.ts.partial 2>/dev/null | tail -n 1)
	if [ -z "$partial" ]; then
		fail "kill $k: no segment was being written"
	else
		# What reached the file: at most MaxUnsyncedSeconds (and the
		# recorder's tenth-of-that check) before the kill.
		lag=$(awk -v a="$killed_at" -v b="$(stat -c '%.9Y' "$partial")" 'BEGIN { printf "%.3f", a - b }')
		note "kill $k: $(basename "$partial") last written ${lag}s before the kill"
		awk -v l="$lag" -v m="$MAX_UNSYNCED" 'BEGIN { exit !(l <= m + 0.3) }' ||
			fail "kill $k: ${lag}s of recording only in memory, more than MaxUnsyncedSeconds = $MAX_UNSYNCED"
	fi
	test_start_vigild "$vigild" "$work/vigil.conf" "$work/run$k.json" "$work/run$k.log"
	vigild_pid=$PROC_PID
	grep -q "cut short by a crash recovered" "$work/run$k.log" ||
		fail "restart $k: no recovery reported: $(grep recorder "$work/run$k.log" | head -n 3)"
done
wait "$gst_pid" || { fail "the GStreamer camera failed: $(tail -n 5 "$work/gst.log")"; exit 1; }
sleep 1
proc_stop "$vigild_pid" INT 60 || fail "vigild exited non-zero after SIGINT"

# ---- what is on disk ---------------------------------------------------------------

[ -z "$(ls "$dir"/*.partial 2>/dev/null)" ] || fail "left over: $(ls "$dir"/*.partial)"
segments=$(cd "$dir" && ls ./*.ts | sed 's|^\./||')
n=$(echo "$segments" | wc -l)
for s in $segments; do
	errs=$(ffmpeg -nostdin -v error -i "$dir/$s" -f null - 2>&1 | head -n 3)
	[ -z "$errs" ] || fail "$s does not decode cleanly: $errs"
done
listed=$(grep -v '^#' "$dir/index.m3u8")
[ "$listed" = "$segments" ] || fail "the playlist lists $(echo "$listed" | wc -l) segments, $n are on disk"
[ "$(tail -n 1 "$dir/index.m3u8")" = "#EXT-X-ENDLIST" ] || fail "the playlist does not end"
disc=$(grep -c '^#EXT-X-DISCONTINUITY' "$dir/index.m3u8" || true)
[ "$disc" -ge "$KILLS" ] || fail "$disc discontinuities in the playlist, want at least $KILLS"

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }
frame_md5 -i "$work/cam.ref" | sort -u >"$work/ref.md5"
frame_md5 -i "$dir/index.m3u8" >"$work/rec.md5"
played=$(wc -l <"$work/rec.md5")
foreign=$(sort -u "$work/rec.md5" | comm -23 - "$work/ref.md5" | wc -l)
[ "$foreign" = 0 ] || fail "$foreign frames played from the playlist are not the camera's"
# Each restart costs the frames sent while vigild starts, and the frames
# until the next key frame.
[ "$played" -ge $((FRAMES / 2)) ] || fail "only $played of $FRAMES frames recorded"
note "$n segments, $disc discontinuities; $played of $FRAMES frames play through the playlist, all the camera's"
test_finish crash
