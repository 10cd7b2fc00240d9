#!/bin/bash
# SPDX-License-Identifier: MIT
# A camera's recordings as one timeline across the nodes of a cluster
# (docs/cluster.md): two live vigild nodes on one veth (af_packet: both
# see the camera's packets), each uploading to the same bucket of a real
# object store (Ceph's RADOS Gateway, tests/tools/ceph_s3.sh) under its
# own node name, a real etcd; one camera (vigil-cam) streams a 20 s clip
# whose frames are all different.
#   - the first owner drained halfway: the other node takes the camera and
#     records the rest, both upload their segments, nothing collides;
#   - `vigilctl recordings CAMERA` builds one playlist from the bucket:
#     segments of both nodes in time order, a discontinuity where one
#     node's run gives way to the other's; played from the bucket over
#     HTTP it is the clip's frames in order, none twice, the frames of the
#     handover (printed) the only ones missing;
#   - --from/--to keep the segments that overlap the range, and only them;
#   - a configuration without [Storage] is told that each node records
#     locally.
#
# usage: cluster_timeline.sh BUILD_DIR [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} scratch=${2:-}
# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces"
require_tools etcd etcdctl curl jq ip ffmpeg ceph-mon ceph-osd radosgw
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import boto3' 2>/dev/null || skip "python3-boto3 is missing"
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
vigilctl=$target/tools/vigilctl vigil_cam=$target/bench/vigil-cam
test_begin cluster_timeline "$scratch"
vigil_netns_create timeline
LEASE=3 FPS=30 CLIP_S=20 BUCKET=vigil-timeline

# ---- the object store and etcd --------------------------------------------------------
s3_start
s3 mb "$BUCKET"
s3 public "$BUCKET" # a player GETs the segments over plain HTTP
umask 077
port=$((29000 + RANDOM % 2000))
endpoint=http://127.0.0.1:$port
etcd_start "$work" $((port + 1)) "$endpoint"

# ---- the camera and the nodes -------------------------------------------------------------
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=$FPS" -t $CLIP_S -c:v libx264 -g $FPS -bf 0 \
	-pix_fmt yuv420p -f h264 "$work/clip.h264"
ffmpeg -nostdin -v error -i "$work/clip.h264" -f framemd5 - | awk -F', *' '!/^#/ { print $NF }' >"$work/ref.md5"
[ "$(sort -u "$work/ref.md5" | wc -l)" = $((CLIP_S * FPS)) ] || { fail "the clip's frames are not all different"; exit 1; }
"$vigil_cam" --clip "$work/clip.h264" --codec h264 --cameras 1 --seconds 0.1 --seed timeline --out /dev/null \
	--config "$work/cam.conf" >/dev/null || { fail "vigil-cam"; exit 1; }
read -r cam ssrc key < <(awk -F' = ' '/^Name/ {n = $2} /^SSRC/ {s = $2} /^Key/ {print n, s, $2}' "$work/cam.conf")
echo "$key" >"$work/cam.key"
"$vigilctl" keygen keystore "$work/master.key" >/dev/null

for node in a b; do
	mkdir -p "$work/$node"
	{
		printf '[Ingest]\nPorts = 5004\nRecordDir = %s/%s/rec\nStateDir = %s/%s/state\nSegmentSeconds = 2\n' \
			"$work" "$node" "$work" "$node"
		printf 'Device = net_af_packet0,iface=%s\nMaxCameras = 4\nKeystoreKeyFile = %s/master.key\n' \
			"$VIGIL_VETH_ROOT" "$work"
		printf 'OfflineSeconds = 3\nIdleSleepMicroseconds = 200\n'
		printf '[Storage]\nEndpoint = %s\nBucket = %s\nRegion = default\nNode = %s\nCredentialsFile = %s\n' \
			"$S3_ENDPOINT" "$BUCKET" "$node" "$work/credentials"
		printf 'Prefix = rec/\n'
		printf '[Cluster]\nEtcd = %s\nNode = %s\nLeaseSeconds = %s\n' "$endpoint" "$node" "$LEASE"
	} >"$work/$node/vigil.conf"
	node_start "$node" "$work/$node" vigild.log
