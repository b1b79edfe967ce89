#!/usr/bin/env bash
# The release artifact: a static, stripped binary for x86_64 (glibc with
# +crt-static, non-PIE, identical code folding; rustup's toolchain), or for
# the routers' aarch64 and armv7 (glibc with +crt-static; Debian's
# rustc-web toolchain and the GNU cross linkers, in a target directory of
# their own): dist/arch.sh has the flags and why. The .deb
# (tests/nspawn.sh, dist/deb.sh), the images (tests/container.sh,
# dist/image.sh), the emulated runs (tests/qemu.sh) and the budgets' runs
# (bench/gates.sh) all run this build.
#   dist/static.sh [--target x86_64|aarch64|armv7] [cargo build args, e.g. --features metrics]
# Prints the path and size of the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=x86_64
if [ "${1:-}" = --target ]; then
    arch=$2
    shift 2
fi
. dist/arch.sh
arch_setup "$arch"
RUSTFLAGS="${RUSTFLAGS:-} $ARCH_RUSTFLAGS" \
    "$CARGO" build --release --locked --target "$TRIPLE" "$@" >&2
bin="$TARGET_DIR/$TRIPLE/release/leafvip"
[ "$(elf_machine "$bin")" = "$ELF_MACHINE" ] || { echo "$bin is not a $arch binary" >&2; exit 1; }
echo "$bin $(stat -c %s "$bin")"
