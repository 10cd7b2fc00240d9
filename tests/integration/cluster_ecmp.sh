#!/bin/bash
# SPDX-License-Identifier: MIT
# Nodes behind ECMP (docs/cluster.md): a router namespace routes the
# anycast address over a Linux resilient nexthop group, hashing flows on
# their 5-tuple (fib_multipath_hash_policy 1), to three vigild nodes, each
# in a namespace of its own with its DPDK port (af_packet) on a veth to the
# router; a 3-member etcd and the object store (Ceph's RADOS Gateway,
# tests/tools/ceph_s3.sh) in the router's namespace, every node uploading
# its segments to one bucket; 12 cameras (vigil-stream: 8 with static keys,
# 4 with handshakes, each camera's handshakes and media two flows hashed
# apart) stream a 40 s clip whose frames are all different.
#   - every camera is owned by exactly one node, the one its media reach;
#   - a fourth node, started with the same [Cluster] configuration, joins
#     the cluster (vigilctl cluster lists it, it has every camera, owns
#     none);
#   - one node killed (SIGKILL) and its nexthop replaced by the fourth
#     node's, as a routing daemon does on BFD loss: only the dead node's
#     flows move, all to the fourth node (its buckets), which takes its
#     cameras over and records them;
#   - the killed node started again recovers the segment it had open, and
#     joins the group again: it gets idle buckets only, no flow moves;
#   - per camera, the timeline from the bucket (vigilctl recordings),
#     played over HTTP, is the clip's frames in order, none twice; a camera
#     whose flow did not move lost no frame after its first; the gap of
#     each moved camera is printed; every node's packet counters add up.
#
# usage: cluster_ecmp.sh BUILD_DIR [SCRATCH_DIR]
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
vigilctl=$target/tools/vigilctl stream=$target/examples/vigil-stream
python=$PYTHON
test_begin cluster_ecmp "$scratch"
grep -q resilient <<<"$(ip nexthop help 2>&1)" || skip "this ip(8) has no resilient nexthop groups"
LEASE=3 FPS=30 CLIP_S=40 ANYCAST=198.19.250.1 BUCKETS=64

# ---- the network ----------------------------------------------------------------------
pfx=ve$$ namespaces=()
RT=${pfx}rt CAM=${pfx}cam
mkns() {
	ip netns add "$1"
	namespaces+=("$1")
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}
drop_namespaces() { for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done; }
test_at_exit drop_namespaces
link() { # NS_A IF_A ADDR_A NS_B IF_B ADDR_B (/24)
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3/24" dev "$2"
	ip -n "$4" addr add "$6/24" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}
mkns "$RT"
mkns "$CAM"
ip netns exec "$RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
	net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
link "$CAM" c0 198.19.240.2 "$RT" r0 198.19.240.1
ip -n "$CAM" route add default via 198.19.240.1
for i in 1 2 3 4; do
	mkns "${pfx}n$i"
	link "$RT" "r$i" "198.19.24$i.1" "${pfx}n$i" "e$i" "198.19.24$i.2"
	ip -n "${pfx}n$i" route add default via "198.19.24$i.1"
	ip -n "$RT" nexthop add id "$i" via "198.19.24$i.2" dev "r$i"
done
# Busy buckets stay where they are until they have been idle this long:
# longer than the test, so only a removed nexthop's buckets move.
group() { ip -n "$RT" nexthop "$1" id 100 group "$2" type resilient buckets $BUCKETS idle_timer 600 unbalanced_timer 0; }
group add 1/2/3
ip -n "$RT" route add "$ANYCAST/32" nhid 100
buckets_of() { ip -n "$RT" nexthop bucket show id 100 | grep -c "nhid $1\b" || true; }

# ---- etcd: three members in the router's namespace ---------------------------------------
initial="" endpoints=""
for m in 1 2 3; do
	ip -n "$RT" addr add "198.19.239.$m/32" dev lo
	initial+="${initial:+,}m$m=http://198.19.239.$m:2380"
	endpoints+="${endpoints:+,}http://198.19.239.$m:2379"
done
for m in 1 2 3; do
	ip netns exec "$RT" etcd --name "m$m" --data-dir "$work/etcd$m" --listen-client-urls "http://198.19.239.$m:2379" \
		--advertise-client-urls "http://198.19.239.$m:2379" --listen-peer-urls "http://198.19.239.$m:2380" \
		--initial-advertise-peer-urls "http://198.19.239.$m:2380" --initial-cluster "$initial" \
		--initial-cluster-token "$pfx" >"$work/etcd$m.log" 2>&1 &
	proc_track $!
