#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian package (debian/): built from this checkout's tracked files as
# they are in the working tree (uncommitted changes included), the way a
# user builds it (dpkg-buildpackage, nocheck: the suites run here anyway);
# lintian finds no error or warning that debian/vigil.lintian-overrides
# does not explain; the binaries are built for the baseline CPU; unpacked
# with dpkg -x into a clean directory, the installed vigild --version and
# vigilctl --help run; the unit, the man pages, the configuration (mode
# 0640), sysusers and tmpfiles are there, and systemd-sysusers and
# systemd-tmpfiles make the user and the directories from them in that
# root; systemd-analyze verify passes on the unit there, and fails on
# broken copies of it. Then the package is installed in a copy-on-write
# view of this system, where vigild runs as its unit would run it
# (tests/tools/deb_install.sh).
#
# usage: package.sh SOURCE_DIR [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip (a missing tool; under CI=true that fails).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${1:?usage: package.sh SOURCE_DIR [SCRATCH_DIR]} scratch=${2:-}

# shellcheck source=../tools/testlib.sh
source "$here/../tools/testlib.sh"

# scripts/setup.sh installs all of these: in CI a missing one is a failure.
need() {
	local why=$1
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $why, and CI=true: scripts/setup.sh should have installed it" >&2
		exit 1
	fi
	skip "$why"
}
for t in git dpkg-buildpackage dh lintian dpkg-deb systemd-analyze systemd-sysusers systemd-tmpfiles man jq \
	unshare ip setpriv useradd; do
	command -v "$t" >/dev/null || need "$t is not installed"
done
# systemd-tmpfiles gives the directories to the user vigil in the root.
[ "$(id -u)" = 0 ] || need "needs root (systemd-tmpfiles chowns to the user vigil)"
git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1 || need "$src is not a git checkout"
test_begin package "$scratch"

# ---- build -------------------------------------------------------------------
# Tracked files only (no build directories), as the working tree has them;
# one deleted but not yet staged is left out.
note "copying the tracked files of $src"
mkdir -p "$work/src/vigil"
git -C "$src" ls-files -z |
	while IFS= read -r -d '' f; do
		if [ -e "$src/$f" ] || [ -L "$src/$f" ]; then printf '%s\0' "$f"; fi
	done |
	tar -C "$src" --null -T - -cf - | tar -C "$work/src/vigil" -xf -
[ -x "$work/src/vigil/debian/rules" ] || { fail "debian/rules is not in the copy (tracked?)"; test_finish package; }

