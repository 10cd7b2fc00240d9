#!/bin/bash
# SPDX-License-Identifier: MIT
# The admin socket and vigilctl against a live vigild (on net_null: no
# traffic needed): every command (stats, cameras, camera show, segments,
# config check, reload, shutdown, and camera add, rotate, revoke, remove
# into the keystore), what a client gets for malformed JSON, an unknown
# command, a line over the limit (and the server answers on), a peer that
# is not root, vigild's user or in AdminGroup (refused) and one that is in
# it, the socket's mode, the audit log of the changes, the socket gone
# after `vigilctl shutdown`, the keystore's cameras back after a restart,
# and vigild refusing to start on a keystore with a flipped byte.
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
require_tools jq setpriv gdb gcore useradd groupadd "$PYTHON"
require_aesni
vigild=$(vigild_path "$target")
require_vigild "$vigild"
test_begin admin "$scratch"

# AdminGroup: a group of the test's, and a user who is a member of it
# (supplementary group) and nothing else of vigild's.
admgroup=vgladm$$ member=vglmem$$
groupadd "$admgroup" || { fail "groupadd $admgroup"; exit 1; }
useradd -M -N -g nogroup -G "$admgroup" -s /usr/sbin/nologin "$member" || { groupdel "$admgroup"; fail "useradd"; exit 1; }
# Where users can pass; vigild makes the socket's own folder, run/.
sockdir=$(mktemp -d /run/vigil-admin-test.XXXXXX)
chmod 711 "$sockdir"
admin_cleanup() {
	local status=$?
	proc_stop_all
	rm -rf "$sockdir"
	userdel "$member" 2>/dev/null
	groupdel "$admgroup" 2>/dev/null
	(exit "$status")
	_test_cleanup
}
trap admin_cleanup EXIT
sock=$sockdir/run/admin.sock
as_member() { setpriv --reuid="$member" --regid=nogroup --init-groups "$@"; }
"$vigilctl" keygen keystore "$work/keystore.key" | grep -q "a new keystore master key" || fail "keygen keystore"
[ "$(stat -c %a "$work/keystore.key")" = 600 ] || fail "keystore key mode $(stat -c %a "$work/keystore.key")"
"$vigilctl" keygen keystore "$work/keystore.key" 2>/dev/null && fail "keygen overwrote a key file"
{
	printf '[Ingest]\nPorts = 5004\nRecordDir = %s/rec\nStateDir = %s/state\nDevice = net_null0,no-rx=1\nMaxCameras = 16\n' "$work" "$work"
	printf 'Keystore = %s/keystore\nKeystoreKeyFile = %s/keystore.key\nAdminGroup = %s\n' "$work" "$work" "$admgroup"
	for c in lobby:H264:1 gate:H265:2; do
		IFS=: read -r name codec ssrc <<<"$c"
		printf '[Camera]\nName = %s\nSSRC = %s\nKey = %s\nCodec = %s\n' "$name" "$ssrc" \
			"$(head -c 44 /dev/urandom | base64 -w0)" "$codec"
	done
} >"$work/vigil.conf"
chmod 600 "$work/vigil.conf"
# Without meson's MALLOC_PERTURB_, which fills freed memory: the core dump
# below must see what a production vigild leaves in it.
proc_start "$work/summary.json" "$work/vigild.log" "admin socket" 30 \
	env -u MALLOC_PERTURB_ "$vigild" --config "$work/vigil.conf" --admin "$sock" --audit "$work/log/audit.log" || { fail "vigild did not start: $(cat "$work/vigild.log")"; exit 1; }
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

