#!/bin/bash
# SPDX-License-Identifier: MIT
# Power cuts while recording. vigild records live (af_packet) GStreamer
# H.264 cameras streaming from a network namespace onto the power-cut
# filesystem (tests/tools/powercut_fs.py: in memory, it keeps only what was
# fsync'd, and names only once their folder was fsync'd). At random moments
# the power is cut: the filesystem keeps what a disk would (all that was not
# synced is lost; the second cut of each run also keeps a random torn prefix
# of it) and vigild is killed with SIGKILL at once; then vigild starts again
# on what survived (recovery). Two runs: a plain MPEG-TS camera beside a
# sealed one (OwnerKey), then an fMP4 camera (RecordFormat applies to the
# whole [Ingest]).
#
# Checked at the end, per camera, against what the camera sent (a capture
# gives the moment each frame went out, its reference stream the frames):
# every segment decodes cleanly to a run of the camera's frames (sealed ones
# opened with vigil-open, --partial only for one cut by a crash); frames are
# missing only across a cut; before each cut at most MaxUnsyncedSeconds of
# video is lost, plus one frame (recovery drops the last frame of a cut
# segment, which a crash usually tears), plus for a sealed camera the
# plaintext of one chunk (64 KiB, held until full) and for fMP4 one
# fragment (1 s, written when complete); the playlist lists exactly the
# segments on disk, with a discontinuity at each gap, and ends. The
# filesystem also measures, per segment file, how long a write stayed
# unsynced: never more than MaxUnsyncedSeconds, and every open segment got
# fdatasyncs (io_uring's IORING_OP_FSYNC reaching FUSE_FSYNC).
#
# usage: crash.sh BUILD_ROOT [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip. CRASH_SEED=N repeats a run's random choices.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
FPS=30
MAX_UNSYNCED=1
SEGMENT_SECONDS=4 # longer than MaxUnsyncedSeconds, so a missing fdatasync shows
# What scheduling and an fdatasync may add to MaxUnsyncedSeconds.
SLACK=0.15

build=${1:-} scratch=${2:-}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
# shellcheck source=../tools/powercut.sh
source "$tools/powercut.sh"
require_root "network namespaces, FUSE"
require_tools ip gst-launch-1.0 gst-inspect-1.0 ffmpeg jq tcpdump
for e in x264enc srtpenc; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
require_aesni
require_powercut
vigild=$(vigild_path "$build")
require_vigild "$vigild"
vigil_open=$(realpath -m "$build/tools/vigil-open")
[ -x "$vigil_open" ] || { echo "FAIL: vigil-open not found at $vigil_open" >&2; exit 1; }
test_begin crash "$scratch"
vigil_netns_create crash
seed=${CRASH_SEED:-$RANDOM}
RANDOM=$seed
note "seed $seed (CRASH_SEED=$seed repeats these cuts)"

mnt=$work/mnt image=$work/fs.image fslog=$work/fs.log
powercut_start "$mnt" "$image" "$fslog"
test_start_capture "$work/tcpdump.log" tcpdump -i "$VIGIL_VETH_ROOT" -U -w "$work/cap.pcap" udp port 5004
tcpdump_pid=$PROC_PID
"$vigil_open" --keygen "$work/owner.key" >"$work/owner.pub"

declare -A ssrc_of=([plain]=4242 [sealed]=4243 [fmp4]=4244)
# The sealed camera films noise: at x264's 2 Mbit/s it fills its 64 KiB
# chunks in about a quarter of a second, so that cuts leave whole chunks to
# recover (a quiet picture takes seconds to fill one).
declare -A pattern_of=([plain]=ball [sealed]=snow [fmp4]=ball)
declare -A cuts_of=()

