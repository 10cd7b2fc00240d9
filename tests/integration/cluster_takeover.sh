#!/bin/bash
# SPDX-License-Identifier: MIT
# Ownership in a cluster (docs/cluster.md): two live vigild nodes on one
# veth (af_packet: both see every packet, as when a camera's packets
# reach a node that does not own it, by a moved flow or a replay), one
# vigil-cam camera streaming from a network namespace, a real etcd.
#   - exactly one node takes the camera (its owners key under its lease);
#     the other counts the camera's authentic packets as not_owner and
#     records none of them;
#   - the owner is killed (SIGKILL: no lease revoked, no state written at
#     a stop); once its lease expires the other node takes the camera over
#     from the index the dead node published, and records it;
#   - the killed node started again: it counts not_owner (the other owns
#     the camera now); the owner drained (vigilctl drain): it gives the
#     camera back with its last index published, reports not ready,
#     makes its DrainFile, and the restarted node takes the camera at once;
#     once the camera's packets stop reaching it, the drained node stops by
#     itself (exit 0, its summary printed);
#   - the owner's camera removed (the owners key given back: the call
#     returns, etcd no longer holds it; it once deadlocked) and added again:
#     taken again from its packets;
#   - the first owner's traffic, captured before the kill, replayed into
#     the owner: at or below the published index it is refused (replayed);
#     what is accepted twice is at most what the camera sent in the last
#     publication's interval (printed);
#   - the camera silent for OfflineSeconds: its owner gives it back; the
#     old traffic replayed again records nothing and leaves the camera
#     unowned: the node's own window refuses it before it asks, or it
#     takes the camera on indices only the published state covers and,
#     none of it taken, gives it back within 2 s (not asking again for
#     30 s): a replay cannot hold a camera away from the node its flow
#     reaches;
#   - a fresh node (no window of its own) brought the camera by that
#     replay takes it, takes none of its packets (the published index
#     covers them), gives it back within 2 s and does not ask again.
# Prints how long the camera went unrecorded after the kill.
#
# usage: cluster_takeover.sh BUILD_DIR [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} scratch=${2:-}
# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces"
require_tools etcd etcdctl curl jq ip ffmpeg tcpdump
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
vigilctl=$target/tools/vigilctl vigil_cam=$target/bench/vigil-cam
python=${PYTHON:-python3}
test_begin cluster_takeover "$scratch"
vigil_netns_create takeover
LEASE=3
SECONDS_SENT=40

port=$((25000 + RANDOM % 2000))
endpoint=http://127.0.0.1:$port
etcd_start "$work" $((port + 1)) "$endpoint"

ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -t 2 -c:v libx264 -g 30 -bf 0 -pix_fmt yuv420p \
	-f h264 "$work/clip.h264"
"$vigil_cam" --clip "$work/clip.h264" --codec h264 --cameras 1 --seconds 0.1 --seed takeover --out /dev/null \
	--config "$work/cam.conf" >/dev/null || { fail "vigil-cam"; exit 1; }
read -r cam ssrc key < <(awk -F' = ' '/^Name/ {n = $2} /^SSRC/ {s = $2} /^Key/ {print n, s, $2}' "$work/cam.conf")
umask 077
echo "$key" >"$work/cam.key"
"$vigilctl" keygen keystore "$work/master.key" >/dev/null

start_node() { node_start "$1" "$work/$1" "$2"; } # NODE LOG
write_conf() {
	local node=$1
	mkdir -p "$work/$node"
	{
		printf '[Ingest]\nPorts = 5004\nRecordDir = %s/%s/rec\nStateDir = %s/%s/state\nSegmentSeconds = 2\n' \
			"$work" "$node" "$work" "$node"
		printf 'Device = net_af_packet0,iface=%s\nMaxCameras = 4\nKeystoreKeyFile = %s/master.key\nOfflineSeconds = 3\nIdleSleepMicroseconds = 200\n' \
			"$VIGIL_VETH_ROOT" "$work"
		printf '[Cluster]\nEtcd = %s\nNode = %s\nLeaseSeconds = %s\nDrainFile = %s/%s/draining\n' "$endpoint" "$node" \
			"$LEASE" "$work" "$node"
	} >"$work/$node/vigil.conf"
	chmod 600 "$work/$node/vigil.conf"
}
for node in a b; do
	write_conf "$node"
	start_node "$node" vigild.log
