#!/bin/bash
# SPDX-License-Identifier: MIT
# The configuration keys the parser knows (control/config_keys.c's table,
# the one list) are the keys vigild(8) and the README's reference document,
# section by section: a key added to the parser without its documentation,
# or documented and gone, fails here.
# usage: config_docs.sh SOURCE_ROOT
set -euo pipefail
src=$1
fail=0

# "Name" per section from the table: {"Key", INGEST(..)/CAMERA(..) or
# .section = SEC_INGEST/SEC_CAMERA.
parser_keys() {
	sed -n 's/^ *{"\([A-Za-z]*\)", *\(INGEST\|CAMERA\|STORAGE\|CLUSTER\|.section = SEC_INGEST\|.section = SEC_CAMERA\).*/\2 \1/p' \
		"$src/control/config_keys.c" | sed 's/.section = SEC_//' | awk -v s="$1" '$1 == s {print $2}' | sort -u
}

# The man page: *Key* (or *Key*, *Key*) heading lines under "## [Section]".
man_keys() {
	awk -v s="## [$1]" '/^## \[/ {on = ($0 == s); next} /^# / {on = 0}
		on && /^\*[A-Z]/ {n = split($0, a, /\*, \*|\*/); for (i = 1; i <= n; i++) if (a[i] ~ /^[A-Za-z]+$/) print a[i]}' \
		"$src/docs/man/vigild.8.scd" | sort -u
}

# The README's table: | `[Section]` | `Key` | ... then | | `Key`, `Key` | ...
readme_keys() {
	awk -v s="\`[$1]\`" -F'|' '/^\| `\[/ {on = (index($2, s) > 0)} /^$/ {on = 0}
		on && /^\|/ {n = split($3, a, /`, `|`/); for (i = 1; i <= n; i++) if (a[i] ~ /^[A-Za-z]+$/) print a[i]}' \
		"$src/README.md" | sort -u
}

for section in INGEST STORAGE CLUSTER CAMERA; do
	name=${section,,}
	name=${name^}
	parser=$(parser_keys "$section")
	[ "$(wc -l <<< "$parser")" -ge 5 ] || { echo "not ok: fewer than 5 [$name] keys read from config_keys.c"; exit 1; }
	for doc in man readme; do
		got=$(${doc}_keys "$name")
		if [ "$got" = "$parser" ]; then
			echo "ok: [$name]: the $doc page documents the parser's $(wc -l <<< "$parser") keys"
		else
			echo "not ok: [$name]: the $doc page and the parser differ (< parser only, > $doc only):"
			diff <(echo "$parser") <(echo "$got") | grep '^[<>]' || true
			fail=1
		fi
	done
done
exit $fail
