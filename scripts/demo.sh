#!/usr/bin/env bash
# The main job, on a fresh machine with Rust installed: installs the system
# packages the build needs (scripts/setup.sh; skipped when present), builds
# topictable and its first-party plugins in release mode (scripts/build.sh),
# lists the plugins, and runs `topictable demo`: an embedded Kafka broker, a
# generated quotes/orders stream, and the live totalNotional table of the
# "Perform multiple operations" example in Deephaven's Kafka guide.
# Extra arguments go to `topictable demo` (e.g. --exit-after 20s).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_build
scripts/build.sh
out="${CARGO_TARGET_DIR:-target}/release"
"$out/topictable" plugins list
echo
exec "$out/topictable" demo "$@"
