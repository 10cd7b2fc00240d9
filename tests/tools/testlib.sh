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

_test_cleanup() {
	local status=$?
	set +e
	proc_stop_all
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

# test_start_vigild VIGILD CONFIG SUMMARY LOG: vigild live in the background
# (stdout to SUMMARY, stderr to LOG); sets PROC_PID. Ends the test when vigild
# exits before it is ready; without a readiness line after 30 s it warns and
# goes on. Then waits a second: af_packet is up once the port has started.
test_start_vigild() {
	local vigild=$1 config=$2 summary=$3 log=$4 rc=0
	proc_start "$summary" "$log" "$VIGILD_READY" 30 "$vigild" --config "$config" || rc=$?
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

# ---- checks ----------------------------------------------------------------------

# check_counter LABEL SUMMARY JQ_PATH EXPECTED
check_counter() {
	local label=$1 summary=$2 path=$3 want=$4 got
	got=$(jq -r "$path // \"missing\"" "$summary")
	[ "$got" = "$want" ] || fail "$label: $path = $got, want $want"
}

# check_invariant LABEL SUMMARY: every packet vigild received has exactly one outcome.
check_invariant() {
	local label=$1 summary=$2 sum rx
	rx=$(jq '.totals.rx_packets' "$summary")
	sum=$(jq '.totals | [.decrypted, .rtcp, .answered, .handshake, .malformed, .not_ip, .not_udp, .fragment,
		.not_srtp_port, .unknown_ssrc, .replayed, .auth_failed, .payload_type, .tx_failed, .handoff_full,
		.control_full] | add' "$summary")
	[ "$rx" = "$sum" ] || fail "$label: rx_packets $rx != sum of outcomes $sum"
}
