#!/bin/bash
# SPDX-License-Identifier: MIT
# Retransmission with a GStreamer camera (issue 18): gst_rtx_cam.py, H.264
# through rtpbin with rtprtxsend as its aux sender (RFC 4588), SRTP and
# SRTCP under AEAD_AES_256_GCM, one UDP socket both ways, streams from a
# network namespace into vigild live on af_packet, 1% of its packets (and
# of the feedback) lost at random. With RtxSSRC and RtxPayloadType, vigild
# NACKs over SRTCP, GStreamer's rtpsession turns the NACKs into
# retransmission requests and rtprtxsend answers: at least 99% of the
# frames recorded, every recorded frame the encoder's in its place, the
# counters adding up, nothing refused. A camera that does not answer NACKs
# (no rtprtxsend) still answers vigild's PLIs: x264enc makes a key frame
# on request, and the recording is back a hold time and a round trip after
# each loss. Without RtxSSRC the same loss costs the rest of a GOP. How
# long the recording pauses after each loss, with PLI and without, is
# printed (a figure, not a timed assertion).
#
# usage: interop_rtx.sh BUILD_DIR|VIGILD [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip. VIGIL_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
# shellcheck source=SCRIPTDIR/../tools/testlib.sh
source "$tools/testlib.sh"
PYTHON=${PYTHON:-/usr/bin/python3}
PORT=5004
FPS=30
FRAMES=450  # 15 s
KEY_INT=60  # 2 s GOP
SIZE=640x480
LOSS=1      # percent
RTX_PT=97

target=${1:-} scratch=${2:-}
[ -n "$target" ] || { echo "usage: $0 BUILD_DIR|VIGILD [SCRATCH_DIR]" >&2; exit 1; }
vigild=$(vigild_path "$target")

require_root "network namespaces, af_packet, hugepages"
require_tools ip ffmpeg jq "$PYTHON"
"$PYTHON" -c 'import gi; gi.require_version("Gst", "1.0"); from gi.repository import Gst' 2>/dev/null ||
	skip "python3-gi with GStreamer's introspection data (gir1.2-gstreamer-1.0) is missing"
for e in videotestsrc x264enc h264parse rtph264pay rtpbin rtprtxsend srtpenc srtpdec funnel udpsink udpsrc; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
require_aesni
require_vigild "$vigild"
test_begin interop_rtx "$scratch"
vigil_netns_create interop-rtx

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }

# recording_pauses REF REC: how long the recording pauses after each loss,
# in ms: the runs of reference frames missing from the recording.
recording_pauses() {
	awk -v ms=$((1000 / FPS)) 'BEGIN { n = 0; i = 0; run = 0 } NR == FNR { want[n++] = $0; next }
	     { while (i < n && want[i] != $0) { i++; run++ }; if (run) print run * ms; run = 0; i++ }
	     END { if (i < n) print (n - i) * ms }' "$1" "$2"
}

# pause_figure FILE: "N pauses, median M ms, longest L ms" of recording_pauses.
pause_figure() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR == 0) print "no pauses";
		else printf "%d pauses, median %d ms, longest %d ms\n", NR, v[int((NR + 1) / 2)], v[NR] }'
}

