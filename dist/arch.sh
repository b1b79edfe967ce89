# Sourced, not run: the toolchain for one target architecture, shared by
# dist/static.sh, dist/deb.sh, dist/image.sh and tests/qemu.sh.
#   . dist/arch.sh; arch_setup x86_64|aarch64|armv7
# sets TRIPLE, DEB_ARCH, OCI_ARCH (and OCI_VARIANT), QEMU (empty for the
# native target), ELF_MACHINE, CARGO, TARGET_DIR and ARCH_RUSTFLAGS, and
# exports what cargo needs for that target.
#
# x86_64 is the native build: rustup's toolchain, rust-lld, the target
# directory as it is. The arm targets use Debian's rustc-web toolchain
# (/usr/bin/cargo and /usr/bin/rustc, beside rustup's, whose std for arm64
# and armhf comes from the multiarch libstd-rust-web-dev packages), the
# GNU cross linkers, and a target directory of their own beside the
# native one, so that neither build ever rebuilds or overwrites the other.
# The packages (README, "Routers"; .ci/run installs them):
#   dpkg --add-architecture arm64; dpkg --add-architecture armhf; apt-get update
#   apt-get install rustc-web cargo-web libstd-rust-web-dev:arm64 \
#       libstd-rust-web-dev:armhf gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
#       gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static

# Debian's packages for the arm targets, for the installers in .ci/run
# and test.sh and for the error below.
ARCH_PACKAGES="rustc-web cargo-web libstd-rust-web-dev:arm64 libstd-rust-web-dev:armhf gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user-static"

arch_setup() {
    local gcc
    case "$1" in
    x86_64)
        TRIPLE=x86_64-unknown-linux-gnu DEB_ARCH=amd64 OCI_ARCH=amd64 OCI_VARIANT=
        QEMU= ELF_MACHINE=62 gcc=
        ;;
    aarch64)
        TRIPLE=aarch64-unknown-linux-gnu DEB_ARCH=arm64 OCI_ARCH=arm64 OCI_VARIANT=
        QEMU=qemu-aarch64-static ELF_MACHINE=183 gcc=aarch64-linux-gnu-gcc
        ;;
    armv7)
        TRIPLE=armv7-unknown-linux-gnueabihf DEB_ARCH=armhf OCI_ARCH=arm OCI_VARIANT=v7
        QEMU=qemu-arm-static ELF_MACHINE=40 gcc=arm-linux-gnueabihf-gcc
        ;;
    *)
        echo "unknown target '$1': x86_64, aarch64 or armv7" >&2
        return 2
        ;;
    esac
    if [ -z "$gcc" ]; then
        # Non-PIE (relocation-model=static) drops 65 KiB of relocations
        # that only address-space randomisation of the binary itself would
        # use. Identical code folding (rust-lld, the toolchain's default
        # linker here, --icf=all) keeps one copy of functions whose machine
        # code is the same, which generics make common: 74 KiB less with
        # `kube` when it came in (--icf=safe folds nothing: rustc emits no
        # address-significance table). Rust makes no promise that two
        # functions have distinct addresses, so nothing can rely on it.
        CARGO=cargo
        TARGET_DIR=${CARGO_TARGET_DIR:-target}
        ARCH_RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,--icf=all"
        return 0
    fi
    local missing=
    [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] || missing="Debian's rustc-web toolchain (/usr/bin/cargo, /usr/bin/rustc)"
    [ -d "/usr/lib/rustlib/$TRIPLE/lib" ] || missing="${missing:+$missing; }the $TRIPLE std (libstd-rust-web-dev:$DEB_ARCH)"
    command -v "$gcc" >/dev/null || missing="${missing:+$missing; }the linker $gcc"
    command -v "$QEMU" >/dev/null || missing="${missing:+$missing; }$QEMU (qemu-user-static)"
    if [ -n "$missing" ]; then
        echo "the $1 build needs $missing: install with" >&2
        echo "  dpkg --add-architecture arm64; dpkg --add-architecture armhf; apt-get update" >&2
        echo "  apt-get install $ARCH_PACKAGES" >&2
        return 1
    fi
    # GNU ld here: it is already non-PIE with +crt-static, and gold's
    # identical code folding saved nothing on aarch64 (and is deprecated).
    CARGO=/usr/bin/cargo
    # Exported, so that a script this one runs finds the same directory.
    TARGET_DIR=${LEAFVIP_CROSS_TARGET_DIR:-${CARGO_TARGET_DIR:-target}.rustc-web}
    ARCH_RUSTFLAGS="-C target-feature=+crt-static"
    local t
    t=$(echo "$TRIPLE" | tr 'a-z-' 'A-Z_')
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_DIR="$TARGET_DIR" LEAFVIP_CROSS_TARGET_DIR="$TARGET_DIR"
    export "CARGO_TARGET_${t}_LINKER=$gcc" "CARGO_TARGET_${t}_RUNNER=$QEMU" "CC_${TRIPLE//-/_}=$gcc"
}

# The ELF machine (e_machine) of FILE: 62 x86_64, 183 aarch64, 40 arm.
elf_machine() {
    od -An -t u2 -j 18 -N 2 "$1" | tr -d ' '
}
