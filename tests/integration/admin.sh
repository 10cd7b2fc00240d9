#!/bin/bash
# SPDX-License-Identifier: MIT
# The admin socket and vigilctl against a live vigild (on net_null: no
# traffic needed): every command (stats, cameras, camera, reload, shutdown),
# what a client gets for malformed JSON, an unknown command, a line over
# the limit (and the server answers on), a peer that is not root or
# vigild's user (refused), the socket's mode, the audit log of the changes,
# and the socket gone after vigild stops by `vigilctl shutdown`.
#
# usage: admin.sh BUILD_DIR|VIGILD VIGILCTL [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
target=${1:-} vigilctl=${2:-} scratch=${3:-}
PYTHON=${PYTHON:-/usr/bin/python3}

# shellcheck source=../tools/testlib.sh
source "$tools/testlib.sh"
require_root "a peer of another uid"
require_tools jq setpriv "$PYTHON"
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
test_begin admin "$scratch"

sock=$work/admin.sock
{
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nDevice = net_null0,no-rx=1\nMaxCameras = 16\n' "$work"
	for c in lobby:H264:1 gate:H265:2; do
		IFS=: read -r name codec ssrc <<<"$c"
		printf '[Camera]\nName = %s\nSSRC = %s\nKey = %s\nCodec = %s\n' "$name" "$ssrc" \
			"$(head -c 44 /dev/urandom | base64 -w0)" "$codec"
	done
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf"
proc_start "$work/summary.json" "$work/vigild.log" "admin socket" 30 \
	"$vigild" --config "$work/vigil.conf" --admin "$sock" --audit "$work/log/audit.log" || { fail "vigild did not start: $(cat "$work/vigild.log")"; exit 1; }
vigild_pid=$PROC_PID

# Raw lines to the socket, the reply lines back.
raw() {
	"$PYTHON" - "$sock" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
s.settimeout(5)
got = b""
want = sys.argv[2].count("\n") or 1
try:
    while got.count(b"\n") < want:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    pass
sys.stdout.write(got.decode())
PY
}

out=$("$vigilctl" --socket "$sock" cameras) || fail "vigilctl cameras failed"
echo "$out"
[ "$(echo "$out" | awk '$2 == "live" { print $1 }' | sort | tr '\n' ' ')" = "gate lobby " ] ||
	fail "cameras: want gate and lobby live"
"$vigilctl" --socket "$sock" --json stats >"$work/stats.json" || fail "vigilctl stats failed"
check_counter stats "$work/stats.json" .ok true
check_counter stats "$work/stats.json" .stats.cameras.gate.codec H265
check_counter stats "$work/stats.json" .stats.totals.rx_packets 0

"$vigilctl" --socket "$sock" camera gate >"$work/gate.json" || fail "vigilctl camera gate failed"
check_counter camera "$work/gate.json" .ssrc 2
err=$("$vigilctl" --socket "$sock" camera nosuch 2>&1) && fail "camera nosuch succeeded"
[ "$err" = "vigilctl: vigild says: no camera 'nosuch'" ] || fail "camera nosuch: got '$err'"

# A camera's recordings, in the order they were made (two placed there).
head -c 1316 /dev/zero >"$work/rec/lobby/00000003.ts"
head -c 188 /dev/zero >"$work/rec/lobby/00000004.ts.partial"
"$vigilctl" --socket "$sock" --json segments lobby >"$work/segments.json" || fail "vigilctl segments failed"
[ "$(jq -c '[.segments[] | [.name, .bytes, .being_written]]' "$work/segments.json")" = \
	'[["00000003.ts",1316,false],["00000004.ts.partial",188,true]]' ] || fail "segments: $(cat "$work/segments.json")"
"$vigilctl" --socket "$sock" segments lobby | grep -q "00000004.ts.partial .*(being written)" || fail "segments table"

got=$(raw $'not json\n{"cmd":"reboot"}\n[1]\n{"nocmd":1}\n{"cmd":"camera"}\n{"cmd":"cameras"}\n')
want='not a JSON object: '"'"'['"'"' or '"'"'{'"'"' expected near '"'"'not'"'"'
unknown command; the commands are: stats, cameras, camera, segments, reload, shutdown
not a JSON object: an array or a value
no "cmd" string in the request
camera: which camera? {"cmd": "camera", "name": "..."}'
[ "$(echo "$got" | head -n 5 | jq -r .error)" = "$want" ] || fail "malformed requests: got $got"
[ "$(echo "$got" | tail -n 1 | jq -r '.cameras | length')" = 2 ] || fail "no answer after the bad ones: $got"

got=$(raw "{\"cmd\":\"stats\",\"pad\":\"$(head -c 70000 /dev/zero | tr '\0' x)\"}"$'\n')
[ "$(echo "$got" | jq -r .error)" = "a request line is longer than 65536 bytes" ] || fail "oversized line: got ${got:0:200}"
"$vigilctl" --socket "$sock" cameras >/dev/null || fail "vigild stopped answering after an oversized line"

[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock"), want 600"
if err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$vigilctl" --socket "$sock" stats 2>&1); then
	fail "a peer of uid 65534 got an answer"
else
	[ $? = 2 ] && echo "$err" | grep -q "Permission denied" || fail "uid 65534: want exit 2 and permission denied, got: $err"
fi
"$vigilctl" --socket "$sock" nonsense 2>/dev/null && fail "an unknown vigilctl command succeeded"

# Changes: a reload (nothing changed in the file), then a shutdown; both
# in the audit log, with the peer's uid, before vigild answers.
out=$("$vigilctl" --socket "$sock" reload) || fail "vigilctl reload failed"
[ "$out" = "reload: 0 added, 0 rotated, 0 revoked, 0 moved to a new SSRC" ] || fail "reload: got '$out'"
grep -q "uid=0 reload: reload: 0 added" "$work/log/audit.log" || fail "reload not in the audit log: $(cat "$work/log/audit.log")"
"$vigilctl" --socket "$sock" shutdown >/dev/null || fail "vigilctl shutdown failed"
for ((i = 0; i < 300; i++)); do kill -0 "$vigild_pid" 2>/dev/null || break; sleep 0.1; done
wait "$vigild_pid" || fail "vigild exited non-zero after vigilctl shutdown"
proc_forget "$vigild_pid"
[ "$(wc -l <"$work/log/audit.log")" = 2 ] && grep -q "uid=0 shutdown: stopping" "$work/log/audit.log" ||
	fail "audit log: $(cat "$work/log/audit.log")"
check_counter summary "$work/summary.json" '.cameras.lobby.state' live
[ ! -e "$sock" ] || fail "the socket is still there after vigild stopped"
"$vigilctl" --socket "$sock" stats 2>/dev/null && fail "vigilctl succeeded with no vigild"
test_finish admin
