#!/bin/bash
# SPDX-License-Identifier: MIT
# MetricsListen against a real Prometheus: vigild live on a DPDK port that
# reads a capture (net_pcap: 3 cameras of vigil-cam, then the same packets
# again, all of them replays), a 4th camera that never sends, Prometheus
# (Debian's) scraping it every second. Then:
#  - the page passes `promtool check metrics`;
#  - Prometheus's answers equal vigild's own JSON (vigilctl stats) for every
#    counter of the lists: packets, each drop reason, outcomes, frames
#    recorded and dropped by reason, bytes, segments, write errors by cause,
#    and the per-camera series (MetricsPerCamera) for each camera;
#  - every query of the Grafana dashboard (dist/grafana/vigil.json) answers;
#  - liveness: the three cameras online, then offline once OfflineSeconds
#    pass without a packet (metrics and vigilctl cameras), the 4th never_seen;
#  - /healthz and /readyz; /readyz (and vigilctl health) fail while
#    RecordDir is not writable (chattr +i) and recover after; 404, 405;
#  - systemd's notify socket (the test's own, as NOTIFY_SOCKET with
#    WATCHDOG_USEC): READY=1, STATUS=, WATCHDOG=1 pings, STOPPING=1.
#
# usage: metrics.sh VIGILD VIGILCTL VIGIL_CAM [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
vigild=$1 vigilctl=$2 vigil_cam=$3 scratch=${4:-}
PYTHON=${PYTHON:-/usr/bin/python3}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "chattr +i on RecordDir"
require_tools jq curl ffmpeg promtool prometheus chattr "$PYTHON"
require_aesni
require_vigild "$vigild"
test_begin metrics "$scratch"

# Ports of this test's own, from its PID: two runs never share one.
mport=$((20000 + $$ % 20000)) pport=$((20001 + $$ % 20000))

# The capture: 3 cameras, 2 s of a real clip each; then every packet again.
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=10 -t 2 -c:v libx264 -g 10 -bf 0 \
	-pix_fmt yuv420p -f h264 "$work/clip.h264"
sent=$("$vigil_cam" --clip "$work/clip.h264" --codec h264 --cameras 3 --seconds 2 --fps 10 --seed metrics \
	--out "$work/once.pcap" --config "$work/vigil.conf" --record-dir "$work/rec")
packets=$(echo "$sent" | jq .packets)
"$PYTHON" - "$work/once.pcap" "$work/twice.pcap" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(data + data[24:])  # the records again, after the same header
PY
conf_ingest "$work/vigil.conf" "Device = net_pcap0,rx_pcap=$work/twice.pcap" "StateDir = $work/state" \
	"MetricsListen = 127.0.0.1:$mport" "MetricsPerCamera = yes" "OfflineSeconds = 3" "MaxCameras = 8"
printf '[Camera]\nName = quiet\nSSRC = 77\nKey = %s\nCodec = H264\n' "$(head -c 44 /dev/urandom | base64 -w0)" \
	>>"$work/vigil.conf"

# systemd's side of Type=notify: a datagram socket of the test's.
"$PYTHON" - "$work/notify.sock" "$work/notify.txt" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode()
        out.write(msg.replace("\n", " | ") + "\n")
        if "STOPPING=1" in msg:
            break
PY
notify_pid=$!
proc_track "$notify_pid"
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done

sock=$work/run/admin.sock
# stderr as systemd hands it to a unit: the journal's stream, named by
# JOURNAL_STREAM (its device:inode); vigild's lines then carry their level.
: >"$work/vigild.log"
journal=$(stat -c '%d:%i' "$work/vigild.log")
proc_start "$work/summary.json" "$work/vigild.log" "metrics, /healthz" 30 \
	env NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=2000000 JOURNAL_STREAM="$journal" \
	"$vigild" --config "$work/vigil.conf" --admin "$sock" --audit "$work/audit.log" ||
	{ fail "vigild did not start: $(cat "$work/vigild.log")"; exit 1; }
