#!/bin/bash
# SPDX-License-Identifier: MIT
# Identity cameras keep recording through a spoofed handshake flood
# (issue 13, item 4). vigild runs live on af_packet with RekeySeconds = 10;
# two cameras (vigil-stream) handshake, then stream for FLOOD_SECONDS + 5 s
# while hs_flood writes forged initiations (valid mac1; a garbage mac2 in
# FLOOD_RANDOM_MAC2 percent of them) from the 65,536 addresses of
# 198.19.0.0/16 at up to FLOOD_RATE a second (more than the control
# plane drains: its ring overflows, checked), pinned to the CPU vigild's
# worker does not use (the control thread's). That is more than twice what
# the control loop used to drain (256 packets every 2 ms), for four rekey
# periods. Checked, exactly:
#  - no camera's key is refused (key_expired 0, no log line), each camera
#    keeps its SSRC and rekeys every 10 s: handshakes accepted = the
#    cameras' handshakes; the flood costs 25 DHs at most, before the port
#    notices it;
#  - only the cameras' initiations take the ring of proven ones
#    (handshake_proven: at least one per rekey, at most their initiations);
#  - every camera packet that reached vigild is decrypted; when none was
#    lost before it (the kernel drops what the worker's af_packet ring
#    cannot hold when the worker falls behind), every frame is recorded. On
#    a machine whose CPUs other jobs share, the worker may fall behind: the
#    test then says how many packets the kernel dropped, and each camera
#    must still have recorded half of its frames (it kept recording; a loss
#    costs the rest of a one-second GOP).
# The figures (flood rate, drain rate, outcomes, keys extended) end the log.
#
# usage: handshake_flood.sh BUILD_DIR [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
build=${1:?usage: handshake_flood.sh BUILD_DIR [SCRATCH_DIR]} scratch=${2:-}
FLOOD_RATE=${FLOOD_RATE:-300000} FLOOD_SECONDS=${FLOOD_SECONDS:-40} FLOOD_RANDOM_MAC2=${FLOOD_RANDOM_MAC2:-10} REKEY=10 FPS=30

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces, packet sockets"
require_tools ip ffmpeg jq taskset
require_aesni
[ "$(nproc)" -ge 2 ] || skip "needs two CPUs: vigild's worker on one, the flood beside the control thread on the other"
vigild=$build/control/vigild vigilctl=$build/tools/vigilctl stream=$build/examples/vigil-stream
flood=$build/tests/integration/hs_flood
require_vigild "$vigild"
test_begin handshake_flood "$scratch"
vigil_netns_create hsflood

ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=$FPS" -t 5 -c:v libx264 -g 30 -bf 0 \
	-pix_fmt yuv420p -f h264 "$work/clip.h264" || { fail "ffmpeg cannot make the clip"; exit 1; }
server_pk=$("$vigilctl" keygen x25519 "$work/server.sk")
cams=(north south)
{
	# A deep af_packet ring (16,384 frames: 55 ms of the flood), so the
	# cameras' packets are not lost in the kernel while the worker's CPU
	# serves another process for a moment.
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\n' "$work" "$work"
	printf 'Device = net_af_packet0,iface=%s,framecnt=16384\nAddress = %s\n' "$VIGIL_VETH_ROOT" "$VIGIL_IP_ROOT"
	printf 'HandshakePort = 5006\nServerKeyFile = %s/server.sk\nMaxCameras = 8\nRekeySeconds = %s\n' "$work" "$REKEY"
	for cam in "${cams[@]}"; do
		printf '[Camera]\nName = %s\nIdentity = %s\nCodec = H264\n' "$cam" "$("$vigilctl" keygen x25519 "$work/$cam.sk")"
	done
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf"
proc_start "$work/summary.json" "$work/vigild.log" "$VIGILD_READY" 30 "$vigild" --config "$work/vigil.conf" \
	--admin none || { fail "vigild did not start: $(cat "$work/vigild.log")"; exit 1; }
vigild_pid=$PROC_PID
sleep 1
# What came before the cameras (DPDK's af_packet socket receives from
# every interface until it is bound to its own: on a machine running other
# tests, a few of their packets), from the counters on SIGUSR1.
kill -USR1 "$vigild_pid"
for _ in $(seq 50); do grep -q "^vigild: stats " "$work/vigild.log" && break; sleep 0.1; done
unknown_before=$(sed -n 's/^vigild: stats //p' "$work/vigild.log" | head -n 1 | jq .totals.unknown_ssrc)

# The worker's CPU, from its thread (DPDK 22.11 names it rte-worker-1);
# the flood goes on another one of ours: the control thread's.
worker_cpu=''
for t in /proc/"$vigild_pid"/task/*; do
	case $(cat "$t/comm") in *-worker-1) worker_tid=${t##*/} worker_cpu=$(taskset -cp "$worker_tid" | awk '{ print $NF }') ;; esac
