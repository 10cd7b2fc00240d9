# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Sourceable helpers (after testlib.sh) for the power-cut filesystem,
# powercut_fs.py: a FUSE filesystem in memory that keeps only what was
# fsync'd (file data) or whose directory was fsync'd (names) when the power
# is cut. See powercut_fs.py for what it models.
#
#   require_powercut                      # $PYTHON with fusepy, /dev/fuse, root
#   powercut_start MNT IMAGE LOG [OPT...] # serves IMAGE (empty at first) at MNT
#   powercut_cut MNT [torn [SEED]]        # the cut; sets POWERCUT_AT (epoch s)
#   ... SIGKILL what used MNT ...
#   powercut_restart MNT IMAGE LOG [OPT...] # unmounts, serves what survived
#   powercut_stats MNT                    # counters (JSON) of the running one
#   (IMAGE.json holds the counters of the one that was cut)
#
# POWERCUT_TRACE=FILE has the filesystem log its writes and syncs there.
#
# Without FUSE the test is skipped (77), except under CI=true: there
# scripts/setup.sh installed it, and its absence is a failure.

PYTHON=${PYTHON:-/usr/bin/python3}
POWERCUT_PID='' POWERCUT_AT='' _powercut_log=/dev/null
declare -ga _powercut_mounts=()

require_powercut() {
	local why=''
	[ "$(id -u)" = 0 ] || why="needs root to mount FUSE"
	[ -n "$why" ] || [ -c /dev/fuse ] || why="no /dev/fuse"
	[ -n "$why" ] || "$PYTHON" -c 'import fusepy' 2>/dev/null || "$PYTHON" -c 'import fuse' 2>/dev/null ||
		why="$PYTHON lacks fusepy (Debian python3-fusepy)"
	[ -n "$why" ] || command -v mountpoint >/dev/null || why="mountpoint (util-linux) is missing"
	[ -z "$why" ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $why, and CI=true: scripts/setup.sh should have made it possible" >&2
		exit 1
	fi
	skip "$why"
}

# powercut_start MNT IMAGE LOG [OPT...]: mounts the filesystem at MNT (made
# if needed), from IMAGE if it exists, its stderr to LOG, with powercut_fs.py's
# options OPT (--refuse-direct); sets POWERCUT_PID. Ends the test when it does
# not mount within 10 s.
powercut_start() {
	local mnt=$1 image=$2 log=$3 i
	shift 3
	[ -z "${POWERCUT_TRACE:-}" ] || set -- "$@" --trace "$POWERCUT_TRACE"
	mkdir -p "$mnt"
	"$PYTHON" "$_testlib_dir/powercut_fs.py" --image "$image" "$@" "$mnt" 2>>"$log" &
	POWERCUT_PID=$!
	proc_track "$POWERCUT_PID"
	_powercut_log=$log
	if [[ " ${_powercut_mounts[*]} " != *" $mnt "* ]]; then
		[ ${#_powercut_mounts[@]} -gt 0 ] || test_at_exit powercut_unmount_all
		_powercut_mounts+=("$mnt")
	fi
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$POWERCUT_PID" 2>/dev/null || break
		sleep 0.05
	done
	fail "powercut_fs did not mount $mnt: $(tail -n 5 "$log")"
	exit 1
}

# powercut_cut MNT [torn [SEED]]: the power cut. The filesystem saves what
# survives and exits at once: from then on MNT answers ENOTCONN. Sets
# POWERCUT_AT to the moment of the cut (epoch seconds, as the filesystem
# saw it).
powercut_cut() {
	local mnt=$1 pid=$POWERCUT_PID i
	shift
	echo "cut $*" >"$mnt/.powercut" 2>/dev/null || true # the filesystem dies answering
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null || ! wait "$pid"; then
		fail "powercut_fs did not stop cleanly at the cut: $(tail -n 5 "$_powercut_log")"
		exit 1
	fi
	proc_forget "$pid"
	POWERCUT_AT=$(sed -n 's/^powercut: cut at \([0-9.]*\).*/\1/p' "$_powercut_log" | tail -n 1)
	[ -n "$POWERCUT_AT" ] || { fail "powercut_fs logged no cut: $(tail -n 5 "$_powercut_log")"; exit 1; }
}

# powercut_restart MNT IMAGE LOG [OPT...]: power back: unmounts the dead
# mount and serves what the cut left.
powercut_restart() {
	umount -l "$1" || { fail "cannot unmount $1"; exit 1; }
	powercut_start "$@"
}

# powercut_stats MNT: the running filesystem's counters (JSON).
powercut_stats() { cat "$1/.powercut"; }

# At exit, after every process was stopped: whatever is still mounted goes
# (lazily: a process may still hold it).
powercut_unmount_all() {
	local m
	for m in "${_powercut_mounts[@]}"; do
		umount -l "$m" 2>/dev/null
	done
	return 0
}
