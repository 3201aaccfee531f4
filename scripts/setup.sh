#!/usr/bin/env bash
# Installs what topictable needs, once: whatever is already there is skipped,
# so a second call returns in well under a second. Both scripts/demo.sh and
# scripts/test.sh source this file; it can also be run on its own:
#
#   scripts/setup.sh build   # what building topictable needs (Debian/Ubuntu packages:
#                            # a C compiler, cmake, pkg-config, and the libraries
#                            # librdkafka links: OpenSSL, zlib, zstd, curl)
#   scripts/setup.sh test    # the above, plus what the tests need: valgrind, Python's
#                            # venv, the tansu Kafka broker (~15 min to build the first
#                            # time, then cached in ~/.cargo/bin), confluent-kafka
#                            # (cached in .cache/venv), headless Chromium and Firefox
#                            # with puppeteer-core (tests/browser/node_modules), and
#                            # cargo-fuzz (cached in ~/.cargo/bin)
#
# On a system without apt-get it prints what to install and carries on.

setup_step() { printf '\n==> %s\n' "$*"; }

# Installs the Debian packages named (those not installed yet).
setup_apt() {
    local need=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        echo "topictable needs these packages (Debian names): ${need[*]}; install them with your package manager" >&2
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "error: missing packages ${need[*]}; run as root: apt-get install ${need[*]}" >&2
            return 1
        fi
        sudo="sudo"
    fi
    setup_step "installing system packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
}

# What `cargo build -p topictable` needs: rdkafka builds librdkafka from
# source with cmake and links these libraries.
setup_build() {
    if command -v dpkg >/dev/null; then
        setup_apt build-essential cmake pkg-config libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev
    else
        local missing=() tool
        for tool in cc c++ cmake pkg-config; do
            command -v "$tool" >/dev/null || missing+=("$tool")
        done
        [ ${#missing[@]} -eq 0 ] || echo "warning: not found: ${missing[*]} (the build needs them, and OpenSSL, zlib, zstd and curl headers)" >&2
    fi
}

# The real Kafka broker of the end-to-end tests. Building it takes ~15 minutes
# on 2 cores, so the binary is cached in ~/.cargo/bin (cargo install skips it
# when it is already there).
setup_tansu() {
    if ! command -v tansu >/dev/null && [ ! -x "$HOME/.cargo/bin/tansu" ]; then
        setup_step "installing the tansu broker (cached in ~/.cargo/bin; ~15 min the first time)"
        cargo install tansu --locked --features dynostore,libsql
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
}

# cargo-fuzz, for the bounded fuzzing runs (scripts/fuzz.sh). Its
# `--sanitizer none` mode builds on the stable toolchain; cached in ~/.cargo/bin.
setup_cargo_fuzz() {
    if ! command -v cargo-fuzz >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
        setup_step "installing cargo-fuzz (cached in ~/.cargo/bin; ~1 min the first time)"
        cargo install cargo-fuzz --locked
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
}

# confluent-kafka for Python: the independent Kafka client and the reference
# for the Confluent wire format (Avro/Protobuf serializers, Schema Registry).
setup_python_clients() {
    local root="$1" venv="$1/.cache/venv"
    local requirements="$root/tests/python/requirements.txt"
    local stamp="$venv/.requirements"
    if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
        setup_step "installing Python test clients into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --upgrade pip
        "$venv/bin/pip" install --quiet -r "$requirements"
        cp "$requirements" "$stamp"
    fi
    export TOPICTABLE_TEST_PYTHON="$venv/bin/python"
}

# Headless Chromium and Firefox ESR (Debian's) and puppeteer-core (npm,
# pinned in tests/browser/package-lock.json) for the web view's browser tests.
setup_browser() {
    local dir="$1/tests/browser"
    setup_apt chromium chromium-driver firefox-esr
    command -v node >/dev/null || setup_apt nodejs npm
    if [ ! -d "$dir/node_modules/puppeteer-core" ] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"; then
        setup_step "installing puppeteer-core into $dir/node_modules"
        (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
        cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
    fi
}

setup_test() {
    setup_build
    setup_apt valgrind python3 python3-venv
    setup_tansu
    setup_cargo_fuzz
    setup_python_clients "$1"
    setup_browser "$1"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    root=$(cd "$(dirname "$0")/.." && pwd)
    case "${1:-build}" in
        build) setup_build ;;
        test) setup_test "$root" ;;
        *) echo "usage: scripts/setup.sh [build|test]" >&2; exit 2 ;;
    esac
fi
