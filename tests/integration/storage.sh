#!/bin/bash
# SPDX-License-Identifier: MIT
# Recordings into object storage: a throwaway Ceph cluster with its RADOS
# Gateway (tests/tools/ceph_s3.sh) is the bucket, boto3 (s3_client.py) the
# client the checks read it with. vigil-cam sends a real clip.
#
#   capture, MPEG-TS, KeepLocal = yes: a plain and a sealed camera through
#     vigild --pcap; every segment, init and playlist in the bucket is
#     byte for byte the file on disk (MD5 = ETag, then downloaded and
#     compared), the sealed ones open with vigil-open from the bucket, and
#     the bucket's playlists play the clip frame for frame.
#   capture, fMP4, KeepLocal = no: the disk ends with no segment (the spool
#     empty), ffmpeg plays the bucket's copy over HTTP, the clip frame for
#     frame.
#   live (vigil-cam's two cameras and a GStreamer one, from a network
#     namespace), the gateway stopped mid-run and started again: nothing lost, the
#     backlog drains, the failures counted; then stopped at the end: what is
#     left stays in the spool and goes up after the next start (which the
#     store, still down, does not stop); then with a
#     tiny SpoolBytes: frames dropped and counted (cause spool), the rest
#     whole; then vigild killed (SIGKILL) mid-run with a multipart upload
#     of this node left open: after the restart everything durable is in
#     the bucket once and no upload is open.
#   wrong credentials, a missing bucket: exit 1 at start, and why (a store
#     out of reach does not stop vigild: the live restart above).
#
# usage: storage.sh BUILD_DIR|VIGILD VIGIL_CAM VIGIL_OPEN VIGILCTL [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} vigil_cam=${2:-} vigil_open=${3:-} vigilctl=${4:-} scratch=${5:-}
PYTHON=${PYTHON:-/usr/bin/python3}
BUCKET=vigil-test
NODE=n1

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "a Ceph cluster of its own, network namespaces"
require_tools ffmpeg jq ip curl promtool gst-launch-1.0 gst-inspect-1.0 ceph-mon ceph-osd radosgw "$PYTHON"
for e in x264enc srtpenc; do
	gst-inspect-1.0 "$e" >/dev/null 2>&1 || skip "GStreamer element $e is missing"
done
"$PYTHON" -c 'import boto3' 2>/dev/null || skip "python3-boto3 is missing"
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
[ -x "$vigil_cam" ] || { echo "FAIL: vigil-cam not found at $vigil_cam" >&2; exit 1; }
[ -x "$vigil_open" ] || { echo "FAIL: vigil-open not found at $vigil_open" >&2; exit 1; }
[ -x "$vigilctl" ] || { echo "FAIL: vigilctl not found at $vigilctl" >&2; exit 1; }
test_begin storage "$scratch"

s3_start
s3 mb "$BUCKET"
s3 public "$BUCKET" # a player may GET the objects over plain HTTP

frame_md5() { ffmpeg -nostdin -v error "$@" -fps_mode passthrough -f framemd5 - | awk -F', *' '!/^#/ { print $NF }'; }

# storage_conf CONF PREFIX 'Key = value'...: a [Storage] section.
storage_conf() {
	local conf=$1 prefix=$2
	shift 2
	printf '\n[Storage]\nEndpoint = %s\nBucket = %s\nRegion = default\nNode = %s\nCredentialsFile = %s\n' \
		"$S3_ENDPOINT" "$BUCKET" "$NODE" "$work/credentials" >>"$conf"
	[ -z "$prefix" ] || echo "Prefix = $prefix" >>"$conf"
	printf '%s\n' "$@" >>"$conf"
}

# clip DIR ENCODER FORMAT: 2 s of ffmpeg's test pattern, a key frame a second.
clip() {
	ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -t 2 -c:v "$2" -g 30 -bf 0 \
		-pix_fmt yuv420p -f "$3" "$1/clip"
}

# want_md5 DIR FRAMES: the clip's frames looped to FRAMES.
want_md5() {
	local i
	frame_md5 -i "$1/clip" >"$1/clip.md5"
	for ((i = 0; i < $2; i++)); do sed -n "$((i % 60 + 1))p" "$1/clip.md5"; done
}

# object_of PLAYLIST FILE: FILE's name in the bucket: a segment's with its
# start before it, as PLAYLIST's #EXT-X-PROGRAM-DATE-TIME gives it
# (2026-12-07T10:15:30.123Z: 20261207T101530.123Z-FILE); another file's as
# it is.
object_of() {
	awk -v f="$2" 'BEGIN { t = ""; name = f }
		/^#EXT-X-PROGRAM-DATE-TIME:/ { t = substr($0, 26); gsub(/[-:]/, "", t); next }
		/^#/ { next }
		$0 == f { if (t != "") name = t "-" f; exit }
		{ t = "" }
		END { print name }' "$1"
}

