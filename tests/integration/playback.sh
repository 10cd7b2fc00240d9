#!/bin/bash
# SPDX-License-Identifier: MIT
# PlaybackListen (docs/playback.md): two GStreamer cameras, from a network
# namespace, into vigild on af_packet, one plain and one sealed to its
# owner. Then, over HTTP:
#  - while they stream: the live playlist, its last segments only, each URI
#    carrying the token; the next live request reads only what the
#    playlist gained since (vigilctl stats: playlist_bytes_read);
#  - a time range (?from=&to=) as a VOD playlist that ffmpeg plays over
#    HTTP frame for frame as the recording on disk, the clip's frames;
#  - every segment byte for byte as on disk (the sealed one sealed);
#  - every refusal, counted exactly under its reason in vigilctl stats and
#    the metrics: no token, a forged one, one byte of it changed, an expired
#    one, another camera's, a segment outside the token's range, paths out
#    of the camera's folder, a symlink, a .partial, a POST, a bad from;
#  - vigilctl token in the audit log, never the token itself;
#  - the player's page with its Content-Security-Policy;
#  - a restart with TLS (PlaybackCertFile): the token issued before it
#    still opens (the token key is kept in StateDir), over https with the
#    certificate only; a private key others may read is refused, said.
# With the web player built (web/dist), the browser half: Chromium plays
# the plain camera and the sealed one with its owner's key, and refuses a
# wrong key and an altered segment (tests/browser/).
#
# usage: playback.sh BUILD_DIR [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=$1 scratch=${2:-}
PYTHON=${PYTHON:-/usr/bin/python3}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces"
require_tools jq curl ffmpeg ffprobe openssl ip gst-launch-1.0 tcpdump gcore "$PYTHON"
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
vigilctl=$target/tools/vigilctl vigil_open=$target/tools/vigil-open
test_begin playback "$scratch"
vigil_netns_create playback
FPS=15 CLIP_S=24
pport=$((30000 + $$ % 20000)) mport=$((30001 + $$ % 20000))

# Two GStreamer cameras, the same picture scrolling (every frame differs
# from the next); each keeps what its encoder made as the reference.
plain=lobby sealed=door
head -c 44 /dev/urandom >"$work/lobby.key"
head -c 44 /dev/urandom >"$work/door.key"
"$vigil_open" --keygen "$work/owner.key" >"$work/owner.pub"
mkdir -p "$work/player"
echo '<!doctype html><title>vigil</title>' >"$work/player/index.html"
player_dir=$work/player
# A copy of the built player: the test changes it, as an operator could.
if [ -f "$here/../../web/dist/index.html" ]; then
	cp -r "$here/../../web/dist" "$work/served-player"
	player_dir=$work/served-player
fi
cat >"$work/vigil.conf" <<EOF
[Ingest]
Ports = 5004
Device = net_af_packet0,iface=$VIGIL_VETH_ROOT
RecordDir = $work/rec
StateDir = $work/state
SegmentSeconds = 1
PlaybackListen = 127.0.0.1:$pport
PlayerDir = $player_dir
MetricsListen = 127.0.0.1:$mport
IdleSleepMicroseconds = 200

[Camera]
Name = $plain
SSRC = 1111
Key = $(base64 -w0 "$work/lobby.key")
Codec = H264

[Camera]
Name = $sealed
SSRC = 2222
Key = $(base64 -w0 "$work/door.key")
Codec = H264
OwnerKey = $(cat "$work/owner.pub")
EOF
chmod 600 "$work/vigil.conf"
sock=$work/admin.sock
start_vigild() { # [CONF]
	proc_start "$work/summary.json" "$work/vigild.log" "$VIGILD_READY" 40 "$vigild" --config "${1:-$work/vigil.conf}" \
		--admin "$sock" --audit "$work/audit.log" ||
		{ fail "vigild did not start: $(tail -n 5 "$work/vigild.log")"; exit 1; }
	vigild_pid=$PROC_PID
}
start_vigild
sleep 1 # af_packet up
url=http://127.0.0.1:$pport
ctl() { "$vigilctl" --socket "$sock" "$@"; }
# The browser half (web/dist built): the player in headless Chromium.
browser=false
[ "$player_dir" != "$work/player" ] && browser=true
play() { # NAME ARGS...: the driver's JSON line into $work/NAME.json, frames into $work/NAME/
	local name=$1
	shift
	node "$here/../browser/play.mjs" --out "$work/$name" --timeout 60 "$@" >"$work/$name.json" \
		2>"$work/$name.err" || fail "play.mjs $name could not drive Chromium: $(tail -n 3 "$work/$name.err")"
}
played() { # NAME: it played, every frame taken, no segment refused
	[ "$(jq -r '.played' "$work/$1.json")" = true ] &&
		[ "$(jq '[.frames[] | select(.png == null)] | length' "$work/$1.json")" = 0 ] &&
		[ "$(jq '[.segments[] | select(.state == "refused")] | length' "$work/$1.json")" = 0 ] ||
		fail "$1: $(head -c 600 "$work/$1.json")"
}

token_of() { ctl token "$@" | head -n 1; }