done
ctl() { "$vigilctl" --socket "$work/$1/admin.sock" "${@:2}"; }
owns() { [ "$(ctl "$1" cluster | jq -r .owned)" = 1 ]; }
has_camera() { [ "$(ctl "$1" --json cameras | jq -r '.cameras | length')" = 1 ]; }
ctl a camera add "$cam" --codec h264 --ssrc "$ssrc" --key-file "$work/cam.key" >/dev/null || { fail "camera add"; exit 1; }
until_ok 10 has_camera b || fail "b does not have the camera"
sleep 1 # af_packet up on both

ip netns exec "$VIGIL_NS" "$vigil_cam" --clip "$work/clip.h264" --codec h264 --cameras 1 --seconds $CLIP_S \
	--seed timeline --live "$VIGIL_VETH_CAM" --config "$work/live.conf" >"$work/sent.json" 2>"$work/cam.log" &
cam_pid=$!
proc_track "$cam_pid"
one_owns() { owns a || owns b; }
until_ok 10 one_owns || { fail "no node took the camera"; exit 1; }
if owns a; then first=a second=b; else first=b second=a; fi
sleep 8
note "$first drained halfway"
ctl "$first" drain >/dev/null || fail "drain of $first"
until_ok 10 owns "$second" || fail "$second did not take the camera from the drained $first"
wait "$cam_pid" || fail "vigil-cam failed: $(tail -n 3 "$work/cam.log")"
proc_forget "$cam_pid"
sleep 1
for node in a b; do
	ctl "$node" shutdown >/dev/null 2>&1 || true
	eval "p=\$pid_$node"
	wait "$p" || true
	proc_forget "$p"
done
for node in a b; do
	[ "$(jq '.storage.spool_segments' "$work/$node/summary.json")" = 0 ] ||
		fail "$node left segments in its spool: $(jq -c .storage "$work/$node/summary.json")"
done

note "the timeline from the bucket"
"$vigilctl" recordings "$cam" --config "$work/a/vigil.conf" >"$work/timeline.m3u8" 2>"$work/recordings.err" ||
	fail "vigilctl recordings: $(cat "$work/recordings.err")"
cat "$work/recordings.err"
segs=$(grep -c '^http' "$work/timeline.m3u8" || true)
# Objects named with the node and the segment's start (its
# #EXT-X-PROGRAM-DATE-TIME), then its number.
from_a=$(grep -cE "^$S3_ENDPOINT/$BUCKET/rec/$cam/a/[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9]{8}\.ts$" "$work/timeline.m3u8" || true)
from_b=$(grep -cE "^$S3_ENDPOINT/$BUCKET/rec/$cam/b/[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9]{8}\.ts$" "$work/timeline.m3u8" || true)
awk 'BEGIN { t = ""; bad = 0 }
	/^#EXT-X-PROGRAM-DATE-TIME:/ { t = substr($0, 26); gsub(/[-:]/, "", t) }
	/^http/ { n = $0; sub(".*/", "", n); if (t == "" || index(n, t "-") != 1) bad++; t = "" }
	END { exit bad > 0 }' "$work/timeline.m3u8" ||
	fail "segment names whose start is not their #EXT-X-PROGRAM-DATE-TIME: $(grep -m 4 -v '^#EXTINF' "$work/timeline.m3u8" | tail -n 2)"
note "$segs segments: $from_a from a, $from_b from b"
[ "$from_a" -gt 0 ] && [ "$from_b" -gt 0 ] && [ $((from_a + from_b)) = "$segs" ] ||
	fail "the timeline does not hold both nodes' segments: $(grep -v '^#EXT-X-PROGRAM' "$work/timeline.m3u8")"
