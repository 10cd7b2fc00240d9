#!/bin/bash
# SPDX-License-Identifier: MIT
# Live key changes under traffic, with exact counters. vigild runs live on
# af_packet; synthetic H.264 SRTP (srtp_gen, one pcap per phase and key) is
# sent from a network namespace by pcap_send.py, and the configuration is
# rewritten and reloaded (SIGHUP) between phases:
#
#   a. camera A under K1;
#   b. A rotated to K2 and camera B added: A's packets still under K1 (in
#      flight) and then under K2 are all decrypted, the K1 ones counted
#      decrypted_prev_key; B's too;
#   c. A revoked: its packets count unknown_ssrc, A's counters stay put;
#   d. B rotated twice (K_B -> K3 -> K4): during the first grace period K_B
#      is accepted; after the second rotation only K3 is, K_B fails;
#   e. a broken file (a bad key, after changes that would rotate B and bring
#      A back) is refused, and nothing changed;
#   then SIGINT and the summary: exact per-camera counters, A "removed", and
#   each recording holds exactly the frames it counts.
#   f. a second vigild with KeyGraceSeconds = 1: after the grace period the
#      previous key fails (the main run's KeyGraceSeconds = 30 keeps it from
#      expiring there by accident; [Ingest] changes need a restart).
#
# Sent packets that fail authentication are sent again under the right key
# with the same indices: an unauthenticated packet must not move the replay
# window, so the later ones count decrypted, never replayed.
#
# To know vigild has taken everything sent so far, the test polls SIGUSR1
# (`vigild: stats {json}` on stderr) until the packets are accounted for.
#
# usage: keys.sh BUILD_DIR|VIGILD [SRTP_GEN] [SCRATCH_DIR]
# Exit 0 pass, 1 fail, 77 skip (not root, a tool missing, no AES-NI).
# VIGIL_KEEP=1 keeps the work directory even when the test passes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/../tools
# shellcheck source=SCRIPTDIR/../tools/testlib.sh
source "$tools/testlib.sh"
PYTHON=${PYTHON:-/usr/bin/python3}
PORT=5004
FRAMES=10 GOP=10 PPF=4 # one GOP per send: a key frame of 5 packets, 9 P frames of 4
GOP_PKTS=$((PPF + 1 + (GOP - 1) * PPF))
RATE=2000       # packets per second
WAIT_SECS=20    # for vigild to account for what was sent

target=${1:-} srtp_gen=${2:-} scratch=${3:-}
[ -n "$target" ] || { echo "usage: $0 BUILD_DIR|VIGILD [SRTP_GEN] [SCRATCH_DIR]" >&2; exit 1; }
vigild=$(vigild_path "$target")
if [ -z "$srtp_gen" ]; then
	srtp_gen=$(dirname "$(dirname "$vigild")")/tests/integration/srtp_gen
fi

require_root "network namespaces, af_packet"
require_tools ip jq flock "$PYTHON"
require_aesni
require_vigild "$vigild"
[ -x "$srtp_gen" ] || { echo "FAIL: srtp_gen not found at $srtp_gen" >&2; exit 1; }

test_begin keys "$scratch"
vigil_netns_create keys
note "namespace $VIGIL_NS ($VIGIL_IP_CAM) -> vigild on $VIGIL_VETH_ROOT ($VIGIL_IP_ROOT:$PORT)"

# ---- cameras, keys and packets -------------------------------------------------

newkey() { head -c 44 /dev/urandom | base64 -w0; }
# Random distinct SSRCs (A odd, B even).
ssrc_a=$(($(od -An -tu4 -N4 /dev/urandom) | 1))
ssrc_b=$(($(od -An -tu4 -N4 /dev/urandom) & ~1))
K1=$(newkey) K2=$(newkey) KB=$(newkey) K3=$(newkey) K4=$(newkey) K5=$(newkey)