camera() { # NAME SSRC
	"$tools/gst_cam.sh" --netns "$VIGIL_NS" --codec h264 --key "$(od -An -tx1 -v "$work/$1.key" | tr -d ' \n')" \
		--ssrc "$2" --num-buffers $((FPS * CLIP_S)) --fps $FPS --key-int $FPS --size 320x240 --motion 4 \
		--dest "$VIGIL_IP_ROOT:5004" --ref "$work/$1.ref" >"$work/$1.log" 2>&1
}
camera "$plain" 1111 &
cam_pid=$!
proc_track "$cam_pid"
camera "$sealed" 2222 &
cam2_pid=$!
proc_track "$cam2_pid"

tok=$(token_of "$plain") stok=$(token_of "$sealed")
[ -n "$tok" ] && [ -n "$stok" ] || { fail "vigilctl token gave nothing"; exit 1; }
ctl token "$plain" --ttl 5m | grep -q "^player: $url/player/#camera=$plain&token=" ||
	fail "vigilctl token does not give the player's address: $(ctl token "$plain")"

note "live, while the cameras send"
live_has() { # at least 4 segments listed
	curl -sf "$url/cameras/$plain/index.m3u8?token=$tok" >"$work/live.m3u8" &&
		[ "$(grep -c '\.ts?token=' "$work/live.m3u8")" -ge 4 ]
}
until_ok 15 live_has || fail "the live playlist never listed 4 segments: $(cat "$work/live.m3u8")"
n_live=$(grep -c '^[0-9]*\.ts?token=' "$work/live.m3u8" || true)
[ "$n_live" -ge 4 ] && [ "$n_live" -le 6 ] || fail "the live playlist lists $n_live segments, want 4 to 6"
grep -q '^#EXT-X-ENDLIST' "$work/live.m3u8" && fail "a live playlist with #EXT-X-ENDLIST"
grep -q '^#EXT-X-PLAYLIST-TYPE' "$work/live.m3u8" && fail "a live playlist with a playlist type"
first_seq=$(grep -m1 '^[0-9]*\.ts?token=' "$work/live.m3u8" | sed 's/\..*//; s/^0*//')
grep -qx "#EXT-X-MEDIA-SEQUENCE:${first_seq:-0}" "$work/live.m3u8" ||
	fail "the media sequence is not the first listed segment's number ($first_seq): $(head -5 "$work/live.m3u8")"
grep -v '^#' "$work/live.m3u8" | grep -qv "?token=$tok\$" && fail "a URI without the token: $(cat "$work/live.m3u8")"
# A live request reads what the playlist gained since the last one, not
# the whole playlist again (days of segments, for a camera kept that long).
read_bytes() { ctl --json stats | jq .stats.playback.playlist_bytes_read; }
size_of() { stat -c %s "$work/rec/$plain/index.m3u8"; }
s_before=$(size_of)
curl -sf -o /dev/null "$url/cameras/$plain/index.m3u8?token=$tok" || fail "the live playlist"
b_first=$(read_bytes) s_first=$(size_of)
grown() { [ "$(size_of)" -gt "$s_first" ]; }
until_ok 10 grown || fail "the playlist did not grow while the cameras send"
curl -sf -o "$work/live2.m3u8" "$url/cameras/$plain/index.m3u8?token=$tok" || fail "the live playlist again"
b_next=$(read_bytes) s_next=$(size_of)
[ $((b_next - b_first)) -gt 0 ] && [ $((b_next - b_first)) -le $((s_next - s_before)) ] ||
	fail "the next live request read $((b_next - b_first)) bytes of a playlist of $s_next that grew by $((s_next - s_before))"
grep -q '^[0-9]*\.ts?token=' "$work/live2.m3u8" || fail "the next live playlist: $(cat "$work/live2.m3u8")"
note "the next live request read $((b_next - b_first)) bytes of a playlist of $s_next"
if $browser; then # the live edge in Chromium, while the cameras send: plain, and sealed with its owner's key
	play b-live --url "$url/player/#camera=$plain&token=$tok"
	[ "$(jq -r .played "$work/b-live.json")" = true ] && [ "$(jq -r .state "$work/b-live.json")" = playing ] ||
		fail "live in the browser: $(head -c 600 "$work/b-live.json")"
	play b-live-sealed --url "$url/player/#camera=$sealed&token=$stok&sealed=1" --owner-key "$work/owner.key"
	[ "$(jq -r .played "$work/b-live-sealed.json")" = true ] &&
		[ "$(jq -r .state "$work/b-live-sealed.json")" = playing ] &&
		[ "$(jq '[.segments[] | select(.state == "opened")] | length' "$work/b-live-sealed.json")" -ge 1 ] &&
		[ "$(jq '[.segments[] | select(.state != "opened")] | length' "$work/b-live-sealed.json")" = 0 ] ||
		fail "the sealed camera live in the browser: $(head -c 600 "$work/b-live-sealed.json")"
fi
wait "$cam_pid" || fail "the camera failed: $(tail -n 3 "$work/$plain.log")"
wait "$cam2_pid" || fail "the sealed camera failed: $(tail -n 3 "$work/$sealed.log")"
proc_forget "$cam_pid"
proc_forget "$cam2_pid"
ffmpeg -nostdin -v error -i "$work/$plain.ref" -f framemd5 - | awk -F', *' '!/^#/ { print $NF }' >"$work/ref.md5"
sleep 2 # the last frames recorded (the open segment stays open, unlisted)

