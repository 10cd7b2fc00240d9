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
# shellcheck source=SCRIPTDIR/../tools/testlib.sh
source "$here/../tools/testlib.sh"
vigild=$(vigild_path "${1:-}")

require_root "network namespaces, af_packet"
require_tools ip ping tcpdump jq flock
require_aesni
require_vigild "$vigild"

test_begin neigh
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
StateDir = $work/state
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

# Not through ns(): a function run in the background is a subshell, which
# would ignore the SIGINT meant for tcpdump; proc_start runs the command itself.
test_start_capture "$work/tcpdump.log" \
	ip netns exec "$VIGIL_NS" tcpdump -i "$VIGIL_VETH_CAM" -n -U -w "$work/ns.pcap" 'arp or icmp or icmp6'
tcpdump_pid=$PROC_PID
test_start_vigild "$vigild" "$work/vigil.conf" "$work/summary.json" "$work/vigild.log"
vigild_pid=$PROC_PID

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
proc_stop "$vigild_pid" INT 30 || rc=$?
[ "$rc" = 0 ] || { fail "vigild exited $rc after SIGINT; log:"; tail -n 20 "$work/vigild.log" >&2; exit 1; }
proc_stop "$tcpdump_pid" INT 10 || true

# What the namespace saw vigild send, by kind; all of it must be counted.
tcpdump -r "$work/ns.pcap" -n -e 2>/dev/null >"$work/ns.txt"
arp=$(grep -c "Reply $ip4 is-at" "$work/ns.txt" || true)
echo4=$(grep -c "$ip4 > 198.18.$n.2: ICMP echo reply" "$work/ns.txt" || true)
na=$(grep -c "$ip6 > $cam6: ICMP6, neighbor advertisement, tgt is $ip6" "$work/ns.txt" || true)
echo6=$(grep -c "$ip6 > $cam6: ICMP6, echo reply" "$work/ns.txt" || true)
replies=$((arp + echo4 + na + echo6))
note "replies seen in the namespace: $arp ARP, $echo4 echo, $na NA, $echo6 echo6"
if [ "$arp" -lt 1 ] || [ "$echo4" != 3 ] || [ "$na" -lt 1 ] || [ "$echo6" != 3 ]; then
	fail "want >= 1 ARP reply, 3 echo replies, >= 1 NA, 3 ICMPv6 echo replies"
fi

jq -e .totals "$work/summary.json" >/dev/null || { fail "no summary: $(head -c 400 "$work/summary.json")"; exit 1; }
answered=$(jq .totals.answered "$work/summary.json")
[ "$answered" = "$replies" ] || fail "vigild counted $answered answered, the namespace saw $replies replies"
check_counter vigild "$work/summary.json" .totals.tx_failed 0
check_invariant vigild "$work/summary.json"
echo "vigild: $(jq -c '.totals | {rx_packets, answered, malformed, not_ip, not_udp, tx_failed}' "$work/summary.json")"

test_finish neigh