# as_in_bucket PLAYLIST: the playlist as the bucket should hold it, each
# segment under its object's name.
as_in_bucket() {
	awk 'BEGIN { t = "" }
		/^#EXT-X-PROGRAM-DATE-TIME:/ { t = substr($0, 26); gsub(/[-:]/, "", t) }
		/^#/ { print; next }
		{ print (t != "" ? t "-" : "") $0; t = "" }' "$1"
}

# timed_objects LABEL LIST: every segment in the bucket listing LIST (one
# key a line, first) is named with its start.
timed_objects() {
	local bad
	bad=$(awk '{ sub(".*/", "", $1); print $1 }' "$2" | grep -E '\.(ts|ts\.sealed|m4s)$' |
		grep -vE '^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9]{8}\.(ts|ts\.sealed|m4s)$' | head -n 3 | tr '\n' ' ' || true)
	[ -z "$bad" ] || fail "$1: segments in the bucket without their start in the name: $bad"
}

# bucket_matches_disk LABEL REC PREFIX CAMERA: every file of the camera's
# folder on disk is in the bucket with the same bytes, under its object's
# name, and nothing else.
bucket_matches_disk() {
	local label=$1 rec=$2 prefix=$3 cam=$4 f key n=0
	s3 ls "$BUCKET" "$prefix$cam/$NODE/" >"$work/ls" || { fail "$label: cannot list the bucket"; return; }
	as_in_bucket "$rec/$cam/index.m3u8" >"$work/index.m3u8"
	for f in "$rec/$cam"/*; do
		key=$prefix$cam/$NODE/$(object_of "$rec/$cam/index.m3u8" "$(basename "$f")")
		[ "$(basename "$f")" = index.m3u8 ] && f=$work/index.m3u8
		n=$((n + 1))
		grep -q "^$key $(stat -c %s "$f") $(md5sum <"$f" | cut -d' ' -f1)\$" "$work/ls" ||
			fail "$label: $key is not in the bucket as on disk"
	done
	[ "$(wc -l <"$work/ls")" = "$n" ] || fail "$label: the bucket holds $(wc -l <"$work/ls") objects of $cam, the disk $n"
	timed_objects "$label" "$work/ls"
	f=$(cd "$rec/$cam" && ls 00000001*)
	s3 get "$BUCKET" "$prefix$cam/$NODE/$(object_of "$rec/$cam/index.m3u8" "$f")" "$work/got" &&
		cmp -s "$work/got" "$rec/$cam/$f" || fail "$label: a segment downloaded differs from the disk's"
}

# ---- capture, MPEG-TS, a plain and a sealed camera, KeepLocal = yes -----------
capture_ts() {
	local dir=$work/ts frames owner
	mkdir -p "$dir"
	clip "$dir" libx264 h264
	"$vigil_cam" --clip "$dir/clip" --codec h264 --cameras 2 --seconds 4 --out "$dir/fleet.pcap" \
		--config "$dir/vigil.conf" --record-dir "$dir/rec" >"$dir/sent.json"
	owner=$("$vigil_open" --keygen "$dir/owner.key")
	sed -i "/^Name = cam00001/a OwnerKey = $owner" "$dir/vigil.conf"
	# Two recorder threads: two upload lanes, a camera each.
	conf_ingest "$dir/vigil.conf" "StateDir = $dir/state" "SegmentSeconds = 1" "Recorders = 2"
	storage_conf "$dir/vigil.conf" ts/ "KeepLocal = yes"
	timeout 120 "$vigild" --config "$dir/vigil.conf" --pcap "$dir/fleet.pcap" >"$dir/summary.json" \
		2>"$dir/vigild.log" || { fail "ts: vigild failed: $(tail -n 3 "$dir/vigild.log")"; return; }
	frames=$(jq .frames_per_camera "$dir/sent.json")
	check_counter ts "$dir/summary.json" .totals.frames_recorded $((2 * frames))
	check_counter ts "$dir/summary.json" .storage.uploaded_segments "$(jq .totals.segments "$dir/summary.json")"
	check_counter ts "$dir/summary.json" .storage.spool_segments 0
	check_counter ts "$dir/summary.json" '[.storage.upload_failures[]] | add' 0
	bucket_matches_disk ts "$dir/rec" ts/ cam00000
	bucket_matches_disk ts "$dir/rec" ts/ cam00001
	[ -s "$dir/state/uploads.0" ] && [ -s "$dir/state/uploads.1" ] ||
		fail "ts: two recorder threads, but not two upload lanes: $(ls "$dir/state")"
	# What a player reading the bucket gets: the clip, and the sealed
	# camera's segments opened from the bucket's copies.
	want_md5 "$dir" "$frames" >"$dir/want.md5"
	mkdir -p "$dir/bucket/cam00000" "$dir/bucket/cam00001"
	s3 sync "$BUCKET" ts/cam00000/$NODE/ "$dir/bucket/cam00000"
	frame_md5 -i "$dir/bucket/cam00000/index.m3u8" >"$dir/plain.md5"
	cmp -s "$dir/want.md5" "$dir/plain.md5" || fail "ts: the bucket's cam00000 is not the clip ($(wc -l <"$dir/plain.md5") of $frames frames)"
	s3 sync "$BUCKET" ts/cam00001/$NODE/ "$dir/bucket/cam00001"
	mkdir -p "$dir/opened"
	"$vigil_open" --secret-key "$dir/owner.key" --out "$dir/opened" "$dir/bucket/cam00001" >"$dir/open.log" 2>&1 ||
		fail "ts: vigil-open refused the bucket's sealed segments: $(tail -n 3 "$dir/open.log")"
	cat "$dir"/opened/*.ts >"$dir/opened.ts" 2>/dev/null || true
	frame_md5 -i "$dir/opened.ts" >"$dir/sealed.md5"
	cmp -s "$dir/want.md5" "$dir/sealed.md5" || fail "ts: the bucket's sealed cam00001 is not the clip ($(wc -l <"$dir/sealed.md5") of $frames frames)"
	echo "capture ts: $(jq .storage.uploaded_segments "$dir/summary.json") segments uploaded, byte for byte; sealed ones open from the bucket"
}

# ---- capture, fMP4, KeepLocal = no ---------------------------------------------
capture_fmp4() {
	local dir=$work/fmp4 frames left
	mkdir -p "$dir"
	clip "$dir" libx264 h264
	"$vigil_cam" --clip "$dir/clip" --codec h264 --cameras 2 --seconds 4 --out "$dir/fleet.pcap" \
		--config "$dir/vigil.conf" --record-dir "$dir/rec" >"$dir/sent.json"
	conf_ingest "$dir/vigil.conf" "StateDir = $dir/state" "SegmentSeconds = 1" "RecordFormat = fmp4"
	storage_conf "$dir/vigil.conf" "" "KeepLocal = no"
	timeout 120 "$vigild" --config "$dir/vigil.conf" --pcap "$dir/fleet.pcap" >"$dir/summary.json" \
		2>"$dir/vigild.log" || { fail "fmp4: vigild failed: $(tail -n 3 "$dir/vigild.log")"; return; }
	frames=$(jq .frames_per_camera "$dir/sent.json")
	check_counter fmp4 "$dir/summary.json" .storage.uploaded_segments "$(jq .totals.segments "$dir/summary.json")"
	check_counter fmp4 "$dir/summary.json" .storage.spool_bytes 0
	left=$(find "$dir/rec" -name '*.m4s' | wc -l)
	[ "$left" = 0 ] || fail "fmp4: $left segment(s) still on disk with KeepLocal = no"
	# A player reading the bucket over HTTP: the playlist, then the init
	# segment and the fragments it names, relative to it.
	want_md5 "$dir" "$frames" >"$dir/want.md5"
	frame_md5 -i "$S3_ENDPOINT/$BUCKET/cam00001/$NODE/index.m3u8" >"$dir/got.md5"
	cmp -s "$dir/want.md5" "$dir/got.md5" || fail "fmp4: the bucket's cam00001 over HTTP is not the clip ($(wc -l <"$dir/got.md5") of $frames frames)"
	echo "capture fmp4: the disk a spool, empty at the end; the bucket plays the clip over HTTP"
	# The segments put back in the spool (as if never uploaded: the
	# journal gone) without their init segment: uploaded all the same,
	# the missing init said (the uploader looped on it before).
	s3 get "$BUCKET" "cam00000/$NODE/$(s3 ls "$BUCKET" cam00000/$NODE/ | awk '{ sub(".*/", "", $1); print $1 }' |
		grep -- '-00000000\.m4s$')" "$dir/rec/cam00000/00000000.m4s"
	rm -f "$dir/rec/cam00000"/init-*.mp4 "$dir/state"/uploads.*
	timeout 60 "$vigild" --config "$dir/vigil.conf" --pcap "$dir/fleet.pcap" >"$dir/summary2.json" \
		2>"$dir/vigild2.log" || fail "fmp4: with an init segment gone, vigild did not finish: $(tail -n 2 "$dir/vigild2.log")"
	grep -q 'init-00000000.mp4 is gone from disk: not uploaded' "$dir/vigild2.log" ||
		fail "fmp4: the missing init segment was not said"
	check_counter fmp4 "$dir/summary2.json" .storage.uploaded_segments 1
}

