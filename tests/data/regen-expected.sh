#!/usr/bin/env bash
# Regenerates the conformance suite's expected text with the real tool: Debian's tcpdump 4.99.3.
#   tests/data/conformance.tsv: id, capture (relative to tests/data/corpus), flags, expected file
#   tests/data/expected/ID.out.gz: `TZ=GMT0 tcpdump -# -n -tttt FLAGS -r CAPTURE`
# Cases: the tcpdump corpus's CASES.tsv rows that need no -E keys, and every capture at -n, -v, -vv.
set -euo pipefail
cd "$(dirname "$0")"
v=$(tcpdump --version 2>&1 | head -1)
case "$v" in *4.99.3*) ;; *) echo "need tcpdump 4.99.3, have: $v" >&2; exit 1 ;; esac
rm -rf expected && mkdir expected
out=conformance.tsv
printf 'id\tcapture\tflags\texpected\n' > "$out"
add() { # id capture flags...
    local id=$1 cap=$2; shift 2
    (cd corpus && TZ=GMT0 tcpdump -# -n -tttt "$@" -r "$cap" 2>/dev/null | gzip -9n > "../expected/$id.out.gz") || true
    printf '%s\t%s\t%s\t%s\n' "$id" "$cap" "$*" "expected/$id.out.gz" >> "$out"
}
# tcpdump's own cases (flags as in CASES.tsv; -E ones need keys and are left out)
awk -F'\t' 'NR > 1 { print $1 "|" $2 "|" $3 }' corpus/tcpdump/CASES.tsv | while IFS='|' read -r name pcap flags; do
    case "$flags" in *-E*) continue ;; esac
    case "$flags" in *--*) continue ;; esac # a tcpdump filter expression: we print every packet
    # shellcheck disable=SC2086
    add "case-$name" "tcpdump/$pcap" $flags
done
find corpus -type f \( -name '*.pcap' -o -name '*.cap' -o -name '*.pcapng' \) | sort | while read -r f; do
    rel=${f#corpus/}
    id=$(echo "$rel" | tr '/' '_')
    add "$id-n" "$rel"
    add "$id-v" "$rel" -v
    add "$id-vv" "$rel" -vv
done
echo "$(($(wc -l < "$out") - 1)) cases written to $out"
