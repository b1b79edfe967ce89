#!/usr/bin/env bash
# BFD figures (issue 13), run as root: bench/bfd.sh [ROUNDS] [CPU_SECONDS]
#
# 1. Failover. Two racks: a spine, two leaves (BIRD 2, ECMP into their
#    kernel FIBs), h1 and h2 under leaf1, h3 under leaf2, each host running
#    leafvip and announcing the VIP 192.0.2.200/32 with itself as next hop;
#    BGP hold time 9 s. h1's link is cut (`ip link set eth0 down` inside
#    h1's namespace; leaf1's bridge stays up) and the time from the cut to
#    h1 leaving the VIP's next hops in leaf1's FIB is measured, ROUNDS
#    times (default 5): with BFD at 100 ms x 3 (BIRD `bfd on`), then with
#    the hold timer alone (2 rounds).
# 2. CPU. One leafvip with 10 BGP sessions to one BIRD, each guarded by
#    BFD at 100 ms x 3, left alone for CPU_SECONDS (default 60): the CPU
#    time each process used, as a share of one core, from /proc.
# LEAFVIP_BIN picks the binary (built with --features bfd).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cpu_secs=${2:-60}
bin=${LEAFVIP_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet --features bfd
    bin=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/leafvip
fi
id=lvbfd$$
work=$(mktemp -d)
pids=()
namespaces=()
cleanup() {
    stop_all
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ns() { ip netns add "$id-$1"; namespaces+=("$id-$1"); ip -n "$id-$1" link set lo up; }
x() { ip netns exec "$id-$1" "${@:2}"; }
bgx() { local log=$1 n=$2; shift 2; ip netns exec "$id-$n" "$@" > "$log" 2>&1 & pids+=($!); }
stop_all() { # stops every process started so far, by PID
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    pids=()
}

# --- 1. failover --------------------------------------------------------
for n in spine leaf1 leaf2 h1 h2 h3; do ns "$n"; done
i=0
for leaf in "leaf1 198.51.100.1/25 203.0.113.17 203.0.113.18" "leaf2 198.51.100.129/25 203.0.113.21 203.0.113.22"; do
    set -- $leaf
    ip link add "l$i" netns "$id-spine" type veth peer name uplink netns "$id-$1"
    x spine ip addr add "$3/30" dev "l$i"; x spine ip link set "l$i" up
    x "$1" ip addr add "$4/30" dev uplink; x "$1" ip link set uplink up
    x "$1" ip link add br0 type bridge; x "$1" ip link set br0 up; x "$1" ip addr add "$2" dev br0
    x "$1" sysctl -qw net.ipv4.ip_forward=1
    i=$((i + 1))
done
i=0
for host in "h1 leaf1 198.51.100.3" "h2 leaf1 198.51.100.4" "h3 leaf2 198.51.100.130"; do
    set -- $host
    ip link add "p$i" netns "$id-$2" type veth peer name eth0 netns "$id-$1"
    x "$2" ip link set "p$i" master br0 up
    x "$1" ip addr add "$3/25" dev eth0; x "$1" ip link set eth0 up
    i=$((i + 1))
done

bird_leaf() { # NAME ROUTER_ID AS UPLINK_PEER BFD(on|off) HOST...
    local name=$1 rid=$2 as=$3 up=$4 bfd=$5; shift 5
    {
        echo "router id $rid;"
        echo 'protocol device {}'
        echo 'protocol kernel k4 { ipv4 { export all; }; merge paths on; }'
        echo 'protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }'
        echo "protocol bgp spine { local as $as; neighbor $up as 65000; ipv4 { import all; export all; }; }"
        local n=0
        for h in "$@"; do
            echo "protocol bgp h$n { local as $as; neighbor $h as 65100; hold time 9; connect retry time 1;"
            echo "  error wait time 1, 2;"
            echo "  bfd $bfd; ipv4 { import all; export none; }; }"
            n=$((n + 1))
        done
    } > "$work/$name.conf"
    bgx "$work/$name.log" "$name" bird -f -c "$work/$name.conf" -s "$work/$name.ctl"
}
host_conf() { # HOST ADDR LEAF LEAF_AS BFD_LINE
    cat > "$work/$1.toml" <<EOF
[bgp]
asn = 65100
router_id = "$2"
[[peer]]
address = "$3"
asn = $4
hold_time = 9
connect_retry = 1
families = ["ipv4-unicast"]
$5
[[vip]]
prefix = "192.0.2.200/32"
EOF
}
start_lab() { # BFD(on|off)
    local line=""
    [ "$1" = on ] && line='bfd = { min_rx = "100ms", min_tx = "100ms", multiplier = 3 }'
    {
        echo 'router id 203.0.113.17;'
        echo 'protocol device {}'
        echo 'protocol kernel k4 { ipv4 { export all; }; merge paths on; }'
        echo 'protocol bgp leaf1 { local as 65000; neighbor 203.0.113.18 as 65001; ipv4 { import all; export none; }; }'
        echo 'protocol bgp leaf2 { local as 65000; neighbor 203.0.113.22 as 65002; ipv4 { import all; export none; }; }'
    } > "$work/spine.conf"
    bgx "$work/spine.log" spine bird -f -c "$work/spine.conf" -s "$work/spine.ctl"
    bird_leaf leaf1 198.51.100.1 65001 203.0.113.17 "$1" 198.51.100.3 198.51.100.4
    bird_leaf leaf2 198.51.100.129 65002 203.0.113.21 "$1" 198.51.100.130
    host_conf h1 198.51.100.3 198.51.100.1 65001 "$line"
    host_conf h2 198.51.100.4 198.51.100.1 65001 "$line"
    host_conf h3 198.51.100.130 198.51.100.129 65002 "$line"
    for h in h1 h2 h3; do
        bgx "$work/$h.leafvip.log" "$h" env RUST_LOG=info "$bin" run -c "$work/$h.toml" -s "$work/$h.sock"
    done
}
wait_h1() { # waits for h1 among leaf1's next hops for the VIP
    for _ in $(seq 300); do
        x leaf1 ip route show 192.0.2.200 | grep -q 'via 198.51.100.3 ' && return 0
        sleep 0.1
    done
    echo "bfd.sh: h1 never reached leaf1's FIB" >&2; tail -n 5 "$work"/*.log >&2; exit 1
}
# Cuts h1's link and prints the seconds until leaf1's FIB drops h1; the
# FIB is read every 2 ms through netlink (`ip route show`).
cut() {
    python3 - "$id" <<'EOF'
import subprocess, sys, time
ns = sys.argv[1]
def fib():
    return subprocess.run(["ip", "-n", ns + "-leaf1", "route", "show", "192.0.2.200"],
                          capture_output=True, text=True).stdout
t0 = time.monotonic()
subprocess.run(["ip", "-n", ns + "-h1", "link", "set", "eth0", "down"], check=True)
while "via 198.51.100.3 " in fib():
    if time.monotonic() - t0 > 60:
        sys.exit("h1 never left leaf1's FIB")
    time.sleep(0.002)
print(f"{time.monotonic() - t0:.3f}")
EOF
}
measure() { # BFD(on|off) ROUNDS
    start_lab "$1"
    local t=()
    for _ in $(seq "$2"); do
        wait_h1
        sleep 2
        t+=("$(cut)")
        x h1 ip link set eth0 up
    done
    stop_all
    echo "${t[*]}"
}
# Not in a $( ) subshell: the processes it starts must be in this shell's
# list, so that a failure half-way still stops them (a first version
# leaked a lab's daemons that way).
echo "==> failover: h1's link cut, time until leaf1's FIB drops h1 (s)"
measure on "$rounds" > "$work/with"
with=$(cat "$work/with")
echo "    BFD 100 ms x 3, hold 9 s: $with"
measure off 2 > "$work/without"
without=$(cat "$work/without")
echo "    hold timer alone (9 s):   $without"
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "    median: with BFD $(echo "$with" | median) s, hold timer alone $(echo "$without" | median) s"
for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
namespaces=()

# --- 2. CPU of 10 sessions at 100 ms --------------------------------------
ns r; ns host
ip link add eth0 netns "$id-host" type veth peer name eth0 netns "$id-r"
x host ip addr add 198.51.100.3/24 dev eth0; x host ip link set eth0 up
x r ip link set eth0 up
{
    echo 'router id 198.51.100.1;'
    echo 'protocol device {}'
    echo 'protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }'
} > "$work/r.conf"
{
    echo '[bgp]'; echo 'asn = 65100'; echo 'router_id = "198.51.100.3"'
} > "$work/host.toml"
# Ten address pairs: BIRD keys a BFD session by the neighbor's address,
# leafvip a peer by the router's.
for i in $(seq 10); do
    a=198.51.100.$((100 + i)) h=198.51.100.$((10 + i))
    x r ip addr add "$a/24" dev eth0
    x host ip addr add "$h/24" dev eth0
    echo "protocol bgp p$i { local $a as 65001; neighbor $h as 65100; bfd on; ipv4 { import all; export none; }; }" >> "$work/r.conf"
    printf '[[peer]]\naddress = "%s"\nlocal_address = "%s"\nasn = 65001\nfamilies = ["ipv4-unicast"]\nbfd = { min_rx = "100ms", min_tx = "100ms", multiplier = 3 }\n' "$a" "$h" >> "$work/host.toml"
done
printf '[[vip]]\nprefix = "192.0.2.200/32"\n' >> "$work/host.toml"
bgx "$work/r.log" r bird -f -c "$work/r.conf" -s "$work/r.ctl"
bird_pid=${pids[-1]}
bgx "$work/host.log" host env RUST_LOG=info "$bin" run -c "$work/host.toml" -s "$work/host.sock"
lv_pid=${pids[-1]}
for _ in $(seq 300); do
    [ "$(birdc -s "$work/r.ctl" show bfd sessions 2>/dev/null | grep -c ' Up ')" = 10 ] \
        && [ "$(birdc -s "$work/r.ctl" show protocols 2>/dev/null | grep -c Established)" = 10 ] && break
    sleep 0.1
done
[ "$(birdc -s "$work/r.ctl" show bfd sessions | grep -c ' Up ')" = 10 ] \
    || { echo "bfd.sh: the 10 BFD sessions did not come up" >&2; birdc -s "$work/r.ctl" show bfd sessions >&2; exit 1; }
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
l0=$(ticks "$lv_pid"); b0=$(ticks "$bird_pid"); t0=$(date +%s.%N)
sleep "$cpu_secs"
l1=$(ticks "$lv_pid"); b1=$(ticks "$bird_pid"); t1=$(date +%s.%N)
flaps=$(grep -c 'BFD up -> down' "$work/host.log" || true)
awk -v l="$((l1 - l0))" -v b="$((b1 - b0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v f="$flaps" -v s="$cpu_secs" 'BEGIN {
    d = t1 - t0
    printf "==> CPU, 10 BGP sessions each with BFD at 100 ms x 3, %d s (BFD flaps: %d)\n", s, f
    printf "    leafvip: %.2f %% of a core (%d ticks of %d Hz in %.1f s)\n", 100 * l / hz / d, l, hz, d
    printf "    BIRD 2 (its side of the same sessions): %.2f %% of a core\n", 100 * b / hz / d
}'