# Where each camera's stream goes on: sequence number, ROC, RTP timestamp.
# A starts GOP_PKTS + 10 packets before its sequence number wraps, so the
# wrap (ROC 0 -> 1) falls in phase b, under the previous key.
declare -A seq=([A]=$((65536 - GOP_PKTS - 10)) [B]=1000 [C]=30000) roc=([A]=0 [B]=0 [C]=0)
declare -A ts=([A]=90000 [B]=1800000 [C]=0) ssrc=([A]=$ssrc_a [B]=$ssrc_b [C]=$((ssrc_a ^ 2)))
n_pcap=0

# gen CAM KEY [--again]: one GOP of CAM under KEY into a new pcap; sets PCAP
# and PKTS. The stream goes on after it, unless --again: packets that must
# fail authentication leave the index and timestamp to the ones sent next.
gen() {
	local cam=$1 key=$2 again=${3:-} out line
	n_pcap=$((n_pcap + 1))
	PCAP=$work/$n_pcap-$cam.pcap
	line=$("$srtp_gen" --ssrc "${ssrc[$cam]}" --key "$key" --first-seq "${seq[$cam]}" --roc "${roc[$cam]}" \
		--frames "$FRAMES" --gop "$GOP" --packets-per-frame "$PPF" --ts0 "${ts[$cam]}" \
		--src "$VIGIL_IP_CAM:40000" --dst "$VIGIL_IP_ROOT:$PORT" --out "$PCAP") ||
		{ fail "srtp_gen failed for camera $cam"; exit 1; }
	read -r _ PKTS _ _ _ out_seq _ out_roc _ out_ts <<<"$line"
	[ "$PKTS" = "$GOP_PKTS" ] || { fail "srtp_gen wrote $PKTS packets, want $GOP_PKTS"; exit 1; }
	if [ "$again" != --again ]; then
		seq[$cam]=$out_seq roc[$cam]=$out_roc ts[$cam]=$out_ts
	fi
}

# send CAM KEY [--again]: gen, then send the pcap from the namespace.
send() {
	local out
	gen "$@"
	out=$(ip netns exec "$VIGIL_NS" "$PYTHON" "$tools/pcap_send.py" "$PCAP" "$VIGIL_IP_ROOT" "$PORT" \
		--rate "$RATE" 2>&1) || { fail "pcap_send: $out"; exit 1; }
	[ "$out" = "sent $PKTS" ] || { fail "pcap_send: '$out', want 'sent $PKTS'"; exit 1; }
	echo "  sent $PKTS packets of camera $1 under key ${2:0:8}... ${3:-}"
}

# ---- vigild: configuration, reloads, stats --------------------------------------

