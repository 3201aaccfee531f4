#!/usr/bin/env bash
# Builds topictable and its first-party plugins in release mode, puts the
# plugins in `plugins/` next to the binary (where topictable looks by
# default), and lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p topictable -p topictable-plugin-simple -p csv-line-codec
mkdir -p target/release/plugins
for lib in target/release/libtopictable_plugin_*.so target/release/libtopictable_plugin_*.dylib; do
    [ -e "$lib" ] && cp "$lib" target/release/plugins/
done
exec target/release/topictable plugins list "$@"