# config FORMAT CAMERA...: vigild's configuration for one run.
config() {
	local format=$1 cam
	shift
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\nRecordFormat = %s\n' \
		"$mnt" "$work" "$format"
	printf 'SegmentSeconds = %s\nMaxUnsyncedSeconds = %s\n' "$SEGMENT_SECONDS" "$MAX_UNSYNCED"
	printf 'Device = net_af_packet0,iface=%s\nMaxCameras = 16\n' "$VIGIL_VETH_ROOT"
	for cam in "$@"; do
		printf '[Camera]\nName = %s\nSSRC = %s\nKey = %s\nCodec = H264\n' \
			"$cam" "${ssrc_of[$cam]}" "$(base64 -w0 <"$work/$cam.key")"
		[ "$cam" != sealed ] || printf 'OwnerKey = %s\n' "$(cat "$work/owner.pub")"
	done
}

# check_syncs LABEL STATS_JSON: what the filesystem saw of the segment files:
# how long a write stayed unsynced, and fdatasyncs.
check_syncs() {
	local label=$1 stats=$2 worst
	worst=$(jq -r '[.files | to_entries[] | select(.key | test("^([0-9]{8}\\.(ts|ts\\.sealed|m4s)|init-[0-9]{8}\\.mp4)\\.partial$"))
		| .value.unsynced_max] | max // "none"' "$stats")
	note "$label: segment writes stayed unsynced at most $worst s; $(jq -c '{fsync, fdatasync, fsyncdir, open_direct}' "$stats")"
	if [ "$worst" = none ]; then
		fail "$label: the filesystem saw no segment file written"
	elif ! awk -v w="$worst" -v m="$MAX_UNSYNCED" -v s="$SLACK" 'BEGIN { exit !(w <= m + s) }'; then
		fail "$label: a segment write stayed unsynced $worst s, more than MaxUnsyncedSeconds = $MAX_UNSYNCED"
	fi
	[ "$(jq '[.files | to_entries[] | select(.key | endswith(".partial")) | .value.fdatasync] | add // 0' "$stats")" -gt 0 ] ||
		fail "$label: no fdatasync of an open segment reached the filesystem"
}

# reap PID SECS: PID (a child, sent SIGKILL) is gone within SECS, or the test
# ends saying what it waits on.
reap() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "process $pid still there ${secs}s after SIGKILL: $(ps -o stat=,wchan:32= -p "$pid")" \
			"$(head -n 8 "/proc/$pid/stack" 2>/dev/null | tr '\n' ' ')"
		exit 1
	fi
	{ wait "$pid" || true; } 2>/dev/null
	proc_forget "$pid"
}