# write_conf GRACE NAME=KEY...: the configuration with these cameras (A, B
# or C, each with its SSRC). Written whole, then renamed into place.
write_conf() {
	local grace=$1 c name key
	shift
	(
		umask 077
		printf '[Ingest]\nPorts = %s\nRecordDir = %s/rec\nStateDir = %s/state\nDevice = net_af_packet0,iface=%s\n' \
			"$PORT" "$conf_dir" "$conf_dir" "$VIGIL_VETH_ROOT"
		printf 'Workers = 1\nKeyGraceSeconds = %s\n' "$grace"
		for c in "$@"; do
			name=${c%%=*} key=${c#*=}
			printf '\n[Camera]\nName = %s\nSSRC = %s\nSuite = AEAD_AES_256_GCM\nKey = %s\nCodec = H264\n' \
				"$name" "${ssrc[$name]}" "$key"
		done
	) >"$conf.new"
	chmod 600 "$conf.new"
	mv "$conf.new" "$conf"
}

# reload WANT: SIGHUP, then the reload line vigild logs must be exactly WANT
# (after "vigild: "); RELOAD_AT is when it was seen (microseconds).
reload() {
	local want=$1 before got i
	before=$(grep -c '^vigild: reload' "$log" || true)
	kill -HUP "$vigild_pid"
	for ((i = 0; i < 100; i++)); do
		got=$(grep '^vigild: reload' "$log" | sed -n "$((before + 1))p" || true) # none yet: grep fails
		[ -z "$got" ] || break
		kill -0 "$vigild_pid" 2>/dev/null || { fail "vigild died on SIGHUP:"; tail -n 20 "$log" >&2; exit 1; }
		sleep 0.1
	done
	RELOAD_AT=${EPOCHREALTIME/./}
	if [ -z "$got" ]; then
		fail "no reload line 10 s after SIGHUP (want '$want'); log tail:"
		tail -n 10 "$log" >&2
		exit 1
	fi
	if [ "$got" = "vigild: $want" ]; then
		echo "  $got"
	else
		fail "reload: got '$got', want 'vigild: $want'"
	fi
}

# stats: SIGUSR1, and the line it prints into $work/stats.json. 1 when
# no complete line came within 2 s.
stats() {
	local before i line
	before=$(grep -c '^vigild: stats ' "$log" || true)
	kill -USR1 "$vigild_pid"
	for ((i = 0; i < 40; i++)); do
		# A line still being written does not parse: try again.
		line=$(grep '^vigild: stats ' "$log" | sed -n "$((before + 1))p")
		if [ -n "$line" ] && jq -e . <<<"${line#vigild: stats }" >"$work/stats.json" 2>/dev/null; then
			return 0
		fi
		kill -0 "$vigild_pid" 2>/dev/null || { fail "vigild died:"; tail -n 20 "$log" >&2; exit 1; }
		sleep 0.05
	done
	return 1
}

# wait_stats LABEL COND: polls stats until the jq condition COND holds on
# them (that vigild has accounted for every packet sent so far), at most
# WAIT_SECS. On timeout fails, shows the counters, and ends the test:
# what follows would only repeat the failure.
wait_stats() {
	local label=$1 cond=$2 deadline
	deadline=$((SECONDS + WAIT_SECS))
	while ((SECONDS < deadline)); do
		if stats && jq -e "$cond" "$work/stats.json" >/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	fail "$label: vigild did not account for the packets sent in ${WAIT_SECS}s: ($cond) is false"
	if [ -s "$work/stats.json" ]; then
		echo "last stats: $(jq -c '{totals: .totals | {rx_packets, decrypted, unknown_ssrc, auth_failed, replayed, not_udp, not_ip, malformed}, cameras: (.cameras | map_values({rx_packets, decrypted, decrypted_prev_key, auth_failed, replayed, frames_enqueued, frames_recorded, state}))}' "$work/stats.json")" >&2
	fi
	tail -n 5 "$log" >&2
	exit 1
}

# expect LABEL JSON PATH=VALUE...: each jq PATH of JSON equals VALUE.
expect() {
	local label=$1 json=$2 kv
	shift 2
	for kv in "$@"; do
		check_counter "$label" "$json" "${kv%=*}" "${kv##*=}"
	done
}

# accounted CAM N: jq condition: N of CAM's packets reached its stream
# (each ends decrypted or dropped, counted in its rx_packets), and its
# frames enqueued so far are all recorded.
accounted() {
	printf '(.cameras.%s.rx_packets >= %s and .cameras.%s.frames_recorded >= .cameras.%s.frames_enqueued)' \
		"$1" "$2" "$1" "$1"
}

# Camera CAM's packet and frame counters in the last stats, as one line
# (not the recorder's bytes and segments, which may still be on their way).
cam_counters() {
	jq -c --arg c "$1" '.cameras[$c] | with_entries(select((.value | type == "number")
		and (.key | IN("bytes_written", "segments") | not)))' "$work/stats.json"
}

# ---- the main run: KeyGraceSeconds = 30 ----------------------------------------

conf_dir=$work conf=$work/vigil.conf log=$work/vigild.log
write_conf 30 "A=$K1"
test_start_vigild "$vigild" "$conf" "$work/summary.json" "$log"
vigild_pid=$PROC_PID
note "vigild $vigild_pid: camera A (SSRC $ssrc_a) under K1; KeyGraceSeconds = 30"

note "a. A under K1"
send A "$K1"
wait_stats a "$(accounted A "$GOP_PKTS")"
expect a "$work/stats.json" .cameras.A.rx_packets=$GOP_PKTS .cameras.A.decrypted=$GOP_PKTS \
	.cameras.A.decrypted_prev_key=0 .cameras.A.auth_failed=0 .cameras.A.replayed=0 \
	.cameras.A.frames_enqueued=$FRAMES .cameras.A.frames_recorded=$FRAMES .totals.unknown_ssrc=0