# ---- capture, large segments (multipart) and retention --------------------------
# 2 s segments of a noisy clip, about 23 MB each: multipart uploads (parts
# of 16 MiB, the object's ETag the MD5 of the parts' MD5s); RetainBytes
# removes the oldest, from the bucket too (DeleteObjects).
capture_large() {
	local dir=$work/large objects listed removed etag key
	mkdir -p "$dir"
	ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=640x360:rate=30,noise=alls=60:allf=t" -t 2 -c:v libx264 \
		-preset ultrafast -qp 8 -g 30 -bf 0 -pix_fmt yuv420p -f h264 "$dir/clip"
	"$vigil_cam" --clip "$dir/clip" --codec h264 --cameras 1 --seconds 6 --out "$dir/fleet.pcap" \
		--config "$dir/vigil.conf" --record-dir "$dir/rec" >"$dir/sent.json"
	conf_ingest "$dir/vigil.conf" "StateDir = $dir/state" "SegmentSeconds = 2" "RetainBytes = 50M"
	storage_conf "$dir/vigil.conf" large/ "KeepLocal = no"
	timeout 180 "$vigild" --config "$dir/vigil.conf" --pcap "$dir/fleet.pcap" >"$dir/summary.json" \
		2>"$dir/vigild.log" || { fail "large: vigild failed: $(tail -n 3 "$dir/vigild.log")"; return; }
	removed=$(jq .totals.segments_removed "$dir/summary.json")
	[ "$removed" -ge 1 ] || fail "large: RetainBytes removed no segment"
	# A segment retention removes before its turn is not uploaded (it would
	# be deleted from the bucket at once): counted vanished.
	check_counter large "$dir/summary.json" .storage.uploaded_segments \
		"$(jq '.totals.segments - .storage.vanished' "$dir/summary.json")"
	[ "$(jq '.storage.vanished <= .totals.segments_removed' "$dir/summary.json")" = true ] ||
		fail "large: $(jq .storage.vanished "$dir/summary.json") segments vanished, more than retention removed"
	s3 ls "$BUCKET" large/cam00000/$NODE/ | grep '\.ts ' >"$dir/ls"
	timed_objects large "$dir/ls"
	objects=$(awk '{sub(".*/", "", $1); print $1}' "$dir/ls" | tr '\n' ' ')
	s3 get "$BUCKET" large/cam00000/$NODE/index.m3u8 "$dir/index.m3u8"
	listed=$(grep -v '^#' "$dir/index.m3u8" | tr '\n' ' ')
	[ -n "$objects" ] && [ "$objects" = "$listed" ] ||
		fail "large: the bucket holds '$objects', its playlist lists '$listed'"
	[ "$(wc -l <"$dir/ls")" = $(($(jq .totals.segments "$dir/summary.json") - removed)) ] ||
		fail "large: the bucket holds $(wc -l <"$dir/ls") segments, not the $(jq .totals.segments "$dir/summary.json") made less the $removed removed"
	while read -r key _ etag; do
		[[ $etag == *-2 ]] || fail "large: $key was not uploaded in 2 parts (ETag $etag)"
	done <"$dir/ls"
	key=$(head -n 1 "$dir/ls" | cut -d' ' -f1)
	s3 get "$BUCKET" "$key" "$dir/got.ts"
	frame_md5 -i "$dir/got.ts" >"$dir/got.md5"
	[ "$(wc -l <"$dir/got.md5")" = 60 ] || fail "large: $key decodes to $(wc -l <"$dir/got.md5") frames, not 60"
	echo "capture large: $(wc -l <"$dir/ls") segments of ~$(($(head -n 1 "$dir/ls" | cut -d' ' -f2) >> 20)) MiB in 2 parts each; $removed removed by RetainBytes, from the bucket too"
	# A restart with a lower RetainBytes (the capture again: every packet
	# a replay, nothing new): the segments in the bucket, gone from disk,
	# count by the sizes their playlist keeps, and the oldest goes.
	sed -i 's/^RetainBytes = .*/RetainBytes = 30M/' "$dir/vigil.conf"
	timeout 180 "$vigild" --config "$dir/vigil.conf" --pcap "$dir/fleet.pcap" >"$dir/summary2.json" \
		2>"$dir/vigild2.log" || { fail "large: the second vigild failed: $(tail -n 3 "$dir/vigild2.log")"; return; }
	check_counter large "$dir/summary2.json" .totals.segments_removed 1
	[ "$(s3 ls "$BUCKET" large/cam00000/$NODE/ | grep -c '\.ts ')" = 1 ] ||
		fail "large: after a restart with RetainBytes = 30M the bucket holds $(s3 ls "$BUCKET" large/cam00000/$NODE/ | grep -c '\.ts ') segments, not 1"
	echo "capture large: restarted with a lower RetainBytes, the oldest segment in the bucket removed by its kept size"
}

