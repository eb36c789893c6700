#!/usr/bin/env bash
# Stores Debian's tcpdump 4.99.3 text for the IKE-over-TCP lab examples (tests/ike_tcp.rs compares
# `dump` with it): ID.out = `TZ=GMT0 tcpdump -# -n -tttt FLAGS -r examples/EXAMPLE/SIDE.pcap`,
# listed in cases.tsv (id, capture relative to the repository, flags).
set -euo pipefail
cd "$(dirname "$0")"
v=$(tcpdump --version 2>&1 | head -1)
case "$v" in *4.99.3*) ;; *) echo "need tcpdump 4.99.3, have: $v" >&2; exit 1 ;; esac
rm -f ./*.out
printf 'id\tcapture\tflags\n' > cases.tsv
for ex in ../../../examples/*-tcp-*/; do
    ex=$(basename "$ex")
    for side in sg1 sg2; do
        for flags in "" "-v" "-vv" "-e -v"; do
            id="$ex-$side$(echo "$flags" | tr -d ' ')"
            # shellcheck disable=SC2086
            TZ=GMT0 tcpdump -# -n -tttt $flags -r "../../../examples/$ex/$side.pcap" > "$id.out" 2>/dev/null
            printf '%s\t%s\t%s\n' "$id" "examples/$ex/$side.pcap" "$flags" >> cases.tsv
        done
    done
done
