#!/bin/bash
# SPDX-License-Identifier: MIT
# SRTCP muxed on the RTP port (RFC 5761), from a real peer. A GStreamer
# camera in a network namespace sends H.264 through rtpbin, whose RTP and
# RTCP source pads go through one srtpenc (AEAD_AES_256_GCM) and a funnel
# into one udpsink: SRTP and SRTCP sender reports on the same port. vigild
# runs live on af_packet; tcpdump records what the camera sent. Then, from
# the namespace (pcap_send.py), copies of the camera's SRTCP:
#   - exact copies, and copies with one tag bit flipped: replayed (the
#     window refuses an index already used before any decryption);
#   - forgeries under indexes not used yet: a bit of the tag, of the
#     encrypted body or of the clear header flipped, the header kept with a
#     random body and tag (a forged sender report), the E bit cleared, the
#     index alone changed, a bare header and tag: auth_failed;
#   - the SSRC replaced by one no camera has: unknown_ssrc;
#   - cut to 8 and 27 bytes (less than header and trailer): malformed.
# vigild must count rtcp = the camera's SRTCP packets exactly, decrypted =
# its RTP packets, every copy as above, and record the camera's frames
# exactly. Last, vigild --pcap over a copy of the capture in which forged
# versions of each SRTCP packet come right BEFORE it (same index, not seen
# yet: only the alteration can make them fail) and every SRTCP packet again
# at the end: auth_failed, rtcp and replayed exactly.
#
# GStreamer's srtpenc with aes-256-gcm always encrypts SRTCP (E = 1): it
# asks libsrtp2 for authentication without encryption only with the null
# cipher, so SRTCP with E = 0 under AEAD_AES_256_GCM is covered by the unit
# tests against libsrtp2 (tests/unit/test_srtp.c), not here. rtpbin sends a
# report every 5 s or so (rtpsession's rtcp-min-interval; gst-launch cannot
# set it, the session does not exist yet when the pipeline is parsed): some
# 5 or 6 SRTCP packets in 20 s, the last one as the stream ends.
#
# usage: srtcp.sh BUILD_DIR|VIGILD [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip. VIGIL_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
# shellcheck source=SCRIPTDIR/../tools/testlib.sh
source "$tools/testlib.sh"
PYTHON=${PYTHON:-/usr/bin/python3}
PORT=5004
FPS=30
FRAMES=600 # 20 s
KEY_INT=30

target=${1:-} scratch=${2:-}
[ -n "$target" ] || { echo "usage: $0 BUILD_DIR|VIGILD [SCRATCH_DIR]" >&2; exit 1; }
vigild=$(vigild_path "$target")

require_root "network namespaces, af_packet, hugepages"
require_tools ip tcpdump gst-launch-1.0 gst-inspect-1.0 ffmpeg jq "$PYTHON"
for e in videotestsrc x264enc h264parse rtph264pay rtpbin srtpenc funnel udpsink; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
require_aesni
require_vigild "$vigild"

