# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourceable harness for the integration tests (tests/integration/*.sh):
# meson's exit codes (0 pass, 1 fail, 77 skip), failures counted so that
# every check runs, prerequisites, a work directory that is removed only
# when the test passes, and checks shared by the tests. Sources proc.sh
# and netns.sh.
#
#   source tests/tools/testlib.sh
#   require_root "network namespaces"; require_tools ip jq; require_aesni
#   vigild=$(vigild_path "$1"); require_vigild "$vigild"
#   test_begin NAME            # work=/tmp/vigil-NAME.XXXXXX (or under SCRATCH), traps
#   ... fail "what went wrong" ...
#   test_finish NAME           # exits 1 if anything failed, else 0
#
# VIGIL_KEEP=1 keeps the work directory even when the test passes.

_testlib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/proc.sh
source "$_testlib_dir/proc.sh"
# shellcheck source=SCRIPTDIR/netns.sh
source "$_testlib_dir/netns.sh"

failures=0 work=''
_test_exit_hooks=()
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
note() { echo "== $*"; }

# ---- prerequisites -----------------------------------------------------------

require_root() { [ "$(id -u)" = 0 ] || skip "needs root ($*)"; }

require_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed"
	done
}

require_aesni() {
	if ! grep -qw aes /proc/cpuinfo || ! grep -qw pclmulqdq /proc/cpuinfo; then
		skip "CPU lacks AES-NI/PCLMUL, which AEAD_AES_256_GCM in vigild needs"
	fi
}

# vigild_path BUILD_DIR|VIGILD: prints the absolute path of vigild.
vigild_path() {
	local target=$1
	[ ! -d "$target" ] || target=$target/control/vigild
	realpath -m "$target"
}

require_vigild() { [ -x "$1" ] || { echo "FAIL: vigild not found at $1" >&2; exit 1; }; }

# ---- work directory and cleanup --------------------------------------------------

# test_begin NAME [SCRATCH_DIR]: makes the work directory and sets the traps
# that stop what still runs, remove the namespace and the work directory.
test_begin() {
	local name=$1 scratch=${2:-}
	trap _test_cleanup EXIT
	trap 'exit 130' INT TERM
	if [ -n "$scratch" ]; then
		mkdir -p "$scratch"
		work=$(mktemp -d "$scratch/$name.XXXXXX")
	else
		work=$(mktemp -d "/tmp/vigil-$name.XXXXXX")
	fi
	note "work directory $work"
}

# test_at_exit CMD: runs CMD (a function or command, no arguments) at exit,
# after every tracked process was stopped.
test_at_exit() { _test_exit_hooks+=("$1"); }

_test_cleanup() {
	local status=$? hook
	set +e
	proc_stop_all
	for hook in "${_test_exit_hooks[@]}"; do
		"$hook"
	done
	vigil_netns_destroy
	if [ -n "$work" ]; then
		if [ "$status" = 0 ] && [ "${VIGIL_KEEP:-0}" != 1 ]; then
			rm -rf "$work"
		else
			echo "work directory kept: $work"
		fi
	fi
	exit "$status"
}

# test_finish NAME: the verdict.
test_finish() {
	if [ "$failures" -gt 0 ]; then
		echo "$1: $failures check(s) failed"
		exit 1
	fi
	echo "$1: all checks passed"
	exit 0
}

# ---- background processes ----------------------------------------------------------

# test_start_capture LOG CMD...: starts CMD, a tcpdump (perhaps under
# `ip netns exec`), with stderr to LOG; sets PROC_PID. Ends the test when
# tcpdump does not say it listens within 10 s.
test_start_capture() {
	local log=$1
	shift
	proc_start /dev/null "$log" "listening on" 10 "$@" ||
		{ fail "tcpdump did not start: $(cat "$log")"; exit 1; }
}

# test_start_vigild VIGILD CONFIG SUMMARY LOG [ARGS...]: vigild live in the
# background (stdout to SUMMARY, stderr to LOG, ARGS after --config);
# sets PROC_PID. Ends the test when vigild
# exits before it is ready; without a readiness line after 30 s it warns and
# goes on. Then waits a second: af_packet is up once the port has started.
test_start_vigild() {
	local vigild=$1 config=$2 summary=$3 log=$4 rc=0
	shift 4
	proc_start "$summary" "$log" "$VIGILD_READY" 30 "$vigild" --config "$config" "$@" || rc=$?
	case $rc in
	0) ;;
	1) wait "$PROC_PID" || rc=$?
	   proc_forget "$PROC_PID"
	   fail "vigild exited ($rc) before it was ready; log:"
	   cat "$log" >&2
	   exit 1 ;;
	*) echo "warning: vigild printed no readiness line in 30 s; going on" >&2 ;;
	esac
	sleep 1
}

