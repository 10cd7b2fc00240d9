#!/bin/bash
# SPDX-License-Identifier: MIT
# The package installed, run, upgraded and purged in a copy-on-write view
# of this system: package.sh runs this in mount and network namespaces of
# its own (unshare -m -n), where / is an overlay whose changes go to a
# tmpfs, so nothing reaches the real system (its users, /etc, dpkg's
# database, its hugepages, its interfaces). Inside: dpkg -i (postinst: the
# user, the directories, the configuration's group, the keystore key, the
# unit not enabled); vigild started as vigild.service would start it
# (ExecStart, User=, AmbientCapabilities=, the credential and the
# directories systemd makes, read from the unit) on af_packet over a veth
# of the namespace; a member of group vigil adds a camera with vigilctl,
# another user is refused; the camera is back from the keystore after a
# restart; an upgrade keeps a configuration made vigil's own; purge.
#
# usage: deb_install.sh DEB SCRATCH_DIR
# Prints FAIL: lines. Exit 0 all passed, 1 a failure, 77 no overlay of /.
set -euo pipefail

deb=$1 t=$2
mkdir -p "$t"
mount -t tmpfs tmpfs "$t"
mkdir "$t/upper" "$t/work" "$t/root"
r=$t/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$t/upper,workdir=$t/work" "$r" 2>"$t/overlay.err" ||
	{ echo "cannot mount an overlay over /: $(cat "$t/overlay.err")"; exit 77; }
for d in proc sys dev; do mount --rbind "/$d" "$r/$d"; done
# No hugetlbfs in sight: vigild takes ordinary pages, none of the machine's
# hugepages.
if mountpoint -q "$r/dev/hugepages"; then umount -l "$r/dev/hugepages"; fi
mount -t tmpfs tmpfs "$r/run"
mount -t tmpfs tmpfs "$r/tmp"
cp "$deb" "$r/tmp/vigil.deb"
ip link set lo up
ip link add vpkg0 type veth peer name vpkg1
ip link set vpkg0 up
ip link set vpkg1 up

chroot "$r" /bin/bash -s <<'INSIDE'
set -uo pipefail
failures=0 pid=''
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
note() { echo "== $*"; }
mode() { stat -c '%U:%G %a' "$1" 2>&1; }
stop_vigild() { [ -z "$pid" ] || { kill -TERM "$pid" 2>/dev/null; wait "$pid"; }; }
trap 'stop_vigild >/dev/null 2>&1' EXIT

note "dpkg -i"
dpkg -i /tmp/vigil.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; echo "FAIL: dpkg -i"; exit 1; }
getent passwd vigil | grep -q ':/var/lib/vigil:/usr/sbin/nologin$' || fail "user vigil: $(getent passwd vigil)"
[ "$(mode /etc/vigil/vigil.conf)" = "root:vigil 640" ] || fail "vigil.conf: $(mode /etc/vigil/vigil.conf)"
[ "$(mode /etc/vigil/keystore.key)" = "root:root 600" ] || fail "keystore.key: $(mode /etc/vigil/keystore.key)"
[ "$(mode /var/lib/vigil)" = "vigil:vigil 700" ] || fail "/var/lib/vigil: $(mode /var/lib/vigil)"
[ "$(mode /var/lib/vigil/recordings)" = "vigil:vigil 700" ] || fail "recordings: $(mode /var/lib/vigil/recordings)"
enabled=$(systemctl is-enabled vigild.service 2>&1)
[ "$enabled" = disabled ] || fail "vigild.service is '$enabled' after install, not disabled"

# What systemd does for the unit, from the unit's own lines.
unit=/lib/systemd/system/vigild.service
val() { sed -n "s/^$1=//p" "$unit"; }
user=$(val User) group=$(val Group) exec=$(val ExecStart)
caps=$(val AmbientCapabilities | tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd, -)
creds=/run/credentials/vigild.service
keyenv=$(val Environment | sed "s|%d|$creds|")
cred=$(val LoadCredential)
[ "$user" = vigil ] && [ "$group" = vigil ] && [ -n "$caps" ] && [ "$keyenv" = "VIGIL_KEYSTORE_KEY_FILE=$creds/keystore.key" ] &&
	[ "$cred" = keystore.key:/etc/vigil/keystore.key ] ||
	fail "unit: User=$user Group=$group caps=$caps Environment=$keyenv LoadCredential=$cred"
