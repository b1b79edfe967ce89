#!/usr/bin/env bash
# Runs every test. The protocol core does not depend on cargo features, so
# it runs once; the leafvip crate's unit tests run with each feature on its
# own; the integration tests (including the root-only interop and fault
# tests in network namespaces) run with all features. With
# LEAFVIP_REQUIRE_ROOT_TESTS=1 a missing root or router binary fails them
# instead of skipping them. The router builds (aarch64, armv7) run their
# tests under qemu-user, and are packaged, at the end.
set -euo pipefail
cd "$(dirname "$0")"

# As root on Debian, install the routers and tools the interop tests use.
need=()
for pair in bird:bird2 birdc:bird2 gobgpd:gobgpd gobgp:gobgpd vtysh:frr kubectl:kubernetes-client tcpdump:tcpdump ip:iproute2 ss:iproute2 curl:curl debootstrap:debootstrap systemd-nspawn:systemd-container podman:podman runc:runc keepalived:keepalived arping:arping ndisc6:ndisc6; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing ${need[*]}"
    # Keep package scripts from starting daemons in the root namespace.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u)
    rm -f /usr/sbin/policy-rc.d
fi
# And the router builds' toolchain (dist/arch.sh): Debian's rustc-web, the
# arm64 and armhf std by multiarch, the cross linkers, qemu-user.
# routers_ready says what is missing on stderr.
routers_ready() { (. dist/arch.sh && arch_setup aarch64 && arch_setup armv7); }
if ! routers_ready 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    . dist/arch.sh
    echo "==> installing $ARCH_PACKAGES"
    dpkg --add-architecture arm64
    dpkg --add-architecture armhf
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $ARCH_PACKAGES
fi

run() {
    echo "==> cargo test $*"
    cargo test "$@"
}

run -p leafvip-bgp --all-targets
run -p leafvip-bfd --all-targets
run -p leafvip-vrrp --all-targets
run -p kube-test-server --all-targets
run -p leafvip --lib --bins --no-default-features
for feature in kube l2 bfd metrics; do
    run -p leafvip --lib --bins --no-default-features --features "$feature"
done
run -p leafvip --all-targets --all-features

# The package, installed for real: dpkg -i on this machine, then the unit
# under a real systemd in a container; then the container image under
# podman (needs root).
if [ "$(id -u)" = 0 ]; then
    echo "==> the .deb: dpkg -i, check, purge; then under systemd in a container"
    command -v cargo-deb >/dev/null || cargo install --locked cargo-deb@3.8.0
    deb=$(dist/deb.sh | tail -1)
    dist/deb.sh --check
    tests/nspawn.sh "$deb"
    echo "==> traffic through systemctl restart and a reinstall of the package, from the client"
    LEAFVIP_HITLESS_DEB="$deb" run -p leafvip --all-features --test hitless -- --ignored --nocapture systemd_
    echo "==> the image: deploy/Containerfile built and run by podman against BIRD"
    read -r bin _ < <(dist/static.sh --features kube,metrics,bfd,l2 | tail -1)
    cp "$bin" /var/tmp/leafvip-image-bin
    tests/container.sh /var/tmp/leafvip-image-bin
    echo "==> the routers' packages: a .deb for arm64 and armhf, the images and their manifest"
    dist/deb.sh --target aarch64 --check
    dist/deb.sh --target armv7 --check
    dist/image.sh --check
elif [ "${LEAFVIP_REQUIRE_ROOT_TESTS:-}" = 1 ]; then
    echo "the package tests need root (LEAFVIP_REQUIRE_ROOT_TESTS=1)" >&2
    exit 1
else
    echo "SKIPPED: the package tests need root"
fi

# The router builds under qemu-user: the unit tests, and (as root) a run
# against BIRD in namespaces (tests/qemu.sh).
if routers_ready 2>/dev/null; then
    tests/qemu.sh aarch64
    tests/qemu.sh armv7
elif [ "${LEAFVIP_REQUIRE_ROOT_TESTS:-}" = 1 ]; then
    routers_ready || true
    echo "the router builds need their toolchain (LEAFVIP_REQUIRE_ROOT_TESTS=1)" >&2
    exit 1
else
    echo "SKIPPED: the router builds need Debian's rustc-web toolchain (README, Routers)"
fi
