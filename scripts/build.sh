#!/usr/bin/env bash
# Builds what ships: the `topictable` binary and the first-party plugins, in
# release mode and with `-p` only, so each crate gets exactly the features it
# asks for (not the union over the workspace that `cargo build --workspace`
# gives). The plugins go to `plugins/` next to the binary, where topictable
# looks by default. scripts/demo.sh, the Dockerfile and the shipped-binary
# test all build with this script.
#
#   scripts/build.sh                 # into target/release/
#   CARGO_TARGET_DIR=DIR scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(-p topictable)
for dir in plugins/*/; do
    [ -f "$dir/Cargo.toml" ] && packages+=(-p "topictable-plugin-$(basename "$dir")")
done
cargo build --release --locked --quiet "${packages[@]}"
out="${CARGO_TARGET_DIR:-target}/release"
mkdir -p "$out/plugins"
for lib in "$out"/libtopictable_plugin_*.so "$out"/libtopictable_plugin_*.dylib; do
    [ -e "$lib" ] && cp "$lib" "$out/plugins/"
done
echo "built $out/topictable and $(ls "$out/plugins" | wc -l) plugins in $out/plugins/"
