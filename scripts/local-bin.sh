#!/usr/bin/env bash
# Builds switchboard-local (debug) exactly as `cargo test --workspace` does, with the same feature set, so the
# test command never compiles the SDK crates a second time, and prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --no-run --quiet >&2
target_dir="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
echo "$target_dir/debug/switchboard-local"