# one node's run, then the other's: one cut between them
switches=$(grep '^http' "$work/timeline.m3u8" | sed 's|.*/\([ab]\)/[^/]*$|\1|' | uniq | wc -l)
[ "$switches" = 2 ] || fail "the timeline goes from node to node $((switches - 1)) times, want once"
# the tags of the first segment of the second node's run hold the cut
awk -v n="/$second/" '/^http/ { if (index($0, n)) { exit !cut }; cut = 0; next } /^#EXT-X-DISCONTINUITY$/ { cut = 1 }' \
	"$work/timeline.m3u8" || fail "no discontinuity where $second's run begins"
[ "$(grep -c '^#EXT-X-DISCONTINUITY$' "$work/timeline.m3u8")" = 1 ] ||
	fail "$(grep -c '^#EXT-X-DISCONTINUITY$' "$work/timeline.m3u8") discontinuities, want the one at the handover"
tail -n 1 "$work/timeline.m3u8" | grep -q '^#EXT-X-ENDLIST$' || fail "the timeline is not ended"
# The playlist is a local file; its segments are the bucket's (HTTP).
timeout 120 ffmpeg -nostdin -v error -protocol_whitelist file,http,tcp -i "$work/timeline.m3u8" -f framemd5 - \
	>"$work/got.framemd5" || fail "ffmpeg cannot play the timeline"
awk -F', *' '!/^#/ { print $NF }' "$work/got.framemd5" >"$work/got.md5"
frames_in_order "$work/ref.md5" "$work/got.md5" || fail "the timeline is not the clip's frames in order"
got=$(wc -l <"$work/got.md5") dup=$(($(wc -l <"$work/got.md5") - $(sort -u "$work/got.md5" | wc -l)))
[ "$dup" = 0 ] || fail "$dup frames twice in the timeline"
read -r first_frame last_frame < <("$PYTHON" - "$work/ref.md5" "$work/got.md5" <<'PY'
import sys
ref = {h: i for i, h in enumerate(open(sys.argv[1]).read().split())}
got = [ref[h] for h in open(sys.argv[2]).read().split()]
print(min(got), max(got))
PY
)
gap=$((last_frame - first_frame + 1 - got))
note "played from the bucket: frames $first_frame-$last_frame of the clip, $gap missing at the handover ($(awk -v g=$gap -v f=$FPS 'BEGIN {printf "%.1f", g / f}') s)"
[ "$gap" -lt $((3 * FPS)) ] || fail "$gap frames missing: more than the handover"

note "a time range"
times=$(grep '^#EXT-X-PROGRAM-DATE-TIME:' "$work/timeline.m3u8" | cut -d: -f2-)
# From the middle of the third segment to the start of the fifth: the
# third and the fourth overlap it.
from=$("$PYTHON" -c 'import datetime, sys
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ") + datetime.timedelta(seconds=1)
print(t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000))' "$(sed -n 3p <<<"$times")")
to=$(sed -n 5p <<<"$times")
"$vigilctl" recordings "$cam" --config "$work/a/vigil.conf" --from "$from" --to "$to" >"$work/range.m3u8" \
	2>/dev/null || fail "vigilctl recordings --from --to"
[ "$(grep '^#EXT-X-PROGRAM-DATE-TIME:' "$work/range.m3u8" | cut -d: -f2- | tr '\n' ' ')" = \
	"$(sed -n 3,4p <<<"$times" | tr '\n' ' ')" ] ||
	fail "[$from, $to) gave $(grep -c '^http' "$work/range.m3u8") segments: $(grep '^#EXT-X-PROGRAM' "$work/range.m3u8" | tr '\n' ' ')"

note "no [Storage]: each node records locally"
sed '/^\[Storage\]/,/^Prefix/d' "$work/a/vigil.conf" >"$work/local.conf"
if "$vigilctl" recordings "$cam" --config "$work/local.conf" >/dev/null 2>"$work/local.err"; then
	fail "recordings without [Storage] succeeded"
fi
grep -q "has no \[Storage\]: without an object store each node records its cameras on its own disk" "$work/local.err" ||
	fail "recordings without [Storage]: $(cat "$work/local.err")"
test_finish cluster_timeline