# audited COMMAND CAMERA RESULT MESSAGE: exactly one entry of the audit
# log, of uid 0, for that, its message starting with MESSAGE.
audited() {
	jq -R -s -e --arg c "$1" --arg n "$2" --arg r "$3" --arg m "$4" '[split("\n")[] | select(. != "") | fromjson |
		select(.uid == 0 and .command == $c and (.camera // "") == $n and .result == $r and
		       (.message | startswith($m)))] | length == 1' "$work/log/audit.log" >/dev/null
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
unknown command; the commands are: stats, cameras, camera show|add|rotate|revoke|remove, segments, token, storage, cluster, drain, health, watch, config check, reload, shutdown
not a JSON object: an array or a value
no "cmd" string in the request
camera: which camera? {"cmd": "camera", "name": "..."}'
[ "$(echo "$got" | head -n 5 | jq -r .error)" = "$want" ] || fail "malformed requests: got $got"
[ "$(echo "$got" | tail -n 1 | jq -r '.cameras | length')" = 2 ] || fail "no answer after the bad ones: $got"

got=$(raw "{\"cmd\":\"stats\",\"pad\":\"$(head -c 70000 /dev/zero | tr '\0' x)\"}"$'\n')
[ "$(echo "$got" | jq -r .error)" = "a request line is longer than 65536 bytes" ] || fail "oversized line: got ${got:0:200}"
"$vigilctl" --socket "$sock" cameras >/dev/null || fail "vigild stopped answering after an oversized line"

# The folder vigild made is the group's, so its members reach the socket;
# a user in no group of vigild's does not get past them.
[ "$(stat -c %a:%U:%G "$sockdir/run")" = "2750:root:$admgroup" ] ||
	fail "socket folder $(stat -c %a:%U:%G "$sockdir/run"), want 2750:root:$admgroup"
[ "$(stat -c %a:%U:%G "$sock")" = "660:root:$admgroup" ] || fail "socket $(stat -c %a:%U:%G "$sock"), want 660:root:$admgroup"
as_member "$vigilctl" --socket "$sock" stats >/dev/null || fail "$member, of AdminGroup $admgroup, got no answer"
err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$vigilctl" --socket "$sock" stats 2>&1) &&
	fail "uid 65534, in no group of vigild's, got an answer"
[[ "$err" == *"Permission denied"* ]] || fail "uid 65534: got: $err"
# Past the modes (as if loosened): vigild still checks the peer.
chmod 666 "$sock"
chmod 2751 "$sockdir/run"
err=$(setpriv --reuid=65533 --regid=65533 --clear-groups "$vigilctl" --socket "$sock" stats 2>&1) &&
	fail "a peer of uid 65533 got an answer"
[ "$err" = "vigilctl: vigild says: permission denied: root, vigild's user or AdminGroup only" ] ||
	fail "uid 65533: got: $err"
chmod 660 "$sock"
chmod 2750 "$sockdir/run"

# A reply larger than the socket's buffer (20,002 segments, over 1 MB)
# arrives whole to a peer that reads it late; one that never reads its own
# does not hold the others up, and is dropped after 10 s.
seq -f "$work/rec/lobby/%08.0f.ts" 100000 119999 | xargs touch
"$PYTHON" - "$sock" >"$work/hog.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"segments","name":"lobby"}\n' * 3)
time.sleep(20)
PY
hog=$!
"$PYTHON" - "$sock" >"$work/big.json" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"segments","name":"lobby"}\n')
time.sleep(1)  # the reply fills the socket's buffer meanwhile
got = b""
while not got.endswith(b"\n"):
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got += chunk
sys.stdout.write(got.decode())
PY
[ "$(stat -c %s "$work/big.json")" -gt 1000000 ] && [ "$(jq '.segments | length' "$work/big.json")" = 20002 ] ||
	fail "a large reply: $(stat -c %s "$work/big.json") bytes, $(jq '.segments | length' "$work/big.json" 2>&1 | head -c 200) segments"
"$vigilctl" --socket "$sock" cameras >/dev/null || fail "no answer while a peer does not read its reply"
for ((i = 0; i < 150; i++)); do grep -q "dropped a connection" "$work/vigild.log" && break; sleep 0.1; done
grep -q "^vigild: admin: dropped a connection of uid 0: it took none of its reply for 10 s ([0-9]* bytes waiting)$" "$work/vigild.log" ||
	fail "the peer that does not read is not dropped: $(grep admin: "$work/vigild.log" | tail -n 3)"