# ---- refusals at start -------------------------------------------------------------
refusals() {
	local dir=$work/ts rc=0
	sed "s/^Bucket = .*/Bucket = no-such-bucket/" "$dir/vigil.conf" >"$work/nobucket.conf"
	chmod 600 "$work/nobucket.conf"
	"$vigild" --config "$work/nobucket.conf" --pcap "$dir/fleet.pcap" >/dev/null 2>"$work/nobucket.log" || rc=$?
	[ "$rc" = 1 ] && grep -q 'no-such-bucket does not exist' "$work/nobucket.log" ||
		fail "missing bucket: exit $rc, $(tail -n 1 "$work/nobucket.log")"
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n' "$AWS_ACCESS_KEY_ID" >"$work/wrong"
	chmod 600 "$work/wrong"
	sed "s|^CredentialsFile = .*|CredentialsFile = $work/wrong|" "$dir/vigil.conf" >"$work/wrong.conf"
	chmod 600 "$work/wrong.conf"
	rc=0
	"$vigild" --config "$work/wrong.conf" --pcap "$dir/fleet.pcap" >/dev/null 2>"$work/wrong.log" || rc=$?
	[ "$rc" = 1 ] && grep -q 'access refused (HTTP 403): check the credentials' "$work/wrong.log" ||
		fail "wrong credentials: exit $rc, $(tail -n 1 "$work/wrong.log")"
	echo "refusals: a missing bucket and wrong credentials stop vigild at start (exit 1), saying why"
}

