#!/bin/bash
# SPDX-License-Identifier: MIT
# Events (README: Events), live: vigild on af_packet from a network
# namespace, 3 cameras of vigil-cam (3 s of a real clip each, SegmentSeconds
# = 1, OfflineSeconds = 2), `vigilctl watch` in the background, and a
# webhook receiver of the test's own (Python http.server) that checks each
# POST's X-Vigil-Signature (HMAC-SHA256 under EventHookSecretFile's key).
#  1. watch shows segment_closed events whose path exists and holds exactly
#     `bytes`, and each camera camera_online, then camera_offline once
#     OfflineSeconds pass after the capture;
#     then the same packets with their RTP sequence numbers moved on (so
#     not replays, and forged: the header is authenticated): over
#     AuthFailedPerMinute (50), one auth_failed event per camera;
#  2. the receiver gets every event watch saw, exactly once after dropping
#     repeats by id, ids strictly increasing, every signature right;
#  3. receiver down (EventQueue = 5): two reloads that rotate every key, a
#     keystore camera rotated by vigilctl (key_rotated by reload, by admin),
#     RecordDir made immutable and back (disk_trouble, disk_recovered); the
#     events beyond the first 5 are counted as dropped (vigilctl stats and
#     vigil_events_dropped_total); the receiver back: the 5 queued ones
#     arrive, in order;
#  4. at SIGTERM each camera's last segment is closed: its segment_closed
#     reaches the webhook before vigild exits.
#
# usage: events.sh VIGILD VIGILCTL VIGIL_CAM [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
vigild=$1 vigilctl=$2 vigil_cam=$3 scratch=${4:-}
PYTHON=${PYTHON:-/usr/bin/python3}
QUEUE=5

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces, af_packet, chattr +i on RecordDir"
require_tools ip jq curl ffmpeg chattr flock promtool bc "$PYTHON"
require_aesni
require_vigild "$vigild"
test_begin events "$scratch"
vigil_netns_create events
# Ports of this test's own, from its PID: two runs never share one.
hport=$((20000 + $$ % 20000)) mport=$((20001 + $$ % 20000))

# ---- the cameras and the configuration -------------------------------------------

ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=10 -t 3 -c:v libx264 -g 10 -bf 0 \
	-pix_fmt yuv420p -f h264 "$work/clip.h264"
sent=$("$vigil_cam" --clip "$work/clip.h264" --codec h264 --cameras 3 --seconds 3 --fps 10 --seed events \
	--out "$work/cams.pcap" --config "$work/vigil.conf" --record-dir "$work/rec")
packets=$(echo "$sent" | jq .packets)
"$vigilctl" keygen keystore "$work/keystore.key" >/dev/null
head -c 32 /dev/urandom | base64 -w0 >"$work/hook.key"
chmod 600 "$work/hook.key"
conf_ingest "$work/vigil.conf" "Device = net_af_packet0,iface=$VIGIL_VETH_ROOT" "StateDir = $work/state" \
	"SegmentSeconds = 1" "OfflineSeconds = 2" "MetricsListen = 127.0.0.1:$mport" \
	"EventHook = http://127.0.0.1:$hport/hook" "EventHookSecretFile = $work/hook.key" "EventQueue = $QUEUE" \
	"AuthFailedPerMinute = 50" "Keystore = $work/keystore" "KeystoreKeyFile = $work/keystore.key" "MaxCameras = 8"

# ---- the webhook receiver ------------------------------------------------------------

