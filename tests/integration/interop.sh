#!/bin/bash
# SPDX-License-Identifier: MIT
# Interop test through the whole server: a GStreamer SRTP camera in a network
# namespace streams into vigild running live on af_packet, while tcpdump
# records the same traffic. Then the capture is replayed through
# `vigild --pcap`, an adversarial copy of it (srtp_pcap.py inject) too, and
# a copy with the camera's packets out of order (srtp_pcap.py reorder), which
# the reorder stage must put back: same frames, exact `reordered`, no `late`.
# Every run must record exactly the frames the encoder produced, and count
# exactly what it was sent.
#
# usage: interop.sh [--bframes N] [--crypto ENGINE] h264|h265 BUILD_DIR|VIGILD [SCRATCH_DIR]
# --bframes N: the encoder puts N B-frames between references, so decode
# order differs from display order and the recorder must derive decode
# timestamps (RTP carries presentation times only). Default 0: none.
# --crypto ENGINE: Crypto = ENGINE in the configuration (default: none,
# that is auto, which must pick the cryptodev engine here: CI installs the
# ipsec-mb PMDs); every run's summary must name it, and under cryptodev
# libsodium may decrypt only the packets before the stream is locked.
# Exit 0 pass, 1 fail, 77 skip (not root, a tool or encoder missing, no AES-NI).
# VIGIL_KEEP=1 keeps the work directory even when the test passes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
# shellcheck source=SCRIPTDIR/../tools/testlib.sh
source "$tools/testlib.sh"
PYTHON=${PYTHON:-/usr/bin/python3}
PORT=5004
FRAMES=300      # 10 s at 30 fps
KEY_INT=60      # a key frame every 2 s, so 2 s segments can be cut
SEQ_OFFSET=65000 # the RTP sequence number wraps after ~535 packets

usage() { echo "usage: $0 [--bframes N] [--crypto ENGINE] h264|h265 BUILD_DIR|VIGILD [SCRATCH_DIR]" >&2; exit 1; }
bframes=0 crypto=
while [ $# -gt 0 ]; do
	case $1 in
	--bframes) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; bframes=$2; shift 2 ;;
	--crypto) [ -n "${2:-}" ] || usage; crypto=$2; shift 2 ;;
	-*) usage ;;
	*) break ;;
	esac
done
codec=${1:-} target=${2:-} scratch=${3:-}
case $codec in
h264) gst_encoder=x264enc gst_parser=h264parse ff_format=h264 cfg_codec=H264 ;;
h265) gst_encoder=x265enc gst_parser=h265parse ff_format=hevc cfg_codec=H265 ;;
*) usage ;;
esac
[ -n "$target" ] || usage
vigild=$(vigild_path "$target")
variant=$codec
[ "$bframes" = 0 ] || variant=$codec-b$bframes
[ -z "$crypto" ] || variant=$variant-$crypto
# The engine every summary must name.
case $crypto in
'' | auto | cryptodev) want_engine=cryptodev:crypto_aesni_gcm0 ;;
cryptodev:*) want_engine=$crypto ;;
*) want_engine=$crypto ;;
esac

# ---- prerequisites -----------------------------------------------------------

check_prerequisites() {
	local e
	require_root "network namespaces, af_packet, hugepages"
	require_tools ip tcpdump gst-launch-1.0 gst-inspect-1.0 ffmpeg ffprobe jq flock "$PYTHON"
	for e in videotestsrc "$gst_encoder" "$gst_parser" "rtp${codec}pay" srtpenc udpsink; do
		gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
	done
	require_aesni
	require_vigild "$vigild"
}

# ---- checks ------------------------------------------------------------------

# Prints one MD5 per decoded frame of a file, in order.
frame_hashes() {
	local file=$1 format=$2 errors=$3
	ffmpeg -nostdin -v error ${format:+-f "$format"} -i "$file" -f framemd5 - 2>"$errors" |
		awk -F', *' '!/^#/ { print $NF }'
}

