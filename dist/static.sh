#!/usr/bin/env bash
# The release artifact: a static, stripped x86_64 binary (glibc with
# +crt-static; no musl target can be installed on our build machines).
# Non-PIE (relocation-model=static) drops 65 KiB of relocations that only
# address-space randomisation of the binary itself would use.
#   dist/static.sh [cargo build args, e.g. --features metrics]
# Prints the path and size of the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
    cargo build --release --locked --target "$target" "$@" >&2
bin="${CARGO_TARGET_DIR:-target}/$target/release/leafvip"
echo "$bin $(stat -c %s "$bin")"