kill "$hog" 2>/dev/null || true
wait "$hog" 2>/dev/null || true
seq -f "$work/rec/lobby/%08.0f.ts" 100000 119999 | xargs rm -f

# A peer that keeps requests in flight, each of some cost (config check
# reads the file, padded with 100,000 comment lines for this), gets
# VIGIL_ADMIN_REQUESTS_PER_TURN answered per turn: another peer's request
# is answered promptly all the same, and the pipelining one goes on.
cp "$work/vigil.conf" "$work/vigil.conf.unpadded"
seq 100000 | sed 's/.*/; a comment line, read and skipped/' >>"$work/vigil.conf"
"$PYTHON" - "$sock" >"$work/pipeline.out" <<'PY'
import socket, sys, threading, time
path = sys.argv[1]
result = []
def other():
    t0 = time.time()
    b = socket.socket(socket.AF_UNIX)
    b.settimeout(10)
    b.connect(path)
    b.sendall(b'{"cmd":"cameras"}\n')
    got = b""
    try:
        while not got.endswith(b"\n"):
            d = b.recv(65536)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    result.append("%.3f %d %s" % (time.time() - t0, answered, got.decode().strip()[:60]))
# The pipelining peer keeps 100 requests in flight for 4 s: a new one for
# each reply, so vigild always finds more to read.
req = b'{"cmd":"config","action":"check"}\n'
a = socket.socket(socket.AF_UNIX)
a.connect(path)
a.sendall(req * 100)
answered = 0
threading.Timer(1, other).start()
end = time.time() + 4
while time.time() < end:
    n = a.recv(1 << 20).count(b"\n")
    answered += n
    a.sendall(req * n)
while not result:
    time.sleep(0.1)
print(result[0])
PY
read -r latency replies reply <"$work/pipeline.out"
echo "  another peer answered in $latency s while one pipelines ($replies of its requests answered by then)"
[[ "$reply" == '{"cameras":'* ]] && awk -v l="$latency" 'BEGIN { exit !(l < 1) }' && [ "$replies" -gt 10 ] ||
	fail "a pipelining peer: $(cat "$work/pipeline.out")"
cp "$work/vigil.conf.unpadded" "$work/vigil.conf"

# Cameras added, rotated, revoked, removed through the socket; the file's
# cameras are the file's.
"$vigilctl" --socket "$sock" camera add porch --ssrc 3 --codec h265 --generate >"$work/add.out" ||
	fail "camera add porch: $(cat "$work/add.out")"
grep -q "^camera porch added$" "$work/add.out" && grep -Eq "^key: [A-Za-z0-9+/]{59}=$" "$work/add.out" ||
	fail "camera add porch said: $(cat "$work/add.out")"
[ -s "$work/keystore" ] || fail "no keystore after camera add"
grep -q porch "$work/keystore" && fail "the keystore holds the camera name in clear"
head -c 44 /dev/urandom | base64 -w0 >"$work/k2.b64"
# A key file others may read or change is refused, as vigild refuses its own.
chmod 640 "$work/k2.b64"
err=$("$vigilctl" --socket "$sock" camera rotate porch --key-file "$work/k2.b64" 2>&1) && fail "rotate with a key file of mode 640"
[ "$err" = "vigilctl: $work/k2.b64: group or others may read or change it; a key file is a plain file, mode 0600 and yours (chmod 600 $work/k2.b64)" ] ||
	fail "a key file of mode 640: $err"
chmod 620 "$work/k2.b64"
"$vigilctl" --socket "$sock" camera rotate porch --key-file "$work/k2.b64" 2>/dev/null && fail "rotate with a key file of mode 620"
chmod 600 "$work/k2.b64"
expect_refusal() { # WANT ARGS...: vigilctl exits 1 with exactly that message
	local want=$1 err
	shift
	err=$("$vigilctl" --socket "$sock" "$@" 2>&1) && fail "$* succeeded"
	[ "$err" = "vigilctl: vigild says: $want" ] || fail "$*: got '$err', want '$want'"
}
expect_refusal "camera porch exists already (live)" camera add porch --ssrc 4 --codec h264 --key-file "$work/k2.b64"
expect_refusal "SSRC 1 is camera lobby's" camera add deck --ssrc 1 --codec h264 --key-file "$work/k2.b64"
echo "c2hvcnQ=" >"$work/short.b64"
chmod 600 "$work/short.b64"
expect_refusal "Key: must be base64 of 44 bytes (32-byte master key, 12-byte salt)" \
	camera add deck --ssrc 4 --codec h264 --key-file "$work/short.b64"
