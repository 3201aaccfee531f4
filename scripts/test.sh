#!/usr/bin/env bash
# Runs the whole topictable test suite. Installs what the tests need when it is
# missing (system packages, the tansu Kafka broker, the Python test clients),
# caching each, so a second run goes straight to the tests.
#
#   scripts/test.sh          # everything: format, lint, unit, loading, leak check
#   SKIP_LINT=1 scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

step() { printf '\n==> %s\n' "$*"; }

install_system_packages() {
    local need=()
    command -v cc >/dev/null || need+=(build-essential)
    command -v valgrind >/dev/null || need+=(valgrind)
    command -v cmake >/dev/null || need+=(cmake)
    command -v python3 >/dev/null || need+=(python3 python3-venv)
    # librdkafka (built from source by rdkafka-sys) links these.
    for pkg in libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev pkg-config; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        step "installing system packages: ${need[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
    fi
}

# The real Kafka broker of the end-to-end tests. Building it takes ~15 minutes
# on 2 cores, so the binary is cached in ~/.cargo/bin (cargo install skips it
# when it is already there).
install_tansu() {
    if ! command -v tansu >/dev/null && [ ! -x "$HOME/.cargo/bin/tansu" ]; then
        step "installing the tansu broker (cached in ~/.cargo/bin; ~15 min the first time)"
        cargo install tansu --locked --features dynostore,libsql
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
}

# confluent-kafka for Python: the independent Kafka client and the reference
# for the Confluent wire format (Avro/Protobuf serializers, Schema Registry).
install_python_clients() {
    local venv="$CACHE/venv"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import confluent_kafka' 2>/dev/null; then
        step "installing Python test clients into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --upgrade pip
        "$venv/bin/pip" install --quiet -r tests/python/requirements.txt
    fi
    export TOPICTABLE_TEST_PYTHON="$venv/bin/python"
}

# Incremental caches double the size of target/ and buy nothing in a clean run.
export CARGO_INCREMENTAL=0

install_system_packages
install_tansu
install_python_clients

if [ -z "${SKIP_LINT:-}" ]; then
    step "cargo fmt --check"
    cargo fmt --all --check
    step "cargo clippy -D warnings"
    cargo clippy --workspace --all-targets --quiet -- -D warnings
fi

step "build (every crate, plugin, fixture and the topictable binary)"
cargo build --workspace --quiet

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

# The closing line CI reads.
passed=$(grep -Eo '[0-9]+ passed' "$CACHE/test-output.txt" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$CACHE/test-output.txt" | awk '{s+=$1} END {print s+0}')
echo
echo "target/ holds $(du -sh "${CARGO_TARGET_DIR:-target}" | cut -f1) after the run"
echo "$passed passed, $failed failed"
