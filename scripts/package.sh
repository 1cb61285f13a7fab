#!/usr/bin/env bash
# Builds the release arm64 `bootstrap` of each function exactly as `sam build` does: the template's
# `BuildMethod: rust-cargolambda` runs `cargo lambda build --release --arm64 --bin <Binary>` for each function,
# one at a time (one at a time keeps each binary's dependency features its own, as in `sam build`). Prints
# each bootstrap's size; the files are in target/lambda/<binary>/bootstrap.
#
#   scripts/package.sh                 # every function in template.yaml
#   scripts/package.sh health contact  # these (Cargo binary names, as in Metadata.BuildProperties.Binary)
#
# Needs cargo-lambda and Zig (`pip install cargo-lambda ziglang`; installed into .tools/lambda when missing)
# and the Rust target (`rustup target add aarch64-unknown-linux-gnu`; added when missing). A cold build of
# every function takes 10-25 minutes on 2 cores; later ones reuse the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-lambda >/dev/null; then
  if [ ! -x .tools/lambda/bin/cargo-lambda ]; then
    python3 -m venv .tools/lambda
    .tools/lambda/bin/pip install --quiet cargo-lambda ziglang
  fi
  export PATH="$PWD/.tools/lambda/bin:$PATH"
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
  rustup target add aarch64-unknown-linux-gnu

# The functions the template builds, in its order.
mapfile -t all < <(awk '/BuildMethod: rust-cargolambda/ {m = 1} m && /Binary:/ {print $2; m = 0}' template.yaml)
if [ $# -gt 0 ]; then
  functions=("$@")
  for f in "${functions[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qx "$f" || { echo "package.sh: $f is not a function in template.yaml" >&2; exit 2; }
  done
else
  functions=("${all[@]}")
fi

printf '%-20s %12s %8s\n' function bytes seconds
for f in "${functions[@]}"; do
  started=$SECONDS
  cargo lambda build --release --arm64 --bin "$f" --quiet >&2
  file="target/lambda/$f/bootstrap"
  printf '%-20s %12s %8s\n' "$f" "$(stat -c %s "$file")" $((SECONDS - started))
done
