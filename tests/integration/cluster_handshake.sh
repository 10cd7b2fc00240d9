#!/bin/bash
# SPDX-License-Identifier: MIT
# Handshake (Identity) cameras in a cluster (docs/cluster.md). Two live
# vigild nodes on one veth (af_packet: both see every packet, so every
# initiation reaches both, as a replay to another node would, and the
# camera's media reach a node whatever answered its handshake), one
# server key, a real etcd; camera `door` (vigil-stream) handshakes and
# rekeys every 2 s:
#   - each initiation is answered by exactly one node: the camera's
#     handshakes are the nodes' accepted, and the other node counts it
#     replayed (etcd took the first node's in a transaction);
#   - etcd holds the handshake sealed under its key (no key in the clear)
#     and the camera's SSRC under ssrcs/; both nodes have the camera live
#     under the same SSRC, one owns and records it, the other counts its
#     packets not_owner;
#   - door started again (a fresh vigil-stream: its first initiation says
#     so) gets a new SSRC, the old one freed in etcd; the owner killed
#     (SIGKILL) meanwhile: the other, which has the camera's keys from
#     etcd, takes it over from the index the dead node published, records
#     it, and answers its rekeys alone;
#   - the killed node started again: it has the camera live from etcd
#     without a handshake of its own; the camera's first and latest
#     initiations replayed to both nodes are refused as replayed, nothing
#     answered;
#   - door's handshake record copied to camera gate's key does not open
#     there: refused, gate still waits for its handshake; door's first
#     handshake record put back (as an etcd writer could): refused as not
#     newer than the last, door still live;
#   - door removed: its handshake and SSRC keys go from etcd with it;
#   - etcd stopped (SIGSTOP: no answer): camera gate's first initiation
#     waits for etcd off the control thread (vigilctl stats says so
#     meanwhile), then it and the next are counted cluster_unavailable and
#     answered by no node; etcd back: gate
#     is answered, its handshake replacing the record refused under its
#     key (it once stayed there, and gate was refused as replayed for
#     ever).
#
# usage: cluster_handshake.sh BUILD_DIR [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} scratch=${2:-}
# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "network namespaces"
require_tools etcd etcdctl curl jq ip ffmpeg tcpdump base64
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
vigilctl=$target/tools/vigilctl stream=$target/examples/vigil-stream
python=${PYTHON:-python3}
test_begin cluster_handshake "$scratch"
vigil_netns_create clhs
LEASE=3

port=$((27000 + RANDOM % 2000))
endpoint=http://127.0.0.1:$port
etcd_start "$work" $((port + 1)) "$endpoint"

ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=320x240:rate=30 -t 2 -c:v libx264 -g 30 -bf 0 -pix_fmt yuv420p \
	-f h264 "$work/clip.h264"
umask 077
server_pk=$("$vigilctl" keygen x25519 "$work/server.sk")
door_pk=$("$vigilctl" keygen x25519 "$work/door.sk")
gate_pk=$("$vigilctl" keygen x25519 "$work/gate.sk")
"$vigilctl" keygen keystore "$work/master.key" >/dev/null

start_node() { node_start "$1" "$work/$1" "$2"; } # NODE LOG
for node in a b; do
	mkdir -p "$work/$node"
	{
		printf '[Ingest]\nPorts = 5004\nRecordDir = %s/%s/rec\nStateDir = %s/%s/state\nSegmentSeconds = 2\n' \
			"$work" "$node" "$work" "$node"
		printf 'Device = net_af_packet0,iface=%s\nMaxCameras = 4\nKeystoreKeyFile = %s/master.key\n' \
			"$VIGIL_VETH_ROOT" "$work"
		printf 'HandshakePort = 5006\nServerKeyFile = %s/server.sk\nOfflineSeconds = 3\nIdleSleepMicroseconds = 200\n' \
			"$work"
		printf '[Cluster]\nEtcd = %s\nNode = %s\nLeaseSeconds = %s\nAnycast = %s\n' "$endpoint" "$node" "$LEASE" \
			"$VIGIL_IP_ROOT"
	} >"$work/$node/vigil.conf"
	chmod 600 "$work/$node/vigil.conf"
	start_node "$node" vigild.log