expect_refusal "Codec: 'vp8' is not H264 or H265" camera add deck --ssrc 4 --codec vp8 --key-file "$work/k2.b64"
expect_refusal "Identity: vigild has no HandshakePort and ServerKeyFile in [Ingest]" \
	camera add deck --codec h264 --identity "$(head -c 32 /dev/urandom | base64 -w0)"
expect_refusal "camera lobby is in $work/vigil.conf (line 10): change it there, then vigilctl reload" \
	camera rotate lobby --key-file "$work/k2.b64"
expect_refusal "camera lobby is in $work/vigil.conf (line 10): change it there, then vigilctl reload" camera revoke lobby
out=$("$vigilctl" --socket "$sock" camera rotate porch --key-file "$work/k2.b64") || fail "rotate porch"
[ "$out" = "camera porch rotated; its previous key is accepted for 2000 ms more" ] || fail "rotate: $out"
"$vigilctl" --socket "$sock" camera add deck --ssrc 4 --codec h264 --key-file "$work/k2.b64" >/dev/null || fail "add deck"
out=$("$vigilctl" --socket "$sock" camera revoke deck) || fail "revoke deck"
[ "$out" = "camera deck revoked: no packet of it is accepted from now on" ] || fail "revoke: $out"
"$vigilctl" --socket "$sock" camera add gone --ssrc 5 --codec h264 --key-file "$work/k2.b64" >/dev/null || fail "add gone"
"$vigilctl" --socket "$sock" camera remove gone >/dev/null || fail "remove gone"
[ "$("$vigilctl" --socket "$sock" cameras | awk 'NR > 1 { print $1 ":" $2 }' | sort | tr '\n' ' ')" = \
	"deck:revoked gate:live gone:removed lobby:live porch:live " ] || fail "cameras: $("$vigilctl" --socket "$sock" cameras)"
expect_refusal "no camera 'gone'" camera revoke gone
"$vigilctl" --socket "$sock" camera --help | grep -q "vigilctl camera rotate NAME" || fail "camera --help"

# vigild is not dumpable (no core file, no ptrace but root's), and a core
# dump root makes all the same (gcore) holds no key: not the text of those
# sent through the socket (request buffers, jansson's strings, the parser's
# are wiped), nor any camera's master key (its slot) or session salt (its
# stream, in DPDK's memory), which are left out of dumps.
[ "$(gdb -q -batch -p "$vigild_pid" -ex 'call (int) prctl(3, 0, 0, 0, 0)' 2>/dev/null | sed -n 's/^\$1 = //p')" = 0 ] ||
	fail "vigild is dumpable (PR_GET_DUMPABLE: $(gdb -q -batch -p "$vigild_pid" -ex 'call (int) prctl(3, 0, 0, 0, 0)' 2>&1 | tail -n 2))"
gcore -o "$work/core" "$vigild_pid" >"$work/gcore.log" 2>&1 || fail "gcore: $(tail -n 3 "$work/gcore.log")"
# shellcheck disable=SC2046 # one argument per key
"$PYTHON" - "$work/core.$vigild_pid" "$(cat "$work/k2.b64")" "$(sed -n 's/^key: //p' "$work/add.out")" \
	$(sed -n 's/^Key = //p' "$work/vigil.conf") <<'PY' >"$work/core.out" || fail "keys in vigild's core dump: $(cat "$work/core.out")"
import base64, sys
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
def session_salt(raw):  # RFC 3711 KDF, label 2, the 12-byte salt zero-padded to 14
    iv = bytearray(raw[32:44] + bytes(4))
    iv[7] ^= 2
    return Cipher(algorithms.AES(raw[:32]), modes.CTR(bytes(iv))).encryptor().update(bytes(12))
