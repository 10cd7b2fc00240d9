#!/bin/bash
# SPDX-License-Identifier: MIT
# Video over a lossy link: vigil-cam's cameras (720p H.264, 2 s GOP, about
# 2 Mbit/s each) send live from a network namespace into vigild on
# af_packet, their output through vigil-cam's link simulation (random and
# bursty loss, delay; feedback lost too). With RtxSSRC, vigild NACKs what
# is missing over SRTCP, the cameras answer with RFC 4588 RTX packets and
# vigild holds the packets after a gap until they come: at least 99% of
# the frames recorded at 1% loss and 97% at 3% in bursts of 5 with 50 ms
# delay, every recorded frame the clip's, the counters adding up (and the
# camera's count of feedback equal to what vigild sent less what the link
# lost). The bursty run's cameras take reduced-size RTCP (RFC 5506): their
# feedback goes without a receiver report but once a second. Without
# retransmission the same 1% loss costs the rest of a GOP per loss: the
# figure is printed, not asserted.
#
# usage: lossy.sh BUILD_DIR|VIGILD VIGIL_CAM [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} vigil_cam=${2:-} scratch=${3:-}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_tools ffmpeg jq
require_aesni
require_root "network namespaces"
vigild=$(vigild_path "$target")
require_vigild "$vigild"
[ -x "$vigil_cam" ] || { echo "FAIL: vigil-cam not found at $vigil_cam" >&2; exit 1; }
test_begin lossy "$scratch"

cameras=4 seconds=10
frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }

ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1280x720:rate=30 -t 2 -c:v libx264 -g 60 -bf 0 -b:v 2M \
	-pix_fmt yuv420p -f h264 "$work/clip" || { fail "ffmpeg cannot make the clip"; test_finish lossy; }
frame_md5 -i "$work/clip" >"$work/clip.md5"
vigil_netns_create lossy

# run LABEL MIN_PERCENT RTX(yes|rsize|no) LINK_OPTIONS...: rsize, RTX with
# RtcpReducedSize. MIN_PERCENT 0 only reports.
run() {
	local label=$1 min=$2 mode=$3 rtx=() dir=$work/$1 sent frames recorded fb sent_fb lost_fb c
	[ "$mode" = no ] || rtx=(--rtx)
	shift 3
	mkdir -p "$dir"
	"$vigil_cam" --clip "$work/clip" --codec h264 --cameras $cameras --seconds 0.1 --seed lossy "${rtx[@]}" \
		--out /dev/null --config "$dir/vigil.conf" --record-dir "$dir/rec" >/dev/null ||
		{ fail "$label: vigil-cam failed"; return; }
	sed -i "/^\[Ingest\]/a Device = net_af_packet0,iface=$VIGIL_VETH_ROOT\nStateDir = $dir/state" "$dir/vigil.conf"
	[ "$mode" = rsize ] && sed -i '/^RtxPayloadType/a RtcpReducedSize = yes' "$dir/vigil.conf"
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log"
	ip netns exec "$VIGIL_NS" "$vigil_cam" --clip "$work/clip" --codec h264 --cameras $cameras \
		--seconds $seconds --seed lossy --live "$VIGIL_VETH_CAM" --config "$dir/live.conf" "${rtx[@]}" "$@" >"$dir/sent.json" ||
		fail "$label: vigil-cam --live failed"
	sleep 1
	proc_stop "$PROC_PID" INT 60 || fail "$label: vigild exited non-zero after SIGINT"
	check_invariant "$label" "$dir/summary.json"
	sent=$(jq .frames "$dir/sent.json")
	frames=$(jq .frames_per_camera "$dir/sent.json")
	recorded=$(jq .totals.frames_recorded "$dir/summary.json")
	for ((i = 0; i < frames; i++)); do sed -n "$((i % 60 + 1))p" "$work/clip.md5"; done >"$dir/want.md5"
	# Every frame recorded is the clip's, in its place: a camera's
	# recording is the clip looped with some frames left out.
	for c in $(seq -f '%05g' 0 $((cameras - 1))); do
		frame_md5 -i "$dir/rec/cam$c/index.m3u8" >"$dir/cam$c.md5" 2>"$dir/cam$c.err"
		[ -s "$dir/cam$c.err" ] && fail "$label: cam$c's recording does not decode cleanly: $(head -n 2 "$dir/cam$c.err")"
		frames_in_order "$dir/want.md5" "$dir/cam$c.md5" ||
			fail "$label: cam$c recorded a frame that is not the clip's in its place"
	done
	if [ ${#rtx[@]} != 0 ]; then
		fb=$(jq .retransmit.feedback "$dir/sent.json")
		lost_fb=$(jq .sim_dropped_feedback "$dir/sent.json")
		sent_fb=$(jq '.totals | .rtcp_rr_sent + .rtcp_rsize_sent' "$dir/summary.json")
		[ "$fb" = $((sent_fb - lost_fb)) ] ||
			fail "$label: the cameras took $fb feedback packets, vigild sent $sent_fb and the link lost $lost_fb"
		[ "$(jq .retransmit.refused "$dir/sent.json")" = 0 ] || fail "$label: a camera refused vigild's feedback"
		[ "$(jq '.totals.retransmitted > 0 and .totals.nack_sent > 0' "$dir/summary.json")" = true ] ||
			fail "$label: nothing was NACKed and retransmitted"
		check_counter "$label" "$dir/summary.json" .totals.feedback_limited 0
		if [ "$mode" = rsize ]; then
			# Without a receiver report, but the first of each camera.
			[ "$(jq '.totals | .rtcp_rsize_sent > 0 and .rtcp_rr_sent >= '$cameras "$dir/summary.json")" = true ] ||
				fail "$label: $(jq -r '.totals | "\(.rtcp_rr_sent) with a receiver report, \(.rtcp_rsize_sent) reduced-size"' "$dir/summary.json"): want reduced-size ones, and a report from each camera"
		else
			check_counter "$label" "$dir/summary.json" .totals.rtcp_rsize_sent 0
		fi
	fi
	check_counter "$label" "$dir/summary.json" .totals.auth_failed 0
	check_counter "$label" "$dir/summary.json" .totals.replayed 0
	if [ "$min" != 0 ] && [ $((recorded * 100)) -lt $((sent * min)) ]; then
		fail "$label: $recorded of $sent frames recorded, want at least $min%"
	fi
	echo "$label: $recorded of $sent frames recorded ($(jq -r '"\(.sim_dropped) packets lost on the link, \(.retransmit.rtx_sent // 0) retransmitted by the cameras"' "$dir/sent.json"); vigild: $(jq -r '.totals | "\(.nacked) NACKed in \(.nack_sent) feedback packets, \(.retransmitted) taken, \(.rtx_unwanted) unwanted, \(.pli_sent) PLIs"' "$dir/summary.json")"
}

run rtx-1pct 99 yes --loss 1
run rtx-3pct-burst5-50ms 97 rsize --loss 3 --burst 5 --delay 50
run no-rtx-1pct 0 no --loss 1
test_finish lossy
