#!/bin/bash
# Builds each libFuzzer target with clang (ASan + UBSan) and runs it for a
# bounded time from an empty corpus, plus the seeds its TARGET.py writes
# (run first: a seed that still crashes fails at once). An input that runs
# for 10 s is a failure (a hang). Exit 77 (skip) without clang's fuzzer.
# usage: run.sh SOURCE_ROOT BUILD_DIR SECONDS
set -euo pipefail
src=$1 out=$2/fuzz secs=${3:-30}
command -v clang >/dev/null || { echo "clang not installed: skipping"; exit 77; }
mkdir -p "$out"
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -march=native
	-D_GNU_SOURCE -I"$src/include" -I"$src/proto" -I"$src/dataplane" -I"$src/record" -I"$src/cam" -I"$src/control" $(pkg-config --cflags libdpdk))
libs=($(pkg-config --libs libdpdk libsodium))
declare -A targets=(
	[fuzz_parse]="dataplane/parse.c dataplane/neigh.c"
	[fuzz_depay]="dataplane/rtp.c dataplane/depay.c dataplane/depay_h264.c dataplane/depay_h265.c proto/counters.c"
	[fuzz_packetize]="cam/packetize.c cam/au.c"
	[fuzz_handshake]="proto/noise.c proto/handshake.c"
	[fuzz_mux]="record/mux.c"
	[fuzz_crypto]="dataplane/cryptodev.c proto/srtp.c"
)
declare -A target_libs=([fuzz_mux]="libavformat libavcodec libavutil" [fuzz_crypto]="libcrypto")
if ! clang -fsanitize=fuzzer -x c /dev/null -o /dev/null -c 2>/dev/null; then
	echo "clang has no libFuzzer runtime (libclang-rt-14-dev): skipping"; exit 77
fi
for t in "${!targets[@]}"; do
	srcs=()
	for f in ${targets[$t]}; do srcs+=("$src/$f"); done
	extra=()
	[ -z "${target_libs[$t]:-}" ] || extra=($(pkg-config --libs ${target_libs[$t]}))
	clang "${cflags[@]}" "$src/tests/fuzz/$t.c" "${srcs[@]}" "${libs[@]}" "${extra[@]}" -o "$out/$t"
	mkdir -p "$out/corpus-$t"
	seeds=()
	if [ -f "$src/tests/fuzz/$t.py" ]; then
		rm -rf "$out/seeds-$t"
		python3 "$src/tests/fuzz/$t.py" "$out/seeds-$t"
		seeds=("$out/seeds-$t")
	fi
	echo "== $t: ${secs}s"
	"$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 "$out/corpus-$t" "${seeds[@]}" 2>&1 |
		tail -n 12
done
