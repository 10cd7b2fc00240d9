#!/bin/bash
# SPDX-License-Identifier: MIT
# Demo: three GStreamer SRTP cameras (two H.264, one of them with a wrapping
# RTP sequence number, and one H.265 at another resolution) stream from a
# network namespace over a veth pair into vigild running live on af_packet.
# After DEMO_SECONDS (default 10) vigild is stopped with SIGINT and the
# recordings are summarised. Needs root and the build in ./build.
#
# usage: scripts/demo.sh         env: DEMO_SECONDS, VIGILD (default build/control/vigild)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools=$root/tests/tools
vigild=${VIGILD:-$root/build/control/vigild}
seconds=${DEMO_SECONDS:-10}
fps=30

die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (network namespace, af_packet)"
[ -x "$vigild" ] || die "no vigild at $vigild: build first (scripts/setup.sh)"
for t in ip gst-launch-1.0 ffmpeg jq base64 od flock; do
	command -v "$t" >/dev/null || die "$t is not installed (scripts/setup.sh installs it)"
done

# shellcheck source=tests/tools/netns.sh
source "$tools/netns.sh"
# shellcheck source=tests/tools/proc.sh
source "$tools/proc.sh"

work=$(mktemp -d /tmp/vigil-demo.XXXXXX)

# Stops whatever still runs and removes the namespace; the recordings stay.
cleanup() {
	local status=$?
	set +e
	proc_stop_all
	vigil_netns_destroy
	[ "$status" = 0 ] || echo "demo failed; logs and recordings in $work" >&2
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

vigil_netns_create demo
echo "demo: cameras in namespace $VIGIL_NS ($VIGIL_IP_CAM) -> vigild on $VIGIL_VETH_ROOT ($VIGIL_IP_ROOT)"

# name codec size port seqnum-offset pattern: one line per camera.
cameras=(
	"lobby H264 640x360 5004 65200 smpte"    # sequence number wraps after ~300 packets
	"yard H264 640x360 6000 0 ball"
	"dock H265 960x540 6002 0 pinwheel"
)

# A fresh key (32-byte master key + 12-byte salt) and SSRC per camera:
# base64 for vigild's config, hex for GStreamer's srtpenc.
umask 077
conf=$work/vigil.conf
cat >"$conf" <<EOF
; written by scripts/demo.sh
[Ingest]
Ports = 5004, 6000-6010
RecordDir = $work/recordings
StateDir = $work/state
Device = net_af_packet0,iface=$VIGIL_VETH_ROOT
Workers = 1
SegmentSeconds = 2
EOF
declare -A key_hex ssrc
for c in "${cameras[@]}"; do
	read -r name codec _size _port _seq _pattern <<<"$c"
	key_b64=$(head -c 44 /dev/urandom | base64 -w0)
	key_hex[$name]=$(base64 -d <<<"$key_b64" | od -An -tx1 -v | tr -d ' \n')
	ssrc[$name]=$(( $(od -An -tu4 -N4 /dev/urandom) | 1 ))
	cat >>"$conf" <<EOF

[Camera]
Name = $name
SSRC = ${ssrc[$name]}
Suite = AEAD_AES_256_GCM
Key = $key_b64
Codec = $codec
EOF
done
chmod 600 "$conf"
umask 022

echo "demo: starting vigild (config $conf)"
rc=0
proc_start "$work/summary.json" "$work/vigild.log" "$VIGILD_READY" 30 "$vigild" --config "$conf" || rc=$?
vigild_pid=$PROC_PID
[ "$rc" != 1 ] || { cat "$work/vigild.log" >&2; die "vigild did not start"; }
sleep 1

echo "demo: ${#cameras[@]} cameras streaming for ${seconds}s"
mkdir -p "$work/reference"
camera_pids=()
for c in "${cameras[@]}"; do
	read -r name codec size port seq pattern <<<"$c"
	lc=${codec,,}
	"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec "$lc" --key "${key_hex[$name]}" \
		--ssrc "${ssrc[$name]}" --seqnum-offset "$seq" --num-buffers $((seconds * fps)) \
		--fps "$fps" --size "$size" --pattern "$pattern" --dest "$VIGIL_IP_ROOT:$port" \
		--ref "$work/reference/$name.$lc" >"$work/camera-$name.log" 2>&1 &
	camera_pids+=($!)
	proc_track "$!"
done
for pid in "${camera_pids[@]}"; do
	rc=0
	wait "$pid" || rc=$?
	proc_forget "$pid"
	[ "$rc" = 0 ] || die "a camera failed ($rc); see $work/camera-*.log"
done
sleep 1 # let the last packets land before stopping

echo "demo: stopping vigild (SIGINT): it drains and writes the summary"
rc=0
proc_stop "$vigild_pid" INT 60 || rc=$?
[ "$rc" = 0 ] || { tail -n 20 "$work/vigild.log" >&2; die "vigild exited $rc"; }

# ---- human summary ---------------------------------------------------------------
echo
printf '%-8s %-5s %-9s %12s %12s %9s  %s\n' camera codec size "frames sent" "recorded" segments "recording"
for c in "${cameras[@]}"; do
	read -r name codec size _port _seq _pattern <<<"$c"
	lc=${codec,,}
	fmt=h264
	[ "$lc" = h265 ] && fmt=hevc
	sent=$(ffmpeg -nostdin -v error -f "$fmt" -i "$work/reference/$name.$lc" -f framemd5 - 2>/dev/null |
		grep -vc '^#' || true)
	jq -r --arg n "$name" --arg codec "$codec" --arg size "$size" --arg sent "$sent" \
		'.cameras[$n] | "\($n)\t\($codec)\t\($size)\t\($sent)\t\(.frames_recorded)\t\(.segments)\t\(.recording_dir)"' \
		"$work/summary.json" |
		awk -F'\t' '{ printf "%-8s %-5s %-9s %12s %12s %9s  %s\n", $1, $2, $3, $4, $5, $6, $7 }'
done
echo
jq -r '.totals | "packets: \(.rx_packets) received, \(.decrypted) decrypted, \(.auth_failed) forged, \(.replayed) replayed, \(.unknown_ssrc) unknown SSRC, \(.not_udp + .not_ip) not UDP/IPv4 (the host kernel answering on the veth)"' \
	"$work/summary.json"
first=$(jq -r '.cameras.lobby.recording_dir' "$work/summary.json")
cat <<EOF

JSON summary:  $work/summary.json
vigild log:    $work/vigild.log
config:        $conf (chmod 600: it holds the keys)

Play a recording through its HLS playlist:
  ffplay $first/index.m3u8
Convert one to MP4:
  ffmpeg -i $first/index.m3u8 -c copy lobby.mp4
EOF
