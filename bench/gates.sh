#!/usr/bin/env bash
# The budgets that do not depend on machine speed, checked in CI (as root):
#   - the static default-features binary (dist/static.sh) is at most 2 MiB,
#     with the kube feature at most 6 MiB + 32 KiB (the hostile-peer
#     hardening of issue 20 took 17 KB of code in every build; after
#     issue 23 the kube build has 2 KB left; see the README), and as
#     packaged in the .deb (metrics, bfd and l2) at most DEB_SIZE_MAX
#     (2264 KiB: 2,282,200 bytes measured with l2, plus 36 KiB);
#     leafvip's own bytes above a static "hello world" built with the same
#     profile are reported beside it;
#   - the router builds (dist/static.sh --target, Debian's rustc-web): the
#     aarch64 binary at most AARCH64_SIZE_MAX (1792 KiB) by default and
#     AARCH64_DEB_SIZE_MAX (1920 KiB) as packaged, the armv7 one at most
#     ARMV7_SIZE_MAX (1520 KiB) and ARMV7_DEB_SIZE_MAX (1712 KiB): about
#     48 KiB over what was measured (issue 21: 1,785,312 and 1,507,988
#     bytes by default; issue 23, packaged with l2: 1,917,024 and
#     1,700,812 bytes);
#   - peak RSS (VmHWM) announcing 100k /32s to BIRD, through
#     ../shared/bench/run-anchors.sh, is at most PEAK_MAX_KIB;
#   - idle RSS with 2 BIRD peers and 10 VIPs (bench/idle.sh) is at most
#     IDLE_MAX_KIB: 2.25 MiB, room for layout noise over the 2 MiB goal;
#   - cluster mode (the kube build): peak RSS with 500 Nodes and 50
#     BgpPeers (bench/kube.sh) at most KUBE_PEAK_MAX_KIB (10 MiB), and with
#     5,000 LoadBalancer Services, 20,000 EndpointSlices and 500 Nodes
#     (bench/services.sh) at most SERVICES_PEAK_MAX_KIB (32 MiB).
# Prints one line per figure, then `gates: ok`; exits 1 on the first miss.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MAX=${SIZE_MAX:-2097152}
AARCH64_SIZE_MAX=${AARCH64_SIZE_MAX:-1835008}
AARCH64_DEB_SIZE_MAX=${AARCH64_DEB_SIZE_MAX:-1966080}
ARMV7_SIZE_MAX=${ARMV7_SIZE_MAX:-1556480}
ARMV7_DEB_SIZE_MAX=${ARMV7_DEB_SIZE_MAX:-1753088}
KUBE_SIZE_MAX=${KUBE_SIZE_MAX:-6324224}
DEB_SIZE_MAX=${DEB_SIZE_MAX:-2318336}
PEAK_MAX_KIB=${PEAK_MAX_KIB:-10240}
IDLE_MAX_KIB=${IDLE_MAX_KIB:-2304}
KUBE_PEAK_MAX_KIB=${KUBE_PEAK_MAX_KIB:-10240}
SERVICES_PEAK_MAX_KIB=${SERVICES_PEAK_MAX_KIB:-32768}
shared=${SHARED:-../shared}
work=$(mktemp -d /var/tmp/leafvip-gates.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
fail() { echo "gates: FAIL: $*" >&2; exit 1; }

read -r bin size < <(dist/static.sh | tail -1)
cp "$bin" "$work/leafvip"

# The floor: glibc and std alone, with the same profile and flags.
mkdir -p "$work/hello/src"
printf 'fn main() {\n    println!("hello");\n}\n' > "$work/hello/src/main.rs"
sed -n '/^\[profile.release\]/,/^$/p' Cargo.toml > "$work/profile"
printf '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n\n' \
    | cat - "$work/profile" > "$work/hello/Cargo.toml"
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C link-arg=-Wl,--icf=all" \
    CARGO_TARGET_DIR="$work/hello/target" cargo build -q --release \
    --manifest-path "$work/hello/Cargo.toml" --target x86_64-unknown-linux-gnu
floor=$(stat -c %s "$work/hello/target/x86_64-unknown-linux-gnu/release/hello")
echo "size: $size bytes (budget $SIZE_MAX); a static hello world is $floor, leafvip's own $((size - floor))"
[ "$size" -le "$SIZE_MAX" ] || fail "binary $size bytes > $SIZE_MAX"
read -r kube_bin kube_size < <(dist/static.sh --features kube | tail -1)
cp "$kube_bin" "$work/leafvip-kube"
echo "size with kube: $kube_size bytes (budget $KUBE_SIZE_MAX)"
[ "$kube_size" -le "$KUBE_SIZE_MAX" ] || fail "kube binary $kube_size bytes > $KUBE_SIZE_MAX"
read -r _ deb_size < <(dist/static.sh --features metrics,bfd,l2 | tail -1)
echo "size as packaged (metrics, bfd, l2): $deb_size bytes (budget $DEB_SIZE_MAX)"
[ "$deb_size" -le "$DEB_SIZE_MAX" ] || fail "packaged binary $deb_size bytes > $DEB_SIZE_MAX"
# size_gate ARCH BUDGET FEATURES...: one router build against its budget.
size_gate() {
    local arch=$1 max=$2 what size
    shift 2
    read -r _ size < <(dist/static.sh --target "$arch" "$@" | tail -1)
    what=default; [ $# -eq 0 ] || what="as packaged (metrics, bfd, l2)"
    echo "size $arch $what: $size bytes (budget $max)"
    [ "$size" -le "$max" ] || fail "$arch $what binary $size bytes > $max"
}
size_gate aarch64 "$AARCH64_SIZE_MAX"
size_gate aarch64 "$AARCH64_DEB_SIZE_MAX" --features metrics,bfd,l2
size_gate armv7 "$ARMV7_SIZE_MAX"
size_gate armv7 "$ARMV7_DEB_SIZE_MAX" --features metrics,bfd,l2

LEAFVIP_BIN="$work/leafvip" ANNOUNCER_PATH="bench/announcers:$shared/bench/announcers" \
    RUNS=1 RESULTS_DIR="$work/results" "$shared/bench/run-anchors.sh" 100000 leafvip >"$work/anchors.log" 2>&1 \
    || { tail -20 "$work/anchors.log" >&2; fail "run-anchors.sh failed"; }
peak=$(awk -F'\t' '$1 == "leafvip" && $7 == "ok" {print $4}' "$work"/results/*.tsv | head -1)
[ -n "$peak" ] || fail "no peak RSS in $(cat "$work"/results/*.tsv)"
echo "peak RSS at 100k VIPs announced to BIRD: $peak KiB (budget $PEAK_MAX_KIB)"
[ "$peak" -le "$PEAK_MAX_KIB" ] || fail "peak RSS $peak KiB > $PEAK_MAX_KIB"

line=$(LEAFVIP_BIN="$work/leafvip" bench/idle.sh 10 2>/dev/null | grep '^idle:') || fail "idle.sh failed"
idle=$(echo "$line" | sed -n 's/.*: RSS \([0-9]*\) KiB.*/\1/p')
echo "$line (budget $IDLE_MAX_KIB KiB)"
[ "$idle" -le "$IDLE_MAX_KIB" ] || fail "idle RSS $idle KiB > $IDLE_MAX_KIB"

line=$(LEAFVIP_BIN="$work/leafvip-kube" bench/kube.sh 5 2>&1 | grep '^idle') || fail "kube.sh failed"
kpeak=$(echo "$line" | sed -n 's/.*(peak \([0-9]*\) KiB).*/\1/p')
echo "cluster mode, 500 Nodes and 50 BgpPeers: $line (budget peak $KUBE_PEAK_MAX_KIB KiB)"
[ -n "$kpeak" ] && [ "$kpeak" -le "$KUBE_PEAK_MAX_KIB" ] || fail "kube.sh peak RSS ${kpeak:-?} KiB > $KUBE_PEAK_MAX_KIB"

line=$(LEAFVIP_BIN="$work/leafvip-kube" IDLE=2 bench/services.sh 2>&1 | grep '^final:') || fail "services.sh failed"
speak=$(echo "$line" | sed -n 's/.*(peak \([0-9]*\) KiB).*/\1/p')
echo "5,000 Services, 20,000 EndpointSlices, 500 Nodes: $line (budget peak $SERVICES_PEAK_MAX_KIB KiB)"
[ -n "$speak" ] && [ "$speak" -le "$SERVICES_PEAK_MAX_KIB" ] || fail "services.sh peak RSS ${speak:-?} KiB > $SERVICES_PEAK_MAX_KIB"
echo "gates: ok"
