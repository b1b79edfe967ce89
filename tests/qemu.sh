#!/usr/bin/env bash
# What we ship for routers, run under emulation (qemu-user):
#   tests/qemu.sh aarch64|armv7
# 1. The unit tests of leafvip-bgp and leafvip-bfd (with their captured
#    byte vectors and property tests through the real codecs) and of the
#    leafvip lib with every feature but `kube`, built for the target by
#    Debian's rustc-web (dist/arch.sh) and run by qemu as cargo's runner.
#    armv7 is where 32-bit `usize` bites; both targets are little-endian,
#    so byte order is proved by the vectors, which fix every field's bytes.
# 2. As root: the packaged build (metrics, bfd, l2), run by qemu in a network
#    namespace wired by a veth to a second one where BIRD plays the leaf
#    (198.51.100.1 and 2001:db8:51::1; the host is .3 and ::3), with BFD
#    on both sessions. It checks what the router holds: both sessions
#    Established, both VIPs in the leaf's kernel FIB via the host, BIRD's
#    BFD sessions Up; then `leafvip status` and `leafvip check` (and a bad
#    config named by its line), a SIGHUP reload that moves a VIP without
#    resetting the session, and a stop that BIRD sees as a Cease, exit 0.
# BIRD, leafvip and both namespaces are gone when this exits, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:?usage: tests/qemu.sh aarch64|armv7}
. dist/arch.sh
arch_setup "$arch"
[ -n "$QEMU" ] || { echo "qemu: $arch is the native target" >&2; exit 2; }
fail() { echo "qemu $arch: FAIL: $*" >&2; exit 1; }
step() { echo "==> $arch: $*"; }

step "unit tests under $QEMU: leafvip-bgp, leafvip-bfd, the leafvip lib (metrics, bfd, l2)"
(
    export RUSTFLAGS="${RUSTFLAGS:-} $ARCH_RUSTFLAGS"
    "$CARGO" test --locked --target "$TRIPLE" -p leafvip-bgp -p leafvip-bfd
    "$CARGO" test --locked --target "$TRIPLE" -p leafvip --lib --features metrics,bfd,l2
)

if [ "$(id -u)" != 0 ]; then
    [ "${LEAFVIP_REQUIRE_ROOT_TESTS:-}" = 1 ] && fail "the namespace run needs root (LEAFVIP_REQUIRE_ROOT_TESTS=1)"
    echo "SKIPPED: the $arch run against BIRD needs root"
    exit 0
fi
command -v bird >/dev/null || fail "no bird (apt-get install bird2)"

step "the packaged build (metrics, bfd, l2)"
read -r built size < <(dist/static.sh --target "$arch" --features metrics,bfd,l2 | tail -1)
echo "    $built: $size bytes"

id=lvqemu$$
work=$(mktemp -d /var/tmp/leafvip-qemu.XXXXXX)
bird_pid=
lv_pid=
cleanup() {
    [ -n "$lv_pid" ] && kill -KILL "$lv_pid" 2>/dev/null || true
    [ -n "$bird_pid" ] && kill "$bird_pid" 2>/dev/null || true
    ip netns del "$id-host" 2>/dev/null || true
    ip netns del "$id-leaf" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$built" "$work/leafvip"
bin=$work/leafvip
leafvip() { "$QEMU" "$bin" "$@"; }
logs() { tail -20 "$work/leafvip.log"; }

step "namespaces: BIRD in $id-leaf, leafvip under $QEMU in $id-host"
for n in host leaf; do ip netns add "$id-$n"; ip -n "$id-$n" link set lo up; done
ip link add eth0 netns "$id-host" type veth peer name eth0 netns "$id-leaf"
ip -n "$id-host" addr add 198.51.100.3/24 dev eth0
ip -n "$id-leaf" addr add 198.51.100.1/24 dev eth0
ip -n "$id-host" addr add 2001:db8:51::3/64 dev eth0 nodad
ip -n "$id-leaf" addr add 2001:db8:51::1/64 dev eth0 nodad
for n in host leaf; do ip -n "$id-$n" link set eth0 up; done
cat > "$work/bird.conf" <<'BIRD'
router id 198.51.100.1;
timeformat protocol iso long ms;
protocol device {}
protocol kernel { ipv4 { export all; }; }
protocol kernel { ipv6 { export all; }; }
protocol bfd { interface "*" { min rx interval 200 ms; min tx interval 200 ms; }; }
protocol bgp h4 { local 198.51.100.1 as 65001; neighbor 198.51.100.3 as 65100; passive on; bfd on;
    ipv4 { import all; export none; }; }
protocol bgp h6 { local 2001:db8:51::1 as 65001; neighbor 2001:db8:51::3 as 65100; passive on; bfd on;
    ipv6 { import all; export none; }; }
BIRD
ip netns exec "$id-leaf" bird -f -c "$work/bird.conf" -s "$work/bird.ctl" >"$work/bird.log" 2>&1 &
bird_pid=$!
for _ in $(seq 50); do [ -S "$work/bird.ctl" ] && break; sleep 0.1; done
birdc() { command birdc -s "$work/bird.ctl" "$@"; }

config() { # VIP: the IPv4 VIP this config announces
    cat > "$work/leafvip.toml" <<CFG
[bgp]
asn = 65100
router_id = "198.51.100.3"
drain_time = 1
[control]
socket = "$work/leafvip.sock"
[[peer]]
address = "198.51.100.1"
asn = 65001
bfd = { min_rx = "200ms", min_tx = "200ms", multiplier = 3 }
[[peer]]
address = "2001:db8:51::1"
asn = 65001
bfd = { min_rx = "200ms", min_tx = "200ms", multiplier = 3 }
[[vip]]
prefix = "$1/32"
[[vip]]
prefix = "2001:db8:100::10/128"
CFG
}
config 192.0.2.10
ip netns exec "$id-host" "$QEMU" "$bin" run -c "$work/leafvip.toml" >"$work/leafvip.log" 2>&1 &
lv_pid=$!

# wait_for DESCRIPTION COMMAND...: up to 20 s for COMMAND to succeed.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    fail "$what: $(logs)"
}
fib() { ip -n "$id-leaf" "$1" route show "$2" | grep -q "via $3 .*proto bird"; }
bfd_up() { birdc show bfd sessions | grep -Eq "^$1 +eth0 +Up "; }

