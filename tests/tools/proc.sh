# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourceable helpers for scripts that run vigild and its companions (tcpdump,
# cameras) in the background: start them, wait for a line in their logs,
# stop them with a signal and a deadline, and stop whatever still runs on exit.
#
#   source tests/tools/proc.sh
#   trap 'proc_stop_all' EXIT
#   proc_start "$out" "$log" "$VIGILD_READY" 30 "$vigild" --config "$conf" || ...
#   vigild_pid=$PROC_PID
#   ...
#   proc_stop "$vigild_pid" INT 60      # its exit status
#
# Used by tests/integration/*.sh (through testlib.sh) and scripts/demo.sh.

# What vigild prints on stderr once its ports are up and it takes packets.
# shellcheck disable=SC2034 # for the scripts that source this file
VIGILD_READY='running until|ready'

# Background processes started or tracked here that are still running.
declare -gA _proc_tracked=()

# proc_track PID: proc_stop_all will stop PID.
proc_track() { _proc_tracked[$1]=1; }

# stop_process PID SIG SECS: sends SIG to PID and waits up to SECS for it to
# exit, then kills it. Returns its exit status. PID must be a child of this shell.
stop_process() {
	local pid=$1 sig=$2 secs=$3 i
	kill -s "$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "process $pid did not exit ${secs}s after SIG$sig; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid"
}

# proc_stop PID SIG SECS: stop_process, and forget PID.
proc_stop() {
	unset '_proc_tracked[$1]'
	stop_process "$@"
}

# proc_forget PID: PID ended (the caller waited for it); nothing to stop.
proc_forget() { unset '_proc_tracked[$1]'; }

# proc_stop_all: stops every tracked process with SIGTERM (SIGKILL after
# 10 s); for EXIT traps. Prints nothing.
proc_stop_all() {
	local pid
	for pid in "${!_proc_tracked[@]}"; do
		proc_stop "$pid" TERM 10 >/dev/null 2>&1
	done
	return 0
}

# wait_for_log FILE PATTERN PID SECS: waits until FILE matches the extended
# regex PATTERN. Returns 0 then, 1 as soon as PID is gone, 2 after SECS
# without the pattern (the caller decides whether that matters).
wait_for_log() {
	local file=$1 pattern=$2 pid=$3 secs=$4 i
	for ((i = 0; i < secs * 10; i++)); do
		grep -qE "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 2
}

# proc_start OUT LOG PATTERN SECS CMD...: runs CMD in the background with
# stdout to OUT and stderr to LOG, tracks it, and sets PROC_PID; then
# wait_for_log LOG PATTERN for up to SECS and returns what that returns.
# CMD runs as a simple command, not in a subshell, so PROC_PID is the
# command itself and a signal sent to it is not lost in between.
proc_start() {
	local out=$1 log=$2 pattern=$3 secs=$4
	shift 4
	# Emptied here, not only by the redirections below: those happen in the
	# child after the fork, and a reused LOG would otherwise still hold the
	# last run's PATTERN when wait_for_log first reads it.
	: >"$log"
	"$@" >"$out" 2>"$log" &
	PROC_PID=$!
	proc_track "$PROC_PID"
	wait_for_log "$log" "$pattern" "$PROC_PID" "$secs"
}
