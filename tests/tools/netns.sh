# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourceable helpers: a network namespace joined to the root namespace by a
# veth pair, for cameras that send to vigild. Addresses come from
# 198.18.0.0/15 only (RFC 2544 benchmarking space) and the namespace has no
# route beyond its /30, so test traffic cannot leave the machine.
#
#   source tests/tools/netns.sh
#   vigil_netns_create h264        # sets VIGIL_NS, VIGIL_VETH_ROOT, VIGIL_VETH_CAM,
#                                  # VIGIL_IP_ROOT, VIGIL_IP_CAM, VIGIL_MAC_ROOT
#   trap vigil_netns_destroy EXIT
#   ip netns exec "$VIGIL_NS" gst-launch-1.0 ... udpsink host="$VIGIL_IP_ROOT" ...
#
# Several tests may run at once: each takes the first free /30 (198.18.N.0/30,
# N = 1..250) under a lock, and the interface names carry N so they never
# clash (and stay within the 15-character limit).

VIGIL_NETNS_LOCK=${VIGIL_NETNS_LOCK:-/run/lock/vigil-netns.lock}

# True when 198.18.N.x is used by any interface or namespace we know of.
_vigil_netns_slot_busy() {
	local n=$1
	ip -o -4 addr show | grep -q " 198\.18\.$n\.1/" && return 0
	ip netns list 2>/dev/null | grep -q "^vigil$n-" && return 0
	ip link show "v${n}r" >/dev/null 2>&1 && return 0
	return 1
}

# vigil_netns_create TAG: namespace + veth pair + addresses + static neighbour.
vigil_netns_create() {
	local tag=${1:?vigil_netns_create needs a tag}
	local n fd

	tag=$(printf '%s' "$tag" | tr -c 'A-Za-z0-9' '-' | cut -c1-24)
	mkdir -p "$(dirname "$VIGIL_NETNS_LOCK")"
	exec {fd}>"$VIGIL_NETNS_LOCK"
	flock "$fd"
	for n in $(seq 1 250); do
		_vigil_netns_slot_busy "$n" || break
	done
	if _vigil_netns_slot_busy "$n"; then
		flock -u "$fd"
		exec {fd}>&-
		echo "netns: no free 198.18.N.0/30 slot" >&2
		return 1
	fi
	VIGIL_NS="vigil$n-$tag"
	VIGIL_VETH_ROOT="v${n}r"  # the interface vigild listens on
	VIGIL_VETH_CAM="v${n}c"
	VIGIL_IP_ROOT="198.18.$n.1"
	VIGIL_IP_CAM="198.18.$n.2"
	VIGIL_NETNS_ACTIVE=1

	ip netns add "$VIGIL_NS"
	ip link add "$VIGIL_VETH_ROOT" type veth peer name "$VIGIL_VETH_CAM"
	# The address claims the slot for parallel runs; from here the lock
	# is no longer needed.
	ip addr add "$VIGIL_IP_ROOT/30" dev "$VIGIL_VETH_ROOT"
	flock -u "$fd"
	exec {fd}>&-

	ip link set "$VIGIL_VETH_CAM" netns "$VIGIL_NS"
	# No IPv6: router solicitations and MLD reports would only add noise to
	# captures and to vigild's counters.
	sysctl -qw "net.ipv6.conf.$VIGIL_VETH_ROOT.disable_ipv6=1" 2>/dev/null || true
	ip netns exec "$VIGIL_NS" sysctl -qw "net.ipv6.conf.$VIGIL_VETH_CAM.disable_ipv6=1" 2>/dev/null || true
	ip netns exec "$VIGIL_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
	ip link set "$VIGIL_VETH_ROOT" up
	ip netns exec "$VIGIL_NS" ip link set lo up
	ip netns exec "$VIGIL_NS" ip addr add "$VIGIL_IP_CAM/30" dev "$VIGIL_VETH_CAM"
	ip netns exec "$VIGIL_NS" ip link set "$VIGIL_VETH_CAM" up
	# vigild owns the root veth through DPDK and answers ARP only for an
	# [Ingest] Address, so the camera side learns this one statically.
	VIGIL_MAC_ROOT=$(cat "/sys/class/net/$VIGIL_VETH_ROOT/address")
	ip netns exec "$VIGIL_NS" ip neigh replace "$VIGIL_IP_ROOT" lladdr "$VIGIL_MAC_ROOT" \
		dev "$VIGIL_VETH_CAM" nud permanent
	export VIGIL_NS VIGIL_VETH_ROOT VIGIL_VETH_CAM VIGIL_IP_ROOT VIGIL_IP_CAM VIGIL_MAC_ROOT
}

# Kills what still runs inside the namespace, then removes it; deleting
# the namespace deletes the veth pair. Safe to call twice (trap + explicit).
vigil_netns_destroy() {
	local pids
	[ "${VIGIL_NETNS_ACTIVE:-0}" = 1 ] || return 0
	VIGIL_NETNS_ACTIVE=0
	pids=$(ip netns pids "$VIGIL_NS" 2>/dev/null || true)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086 # one pid per word
		kill $pids 2>/dev/null || true
		sleep 0.5
		pids=$(ip netns pids "$VIGIL_NS" 2>/dev/null || true)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	fi
	ip netns del "$VIGIL_NS" 2>/dev/null || true
	ip link del "$VIGIL_VETH_ROOT" 2>/dev/null || true
}
