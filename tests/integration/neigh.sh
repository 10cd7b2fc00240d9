#!/bin/bash
# SPDX-License-Identifier: MIT
# vigild answers ARP, IPv6 neighbour solicitations and ping for its [Ingest]
# Address, live on af_packet. From a network namespace, ping and ping -6
# addresses that the root-namespace kernel does not hold (so only vigild can
# answer); every reply seen in the namespace must be counted `answered`.
#
# usage: neigh.sh BUILD_DIR|VIGILD
# Exit 0 pass, 1 fail, 77 skip (not root, a tool missing, no AES-NI).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=${1:-}
if [ -d "$target" ]; then vigild=$target/control/vigild; else vigild=$target; fi
vigild=$(realpath -m "$vigild")

failures=0
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
note() { echo "== $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, af_packet)"
for t in ip ping tcpdump jq flock; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
grep -qw aes /proc/cpuinfo && grep -qw pclmulqdq /proc/cpuinfo ||
	skip "CPU lacks AES-NI/PCLMUL, which vigild needs"
[ -x "$vigild" ] || { echo "FAIL: vigild not found at $vigild" >&2; exit 1; }

vigild_pid='' tcpdump_pid='' work=''

# Sends SIG to PID, waits up to SECS for it to exit; returns its status.
stop_process() {
	local pid=$1 sig=$2 secs=$3 i
	kill -s "$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid"
}

# Waits until FILE matches PATTERN; 1 when PID died first, 2 after SECS.
wait_for_log() {
	local file=$1 pattern=$2 pid=$3 secs=$4 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -qE "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 2
}

cleanup() {
	local status=$?
	set +e
	[ -z "$vigild_pid" ] || stop_process "$vigild_pid" TERM 10 >/dev/null 2>&1
	[ -z "$tcpdump_pid" ] || stop_process "$tcpdump_pid" INT 5 >/dev/null 2>&1
	vigil_netns_destroy
	if [ "$status" = 0 ] && [ "${VIGIL_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	else
		echo "work directory kept: $work"
	fi
	exit "$status"
}

# shellcheck source=SCRIPTDIR/../tools/netns.sh
source "$here/../tools/netns.sh"
work=$(mktemp -d /tmp/vigil-neigh.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
vigil_netns_create neigh
ns() { ip netns exec "$VIGIL_NS" "$@"; }

# The kernel holds 198.18.N.1/30 on the root veth; vigild gets .9 and
# fd00:198:18:N::9, which no kernel has. The namespace reaches them on-link.
n=${VIGIL_IP_ROOT#198.18.}
n=${n%.1}
ip4=198.18.$n.9 nobody4=198.18.$n.10
ip6=fd00:198:18:$n::9 cam6=fd00:198:18:$n::2
# Packets to .9 reach the root kernel too: it must not route them anywhere.
sysctl -qw "net.ipv4.conf.$VIGIL_VETH_ROOT.forwarding=0"
ns ip neigh del "$VIGIL_IP_ROOT" dev "$VIGIL_VETH_CAM"
ns ip route add "$ip4/32" dev "$VIGIL_VETH_CAM"
ns ip route add "$nobody4/32" dev "$VIGIL_VETH_CAM"
ns sysctl -qw net.ipv6.conf.all.disable_ipv6=0 "net.ipv6.conf.$VIGIL_VETH_CAM.disable_ipv6=0"
ns ip -6 addr add "$cam6/64" dev "$VIGIL_VETH_CAM" nodad
note "namespace $VIGIL_NS ($VIGIL_IP_CAM, $cam6) -> vigild on $VIGIL_VETH_ROOT as $ip4, $ip6"

key=$(head -c 44 /dev/urandom | base64 -w0)
umask 077
cat >"$work/vigil.conf" <<CONF
[Ingest]
Ports = 5004
RecordDir = $work/rec
Device = net_af_packet0,iface=$VIGIL_VETH_ROOT
Address = $ip4, $ip6

[Camera]
Name = cam
SSRC = 1
Suite = AEAD_AES_256_GCM
Key = $key
Codec = H264
CONF
umask 022

# Not through ns(): a background subshell would ignore the SIGINT meant for tcpdump.
ip netns exec "$VIGIL_NS" tcpdump -i "$VIGIL_VETH_CAM" -n -U -w "$work/ns.pcap" 'arp or icmp or icmp6' 2>"$work/tcpdump.log" &
tcpdump_pid=$!
wait_for_log "$work/tcpdump.log" "listening on" "$tcpdump_pid" 10 ||
	{ fail "tcpdump did not start: $(cat "$work/tcpdump.log")"; exit 1; }
"$vigild" --config "$work/vigil.conf" >"$work/summary.json" 2>"$work/vigild.log" &
vigild_pid=$!
rc=0
wait_for_log "$work/vigild.log" "running until" "$vigild_pid" 30 || rc=$?
if [ "$rc" != 0 ]; then
	fail "vigild did not come up ($rc); log:"
	cat "$work/vigild.log" >&2
	exit 1
fi
sleep 1

# ping ADDR [ping options]: three echoes, every one answered.
check_ping() {
	local addr=$1 out
	shift
	if out=$(ns ping "$@" -c 3 -i 0.2 -W 2 "$addr" 2>&1) && grep -q "3 received" <<<"$out"; then
		echo "ping $addr: 3 of 3 answered"
	else
		fail "ping $addr: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
	fi
}

# The namespace learnt vigild's MAC for ADDR (from its ARP or NA reply).
check_neigh() {
	local addr=$1 got
	got=$(ns ip neigh show "$addr" dev "$VIGIL_VETH_CAM" | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2)
	[ "$got" = "$VIGIL_MAC_ROOT" ] || fail "neighbour $addr is '$got', want vigild's $VIGIL_MAC_ROOT"
}

check_ping "$ip4"
check_neigh "$ip4"
check_ping "$ip6" -6
check_neigh "$ip6"
if ns ping -c 1 -W 1 "$nobody4" >/dev/null 2>&1; then
	fail "$nobody4 answered, but it is nobody's address"
fi
sleep 0.5

rc=0
stop_process "$vigild_pid" INT 30 || rc=$?
vigild_pid=
[ "$rc" = 0 ] || { fail "vigild exited $rc after SIGINT; log:"; tail -n 20 "$work/vigild.log" >&2; exit 1; }
stop_process "$tcpdump_pid" INT 10 || true
tcpdump_pid=

# What the namespace saw vigild send, by kind; all of it must be counted.
tcpdump -r "$work/ns.pcap" -n -e 2>/dev/null >"$work/ns.txt"
arp=$(grep -c "Reply $ip4 is-at" "$work/ns.txt" || true)
echo4=$(grep -c "$ip4 > 198.18.$n.2: ICMP echo reply" "$work/ns.txt" || true)
na=$(grep -c "$ip6 > $cam6: ICMP6, neighbor advertisement, tgt is $ip6" "$work/ns.txt" || true)
echo6=$(grep -c "$ip6 > $cam6: ICMP6, echo reply" "$work/ns.txt" || true)
replies=$((arp + echo4 + na + echo6))
note "replies seen in the namespace: $arp ARP, $echo4 echo, $na NA, $echo6 echo6"
[ "$arp" -ge 1 ] && [ "$echo4" = 3 ] && [ "$na" -ge 1 ] && [ "$echo6" = 3 ] ||
	fail "want >= 1 ARP reply, 3 echo replies, >= 1 NA, 3 ICMPv6 echo replies"

jq -e .totals "$work/summary.json" >/dev/null || { fail "no summary: $(head -c 400 "$work/summary.json")"; exit 1; }
answered=$(jq .totals.answered "$work/summary.json")
[ "$answered" = "$replies" ] || fail "vigild counted $answered answered, the namespace saw $replies replies"
[ "$(jq .totals.tx_failed "$work/summary.json")" = 0 ] || fail "tx_failed is not 0"
sum=$(jq '.totals | [.decrypted, .rtcp, .answered, .malformed, .not_ip, .not_udp, .fragment,
	.not_srtp_port, .unknown_ssrc, .replayed, .auth_failed, .tx_failed] | add' "$work/summary.json")
rx=$(jq .totals.rx_packets "$work/summary.json")
[ "$rx" = "$sum" ] || fail "rx_packets $rx != sum of outcomes $sum"
echo "vigild: $(jq -c '.totals | {rx_packets, answered, malformed, not_ip, not_udp, tx_failed}' "$work/summary.json")"

if [ "$failures" -gt 0 ]; then
	echo "neigh: $failures check(s) failed"
	exit 1
fi
echo "neigh: all checks passed"
