#!/usr/bin/env bash
# The release artifact: a static, stripped x86_64 binary (glibc with
# +crt-static; no musl target can be installed on our build machines).
# Non-PIE (relocation-model=static) drops 65 KiB of relocations that only
# address-space randomisation of the binary itself would use. Identical
# code folding (rust-lld, the toolchain's default linker here, --icf=all)
# keeps one copy of functions whose machine code is the same, which
# generics make common: 74 KiB less with `kube` when it came in (--icf=safe
# folds nothing: rustc emits no address-significance table). Rust makes
# no promise that two functions have distinct addresses, so nothing can
# rely on it; the .deb (tests/nspawn.sh), the image (tests/container.sh)
# and the budgets' runs (bench/gates.sh) all run this build.
#   dist/static.sh [cargo build args, e.g. --features metrics]
# Prints the path and size of the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,--icf=all" \
    cargo build --release --locked --target "$target" "$@" >&2
bin="${CARGO_TARGET_DIR:-target}/$target/release/leafvip"
echo "$bin $(stat -c %s "$bin")"
