#!/bin/bash
# SPDX-License-Identifier: MIT
# The power-cut filesystem (tests/tools/powercut_fs.py) keeps what a disk
# keeps, and nothing more: data written without fsync is lost at a cut,
# data fsync'd (or fdatasync'd) is kept; a name (create, rename) survives
# only once its directory was fsync'd; a "torn" cut keeps a prefix of the
# unsynced writes, perhaps with zeros after it; after a cut nothing more
# reaches it. The crash test builds on this.
#
# usage: powercut_fs.sh [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip (no FUSE; under CI=true that fails).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tools/testlib.sh
source "$here/../tools/testlib.sh"
# shellcheck source=../tools/powercut.sh
source "$here/../tools/powercut.sh"
require_powercut
test_begin powercut_fs "${1:-}"
m=$work/mnt

# sync [-d] PATH...: fsync (fdatasync with -d) each PATH, a file or a folder.
sync_paths() {
	"$PYTHON" - "$@" <<'PY'
import os, sys
args = sys.argv[1:]
data = args[:1] == ["-d"]
for p in args[data:]:
    fd = os.open(p, os.O_RDONLY)
    (os.fdatasync if data else os.fsync)(fd)
    os.close(fd)
PY
}

# expect LABEL PATH CONTENT|absent
expect() {
	local label=$1 path=$2 want=$3 got
	if [ "$want" = absent ]; then
		[ ! -e "$path" ] || fail "$label: $path survived the cut: '$(head -c 64 "$path")'"
	elif [ ! -f "$path" ]; then
		fail "$label: $path is gone, want '$want'"
	else
		got=$(cat "$path")
		[ "$got" = "$want" ] || fail "$label: $path holds '$got', want '$want'"
	fi
}

# ---- a plain cut -----------------------------------------------------------------
powercut_start "$m" "$work/image" "$work/fs.log"
mkdir "$m/d"
sync_paths "$m" # d's name durable
printf kept >"$m/d/kept"
printf dkept >"$m/d/dkept"
printf lost >"$m/d/lost"
sync_paths "$m/d/kept"
sync_paths -d "$m/d/dkept"
sync_paths "$m/d" # the three names durable, two with their data
printf synced >"$m/d/moved"
sync_paths "$m/d/moved" "$m/d"
mv "$m/d/moved" "$m/d/moved2"
sync_paths "$m/d" # this rename is durable
mkdir "$m/e"       # its parent is never synced again
printf x >"$m/e/x"
sync_paths "$m/e/x" "$m/e"
# Not durable from here on:
printf nodir >"$m/d/nodir"
sync_paths "$m/d/nodir"       # data synced, its name never
mv "$m/d/kept" "$m/d/renamed" # the old name comes back
printf more >>"$m/d/dkept"    # appended
stats=$(powercut_stats "$m")
[ "$(echo "$stats" | jq -c '[.fsync, .fdatasync, .fsyncdir]')" = "[4,1,5]" ] ||
	fail "want 4 fsync, 1 fdatasync and 5 fsyncdir to reach the filesystem: $stats"
powercut_cut "$m"
# After the cut nothing reaches it.
if { printf late >"$m/d/late"; } 2>/dev/null; then
	fail "a write after the cut succeeded"
fi
powercut_restart "$m" "$work/image" "$work/fs.log"
expect "fsync'd, then renamed without syncing the folder" "$m/d/kept" kept
expect "the rename without a folder sync" "$m/d/renamed" absent
expect "fdatasync'd, then appended" "$m/d/dkept" dkept
expect "named in a synced folder, never fsync'd" "$m/d/lost" ''
expect "fsync'd, its name never synced" "$m/d/nodir" absent
expect "renamed, folder synced" "$m/d/moved2" synced
expect "renamed, folder synced: the old name" "$m/d/moved" absent
expect "after the cut" "$m/d/late" absent
[ ! -e "$m/e" ] || fail "a folder whose parent was never synced survived the cut"
[ "$(ls -A "$m/d" | sort | tr '\n' ' ')" = "dkept kept lost moved2 " ] ||
	fail "after the cut d holds: $(ls -A "$m/d" | tr '\n' ' ')"

# ---- a torn cut: a prefix of the unsynced writes, maybe zeros after it -------------
printf 0123456789 >"$m/d/torn"
sync_paths "$m/d/torn" "$m/d"
for c in a b c d e f g h i j; do printf %s "$c" >>"$m/d/torn"; done
[ "$(cat "$m/d/torn")" = 0123456789abcdefghij ] || fail "the torn file before the cut: $(cat "$m/d/torn")"
powercut_cut "$m" torn "$RANDOM"
powercut_restart "$m" "$work/image" "$work/fs.log"
got=$(od -An -c -v "$m/d/torn" | tr -d ' \n')
note "torn cut kept: $got"
re='^0123456789(a(b(c(d(e(f(g(h(i(j)?)?)?)?)?)?)?)?)?)?(\\0)*$' # \0: od's zero byte
[[ $got =~ $re ]] ||
	fail "a torn cut left '$got': not the synced data, then a prefix of what followed, then zeros"
[ "$(stat -c %s "$m/d/torn")" -le 20 ] || fail "a torn cut grew the file past what was written"
expect "torn cut: a synced file" "$m/d/dkept" dkept

proc_stop "$POWERCUT_PID" TERM 10 || fail "powercut_fs exited non-zero on SIGTERM"
test_finish powercut_fs
