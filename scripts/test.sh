#!/usr/bin/env bash
# Runs the whole topictable test suite. Installs what the tests need when it is
# missing (system packages, the tansu Kafka broker, the Python test clients),
# caching each, so a second run goes straight to the tests.
#
#   scripts/test.sh          # everything: format, lint, unit, loading, leak check, fuzzing
#   SKIP_LINT=1 scripts/test.sh
#   FUZZ_SECONDS=10 scripts/test.sh   # shorter fuzzing (default 45 s per target)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

step() { printf '\n==> %s\n' "$*"; }

# System packages, the tansu broker and the Python clients (scripts/setup.sh).
source scripts/setup.sh

# Incremental caches double the size of target/ and buy nothing in a clean run.
export CARGO_INCREMENTAL=0
# The shipped build (scripts/build.sh, and the end-to-end tests that run it)
# is built here at opt-level 1 without line tables: the same crates and
# features users get (what "build what ships" checks), in about half the
# build time of full optimization, which with DataFusion would take a fresh
# 2-core CI machine past its hour. Benchmarks and users' builds keep
# `--release` as Cargo.toml sets it. TOPICTABLE_SHIP_OPT_LEVEL=3 restores it.
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${TOPICTABLE_SHIP_OPT_LEVEL:-1}"
export CARGO_PROFILE_RELEASE_DEBUG=false

setup_test "$ROOT"

if [ -z "${SKIP_LINT:-}" ]; then
    step "cargo fmt --check"
    cargo fmt --all --check
    step "cargo clippy -D warnings"
    cargo clippy --workspace --all-targets --quiet -- -D warnings
    step "cargo doc -D warnings (broken links, bad doc syntax)"
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
fi

# The workspace declares the Rust version it is built with (rust-version in
# Cargo.toml): this run is that build when the toolchain is that version.
declared=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
actual=$(rustc --version | awk '{print $2}')
case "$actual" in
    "$declared" | "$declared".*) echo "rustc $actual: the declared rust-version $declared" ;;
    *) echo "warning: rustc $actual is not the declared rust-version $declared; that version is not checked by this run" >&2 ;;
esac

step "build (every crate, plugin, fixture and the topictable binary)"
cargo build --workspace --quiet

step "build what ships (scripts/build.sh: release, -p only, as scripts/demo.sh builds it)"
scripts/build.sh

step "tests"
cargo test --workspace --no-fail-fast --quiet 2>&1 | tee "$CACHE/test-output.txt"

step "leak check: the plugin-loading test under valgrind"
exe=$(cargo test -p topictable --test release_counts --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "release_counts":
        print(m["executable"])' | tail -n 1)
[ -n "$exe" ] || { echo "the release_counts test binary was not found" >&2; exit 1; }
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --error-exitcode=99 "$exe" --test-threads=1
echo "valgrind: no definite leaks"

step "fuzz: every target in fuzz/ for ${FUZZ_SECONDS:-45} s from its seeds (scripts/fuzz.sh)"
# Crash inputs kept under fuzz/regressions/ are replayed first; any crash fails the run.
scripts/fuzz.sh

# The closing line CI reads.
passed=$(grep -Eo '[0-9]+ passed' "$CACHE/test-output.txt" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$CACHE/test-output.txt" | awk '{s+=$1} END {print s+0}')
echo
echo "target/ holds $(du -sh "${CARGO_TARGET_DIR:-target}" | cut -f1) after the run"
echo "$passed passed, $failed failed"