[ "${roc[A]}" = 0 ] || fail "a: A's sequence number wrapped already: the test lost a case"

note "b. A rotated to K2, B added (SSRC $ssrc_b)"
write_conf 30 "A=$K2" "B=$KB"
reload "reload: 1 added, 1 rotated, 0 revoked, 0 moved to a new SSRC"
send A "$K1" # in flight under the previous key; the sequence number wraps here
send A "$K2"
send B "$KB"
wait_stats b "$(accounted A $((3 * GOP_PKTS))) and $(accounted B "$GOP_PKTS")"
expect b "$work/stats.json" .cameras.A.rx_packets=$((3 * GOP_PKTS)) .cameras.A.decrypted=$((3 * GOP_PKTS)) \
	.cameras.A.decrypted_prev_key=$GOP_PKTS .cameras.A.auth_failed=0 .cameras.A.replayed=0 \
	.cameras.A.frames_enqueued=$((3 * FRAMES)) .cameras.A.frames_recorded=$((3 * FRAMES)) \
	.cameras.A.state=live \
	.cameras.B.rx_packets=$GOP_PKTS .cameras.B.decrypted=$GOP_PKTS .cameras.B.decrypted_prev_key=0 \
	.cameras.B.auth_failed=0 .cameras.B.frames_enqueued=$FRAMES .cameras.B.state=live \
	.totals.auth_failed=0 .totals.replayed=0 .totals.unknown_ssrc=0
[ "${roc[A]}" = 1 ] || fail "b: A's sequence number did not wrap (ROC ${roc[A]}): the test lost a case"
a_before=$(cam_counters A)

note "c. A revoked"
write_conf 30 "B=$KB"
reload "reload: 0 added, 0 rotated, 1 revoked, 0 moved to a new SSRC"
send A "$K2"
wait_stats c ".totals.unknown_ssrc + .cameras.A.rx_packets >= $GOP_PKTS + $((3 * GOP_PKTS))"
expect c "$work/stats.json" .totals.unknown_ssrc=$GOP_PKTS .cameras.A.state=removed
a_after=$(cam_counters A)
[ "$a_after" = "$a_before" ] || fail "c: A's counters changed after its revoke: before $a_before, after $a_after"

note "d. B rotated to K3, then to K4"
write_conf 30 "B=$K3"
reload "reload: 0 added, 1 rotated, 0 revoked, 0 moved to a new SSRC"
send B "$KB" # the previous key, within its grace period
send B "$K3"
wait_stats d1 "$(accounted B $((3 * GOP_PKTS)))"
expect d1 "$work/stats.json" .cameras.B.decrypted=$((3 * GOP_PKTS)) .cameras.B.decrypted_prev_key=$GOP_PKTS \
	.cameras.B.auth_failed=0 .cameras.B.replayed=0 .cameras.B.frames_enqueued=$((3 * FRAMES))
write_conf 30 "B=$K4"
reload "reload: 0 added, 1 rotated, 0 revoked, 0 moved to a new SSRC"
send B "$KB" --again # two keys back: no longer accepted
send B "$K3"         # the previous key, same indices: not replays
send B "$K4"
wait_stats d2 "$(accounted B $((6 * GOP_PKTS)))"
expect d2 "$work/stats.json" .cameras.B.decrypted=$((5 * GOP_PKTS)) \
	.cameras.B.decrypted_prev_key=$((2 * GOP_PKTS)) .cameras.B.auth_failed=$GOP_PKTS \
	.cameras.B.replayed=0 .cameras.B.frames_enqueued=$((5 * FRAMES)) .cameras.B.frames_dropped=0