# until_ok SECS CMD...: runs CMD (a function or command, its output
# dropped) every 0.1 s until it succeeds: 0 then, 1 after SECS. CMD runs
# anew each time, so a check goes in a function: `until_ok 5 test "$(f)"
# = x` would compare f's output of the first call only.
until_ok() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# etcd_start DIR PORT CLIENT_URLS [ARG...]: a one-member etcd (Debian's
# etcd-server) with its data and log in DIR, clients on CLIENT_URLS (the
# first one advertised, and asked for /health), peers on 127.0.0.1:PORT;
# tracked, so it stops with the test. Ends the test when it is not healthy
# within 10 s.
etcd_start() {
	local dir=$1 port=$2 urls=$3 first
	shift 3
	first=${urls%%,*}
	etcd --name t --data-dir "$dir/etcd" --listen-client-urls "$urls" --advertise-client-urls "$first" \
		--listen-peer-urls "http://127.0.0.1:$port" --initial-advertise-peer-urls "http://127.0.0.1:$port" \
		--initial-cluster "t=http://127.0.0.1:$port" "$@" >"$dir/etcd.log" 2>&1 &
	proc_track $!
	until_ok 10 _etcd_healthy "$first" || { fail "etcd did not start: $(tail -n 3 "$dir/etcd.log")"; exit 1; }
}
_etcd_healthy() { curl -sf "$1/health" | grep -q '"health":"true"'; }

# ---- vigild nodes and the object store (the cluster and storage tests) -------------------

declare -gA node_log
# node_start NAME DIR LOG [CMD...]: vigild ($vigild) on DIR/vigil.conf, its
# admin socket and audit log in DIR, its summary to DIR/summary.json, its
# stderr to DIR/LOG (node_log[NAME] then), under CMD (`ip netns exec NS`, or
# nothing); its PID in pid_NAME. Ends the test when it is not ready in 40 s.
node_start() {
	local name=$1 dir=$2 log=$3
	shift 3
	node_log[$name]=$dir/$log
	proc_start "$dir/summary.json" "$dir/$log" "$VIGILD_READY" 40 "$@" "$vigild" --config "$dir/vigil.conf" \
		--admin "$dir/admin.sock" --audit "$dir/audit.log" ||
		{ fail "node $name did not start: $(tail -n 5 "$dir/$log")"; exit 1; }
	printf -v "pid_$name" %s "$PROC_PID"
}

