#!/usr/bin/env bash
# Fuzzes every target in fuzz/ for a bounded time and prints a table of
# what each did (runs, coverage, crashes). Exits non-zero on any crash,
# leaving the input under fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh                       # every target, 45 s each, two at a time
#   FUZZ_SECONDS=600 scripts/fuzz.sh avro_raw protobuf
#
# Each run starts from the committed seeds (fuzz/seeds/TARGET) and the
# inputs of crashes found before (fuzz/regressions/TARGET), which are first
# replayed on their own. The corpus a run grows is kept in .cache/fuzz/ and
# reused by the next run on the same machine. Stable toolchain, no
# sanitizer (`-s none`); with nightly, `cargo +nightly fuzz run TARGET`
# adds AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_EACH="${FUZZ_SECONDS:-45}"
JOBS="${FUZZ_JOBS:-2}"
WORK="$ROOT/.cache/fuzz"
mkdir -p "$WORK"

cd fuzz
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# The targets built without optimizations (`--dev`), each with the cargo
# feature of its own name: the pipeline parser lives in the host crate, whose
# dependencies (DataFusion, librdkafka) take most of an hour to build
# optimized and instrumented on two cores, and a few minutes unoptimized; the
# parser is fast enough either way. Behind the feature, the optimized codec
# targets do not build the host crate at all.
DEV_TARGETS=" pipeline "
is_dev() { [[ "$DEV_TARGETS" == *" $1 "* ]]; }

echo "==> building ${#targets[@]} fuzz targets (cargo fuzz build -s none)"
for t in "${targets[@]}"; do
    if is_dev "$t"; then
        cargo fuzz build -s none --dev --features "$t" "$t"
    else
        cargo fuzz build -s none "$t"
    fi
done
# The targets run from here, so that editing the sources during a long run
# does not rebuild them under it (cargo fuzz run would).
TRIPLE_DIR="$ROOT/fuzz/target/$(rustc -vV | sed -n 's/^host: //p')"
bin() { if is_dev "$1"; then echo "$TRIPLE_DIR/debug/$1"; else echo "$TRIPLE_DIR/release/$1"; fi; }

# Replays the crash inputs kept as regressions: each must now run clean.
for t in "${targets[@]}"; do
    if compgen -G "regressions/$t/*" >/dev/null; then
        "$(bin "$t")" regressions/"$t"/* >"$WORK/$t.replay.log" 2>&1 \
            || { echo "regression inputs of $t fail again:"; tail -n 30 "$WORK/$t.replay.log"; exit 1; }
    fi
done

run_one() {
    local t="$1" corpus="$WORK/corpus/$1"
    mkdir -p "$corpus"
    local dirs=("$corpus") d
    for d in "seeds/$t" "regressions/$t"; do
        if [ -d "$d" ]; then dirs+=("$d"); fi
    done
    local rc=0
    mkdir -p "$ROOT/fuzz/artifacts/$t"
    "$(bin "$t")" "${dirs[@]}" -artifact_prefix="$ROOT/fuzz/artifacts/$t/" \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$WORK/$t.log" 2>&1 || rc=$?
    echo "$rc" >"$WORK/$t.rc"
}

echo "==> fuzzing each target for ${SECONDS_EACH} s, ${JOBS} at a time"
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

printf '\n%-16s %8s %12s %8s %14s %9s %8s\n' target seconds runs exec/s "edges (of)" features crashes
status=0
for t in "${targets[@]}"; do
    log="$WORK/$t.log"
    rc=$(cat "$WORK/$t.rc")
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
    speed=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | grep -Eo 'cov: [0-9]+' | grep -Eo '[0-9]+' || echo 0)
    ft=$(echo "$last" | grep -Eo 'ft: [0-9]+' | grep -Eo '[0-9]+' || echo 0)
    # Instrumented edges of the whole binary (the codec and its dependencies).
    edges=$(grep -Eo 'Loaded 1 modules +\([0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
    crashes=0
    if [ "$rc" != 0 ]; then
        crashes=1
        status=1
    fi
    printf '%-16s %8s %12s %8s %14s %9s %8s\n' "$t" "$SECONDS_EACH" "$runs" "$speed" "$cov ($edges)" "$ft" "$crashes"
done
if [ "$status" != 0 ]; then
    for t in "${targets[@]}"; do
        if [ "$(cat "$WORK/$t.rc")" != 0 ]; then
            echo
            echo "==> $t crashed:"
            grep -E "panicked|ERROR|SUMMARY|Test unit written|Base64" -A2 "$WORK/$t.log" | head -n 20
            echo "(keep the input under fuzz/regressions/$t/ once fixed; FUZZ_SHOW=1 prints the schema a structure-aware target drew)"
        fi
    done
fi
exit "$status"