# run NAME FORMAT CAMERA...: one vigild run with these cameras: two cuts
# (the second torn) 4.5 to 7 s after a start, then 4 s more, the cameras
# stopped, and vigild stopped cleanly; a cut, and a start and a clean stop
# of vigild without cameras. The filesystem is left cut.
run() {
	local name=$1 format=$2 k delay vigild_pid cam rc t0 t1 t2
	local -a gst_pids=() mode
	shift 2
	config "$format" "$@" >"$work/$name.conf"
	chmod 600 "$work/$name.conf"
	test_start_vigild "$vigild" "$work/$name.conf" "$work/$name-0.json" "$work/$name-0.log"
	vigild_pid=$PROC_PID
	for cam in "$@"; do
		"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec h264 --key "$(od -An -tx1 -v "$work/$cam.key" | tr -d ' \n')" \
			--ssrc "${ssrc_of[$cam]}" --num-buffers $((FPS * 60)) --fps "$FPS" --key-int "$FPS" --size 320x240 \
			--pattern "${pattern_of[$cam]}" --dest "$VIGIL_IP_ROOT:5004" --ref "$work/$cam.ref" >"$work/$cam.gst.log" 2>&1 &
		gst_pids+=($!)
	done
	for k in 1 2; do
		delay=$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 4.5 + r % 250 / 100 }')
		mode=()
		[ "$k" = 1 ] || mode=(torn "$RANDOM")
		sleep "$delay"
		powercut_cut "$mnt" "${mode[@]}"
		t0=$EPOCHREALTIME
		kill -KILL "$vigild_pid"
		reap "$vigild_pid" 30
		t1=$EPOCHREALTIME
		cp "$image" "$image.$name.$k" # what the cut left, kept with the work directory
		note "$name: cut $k${mode[*]:+ (${mode[*]})} ${delay}s after the last start"
		for cam in "$@"; do
			cuts_of[$cam]="${cuts_of[$cam]:-} $POWERCUT_AT"
		done
		check_syncs "$name: before cut $k" "$image.json"
		powercut_restart "$mnt" "$image" "$fslog" "${fs_opts[@]}"
		t2=$EPOCHREALTIME
		test_start_vigild "$vigild" "$work/$name.conf" "$work/$name-$k.json" "$work/$name-$k.log"
		vigild_pid=$PROC_PID
		note "$name: restart $k after $(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$EPOCHREALTIME" \
			'BEGIN { printf "%.1f s (vigild gone %.1f s, filesystem back %.1f s, vigild ready %.1f s after)", d - a, b - a, c - b, d - c }'):" \
			"$(grep -h 'cut short by a crash' "$work/$name-$k.log" | sed 's/^vigil: recorder: //' | tr '\n' ';')"
	done
	sleep 4
	for k in "${!gst_pids[@]}"; do
		kill -INT "${gst_pids[$k]}" 2>/dev/null || fail "$name: a GStreamer camera stopped early: $(tail -n 3 "$work"/*.gst.log)"
		wait "${gst_pids[$k]}" || fail "$name: a GStreamer camera failed: $(tail -n 3 "$work"/*.gst.log)"
	done
	sleep 1
	rc=0
	proc_stop "$vigild_pid" INT 60 || rc=$?
	[ "$rc" = 0 ] || fail "$name: vigild exited $rc after SIGINT: $(tail -n 5 "$work/$name-2.log")"
	check_invariant "$name" "$work/$name-2.json"
	powercut_stats "$mnt" >"$work/$name-fs.json"
	check_syncs "$name: after the last start" "$work/$name-fs.json"
	# The writer's O_DIRECT path, or its buffered one.
	if [ ${#fs_opts[@]} = 0 ]; then
		[ "$(jq '.open_direct' "$work/$name-fs.json")" -gt 0 ] || fail "$name: no file was opened with O_DIRECT"
	else
		[ "$(jq '[.open_direct, (.direct_refused > 0)]' -c "$work/$name-fs.json")" = "[0,true]" ] ||
			fail "$name: O_DIRECT refused, want the writer to go on buffered: $(jq -c . "$work/$name-fs.json")"
	fi
	# After a clean stop a power cut takes nothing (checked at the end),
	# and vigild starts again on it with nothing to recover.
	powercut_cut "$mnt"
	powercut_restart "$mnt" "$image" "$fslog" "${fs_opts[@]}"
	test_start_vigild "$vigild" "$work/$name.conf" "$work/$name-3.json" "$work/$name-3.log"
	proc_stop "$PROC_PID" INT 60 || fail "$name: vigild exited non-zero after SIGINT: $(tail -n 5 "$work/$name-3.log")"
	! grep -h 'cut short by a crash' "$work/$name-3.log" ||
		fail "$name: after a clean stop and a power cut, vigild found segments to recover"
	powercut_cut "$mnt"
}

for cam in plain sealed fmp4; do
	head -c 44 /dev/urandom >"$work/$cam.key"
done
# The second run's filesystem refuses O_DIRECT: the writer's buffered path.
fs_opts=()
run ts ts plain sealed
fs_opts=(--refuse-direct)
powercut_restart "$mnt" "$image" "$fslog" "${fs_opts[@]}"
run fmp4 fmp4 fmp4
powercut_restart "$mnt" "$image" "$fslog"
sleep 0.5
proc_stop "$tcpdump_pid" INT 10 || true

# ---- what is on disk ---------------------------------------------------------------

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }

# decode OUT_DIR SEGMENT INPUT...: OUT_DIR/SEGMENT.md5 and .err from ffmpeg.
decode() {
	local out=$1 seg=$2
	shift 2
	ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - 2>"$out/$seg.err" |
		awk -F', *' '!/^#/ { print $NF }' >"$out/$seg.md5"
}

