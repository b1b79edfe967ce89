#!/usr/bin/env bash
# Cluster mode at scale: a `kube` build of leafvip against the fake API
# server holding 1 BgpConf, 50 BgpPeers (one per rack, leaf1 .. leaf50) and
# 500 Nodes; the agent watches its own Node only. BIRD plays leaf1
# (198.51.100.1) and leaf2 (203.0.113.1) in namespaces. Prints:
#   - RSS once the initial sync is done and the session is up;
#   - RSS and CPU time after SECONDS (default 60) idle;
#   - how long `kubectl label node node-1 rack=leaf2` takes to reach BIRD
#     (leaf2 holding the VIP with the host's next hop), best and median of 5;
#   - the static binary's size.
# Run as root: bench/kube.sh [SECONDS]   (LEAFVIP_BIN: a static kube build,
# default dist/static.sh --features kube)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${LEAFVIP_BIN:-}" ]; then
    read -r LEAFVIP_BIN _ < <(dist/static.sh --features kube | tail -1)
fi
cargo build -q --release -p kube-test-server --bin fake-apiserver
fake="$CARGO_TARGET_DIR/release/fake-apiserver"
id=lvkb$$
work=$(mktemp -d /var/tmp/leafvip-kube-bench.XXXXXX)
cp "$LEAFVIP_BIN" "$work/leafvip"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for n in host r1 r2; do ip netns del "$id-$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for n in host r1 r2; do ip netns add "$id-$n"; ip -n "$id-$n" link set lo up; done
ip link add eth1 netns "$id-host" type veth peer name eth0 netns "$id-r1"
ip link add eth2 netns "$id-host" type veth peer name eth0 netns "$id-r2"
ip -n "$id-host" addr add 198.51.100.3/24 dev eth1
ip -n "$id-host" addr add 203.0.113.3/24 dev eth2
ip -n "$id-r1" addr add 198.51.100.1/24 dev eth0
ip -n "$id-r2" addr add 203.0.113.1/24 dev eth0
for l in "host eth1" "host eth2" "r1 eth0" "r2 eth0"; do set -- $l; ip -n "$id-$1" link set "$2" up; done
for r in "r1 198.51.100.1 198.51.100.3 65001" "r2 203.0.113.1 203.0.113.3 65002"; do
    set -- $r
    cat > "$work/$1.conf" <<CONF
router id $2;
protocol device {}
protocol bgp h { local as $4; neighbor $3 as 65100; connect retry time 1; error wait time 1, 2;
    ipv4 { import all; export none; }; }
CONF
    ip netns exec "$id-$1" bird -f -c "$work/$1.conf" -s "$work/$1.ctl" & pids+=($!)
done

# The API server, on the host namespace's loopback; it lives while its
# stdin (a FIFO held open here) does.
mkfifo "$work/fake.in"
ip netns exec "$id-host" "$fake" "$work/kubeconfig" <"$work/fake.in" >"$work/fake.url" & pids+=($!)
exec 7>"$work/fake.in"
for _ in $(seq 50); do [ -s "$work/fake.url" ] && break; sleep 0.1; done
k() { ip netns exec "$id-host" kubectl --kubeconfig "$work/kubeconfig" "$@"; }
export HOME=$work
{
    printf 'apiVersion: network.kubesphere.io/v1alpha2\nkind: BgpConf\nmetadata: {name: default}\nspec: {as: 65100, routerId: "198.51.100.3"}\n'
    for i in $(seq 1 50); do
        case $i in 1) a=198.51.100.1; as=65001 ;; 2) a=203.0.113.1; as=65002 ;; *) a=203.0.113.$((100 + i)); as=65003 ;; esac
        printf -- '---\napiVersion: network.kubesphere.io/v1alpha2\nkind: BgpPeer\nmetadata: {name: leaf%d}\n' "$i"
        printf 'spec:\n  conf: {neighborAddress: "%s", peerAs: %d}\n' "$a" "$as"
        printf '  timers: {config: {holdTime: "90", connectRetry: "1"}}\n'
        printf '  nodeSelector: {matchLabels: {rack: leaf%d}}\n' "$i"
    done
    for i in $(seq 1 500); do
        printf -- '---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-%d\n' "$i"
        printf '  labels: {rack: leaf%d, kubernetes.io/hostname: node-%d}\n' "$(( (i - 1) % 50 + 1 ))" "$i"
    done
} > "$work/objects.yaml"
k create -f "$work/objects.yaml" >/dev/null
printf '[node]\nname = "node-1"\n[kubernetes]\nkubeconfig = "%s"\n[[vip]]\nprefix = "192.0.2.200/32"\n' \
    "$work/kubeconfig" > "$work/leafvip.toml"
ip netns exec "$id-host" env RUST_LOG=warn "$work/leafvip" run -c "$work/leafvip.toml" -s "$work/leafvip.sock" & lv=$!; pids+=($lv)
has_route() { birdc -s "$work/$1.ctl" show route 192.0.2.200/32 2>/dev/null | grep -q "via $2"; }
for _ in $(seq 200); do has_route r1 198.51.100.3 && break; sleep 0.05; done
has_route r1 198.51.100.3 || { echo "kube.sh: no route at leaf1" >&2; exit 1; }
sleep 2
rss() { awk '/^VmRSS/ {print $2}' "/proc/$lv/status"; }
echo "after sync: RSS $(rss) KiB, threads $(awk '/^Threads/ {print $2}' "/proc/$lv/status")"
ticks() { awk '{print $14 + $15}' "/proc/$lv/stat"; }
t0=$(ticks); sleep "$secs"; t1=$(ticks)
hz=$(getconf CLK_TCK)
echo "idle ${secs}s: RSS $(rss) KiB (peak $(awk '/^VmHWM/ {print $2}' "/proc/$lv/status") KiB), CPU $(( (t1 - t0) * 1000 / hz )) ms"
ms() { date +%s%3N; }
times=()
rack=leaf1
for _ in 1 2 3 4 5; do
    if [ $rack = leaf1 ]; then rack=leaf2 r=r2 nh=203.0.113.3; else rack=leaf1 r=r1 nh=198.51.100.3; fi
    t=$(ms)
    k label node node-1 "rack=$rack" --overwrite >/dev/null
    for _ in $(seq 1000); do has_route $r $nh && break; sleep 0.005; done
    has_route $r $nh || { echo "kube.sh: the label change never reached $r" >&2; exit 1; }
    times+=($(( $(ms) - t )))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "label change to the route at the new leaf (kubectl included): best $(echo "$sorted" | head -1) ms, median $(echo "$sorted" | sed -n 3p) ms (${times[*]})"
echo "static binary with kube: $(stat -c %s "$work/leafvip") bytes"
