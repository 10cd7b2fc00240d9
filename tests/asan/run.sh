#!/bin/bash
# The unit tests again, built with AddressSanitizer and UBSan in a build
# directory of their own: the 100,000-camera stream table, the frame
# chains, the recorder and the rest must leak nothing and touch nothing
# out of bounds. DPDK memory (rte_malloc, mempools) is not instrumented;
# the tests check its heap and pools themselves.
# usage: run.sh SOURCE_ROOT BUILD_DIR
set -euo pipefail
src=$1 out=$2/asan
if [ ! -f "$out/build.ninja" ]; then
	meson setup "$out" "$src" --buildtype=debug -Db_sanitize=address,undefined >/dev/null
fi
ninja -C "$out" >"$out/ninja.log" || { tail -n 40 "$out/ninja.log"; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C "$out" --suite unit --print-errorlogs --num-processes 2 --no-rebuild