note "dpkg-buildpackage (nocheck, parallel=2)"
start=$SECONDS
if ! (cd "$work/src/vigil" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log" >&2
	fail "dpkg-buildpackage failed (log: $work/build.log)"
	test_finish package
fi
note "built in $((SECONDS - start)) s"
debs=("$work"/src/vigil_*.deb)
[ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || { fail "not one vigil_*.deb: ${debs[*]}"; test_finish package; }
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
note "$(basename "$deb"), version $version"

# Baseline CPU: the package's compile commands carry DPDK's -march (corei7
# on Debian amd64), never -march=native.
cc_json=$(echo "$work"/src/vigil/obj-*/compile_commands.json)
if [ ! -s "$cc_json" ]; then
	fail "no compile_commands.json in the package's build directory"
elif jq -e 'map(.command) | any(test("-march=native"))' "$cc_json" >/dev/null; then
	fail "the package was built with -march=native: $(jq -r 'map(select(.command | test("-march=native")))[0].file' "$cc_json")"
elif ! jq -e 'map(select(.file | test("vigild.c$"))) | .[0].command | test("-march=")' "$cc_json" >/dev/null; then
	fail "vigild.c compiled with no -march at all (DPDK's pkg-config should give one)"
fi

# ---- lintian -----------------------------------------------------------------
note "lintian"
rc=0
lintian --fail-on error,warning --display-info "$deb" >"$work/lintian.log" 2>&1 || rc=$?
grep -v 'running with root privileges' "$work/lintian.log" || true
if [ "$rc" != 0 ] || grep -q '^[EW]: ' "$work/lintian.log"; then
	fail "lintian: an error or a warning not overridden (exit $rc)"
else
	note "lintian: no error or warning"
fi
# The overrides file is read: the configuration's mode is one of them.
# (Shown, an overridden warning counts for --fail-on: a run of its own.)
lintian --show-overrides "$deb" >"$work/lintian-overrides.log" 2>&1 || true
grep '^O: ' "$work/lintian-overrides.log" || true
grep -q '^O: vigil: non-standard-file-perm 0640 != 0644 \[etc/vigil/vigil.conf\]' "$work/lintian-overrides.log" ||
	fail "lintian did not apply debian/vigil.lintian-overrides to etc/vigil/vigil.conf"

# ---- contents ----------------------------------------------------------------
dpkg-deb -c "$deb" >"$work/contents"
# has MODE OWNER PATH: a line of dpkg-deb -c for PATH, with that mode and owner.
has() {
	awk -v m="$1" -v o="$2" -v p="./$3" '$1 == m && $2 == o && $NF == p { found = 1 } END { exit !found }' \
		"$work/contents" || fail "the package lacks $3 as $1 $2: $(grep -F "./$3" "$work/contents" || echo absent)"
}
has -rwxr-xr-x root/root usr/sbin/vigild
has -rwxr-xr-x root/root usr/bin/vigilctl
has -rwxr-xr-x root/root usr/bin/vigil-open
has -rw-r--r-- root/root lib/systemd/system/vigild.service
has -rw-r--r-- root/root usr/share/man/man8/vigild.8.gz
has -rw-r--r-- root/root usr/share/man/man8/vigilctl.8.gz
has -rw-r--r-- root/root usr/share/man/man1/vigil-open.1.gz
# root:vigil once postinst has run (the group does not exist when it is built).
has -rw-r----- root/root etc/vigil/vigil.conf
has -rw-r--r-- root/root usr/lib/sysusers.d/vigil.conf
has -rw-r--r-- root/root usr/lib/tmpfiles.d/vigil.conf
# The web player, bundled at build time, and its published hash.
for f in index.html player.css player.js player.js.sri; do
	has -rw-r--r-- root/root "usr/share/vigil/player/$f"
done
for f in vigil-cam vigil-stream; do
	! grep -q "/$f\$" "$work/contents" || fail "the package holds $f, a test tool"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/vigil/vigil.conf || fail "/etc/vigil/vigil.conf is not a conffile"
dpkg-deb -I "$deb" postinst >"$work/postinst"
grep -q 'systemd-sysusers.* vigil.conf' "$work/postinst" || fail "postinst does not make the user (systemd-sysusers)"
grep -q 'chown root:vigil /etc/vigil/vigil.conf' "$work/postinst" || fail "postinst does not give the configuration to group vigil"
grep -q 'vigilctl keygen keystore /etc/vigil/keystore.key' "$work/postinst" || fail "postinst makes no keystore key"
! grep -q "deb-systemd-invoke.*start" "$work/postinst" || fail "postinst starts vigild before it is configured"
# DPDK's drivers are plugins that ld.so never sees: named by hand.
depends=$(dpkg-deb -f "$deb" Depends | sed 's/[,|]/\n/g' | awk '{ print $1 }')
for d in librte-mempool-ring23 librte-net-af-packet23 librte-net-pcap23; do
	grep -qx "$d" <<<"$depends" || fail "Depends lacks $d: $(dpkg-deb -f "$deb" Depends)"
done

# ---- unpacked: the programs run --------------------------------------------------
root=$work/root
dpkg -x "$deb" "$root"
out=$("$root/usr/sbin/vigild" --version 2>&1) || fail "vigild --version exited $?: $out"
note "installed vigild --version: $out"
[ "$out" = "vigild $version" ] || fail "vigild --version: '$out', want 'vigild $version' (meson.build and debian/changelog agree?)"
out=$("$root/usr/bin/vigilctl" --version 2>&1) || fail "vigilctl --version exited $?: $out"
[ "$out" = "vigilctl $version" ] || fail "vigilctl --version: '$out', want 'vigilctl $version'"
out=$("$root/usr/bin/vigilctl" --help 2>&1) || fail "vigilctl --help exited $?"
for want in 'usage: vigilctl' 'vigilctl camera add NAME' 'vigilctl keygen keystore FILE' '--version'; do
	grep -qF -- "$want" <<<"$out" || fail "vigilctl --help lacks '$want': $(head -n 3 <<<"$out")"
done
out=$("$root/usr/bin/vigil-open" --help 2>&1) || fail "vigil-open --help exited $?"
grep -q '^usage: vigil-open --keygen' <<<"$out" || fail "vigil-open --help: $(head -n 1 <<<"$out")"
for b in usr/sbin/vigild usr/bin/vigilctl usr/bin/vigil-open; do
	! ldd "$root/$b" | grep 'not found' || fail "$b: a library is missing"
done
for page in man8/vigild.8 man8/vigilctl.8 man1/vigil-open.1; do
	out=$(MANWIDTH=80 man -l "$root/usr/share/man/$page.gz" 2>&1 | col -b)
	grep -q '^NAME' <<<"$out" && grep -q '^EXIT STATUS' <<<"$out" || fail "man $page: no NAME or EXIT STATUS"
	case $page in
	*vigild.8) want='KeystoreKeyFile' ;;
	*vigilctl.8) want='camera rotate' ;;
	*) want='--partial' ;;
	esac
	grep -qF -- "$want" <<<"$out" || fail "man $page does not mention $want"
done
[ "sha384-$(openssl dgst -sha384 -binary "$root/usr/share/vigil/player/player.js" | base64 -w0)" = \
	"$(cat "$root/usr/share/vigil/player/player.js.sri")" ] || fail "player.js.sri is not player.js's SHA-384"