done
ctl() { "$vigilctl" --socket "$work/$1/admin.sock" "${@:2}"; }
owns() { [ "$(ctl "$1" cluster | jq -r .owned)" = 1 ]; }
counter() { ctl "$1" --json camera show door 2>/dev/null | jq -r ".camera.$2"; }
hs() { ctl "$1" --json stats | jq -r ".stats.handshakes.$2"; }
state() { ctl "$1" cameras | awk -v c="$2" '$1 == c { print $2 }'; }
has_cameras() { [ "$(ctl "$1" --json cameras | jq -r '.cameras | length')" = "$2" ]; }
records() { [ "$(counter "$1" frames_recorded)" -gt 0 ]; }
etcd_keys() { ETCDCTL_API=3 etcdctl --endpoints "$endpoint" get --prefix "$1" --keys-only | sed '/^$/d'; }
ctl a camera add door --identity "$door_pk" --codec h264 >/dev/null || { fail "camera add door"; exit 1; }
ctl b camera add gate --identity "$gate_pk" --codec h264 >/dev/null || { fail "camera add gate"; exit 1; }
until_ok 10 has_cameras a 2 || fail "a does not have both cameras"
until_ok 10 has_cameras b 2 || fail "b does not have both cameras"
[ "$(state a door)" = handshake ] || fail "door on a: $(state a door), not waiting for its handshake"
sleep 1 # af_packet up on both

note "door handshakes and rekeys, both nodes up"
test_start_capture "$work/tcpdump.log" tcpdump -i "$VIGIL_VETH_ROOT" -U -w "$work/hs.pcap" udp dst port 5006
tcpdump_pid=$PROC_PID
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/clip.h264" --loops 5 --identity "$work/door.sk" \
	--server-key "$server_pk" --rekey-seconds 2 >"$work/door1.json" 2>"$work/door1.log" ||
	fail "door: vigil-stream failed: $(cat "$work/door1.log")"
proc_stop "$tcpdump_pid" INT 10 || true
cat "$work/door1.json"
handshakes=$(jq .handshakes "$work/door1.json")
acc_a=$(hs a accepted) acc_b=$(hs b accepted) rep_a=$(hs a replayed) rep_b=$(hs b replayed)
note "door: $handshakes handshakes; a accepted $acc_a, replayed $rep_a; b accepted $acc_b, replayed $rep_b"
[ "$handshakes" -ge 4 ] || fail "door: $handshakes handshakes in 10 s, want a rekey every 2 s"
[ $((acc_a + acc_b)) = "$handshakes" ] || fail "the nodes answered $((acc_a + acc_b)) handshakes, the camera made $handshakes"
[ $((rep_a + rep_b)) -ge "$handshakes" ] || fail "only $((rep_a + rep_b)) initiations refused by the node that did not answer them"
[ "$(etcd_keys /vigil/cameras/door/)" = /vigil/cameras/door/handshake ] || fail "etcd has no handshake of door: $(etcd_keys /vigil/cameras/)"
ssrc=$(jq .ssrc "$work/door1.json")
[ "$(etcd_keys /vigil/ssrcs/)" = "$(printf '/vigil/ssrcs/%08x' "$ssrc")" ] || fail "etcd's SSRCs: $(etcd_keys /vigil/ssrcs/), door has $ssrc"
[ "$(ETCDCTL_API=3 etcdctl --endpoints "$endpoint" get "$(printf '/vigil/ssrcs/%08x' "$ssrc")" --print-value-only)" = door ] ||
	fail "door's SSRC key does not name door"
b64() { printf %s "$1" | base64 -w0; }
get_value() { curl -sf "$endpoint/v3/kv/range" -d "{\"key\": \"$(b64 "$1")\"}" | jq -r '.kvs[0].value'; }
put_value() { curl -sf "$endpoint/v3/kv/put" -d "{\"key\": \"$(b64 "$1")\", \"value\": \"$2\"}" >/dev/null; }
old_hs=$(get_value /vigil/cameras/door/handshake)
base64 -d <<<"$old_hs" >"$work/hs.rec"
[ "$(stat -c %s "$work/hs.rec")" = $((174 + 40)) ] || fail "door's handshake record is $(stat -c %s "$work/hs.rec") bytes"
grep -q VGH1 "$work/hs.rec" && fail "door's handshake record is in the clear"
for n in a b; do
	[ "$(state "$n" door)" = live ] || fail "door on $n: $(state "$n" door)"
	[ "$(counter "$n" ssrc)" = "$ssrc" ] || fail "door on $n has SSRC $(counter "$n" ssrc), the camera $ssrc"
done
if owns a; then owner=a other=b; elif owns b; then owner=b other=a; else
	fail "no node owns door"
	owner=a other=b