note "e. a broken file is refused"
write_conf 30 "B=$K5" "A=$K2" "C=$K1"
# The last Key line, C's, made invalid: B's rotation to K5 and A's return
# come before it in the file, and must not happen either.
bad_line=$(grep -n '^Key = ' "$conf" | tail -n 1 | cut -d: -f1)
sed -i "${bad_line}s|.*|Key = not-base64-at-all|" "$conf"
reload_before=$(grep -c '^vigild: reload' "$log" || true)
kill -HUP "$vigild_pid"
for ((i = 0; i < 100; i++)); do
	line=$(grep '^vigild: reload' "$log" | sed -n "$((reload_before + 1))p")
	[ -z "$line" ] || break
	sleep 0.1
done
case $line in
"vigild: reload refused, nothing changed: $conf:$bad_line: "*) echo "  $line" ;;
*) fail "e: want 'vigild: reload refused, nothing changed: $conf:$bad_line: ...', got '$line'" ;;
esac
send B "$K4" # still the current key: decrypted, not under a previous one
send A "$K2" # still revoked
wait_stats e "$(accounted B $((7 * GOP_PKTS))) and .totals.unknown_ssrc + .cameras.A.rx_packets >= $((5 * GOP_PKTS))"
expect e "$work/stats.json" .cameras.B.decrypted=$((6 * GOP_PKTS)) \
	.cameras.B.decrypted_prev_key=$((2 * GOP_PKTS)) .cameras.B.auth_failed=$GOP_PKTS \
	.totals.unknown_ssrc=$((2 * GOP_PKTS)) .cameras.A.state=removed
[ "$(cam_counters A)" = "$a_before" ] || fail "e: A's counters changed: before $a_before, after $(cam_counters A)"
jq -e '.cameras | has("C") | not' "$work/stats.json" >/dev/null || fail "e: camera C appeared from the refused file"

note "the summary"
rc=0
proc_stop "$vigild_pid" INT 60 || rc=$?
[ "$rc" = 0 ] || fail "vigild exited $rc after SIGINT; log tail: $(tail -n 20 "$log")"

# count_frames DIR: video PES packets (one per frame) in DIR's .ts segments.
count_frames() {
	"$PYTHON" - "$1" <<'PY'
import glob, sys
frames = 0
for path in sorted(glob.glob(sys.argv[1] + "/*.ts")):
    data = open(path, "rb").read()
    pmt, video = None, None
    for off in range(0, len(data) - 187, 188):
        p = data[off:off + 188]
        if p[0] != 0x47:
            sys.exit(f"{path}: lost TS sync at {off}")
        pid, pusi = (p[1] & 0x1F) << 8 | p[2], p[1] & 0x40
        start = 4 + (1 + p[4] if p[3] & 0x20 else 0)
        if pid == 0 and pusi and pmt is None:
            s = start + 1 + p[start]  # pointer field
            pmt = (p[s + 10] & 0x1F) << 8 | p[s + 11]
        elif pid == pmt and pusi and video is None:
            s = start + 1 + p[start]
            i, end = s + 12 + ((p[s + 10] & 0x0F) << 8 | p[s + 11]), s + 3 + ((p[s + 1] & 0x0F) << 8 | p[s + 2]) - 4
            while i < end:
                if p[i] == 0x1B:  # H.264
                    video = (p[i + 1] & 0x1F) << 8 | p[i + 2]
                i += 5 + ((p[i + 3] & 0x0F) << 8 | p[i + 4])
        elif pid == video and pusi:
            frames += 1
print(frames)
PY
}