done
[ -n "$worker_cpu" ] || { fail "no worker thread (rte-worker-1) in vigild"; exit 1; }
flood_cpu=$(taskset -cp $$ | awk '{ print $NF }' | tr ',' '\n' |
	awk -F- -v w="$worker_cpu" '{ for (c = $1; c <= ($2 == "" ? $1 : $2); c++) if (c != w) { print c; exit } }')
[ -n "$flood_cpu" ] || skip "vigild may run on CPU $worker_cpu only: no CPU left for the flood"
note "worker on CPU $worker_cpu, flood on CPU $flood_cpu"

# Each camera streams for the flood and 5 s more (it starts 3 s before
# it); it rekeys when the server says, every 10 s: at 10, 20, 30 and 40 s
# under the flood, and ends before a fifth rekey would start.
loops=$(((FLOOD_SECONDS + 5) / 5))
for cam in "${cams[@]}"; do
	ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/clip.h264" --identity "$work/$cam.sk" \
		--server-key "$server_pk" --loops "$loops" >"$work/$cam.json" 2>"$work/$cam.log" &
	eval "${cam}_pid=$!"
	proc_track "$!"
done
sleep 3
# CPU time (clock ticks) of vigild's control thread and worker, for the figures.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$vigild_pid/task/$1/stat"; }
control_t0=$(cpu_ticks "$vigild_pid") worker_t0=$(cpu_ticks "$worker_tid")
ip netns exec "$VIGIL_NS" taskset -c "$flood_cpu" "$flood" --to "$VIGIL_IP_ROOT" --port 5006 \
	--server-key "$server_pk" --iface "$VIGIL_VETH_CAM" --dst-mac "$VIGIL_MAC_ROOT" --spoof 198.19.0.0/16 \
	--random-mac2 "$FLOOD_RANDOM_MAC2" --seconds "$FLOOD_SECONDS" --rate $((FLOOD_RATE * 11 / 10)) >"$work/flood.json" 2>"$work/flood.log" ||
	fail "hs_flood failed: $(cat "$work/flood.log")"
control_cpu=$((($(cpu_ticks "$vigild_pid") - control_t0) * 100 / $(getconf CLK_TCK) / FLOOD_SECONDS))
worker_cpu_use=$((($(cpu_ticks "$worker_tid") - worker_t0) * 100 / $(getconf CLK_TCK) / FLOOD_SECONDS))
kill -USR1 "$vigild_pid" # the counters as the flood ends, on stderr
for cam in "${cams[@]}"; do
	pid=${cam}_pid
	wait "${!pid}" || fail "$cam: vigil-stream failed: $(cat "$work/$cam.log")"
	proc_forget "${!pid}"
done
sleep 1
proc_stop "$vigild_pid" INT 60 || fail "vigild exited non-zero after SIGINT"

# ---- what vigild counted and recorded ---------------------------------------------
s=$work/summary.json
check_invariant handshake_flood "$s"
# The flood must have been more than the control plane drains (its ring
# overflowed), or it tested nothing. Counted, not timed: how fast the
# flood went depends on what else the machine runs (it is printed below).
rate=$(jq .rate "$work/flood.json")
[ "$(jq .totals.control_full "$s")" -gt 0 ] ||
	fail "the flood ($rate packets/s) never filled the ring to the control plane: it tested nothing"