fi
owns "$other" && fail "both nodes own door"
[ "$(counter "$owner" frames_recorded)" -gt 0 ] || fail "the owner $owner recorded nothing of door"
[ "$(counter "$other" frames_recorded)" = 0 ] || fail "$other recorded door, which it does not own"
[ "$(counter "$other" not_owner)" -gt 0 ] || fail "$other counts no not_owner packets of door"
note "$owner owns door ($(counter "$owner" frames_recorded) frames); $other: $(counter "$other" not_owner) not_owner"

note "the owner dies while door streams"
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/clip.h264" --loops 8 --identity "$work/door.sk" \
	--server-key "$server_pk" --rekey-seconds 2 >"$work/door2.json" 2>"$work/door2.log" &
door_pid=$!
proc_track "$door_pid"
sleep 3
acc_other=$(hs "$other" accepted)
killed=$(date +%s.%N)
eval "kill -KILL \$pid_$owner"
eval "wait \$pid_$owner" 2>/dev/null || true
eval "proc_forget \$pid_$owner"
until_ok $((LEASE * 4)) owns "$other" || fail "$other did not take door over"
grep -q "camera door taken by node $other, continuing above the index its previous owner published" "${node_log[$other]}" ||
	fail "$other did not continue door from the published index: $(grep "taken by" "${node_log[$other]}")"
rec=$(counter "$other" frames_recorded)
grows() { [ "$(counter "$other" frames_recorded)" -gt "$rec" ]; }
until_ok 10 grows || fail "$other records nothing of door after the takeover"
note "$other records door again $(awk -v a="$(date +%s.%N)" -v b="$killed" 'BEGIN {printf "%.1f", a - b}') s after the kill (LeaseSeconds = $LEASE)"
wait "$door_pid" || fail "door's second run failed: $(tail -n 3 "$work/door2.log")"
proc_forget "$door_pid"
[ "$(hs "$other" accepted)" -gt "$acc_other" ] || fail "$other answered none of door's rekeys after the kill"
# The camera started again: a stream of its own, its old SSRC freed in etcd.
ssrc2=$(jq .ssrc "$work/door2.json")
[ "$ssrc2" != "$ssrc" ] || fail "door started again kept its SSRC $ssrc: its fresh index would meet the old window"
[ "$(etcd_keys /vigil/ssrcs/)" = "$(printf '/vigil/ssrcs/%08x' "$ssrc2")" ] || fail "etcd's SSRCs: $(etcd_keys /vigil/ssrcs/), door has $ssrc2"
note "$other took door over; it answered $(($(hs "$other" accepted) - acc_other)) handshakes since"

note "the dead node back: door from etcd; its initiations replayed"
start_node "$owner" vigild2.log
until_ok 10 has_cameras "$owner" 2 || fail "the restarted $owner does not have both cameras"
[ "$(state "$owner" door)" = live ] || fail "door on the restarted $owner: $(state "$owner" door), not live from etcd"
[ "$(counter "$owner" ssrc)" = "$ssrc2" ] || fail "door on the restarted $owner has SSRC $(counter "$owner" ssrc), not $ssrc2"
[ "$(hs "$owner" accepted)" = 0 ] || fail "the restarted $owner answered a handshake"
sleep 1 # af_packet up
"$python" - "$work/hs.pcap" "$work/init" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
off, payloads = 24, []
while off + 16 <= len(data):
    incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
    frame = data[off + 16:off + 16 + incl]
    off += 16 + incl
    ihl = (frame[14] & 15) * 4
    udp = frame[14 + ihl + 8:]
    if udp[:1] == b"\x01":  # an initiation
        payloads.append(udp)
open(sys.argv[2] + ".first", "wb").write(payloads[0])
open(sys.argv[2] + ".last", "wb").write(payloads[-1])
PY
acc_o=$(hs "$owner" accepted) acc_t=$(hs "$other" accepted) rep_o=$(hs "$owner" replayed) rep_t=$(hs "$other" replayed)
for which in first last; do
	ip netns exec "$VIGIL_NS" "$python" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(open(sys.argv[1], "rb").read(), (sys.argv[2], 5006))' "$work/init.$which" "$VIGIL_IP_ROOT"