summary=$work/summary.json
if [ "$rc" = 0 ] && jq -e '.totals and .cameras' "$summary" >/dev/null 2>&1; then
	expect summary "$summary" \
		.cameras.A.state=removed .cameras.A.rx_packets=$((3 * GOP_PKTS)) \
		.cameras.A.decrypted=$((3 * GOP_PKTS)) .cameras.A.decrypted_prev_key=$GOP_PKTS \
		.cameras.A.auth_failed=0 .cameras.A.replayed=0 .cameras.A.payload_invalid=0 \
		.cameras.A.frames_enqueued=$((3 * FRAMES)) .cameras.A.frames_recorded=$((3 * FRAMES)) \
		.cameras.A.frames_dropped=0 \
		.cameras.B.state=live .cameras.B.rx_packets=$((7 * GOP_PKTS)) \
		.cameras.B.decrypted=$((6 * GOP_PKTS)) .cameras.B.decrypted_prev_key=$((2 * GOP_PKTS)) \
		.cameras.B.auth_failed=$GOP_PKTS .cameras.B.replayed=0 .cameras.B.payload_invalid=0 \
		.cameras.B.frames_enqueued=$((6 * FRAMES)) .cameras.B.frames_recorded=$((6 * FRAMES)) \
		.cameras.B.frames_dropped=0 \
		.totals.decrypted=$((9 * GOP_PKTS)) .totals.decrypted_prev_key=$((3 * GOP_PKTS)) \
		.totals.unknown_ssrc=$((2 * GOP_PKTS)) .totals.auth_failed=$GOP_PKTS .totals.replayed=0 \
		.totals.payload_invalid=0 .totals.frames_dropped=0 .totals.frames_recorded=$((9 * FRAMES)) \
		.totals.write_errors=0
	jq -e '.cameras | keys == ["A", "B"]' "$summary" >/dev/null ||
		fail "summary: cameras $(jq -c '.cameras | keys' "$summary"), want [\"A\",\"B\"]"
	check_invariant summary "$summary"
	for cam in A B; do
		dir=$(jq -r --arg c "$cam" '.cameras[$c].recording_dir' "$summary")
		want=$(jq -r --arg c "$cam" '.cameras[$c].frames_recorded' "$summary")
		got=$(count_frames "$dir") || got="unreadable: $got"
		[ "$got" = "$want" ] || fail "summary: $dir holds $got frames, the summary says $want recorded"
		! compgen -G "$dir/*.partial" >/dev/null || fail "summary: partial segments left in $dir"
	done
	echo "  $(jq -c '{A: .cameras.A | {state, decrypted, decrypted_prev_key, frames_recorded}, B: .cameras.B | {state, decrypted, decrypted_prev_key, auth_failed, frames_recorded}, unknown_ssrc: .totals.unknown_ssrc}' "$summary")"
else
	fail "summary is not the expected JSON: $(head -c 400 "$summary")"
fi

# ---- f. grace expiry: KeyGraceSeconds = 1 ------------------------------------

note "f. a second vigild, KeyGraceSeconds = 1: camera C rotated, its old key expires"
conf_dir=$work/f conf=$work/f/vigil.conf log=$work/f/vigild.log
mkdir -p "$conf_dir"
K6=$(newkey) K7=$(newkey)
write_conf 1 "C=$K6"
test_start_vigild "$vigild" "$conf" "$work/f/summary.json" "$log"
vigild_pid=$PROC_PID
send C "$K6"
wait_stats f "$(accounted C "$GOP_PKTS")"
write_conf 1 "C=$K7"
reload "reload: 0 added, 1 rotated, 0 revoked, 0 moved to a new SSRC"
# Wait out the grace period (1 s from the reload) and the control loop's tick.
while ((${EPOCHREALTIME/./} - RELOAD_AT < 2000000)); do sleep 0.1; done
send C "$K6" --again # expired
send C "$K7"
wait_stats f "$(accounted C $((3 * GOP_PKTS)))"
rc=0
proc_stop "$vigild_pid" INT 60 || rc=$?
[ "$rc" = 0 ] || fail "f: vigild exited $rc after SIGINT; log tail: $(tail -n 20 "$log")"
if [ "$rc" = 0 ] && jq -e '.cameras.C' "$work/f/summary.json" >/dev/null 2>&1; then
	expect f "$work/f/summary.json" .cameras.C.decrypted=$((2 * GOP_PKTS)) .cameras.C.decrypted_prev_key=0 \
		.cameras.C.auth_failed=$GOP_PKTS .cameras.C.replayed=0 \
		.cameras.C.frames_enqueued=$((2 * FRAMES)) .cameras.C.frames_recorded=$((2 * FRAMES))
else
	fail "f: summary is not the expected JSON: $(head -c 400 "$work/f/summary.json")"
fi

test_finish live_keys