note "a time range, over HTTP, as on disk"
# The disk's playlist is live (no end while vigild runs): its segments as one stream.
(cd "$work/rec/$plain" && cat $(grep -v '^#' index.m3u8)) | ffmpeg -nostdin -v error -f mpegts -i - -f framemd5 - |
	awk -F', *' '!/^#/ { print $NF }' >"$work/disk.md5"
vod="$url/cameras/$plain/index.m3u8?token=$tok&from=2000-01-01T00:00:00Z"
curl -sf "$vod" >"$work/vod.m3u8" || fail "the VOD playlist"
grep -q '^#EXT-X-ENDLIST$' "$work/vod.m3u8" || fail "a time range's playlist is not ended"
[ "$(grep -c '^[0-9]*\.ts?token=' "$work/vod.m3u8")" = "$(grep -c '^[0-9]*\.ts$' "$work/rec/$plain/index.m3u8")" ] ||
	fail "the range lists $(grep -c '\.ts?' "$work/vod.m3u8") segments, the disk's playlist $(grep -c '\.ts$' "$work/rec/$plain/index.m3u8")"
timeout 60 ffmpeg -nostdin -v error -protocol_whitelist file,http,tcp -i "$vod" -f framemd5 - |
	awk -F', *' '!/^#/ { print $NF }' >"$work/http.md5" || fail "ffmpeg cannot play the range over HTTP"
[ -s "$work/disk.md5" ] && cmp -s "$work/disk.md5" "$work/http.md5" ||
	fail "over HTTP $(wc -l <"$work/http.md5") frames, on disk $(wc -l <"$work/disk.md5"), not the same"
frames_in_order "$work/ref.md5" "$work/http.md5" || fail "the frames over HTTP are not the clip's, in order"
[ "$(wc -l <"$work/http.md5")" -ge $(((CLIP_S - 2) * FPS)) ] || fail "only $(wc -l <"$work/http.md5") frames"

note "every segment as stored"
for cam in "$plain" "$sealed"; do
	t=$tok
	[ "$cam" = "$sealed" ] && t=$stok
	n=0
	for f in $(grep -v '^#' "$work/rec/$cam/index.m3u8"); do
		curl -sf -o "$work/got.seg" "$url/cameras/$cam/$f?token=$t" || { fail "$cam/$f: not served"; continue; }
		cmp -s "$work/got.seg" "$work/rec/$cam/$f" || fail "$cam/$f: not the bytes on disk"
		n=$((n + 1))
	done
	[ "$n" -ge $((CLIP_S - 2)) ] || fail "$cam: $n segments served"
done
grep -q '\.ts\.sealed$' "$work/rec/$sealed/index.m3u8" || fail "the sealed camera's recording is not sealed"
seg=$(grep -m1 '\.ts\.sealed$' "$work/rec/$sealed/index.m3u8")
[ "$(curl -sf "$url/cameras/$sealed/$seg?token=$stok" | head -c 8)" = VGSEAL02 ] ||
	fail "the sealed segment is not served sealed"
curl -sfI "$url/cameras/$sealed/$seg?token=$stok" | grep -qi '^content-type: application/octet-stream' ||
	fail "a sealed segment's type: $(curl -sfI "$url/cameras/$sealed/$seg?token=$stok")"

note "refusals, each counted under its reason"
answers() { ctl --json stats | jq -c '.stats.playback.answers'; }
code() { curl -s -o /dev/null -w '%{http_code}' --path-as-is "$@"; }
before=$(answers)
seg0=$(grep -m1 '^[0-9]*\.ts$' "$work/rec/$plain/index.m3u8")
bad=${tok:0:10}$(if [ "${tok:10:1}" = A ]; then echo B; else echo A; fi)${tok:11}
ttl1=$(token_of "$plain" --ttl 1)
sleep 2
# a token for one second of the middle: its segment opens, the first does not
mid=$(sed -n 's/^#EXT-X-PROGRAM-DATE-TIME://p' "$work/rec/$plain/index.m3u8" | sed -n 4p)
mid_s=$(date -u -d "$mid" +%s)
rtok=$(token_of "$plain" --from "$(date -u -d "@$((mid_s + 1))" +%Y-%m-%dT%H:%M:%SZ)" \
	--to "$(date -u -d "@$((mid_s + 2))" +%Y-%m-%dT%H:%M:%SZ)")