vigild_pid=$PROC_PID

url=http://127.0.0.1:$mport
metric() { curl -sf "$url/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# The capture read to its end: every packet counted.
for _ in $(seq 60); do
	[ "$(metric vigil_rx_packets_total)" = "$((2 * packets))" ] && break
	sleep 0.5
done
[ "$(metric vigil_rx_packets_total)" = "$((2 * packets))" ] ||
	{ fail "vigil_rx_packets_total $(metric vigil_rx_packets_total), want $((2 * packets))"; exit 1; }
# ... and the recorder done with it: the page the same twice, 1.5 s apart
# (MaxUnsyncedSeconds' sync has written what was staged).
for _ in $(seq 20); do
	a=$(curl -sf "$url/metrics" | grep -v 'busy_ratio\|ring_used\|disk_free\|liveness\|key_age')
	sleep 1.5
	b=$(curl -sf "$url/metrics" | grep -v 'busy_ratio\|ring_used\|disk_free\|liveness\|key_age')
	[ "$a" = "$b" ] && break
done
[ "$a" = "$b" ] || fail "the counters did not settle"

curl -sf "$url/metrics" >"$work/page.txt"
promtool check metrics <"$work/page.txt" >"$work/promtool.txt" 2>&1 ||
	fail "promtool check metrics: $(cat "$work/promtool.txt")"
# The capture read to its end: nothing held after a gap any more.
[ "$(grep -c '^vigil_worker_held_packets{worker="[0-9]*"} 0$' "$work/page.txt")" -ge 1 ] &&
	! grep '^vigil_worker_held_packets' "$work/page.txt" | grep -qv ' 0$' ||
	fail "packets still held at the end: $(grep '^vigil_worker_held_packets' "$work/page.txt")"
grep -q '^vigil_camera_rx_packets_total{camera="quiet"} 0$' "$work/page.txt" ||
	fail "the camera that never sent: $(grep quiet "$work/page.txt" | head -3)"

# Prometheus, scraping every second.
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: ['127.0.0.1:$mport']
EOF
proc_start /dev/null "$work/prometheus.log" "Server is ready to receive web requests" 60 \
	prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
	--web.listen-address="127.0.0.1:$pport" ||
	{ fail "prometheus did not start: $(tail -5 "$work/prometheus.log")"; exit 1; }
prom_pid=$PROC_PID
query() { curl -sf --get --data-urlencode "query=$1" "http://127.0.0.1:$pport/api/v1/query"; }
for _ in $(seq 60); do
	[ "$(query 'vigil_rx_packets_total' | jq -r '.data.result[0].value[1] // empty')" = "$((2 * packets))" ] && break
	sleep 0.5
done

# vigild's own account, now.
"$vigilctl" --socket "$sock" --json stats >"$work/stats.json" || fail "vigilctl stats"
jq '.stats' "$work/stats.json" >"$work/now.json"
# One Prometheus answer: value of QUERY (a single series).
prom() { query "$1" | jq -r 'if (.data.result | length) == 1 then .data.result[0].value[1] else "none" end'; }
same() { # LABEL PROMQL JQ_PATH
	local got want
	got=$(prom "$2")
	want=$(jq -r "$3 // \"missing\"" "$work/now.json")
	[ "$got" = "$want" ] || fail "$1: Prometheus $2 = $got, vigild's $3 = $want"
}
same rx 'vigil_rx_packets_total' '.totals.rx_packets'
same decrypted 'vigil_decrypted_packets_total' '.totals.decrypted'
for reason in $(sed -n '/^#define VIGIL_FOREACH_PKT_DROP/,/^$/s/^[[:space:]]*X(\([a-z_]*\),.*/\1/p' "$here/../../proto/counters.h"); do
	same "drop $reason" "vigil_dropped_packets_total{reason=\"$reason\"}" ".totals.$reason"
done
for outcome in rtcp answered handshake; do
	same "outcome $outcome" "vigil_packets_total{outcome=\"$outcome\"}" ".totals.$outcome"
done
for reason in $(sed -n '/^#define VIGIL_FOREACH_FRAME_DROP/,/^$/s/^[[:space:]]*X(\([a-z_]*\),.*/\1/p' "$here/../../proto/counters.h"); do
	same "frame drop $reason" "vigil_frames_dropped_total{reason=\"$reason\"}" ".totals.$reason"
done
same "recorder_dropped" 'vigil_frames_dropped_total{reason="recorder_dropped"}' '.totals.recorder_dropped'
same "frames dropped, all" 'sum(vigil_frames_dropped_total)' '.totals.frames_dropped'
same frames_recorded 'vigil_frames_recorded_total' '.totals.frames_recorded'
same bytes_written 'vigil_bytes_written_total' '.totals.bytes_written'
same segments 'vigil_segments_total' '.totals.segments'
same write_errors 'vigil_write_errors_total' '.totals.write_errors'
[ "$(prom 'vigil_write_duration_seconds_count')" -gt 0 ] && [ "$(prom 'vigil_write_duration_seconds_bucket{le="+Inf"}')" = "$(prom 'vigil_write_duration_seconds_count')" ] ||
	fail "the write histogram: count $(prom 'vigil_write_duration_seconds_count')"
for cam in $(jq -r '.cameras | keys[] | select(startswith("cam"))' "$work/now.json"); do
	same "$cam rx" "vigil_camera_rx_packets_total{camera=\"$cam\"}" ".cameras.\"$cam\".rx_packets"
	same "$cam replayed" "vigil_camera_dropped_packets_total{camera=\"$cam\",reason=\"replayed\"}" ".cameras.\"$cam\".replayed"
	same "$cam frames" "vigil_camera_frames_recorded_total{camera=\"$cam\"}" ".cameras.\"$cam\".frames_recorded"
done
# What the capture says, not only what vigild says.
[ "$(prom 'vigil_dropped_packets_total{reason="replayed"}')" = "$packets" ] ||
	fail "replayed: $(prom 'vigil_dropped_packets_total{reason="replayed"}'), want the second copy's $packets"
[ "$(prom 'vigil_decrypted_packets_total')" = "$packets" ] || fail "decrypted: want $packets"
[ "$(prom 'sum(vigil_camera_rx_packets_total)')" = "$(prom 'vigil_rx_packets_total')" ] ||
	fail "the cameras' packets do not add up to the total"
[ "$(prom 'vigil_frames_recorded_total')" -gt 0 ] || fail "no frame recorded"

# Every panel of the dashboard answers (dist/grafana/vigil.json).
n=0
while IFS= read -r expr; do
	n=$((n + 1))
	ans=$(query "$expr") || { fail "dashboard: $expr: Prometheus refused it"; continue; }
	[ "$(echo "$ans" | jq -r '.status')" = success ] && [ "$(echo "$ans" | jq '.data.result | length')" -gt 0 ] ||
		fail "dashboard: $expr: no answer: $(echo "$ans" | head -c 300)"
done < <(jq -r '.panels[].targets[].expr' "$here/../../dist/grafana/vigil.json")
[ "$n" -ge 10 ] || fail "the dashboard has $n queries"
[ "$(prom 'vigil_ready')" = 1 ] || fail "vigil_ready: $(prom 'vigil_ready')"
# The engine (Crypto = auto: the cryptodev one wherever the PMDs are, as in CI).
[ "$(prom 'vigil_crypto_info{engine="cryptodev:crypto_aesni_gcm0"}')" = 1 ] ||
	fail "vigil_crypto_info: $(curl -sf "$url/metrics" | grep '^vigil_crypto_info')"

# Liveness: the three sent, then nothing for OfflineSeconds (3).
[ "$(prom 'vigil_cameras{state="live",liveness="never_seen"}')" = 1 ] ||
	fail "never_seen: $(prom 'vigil_cameras{state="live",liveness="never_seen"}'), want 1"
for _ in $(seq 20); do
	[ "$(metric 'vigil_cameras{state="live",liveness="offline"}')" = 3 ] && break
	sleep 0.5
done
[ "$(metric 'vigil_cameras{state="live",liveness="offline"}')" = 3 ] ||
	fail "offline: $(metric 'vigil_cameras{state="live",liveness="offline"}'), want 3 after OfflineSeconds"
"$vigilctl" --socket "$sock" cameras >"$work/cameras.txt" || fail "vigilctl cameras"
[ "$(grep -c ' offline ' "$work/cameras.txt")" = 3 ] && [ "$(grep -c ' never_seen ' "$work/cameras.txt")" = 1 ] ||
	fail "vigilctl cameras: $(cat "$work/cameras.txt")"

# Health.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] || fail "/healthz"
[ "$(curl -s "$url/readyz")" = ready ] || fail "/readyz: $(curl -s "$url/readyz")"
"$vigilctl" --socket "$sock" health >/dev/null || fail "vigilctl health while ready"
chattr +i "$work/rec"
test_at_exit unfreeze
unfreeze() { chattr -i "$work/rec" 2>/dev/null || true; }
for _ in $(seq 10); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 503 ] && break
	sleep 0.5
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 503 ] || fail "/readyz while RecordDir is immutable"
curl -s "$url/readyz" | grep -q "RecordDir .* is not writable" || fail "/readyz says: $(curl -s "$url/readyz")"
"$vigilctl" --socket "$sock" health 2>"$work/health.txt" && fail "vigilctl health while RecordDir is immutable"
grep -q "not ready: RecordDir" "$work/health.txt" || fail "vigilctl health says: $(cat "$work/health.txt")"
chattr -i "$work/rec"
for _ in $(seq 10); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && break
	sleep 0.5