# s3_start [NS IP]: the Ceph RGW fixture (ceph_s3.sh) in ceph_dir=$work/ceph,
# on ports of its own so that another cluster (a benchmark, another run)
# does not stand in the way, run in network namespace NS and bound to IP
# there (else here, on 127.0.0.1); stopped at exit, by its PIDs. Exports
# its S3_ENDPOINT and keys (and the ports, for ceph_s3.sh rgw-stop and
# rgw-start), and writes the keys to $work/credentials for [Storage]'s
# CredentialsFile. Then `s3 ARGS...` is tests/tools/s3_client.py (in NS).
s3_start() {
	local base=$((20000 + RANDOM % 160 * 250))
	_s3_ns=${1:-}
	export BIND_IP=${2:-127.0.0.1} MON_PORT=$base RGW_PORT=$((base + 220))
	ceph_dir=$work/ceph
	test_at_exit _s3_stop
	_s3_in "$_testlib_dir/ceph_s3.sh" start "$ceph_dir" 2>"$work/ceph-start.log" ||
		{ fail "the Ceph fixture did not start: $(tail -n 5 "$work/ceph-start.log")"; exit 1; }
	eval "$("$_testlib_dir/ceph_s3.sh" env "$ceph_dir")"
	(umask 077 && printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AWS_ACCESS_KEY_ID" \
		"$AWS_SECRET_ACCESS_KEY" >"$work/credentials")
}
_s3_in() { if [ -n "$_s3_ns" ]; then ip netns exec "$_s3_ns" "$@"; else "$@"; fi; }
_s3_stop() { "$_testlib_dir/ceph_s3.sh" stop "$ceph_dir" >/dev/null 2>&1 || true; }
s3() { _s3_in "${PYTHON:-python3}" "$_testlib_dir/s3_client.py" "$@"; }

# ---- configuration ------------------------------------------------------------------

# conf_ingest CONF 'Key = value'...: sets each key in CONF's [Ingest]: the
# key's line, if it has one, goes; the given lines come right after the
# header (vigil-cam writes the configurations the tests start from).
conf_ingest() {
	local conf=$1
	shift
	"${PYTHON:-python3}" - "$conf" "$@" <<'PY'
import sys
path, sets = sys.argv[1], sys.argv[2:]
lines = open(path).read().split("\n")
keys = {s.split("=")[0].strip() for s in sets}
start = lines.index("[Ingest]") + 1
end = next((k for k in range(start, len(lines)) if lines[k].startswith("[")), len(lines))
lines[start:end] = sets + [l for l in lines[start:end] if l.split("=")[0].strip() not in keys]
open(path, "w").write("\n".join(lines))
PY
}

# ---- checks ----------------------------------------------------------------------
# Each check fails, naming what is missing, when there is nothing to compare
# (no summary, an empty or non-JSON one, a counter it lacks, an empty expected
# value): an empty string never equals an empty string here.

# check_summary LABEL SUMMARY: SUMMARY exists and holds one JSON object.
check_summary() {
	local label=$1 summary=$2
	if [ ! -s "$summary" ]; then
		fail "$label: no summary: $summary is missing or empty"
		return 1
	fi
	if [ "$(jq -s 'length == 1 and (.[0] | type) == "object"' "$summary" 2>/dev/null)" != true ]; then
		fail "$label: $summary is not one JSON object: $(head -c 200 "$summary")"
		return 1
	fi
}

# check_counter LABEL SUMMARY JQ_PATH EXPECTED: the value at JQ_PATH (null or
# absent: "missing") is EXPECTED, which must not be empty.
# frames_in_order WANT GOT: every hash in GOT (one a line) is in WANT, in
# WANT's order: a recording of WANT with some frames left out, none made up
# or out of place.
frames_in_order() {
	awk 'BEGIN { n = 0; i = 0 } NR == FNR { want[n++] = $0; next }
	     { while (i < n && want[i] != $0) i++; if (i == n) exit 1; i++ }' "$1" "$2"
}

check_counter() {
	local label=$1 summary=$2 path=$3 want=$4 got
	if [ -z "$want" ]; then
		fail "$label: $path: the expected value is empty (whatever should have given it gave nothing)"
		return
	fi
	check_summary "$label" "$summary" || return
	got=$(jq -r "[$path] | if length == 1 and .[0] != null then .[0] else \"missing\" end" "$summary" 2>&1)
	[ "$got" = "$want" ] || fail "$label: $path = $got, want $want"
}

# The packet outcomes, from the counters' own list (proto/counters.h):
# decrypted, rtcp, answered, handshake and every packet drop reason.
_testlib_outcomes() {
	local h=$_testlib_dir/../../proto/counters.h drops outcomes
	drops=$(sed -n '/^#define VIGIL_FOREACH_PKT_DROP/,/^$/s/^[[:space:]]*X(\([a-z_]*\),.*/\1/p' "$h" 2>/dev/null)
	outcomes=$(sed -n '/^#define VIGIL_FOREACH_PKT_OUTCOME/,/^$/s/^[[:space:]]*X(\([a-z_]*\),.*/\1/p' "$h" 2>/dev/null)
	[ "$(echo "$drops" | wc -w)" -ge 5 ] && [ "$(echo "$outcomes" | wc -w)" -ge 3 ] || return 1
	echo decrypted $outcomes $drops
}

# check_invariant LABEL SUMMARY: every packet vigild received has exactly one
# outcome; fails on a missing summary or a missing (non-numeric) counter.
check_invariant() {
	local label=$1 summary=$2 outcomes missing rx sum
	check_summary "$label" "$summary" || return
	if ! outcomes=$(_testlib_outcomes); then
		fail "$label: cannot read the packet outcomes from proto/counters.h"
		return
	fi
	# shellcheck disable=SC2086 # one argument per outcome
	missing=$(jq -r '.totals as $t | $ARGS.positional[] | select(($t[.] | type) != "number")' \
		"$summary" --args rx_packets $outcomes)
	if [ -n "$missing" ]; then
		fail "$label: .totals lacks counter(s): $(echo $missing)"
		return
	fi
	rx=$(jq '.totals.rx_packets' "$summary")
	# shellcheck disable=SC2086
	sum=$(jq '.totals as $t | [$ARGS.positional[] | $t[.]] | add' "$summary" --args $outcomes)
	[ -n "$rx" ] && [ "$rx" = "$sum" ] || fail "$label: rx_packets $rx != sum of outcomes $sum"
}