# srtcp_copies split|live|isolated CAPTURE SSRC [OUT.pcap]: reads the
# camera's capture. split prints what the camera sent; live writes the
# copies to send after the camera (fresh indexes for the forgeries);
# isolated writes the capture with forgeries before each SRTCP packet and
# replays at the end. Each prints a JSON object: "sent" (split), or the
# counters vigild must show for what OUT holds ("totals", "camera") and
# how many of each kind ("kinds").
srtcp_copies() {
	PYTHONPATH=$tools "$PYTHON" - "$@" <<'EOF'
import json, os, struct, sys
from collections import Counter
from srtp_pcap import flip, is_rtcp, parse_udp, read_pcap, with_rtp, write_pcap

mode, cap, ssrc = sys.argv[1], sys.argv[2], int(sys.argv[3])
E = 0x80000000  # the E bit of the word after the tag; the rest is the SRTCP index
header, end, recs = read_pcap(cap)
rtp, srtcp = [], []  # record numbers
for i, (_s, _f, pkt) in enumerate(recs):
    p = parse_udp(pkt)
    if p is None or len(p["payload"]) < 12:
        sys.exit(f"record {i}: not a camera packet")
    pl = p["payload"]
    if struct.unpack("!I", pl[4 if is_rtcp(pl) else 8:][:4])[0] != ssrc:
        sys.exit(f"record {i}: SSRC is not the camera's")
    (srtcp if is_rtcp(pl) else rtp).append(i)
pkts = [(recs[i], parse_udp(recs[i][2])) for i in srtcp]
esi = [struct.unpack("!I", p["payload"][-4:])[0] for _r, p in pkts]
index = [w & ~E for w in esi]
if index != sorted(set(index)):
    sys.exit(f"SRTCP indexes not increasing: {index}")

def with_esi(pl, word):
    return pl[:-4] + struct.pack("!I", word)

def forgeries(pl, word):
    """Altered copies of one SRTCP packet under E|index word."""
    pl = with_esi(pl, word)
    n = len(pl)
    return [
        ("forged_tag", flip(pl, n - 5, 2)),           # a bit of the tag
        ("forged_body", flip(pl, 8, 0)),              # of the encrypted sender info
        ("forged_header", flip(pl, 0, 0)),            # of the clear header (report count)
        ("forged_report", pl[:8] + os.urandom(n - 12) + pl[-4:]),  # real header, random body and tag
        ("forged_e_clear", with_esi(pl, word & ~E)),  # "only authenticated"
    ]

out, kinds, totals, camera = [], Counter(), Counter(), Counter()
def add(rec, p, pl, kind, counter, own=True):
    """One more frame: rec (the record of p) with the UDP payload pl."""
    sec, frac, pkt = rec
    out.append((sec, frac, with_rtp(pkt, p, pl)))
    kinds[kind] += 1
    totals[counter] += 1
    totals["rx_packets"] += 1
    if own:
        camera[counter] += 1

if mode == "split":
    json.dump({"rtp": len(rtp), "srtcp": len(srtcp), "indexes": index,
               "e_set": sum(1 for w in esi if w & E),
               "first_type": dict(Counter(str(p["payload"][1]) for _r, p in pkts))}, sys.stdout)
elif mode == "live":
    nxt = max(index) + 1
    for rec, p in pkts:
        pl = p["payload"]
        add(rec, p, pl, "replay", "replayed")
        add(rec, p, flip(pl, len(pl) - 5, 2), "replay_forged_tag", "replayed")
        for kind, f in forgeries(pl, E | nxt):
            add(rec, p, f, kind, "auth_failed")
            nxt += 1
        add(rec, p, with_esi(pl, E | nxt), "forged_index", "auth_failed")
        nxt += 1
        add(rec, p, pl[:4] + struct.pack("!I", ssrc ^ 0x5A5A5A5A) + pl[8:], "unknown_ssrc", "unknown_ssrc", False)
    rec, p = pkts[0]
    pl = p["payload"]
    add(rec, p, pl[:8] + os.urandom(16) + struct.pack("!I", E | nxt), "forged_bare", "auth_failed")
    add(rec, p, pl[:8], "short_8", "malformed", False)
    add(rec, p, pl[:27], "short_27", "malformed", False)
else:  # isolated: the camera's own packets plus forgeries and replays
    at = {i: k for k, i in enumerate(srtcp)}
    for i, r in enumerate(recs):
        if i in at:
            rec, p = pkts[at[i]]
            for kind, f in forgeries(p["payload"], esi[at[i]]):
                add(rec, p, f, kind, "auth_failed")
            add(rec, p, p["payload"], "genuine_srtcp", "rtcp")
        else:
            out.append(r)
            totals["rx_packets"] += 1
            totals["decrypted"] += 1
            camera["decrypted"] += 1
    for rec, p in pkts:
        add(rec, p, p["payload"], "replay", "replayed")
if mode != "split":
    write_pcap(sys.argv[4], header, end, out)
    json.dump({"totals": totals, "camera": camera, "kinds": kinds}, sys.stdout)
print()
EOF
}

# check_counters LABEL SUMMARY EXPECTED_JSON: every counter the expectation
# names, in totals and for the camera, exactly.
check_counters() {
	local label=$1 summary=$2 expected=$3 scope k
	echo "$label: $(jq -c '.totals | {rx_packets, decrypted, rtcp, replayed, auth_failed, unknown_ssrc, malformed}' "$summary")"
	for scope in totals camera; do
		for k in $(jq -r ".$scope | keys[]" <<<"$expected"); do
			if [ "$scope" = totals ]; then
				check_counter "$label" "$summary" ".totals.$k" "$(jq -r ".totals.$k" <<<"$expected")"
			else
				check_counter "$label" "$summary" ".cameras.cam.$k" "$(jq -r ".camera.$k" <<<"$expected")"
			fi
		done
	done
}

