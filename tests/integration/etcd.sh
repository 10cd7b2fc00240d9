#!/bin/bash
# SPDX-License-Identifier: MIT
# The etcd client of the cluster (control/etcd.h) against a real etcd
# (Debian's etcd-server 3.4), started here on 127.0.0.1 with a data
# directory of its own and stopped after: test_etcd's cases, with a dead
# endpoint listed first so every call goes over to the live one.
#
# usage: etcd.sh TEST_ETCD [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test_etcd=${1:-} scratch=${2:-}
# shellcheck source=../tools/testlib.sh
source "$here/../tools/testlib.sh"
require_tools etcd curl
[ -x "$test_etcd" ] || { echo "FAIL: test_etcd not found at $test_etcd" >&2; exit 1; }
test_begin etcd "$scratch"

port=$((23000 + RANDOM % 2000))
etcd_start "$work" $((port + 1)) "http://127.0.0.1:$port"
ETCD_ENDPOINTS="http://127.0.0.1:1,http://127.0.0.1:$port" "$test_etcd" >"$work/test.log" 2>&1 ||
	fail "test_etcd: $(grep -E 'FAILED|ERROR|LINE' "$work/test.log" | head -n 6)"
cat "$work/test.log"
test_finish etcd
