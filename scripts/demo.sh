#!/usr/bin/env bash
# The main job: builds topictable and its first-party plugins in release mode,
# puts the plugins in `plugins/` next to the binary (where topictable looks by
# default), lists them, and runs `topictable demo`: an embedded Kafka broker,
# a generated quotes/orders stream, and the seed's live totalNotional table.
# Extra arguments go to `topictable demo` (e.g. --exit-after 20s).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(-p topictable)
for dir in plugins/*/; do
    [ -f "$dir/Cargo.toml" ] && packages+=(-p "topictable-plugin-$(basename "$dir")")
done
cargo build --release --quiet "${packages[@]}"
mkdir -p target/release/plugins
for lib in target/release/libtopictable_plugin_*.so target/release/libtopictable_plugin_*.dylib; do
    [ -e "$lib" ] && cp "$lib" target/release/plugins/
done
target/release/topictable plugins list
echo
exec target/release/topictable demo "$@"