# ---- live: outages, a full spool, restarts -------------------------------------

# live_conf DIR 'Key = value'...: two cameras' configuration (vigil-cam
# --seed storage: the same keys each run), vigild on the namespace's veth.
live_conf() {
	local dir=$1
	shift
	mkdir -p "$dir"
	cp "$work/ts/clip" "$dir/clip"
	"$vigil_cam" --clip "$dir/clip" --codec h264 --cameras 2 --seconds 0.1 --seed storage --out /dev/null \
		--config "$dir/vigil.conf" --record-dir "$dir/rec" >/dev/null
	conf_ingest "$dir/vigil.conf" "Device = net_af_packet0,iface=$VIGIL_VETH_ROOT" "StateDir = $dir/state" \
		"SegmentSeconds = 1"
	storage_conf "$dir/vigil.conf" "$(basename "$dir")/" "KeepLocal = no" "$@"
}

# send DIR SECONDS: the two cameras, live from the namespace, in the background.
send() {
	ip netns exec "$VIGIL_NS" "$vigil_cam" --clip "$1/clip" --codec h264 --cameras 2 --seconds "$2" --seed storage \
		--live "$VIGIL_VETH_CAM" --config "$1/live.conf" >"$1/sent.json" 2>"$1/cam.log" &
	cam_pid=$!
}

# in_bucket_once LABEL DIR SUMMARY: every segment vigild made is in the
# bucket, none left on disk, and each camera's playlist in the bucket
# lists exactly the segments there.
in_bucket_once() {
	local label=$1 dir=$2 prefix cam listed objects left
	prefix=$(basename "$dir")/
	left=$(find "$dir/rec" -name '*.ts' | wc -l)
	[ "$left" = 0 ] || fail "$label: $left segment(s) left on disk"
	[ -z "$(s3 uploads "$BUCKET")" ] || fail "$label: multipart uploads left open: $(s3 uploads "$BUCKET")"
	for cam in cam00000 cam00001; do
		rm -rf "$dir/bucket/$cam"
		mkdir -p "$dir/bucket/$cam"
		s3 sync "$BUCKET" "$prefix$cam/$NODE/" "$dir/bucket/$cam"
		listed=$(grep -v '^#' "$dir/bucket/$cam/index.m3u8" | sort | tr '\n' ' ')
		objects=$(cd "$dir/bucket/$cam" && ls -- *.ts | sort | tr '\n' ' ')
		[ -n "$objects" ] && [ "$listed" = "$objects" ] ||
			fail "$label: $cam: the bucket's playlist lists '$listed', the bucket holds '$objects'"
		(cd "$dir/bucket/$cam" && ls -- *.ts) >"$dir/bucket/$cam.ls"
		timed_objects "$label: $cam" "$dir/bucket/$cam.ls"
	done
}

# drained DIR: waits (30 s at most) until vigilctl storage says the spool
# is empty; its last answer in DIR/storage.json.
drained() {
	local i
	for ((i = 0; i < 60; i++)); do
		sleep 0.5
		"$vigilctl" storage >"$1/storage.json" && [ "$(jq .spool_segments "$1/storage.json")" = 0 ] && return
	done
}

