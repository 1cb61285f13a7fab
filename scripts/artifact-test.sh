#!/usr/bin/env bash
# The arm64 artifacts that ship, run under qemu-aarch64 against the test services and compared with the
# x86_64 build (scripts/artifact-test.py says how).
#
#   scripts/services.sh start && source .tools/services.env
#   scripts/artifact-test.sh [FUNCTION...]     # default: health contact accounts event-dispatch push-dispatch
#
# Builds what it runs: the release arm64 bootstraps with scripts/package.sh (as `sam build` does), and the
# x86_64 debug binaries and switchboard-local (for the setup) with cargo. Installs Debian's qemu-user and
# libc6-arm64-cross when qemu-aarch64 is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
functions=("$@")
[ ${#functions[@]} -gt 0 ] || functions=(health contact accounts event-dispatch push-dispatch)

if ! command -v qemu-aarch64 >/dev/null || [ ! -d /usr/aarch64-linux-gnu ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user libc6-arm64-cross
fi
scripts/package.sh "${functions[@]}"
# Every target, as `cargo test --workspace` builds them: the same dependency features, so after the tests
# this only links the binaries (building a few packages alone would compile the AWS SDK again).
cargo build --quiet --workspace --all-targets
exec python3 scripts/artifact-test.py "${functions[@]}"
