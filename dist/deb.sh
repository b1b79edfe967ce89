#!/usr/bin/env bash
# The Debian package: the static binary (with the metrics endpoint, BFD and
# layer-2 mode; the unit drop-in that lets layer-2 mode open its packet
# sockets is an example in /usr/share/doc/leafvip/examples), the
# hardened unit, a commented config and labels file in /etc/leafvip, and a
# system user. Needs cargo-deb (`cargo install cargo-deb`); the arm
# packages need the toolchain in dist/arch.sh.
#   dist/deb.sh [--target x86_64|aarch64|armv7]            build; prints the .deb's path
#   dist/deb.sh [--target x86_64|aarch64|armv7] --check    and check it:
#     x86_64: install it with dpkg -i, check it, purge it;
#     aarch64 (arm64), armv7 (armhf): its architecture and contents
#     (dpkg-deb), and the binary and config it holds, run under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=x86_64
if [ "${1:-}" = --target ]; then
    arch=$2
    shift 2
fi
. dist/arch.sh
arch_setup "$arch"
dist/static.sh --target "$arch" --features metrics,bfd,l2 >&2
deb=$(CARGO_TARGET_DIR="$TARGET_DIR" cargo deb --no-build --target "$TRIPLE" 2>/dev/null | tail -1)
echo "$deb"
[ "${1:-}" = --check ] || exit 0
fail() { echo "deb check: FAIL: $*" >&2; exit 1; }

if [ -n "$QEMU" ]; then
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$DEB_ARCH" ] || fail "$deb: Architecture $(dpkg-deb -f "$deb" Architecture), not $DEB_ARCH"
    contents=$(dpkg-deb -c "$deb" | awk '{print $1, $6}')
    for want in "-rwxr-xr-x ./usr/bin/leafvip" "-rw-r--r-- ./etc/leafvip/leafvip.toml" \
        "-rw-r--r-- ./etc/leafvip/labels" "-rw-r--r-- ./usr/lib/systemd/system/leafvip.service"; do
        echo "$contents" | grep -qxF -- "$want" || fail "$deb has no $want: $contents"
    done
    for f in conffiles postinst postrm; do
        dpkg-deb -I "$deb" "$f" >/dev/null || fail "$deb has no $f"
    done
    [ "$(dpkg-deb -I "$deb" conffiles | sort | tr '\n' ' ')" = "/etc/leafvip/labels /etc/leafvip/leafvip.toml " ] \
        || fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"
    x=$(mktemp -d /var/tmp/leafvip-deb.XXXXXX)
    trap 'rm -rf "$x"' EXIT
    dpkg-deb -x "$deb" "$x"
    bin=$x/usr/bin/leafvip
    [ "$(elf_machine "$bin")" = "$ELF_MACHINE" ] || fail "/usr/bin/leafvip is not a $arch binary"
    cmp -s "$bin" "$TARGET_DIR/$TRIPLE/release/leafvip" || fail "/usr/bin/leafvip is not the build dist/static.sh made"
    "$QEMU" "$bin" version | grep -q '^leafvip ' || fail "the packaged binary does not run under $QEMU"
    # The shipped config, as `leafvip check` reads it once installed (its
    # labels file at the extracted path).
    sed "s|/etc/leafvip/labels|$x/etc/leafvip/labels|" "$x/etc/leafvip/leafvip.toml" >"$x/leafvip.toml"
    "$QEMU" "$bin" check -c "$x/leafvip.toml" >/dev/null || fail "leafvip check on the shipped config"
    echo "deb check: $deb is $DEB_ARCH, holds the $arch binary, unit, config and labels; it runs under $QEMU and checks the shipped config"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "--check needs root" >&2; exit 1; }
if dpkg -s leafvip >/dev/null 2>&1; then
    echo "--check installs and purges leafvip: not on a host where it is installed" >&2
    exit 1
fi
trap 'dpkg --purge leafvip >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb"
/usr/bin/leafvip version
leafvip check -c /etc/leafvip/leafvip.toml
getent passwd leafvip
test -f /usr/lib/systemd/system/leafvip.service
systemd-analyze verify /usr/lib/systemd/system/leafvip.service
dpkg --purge leafvip
if getent passwd leafvip >/dev/null; then echo "purge left the leafvip user" >&2; exit 1; fi
if [ -e /usr/bin/leafvip ]; then echo "purge left /usr/bin/leafvip" >&2; exit 1; fi
echo "deb check: installed, verified and purged $deb"