ln -s /etc/passwd "$work/rec/$plain/00099999.ts"
touch "$work/rec/$plain/00099998.ts.partial"
expect=(
	"401 no_token $url/cameras/$plain/index.m3u8"
	"401 no_token $url/cameras/$plain/index.m3u8 --cookie vigil_token=$tok"
	"401 no_token $url/cameras/$plain/$seg0"
	"403 bad_token $url/cameras/$plain/index.m3u8?token=forged"
	"403 bad_token $url/cameras/$plain/$seg0?token=$bad"
	"403 expired $url/cameras/$plain/$seg0?token=$ttl1"
	"403 wrong_camera $url/cameras/$sealed/index.m3u8?token=$tok"
	"403 wrong_camera $url/cameras/$sealed/$seg?token=$tok"
	"403 out_of_range $url/cameras/$plain/$seg0?token=$rtok"
	"404 not_found $url/cameras/$plain/../../../etc/passwd?token=$tok"
	"404 not_found $url/cameras/..%2f..%2fetc/passwd?token=$tok"
	"404 not_found $url/cameras/$plain/00099999.ts?token=$tok"
	"404 not_found $url/cameras/$plain/00099998.ts.partial?token=$tok"
	"404 not_found $url/cameras/$plain/vigil.conf?token=$tok"
	"404 not_found $url/player/../vigil.conf"
	"404 not_found $url/player/.hidden.html"
	"404 not_found $url/elsewhere"
	"400 bad_request $url/cameras/$plain/index.m3u8?token=$tok&from=yesterday"
	"400 bad_request $url/cameras/$plain/index.m3u8?token=$rtok&to=0"
	"400 bad_request $url/cameras/$plain/index.m3u8?token=$tok&to=18446744075"
	"400 bad_request $url/cameras/$plain/index.m3u8?token=$tok -H Content-Length:0"
)
declare -A want=()
for e in "${expect[@]}"; do
	read -r status reason u more <<<"$e"
	# shellcheck disable=SC2086 # curl's extra arguments, if any
	got=$(code "$u" $more)
	[ "$got" = "$status" ] || fail "$u: $got, want $status ($reason)"
	want[$reason]=$((${want[$reason]:-0} + 1))
done
got=$(code -X POST -d x "$url/cameras/$plain/index.m3u8?token=$tok")
[ "$got" = 400 ] || fail "POST: $got, want 400"
want[bad_request]=$((${want[bad_request]:-0} + 1))
# the ranged token: its own segment opens, its playlist lists only that range
in_seg=$(curl -sf "$url/cameras/$plain/index.m3u8?token=$rtok" | grep -v '^#')
[ "$(echo "$in_seg" | wc -l)" -ge 1 ] && [ "$(echo "$in_seg" | wc -l)" -le 2 ] ||
	fail "the ranged token's playlist: $in_seg"
[ "$(code "$url/cameras/$plain/$(echo "$in_seg" | head -n 1)")" = 200 ] || fail "the ranged token's own segment"
after=$(answers)
for reason in no_token bad_token expired wrong_camera out_of_range not_found bad_request; do
	d=$(($(echo "$after" | jq ".$reason") - $(echo "$before" | jq ".$reason")))
	[ "$d" = "${want[$reason]:-0}" ] || fail "$reason counted $d times, want ${want[$reason]:-0}"
done
d=$(($(echo "$after" | jq .playlist) - $(echo "$before" | jq .playlist)))
[ "$d" = 1 ] || fail "playlists served: $d, want 1"
m=$(curl -sf "http://127.0.0.1:$mport/metrics" | awk '$1 == "vigil_playback_requests_total{outcome=\"not_found\"}" { print $2 }')
[ "$m" = "$(answers | jq .not_found)" ] || fail "the metrics' not_found ($m) is not vigilctl's"
rm -f "$work/rec/$plain/00099999.ts" "$work/rec/$plain/00099998.ts.partial"

note "the audit log, the player's page"
grep -q '"command":"token","camera":"'"$plain"'"' "$work/audit.log" || fail "no token in the audit log"
grep -qF "$tok" "$work/audit.log" "$work/vigild.log" && fail "a token in the audit log or vigild's log"
curl -sfD "$work/player.headers" -o "$work/player.html" "$url/player/" || fail "the player's page"
cmp -s "$work/player.html" "$player_dir/index.html" || fail "the player's page is not PlayerDir's index.html"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" "$work/player.headers" ||
	fail "the player's page has no CSP: $(cat "$work/player.headers")"
grep -qi '^referrer-policy: no-referrer' "$work/player.headers" || fail "no Referrer-Policy"

if ! $browser; then
	# CI builds the player (scripts/setup.sh): there its absence is a failure.
	[ "${CI:-}" != true ] || fail "web/dist is not built: the browser half did not run"
	note "web/dist not built (web/build.sh): the browser half skipped"