step "both sessions Established at BIRD, both VIPs in the leaf's FIB via the host, BFD Up"
wait_for "no IPv4 session" sh -c "birdc -s '$work/bird.ctl' show protocols h4 | grep -q Established"
wait_for "no IPv6 session" sh -c "birdc -s '$work/bird.ctl' show protocols h6 | grep -q Established"
wait_for "192.0.2.10/32 not in the leaf's FIB" fib -4 192.0.2.10 198.51.100.3
wait_for "2001:db8:100::10/128 not in the leaf's FIB" fib -6 2001:db8:100::10 2001:db8:51::3
ip -n "$id-leaf" -4 route show 192.0.2.10 | sed 's/^/    leaf FIB: /'
ip -n "$id-leaf" -6 route show 2001:db8:100::10 | sed 's/^/    leaf FIB: /'
wait_for "BFD not Up for 198.51.100.3 at BIRD" bfd_up 198.51.100.3
wait_for "BFD not Up for 2001:db8:51::3 at BIRD" bfd_up 2001:db8:51::3
birdc show bfd sessions | grep -E '^(198\.51|2001:db8)' | sed 's/^/    BIRD BFD: /'

step "leafvip status and check, under $QEMU"
out=$(leafvip status -s "$work/leafvip.sock")
echo "$out" | grep -Eq "198\.51\.100\.1:179 +65001 +Established" || fail "status: $out"
echo "$out" | grep -Eq "\[2001:db8:51::1\]:179 +65001 +Established" || fail "status: $out"
echo "$out" | sed -n '1,5p' | sed 's/^/    /'
leafvip check -c "$work/leafvip.toml" >"$work/check.out" || fail "check: $(cat "$work/check.out")"
grep -q "192.0.2.10/32" "$work/check.out" || fail "check's plan: $(cat "$work/check.out")"
sed 's|^prefix = "192.0.2.10/32"|prefix = "192.0.2.300/32"|' "$work/leafvip.toml" >"$work/bad.toml"
line=$(grep -n '192.0.2.300' "$work/bad.toml" | cut -d: -f1)
if leafvip check -c "$work/bad.toml" >"$work/bad.out" 2>&1; then fail "check took a bad config"; fi
grep -q "bad.toml:$line" "$work/bad.out" || fail "check's error does not name the line: $(cat "$work/bad.out")"
echo "    check: plan ok; a bad prefix: $(head -1 "$work/bad.out")"

step "SIGHUP: 192.0.2.10 becomes 192.0.2.11, the session stays"
since=$(birdc show protocols h4 | awk '$1 == "h4" {print $5, $6}')
config 192.0.2.11
kill -HUP "$lv_pid"
wait_for "192.0.2.11/32 not in the leaf's FIB after the reload" fib -4 192.0.2.11 198.51.100.3
wait_for "192.0.2.10/32 still in the leaf's FIB after the reload" sh -c "! ip -n '$id-leaf' route show 192.0.2.10 | grep -q ."
after=$(birdc show protocols h4 | awk '$1 == "h4" {print $5, $6}')
[ "$since" = "$after" ] || fail "the reload reset the session: up since $since, now $after"
bfd_up 198.51.100.3 || fail "BFD went down in the reload"
echo "    up since $since before and after; BFD Up"

step "SIGTERM: a Cease at BIRD, exit 0"
kill -TERM "$lv_pid"
code=0
wait "$lv_pid" || code=$?
lv_pid=
[ "$code" = 0 ] || fail "exit code $code: $(logs)"
last=$(birdc show protocols all h4)
echo "$last" | grep -q "Administrative shutdown" || fail "no Cease at BIRD: $last
leafvip: $(logs)"
echo "    BIRD: $(echo "$last" | grep -m1 'Administrative shutdown' | sed 's/^ *//'), exit code 0"
echo "qemu $arch: ok ($size bytes)"
