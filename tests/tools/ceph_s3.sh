#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A throwaway single-node Ceph (1 mon, 1 memstore OSD, radosgw: S3) in one
# directory, for the tests that need a real S3 server; no mgr (RGW does
# not need one), no systemd. Each daemon runs in the foreground in a
# session of its own, its PID kept, so that stop finds exactly ours.
#   ceph_s3.sh start DIR       starts it; the user's keys are S3_ACCESS_KEY, S3_SECRET_KEY
#   ceph_s3.sh env DIR         prints the exports a client needs (S3_ENDPOINT, AWS_*)
#   ceph_s3.sh rgw-stop DIR    stops the gateway only (an outage)
#   ceph_s3.sh rgw-start DIR   starts it again, once it answers
#   ceph_s3.sh stop DIR        stops everything and removes DIR
# Knobs: BIND_IP (127.0.0.1), MON_PORT (13300; daemons bind MON_PORT+10..+200),
# RGW_PORT (18080). A second cluster needs other ports: one on the same mon
# port joins the first.
set -euo pipefail
cmd=${1:?start|stop|env|rgw-stop|rgw-start}
D=$(realpath -m "${2:?directory}")
IP=${BIND_IP:-127.0.0.1} MON_PORT=${MON_PORT:-13300} RGW_PORT=${RGW_PORT:-18080}
AK=${S3_ACCESS_KEY:-vigiltestaccess} SK=${S3_SECRET_KEY:-vigiltestsecretkey}
C=$D/ceph.conf

ceph_() { timeout 30 ceph -c "$C" --connect-timeout 10 "$@"; }
alive() { [ -r "/proc/$1/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$1/stat" 2>/dev/null; }
in_use() { (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null; }
spawn() {
	local name=$1
	shift
	setsid "$@" -c "$C" -f </dev/null >>"$D/log/$name.out" 2>&1 &
	echo $! >"$D/run/$name.fpid"
}
wait_for() {
	local what=$1 tries=$2
	shift 2
	for _ in $(seq "$tries"); do "$@" && return 0; sleep 0.25; done
	echo "ceph_s3.sh: timed out waiting for $what" >&2
	return 1
}
osd_up() { [[ $(ceph_ osd dump 2>/dev/null) == *"osd.0 up"* ]]; }
rgw_up() {
	alive "$(cat "$D/run/rgw.fpid")" || { echo "ceph_s3.sh: radosgw died: $(tail -n 3 "$D/log/rgw.out")" >&2; exit 1; }
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$IP:$RGW_PORT/")" = 200 ]
}
# stop_one NAME: SIGTERM, SIGKILL after 10 s; only if it is still ours.
stop_one() {
	local p
	[ -s "$D/run/$1.fpid" ] || return 0
	p=$(cat "$D/run/$1.fpid")
	if alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF -- "$C"; then
		kill -TERM "$p" 2>/dev/null || true
		for _ in $(seq 100); do alive "$p" || break; sleep 0.1; done
		alive "$p" && kill -KILL "$p" 2>/dev/null || true
	fi
	rm -f "$D/run/$1.fpid"
}
rgw_start() {
	spawn rgw radosgw -n client.rgw.gw
	wait_for radosgw 480 rgw_up
}

start() {
	[ ! -e "$C" ] || { echo "ceph_s3.sh: $D is in use" >&2; exit 1; }
	for p in "$MON_PORT" $((MON_PORT + 1)) "$RGW_PORT"; do
		! in_use "$p" || { echo "ceph_s3.sh: port $IP:$p is in use" >&2; exit 1; }
	done
	mkdir -p "$D"/{run,log,crash,mon/a,osd/0,rgw}
	trap 'rc=$?; [ $rc = 0 ] || { echo "ceph_s3.sh: start failed:" >&2; tail -n 5 "$D"/log/* >&2; stop; }' EXIT
	local fsid uuid
	fsid=$(cat /proc/sys/kernel/random/uuid)
	# auth none throughout (a test cluster on loopback); radosgw then
	# needs the crc mode, else it hangs on its first auth request.
	# paxos propose interval 0.1: radosgw's first start in ~1.5 s, not 9.
	cat >"$C" <<EOF
[global]
fsid = $fsid
mon host = [v2:$IP:$MON_PORT,v1:$IP:$((MON_PORT + 1))]
public addr = $IP
cluster addr = $IP
ms bind port min = $((MON_PORT + 10))
ms bind port max = $((MON_PORT + 200))
auth cluster required = none
auth service required = none
auth client required = none
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/log/\$name.log
crash dir = $D/crash
mon cluster log file = $D/log/mon-cluster.\$channel.log
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
[mon]
paxos propose interval = 0.1
[mon.a]
mon data = $D/mon/a
[osd]
osd data = $D/osd/\$id
osd objectstore = memstore
memstore device bytes = 2147483648
[client.rgw.gw]
ms mon client mode = crc
rgw data = $D/rgw
rgw frontends = beast endpoint=$IP:$RGW_PORT
rgw dns name = $IP
EOF
	monmaptool --create --fsid "$fsid" --addv a "[v2:$IP:$MON_PORT,v1:$IP:$((MON_PORT + 1))]" "$D/monmap" >/dev/null
	ceph-mon -c "$C" -i a --mkfs --monmap "$D/monmap"
	spawn mon ceph-mon -i a
	ceph_ -s >/dev/null
	uuid=$(cat /proc/sys/kernel/random/uuid)
	[ "$(ceph_ osd new "$uuid")" = 0 ]
	ceph-osd -c "$C" -i 0 --mkfs --osd-uuid "$uuid" 2>"$D/log/osd-mkfs.out"
	spawn osd ceph-osd -i 0
	wait_for "osd.0 up" 240 osd_up
	rgw_start
	radosgw-admin -c "$C" user create --uid=vigil --display-name=vigil --access-key="$AK" --secret-key="$SK" >/dev/null
	trap - EXIT
}

stop() {
	if [ -d "$D/run" ]; then
		for n in rgw osd mon; do stop_one "$n"; done
	fi
	rm -rf "$D"
}

case $cmd in
start) start ;;
stop) stop ;;
rgw-stop) stop_one rgw ;;
rgw-start) rgw_start ;;
env) echo "export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK S3_ENDPOINT=http://$IP:$RGW_PORT" ;;
*) echo "usage: $0 start|stop|env|rgw-stop|rgw-start DIR" >&2; exit 2 ;;
esac