core = open(sys.argv[1], "rb").read()
found = []
for n, text in enumerate(sys.argv[2:]):
    raw = base64.b64decode(text)
    found += ["key %d text %s" % (n, text[i:i + 24]) for i in (0, 20, 36) if text[i:i + 24].encode() in core]
    found += ["key %d master key" % n] if raw[:16] in core else []
    found += ["key %d session salt" % n] if session_salt(raw) in core else []
print("%d MB of core, %d keys looked for: %s" % (len(core) >> 20, len(sys.argv) - 2, found or "none found"))
sys.exit(1 if found or len(core) < 1 << 20 or len(sys.argv) != 6 else 0)
PY
echo "  $(cat "$work/core.out")"
rm -f "$work/core.$vigild_pid"

# A value that would forge audit lines (newlines, a line of the old format,
# a JSON object, quotes, control characters, U+2028): refused, and written
# as one escaped JSON object, the value whole in its message.
forged=$'H264\n2026-01-01T00:00:00Z uid=0 camera remove lobby: camera lobby removed\n{"time":"x","result":"ok"}\x01\x1b[31m\xe2\x80\xa8\\"'
req=$(jq -cn --arg codec "$forged" --arg key "$(cat "$work/k2.b64")" \
	'{cmd: "camera", action: "add", name: "deck2", settings: {SSRC: "9", Codec: $codec, Key: $key}}')
got=$(raw "$req"$'\n')
[ "$(echo "$got" | jq -r .error)" = "Codec: '$forged' is not H264 or H265" ] || fail "forged Codec: got $got"
got=$(raw '{"cmd":"camera","action":"remove","name":"x\ny"}'$'\n')
[ "$(echo "$got" | jq -r .error)" = "a camera name is 1-64 characters of A-Z a-z 0-9 _ -" ] || fail "name x\\ny: got $got"

# config check: what a reload would say, nothing applied.
out=$("$vigilctl" --socket "$sock" config check) || fail "config check"
[ "$out" = "$work/vigil.conf: good, 2 camera(s); a reload would apply it" ] || fail "config check: $out"
cp "$work/vigil.conf" "$work/vigil.conf.good"
printf '[Camera]\nName = porch\nSSRC = 9\nCodec = H264\nKey = %s\n' "$(cat "$work/k2.b64")" >>"$work/vigil.conf"
expect_refusal "$work/vigil.conf:20: camera porch was added with vigilctl; remove it there first (vigilctl camera remove porch)" \
	config check
cp "$work/vigil.conf.good" "$work/vigil.conf"
"$vigilctl" --socket "$sock" nonsense 2>/dev/null && fail "an unknown vigilctl command succeeded"

# Changes: a reload (nothing changed in the file), then a shutdown; both
# in the audit log, with the peer's uid, before vigild answers.
out=$("$vigilctl" --socket "$sock" reload) || fail "vigilctl reload failed"
[ "$out" = "reload: 0 added, 0 rotated, 0 revoked, 0 moved to a new SSRC" ] || fail "reload: got '$out'"
audited reload "" ok "reload: 0 added" || fail "reload not in the audit log: $(cat "$work/log/audit.log")"
"$vigilctl" --socket "$sock" shutdown >/dev/null || fail "vigilctl shutdown failed"
for ((i = 0; i < 300; i++)); do kill -0 "$vigild_pid" 2>/dev/null || break; sleep 0.1; done
wait "$vigild_pid" || fail "vigild exited non-zero after vigilctl shutdown"
proc_forget "$vigild_pid"
# Every line one JSON object of these fields, one per change asked for.
jq -R -s -e '[split("\n")[] | select(. != "") | fromjson |
	select(keys == ["camera", "command", "message", "result", "time", "uid"] and
	       (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) and .uid == 0)] | length == 18' \
	"$work/log/audit.log" >/dev/null || fail "audit log: not 18 lines of JSON: $(cat -A "$work/log/audit.log")"