# playback_redirect DIR URL: a segment uploaded and gone from the disk is
# sent to the bucket by the playback endpoint (URL), presigned: the store
# gives its bytes, and refuses the URL with its signature altered (the
# bucket is public: the signature, not the bucket, is what is checked);
# ffmpeg plays the camera's recording through the endpoint, every frame
# vigild recorded.
playback_redirect() {
	local dir=$1 url=$2 tok seg obj got loc
	tok=$("$vigilctl" token --ttl 1h cam00000 | head -n 1) # past 10 minutes: the presign is 600 s exactly
	seg=$(grep -m1 '^[0-9]*\.ts$' "$dir/rec/cam00000/index.m3u8")
	[ -n "$seg" ] && [ ! -e "$dir/rec/cam00000/$seg" ] || { fail "playback: no uploaded segment ($seg)"; return; }
	obj=$(object_of "$dir/rec/cam00000/index.m3u8" "$seg")
	read -r got loc < <(curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$url/cameras/cam00000/$seg?token=$tok")
	case $loc in
	"$S3_ENDPOINT/$BUCKET/outage/cam00000/$NODE/$obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&"*"&X-Amz-Expires=600&"*) ;;
	*) fail "playback: $got to '$loc', want a presigned URL of the segment in the bucket ($obj)" ;;
	esac
	[ "$got" = 302 ] || fail "playback: an uploaded segment answered $got, want 302"
	s3 get "$BUCKET" "outage/cam00000/$NODE/$obj" "$dir/bucket.seg"
	curl -sf -o "$dir/redirected.seg" "$loc" && cmp -s "$dir/redirected.seg" "$dir/bucket.seg" ||
		fail "playback: the presigned URL does not give the segment's bytes"
	got=$(curl -s -o /dev/null -w '%{http_code}' "${loc%?}$(if [ "${loc: -1}" = 0 ]; then echo 1; else echo 0; fi)")
	[ "$got" = 403 ] || fail "playback: the store answered $got to an altered signature, want 403"
	timeout 60 ffmpeg -nostdin -v error -protocol_whitelist http,tcp \
		-i "$url/cameras/cam00000/index.m3u8?token=$tok&from=2000-01-01T00:00:00Z" -f framemd5 - |
		awk -F', *' '!/^#/ { print $NF }' >"$dir/played.md5" || fail "playback: ffmpeg cannot play the camera through the endpoint"
	mkdir -p "$dir/pb-bucket"
	s3 sync "$BUCKET" "outage/cam00000/$NODE/" "$dir/pb-bucket"
	(cd "$dir/pb-bucket" && for seg in $(grep -v '^#' "$dir/rec/cam00000/index.m3u8"); do
		cat "$(object_of "$dir/rec/cam00000/index.m3u8" "$seg")"
	done) |
		ffmpeg -nostdin -v error -f mpegts -i - -f framemd5 - | awk -F', *' '!/^#/ { print $NF }' >"$dir/bucket.md5"
	[ -s "$dir/played.md5" ] && cmp -s "$dir/played.md5" "$dir/bucket.md5" ||
		fail "playback: $(wc -l <"$dir/played.md5") frames through the endpoint, not the bucket's $(wc -l <"$dir/bucket.md5")"
	[ "$(ctl_stats | jq .playback.answers.redirect)" -ge 2 ] || fail "playback: redirects not counted"
	grep -q '"command":"token"' "$dir/audit.log" || fail "playback: vigilctl token not in the test's audit log"
}
ctl_stats() { "$vigilctl" --json stats | jq .stats; }