else
	note "the browser: Chromium plays both cameras, and refuses a wrong key and an altered segment"
	command -v node >/dev/null && [ -x /usr/bin/chromium ] || fail "node or /usr/bin/chromium missing"
	range="&from=2000-01-01T00:00:00Z" at=0.5,2.5,4.5,6.5
	# Both cameras' playback captured on the wire (plain HTTP here).
	capture() { test_start_capture "$work/$1.tcpdump.log" tcpdump -i lo -s 0 -U -w "$work/$1.pcap" "tcp port $pport"; }
	capture plain
	cap_pid=$PROC_PID
	play b-plain --url "$url/player/#camera=$plain&token=$tok$range" --at $at
	proc_stop "$cap_pid" INT 5 || true
	played b-plain
	"$PYTHON" "$here/../browser/psnr.py" --frames "$work/b-plain" "$work/rec/$plain/index.m3u8" \
		>"$work/psnr-plain.txt" 2>&1 || fail "the plain camera's frames in Chromium: $(cat "$work/psnr-plain.txt")"
	[ "$(jq .thumbnails "$work/b-plain.json")" -ge 2 ] || fail "b-plain: $(jq .thumbnails "$work/b-plain.json") thumbnails"

	# The sealed camera's reference: its segments opened by vigil-open.
	mkdir -p "$work/opened/$sealed" # vigil-open checks the folder's name
	sealed_segs=$(grep -v '^#' "$work/rec/$sealed/index.m3u8")
	for f in $sealed_segs; do cp "$work/rec/$sealed/$f" "$work/opened/$sealed/"; done
	(cd "$work/opened/$sealed" && "$vigil_open" --secret-key "$work/owner.key" $sealed_segs >/dev/null) ||
		fail "vigil-open cannot open the sealed segments"
	capture sealed
	cap_pid=$PROC_PID
	play b-sealed --url "$url/player/#camera=$sealed&token=$stok&sealed=1$range" --owner-key "$work/owner.key" --at $at
	proc_stop "$cap_pid" INT 5 || true
	played b-sealed
	# What went over the wire: the plain camera's picture (its SPS, in
	# every key frame) is there, so the search can find one; the sealed
	# camera's is not, nor x264's text, nor the owner's key; its segments
	# are (VGSEAL02). And vigild's memory holds no owner key (gcore).
	gcore -o "$work/core" "$vigild_pid" >"$work/gcore.log" 2>&1 || fail "gcore: $(tail -n 3 "$work/gcore.log")"
	"$PYTHON" - "$work" "$pport" <<'PY' >"$work/wire.txt" 2>&1 || fail "on the wire: $(cat "$work/wire.txt")"
import base64, glob, struct, sys
work, port = sys.argv[1], int(sys.argv[2])

def served(path):  # the payload of every TCP segment from the server's port
    d, out, off = open(path, "rb").read(), bytearray(), 24
    link = struct.unpack("<I", d[20:24])[0]
    l2 = {1: 14, 113: 16}.get(link, 0)
    while off + 16 <= len(d):
        n = struct.unpack("<I", d[off + 8:off + 12])[0]
        ip, off = d[off + 16 + l2:off + 16 + n], off + 16 + n
        if ip and ip[0] >> 4 == 4:
            tcp = ip[(ip[0] & 15) * 4:]
            if struct.unpack(">H", tcp[:2])[0] == port:
                out += tcp[(tcp[12] >> 4) * 4:]
    return bytes(out)

def sps(ref):  # the first SPS NAL unit the camera's encoder made
    for nal in open(ref, "rb").read().split(b"\x00\x00\x01"):
        if nal and nal[0] & 0x1F == 7:
            return nal.rstrip(b"\x00")
    sys.exit(f"no SPS in {ref}")

plain, sealed = served(f"{work}/plain.pcap"), served(f"{work}/sealed.pcap")
sk_text = open(f"{work}/owner.key").read().strip()
sk = base64.b64decode(sk_text)
core = open(glob.glob(f"{work}/core.*")[0], "rb").read()
bad = []
if sps(f"{work}/lobby.ref") not in plain: bad.append("the plain camera's SPS is not in its capture: the search finds nothing")
if b"VGSEAL02" not in sealed: bad.append("no sealed segment in the sealed camera's capture")
if sps(f"{work}/door.ref") in sealed: bad.append("the sealed camera's SPS went over the wire in the clear")
if b"x264 - core" in sealed: bad.append("x264's text went over the wire in the clear")
for name, blob in (("the wire", plain + sealed), ("vigild's memory", core)):
    if sk in blob or sk_text.encode() in blob: bad.append(f"the owner's secret key is in {name}")
print(f"captured {len(plain)} bytes of plain playback, {len(sealed)} of sealed; core {len(core)} bytes")
if bad: sys.exit("; ".join(bad))
PY
	cat "$work/wire.txt"
	rm -f "$work"/core.*
	[ "$(jq '[.segments[] | select(.state == "opened")] | length' "$work/b-sealed.json")" -ge 3 ] ||
		fail "b-sealed: segments $(jq -c .segments "$work/b-sealed.json")"
	"$PYTHON" "$here/../browser/psnr.py" --frames "$work/b-sealed" \
		$(for f in $sealed_segs; do echo "$work/opened/$sealed/${f%.sealed}"; done) >"$work/psnr-sealed.txt" 2>&1 ||
		fail "the sealed camera's frames in Chromium: $(cat "$work/psnr-sealed.txt")"
	grep -h 'dB' "$work/psnr-plain.txt" "$work/psnr-sealed.txt" | head -n 4

	"$vigil_open" --keygen "$work/other.key" >/dev/null
	play b-wrong --url "$url/player/#camera=$sealed&token=$stok$range" --owner-key "$work/other.key" --at 0.5
	# refused, or given up on once hls.js has seen enough refusals: nothing played
	[ "$(jq -r .played "$work/b-wrong.json")" = false ] &&
		[ "$(jq -r '.state | IN("refused", "error")' "$work/b-wrong.json")" = true ] &&
		[ "$(jq '[.segments[] | select(.state != "refused")] | length' "$work/b-wrong.json")" = 0 ] &&
		[ "$(jq '.segments | length' "$work/b-wrong.json")" -ge 1 ] ||
		fail "a wrong key: $(head -c 600 "$work/b-wrong.json")"

	# A server that lists, in a sealed camera's playlist, a plain segment
	# (made-up video) and a segment of another camera: the page plays
	# neither, only the one that opens (python's HTTP server stands in).
	hostile=$work/hostile
	mkdir -p "$hostile/cameras/$sealed" "$hostile/cameras/other"
	cp -r "$player_dir" "$hostile/player"
	s0=$(echo "$sealed_segs" | sed -n 1p) s2=$(echo "$sealed_segs" | sed -n 3p)
	cp "$work/rec/$sealed/$s0" "$hostile/cameras/$sealed/"
	cp "$work/rec/$plain/$(grep -v '^#' "$work/rec/$plain/index.m3u8" | sed -n 2p)" "$hostile/cameras/$sealed/00000999.ts"
	cp "$work/rec/$sealed/$s2" "$hostile/cameras/other/"
	printf '#EXTM3U
