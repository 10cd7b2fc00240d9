#!/bin/bash
# SPDX-License-Identifier: MIT
# One GStreamer SRTP camera (AEAD_AES_256_GCM): videotestsrc -> x264enc or
# x265enc -> RTP -> srtpenc -> UDP. A tee writes what the encoder produced
# as an Annex-B reference file, so a recording can be compared with what
# was sent frame for frame.
#
# usage: gst_cam.sh --codec h264|h265 --key HEX88 --ssrc N --dest IP:PORT --ref FILE
#                   [--seqnum-offset N] [--num-buffers N] [--size WxH] [--fps N]
#                   [--key-int N] [--bframes N] [--pattern NAME] [--motion N] [--netns NS]
# With --netns the pipeline runs inside that network namespace.
# --bframes N (N > 0) has the encoder put up to N B-frames between reference
# frames (fixed pattern, no adaptive placement), so decode order differs
# from display order. Default 0: tune=zerolatency, which has no B-frames.
# --motion N scrolls the pattern N pixels a frame, so that every frame
# differs from the next (a picture compared at the wrong position fails).
set -euo pipefail

usage() {
	sed -n '7,16s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

codec='' key='' ssrc='' dest='' ref='' netns=''
seqnum_offset=0 num_buffers=300 size=640x360 fps=30 key_int=60 bframes=0 pattern=smpte motion=0
while [ $# -gt 0 ]; do
	case $1 in
	--codec) codec=$2 ;;
	--key) key=$2 ;;
	--ssrc) ssrc=$2 ;;
	--dest) dest=$2 ;;
	--ref) ref=$2 ;;
	--seqnum-offset) seqnum_offset=$2 ;;
	--num-buffers) num_buffers=$2 ;;
	--size) size=$2 ;;
	--fps) fps=$2 ;;
	--key-int) key_int=$2 ;;
	--bframes) bframes=$2 ;;
	--pattern) pattern=$2 ;;
	--motion) motion=$2 ;;
	--netns) netns=$2 ;;
	*) usage ;;
	esac
	shift 2 || usage
done
for v in "$codec" "$key" "$ssrc" "$dest" "$ref"; do
	[ -n "$v" ] || usage
done
[[ $key =~ ^[0-9a-fA-F]{88}$ ]] || { echo "gst_cam: --key must be 88 hex digits (key||salt)" >&2; exit 2; }
[[ $size =~ ^[0-9]+x[0-9]+$ ]] || usage
[[ $bframes =~ ^[0-9]+$ ]] && [[ $motion =~ ^-?[0-9]+$ ]] || usage
host=${dest%:*} port=${dest##*:}

# zerolatency: no B-frames, so decode order is display order. Without it
# the encoders reorder. B-frame H.264 uses veryfast rather than ultrafast
# (CABAC, deblocking, weighted prediction: closer to a real camera); x265enc
# has no B-frame properties and takes them as option-string.
case $codec in
h264) parse=h264parse caps=video/x-h264 pay=rtph264pay ;;
h265) parse=h265parse caps=video/x-h265 pay=rtph265pay ;;
*) usage ;;
esac
enc_caps=$caps
case $codec:$bframes in
h264:0) enc="x264enc tune=zerolatency speed-preset=ultrafast key-int-max=$key_int" ;;
h264:*) enc="x264enc bframes=$bframes b-adapt=false speed-preset=veryfast key-int-max=$key_int"
	# rtph264pay offers only constrained-baseline upstream when the RTP caps
	# carry no profile-level-id (RFC 6184's default), and x264enc then
	# silently drops the B-frames. Main profile has them.
	enc_caps=$caps,profile=main ;;
h265:0) enc="x265enc tune=zerolatency speed-preset=ultrafast key-int-max=$key_int" ;;
h265:*) enc="x265enc speed-preset=ultrafast key-int-max=$key_int option-string=bframes=$bframes:b-adapt=0" ;;
esac

run=()
[ -z "$netns" ] || run=(ip netns exec "$netns")

# Without stream-format=byte-stream the reference comes out length-prefixed
# and does not decode as a raw stream (FACTS.md). config-interval=1 repeats
# the parameter sets, so every key frame is decodable on its own.
# shellcheck disable=SC2086 # $enc is a list of element properties
exec "${run[@]}" gst-launch-1.0 -q \
	videotestsrc num-buffers="$num_buffers" is-live=true pattern="$pattern" horizontal-speed="$motion" \
	! "video/x-raw,format=I420,width=${size%x*},height=${size#*x},framerate=$fps/1" \
	! $enc ! "$enc_caps" \
	! tee name=t \
	t. ! queue ! $parse ! "$caps,stream-format=byte-stream,alignment=au" ! filesink location="$ref" \
	t. ! queue ! $pay config-interval=1 mtu=1200 ssrc="$ssrc" seqnum-offset="$seqnum_offset" \
	! srtpenc key="$key" rtp-cipher=aes-256-gcm rtp-auth=null rtcp-cipher=aes-256-gcm rtcp-auth=null \
	! udpsink host="$host" port="$port" sync=true