for cam in plain sealed fmp4; do
	dir=$mnt/rec/$cam out=$work/out/$cam
	mkdir -p "$out"
	if [ ! -d "$dir" ]; then
		fail "$cam: its folder is gone: $(ls -A "$mnt" "$mnt/rec" 2>&1 | tr '\n' ' ')"
		continue
	fi
	cp -a "$dir" "$out/rec" # kept with the work directory when the test fails
	# What is on disk, whatever the playlist says (checked below).
	on_disk=$(cd "$dir" && for f in [0-9]*; do [[ $f =~ ^[0-9]{8}\.(ts|ts\.sealed|m4s)$ ]] && echo "$f"; done; true)
	frame_md5 -i "$work/$cam.ref" >"$out/ref"
	partial=()
	case $cam in
	plain)
		for s in $on_disk; do decode "$out" "$s" -i "$dir/$s"; done ;;
	sealed)
		# Every sealed segment opens; only one cut by a crash needs --partial.
		for s in $on_disk; do
			if ! "$vigil_open" --secret-key "$work/owner.key" --out "$out" "$dir/$s" >"$out/$s.open" 2>&1; then
				"$vigil_open" --secret-key "$work/owner.key" --partial --out "$out" "$dir/$s" >"$out/$s.open" 2>&1 ||
					fail "sealed: $s does not open even with --partial: $(cat "$out/$s.open")"
				partial+=(--partial "$s")
			fi
			decode "$out" "$s" -i "$out/${s%.sealed}"
		done
		note "sealed: $((${#partial[@]} / 2)) segment(s) opened with --partial"
		[ $((${#partial[@]} / 2)) -le 2 ] || fail "sealed: $((${#partial[@]} / 2)) segments needed --partial, want at most one per cut" ;;
	fmp4)
		for s in $on_disk; do
			init=$(cd "$dir" && ls init-*.mp4 | awk -v s="${s%.m4s}" 'substr($0, 6, 8) <= s' | tail -n 1)
			cat "$dir/$init" "$dir/$s" >"$out/$s.mp4"
			decode "$out" "$s" -i "$out/$s.mp4"
		done ;;
	esac
	# A sealed camera's plaintext lags its chunk: 64 KiB at the camera's rate.
	bytes=$(stat -c %s "$work/$cam.ref")
	frames=$(wc -l <"$out/ref")
	max_loss=$(awk -v m="$MAX_UNSYNCED" -v f="$FPS" -v s="$SLACK" -v b="$bytes" -v n="$frames" -v c="$cam" 'BEGIN {
		l = m + 1 / f + s
		if (c == "sealed") l += 65536 / (b / (n / f))
		if (c == "fmp4") l += 1
		printf "%.3f", l }')
	note "$cam: at most ${max_loss}s may be lost before a cut"
	segs=()
	for s in $on_disk; do segs+=("$out/$s.md5"); done
	"$PYTHON" "$tools/powercut_check.py" --label "$cam" --pcap "$work/cap.pcap" --ssrc "${ssrc_of[$cam]}" \
		--ref "$out/ref" --cuts "${cuts_of[$cam]}" --max-loss "$max_loss" --dir "$dir" "${partial[@]}" \
		"${segs[@]}" >"$out/check.log" 2>&1 || failures=$((failures + 1))
	sed 's/^FAIL/FAIL (powercut_check)/' "$out/check.log"
	# The playlist plays through, frame for frame the segments (an
	# unended one would have ffmpeg wait for more). Not fMP4: ffmpeg's HLS
	# demuxer skips #EXT-X-DISCONTINUITY, and drops the first fragment after
	# an init segment whose timeline starts again (a player's limit).
	if [ "$cam" = plain ] && [ "$(tail -n 1 "$dir/index.m3u8" 2>/dev/null)" = "#EXT-X-ENDLIST" ]; then
		timeout 60 ffmpeg -nostdin -v error -i "$dir/index.m3u8" -fps_mode passthrough -f framemd5 - 2>"$out/played.err" |
			awk -F', *' '!/^#/ { print $NF }' >"$out/played" || true
		cat "${segs[@]}" | cmp -s - "$out/played" ||
			fail "$cam: the playlist plays $(wc -l <"$out/played") frames, not its segments' $(cat "${segs[@]}" | wc -l)"
	fi
done
test_finish crash