# The gateway stops for a while mid-run: nothing lost; the failures
# counted, told as events, in the metrics and in vigilctl storage.
live_outage() {
	local dir=$work/outage frames mport=$((19400 + RANDOM % 500)) watch_pid gst_pid
	live_conf "$dir"
	conf_ingest "$dir/vigil.conf" "MetricsListen = 127.0.0.1:$mport" "MaxCameras = 3" \
		"PlaybackListen = 127.0.0.1:$((mport + 1))"
	head -c 44 /dev/urandom >"$dir/gst.key"
	printf '\n[Camera]\nName = gst\nSSRC = 20817\nKey = %s\nCodec = H264\n' "$(base64 -w0 "$dir/gst.key")" >>"$dir/vigil.conf"
	# its audit log (vigilctl token is a change) in the test's directory
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log" --audit "$dir/audit.log"
	local vigild_pid=$PROC_PID
	"$vigilctl" watch >"$dir/events.jsonl" 2>"$dir/watch.log" &
	watch_pid=$!
	"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec h264 --key "$(od -An -tx1 -v "$dir/gst.key" | tr -d ' \n')" \
		--ssrc 20817 --num-buffers 390 --fps 30 --key-int 30 --size 320x240 --dest "$VIGIL_IP_ROOT:5004" \
		--ref "$dir/gst.ref" >"$dir/gst.log" 2>&1 &
	gst_pid=$!
	send "$dir" 14
	sleep 3
	"$tools/ceph_s3.sh" rgw-stop "$ceph_dir"
	sleep 8
	"$vigilctl" storage >"$dir/storage-down.json" || fail "outage: vigilctl storage failed"
	"$tools/ceph_s3.sh" rgw-start "$ceph_dir" || fail "outage: the gateway did not start again"
	wait "$cam_pid" || fail "outage: vigil-cam failed: $(tail -n 2 "$dir/cam.log")"
	wait "$gst_pid" || fail "outage: the GStreamer camera failed: $(tail -n 2 "$dir/gst.log")"
	drained "$dir" # retries every 10 s at most once the store is back
	sleep 1.5 # the recovery's event, within a second
	curl -s "http://127.0.0.1:$mport/metrics" >"$dir/metrics.txt" || fail "outage: no metrics page"
	"$vigilctl" storage >"$dir/storage.json" || fail "outage: vigilctl storage failed"
	playback_redirect "$dir" "http://127.0.0.1:$((mport + 1))"
	proc_stop "$vigild_pid" INT 90 || fail "outage: vigild exited non-zero"
	kill "$watch_pid" 2>/dev/null || true
	wait "$watch_pid" 2>/dev/null || true
	frames=$(jq .frames_per_camera "$dir/sent.json")
	check_counter outage "$dir/summary.json" '[.cameras.cam00000.frames_recorded, .cameras.cam00001.frames_recorded] | add' $((2 * frames))
	check_counter outage "$dir/summary.json" .storage.uploaded_segments "$(jq .totals.segments "$dir/summary.json")"
	check_counter outage "$dir/summary.json" .storage.spool_segments 0
	[ "$(jq '.storage.upload_failures | .connect + .timeout + .http_5xx' "$dir/summary.json")" -gt 0 ] ||
		fail "outage: no failure counted while the gateway was down"
	# While down, segments waited in the spool; once drained, the
	# metrics say what vigilctl storage says (the two segments open then
	# close at the stop, after).
	[ "$(jq .spool_segments "$dir/storage-down.json")" -gt 0 ] || fail "outage: vigilctl storage showed no spool while down"
	promtool check metrics <"$dir/metrics.txt" >"$dir/promtool.txt" 2>&1 || fail "outage: promtool: $(head -n 3 "$dir/promtool.txt")"
	grep -qx "vigil_uploaded_segments_total $(jq .uploaded_segments "$dir/storage.json")" "$dir/metrics.txt" &&
		grep -qx 'vigil_spool_segments 0' "$dir/metrics.txt" &&
		grep -qx "vigil_upload_failures_total{cause=\"connect\"} $(jq .storage.upload_failures.connect "$dir/summary.json")" "$dir/metrics.txt" ||
		fail "outage: the metrics differ from vigilctl storage and the summary"
	[ "$(jq -s '[.[] | select(.type == "storage_failing")] | length' "$dir/events.jsonl")" = 1 ] &&
		[ "$(jq -s '[.[] | select(.type == "storage_recovered")] | length' "$dir/events.jsonl")" = 1 ] ||
		fail "outage: events: $(jq -c 'select(.type | startswith("storage"))' "$dir/events.jsonl" | tr '\n' ' ')"
	in_bucket_once outage "$dir"
	# The GStreamer camera: what the bucket plays is what its encoder made.
	mkdir -p "$dir/bucket/gst"
	s3 sync "$BUCKET" outage/gst/$NODE/ "$dir/bucket/gst"
	frame_md5 -f h264 -i "$dir/gst.ref" >"$dir/gst-want.md5"
	frame_md5 -i "$dir/bucket/gst/index.m3u8" >"$dir/gst-got.md5"
	[ "$(wc -l <"$dir/gst-want.md5")" -ge 300 ] && cmp -s "$dir/gst-want.md5" "$dir/gst-got.md5" ||
		fail "outage: the bucket's GStreamer camera plays $(wc -l <"$dir/gst-got.md5") frames, not the encoder's $(wc -l <"$dir/gst-want.md5")"
	want_md5 "$work/ts" "$frames" >"$dir/want.md5"
	frame_md5 -i "$dir/bucket/cam00000/index.m3u8" >"$dir/got.md5"
	cmp -s "$dir/want.md5" "$dir/got.md5" || fail "outage: the bucket's cam00000 is not the clip ($(wc -l <"$dir/got.md5") of $frames frames)"
	echo "outage: the gateway down 8 s; $(jq -c .storage.upload_failures "$dir/summary.json"); storage_failing and storage_recovered told; every frame in the bucket"
}