check_counter keys "$s" .handshakes.key_expired 0
! grep -q "did not rekey in time" "$work/vigild.log" || fail "a camera's key was refused: $(grep "did not rekey" "$work/vigild.log")"
check_counter keys "$s" .totals.unknown_ssrc "$unknown_before"
hs=0 inits=0 rekeys=0 cam_sent=0 cam_got=0
for cam in "${cams[@]}"; do
	cat "$work/$cam.json"
	n=$(jq .handshakes "$work/$cam.json")
	hs=$((hs + n)) inits=$((inits + $(jq .initiations "$work/$cam.json"))) rekeys=$((rekeys + n - 1))
	cam_sent=$((cam_sent + $(jq .packets "$work/$cam.json"))) cam_got=$((cam_got + $(jq ".cameras.$cam.decrypted" "$s")))
	# At least two rekeys under the flood, within their bound (key_expired 0).
	[ "$n" -ge 3 ] || fail "$cam: $n handshakes, want one at start and two rekeys at least"
	check_counter "$cam" "$s" ".cameras.$cam.ssrc" "$(jq .ssrc "$work/$cam.json")"
	check_counter "$cam" "$s" ".cameras.$cam.auth_failed" 0
done
check_counter handshakes "$s" .handshakes.accepted "$hs"
# Before it notices the flood the port takes 25 DHs (LOAD_DH) at most.
[ "$(jq .handshakes.refused "$s")" -le 26 ] || fail "the flood cost $(jq .handshakes.refused "$s") DHs"
[ "$(jq .handshakes.cookie_sent "$s")" -ge 1 ] && [ "$(jq .handshakes.rate_limited "$s")" -ge 1 ] ||
	fail "want the flood answered by cookies and rate limits: $(jq -c .handshakes "$s")"
proven=$(jq '.totals.handshake_proven // -1' "$s")
[ "$proven" -ge "$rekeys" ] && [ "$proven" -le "$inits" ] ||
	fail "handshake_proven = $proven: want one per rekey ($rekeys), at most the cameras' initiations ($inits)"
[ "$(jq '.handshakes.key_extended // 0' "$s")" = 0 ] ||
	grep -q "its key reached its rekey bound while the HandshakePort is under load" "$work/vigild.log" ||
	fail "keys extended, and no log line says so"

# What the kernel dropped before vigild: all that was sent on the link but
# what vigild counted (ARP and ICMP from the namespace, and what came
# before the cameras, aside).
lost=$(($(jq .sent "$work/flood.json") + cam_sent + inits + unknown_before -
	$(jq '.totals | .rx_packets - .not_ip - .not_udp' "$s")))
[ "$cam_got" -ge $((cam_sent - (lost > 0 ? lost : 0))) ] ||
	fail "cameras: $cam_got of $cam_sent packets decrypted, $lost lost before vigild"
if [ "$lost" -le 0 ]; then
	for cam in "${cams[@]}"; do
		check_counter "$cam" "$s" ".cameras.$cam.decrypted" "$(jq .packets "$work/$cam.json")"
		check_counter "$cam" "$s" ".cameras.$cam.frames_recorded" "$(jq .frames "$work/$cam.json")"
	done
else
	note "the worker fell behind (its CPU is shared): the kernel dropped $lost packets before vigild;" \
		"frames recorded: $(for cam in "${cams[@]}"; do printf '%s %s of %s; ' "$cam" \
		"$(jq ".cameras.$cam.frames_recorded" "$s")" "$(jq .frames "$work/$cam.json")"; done)"
	for cam in "${cams[@]}"; do
		[ "$(jq ".cameras.$cam.frames_recorded" "$s")" -ge $(($(jq .frames "$work/$cam.json") / 2)) ] ||
			fail "$cam: $(jq ".cameras.$cam.frames_recorded" "$s") of $(jq .frames "$work/$cam.json") frames recorded"
	done
fi
sent=$(jq .sent "$work/flood.json")
note "flood: $sent initiations in $(jq .seconds "$work/flood.json") s, $rate a second, from 65,536 spoofed sources on CPU $flood_cpu"
note "vigild: $(jq .totals.handshake "$s") passed to the control plane ($proven proven)," \
	"$(jq .totals.control_full "$s") dropped at a full ring: $(($(jq .totals.handshake "$s") / FLOOD_SECONDS)) a second drained"
note "handshakes: $(jq -c .handshakes "$s")"
note "CPU during the flood: control thread $control_cpu%, worker $worker_cpu_use% (it polls: all it is given)"
note "cameras: $(for cam in "${cams[@]}"; do printf '%s: %s handshakes in %s initiations, %s frames; ' "$cam" \
	"$(jq .handshakes "$work/$cam.json")" "$(jq .initiations "$work/$cam.json")" "$(jq .frames "$work/$cam.json")"; done)"
test_finish handshake_flood