#EXT-X-VERSION:3
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-TARGETDURATION:2
#EXTINF:1.0,
%s
#EXTINF:1.0,
00000999.ts
#EXTINF:1.0,
../other/%s
#EXT-X-ENDLIST
' \
		"$s0" "$s2" >"$hostile/cameras/$sealed/index.m3u8"
	hport=$((pport + 2))
	"$PYTHON" -m http.server --bind 127.0.0.1 --directory "$hostile" "$hport" >"$work/hostile.log" 2>&1 &
	hostile_pid=$!
	proc_track "$hostile_pid"
	until_ok 10 curl -sf -o /dev/null "http://127.0.0.1:$hport/player/index.html" ||
		fail "python's HTTP server did not start: $(cat "$work/hostile.log")"
	play b-hostile --url "http://127.0.0.1:$hport/player/#camera=$sealed&token=x" --owner-key "$work/owner.key" \
		--at 0.5,1.5,2.5
	# The same server leaving a segment out of a VOD playlist: the one
	# after it names it (its place), so the page says it is missing.
	cp "$work/rec/$sealed/$s2" "$hostile/cameras/$sealed/"
	printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n%s\n#EXTINF:1.0,\n%s\n#EXT-X-ENDLIST\n' \
		"$s0" "$s2" >"$hostile/cameras/$sealed/index.m3u8"
	play b-missing --url "http://127.0.0.1:$hport/player/#camera=$sealed&token=x" --owner-key "$work/owner.key" --at 0.5
	proc_stop "$hostile_pid" TERM 5 || true
	seg_state() { jq -r --argjson s "$1" '[.segments[] | select(.seq == $s)][0] | "\(.state): \(.reason)"' "$work/b-hostile.json"; }
	case $(seg_state 999) in refused:*"not sealed"*) ;; *) fail "a plain segment in a sealed camera's playlist: $(seg_state 999)" ;; esac
	case $(seg_state $((10#${s2:0:8}))) in refused:*"another camera"*) ;; *) fail "another camera's segment: $(seg_state $((10#${s2:0:8})))" ;; esac
	[ "$(jq -r '[.frames[] | select(.png != null)] | length' "$work/b-hostile.json")" = 1 ] ||
		fail "the hostile server's playlist: frames $(jq -c .frames "$work/b-hostile.json")"
	[ "$(jq -r --argjson s $((10#${s2:0:8})) '[.segments[] | select(.seq == $s)][0] | "\(.state) \(.chain)"' "$work/b-missing.json")" = "opened missing" ] &&
		[ "$(jq -r --argjson s $((10#${s0:0:8})) '[.segments[] | select(.seq == $s)][0].state' "$work/b-missing.json")" = opened ] ||
		fail "a segment left out of a VOD playlist, not said missing: $(jq -c .segments "$work/b-missing.json")"

	# The page the owner keeps (a local file), its script loaded from the
	# server pinned by the release's SHA-384: it plays the sealed camera;
	# once the server's player.js is changed, the browser runs none of it.
	mkdir -p "$work/owner-page"
	sri=$(cat "$player_dir/player.js.sri")
	sed -e "s|<script src=\"player.js\"></script>|<script src=\"$url/player/player.js\" integrity=\"$sri\" crossorigin=\"anonymous\"></script>|" \
		-e "s|href=\"player.css\"|href=\"$url/player/player.css\"|" "$player_dir/index.html" >"$work/owner-page/index.html"
	grep -q "integrity=\"sha384-" "$work/owner-page/index.html" || fail "the owner's page: no pinned script"
	owner_url="file://$work/owner-page/index.html#server=$url&camera=$sealed&token=$stok$range"
	play b-owner --url "$owner_url" --owner-key "$work/owner.key" --at 0.5,2.5
	played b-owner
	"$PYTHON" "$here/../browser/psnr.py" --frames "$work/b-owner" \
		$(for f in $sealed_segs; do echo "$work/opened/$sealed/${f%.sealed}"; done) >"$work/psnr-owner.txt" 2>&1 ||
		fail "the owner's copy: frames: $(cat "$work/psnr-owner.txt")"
	printf '\n;\n' >>"$player_dir/player.js"
	play b-changed --url "$owner_url" --owner-key "$work/owner.key" --timeout 12
	[ "$(jq -r .played "$work/b-changed.json")" = false ] &&
		jq -r '.console_errors[]' "$work/b-changed.json" | grep -qi integrity ||
		fail "the owner's copy ran a changed player.js: $(head -c 600 "$work/b-changed.json")"

	# One byte of the third segment altered on the server's disk: that
	# segment refused, nothing of it shown; the others play.
	third=$(echo "$sealed_segs" | sed -n 3p) third_seq=$((10#$(echo "$sealed_segs" | sed -n 3p | cut -c1-8)))
	"$PYTHON" - "$work/rec/$sealed/$third" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(234 + 1000)  # past the header, inside the first chunk
    b = f.read(1)
    f.seek(234 + 1000)
    f.write(bytes([b[0] ^ 1]))
PY
	play b-altered --url "$url/player/#camera=$sealed&token=$stok$range" --owner-key "$work/owner.key" \
		--at 0.5,2.5,4.5
	[ "$(jq -r --argjson s "$third_seq" '[.segments[] | select(.seq == $s)][0].state' "$work/b-altered.json")" = refused ] ||
		fail "the altered segment $third: $(jq -c .segments "$work/b-altered.json")"
	[ "$(jq -r '.frames[] | select(.t == 2.5 or .t == "2.5") | .png' "$work/b-altered.json")" = null ] ||
		fail "a frame of the altered segment was shown: $(jq -c .frames "$work/b-altered.json")"
	[ "$(jq '[.frames[] | select(.png != null)] | length' "$work/b-altered.json")" = 2 ] &&
		[ "$(jq '[.segments[] | select(.state == "opened")] | length' "$work/b-altered.json")" -ge 2 ] ||
		fail "the segments around the altered one: $(head -c 600 "$work/b-altered.json")"
fi

note "a restart with TLS: the token still opens, over https only"
proc_stop "$vigild_pid" TERM 30 || fail "vigild exited $?"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=vigil-test \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
chmod 644 "$work/tls.key"
conf_ingest "$work/vigil.conf" "PlaybackCertFile = $work/tls.crt" "PlaybackKeyFile = $work/tls.key"
start_vigild
grep -q "no playback: .*tls.key: a private key readable by group or others" "$work/vigild.log" ||
	fail "a private key others may read: not said: $(grep playback "$work/vigild.log")"
proc_stop "$vigild_pid" TERM 30 || fail "vigild exited $?"
chmod 600 "$work/tls.key"
conf_ingest "$work/vigil.conf" "PlaybackConnectionsPerAddress = 2"
start_vigild
curl -sf --cacert "$work/tls.crt" -o "$work/tls.m3u8" "https://127.0.0.1:$pport/cameras/$plain/index.m3u8?token=$tok" ||
	fail "the token from before the restart, over https: refused"
grep -q "?token=$tok\$" "$work/tls.m3u8" || fail "the https playlist: $(head -c 300 "$work/tls.m3u8")"
[ "$(code "http://127.0.0.1:$pport/cameras/$plain/index.m3u8?token=$tok")" = 200 ] &&
	fail "plain http answered on the TLS listener"
[ "$(ctl --json stats | jq .stats.playback.tls)" = true ] || fail "the summary does not say TLS"
# PlaybackConnectionsPerAddress = 2: two connections held open, a third
# from the same address is refused; one closed, it is served.
https_ok() { curl -sf --cacert "$work/tls.crt" -o /dev/null "https://127.0.0.1:$pport/cameras/$plain/index.m3u8?token=$tok"; }
exec 5<>"/dev/tcp/127.0.0.1/$pport" 6<>"/dev/tcp/127.0.0.1/$pport"
https_ok && fail "a third connection from one address served with PlaybackConnectionsPerAddress = 2"
exec 5>&-
until_ok 5 https_ok || fail "a connection not served once one of the two was closed"
exec 6>&-
proc_stop "$vigild_pid" TERM 30 || fail "vigild exited $?"
check_invariant final "$work/summary.json"

# Low-latency HLS (docs/playback.md): a plain fMP4 camera watched live is
# listed in parts; a blocking reload waits for the part it asks for; the
# parts of a segment are its file, byte for byte, from memory while it is
# being recorded and from its file after.
ll_checks() {
	local m3u8=$work/ll.m3u8 seq next part_uris got file
	ll_listed() { curl -sf -o "$m3u8" "$url/cameras/$plain/index.m3u8?token=$ftok" && grep -q '^#EXT-X-PART:' "$m3u8"; }
	until_ok 15 ll_listed || fail "no #EXT-X-PART in a watched fMP4 camera's live playlist: $(head -c 600 "$m3u8")"
	grep -qx '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.750' "$m3u8" &&
		grep -qx '#EXT-X-PART-INF:PART-TARGET=0.250' "$m3u8" || fail "the low-latency tags: $(head -c 400 "$m3u8")"
	# The next segment's first part, asked before it exists: held, then
	# answered with it listed.
	seq=$(grep -o '[0-9]\{8\}\.m4s?token=[^&"]*&part=[0-9]*' "$m3u8" | tail -n 1 | cut -c1-8)
	next=$(printf '%08d' $((10#$seq + 1)))
	curl -sf -o "$work/ll-blocked.m3u8" "$url/cameras/$plain/index.m3u8?token=$ftok&_HLS_msn=$((10#$next))&_HLS_part=0" ||
		fail "a blocking reload failed"
	grep -q "^#EXT-X-PART:DURATION=[0-9.]*,URI=\"$next\\.m4s?token=$ftok&part=0\",INDEPENDENT=YES\$" "$work/ll-blocked.m3u8" ||
		fail "the blocking reload for $next part 0 answered without it: $(tail -c 600 "$work/ll-blocked.m3u8")"
	[ "$(code "$url/cameras/$plain/index.m3u8?token=$ftok&_HLS_msn=$((10#$next + 10))")" = 400 ] ||
		fail "a blocking reload ten segments ahead was not refused (400)"
	[ "$(code "$url/cameras/$plain/index.m3u8?token=$ftok&_HLS_part=1")" = 400 ] ||
		fail "_HLS_part without _HLS_msn was not refused (400)"
	# Segment $next's parts, fetched while it records and once it is
	# closed, are its file.
	ll_closed() { curl -sf -o "$m3u8" "$url/cameras/$plain/index.m3u8?token=$ftok" && grep -q "^$next\\.m4s?token=" "$m3u8"; }
	curl -sf -o /dev/null "$url/cameras/$plain/index.m3u8?token=$ftok&_HLS_msn=$((10#$next))&_HLS_part=1" ||
		fail "a blocking reload for part 1 failed"
	: >"$work/ll-parts"
	for k in 0 1; do
		curl -sf "$url/cameras/$plain/$next.m4s?token=$ftok&part=$k" >>"$work/ll-parts" || fail "part $k of $next while it records"
	done
	until_ok 20 ll_closed || fail "segment $next never listed whole"
	part_uris=$(awk -v s="$next" 'BEGIN { FS = "\"" } /^#EXT-X-PART:/ && index($2, s ".m4s?") == 1 { print $2 }' "$m3u8")
	[ "$(printf '%s\n' "$part_uris" | wc -l)" -ge 3 ] || fail "segment $next listed with parts: $part_uris"
	got=$work/ll-whole
	: >"$got"
	for u in $part_uris; do curl -sf "$url/cameras/$plain/$u" >>"$got" || fail "part $u"; done
	file=$work/rec-fmp4/$plain/$next.m4s
	until_ok 10 test -f "$file" || fail "$file never on disk"
	cmp -s "$got" "$file" || fail "segment $next's parts ($(stat -c %s "$got") bytes) are not its file ($(stat -c %s "$file"))"
	cmp -s "$work/ll-parts" <(head -c "$(stat -c %s "$work/ll-parts")" "$file") ||
		fail "parts 0-1 of $next fetched while it recorded are not the start of its file"
	[ "$(curl -s "$url/cameras/$plain/$next.m4s?token=$ftok&part=63" -o /dev/null -w '%{http_code}')" = 404 ] ||
		fail "a part never made was served"
	[ "$(ctl --json stats | jq '.stats.playback.answers.part')" -ge 5 ] || fail "parts not counted"
}

if $browser; then
	note "live latency of a plain fMP4 camera in the browser"
	sed -e '/^\[Camera\]/,$d' -e 's|^RecordDir = .*|RecordDir = '"$work"'/rec-fmp4|' \
		-e 's|^StateDir = .*|StateDir = '"$work"'/state-fmp4|' -e '/^Playback\(Cert\|Key\)File/d' -e '/^PlaybackConnectionsPerAddress/d' \
		"$work/vigil.conf" >"$work/fmp4.conf"
	printf 'RecordFormat = fmp4\n[Camera]\nName = %s\nSSRC = 1111\nKey = %s\nCodec = H264\n' "$plain" \
		"$(base64 -w0 "$work/lobby.key")" >>"$work/fmp4.conf"
	chmod 600 "$work/fmp4.conf"
	start_vigild "$work/fmp4.conf"
	sleep 1 # af_packet up
	ftok=$(token_of "$plain")
	CLIP_S=40 camera "$plain" 1111 & # the checks and Chromium's start take about 20 s
	cam_pid=$!
	proc_track "$cam_pid"
	fmp4_live() { curl -sf "$url/cameras/$plain/index.m3u8?token=$ftok" | grep -q '^[0-9]*\.m4s?token='; }
	until_ok 15 fmp4_live || fail "no fMP4 segment in the live playlist"
	ll_checks
	play b-latency --url "$url/player/#camera=$plain&token=$ftok" --latency 10
	[ "$(jq -r .played "$work/b-latency.json")" = true ] &&
		[ "$(jq '.latency_ms.samples | length' "$work/b-latency.json")" -ge 4 ] ||
		fail "fMP4 live in the browser: $(head -c 600 "$work/b-latency.json")"
	[ "$(jq -c '.latency_ms | [.part_target, .can_block_reload]' "$work/b-latency.json")" = '[0.25,true]' ] ||
		fail "hls.js did not play low-latency HLS: $(jq -c .latency_ms "$work/b-latency.json")"
	note "fMP4 live, low-latency HLS, camera to frame shown: median $(jq '.latency_ms.median | round' "$work/b-latency.json") ms, samples $(jq -c '[.latency_ms.samples[] | round]' "$work/b-latency.json") (SegmentSeconds 1, a key frame a second, parts of 0.25 s)"
	wait "$cam_pid" || fail "the camera failed: $(tail -n 3 "$work/$plain.log")"
	proc_forget "$cam_pid"
	proc_stop "$vigild_pid" TERM 30 || fail "vigild exited $?"
fi
test_finish playback