# run LABEL MIN_PERCENT RTX(yes|pli|no): vigild has RtxSSRC for yes and
# pli; the camera answers NACKs for yes only. MIN_PERCENT 0 only reports.
run() {
	local label=$1 min=$2 rtx=$3 dir=$work/$1 ssrc rtx_ssrc sent recorded cam=gst
	local key_b64 key_hex srtcp_cam srtcp_rtx unknown answer=() key_frames
	mkdir -p "$dir"
	head -c 44 /dev/urandom >"$dir/key.bin"
	key_b64=$(base64 -w0 "$dir/key.bin")
	key_hex=$(od -An -tx1 -v "$dir/key.bin" | tr -d ' \n')
	ssrc=$(($(od -An -tu4 -N4 /dev/urandom) | 1))
	rtx_ssrc=$((ssrc ^ 0x5254580a))
	(
		umask 077
		cat >"$dir/vigil.conf" <<-EOF
		[Ingest]
		Ports = $PORT
		RecordDir = $dir/rec
		StateDir = $dir/state
		Device = net_af_packet0,iface=$VIGIL_VETH_ROOT
		Workers = 1
		SegmentSeconds = 2

		[Camera]
		Name = $cam
		SSRC = $ssrc
		Suite = AEAD_AES_256_GCM
		Key = $key_b64
		Codec = H264
		EOF
		[ "$rtx" = no ] || printf 'RtxSSRC = %s\nRtxPayloadType = %s\n' "$rtx_ssrc" "$RTX_PT" >>"$dir/vigil.conf"
		# GStreamer's rtpsession reads reduced-size RTCP (RFC 5506).
		if [ "$rtx" = yes ]; then echo "RtcpReducedSize = yes" >>"$dir/vigil.conf"; fi
	)
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log"
	# Without RtxSSRC the camera still has its RTX sender: only vigild's
	# configuration says whether it is asked for anything.
	[ "$rtx" = pli ] || answer=(--rtx-ssrc "$rtx_ssrc")
	ip netns exec "$VIGIL_NS" timeout $((FRAMES / FPS + 60)) "$PYTHON" "$tools/gst_rtx_cam.py" \
		--key "$key_hex" --ssrc "$ssrc" "${answer[@]}" --rtx-pt "$RTX_PT" \
		--dest "$VIGIL_IP_ROOT:$PORT" --port "$PORT" --ref "$dir/ref.h264" --num-buffers "$FRAMES" \
		--size "$SIZE" --fps "$FPS" --key-int "$KEY_INT" --loss "$LOSS" --seed "$label" \
		>"$dir/sent.json" 2>"$dir/gst.log" ||
		{ fail "$label: the GStreamer camera failed: $(tail -n 5 "$dir/gst.log")"; }
	sleep 1
	proc_stop "$PROC_PID" INT 60 || fail "$label: vigild exited non-zero after SIGINT: $(tail -n 5 "$dir/vigild.log")"
	check_invariant "$label" "$dir/summary.json"
	[ -s "$dir/sent.json" ] || { fail "$label: the camera printed no counts"; return; }

	frame_md5 -f h264 -i "$dir/ref.h264" >"$dir/ref.md5" 2>"$dir/ref.err"
	[ -s "$dir/ref.err" ] && fail "$label: the reference does not decode cleanly: $(head -n 2 "$dir/ref.err")"
	sent=$(wc -l <"$dir/ref.md5")
	[ "$sent" = "$FRAMES" ] || fail "$label: the reference holds $sent frames, the camera encoded $FRAMES"
	recorded=$(jq -r ".cameras[\"$cam\"].frames_recorded" "$dir/summary.json")
	frame_md5 -i "$dir/rec/$cam/index.m3u8" >"$dir/rec.md5" 2>"$dir/rec.err"
	[ -s "$dir/rec.err" ] && fail "$label: the recording does not decode cleanly: $(head -n 2 "$dir/rec.err")"
	[ "$(wc -l <"$dir/rec.md5")" = "$recorded" ] ||
		fail "$label: the recording decodes to $(wc -l <"$dir/rec.md5") frames, vigild counted $recorded"
	# Every frame recorded is the encoder's, in its place: the recording is
	# the reference with some frames left out.
	frames_in_order "$dir/ref.md5" "$dir/rec.md5" || fail "$label: a recorded frame is not the reference's in its place"

	# Every packet that left the camera counted once, as what it is. The
	# camera's rtpsession sends sender reports for the RTX SSRC too (from
	# the start, before any RTX packet), each SSRC under SRTCP indexes of
	# its own (RFC 3711 3.4): vigild without RtxSSRC knows no such SSRC.
	# (The totals also hold the root namespace kernel's own ARP and ICMP
	# port unreachables on the veth, which af_packet sees: not_ip, not_udp.)
	srtcp_cam=$(jq --arg s "$ssrc" '.srtcp[$s].packets // 0' "$dir/sent.json")
	srtcp_rtx=$(jq --arg s "$rtx_ssrc" '.srtcp[$s].packets // 0' "$dir/sent.json")
	unknown=0
	[ "$rtx" = no ] && unknown=$srtcp_rtx
	check_counter "$label" "$dir/summary.json" ".cameras[\"$cam\"].rx_packets" "$(($(jq .sent "$dir/sent.json") - unknown))"
	check_counter "$label" "$dir/summary.json" .totals.decrypted "$(jq .rtp "$dir/sent.json")"
	check_counter "$label" "$dir/summary.json" .totals.rtcp "$((srtcp_cam + srtcp_rtx - unknown))"
	check_counter "$label" "$dir/summary.json" .totals.unknown_ssrc "$unknown"
	check_counter "$label" "$dir/summary.json" .totals.auth_failed 0
	check_counter "$label" "$dir/summary.json" .totals.replayed 0
	check_counter "$label" "$dir/summary.json" .totals.payload_type 0
	[ "$(jq .feedback_refused "$dir/sent.json")" = 0 ] || fail "$label: srtpdec refused vigild's feedback"
	[ "$(jq .frames "$dir/sent.json")" = "$FRAMES" ] || fail "$label: the camera encoded $(jq .frames "$dir/sent.json") frames, want $FRAMES"
	if [ "$rtx" = yes ]; then
		[ "$(jq '.totals.retransmitted > 0 and .totals.nack_sent > 0' "$dir/summary.json")" = true ] ||
			fail "$label: nothing was NACKed and retransmitted"
		# The camera received every feedback packet vigild sent (its
		# simulated loss drops some after counting them), and srtpdec
		# decrypted every one it kept.
		check_counter "$label" "$dir/summary.json" '.totals | .rtcp_rr_sent + .rtcp_rsize_sent' "$(jq .feedback "$dir/sent.json")"
		# From one SSRC of vigild's own: neither the camera's nor its RTX one.
		[ "$(jq --argjson a "$ssrc" --argjson b "$rtx_ssrc" '.feedback_ssrcs | length == 1 and (.[0] != $a and .[0] != $b)' "$dir/sent.json")" = true ] ||
			fail "$label: feedback from SSRC(s) $(jq -c .feedback_ssrcs "$dir/sent.json"), want one of vigild's own"
		[ "$(jq .nack_packets "$dir/sent.json")" -gt 0 ] || fail "$label: no NACK reached rtpsession"
		[ "$(jq .rtx "$dir/sent.json")" -gt 0 ] || fail "$label: rtprtxsend sent nothing"
		check_counter "$label" "$dir/summary.json" .totals.feedback_limited 0
		[ "$(jq '.totals | .retransmitted + .rtx_unwanted' "$dir/summary.json")" = "$(jq .rtx "$dir/sent.json")" ] ||
			fail "$label: vigild took $(jq '.totals | "\(.retransmitted) + \(.rtx_unwanted) unwanted"' "$dir/summary.json") RTX packets, the camera sent $(jq .rtx "$dir/sent.json")"
	fi
	if [ "$rtx" = pli ]; then
		# NACKs go unanswered; PLIs bring key frames the GOP would not.
		check_counter "$label" "$dir/summary.json" .totals.retransmitted 0
		check_counter "$label" "$dir/summary.json" '.totals | .rtcp_rr_sent + .rtcp_rsize_sent' "$(jq .feedback "$dir/sent.json")"
		[ "$(jq .pli "$dir/sent.json")" -gt 0 ] || fail "$label: no PLI reached the camera"
		[ "$(jq .pli "$dir/sent.json")" -le "$(jq .totals.pli_sent "$dir/summary.json")" ] ||
			fail "$label: the camera took $(jq .pli "$dir/sent.json") PLIs, vigild sent $(jq .totals.pli_sent "$dir/summary.json")"
		key_frames=$(ffprobe -v error -select_streams v -show_entries frame=key_frame -of csv=p=0 "$dir/ref.h264" | grep -c '^1')
		[ "$key_frames" -gt $(((FRAMES + KEY_INT - 1) / KEY_INT)) ] ||
			fail "$label: $key_frames key frames in $FRAMES frames: the GOP's alone, none made for a PLI"
		echo "$label: $key_frames key frames ($(((FRAMES + KEY_INT - 1) / KEY_INT)) from the GOP)"
	fi
	recording_pauses "$dir/ref.md5" "$dir/rec.md5" >"$dir/pauses"
	echo "$label: recording pauses: $(pause_figure "$dir/pauses")"
	if [ "$min" != 0 ] && [ $((recorded * 100)) -lt $((sent * min)) ]; then
		fail "$label: $recorded of $sent frames recorded, want at least $min%"
	fi
	echo "$label: $recorded of $sent frames recorded (camera: $(jq -r '"\(.sent) packets sent, \(.dropped) lost on the link, \(.rtx) RTX sent for \(.rtx_requests) requests, \(.nack_packets) NACKs naming \(.nacked) packets and \(.pli) PLIs taken of \(.feedback - .feedback_dropped) feedback packets"' "$dir/sent.json")); vigild: $(jq -r '.totals | "\(.decrypted) decrypted, \(.rtcp) SRTCP, \(.nacked) NACKed in \(.nack_sent) feedback packets of \(.rtcp_rr_sent), \(.retransmitted) taken, \(.rtx_unwanted) unwanted, \(.pli_sent) PLIs"' "$dir/summary.json")"
	echo "$label: the camera's SRTCP by sender SSRC (camera $ssrc, RTX $rtx_ssrc): $(jq -c '.srtcp | map_values({packets, first: .indexes[0], last: .indexes[-1]})' "$dir/sent.json")"
}

run rtx-1pct 99 yes
run pli-1pct 0 pli
run no-rtx-1pct 0 no
test_finish interop_rtx