grep -q '^Device = ' "$root/etc/vigil/vigil.conf" && ! grep -q '^Key *=' "$root/etc/vigil/vigil.conf" ||
	fail "etc/vigil/vigil.conf: no Device, or a camera Key in a file group vigil reads"

# ---- the user and the directories --------------------------------------------------
note "systemd-sysusers and systemd-tmpfiles in the unpacked root"
systemd-sysusers --root="$root" >"$work/sysusers.log" 2>&1 || fail "systemd-sysusers: $(cat "$work/sysusers.log")"
IFS=: read -r _ _ uid gid _ home shell < <(grep '^vigil:' "$root/etc/passwd" || true)
[ -n "${uid:-}" ] || fail "systemd-sysusers made no user vigil: $(cat "$work/sysusers.log")"
note "user vigil: uid ${uid:-} gid ${gid:-}, home ${home:-}"
[ "${home:-}" = /var/lib/vigil ] && [ "${shell:-}" = /usr/sbin/nologin ] || fail "user vigil: home '${home:-}', shell '${shell:-}'"
grep -q "^vigil:x:${gid:-none}:" "$root/etc/group" || fail "no group vigil with the user's gid ${gid:-}"
systemd-tmpfiles --root="$root" --create >"$work/tmpfiles.log" 2>&1 || fail "systemd-tmpfiles: $(cat "$work/tmpfiles.log")"
for d in var/lib/vigil var/lib/vigil/recordings; do
	got=$(stat -c '%a %u:%g' "$root/$d" 2>&1 || true)
	[ "$got" = "700 ${uid:-}:${gid:-}" ] || fail "$d: '$got', want 700 owned by vigil (${uid:-}:${gid:-})"
done

# ---- systemd-analyze verify ----------------------------------------------------------
# PID 1 is not systemd here: the unit is verified in the unpacked root
# (--root), where ExecStart's vigild is. Of the system the package goes
# on, the root gets what verify looks for: sysinit.target (the default
# dependencies) and /bin/kill (ExecReload); the man pages of
# Documentation= are looked up with man in the root's MANPATH.
note "systemd-analyze verify"
cp /lib/systemd/system/sysinit.target "$root/lib/systemd/system/"
mkdir -p "$root/bin"
cp /bin/kill "$root/bin/kill"
units=$root/lib/systemd/system
verify() { MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" "/lib/systemd/system/$1" 2>&1; }
rc=0
out=$(verify vigild.service) || rc=$?
[ "$rc" = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify vigild.service (exit $rc): $out"
# A check that passes whatever the unit holds proves nothing: broken copies
# must fail it (a misspelt value, a misspelt key, a program that is not there).
broken() {
	local name=$1 edit=$2 want=$3 rc=0 out
	sed "$edit" "$units/vigild.service" >"$units/$name"
	out=$(verify "$name") || rc=$?
	rm -f "$units/$name"
	[ "$rc" != 0 ] || [ -n "$out" ] || fail "verify passed a broken unit ($edit)"
	grep -q "$want" <<<"$out" || fail "verify of a broken unit ($edit) does not say '$want': $out"
}
broken broken-type.service 's/^Type=notify$/Type=notfy/' 'Failed to parse service type'
broken broken-key.service 's/^ProtectSystem=/ProtectSytem=/' "Unknown key 'ProtectSytem'"
broken broken-exec.service 's|/usr/sbin/vigild|/usr/sbin/vigild-missing|' 'is not executable'
# The sandboxing as systemd rates it (0 best, 10 worst; 2.9 when written):
# a unit that loses much of it fails here.
rc=0
out=$(systemd-analyze security --offline=yes --root="$root" --threshold=35 vigild.service 2>&1) || rc=$?
grep 'Overall exposure' <<<"$out" || fail "systemd-analyze security printed no exposure level"
[ "$rc" = 0 ] || fail "systemd-analyze security: exposure over 3.5: $(grep '✗' <<<"$out")"

# ---- installed ----------------------------------------------------------------------
note "dpkg -i, vigild as its unit runs it, upgrade, purge: in a copy-on-write view of this system"
rc=0
unshare -m -n --propagation private bash "$here/../tools/deb_install.sh" "$deb" "$work/overlay" \
	>"$work/install.log" 2>&1 || rc=$?
cat "$work/install.log"
case $rc in
0) ;;
77) if [ "${CI:-}" = true ]; then
	fail "cannot install the package in a throwaway root, and CI=true: $(tail -n 1 "$work/install.log")"
    else
	echo "SKIPPED (not in CI): the install checks: $(tail -n 1 "$work/install.log")"
    fi ;;
*) fail "the installed package (exit $rc): $(grep -c '^FAIL' "$work/install.log") check(s) failed" ;;
esac

test_finish package