install -d -o vigil -g vigil -m "$(val RuntimeDirectoryMode)" /run/vigil
install -d -o vigil -g vigil -m "$(val LogsDirectoryMode)" /var/log/vigil
install -d -o vigil -m 0500 "$creds"
install -o vigil -m 0400 "${cred#*:}" "$creds/${cred%%:*}"
# The port of this namespace, and a table for 1,000 cameras (100,000 take
# 2.3 GiB).
sed -i 's/^Device = .*/Device = net_af_packet0,iface=vpkg0/; s/^;MaxCameras = 100000/MaxCameras = 1000/' /etc/vigil/vigil.conf

start_vigild() {
	rm -f /run/vigil/admin.sock
	# shellcheck disable=SC2086 # ExecStart is words
	setpriv --reuid="$user" --regid="$group" --init-groups --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" \
		--bounding-set=-all,"$caps" --no-new-privs env "$keyenv" $exec >/tmp/summary.json 2>/tmp/vigild.log &
	pid=$!
	for _ in $(seq 100); do
		[ -S /run/vigil/admin.sock ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	fail "vigild as the unit runs it did not open its admin socket: $(cat /tmp/vigild.log)"
	return 1
}
note "vigild as user vigil with $caps"
if start_vigild; then
	[ "$(mode /run/vigil/admin.sock)" = "vigil:vigil 660" ] || fail "admin.sock: $(mode /run/vigil/admin.sock)"
	useradd -M -N -g nogroup -G vigil -s /usr/sbin/nologin vigiltestadm
	as_admin() { setpriv --reuid=vigiltestadm --regid=nogroup --init-groups vigilctl "$@" 2>&1; }
	out=$(as_admin camera add lobby --ssrc 7 --codec h264 --generate) || fail "vigilctl camera add: $out"
	grep -q '^camera lobby added' <<<"$out" || fail "vigilctl camera add said: $out"
	out=$(as_admin cameras) || fail "vigilctl cameras: $out"
	grep -q '^lobby ' <<<"$out" || fail "vigilctl cameras lists no lobby: $out"
	out=$(as_admin config check) || fail "vigilctl config check on the installed configuration: $out"
	rc=0
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups vigilctl cameras 2>&1) || rc=$?
	[ "$rc" = 2 ] && grep -q 'Permission denied' <<<"$out" || fail "nobody's vigilctl (exit $rc): $out"
	stop_vigild && pid='' || fail "vigild exited $? at SIGTERM: $(tail -n 3 /tmp/vigild.log)"
	grep -q '"lobby"' /tmp/summary.json || fail "no summary with lobby: $(head -c 200 /tmp/summary.json)"
	[ "$(mode /var/lib/vigil/keystore)" = "vigil:vigil 600" ] || fail "keystore: $(mode /var/lib/vigil/keystore)"
	grep -q '"command":"camera add","camera":"lobby","result":"ok"' /var/log/vigil/audit.log ||
		fail "audit log: $(cat /var/log/vigil/audit.log)"
	# The camera comes back from the keystore, opened with the credential.
	if start_vigild; then
		out=$(as_admin cameras) || fail "vigilctl cameras after a restart: $out"
		grep -q '^lobby ' <<<"$out" || fail "lobby is not back from the keystore: $out"
		stop_vigild && pid='' || fail "vigild exited $? at SIGTERM: $(tail -n 3 /tmp/vigild.log)"
	fi
	grep -q 'keystore /var/lib/vigil/keystore: 1 camera' /tmp/vigild.log || fail "restart: $(head -n 3 /tmp/vigild.log)"
fi

note "upgrade over a configuration that is vigil's own, then purge"
chown vigil:vigil /etc/vigil/vigil.conf
chmod 600 /etc/vigil/vigil.conf
dpkg -i /tmp/vigil.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i over itself"; }
[ "$(mode /etc/vigil/vigil.conf)" = "vigil:vigil 600" ] || fail "an upgrade changed vigil.conf: $(mode /etc/vigil/vigil.conf)"
dpkg --purge vigil >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg --purge"; }
[ ! -e /etc/vigil/vigil.conf ] && [ ! -e /lib/systemd/system/vigild.service ] && [ ! -e /usr/sbin/vigild ] ||
	fail "purge left the package's files"
# The keystore outlives the package, and so does the key that opens it.
[ -e /var/lib/vigil/keystore ] && [ -e /etc/vigil/keystore.key ] || fail "purge took the keystore or its key"
exit $((failures > 0))
INSIDE
