#!/usr/bin/env bash
# Counts the CPU instructions the `simple` decoder spends per message through
# the loaded plugin vs called directly, under callgrind: a repeatable figure on
# a noisy machine (the timing bench is `cargo bench -p topictable --bench abi_overhead`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p topictable --bench abi_overhead --no-run --quiet
exe=$(ls -t target/release/deps/abi_overhead-* | grep -v '\.d$' | head -n 1)
exe=$(realpath "$exe")
messages=${ABI_BENCH_MESSAGES:-262144}
echo "| payload | batch | direct instr/msg | plugin instr/msg | ABI instr/batch | ABI overhead |"
echo "|---|---:|---:|---:|---:|---:|"
for case in int64 string; do
    for batch in 1024 4096 16384 65536; do
        declare -A instr=()
        for path in direct plugin; do
            out=$(mktemp)
            ABI_BENCH_ONLY=$path ABI_BENCH_CASE=$case ABI_BENCH_BATCH=$batch ABI_BENCH_ROUNDS=1 ABI_BENCH_MESSAGES=$messages \
                valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='abi_overhead::run' "$exe" >/dev/null 2>&1
            instr[$path]=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
            rm -f "$out"
        done
        awk -v c="$case" -v b="$batch" -v d="${instr[direct]}" -v p="${instr[plugin]}" -v m="$messages" \
            'BEGIN { n = int((m + b - 1) / b); printf "| %s | %d | %.1f | %.1f | %.0f | %+.2f%% |\n", c, b, d/m, p/m, (p-d)/n, (p/d-1)*100 }'
    done
done