# Appends each event it is POSTed to RECEIVED (one JSON line each, repeats
# and all), after checking the signature; a wrong one is a line "BADSIG".
cat >"$work/receiver.py" <<'PY'
import hashlib, hmac, http.server, json, sys
port, key_file, out_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
key = open(key_file, "rb").read().split(b"\n")[0]
out = open(out_path, "a", buffering=1)

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if self.path != "/hook" or not hmac.compare_digest(self.headers.get("X-Vigil-Signature", ""), want):
            out.write("BADSIG\n")
            self.send_response(401)
            self.end_headers()
            return
        events = json.loads(body)
        for e in events if isinstance(events, list) else [events]:
            out.write(json.dumps(e, sort_keys=True) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

srv = http.server.HTTPServer(("127.0.0.1", port), Hook)
print("listening", flush=True)
srv.serve_forever()
PY
receiver_start() {
	proc_start "$work/receiver.out" "$work/receiver.log" "" 0 \
		"$PYTHON" "$work/receiver.py" "$hport" "$work/hook.key" "$work/received.jsonl" || true
	receiver_pid=$PROC_PID
	for _ in $(seq 50); do grep -q listening "$work/receiver.out" && return 0; sleep 0.1; done
	fail "the receiver did not start: $(cat "$work/receiver.log")"
	exit 1
}
receiver_start

# ---- vigild and a watcher ----------------------------------------------------------------

sock=$work/run/admin.sock
proc_start "$work/summary.json" "$work/vigild.log" "events POSTed to" 30 \
	"$vigild" --config "$work/vigil.conf" --admin "$sock" --audit "$work/audit.log" ||
	{ fail "vigild did not start: $(cat "$work/vigild.log")"; exit 1; }
vigild_pid=$PROC_PID
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
proc_start "$work/watch.jsonl" "$work/watch.log" "" 0 "$vigilctl" --socket "$sock" watch || true
watch_pid=$PROC_PID
stats() { "$vigilctl" --socket "$sock" --json stats | jq "$1"; }
for _ in $(seq 50); do [ "$(stats .stats.events.watchers)" = 1 ] && break; sleep 0.1; done
[ "$(stats .stats.events.watchers)" = 1 ] || { fail "vigilctl watch is not watching: $(cat "$work/watch.log")"; exit 1; }

# count TYPE [FILE]: events of that type so far.
count() { grep -c "\"type\":\"$1\"" "${2:-$work/watch.jsonl}" || true; }
wait_for() { # TYPE N SECS [FILE]
	for _ in $(seq $((10 * $3))); do [ "$(count "$1" "${4:-}")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

# ---- 1. what watch shows -------------------------------------------------------------------

start=$(date +%s.%N)
out=$(ip netns exec "$VIGIL_NS" "$PYTHON" "$tools/pcap_send.py" "$work/cams.pcap" "$VIGIL_IP_ROOT" 5004 \
	--rate 1000 2>&1) || { fail "pcap_send: $out"; exit 1; }
[ "$out" = "sent $packets" ] || { fail "pcap_send: '$out', want 'sent $packets'"; exit 1; }
wait_for camera_offline 3 15 || fail "camera_offline: $(count camera_offline) of 3 within 15 s"
offline_after=$(echo "$(date +%s.%N) - $start" | bc)
note "$(wc -l <"$work/watch.jsonl") events watched; every camera offline $offline_after s after the capture began"
for cam in cam00000 cam00001 cam00002; do
	seq=$(jq -r --arg c "$cam" 'select(.camera == $c and (.type == "camera_online" or .type == "camera_offline")) | .type' \
		"$work/watch.jsonl" | tr '\n' ' ')
	[ "$seq" = "camera_online camera_offline " ] || fail "$cam: online/offline events: '$seq'"
done
# The capture is 3 s of each camera: at least one segment closed each
# (cut at the key frame past SegmentSeconds); the last one is still open.
n_closed=$(count segment_closed)
[ "$n_closed" -ge 3 ] || fail "segment_closed: $n_closed events, want at least one per camera"
while IFS=$'\t' read -r cam path bytes sealed; do
	[ -f "$path" ] || { fail "segment_closed: $path is not on disk"; continue; }
	[ "$(stat -c %s "$path")" = "$bytes" ] || fail "segment_closed: $path holds $(stat -c %s "$path") bytes, the event says $bytes"
	[[ $path == "$work/rec/$cam/"*.ts ]] || fail "segment_closed: $path is not $cam's"
	[ "$sealed" = false ] || fail "segment_closed: $path sealed=$sealed"
done < <(jq -r 'select(.type == "segment_closed") | [.camera, .path, .bytes, .sealed] | @tsv' "$work/watch.jsonl")
# every() TYPE JQ_CONDITION: some events of TYPE, and the condition holds for each.
every() { jq -se --arg t "$1" "map(select(.type == \$t)) | length > 0 and all(.[]; $2)" "$work/watch.jsonl" >/dev/null; }
every segment_closed '.seconds > 0.5 and .seconds < 2.5' ||
	fail "segment_closed: a duration out of 0.5-2.5 s: $(jq -c 'select(.type == "segment_closed") | .seconds' "$work/watch.jsonl" | tr '\n' ' ')"
# Forgeries: the capture again, each RTP sequence number 1000 on.
"$PYTHON" - "$work/cams.pcap" "$work/forged.pcap" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
off = 24
while off < len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    rtp = off + 16 + 14 + 20 + 8  # pcap record header, Ethernet, IPv4, UDP
    struct.pack_into(">H", data, rtp + 2, (struct.unpack_from(">H", data, rtp + 2)[0] + 1000) & 0xFFFF)
    off += 16 + incl
open(sys.argv[2], "wb").write(data)
PY
out=$(ip netns exec "$VIGIL_NS" "$PYTHON" "$tools/pcap_send.py" "$work/forged.pcap" "$VIGIL_IP_ROOT" 5004 \
	--rate 1000 2>&1) || { fail "pcap_send: $out"; exit 1; }
wait_for auth_failed 3 5 || fail "auth_failed: $(count auth_failed) events, want one per camera"
every auth_failed '.count > 50 and .per_minute == 50 and (.camera | startswith("cam"))' ||
	fail "auth_failed: $(grep auth_failed "$work/watch.jsonl")"
[ "$(stats .stats.totals.auth_failed)" -gt 150 ] || fail "the forgeries: auth_failed $(stats .stats.totals.auth_failed)"

# Every event: type, time in RFC 3339 UTC, ids rising.
jq -se 'all(.[]; (.type | type) == "string" and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")) and (.id | type) == "number")' \
	"$work/watch.jsonl" >/dev/null || fail "an event without type, RFC 3339 time or id: $(head -3 "$work/watch.jsonl")"
rising() { jq -s '[.[].id] | . as $i | all(range(1; length); $i[.] > $i[. - 1])' "$1"; }
[ "$(rising "$work/watch.jsonl")" = true ] || fail "watch: ids not strictly increasing"

# ---- 2. the webhook: every event once, in order, signed -------------------------------------

ids() { jq -r 'select(.id != null) | .id' "$1"; }
dedup() { grep -v BADSIG "$1" | jq -sc 'reduce .[] as $e ([]; if any(.[]; .id == $e.id) then . else . + [$e] end) | .[]'; }
for _ in $(seq 100); do
	[ "$(dedup "$work/received.jsonl" | wc -l)" -ge "$(wc -l <"$work/watch.jsonl")" ] && break
	sleep 0.1
done
dedup "$work/received.jsonl" >"$work/received1.jsonl"
grep -q BADSIG "$work/received.jsonl" && fail "the receiver saw a wrong signature"
[ "$(ids "$work/received1.jsonl")" = "$(ids "$work/watch.jsonl")" ] ||
	fail "webhook: ids $(ids "$work/received1.jsonl" | tr '\n' ' '), watch saw $(ids "$work/watch.jsonl" | tr '\n' ' ')"
[ "$(rising "$work/received1.jsonl")" = true ] || fail "webhook: ids not strictly increasing"
cmp -s <(jq -cS . "$work/received1.jsonl") <(jq -cS . "$work/watch.jsonl") || fail "webhook and watch events differ"
[ "$(stats .stats.events.webhook.queued)" = 0 ] || fail "webhook queue: $(stats .stats.events.webhook)"

# ---- 3. the receiver down: the queue's bound ----------------------------------------------------

proc_stop "$receiver_pid" TERM 10 >/dev/null || true
seen=$(wc -l <"$work/watch.jsonl")
rekey() { # every camera a new key, then a reload
	"$PYTHON" - "$work/vigil.conf" <<'PY'
import base64, os, sys
p = sys.argv[1]
lines = [("Key = " + base64.b64encode(os.urandom(44)).decode()) if l.startswith("Key = ") else l
         for l in open(p).read().split("\n")]
open(p + ".new", "w").write("\n".join(lines))
os.chmod(p + ".new", 0o600)
os.rename(p + ".new", p)
PY
	"$vigilctl" --socket "$sock" reload >>"$work/reload.txt" || fail "vigilctl reload: $(tail -1 "$work/reload.txt")"
}
rekey
chattr +i "$work/rec"
test_at_exit unfreeze
unfreeze() { chattr -i "$work/rec" 2>/dev/null || true; }
wait_for disk_trouble 1 5 || fail "no disk_trouble while RecordDir is immutable"
chattr -i "$work/rec"
rekey
# A camera of the keystore, rotated through the admin socket.
"$vigilctl" --socket "$sock" camera add porch --ssrc 7 --codec h264 --generate >"$work/add.out" ||
	fail "camera add porch: $(cat "$work/add.out")"
"$vigilctl" --socket "$sock" camera rotate porch --generate >"$work/rotate.out" ||
	fail "camera rotate porch: $(cat "$work/rotate.out")"
wait_for disk_recovered 1 10 || fail "no disk_recovered after RecordDir is writable again"
every disk_trouble '.reason | test("RecordDir .* is not writable")' ||
	fail "disk_trouble: $(grep disk_trouble "$work/watch.jsonl")"
[ "$(count key_rotated)" = 7 ] || fail "key_rotated: $(count key_rotated), want 7 (3 cameras, 2 reloads; porch)"
every key_rotated '(.by == "reload" and (.camera | startswith("cam"))) or (.by == "admin" and .camera == "porch")' ||
	fail "key_rotated: $(grep key_rotated "$work/watch.jsonl")"
[ "$(jq -r 'select(.type == "key_rotated" and .by == "admin") | .camera' "$work/watch.jsonl")" = porch ] ||
	fail "no key_rotated by admin for porch"
tail -n +$((seen + 1)) "$work/watch.jsonl" >"$work/down.jsonl"
down=$(wc -l <"$work/down.jsonl")
[ "$down" -gt "$QUEUE" ] || fail "only $down events while the receiver was down"
[ "$(stats .stats.events.events_dropped)" = $((down - QUEUE)) ] ||
	fail "events_dropped: $(stats .stats.events.events_dropped), want $((down - QUEUE)) ($down events, a queue of $QUEUE)"
[ "$(stats .stats.events.webhook.queued)" = "$QUEUE" ] || fail "webhook queue: $(stats .stats.events.webhook)"
metric() { curl -sf "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
[ "$(metric vigil_events_dropped_total)" = $((down - QUEUE)) ] ||
	fail "vigil_events_dropped_total $(metric vigil_events_dropped_total), want $((down - QUEUE))"
curl -sf "http://127.0.0.1:$mport/metrics" >"$work/page.txt"
promtool check metrics <"$work/page.txt" >"$work/promtool.txt" 2>&1 || fail "promtool check metrics: $(cat "$work/promtool.txt")"
[ "$(metric 'vigil_events_total{type="key_rotated"}')" = 7 ] ||
	fail "vigil_events_total{type=\"key_rotated\"} $(metric 'vigil_events_total{type="key_rotated"}')"

: >"$work/received.jsonl"
receiver_start
# The retries back off (up to 30 s): within 40 s the queue has drained.
for _ in $(seq 400); do
	[ "$(dedup "$work/received.jsonl" | wc -l)" -ge "$QUEUE" ] && [ "$(stats .stats.events.webhook.queued)" = 0 ] && break
	sleep 0.1
done
dedup "$work/received.jsonl" >"$work/received2.jsonl"
[ "$(ids "$work/received2.jsonl")" = "$(head -n "$QUEUE" "$work/down.jsonl" | jq -r .id)" ] ||
	fail "after the receiver came back: ids $(ids "$work/received2.jsonl" | tr '\n' ' '), want the first $QUEUE of $(ids "$work/down.jsonl" | tr '\n' ' ')"
grep -q BADSIG "$work/received.jsonl" && fail "the receiver saw a wrong signature"
[ "$(grep -c "EventHook: POST to http://127.0.0.1:$hport/hook failed" "$work/vigild.log")" = 1 ] &&
	grep -q "EventHook: .* takes events again" "$work/vigild.log" ||
	fail "the outage in vigild's log (once, then the recovery): $(grep EventHook "$work/vigild.log")"

status=0
proc_stop "$vigild_pid" TERM 60 || status=$?
[ "$status" = 0 ] || fail "vigild exited $status: $(tail -5 "$work/vigild.log")"
proc_stop "$watch_pid" TERM 5 >/dev/null || true
jq -e --argjson d $((down - QUEUE)) '.events.events_dropped == $d and .events.emitted.key_rotated == 7' \
	"$work/summary.json" >/dev/null || fail "the summary's events: $(jq -c .events "$work/summary.json")"
# The segments the stop closed (each camera's last, open since it went
# quiet) are events too, and reach the webhook before vigild exits.
drained=$(($(jq .totals.segments "$work/summary.json") - n_closed))
[ "$drained" -ge 3 ] || fail "the stop closed $drained segment(s), want each camera's last"
jq -e '.events.emitted.segment_closed == .totals.segments' "$work/summary.json" >/dev/null ||
	fail "segment_closed events: $(jq .events.emitted.segment_closed "$work/summary.json"), segments: $(jq .totals.segments "$work/summary.json")"
[ "$(dedup "$work/received.jsonl" | jq -s '[.[] | select(.type == "segment_closed")] | length')" = "$drained" ] ||
	fail "the webhook got $(dedup "$work/received.jsonl" | jq -s '[.[] | select(.type == "segment_closed")] | length') segment_closed after the stop, want $drained"
test_finish events