[ "$(wc -l <"$work/log/audit.log")" = 18 ] || fail "audit log: $(wc -l <"$work/log/audit.log") lines, want 18"
audited shutdown "" ok "stopping" && audited "camera revoke" deck ok "camera deck revoked" &&
	audited "camera add" porch ok "camera porch added" &&
	audited "camera rotate" lobby refused "camera lobby is in" &&
	audited "camera add" deck2 refused "Codec: '$forged' is not H264 or H265" &&
	audited "camera remove" $'x\ny' refused "a camera name is" ||
	fail "audit log: $(cat "$work/log/audit.log")"
grep -q "$(sed -n 's/^key: //p' "$work/add.out")" "$work/log/audit.log" && fail "a key went to the audit log"
grep -qF "$(cat "$work/k2.b64")" "$work/log/audit.log" && fail "a key went to the audit log"
# Its copy on stderr, one line each too.
[ "$(grep -c '^vigild: admin: {' "$work/vigild.log")" = 18 ] || fail "vigild.log: $(grep -c '^vigild: admin: {' "$work/vigild.log") audit lines"
grep -q '^2026-01-01T00:00:00Z' "$work/vigild.log" && fail "a forged line in vigild's log"
check_counter summary "$work/summary.json" '.cameras.lobby.state' live
[ ! -e "$sock" ] || fail "the socket is still there after vigild stopped"
"$vigilctl" --socket "$sock" stats 2>/dev/null && fail "vigilctl succeeded with no vigild"

# The keystore's cameras come back with the file's; the removed one does not.
proc_start "$work/summary2.json" "$work/vigild2.log" "admin socket" 30 \
	"$vigild" --config "$work/vigil.conf" --admin "$sock" --audit "$work/log/audit.log" || { fail "vigild did not restart: $(cat "$work/vigild2.log")"; exit 1; }
[ "$("$vigilctl" --socket "$sock" cameras | awk 'NR > 1 { print $1 ":" $2 }' | sort | tr '\n' ' ')" = \
	"deck:revoked gate:live lobby:live porch:live " ] || fail "after restart: $("$vigilctl" --socket "$sock" cameras)"
grep -q "keystore $work/keystore: 2 camera(s)" "$work/vigild2.log" || fail "vigild2.log: $(cat "$work/vigild2.log")"
"$vigilctl" --socket "$sock" shutdown >/dev/null || fail "vigilctl shutdown (2)"
for ((i = 0; i < 300; i++)); do kill -0 "$PROC_PID" 2>/dev/null || break; sleep 0.1; done
wait "$PROC_PID" || fail "vigild (2) exited non-zero"
proc_forget "$PROC_PID"

# A socket folder others may write to (not sticky): they could put a
# socket of theirs in its place. No socket, and the reason logged.
mkdir -m 0777 "$sockdir/open"
chmod 0777 "$sockdir/open"
proc_start "$work/summary3.json" "$work/vigild3.log" "no admin socket" 30 \
	"$vigild" --config "$work/vigil.conf" --admin "$sockdir/open/admin.sock" --audit "$work/log/audit.log" ||
	fail "vigild with an open socket folder: $(cat "$work/vigild3.log")"
grep -q "^vigild: no admin socket (vigilctl will not reach this vigild): $sockdir/open: group or others may replace the admin socket in it (mode 0777); chmod go-w $sockdir/open$" "$work/vigild3.log" ||
	fail "an open socket folder: $(cat "$work/vigild3.log")"
[ ! -e "$sockdir/open/admin.sock" ] || fail "a socket in an open folder"
proc_stop "$PROC_PID" TERM 30 >/dev/null || fail "vigild (3) exited non-zero"

# One flipped byte: vigild does not start, and says why.
printf '\xff' | dd of="$work/keystore" bs=1 seek=40 conv=notrunc status=none
"$vigild" --config "$work/vigil.conf" --admin none >/dev/null 2>"$work/vigild4.log" && fail "vigild started on a damaged keystore"
grep -q "$work/keystore" "$work/vigild4.log" || fail "damaged keystore: $(cat "$work/vigild4.log")"
test_finish admin