done
etcdctl() { ip netns exec "$RT" env ETCDCTL_API=3 etcdctl --endpoints "$endpoints" "$@"; }
healthy() { [ "$(etcdctl endpoint health 2>&1 | grep -c "is healthy")" = 3 ]; }
until_ok 20 healthy || { fail "etcd did not start: $(tail -n 3 "$work/etcd1.log")"; exit 1; }

# ---- the object store, in the router's namespace too -------------------------------------
S3_IP=198.19.239.10 BUCKET=vigil-ecmp
ip -n "$RT" addr add "$S3_IP/32" dev lo
s3_start "$RT" "$S3_IP"
s3 mb "$BUCKET"
s3 public "$BUCKET" # ffmpeg plays the timeline over plain HTTP

# ---- the nodes ----------------------------------------------------------------------------
umask 077
server_pk=$("$vigilctl" keygen x25519 "$work/server.sk")
"$vigilctl" keygen keystore "$work/master.key" >/dev/null
start_node() { node_start "$1" "$work/n$1" "$2" ip netns exec "${pfx}n$1"; } # N LOG
for n in 1 2 3 4; do
	mkdir -p "$work/n$n"
	{
		printf '[Ingest]\nPorts = 5004\nRecordDir = %s/n%s/rec\nStateDir = %s/n%s/state\nSegmentSeconds = 2\n' \
			"$work" "$n" "$work" "$n"
		printf 'Device = net_af_packet0,iface=e%s\nMaxCameras = 16\nKeystoreKeyFile = %s/master.key\n' "$n" "$work"
		printf 'HandshakePort = 5006\nServerKeyFile = %s/server.sk\nOfflineSeconds = 3\nIdleSleepMicroseconds = 200\n' \
			"$work"
		printf '[Storage]\nEndpoint = %s\nBucket = %s\nRegion = default\nNode = n%s\nCredentialsFile = %s\nPrefix = rec/\n' \
			"$S3_ENDPOINT" "$BUCKET" "$n" "$work/credentials"
		printf '[Cluster]\nEtcd = %s\nNode = n%s\nLeaseSeconds = %s\nAnycast = %s\n' "$endpoints" "$n" "$LEASE" "$ANYCAST"
	} >"$work/n$n/vigil.conf"
done
for n in 1 2 3; do
	start_node "$n" vigild.log
done
ctl() { "$vigilctl" --socket "$work/n$1/admin.sock" "${@:2}"; }
has_cameras() { [ "$(ctl "$1" --json cameras | jq -r '.cameras | length')" = "$2" ]; }

# ---- the cameras --------------------------------------------------------------------------
ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=$FPS" -t $CLIP_S -c:v libx264 -g $FPS -bf 0 \
	-pix_fmt yuv420p -f h264 "$work/clip.h264"
ffmpeg -nostdin -v error -i "$work/clip.h264" -f framemd5 - | awk -F', *' '!/^#/ { print $NF }' >"$work/ref.md5"
[ "$(sort -u "$work/ref.md5" | wc -l)" = $((CLIP_S * FPS)) ] || { fail "the clip's frames are not all different"; exit 1; }
cams=()
for c in 1 2 3 4 5 6 7 8; do
	head -c 44 /dev/urandom | base64 -w0 >"$work/s$c.key"
	ctl 1 camera add "s$c" --codec h264 --ssrc $((1000 + c)) --key-file "$work/s$c.key" >/dev/null ||
		fail "camera add s$c"
	cams+=("s$c")
done
for c in 1 2 3 4; do
	pk=$("$vigilctl" keygen x25519 "$work/h$c.sk")
	ctl 2 camera add "h$c" --identity "$pk" --codec h264 >/dev/null || fail "camera add h$c"
	cams+=("h$c")
done
for n in 1 2 3; do
	until_ok 10 has_cameras "$n" 12 || fail "n$n does not have the 12 cameras"