# Down at the stop: the rest stays in the spool and goes up at the next
# start (no camera sending then).
live_restart() {
	local dir=$work/restart left made
	live_conf "$dir" "UploadWaitSeconds = 2"
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log"
	local vigild_pid=$PROC_PID
	send "$dir" 4
	sleep 2
	"$tools/ceph_s3.sh" rgw-stop "$ceph_dir"
	wait "$cam_pid" || fail "restart: vigil-cam failed"
	proc_stop "$vigild_pid" INT 60 || fail "restart: vigild exited non-zero"
	left=$(jq .storage.spool_segments "$dir/summary.json")
	made=$(jq .totals.segments "$dir/summary.json")
	[ "$left" -gt 0 ] && [ "$(find "$dir/rec" -name '*.ts' | wc -l)" = "$left" ] ||
		fail "restart: $left segment(s) said left in the spool, $(find "$dir/rec" -name '*.ts' | wc -l) on disk"
	# The store still down at the next start: vigild starts all the same
	# (the spool holds what it records), then uploads once it answers.
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary2.json" "$dir/vigild2.log"
	grep -q 'recording into the spool, uploads retried until the store answers' "$dir/vigild2.log" ||
		fail "restart: vigild did not say the store was out of reach at start"
	"$tools/ceph_s3.sh" rgw-start "$ceph_dir" || fail "restart: the gateway did not start again"
	drained "$dir"
	proc_stop "$PROC_PID" INT 60 || fail "restart: the second vigild exited non-zero"
	check_counter restart "$dir/summary2.json" .storage.uploaded_segments "$left"
	in_bucket_once restart "$dir"
	[ "$(s3 ls "$BUCKET" restart/ | grep -c '\.ts ')" = "$made" ] || fail "restart: the bucket does not hold the $made segments made"
	echo "restart: $left of $made segments left in the spool at the stop; the next start, the store still down, uploads them once it is up"
}

# A spool of 64 KiB while the gateway is down: frames dropped and counted,
# the rest whole.
live_spool_full() {
	local dir=$work/spool
	live_conf "$dir" "SpoolBytes = 64K"
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log"
	local vigild_pid=$PROC_PID
	send "$dir" 10
	sleep 2
	"$tools/ceph_s3.sh" rgw-stop "$ceph_dir"
	sleep 4
	"$tools/ceph_s3.sh" rgw-start "$ceph_dir" || fail "spool: the gateway did not start again"
	wait "$cam_pid" || fail "spool: vigil-cam failed"
	sleep 1
	proc_stop "$vigild_pid" INT 90 || fail "spool: vigild exited non-zero"
	[ "$(jq '.totals.io.errors.spool // 0' "$dir/summary.json")" -gt 0 ] &&
		[ "$(jq .totals.recorder_dropped "$dir/summary.json")" -gt 0 ] ||
		fail "spool: a full spool dropped no frame: $(jq -c '.totals | {recorder_dropped, io}' "$dir/summary.json")"
	check_counter spool "$dir/summary.json" .storage.uploaded_segments "$(jq .totals.segments "$dir/summary.json")"
	in_bucket_once spool "$dir"
	echo "spool full: $(jq .totals.recorder_dropped "$dir/summary.json") frames dropped (cause spool), every segment made uploaded"
}

# SIGKILL mid-run, with a multipart upload of this node left open: after
# the restart everything durable is in the bucket once, nothing open.
live_kill() {
	local dir=$work/kill
	live_conf "$dir"
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary.json" "$dir/vigild.log"
	local vigild_pid=$PROC_PID
	send "$dir" 6
	sleep 4
	kill -KILL "$vigild_pid"
	wait "$vigild_pid" 2>/dev/null || true
	proc_forget "$vigild_pid"
	# What a crash in the middle of a multipart upload leaves.
	s3 create-upload "$BUCKET" "kill/cam00000/$NODE/99999999.ts" >/dev/null
	wait "$cam_pid" || true
	test_start_vigild "$vigild" "$dir/vigil.conf" "$dir/summary2.json" "$dir/vigild2.log"
	sleep 3
	proc_stop "$PROC_PID" INT 60 || fail "kill: the restarted vigild exited non-zero"
	grep -q 'multipart upload(s) this node left open aborted' "$dir/vigild2.log" ||
		fail "kill: the open multipart upload was not aborted at start"
	in_bucket_once kill "$dir"
	echo "kill -9: after the restart every durable segment in the bucket once, no upload left open"
}

capture_ts
capture_fmp4
capture_large
refusals
vigil_netns_create storage
live_outage
live_restart
live_spool_full
live_kill
test_finish storage