done
ctl() { "$vigilctl" --socket "$work/$1/admin.sock" "${@:2}"; }
owned() { ctl "$1" cluster | jq -r .owned; }
counter() { ctl "$1" --json camera show "$cam" 2>/dev/null | jq -r ".camera.$2"; }
owns() { [ "$(owned "$1")" = 1 ]; }
# For until_ok, which runs them again each time.
has_cameras() { [ "$(ctl "$1" --json cameras | jq -r '.cameras | length')" = "$2" ]; }
records() { [ "$(counter "$1" frames_recorded)" -gt 0 ]; }
ctl a camera add "$cam" --codec h264 --ssrc "$ssrc" --key-file "$work/cam.key" >/dev/null || { fail "camera add"; exit 1; }
until_ok 10 has_cameras b 1 || fail "b does not have the camera"
sleep 1 # af_packet up on both

test_start_capture "$work/tcpdump.log" tcpdump -i "$VIGIL_VETH_ROOT" -U -w "$work/before.pcap" udp dst port 5004
tcpdump_pid=$PROC_PID
ip netns exec "$VIGIL_NS" "$vigil_cam" --clip "$work/clip.h264" --codec h264 --cameras 1 --seconds "$SECONDS_SENT" \
	--seed takeover --live "$VIGIL_VETH_CAM" --config "$work/live.conf" >"$work/sent.json" 2>"$work/cam.log" &
cam_pid=$!
proc_track "$cam_pid"