done
sleep 1 # af_packet up
declare -A stream_pid
for cam in "${cams[@]}"; do
	case $cam in
	s*) args=(--ssrc $((1000 + ${cam#s})) --key-file "$work/$cam.key" --state "$work/$cam.state") ;;
	h*) args=(--identity "$work/$cam.sk" --server-key "$server_pk" --rekey-seconds 8) ;;
	esac
	ip netns exec "$CAM" "$stream" --to "$ANYCAST" --clip "$work/clip.h264" "${args[@]}" >"$work/$cam.json" \
		2>"$work/$cam.log" &
	stream_pid[$cam]=$!
	proc_track $!
done

# Every camera's owner, one etcd request (a loaded machine starts etcdctl
# slowly): "s1=n1 s2=n3 ... ", in the cameras' order, "" for none.
owners() {
	local -A o=()
	local k v cam
	while read -r k && read -r v; do o[${k##*/}]=$v; done < <(etcdctl get --prefix /vigil/owners/)
	for cam in "${cams[@]}"; do printf '%s=%s ' "$cam" "${o[$cam]:-}"; done
}
owner_in() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
all_owned() { ! grep -q '= \|=$' <<<"$(owners)"; }
until_ok 15 all_owned || fail "not every camera is owned: $(owners)"
sleep 2
before=$(owners)
note "owners: $before"
owned_sum=0
for n in 1 2 3; do
	owned_sum=$((owned_sum + $(ctl "$n" cluster | jq -r .owned)))
done
[ "$owned_sum" = 12 ] || fail "the nodes own $owned_sum cameras, want 12"

note "a fourth node joins"
start_node 4 vigild.log
until_ok 10 has_cameras 4 12 || fail "n4 does not have the 12 cameras"
nodes_are() { [ "$(ctl 1 cluster | jq -r '[.nodes[].node] | sort | join(",")')" = "$1" ]; }
until_ok 10 nodes_are n1,n2,n3,n4 || fail "vigilctl cluster does not list n4: $(ctl 1 cluster | jq -c '[.nodes[].node]')"
[ "$(ctl 4 cluster | jq -r .owned)" = 0 ] || fail "n4 owns cameras it receives no packet of"
sleep 1 # af_packet up

note "n2 dies; n4's nexthop replaces it"
moved=()
for cam in "${cams[@]}"; do
	[ "$(owner_in "$cam" "$before")" = n2 ] && moved+=("$cam")
done
[ "${#moved[@]}" -gt 0 ] || fail "n2 owns no camera: nothing to move"
killed=$(date +%s.%N)
kill -KILL "$pid_2"
wait "$pid_2" 2>/dev/null || true
proc_forget "$pid_2"
group replace 1/3/4
note "buckets: n1 $(buckets_of 1), n3 $(buckets_of 3), n4 $(buckets_of 4); n2 had ${moved[*]}"
# n2's buckets go to the nodes below their share: n4's, nearly all.
taken() {
	local now cam
	now=$(owners)
	for cam in "${moved[@]}"; do
		case $(owner_in "$cam" "$now") in n1 | n3 | n4) ;; *) return 1 ;; esac
	done
}
until_ok $((LEASE * 5)) taken || fail "n2's cameras not taken by the live nodes: $(owners)"
after=$(owners)
note "n2's cameras taken $(awk -v a="$(date +%s.%N)" -v b="$killed" 'BEGIN {printf "%.1f", a - b}') s after the kill: $after"
grep -q '=n4 ' <<<"$after" || fail "n4 took none of n2's cameras"
for cam in "${cams[@]}"; do
	case " ${moved[*]} " in *" $cam "*) continue ;; esac
	[ "$(owner_in "$cam" "$after")" = "$(owner_in "$cam" "$before")" ] || fail "$cam moved, its node alive"
done

note "n2 back: its open segment recovered; it joins the group again"
start_node 2 vigild2.log
# Its cameras come from etcd before its recorder starts: what the crash
# left of each is recovered now, though their packets go elsewhere.
partial=$(find "$work/n2/rec" -name '*.partial' | head -n 3)
[ -z "$partial" ] || fail "n2 left segments cut by the crash unrecovered: $partial"
# (A segment begun just before the kill may hold nothing durable yet, less
# than a PAT and a PMT: it is removed instead, its frames within what a
# crash may lose, MaxUnsyncedSeconds.)
for cam in "${moved[@]}"; do
	grep -qE "camera $cam: (1 segment\(s\) cut short by a crash recovered|0 segment\(s\) cut short by a crash recovered, 1 too short removed)" "${node_log[2]}" ||
		fail "n2 did not recover $cam's open segment: $(grep "camera $cam:" "${node_log[2]}")"
done
until_ok 10 nodes_are n1,n2,n3,n4 || fail "vigilctl cluster does not list n2 again"
sleep 1 # af_packet up
group replace 1/2/3/4
note "buckets: n1 $(buckets_of 1), n2 $(buckets_of 2), n3 $(buckets_of 3), n4 $(buckets_of 4)"
sleep 3
[ "$(owners)" = "$after" ] || fail "flows moved when n2 joined the group again: $(owners)"
[ "$(ctl 2 cluster | jq -r .owned)" = 0 ] || fail "n2 took cameras while no flow moved"

for cam in "${cams[@]}"; do
	wait "${stream_pid[$cam]}" || fail "$cam: vigil-stream failed: $(tail -n 3 "$work/$cam.log")"
	proc_forget "${stream_pid[$cam]}"
done
sleep 2
for n in 1 2 3 4; do
	ctl "$n" shutdown >/dev/null || fail "n$n did not stop"
done
for n in 1 2 3 4; do
	eval "p=\$pid_$n"
	wait "$p" || fail "n$n exited $?"
	proc_forget "$p"
	check_invariant "n$n" "$work/n$n/summary.json"
done
# Media under a key its node did not have yet (a handshake another node
# answered, its watch late): each costs the camera the rest of a GOP.
note "auth_failed: $(for n in 1 2 3 4; do printf 'n%s %s ' "$n" "$(jq .totals.auth_failed "$work/n$n/summary.json")"; done)"

# ---- the recordings, from the bucket --------------------------------------------------------
for n in 1 2 3 4; do
	[ "$(jq .storage.spool_segments "$work/n$n/summary.json")" = 0 ] ||
		fail "n$n left segments in its spool: $(jq -c .storage "$work/n$n/summary.json")"
done
moved_list=" ${moved[*]} "
for cam in "${cams[@]}"; do
	ip netns exec "$RT" "$vigilctl" recordings "$cam" --config "$work/n1/vigil.conf" >"$work/$cam.m3u8" \
		2>"$work/$cam.recordings" || { fail "$cam: vigilctl recordings: $(cat "$work/$cam.recordings")"; continue; }
	ip netns exec "$RT" timeout 120 ffmpeg -nostdin -v error -protocol_whitelist file,http,tcp -i "$work/$cam.m3u8" \
		-f framemd5 - >"$work/$cam.framemd5" || fail "$cam: ffmpeg cannot play its timeline"
	awk -F', *' '!/^#/ { print $NF }' "$work/$cam.framemd5" >"$work/$cam.got"
	frames_in_order "$work/ref.md5" "$work/$cam.got" || fail "$cam: its timeline is not frames of the clip in order"
	nodes=$(grep '^http' "$work/$cam.m3u8" | sed 's|.*/\(n[0-9]\)/[^/]*$|\1|' | uniq | tr '\n' ' ')
	read -r first missing dup < <("$python" - "$work/ref.md5" "$work/$cam.got" <<'PY'
import sys
ref = {h: i for i, h in enumerate(open(sys.argv[1]).read().split())}
got = [ref[h] for h in open(sys.argv[2]).read().split() if h in ref]
first = min(got) if got else len(ref)
print(first, len(ref) - first - len(set(got)), len(got) - len(set(got)))
PY
)
	[ "$dup" = 0 ] || fail "$cam: $dup frames twice in its timeline"
	if [[ $moved_list == *" $cam "* ]]; then
		note "$cam (moved): from frame $first, gap $missing frames ($(awk -v m="$missing" -v f=$FPS 'BEGIN {printf "%.1f", m / f}') s); nodes: $nodes"
		# The lease's expiry, an ask (once a second), a key frame (one a
		# second) and what the dead node had not written, with room.
		[ "$missing" -lt $(((2 * LEASE + 2) * FPS)) ] ||
			fail "$cam: $missing frames lost: more than twice the detection time and a key frame"
		[ "$(wc -w <<<"$nodes")" = 2 ] || fail "$cam: its timeline goes through nodes $nodes, want n2 then another"
	else
		[ "$missing" = 0 ] || fail "$cam (not moved): $missing frames lost after its first"
		[ "$(wc -w <<<"$nodes")" = 1 ] || fail "$cam (not moved): its timeline goes through nodes $nodes"
	fi
done
test_finish cluster_ecmp