# Concatenates RecordDir/<camera>/*.ts in name order into one file.
concat_recording() {
	local dir=$1 out=$2
	local segs=("$dir"/*.ts)
	[ -e "${segs[0]}" ] || return 1
	cat "${segs[@]}" >"$out"
}

check_frames() {
	local label=$1 rec_ts=$2 ref_hashes=$3
	local got=$work/$label.framemd5 errs=$work/$label.ffmpeg.err n_ref n_got first
	frame_hashes "$rec_ts" "" "$errs" >"$got" || true
	[ ! -s "$errs" ] || fail "$label: ffmpeg complained decoding the recording: $(head -c 600 "$errs")"
	n_ref=$(wc -l <"$ref_hashes") n_got=$(wc -l <"$got")
	if cmp -s "$ref_hashes" "$got"; then
		echo "$label: $n_got decoded frames identical to the reference"
		return
	fi
	first=$(diff <(cat -n "$ref_hashes") <(cat -n "$got") | awk '/^[<>]/ { print $2; exit }' || true)
	fail "$label: recording has $n_got frames, reference $n_ref; first difference at frame ${first:-?}"
}

check_segments() {
	local label=$1 dir=$2 summary=$3 cam=$4 seg out n=0 want
	for seg in "$dir"/*.ts; do
		[ -e "$seg" ] || break
		n=$((n + 1))
		out=$(ffprobe -v error "$seg" 2>&1) || fail "$label: ffprobe failed on $seg"
		[ -z "$out" ] || fail "$label: ffprobe reports on $seg: $(head -c 400 <<<"$out")"
	done
	[ "$n" -ge 2 ] || fail "$label: $n segment(s) in $dir, want >= 2 (SegmentSeconds = 2, 10 s of video)"
	want=$(jq -r --arg c "$cam" '.cameras[$c].segments' "$summary")
	[ "$want" = "$n" ] || fail "$label: summary says $want segments, $dir holds $n .ts files"
	if compgen -G "$dir/*.partial" >/dev/null; then
		fail "$label: partial segments left behind: $(ls "$dir"/*.partial)"
	fi
	echo "$label: $n segments, each clean under ffprobe"
}

# What every run must show: the reference frames recorded, in segments
# that each pass ffprobe, and counters that add up.
check_recording() {
	local label=$1 summary=$2 dir=$3
	check_counter "$label" "$summary" ".totals.frames_recorded" "$ref_frames"
	check_counter "$label" "$summary" ".cameras[\"$cam\"].frames_recorded" "$ref_frames"
	check_counter "$label" "$summary" ".cameras[\"$cam\"].recording_dir" "$dir/$cam"
	check_invariant "$label" "$summary"
	check_segments "$label" "$dir/$cam" "$summary" "$cam"
	if concat_recording "$dir/$cam" "$work/$label.ts"; then
		check_frames "$label" "$work/$label.ts" "$work/ref.framemd5"
	else
		fail "$label: no segments in $dir/$cam"
	fi
}

# What a run without an attacker must count: every packet sent decrypted,
# nothing forged, replayed or lost.
check_clean_counters() {
	local label=$1 summary=$2 sent=$3 k
	check_counter "$label" "$summary" ".totals.decrypted" "$sent"
	check_counter "$label" "$summary" ".cameras[\"$cam\"].decrypted" "$sent"
	for k in auth_failed replayed late unknown_ssrc payload_invalid frame_incomplete frame_no_keyframe \
		frame_too_large frame_no_buffer ring_full frames_dropped; do
		check_counter "$label" "$summary" ".totals.$k" 0
	done
}

# Parses the summary; says why not when it cannot.
summary_ok() {
	local label=$1 summary=$2 soft
	if ! jq -e '.totals and .cameras' "$summary" >/dev/null 2>&1; then
		fail "$label: summary is not the expected JSON: $(head -c 400 "$summary")"
		return 1
	fi
	check_counter "$label" "$summary" .crypto "$want_engine"
	# Under cryptodev, libsodium takes only a stream's first packets:
	# those of the burst (at most 32) in which it locks onto its ROC.
	soft=$(jq -r .totals.decrypted_libsodium "$summary")
	case $want_engine in
	libsodium) check_counter "$label" "$summary" .totals.decrypted_libsodium 0 ;;
	*) [ "$soft" -le 32 ] || fail "$label: libsodium decrypted $soft packets under $want_engine (at most a burst's 32: before the stream locks)" ;;
	esac
	return 0
	return 1
}

# runs `vigild --pcap` over CAPTURE into a fresh record dir; SUMMARY gets stdout.
run_pcap() {
	local label=$1 capture=$2 rc=0
	timeout 120 "$vigild" --config "$work/pcap.conf" --pcap "$capture" --record-dir "$work/rec-$label" \
		>"$work/$label.json" 2>"$work/$label.log" || rc=$?
	if [ "$rc" != 0 ]; then
		fail "$label: vigild --pcap exited $rc; log tail:"
		tail -n 20 "$work/$label.log" >&2
		return 1
	fi
}

# ---- the test ------------------------------------------------------------------

check_prerequisites
test_begin "interop-$variant" "$scratch"
vigil_netns_create "interop-$variant"
note "namespace $VIGIL_NS: camera $VIGIL_IP_CAM ($VIGIL_VETH_CAM) -> vigild on $VIGIL_VETH_ROOT ($VIGIL_IP_ROOT)"

# A fresh random key and SSRC for every run.
head -c 44 /dev/urandom >"$work/key.bin"
key_b64=$(base64 -w0 "$work/key.bin")
key_hex=$(od -An -tx1 -v "$work/key.bin" | tr -d ' \n')
ssrc=$(( $(od -An -tu4 -N4 /dev/urandom) | 1 ))
cam=cam-$codec

umask 077
cat >"$work/vigil.conf" <<EOF
[Ingest]
Ports = $PORT
RecordDir = $work/rec-live
StateDir = $work/state
Device = net_af_packet0,iface=$VIGIL_VETH_ROOT
Workers = 1
SegmentSeconds = 2
${crypto:+Crypto = $crypto}

[Camera]
Name = $cam
SSRC = $ssrc
Suite = AEAD_AES_256_GCM
Key = $key_b64
Codec = $cfg_codec
EOF
chmod 600 "$work/vigil.conf"
# The capture runs keep no replay state: each replays the same capture.
grep -v '^StateDir' "$work/vigil.conf" >"$work/pcap.conf"
chmod 600 "$work/pcap.conf"
umask 022

# -- (a) live: camera -> veth -> vigild on af_packet, tcpdump alongside
note "live run: $FRAMES frames of $codec, $bframes B-frames, SSRC $ssrc, seqnum-offset $SEQ_OFFSET"
test_start_capture "$work/tcpdump.log" \
	tcpdump -i "$VIGIL_VETH_ROOT" -n -s 0 -U -w "$work/cap.pcap" "udp and dst port $PORT"
tcpdump_pid=$PROC_PID
test_start_vigild "$vigild" "$work/vigil.conf" "$work/live.json" "$work/live.log"
vigild_pid=$PROC_PID

if ! timeout 120 "$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec "$codec" --key "$key_hex" \
	--ssrc "$ssrc" --seqnum-offset "$SEQ_OFFSET" --num-buffers "$FRAMES" --key-int "$KEY_INT" \
	--bframes "$bframes" --dest "$VIGIL_IP_ROOT:$PORT" --ref "$work/ref.$codec" >"$work/gst.log" 2>&1; then
	fail "the GStreamer camera failed:"; cat "$work/gst.log" >&2; exit 1
fi
sleep 1 # the last packets are on the wire; let vigild take them before it stops

rc=0
proc_stop "$vigild_pid" INT 60 || rc=$?
[ "$rc" = 0 ] || { fail "vigild exited $rc after SIGINT; log tail:"; tail -n 20 "$work/live.log" >&2; }
# tcpdump must have run the whole time, or the capture is short.
kill -0 "$tcpdump_pid" 2>/dev/null || fail "tcpdump exited before it was stopped (killed from outside?): $(cat "$work/tcpdump.log")"
proc_stop "$tcpdump_pid" INT 10 || true
grep -q "^0 packets dropped by kernel" "$work/tcpdump.log" ||
	fail "tcpdump dropped packets: $(cat "$work/tcpdump.log")"

# What was sent: the reference frames and the SRTP packets on the wire.
frame_hashes "$work/ref.$codec" "$ff_format" "$work/ref.ffmpeg.err" >"$work/ref.framemd5"
ref_frames=$(wc -l <"$work/ref.framemd5")
[ ! -s "$work/ref.ffmpeg.err" ] || echo "warning: ffmpeg on the reference: $(head -c 400 "$work/ref.ffmpeg.err")" >&2
[ "$ref_frames" -ge "$FRAMES" ] || fail "reference decodes to $ref_frames frames, camera sent $FRAMES"
if [ "$bframes" -gt 0 ]; then
	# Without B-frames in the reference this test would prove nothing about them.
	n_b=$(ffprobe -v error -f "$ff_format" -show_entries frame=pict_type -of csv=p=0 "$work/ref.$codec" |
		grep -c '^B' || true)
	[ "$n_b" -gt 0 ] || fail "the reference holds no B-frames although the camera was asked for $bframes"
	note "reference: $n_b of $ref_frames frames are B-frames"
fi
sent=$("$PYTHON" "$tools/srtp_pcap.py" count "$work/cap.pcap" --ssrc "$ssrc" --port "$PORT")
note "camera sent $sent SRTP packets, $ref_frames frames"

if [ "$rc" = 0 ] && summary_ok live "$work/live.json"; then
	check_clean_counters live "$work/live.json" "$sent"
	check_recording live "$work/live.json" "$work/rec-live"
fi

# -- (b) the same capture through vigild --pcap
note "pcap run: vigild --pcap over the capture"
pcap_ok=0
if run_pcap pcap "$work/cap.pcap" && summary_ok pcap "$work/pcap.json"; then
	pcap_ok=1
	check_clean_counters pcap "$work/pcap.json" "$sent"
	check_recording pcap "$work/pcap.json" "$work/rec-pcap"
	# The capture holds only the camera's packets: nothing else to count.
	check_counter pcap "$work/pcap.json" .totals.rx_packets "$sent"
	for k in rtcp answered malformed not_ip not_udp fragment not_srtp_port tx_failed; do
		check_counter pcap "$work/pcap.json" ".totals.$k" 0
	done
fi

# -- (c) an adversarial copy: forgeries, replays, junk at every layer
note "adversarial run: srtp_pcap.py inject, then vigild --pcap"
"$PYTHON" "$tools/srtp_pcap.py" inject "$work/cap.pcap" "$work/adv.pcap" --ssrc "$ssrc" --port "$PORT" \
	>"$work/expected.json"
echo "injected: $(jq -c '.totals' "$work/expected.json")"
if [ "$pcap_ok" = 1 ] && run_pcap adv "$work/adv.pcap" &&
	summary_ok adv "$work/adv.json"; then
	check_recording adv "$work/adv.json" "$work/rec-adv"
	# Every counter = clean run + what was injected, exactly.
	mismatches=$(jq -r --slurpfile clean "$work/pcap.json" --slurpfile exp "$work/expected.json" \
		--arg cam "$cam" '
		def diffs(scope; got; base; add):
			got | to_entries[] | select(.value | type == "number")
			# which engine decrypted the first burst (checked above)
			| select(.key != "decrypted_libsodium")
			| .key as $k | (base[$k] + (add[$k] // 0)) as $want
			| select(.value != $want)
			| "\(scope).\($k) = \(.value), want \($want) (clean \(base[$k]) + injected \(add[$k] // 0))";
		diffs("totals"; .totals; $clean[0].totals; $exp[0].totals),
		diffs("cameras.\($cam)"; .cameras[$cam]; $clean[0].cameras[$cam]; $exp[0].camera)
		' "$work/adv.json")
	if [ -n "$mismatches" ]; then
		fail "adv: counters differ from clean + injected:"
		echo "$mismatches" >&2
		echo "injected kinds: $(jq -c .kinds "$work/expected.json")" >&2
	else
		echo "adv: every counter equals the clean run plus the injected expectation"
	fi
fi

# -- (d) the camera's packets out of order: the reorder stage puts them back
note "reorder run: srtp_pcap.py reorder, then vigild --pcap"
"$PYTHON" "$tools/srtp_pcap.py" reorder "$work/cap.pcap" "$work/reorder.pcap" --ssrc "$ssrc" --port "$PORT" \
	>"$work/reorder-expected.json"
want_reordered=$(jq -r .reordered "$work/reorder-expected.json")
echo "reordered copy: $(jq -c '{reordered, genuine, windows, moved, wrap_windows, patterns}' \
	"$work/reorder-expected.json")"
[ "$(jq -r .genuine "$work/reorder-expected.json")" = "$sent" ] ||
	fail "reorder: srtp_pcap.py saw $(jq -r .genuine "$work/reorder-expected.json") genuine packets, count saw $sent"
[ "$(jq -r '.wrap_windows | length' "$work/reorder-expected.json")" -ge 1 ] ||
	fail "reorder: no window around the sequence number wrap (seqnum-offset $SEQ_OFFSET)"
[ "$want_reordered" -gt 0 ] || fail "reorder: the copy holds no packet out of order"
if [ "$pcap_ok" = 1 ] && run_pcap reorder "$work/reorder.pcap" &&
	summary_ok reorder "$work/reorder.json"; then
	check_recording reorder "$work/reorder.json" "$work/rec-reorder"
	check_counter reorder "$work/reorder.json" .totals.decrypted "$(jq -r .totals.decrypted "$work/pcap.json")"
	for scope in .totals ".cameras[\"$cam\"]"; do
		check_counter reorder "$work/reorder.json" "$scope.reordered" "$want_reordered"
		check_counter reorder "$work/reorder.json" "$scope.late" 0
		check_counter reorder "$work/reorder.json" "$scope.frame_incomplete" 0
	done
	# Every other counter as in the clean run, exactly.
	mismatches=$(jq -r --slurpfile clean "$work/pcap.json" --arg cam "$cam" '
		def diffs(scope; got; base):
			got | to_entries[] | select(.value | type == "number")
			# which engine decrypted the first burst (checked above)
			| select(.key != "decrypted_libsodium")
			| select(.key != "reordered" and .key != "late")
			| select(.value != base[.key])
			| "\(scope).\(.key) = \(.value), want \(base[.key]) as in the clean run";
		diffs("totals"; .totals; $clean[0].totals),
		diffs("cameras.\($cam)"; .cameras[$cam]; $clean[0].cameras[$cam])
		' "$work/reorder.json")
	if [ -n "$mismatches" ]; then
		fail "reorder: counters differ from the clean run:"
		echo "$mismatches" >&2
	else
		echo "reorder: reordered = $want_reordered as expected, late = 0, every other counter as in the clean run"
	fi
fi

test_finish "interop $variant"