done
refused_both() { [ "$(hs "$owner" replayed)" = $((rep_o + 2)) ] && [ "$(hs "$other" replayed)" = $((rep_t + 2)) ]; }
until_ok 5 refused_both || fail "the replayed initiations: $owner replayed $(($(hs "$owner" replayed) - rep_o)), $other $(($(hs "$other" replayed) - rep_t)); want 2 each"
[ "$(hs "$owner" accepted)" = "$acc_o" ] && [ "$(hs "$other" accepted)" = "$acc_t" ] ||
	fail "a replayed initiation was answered"

note "door's handshake record under gate's key; door's first one put back"
refused_o=$(ctl "$owner" cluster | jq -r .refused) refused_t=$(ctl "$other" cluster | jq -r .refused)
put_value /vigil/cameras/gate/handshake "$(get_value /vigil/cameras/door/handshake)" || fail "cannot put the copied record"
put_value /vigil/cameras/door/handshake "$old_hs" || fail "cannot put door's first handshake back"
refused() { [ "$(ctl "$owner" cluster | jq -r .refused)" = $((refused_o + 2)) ] &&
	[ "$(ctl "$other" cluster | jq -r .refused)" = $((refused_t + 2)) ]; }
until_ok 5 refused || fail "the copied and the old records: $owner refused $(($(ctl "$owner" cluster | jq -r .refused) - refused_o)), $other $(($(ctl "$other" cluster | jq -r .refused) - refused_t)); want 2 each"
for n in a b; do
	grep -q "the handshake of camera gate (etcd revision [0-9]*) not applied" "${node_log[$n]}" ||
		fail "$n did not say why it refused gate's record"
	grep -q "the handshake of camera door (etcd revision [0-9]*) not applied" "${node_log[$n]}" ||
		fail "$n did not say why it refused door's old record"
	[ "$(state "$n" gate)" = handshake ] || fail "gate on $n: $(state "$n" gate)"
	[ "$(state "$n" door)" = live ] || fail "door on $n after its old handshake was put back: $(state "$n" door)"
done

note "door removed: its handshake and SSRC keys with it"
ctl "$other" camera remove door >/dev/null || fail "camera remove door"
[ -z "$(etcd_keys /vigil/cameras/door)" ] || fail "etcd still has door's keys: $(etcd_keys /vigil/cameras/door)"
[ -z "$(etcd_keys /vigil/ssrcs/)" ] || fail "etcd still has door's SSRC: $(etcd_keys /vigil/ssrcs/)"
note "etcd unresponsive: gate's handshakes wait, then are answered"
etcd_pid=$(pgrep -f -- "--data-dir $work/etcd" | head -n 1)
una_o=$(hs "$owner" cluster_unavailable) una_t=$(hs "$other" cluster_unavailable)
acc_o=$(hs "$owner" accepted) acc_t=$(hs "$other" accepted)
kill -STOP "$etcd_pid"
ip netns exec "$VIGIL_NS" "$stream" --to "$VIGIL_IP_ROOT" --clip "$work/clip.h264" --loops 4 --identity "$work/gate.sk" \
	--server-key "$server_pk" --rekey-seconds 30 >"$work/gate.json" 2>"$work/gate.log" &
gate_pid=$!
proc_track "$gate_pid"
# The first initiation waits for etcd off the control thread, which
# answers vigilctl meanwhile (it waited out etcd's timeout with it before).
waiting() { [ $(($(hs "$owner" waiting) + $(hs "$other" waiting))) -gt 0 ]; }
until_ok 10 waiting || fail "no node said a handshake of gate waits for etcd while the control thread answers"
unavailable() { [ $(($(hs "$owner" cluster_unavailable) + $(hs "$other" cluster_unavailable))) -gt $((una_o + una_t)) ]; }
until_ok 15 unavailable || fail "no initiation of gate counted cluster_unavailable while etcd did not answer"
[ "$(hs "$owner" accepted)" = "$acc_o" ] && [ "$(hs "$other" accepted)" = "$acc_t" ] ||
	fail "a handshake was answered while etcd did not answer"
kill -CONT "$etcd_pid"
wait "$gate_pid" || fail "gate: vigil-stream failed: $(tail -n 3 "$work/gate.log")"
proc_forget "$gate_pid"
[ "$(jq .handshakes "$work/gate.json")" -ge 1 ] || fail "gate was never answered once etcd was back"
note "gate: $(($(hs "$owner" cluster_unavailable) + $(hs "$other" cluster_unavailable) - una_o - una_t)) initiation(s) cluster_unavailable, then $(jq .handshakes "$work/gate.json") handshake(s)"
ctl "$owner" shutdown >/dev/null
ctl "$other" shutdown >/dev/null
test_finish cluster_handshake