note "one node takes the camera"
one_owns() { owns a || owns b; }
until_ok 10 one_owns || { fail "no node took the camera"; exit 1; }
if owns a; then owner=a other=b pid_owner=$pid_a; else owner=b other=a pid_owner=$pid_b; fi
owns "$other" && fail "both nodes own the camera"
# etcd's load in steady state: writes (raft proposals) and keep-alives, two nodes.
etcd_metric() { curl -sf "$endpoint/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
w0=$(etcd_metric etcd_server_proposals_committed_total) t0=$(date +%s.%N)
sleep 4
w1=$(etcd_metric etcd_server_proposals_committed_total) t1=$(date +%s.%N)
note "etcd in steady state: $(awk -v a="$w0" -v b="$w1" -v s="$t0" -v e="$t1" 'BEGIN {printf "%.2f", (b - a) / (e - s) / 2}') writes a second per node (LeaseSeconds = $LEASE)"
[ "$(counter "$owner" frames_recorded)" -gt 0 ] || fail "the owner $owner records nothing"
[ "$(counter "$other" frames_recorded)" = 0 ] || fail "$other recorded $(counter "$other" frames_recorded) frames of a camera it does not own"
[ "$(counter "$other" not_owner)" -gt 0 ] || fail "$other counts no not_owner packets"
[ "$(counter "$other" decrypted)" = 0 ] || fail "$other took $(counter "$other" decrypted) packets of a camera it does not own"
note "$owner owns $cam; $other: $(counter "$other" not_owner) not_owner, none recorded"

note "the owner dies"
sleep 2
proc_stop "$tcpdump_pid" INT 10 || true
killed=$(date +%s.%N)
kill -KILL "$pid_owner"
wait "$pid_owner" 2>/dev/null || true
proc_forget "$pid_owner"
until_ok $((LEASE * 4)) owns "$other" || fail "$other did not take the camera over"
taken=$(date +%s.%N)
grep -q "camera $cam taken by node $other, continuing above the index its previous owner published" "${node_log[$other]}" ||
	fail "$other did not continue from the published index: $(grep "taken by" "${node_log[$other]}")"
until_ok 10 records "$other" || fail "$other records nothing after the takeover"
note "$other took $cam $(awk -v a="$taken" -v b="$killed" 'BEGIN {printf "%.1f", a - b}') s after the kill (LeaseSeconds = $LEASE)"

note "the dead node back, the owner drained"
start_node "$owner" vigild2.log
dead=$owner owner=$other other=$dead
until_ok 10 test -S "$work/$other/admin.sock" || true
counting() { [ "$(counter "$1" not_owner)" -gt 0 ]; }
until_ok 10 counting "$other" || fail "the restarted $other counts no not_owner packets"
owns "$other" && fail "the restarted $other owns the camera $owner has"
drained=$(date +%s.%N)
ctl "$owner" drain | grep -q "node $owner draining: 1 camera(s) given back" || fail "drain of $owner"
until_ok 10 owns "$other" || fail "$other did not take the camera from the drained $owner"
taken=$(date +%s.%N)
grep -q "camera $cam taken by node $other, continuing above the index its previous owner published" "${node_log[$other]}" ||
	fail "$other did not continue from the drained owner's index: $(grep "taken by" "${node_log[$other]}")"
owns "$owner" && fail "the drained $owner still owns the camera"
err=$(ctl "$owner" health 2>&1) && fail "the drained $owner says it is ready"
grep -q "draining" <<<"$err" || fail "the drained $owner's health: $err"
[ "$(cat "$work/$owner/draining" 2>/dev/null)" = draining ] || fail "the drained $owner made no DrainFile"
says_draining() { [ "$(ctl "$1" cluster | jq -r --arg n "$1" '.nodes[] | select(.node == $n) | .draining')" = true ]; }
until_ok 2 says_draining "$owner" || fail "$owner's node record does not say draining"
until_ok 10 records "$other" || fail "$other records nothing after the drain"
note "$other took $cam $(awk -v a="$taken" -v b="$drained" 'BEGIN {printf "%.2f", a - b}') s after $owner's drain began"
# The drained node took no packet after it gave the camera back.
dec=$(counter "$owner" decrypted)
sleep 1
[ "$(counter "$owner" decrypted)" = "$dec" ] || fail "the drained $owner still takes packets"
[ "$(ctl "$owner" --json camera show "$cam" | jq -r '.camera.not_owner')" -gt 0 ] || fail "the drained $owner counts no not_owner"

note "an owned camera removed, and added again"
out=$(timeout 20 "$vigilctl" --socket "$work/$other/admin.sock" camera remove "$cam" 2>&1) ||
	fail "camera remove of an owned camera did not return: $out"
owner_key() { ETCDCTL_API=3 etcdctl --endpoints "$endpoint" get "/vigil/owners/$cam" --print-value-only; }
owner_gone() { [ -z "$(owner_key)" ]; }
until_ok 5 owner_gone || fail "the removed camera's owners key is left: $(owner_key)"
ctl "$other" camera add "$cam" --codec h264 --ssrc "$ssrc" --key-file "$work/cam.key" >/dev/null || fail "camera add again"
until_ok 10 owns "$other" || fail "$other did not take the camera again after it was added again"
wait "$cam_pid" || fail "vigil-cam failed: $(tail -n 3 "$work/cam.log")"
proc_forget "$cam_pid"

note "the dead owner's traffic replayed into the new one"
before_dec=$(counter "$other" decrypted) before_rep=$(counter "$other" replayed) before_rec=$(counter "$other" frames_recorded)
out=$(ip netns exec "$VIGIL_NS" "$python" "$tools/pcap_send.py" "$work/before.pcap" "$VIGIL_IP_ROOT" 5004 --rate 2000 2>&1) ||
	fail "pcap_send: $out"
sent=${out#sent }
sleep 2
again=$(($(counter "$other" decrypted) - before_dec)) refused=$(($(counter "$other" replayed) - before_rep))
rate=$(($(jq .packets "$work/sent.json") / SECONDS_SENT))
note "replayed $sent packets of before the kill: $refused refused as replayed, $again accepted again (the camera sends $rate a second)"
[ "$refused" -gt 0 ] || fail "nothing refused as replayed"
[ "$again" -le $((rate * 2)) ] || fail "$again packets accepted twice: more than 2 s of the camera's"
[ "$(counter "$other" frames_recorded)" = "$before_rec" ] || fail "the replay recorded frames"

note "a replay cannot hold the camera"
until_ok 10 grep -q "camera $cam given back by node $other: no packet of it for OfflineSeconds" "${node_log[$other]}" ||
	fail "$other did not give the silent camera back"
before_rec=$(counter "$other" frames_recorded) before_rep=$(counter "$other" replayed)
takes_before=$(grep -c "camera $cam taken by node $other" "${node_log[$other]}")
ip netns exec "$VIGIL_NS" "$python" "$tools/pcap_send.py" "$work/before.pcap" "$VIGIL_IP_ROOT" 5004 --rate 2000 >/dev/null ||
	fail "pcap_send, again"
# Either its own window refuses the replay before anything is asked
# (indices at or below what it took itself), or it takes the camera on
# indices only the published state covers and gives it back within 2 s.
sleep 3
if [ "$(grep -c "camera $cam taken by node $other" "${node_log[$other]}")" -gt "$takes_before" ]; then
	grep -q "camera $cam given back by node $other: no packet of it was taken after it was taken (a replay)" \
		"${node_log[$other]}" || fail "$other kept a camera it took on a replay: $(grep "given back\|taken by" "${node_log[$other]}")"
	note "the replay made $other take the camera; it gave it back"
else
	note "$other's own window refused the replay before it asked for the camera"
fi
[ "$(counter "$other" frames_recorded)" = "$before_rec" ] || fail "the second replay recorded frames"
[ "$(counter "$other" replayed)" -gt "$before_rep" ] || fail "the second replay was not refused as replayed"
owns "$other" && fail "$other owns the camera after the replay"

note "the drained node leaves once its cameras' packets stopped"
drained_pid=$(eval echo "\$pid_$owner")
gone() { ! kill -0 "$drained_pid" 2>/dev/null; }
until_ok 20 gone || fail "the drained $owner did not stop once the camera's packets stopped"
rc=0
wait "$drained_pid" || rc=$?
proc_forget "$drained_pid"
[ "$rc" = 0 ] || fail "the drained $owner exited $rc"
grep -q "drained: no packet of its cameras for a few seconds" "${node_log[$owner]}" || fail "the drained $owner did not say why it stopped"
[ "$(jq -r '.cameras | length' "$work/$owner/summary.json")" = 1 ] || fail "the drained $owner printed no summary"

note "a fresh node, brought the camera by a replay, gives it back"
write_conf c
start_node c vigild.log
until_ok 10 has_cameras c 1 || fail "c does not have the camera"
sleep 1 # af_packet up
replay() { ip netns exec "$VIGIL_NS" "$python" "$tools/pcap_send.py" "$work/before.pcap" "$VIGIL_IP_ROOT" 5004 --rate 2000 >/dev/null; }
replay || fail "pcap_send to c"
until_ok 10 grep -q "camera $cam taken by node c, continuing above the index its previous owner published" "${node_log[c]}" ||
	fail "c did not take the camera on the replay: $(grep "taken by\|given back" "${node_log[c]}")"
until_ok 10 grep -q "camera $cam given back by node c: no packet of it was taken after it was taken (a replay)" "${node_log[c]}" ||
	fail "c kept a camera it took on a replay"
[ "$(counter c frames_recorded)" = 0 ] || fail "c recorded $(counter c frames_recorded) frames of a replay"
owns c && fail "c owns the camera after the replay"
replay || fail "pcap_send to c, again"
sleep 3
[ "$(grep -c "camera $cam taken by node c" "${node_log[c]}")" = 1 ] || fail "c asked again for a camera it took on a replay"
note "c took the camera on the replay, took none of its packets, gave it back and did not ask again"
ctl c shutdown >/dev/null
ctl "$other" shutdown >/dev/null
test_finish cluster_takeover
