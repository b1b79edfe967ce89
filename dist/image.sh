#!/usr/bin/env bash
# The images: deploy/Containerfile (FROM scratch, the static binary with
# kube, metrics and bfd, run as nobody) for amd64, arm64 and arm/v7, each
# built by `podman build --arch`, and one multi-arch manifest list over
# them, which a node's engine resolves to its own architecture.
#   dist/image.sh [--check] [NAME]    NAME: default localhost/leafvip:latest,
#                                     the image deploy/daemonset.yaml names
# Makes NAME-x86_64, NAME-aarch64 and NAME-armv7 and the manifest NAME, and
# prints NAME. To publish (deploy/ has the steps):
#   podman manifest push --all NAME docker://REGISTRY/leafvip:TAG
# --check, under a name of its own that it removes after: the manifest
# lists exactly those three platforms (with arm's variant v7); each image
# says its OS and architecture;
# its /leafvip is that architecture's build from dist/static.sh, and runs
# (the arm ones under qemu-user).
set -euo pipefail
cd "$(dirname "$0")/.."
. dist/arch.sh
check=
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
name=${1:-localhost/leafvip:latest}
[ -z "$check" ] || name=localhost/leafvip-check-$$:latest
podman() { command podman --runtime runc "$@"; }
fail() { echo "image: FAIL: $*" >&2; exit 1; }
work=$(mktemp -d /var/tmp/leafvip-image.XXXXXX)
cleanup() {
    if [ -n "$check" ]; then
        podman manifest rm "$name" >/dev/null 2>&1 || true
        for a in x86_64 aarch64 armv7; do podman rmi -f "$name-$a" >/dev/null 2>&1 || true; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

podman manifest rm "$name" >/dev/null 2>&1 || true
podman manifest create "$name" >/dev/null
for arch in x86_64 aarch64 armv7; do
    (
        arch_setup "$arch"
        read -r bin _ < <(dist/static.sh --target "$arch" --features kube,metrics,bfd,l2 | tail -1)
        mkdir -p "$work/$arch"
        cp "$bin" "$work/$arch/leafvip"
        podman build -q --arch "$OCI_ARCH" ${OCI_VARIANT:+--variant "$OCI_VARIANT"} \
            -f deploy/Containerfile -t "$name-$arch" "$work/$arch" >/dev/null
        podman manifest add "$name" "containers-storage:$name-$arch" >/dev/null
        echo "$name-$arch: $OCI_ARCH${OCI_VARIANT:+/$OCI_VARIANT}, $(podman image inspect --format '{{.Size}}' "$name-$arch") bytes" >&2
    )
done
[ -n "$check" ] || { echo "$name"; exit 0; }

platforms=$(podman manifest inspect "$name" |
    python3 -c 'import json,sys; print(" ".join(sorted(m["platform"]["os"] + "/" + m["platform"]["architecture"] + ("/" + m["platform"]["variant"] if m["platform"].get("variant") else "") for m in json.load(sys.stdin)["manifests"])))')
[ "$platforms" = "linux/amd64 linux/arm/v7 linux/arm64" ] || fail "the manifest lists $platforms"
echo "manifest $name: $platforms"
for arch in x86_64 aarch64 armv7; do
    (
        arch_setup "$arch"
        said=$(podman image inspect --format '{{.Os}}/{{.Architecture}}' "$name-$arch")
        [ "$said" = "linux/$OCI_ARCH" ] || fail "$name-$arch says $said"
        mnt=$(podman image mount "$name-$arch")
        cp "$mnt/leafvip" "$work/$arch.bin"
        podman image unmount "$name-$arch" >/dev/null
        [ "$(elf_machine "$work/$arch.bin")" = "$ELF_MACHINE" ] || fail "$name-$arch's /leafvip is not a $arch binary"
        cmp -s "$work/$arch.bin" "$work/$arch/leafvip" || fail "$name-$arch's /leafvip is not dist/static.sh's build"
        $QEMU "$work/$arch.bin" version | grep -q '^leafvip ' || fail "$name-$arch's /leafvip does not run"
        echo "$name-$arch: $said, /leafvip is the $arch build and runs${QEMU:+ under $QEMU}"
    )
done
echo "image: ok"