frame_hashes() { ffmpeg -nostdin -v error "$@" -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }

# check_recording LABEL DIR: the camera's frames, all of them, in order.
check_recording() {
	local label=$1 dir=$2 segs
	segs=("$dir"/cam/*.ts)
	[ -e "${segs[0]}" ] || { fail "$label: no segments in $dir/cam"; return; }
	cat "${segs[@]}" >"$work/$label.ts"
	frame_hashes -i "$work/$label.ts" >"$work/$label.framemd5" 2>"$work/$label.ffmpeg.err" || true
	[ ! -s "$work/$label.ffmpeg.err" ] || fail "$label: ffmpeg on the recording: $(head -c 400 "$work/$label.ffmpeg.err")"
	if cmp -s "$work/ref.framemd5" "$work/$label.framemd5"; then
		echo "$label: $(wc -l <"$work/$label.framemd5") decoded frames identical to the camera's"
	else
		fail "$label: recording has $(wc -l <"$work/$label.framemd5") frames, the camera $ref_frames, or different ones"
	fi
}

test_begin srtcp "$scratch"
vigil_netns_create srtcp

head -c 44 /dev/urandom >"$work/key.bin"
key_hex=$(od -An -tx1 -v "$work/key.bin" | tr -d ' \n')
ssrc=$(( $(od -An -tu4 -N4 /dev/urandom) | 1 ))
umask 077
{
	printf '[Ingest]\nPorts = %s\nRecordDir = %s/rec-live\nStateDir = %s/state\n' "$PORT" "$work" "$work"
	printf 'Device = net_af_packet0,iface=%s\nWorkers = 1\nSegmentSeconds = 2\n' "$VIGIL_VETH_ROOT"
	printf '[Camera]\nName = cam\nSSRC = %s\nKey = %s\nCodec = H264\n' "$ssrc" "$(base64 -w0 "$work/key.bin")"
} >"$work/vigil.conf"
grep -v '^StateDir' "$work/vigil.conf" >"$work/pcap.conf" # a capture run keeps no replay state
umask 022

# ---- live: the camera, then copies of its SRTCP ------------------------------------

test_start_capture "$work/tcpdump.log" \
	tcpdump -i "$VIGIL_VETH_ROOT" -n -s 0 -U -w "$work/cam.pcap" "udp and dst port $PORT"
tcpdump_pid=$PROC_PID
test_start_vigild "$vigild" "$work/vigil.conf" "$work/live.json" "$work/live.log"
vigild_pid=$PROC_PID

note "camera: $FRAMES frames, SSRC $ssrc, rtpbin SRTP and SRTCP through one udpsink to $VIGIL_IP_ROOT:$PORT"
# The tee writes the encoder's output as the Annex-B reference
# (byte-stream, or it does not decode as a raw stream). rtpbin does not
# always pass EOS on through srtpenc and the funnel (in one run of five
# with 60 frames, once in CI with 600; every frame sent and
# the reference complete), so the pipeline gets the frames' time and 30 s
# more and is then stopped with SIGINT, which closes the reference file; an
# ERROR from GStreamer still fails, and the frames are checked below.
gst_status=0
timeout -s INT $((FRAMES / FPS + 30)) ip netns exec "$VIGIL_NS" gst-launch-1.0 -q rtpbin name=rb \
	videotestsrc num-buffers="$FRAMES" is-live=true pattern=ball \
	! "video/x-raw,format=I420,width=320,height=240,framerate=$FPS/1" \
	! x264enc tune=zerolatency speed-preset=ultrafast key-int-max="$KEY_INT" ! video/x-h264 ! tee name=t \
	t. ! queue ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! filesink location="$work/ref.h264" \
	t. ! queue ! rtph264pay config-interval=1 mtu=1200 ssrc="$ssrc" ! rb.send_rtp_sink_0 \
	rb.send_rtp_src_0 ! se.rtp_sink_0 rb.send_rtcp_src_0 ! se.rtcp_sink_0 \
	srtpenc name=se key="$key_hex" rtp-cipher=aes-256-gcm rtp-auth=null rtcp-cipher=aes-256-gcm rtcp-auth=null \
	se.rtp_src_0 ! mux.sink_0 se.rtcp_src_0 ! mux.sink_1 \
	funnel name=mux ! udpsink host="$VIGIL_IP_ROOT" port="$PORT" sync=false async=false >"$work/gst.log" 2>&1 ||
	gst_status=$?
[ "$gst_status" = 124 ] && note "the camera's pipeline did not end at EOS; stopped after $((FRAMES / FPS + 30)) s"
if { [ "$gst_status" != 0 ] && [ "$gst_status" != 124 ]; } || grep -q '^ERROR' "$work/gst.log"; then
	fail "the GStreamer camera failed ($gst_status): $(tail -n 5 "$work/gst.log")"
	exit 1
fi
sleep 1 # the last packets on the wire
kill -0 "$tcpdump_pid" 2>/dev/null || fail "tcpdump exited before it was stopped: $(cat "$work/tcpdump.log")"
proc_stop "$tcpdump_pid" INT 10 || true
grep -q "^0 packets dropped by kernel" "$work/tcpdump.log" || fail "tcpdump dropped packets: $(cat "$work/tcpdump.log")"

sent=$(srtcp_copies split "$work/cam.pcap" "$ssrc") || { fail "reading the capture failed"; exit 1; }
n_rtp=$(jq .rtp <<<"$sent") n_srtcp=$(jq .srtcp <<<"$sent")
note "camera sent $n_rtp SRTP and $n_srtcp SRTCP packets (first RTCP types $(jq -c .first_type <<<"$sent"), E set in $(jq .e_set <<<"$sent"), indexes $(jq -c .indexes <<<"$sent"))"
[ "$n_srtcp" -ge 3 ] || fail "only $n_srtcp SRTCP packets in $((FRAMES / FPS)) s, want at least 3"
[ "$(jq '.first_type["200"] // 0' <<<"$sent")" -ge 3 ] || fail "fewer than 3 sender reports"

live=$(srtcp_copies live "$work/cam.pcap" "$ssrc" "$work/copies.pcap") || { fail "writing the copies failed"; exit 1; }
note "sending copies of the camera's SRTCP: $(jq -c .kinds <<<"$live")"
copies=$(ip netns exec "$VIGIL_NS" "$PYTHON" "$tools/pcap_send.py" "$work/copies.pcap" "$VIGIL_IP_ROOT" "$PORT" \
	--rate 500 | awk '/^sent/ { print $2 }')
[ "$copies" = "$(jq .totals.rx_packets <<<"$live")" ] || fail "pcap_send sent ${copies:-nothing}"
sleep 1
proc_stop "$vigild_pid" INT 60 || fail "vigild exited non-zero after SIGINT: $(tail -n 5 "$work/live.log")"

# What the camera sent, counted once, plus the copies.
want=$(jq -c --argjson r "$n_rtp" --argjson s "$n_srtcp" \
	'del(.kinds, .totals.rx_packets) | .totals += {decrypted: $r, rtcp: $s, roc_trials: 0}
	 | .camera += {decrypted: $r, rtcp: $s, roc_trials: 0}' <<<"$live")
check_counters live "$work/live.json" "$want"
check_invariant live "$work/live.json"

frame_hashes -f h264 -i "$work/ref.h264" >"$work/ref.framemd5" 2>"$work/ref.ffmpeg.err" || true
ref_frames=$(wc -l <"$work/ref.framemd5")
[ "$ref_frames" -ge "$FRAMES" ] || fail "the reference decodes to $ref_frames frames, the camera sent $FRAMES"
check_recording live "$work/rec-live"

# ---- a capture: each forgery before the packet it copies ----------------------------

iso=$(srtcp_copies isolated "$work/cam.pcap" "$ssrc" "$work/isolated.pcap") || { fail "writing the copy failed"; exit 1; }
note "vigild --pcap: the capture with $(jq -c .kinds <<<"$iso")"
if timeout 120 "$vigild" --config "$work/pcap.conf" --pcap "$work/isolated.pcap" --record-dir "$work/rec-pcap" \
	>"$work/pcap.json" 2>"$work/pcap.log"; then
	check_counters pcap "$work/pcap.json" "$(jq -c 'del(.kinds) | .totals.roc_trials = 0' <<<"$iso")"
	check_invariant pcap "$work/pcap.json"
	check_recording pcap "$work/rec-pcap"
else
	fail "vigild --pcap failed: $(tail -n 5 "$work/pcap.log")"
fi

test_finish srtcp