done
[ "$(curl -s "$url/readyz")" = ready ] || fail "/readyz after RecordDir is writable again"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/other")" = 404 ] || fail "/other is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")" = 405 ] || fail "POST /metrics is not 405"

proc_stop "$prom_pid" TERM 20 >/dev/null || true
status=0
proc_stop "$vigild_pid" TERM 60 || status=$?
[ "$status" = 0 ] || fail "vigild exited $status: $(tail -5 "$work/vigild.log")"
check_invariant final "$work/summary.json"
# systemd heard: ready, a status line, watchdog pings every second (half of
# WatchdogSec) while the workers run, and the stop.
grep -qx 'READY=1' "$work/notify.txt" || fail "no READY=1: $(head -3 "$work/notify.txt")"
grep -q '^STATUS=[0-9]* of 4 camera(s) online; [0-9]* packets' "$work/notify.txt" ||
	fail "no STATUS line: $(grep STATUS "$work/notify.txt" | head -2)"
pings=$(grep -cx 'WATCHDOG=1' "$work/notify.txt" || true)
[ "$pings" -ge 5 ] || fail "$pings watchdog pings over the test's run"
grep -qx 'STOPPING=1' "$work/notify.txt" || fail "no STOPPING=1"
# The journal's levels: info for how it started, error for a failure.
grep -q '^<6>vigild: metrics, /healthz and /readyz on http://' "$work/vigild.log" ||
	fail "no level on the metrics line: $(grep 'metrics, /healthz' "$work/vigild.log")"
grep -q '^<6>vigild: 4 camera(s), 1 worker(s)' "$work/vigild.log" || fail "no level on the start line"
if grep -q '^vigil[d]*: ' "$work/vigild.log"; then
	fail "lines without a level: $(grep '^vigil[d]*: ' "$work/vigild.log" | head -3)"
fi
test_finish metrics
