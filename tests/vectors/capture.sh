#!/usr/bin/env bash
# Capture real BGP sessions between BIRD 2, FRR and GoBGP inside throw-away
# network namespaces, write one pcap per link, then (optionally) run
# extract.py to turn them into tests/vectors/<sender>/*.hex.
#
# Usage (as root, Debian 12):
#   apt-get install -y bird2 gobgpd frr tcpdump
#   bash tests/vectors/capture.sh [WORKDIR]
#   python3 tests/vectors/extract.py WORKDIR tests/vectors
#
# All traffic stays inside namespaces named lvcap-*; only documentation
# address ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
# 2001:db8::/32) and documentation/private ASNs are used.  Every process
# started here is stopped by PID and every namespace deleted on exit (trap).
# The pcaps are left in WORKDIR (outside the repo); they are never committed.
set -euo pipefail

WORK=${1:-$(mktemp -d /tmp/lvcap.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
echo "workdir: $WORK"

NS_B=lvcap-bird
NS_G=lvcap-gobgp
NS_F=lvcap-frr
NAMESPACES=()
PIDS=()
GOBGP_API=127.0.0.1:50151

dpkg-query -W -f='${Package} ${Version}\n' bird2 frr gobgpd tcpdump >"$WORK/versions.txt"
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*"; }

cleanup() {
    set +e
    log "cleanup"
    # daemonised processes: take their PIDs from their pid files
    for f in "$WORK/bird.pid" "$WORK/frr/bgpd.pid" "$WORK/frr/zebra.pid"; do
        [ -s "$f" ] && PIDS+=("$(cat "$f")")
    done
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    sleep 2
    for p in "${PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    done
    local ns
    for ns in "${NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    log "cleanup done"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bx() { ip netns exec "$NS_B" "$@"; }
gx() { ip netns exec "$NS_G" "$@"; }
fx() { ip netns exec "$NS_F" "$@"; }
birdc_() { bx birdc -s "$WORK/bird.ctl" "$@"; }
gobgp_() { gx gobgp -u "${GOBGP_API%:*}" -p "${GOBGP_API##*:}" "$@"; }
vtysh_() { fx vtysh --vty_socket "$WORK/frr" "$@"; }
wait_established() { # min_bird min_gobgp
    local i nb ng
    for i in $(seq 1 60); do
        nb=$(birdc_ show protocols 2>/dev/null | grep -c Established || true)
        ng=$(gobgp_ neighbor 2>/dev/null | grep -c Establ || true)
        [ "$nb" -ge "$1" ] && [ "$ng" -ge "$2" ] && return 0
        sleep 1
    done
    log "warning: not all sessions established (bird=$nb gobgp=$ng)"
}

# ---------------------------------------------------------------- topology
#   link A  bird(lvA-b) <-> gobgp(lvA-g): 192.0.2.0/30     2001:db8:a::/64
#   link B  bird(lvB-b) <-> frr  (lvB-f): 203.0.113.0/30   2001:db8:b::/64
#   link C  gobgp(lvC-g)<-> frr  (lvC-f): 203.0.113.4/30   2001:db8:c::/64
# plus one extra IPv4 /30 on links B and C for the deliberately misconfigured
# sessions (198.51.100.248/30 on B, 198.51.100.244/30 on C).
for ns in "$NS_B" "$NS_G" "$NS_F"; do
    if ip netns list | grep -qw "$ns"; then
        echo "namespace $ns already exists; refusing to continue" >&2
        exit 1
    fi
done
for ns in "$NS_B" "$NS_G" "$NS_F"; do
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done

mklink() { # ns1 if1 ns2 if2
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
}
mklink "$NS_B" lvA-b "$NS_G" lvA-g
mklink "$NS_B" lvB-b "$NS_F" lvB-f
mklink "$NS_G" lvC-g "$NS_F" lvC-f
addr() { # ns if v4 v6
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$1" addr add "$4" dev "$2" nodad
    ip -n "$1" link set "$2" up
}
addr "$NS_B" lvA-b 192.0.2.1/30   2001:db8:a::1/64
addr "$NS_G" lvA-g 192.0.2.2/30   2001:db8:a::2/64
addr "$NS_B" lvB-b 203.0.113.1/30 2001:db8:b::1/64
addr "$NS_F" lvB-f 203.0.113.2/30 2001:db8:b::2/64
addr "$NS_G" lvC-g 203.0.113.5/30 2001:db8:c::5/64
addr "$NS_F" lvC-f 203.0.113.6/30 2001:db8:c::6/64
ip -n "$NS_B" addr add 198.51.100.249/30 dev lvB-b
ip -n "$NS_F" addr add 198.51.100.250/30 dev lvB-f
ip -n "$NS_G" addr add 198.51.100.245/30 dev lvC-g
ip -n "$NS_F" addr add 198.51.100.246/30 dev lvC-f

# ---------------------------------------------------------------- tcpdump
# one capture per link, taken on one end of it
tcap() { # ns if name
    # started with a plain `ip netns exec ... &` (not via a shell function) so
    # that $! is the PID of tcpdump itself (ip netns exec execs the command)
    ip netns exec "$1" tcpdump -i "$2" -s 0 -U -n -w "$WORK/$3.pcap" tcp port 179 \
        >"$WORK/tcpdump-$3.log" 2>&1 &
    PIDS+=($!)
}
tcap "$NS_B" lvA-b linkA-bird-gobgp
tcap "$NS_B" lvB-b linkB-bird-frr
tcap "$NS_G" lvC-g linkC-gobgp-frr
sleep 2

# ---------------------------------------------------------------- BIRD 2
# AS 64496.  iBGP with FRR (AS 64496), eBGP with GoBGP (AS 4200000001).
# Session "frr6" is eBGP to FRR from local AS 64499 with 4-octet AS support
# disabled, so AS_TRANS / AS4_PATH appear.  (BIRD refuses a 4-octet neighbor
# AS with "enable as4 off", so this cannot be done towards GoBGP.)
# Session "frr_bad" expects the wrong peer AS (OPEN error NOTIFICATION).
write_bird_conf() { # file with_extra_routes(0/1)
    local extra4='' extra6=''
    if [ "$2" = 1 ]; then
        extra4='route 198.51.100.128/26 blackhole { bgp_community.add((64496,102)); bgp_med = 12; };'
        extra6='route 2001:db8:10:1::/64 blackhole { bgp_community.add((64496,602)); };'
    fi
    cat >"$1" <<EOF
log "$WORK/bird.log" all;
router id 192.0.2.1;
protocol device { scan time 5; }

protocol static vip4 {
  ipv4 { import all; };
  route 192.0.2.200/32 blackhole {
    bgp_community.add((64496,100)); bgp_large_community.add((64496,1,100));
    bgp_med = 10; bgp_local_pref = 200;
  };
  route 198.51.100.0/25 blackhole {
    bgp_community.add((65535,0)); bgp_community.add((64496,101));
    bgp_large_community.add((64496,1,101)); bgp_large_community.add((4200000001,7,8));
    bgp_med = 11;
  };
  $extra4
}
protocol static vip6 {
  ipv6 { import all; };
  route 2001:db8:1::200/128 blackhole {
    bgp_community.add((64496,600)); bgp_large_community.add((64496,6,600));
    bgp_med = 60; bgp_local_pref = 210;
  };
  route 2001:db8:10::/48 blackhole { bgp_community.add((65535,0)); bgp_med = 61; };
  $extra6
}

protocol bgp gobgp4 {
  description "eBGP to GoBGP over IPv4, AS4";
  local 192.0.2.1 as 64496;
  neighbor 192.0.2.2 as 4200000001;
  direct;
  hold time 90; keepalive time 30; connect retry time 5; error wait time 5, 30;
  graceful restart on; long lived graceful restart on;
  enable route refresh on; enable extended messages on;
  ipv4 { import all; export all; add paths on; };
  ipv6 { import all; export all; add paths on; next hop address 2001:db8:a::1; };
}

protocol bgp frr_ibgp {
  description "iBGP to FRR over IPv4";
  local 203.0.113.1 as 64496;
  neighbor 203.0.113.2 as 64496;
  direct;
  hold time 90; keepalive time 30; connect retry time 5; error wait time 5, 30;
  graceful restart on;
  enable route refresh on; enable extended messages on;
  ipv4 { import all; export all; add paths on; next hop self; };
  ipv6 { import all; export all; add paths on; next hop self; next hop address 2001:db8:b::1; };
}

protocol bgp frr6 {
  description "eBGP to FRR over IPv6 with local AS 64499 and AS4 disabled";
  local 2001:db8:b::1 as 64499;
  neighbor 2001:db8:b::2 as 64496;
  direct;
  enable as4 off;
  hold time 90; keepalive time 30; connect retry time 5; error wait time 5, 30;
  ipv6 { import all; export all; };
}

protocol bgp frr_bad {
  description "misconfigured peer AS (expects 64511, FRR is 64496)";
  local 198.51.100.249 as 64496;
  neighbor 198.51.100.250 as 64511;
  direct;
  connect retry time 5; error wait time 20, 60;
  ipv4 { import all; export all; };
}
EOF
}
write_bird_conf "$WORK/bird.conf" 1
write_bird_conf "$WORK/bird-withdrawn.conf" 0
bx bird -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid"

# ---------------------------------------------------------------- GoBGP
# AS 4200000001 (4-octet).  Neighbor 198.51.100.246 is deliberately given the
# wrong peer AS (64511) so that GoBGP rejects FRR's OPEN.
gobgp_nb() { # addr peer-as desc families(space sep) addpath(0/1) gr(0/1)
    cat <<EOF
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$1"
    peer-as = $2
    description = "$3"
  [neighbors.timers.config]
    connect-retry = 5
    hold-time = 90
    keepalive-interval = 30
EOF
    if [ "$6" = 1 ]; then
        cat <<EOF
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
    notification-enabled = true
EOF
    fi
    local fam
    for fam in $4; do
        cat <<EOF
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "$fam"
EOF
        if [ "$6" = 1 ]; then
            cat <<EOF
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
EOF
        fi
        if [ "$5" = 1 ]; then
            cat <<EOF
    [neighbors.afi-safis.add-paths.config]
      receive = true
      send-max = 8
EOF
        fi
    done
}
{
    cat <<EOF
[global.config]
  as = 4200000001
  router-id = "192.0.2.2"
  port = 179

# By default gobgp 3.10 sends an IPv4-mapped IPv6 next hop (::ffff:a.b.c.d)
# for IPv6 routes on an IPv4-transport session, which BIRD rejects.  Towards
# BIRD, set a real IPv6 next hop with a global export policy (applied after
# gobgp's own next-hop rewrite); towards FRR the default is left as it is.
[global.apply-policy.config]
  export-policy-list = ["bird2-v6-nexthop"]
  default-export-policy = "accept-route"

[[defined-sets.neighbor-sets]]
  neighbor-set-name = "bird2-v4"
  neighbor-info-list = ["192.0.2.1"]

[[defined-sets.prefix-sets]]
  prefix-set-name = "any-v6"
  [[defined-sets.prefix-sets.prefix-list]]
    ip-prefix = "::/0"
    masklength-range = "0..128"

[[policy-definitions]]
  name = "bird2-v6-nexthop"
  [[policy-definitions.statements]]
    name = "v6-nexthop"
    [policy-definitions.statements.conditions.match-prefix-set]
      prefix-set = "any-v6"
    [policy-definitions.statements.conditions.match-neighbor-set]
      neighbor-set = "bird2-v4"
    [policy-definitions.statements.actions]
      route-disposition = "accept-route"
    [policy-definitions.statements.actions.bgp-actions]
      set-next-hop = "2001:db8:a::2"

EOF
    gobgp_nb 192.0.2.1      64496 bird2-v4       "ipv4-unicast ipv6-unicast" 1 1
    gobgp_nb 203.0.113.6    64496 frr-v4         "ipv4-unicast ipv6-unicast" 1 1
    gobgp_nb 2001:db8:c::6  64496 frr-v6         "ipv6-unicast"              0 0
    gobgp_nb 198.51.100.246 64511 frr-bad-as     "ipv4-unicast"              0 0
} >"$WORK/gobgpd.toml"
ip netns exec "$NS_G" gobgpd -f "$WORK/gobgpd.toml" -t toml --api-hosts="$GOBGP_API" --pprof-disable \
    -p -l info >"$WORK/gobgpd.log" 2>&1 &
PIDS+=($!)

# ---------------------------------------------------------------- FRR
# AS 64496.  iBGP with BIRD, eBGP with GoBGP (IPv4 and IPv6 transport), eBGP
# with BIRD's AS4-less session; 198.51.100.249 is configured with the wrong
# remote-as (64510) so FRR rejects BIRD's OPEN on that session.
mkdir -p "$WORK/frr"
chmod 755 "$WORK"
cat >"$WORK/frr/zebra.conf" <<EOF
hostname lvcap-frr
log file $WORK/frr/zebra.log
EOF
cat >"$WORK/frr/bgpd.conf" <<EOF
frr defaults traditional
hostname lvcap-frr
log file $WORK/frr/bgpd.log
!
route-map ORIG-VIP permit 10
 set community 64496:300
 set large-community 64496:3:300
 set metric 30
 set local-preference 150
!
route-map ORIG-NET permit 10
 set community 65535:0 64496:301
 set large-community 64496:3:301 64496:3:302
 set metric 31
!
router bgp 64496
 bgp router-id 203.0.113.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 bgp graceful-restart
 bgp log-neighbor-changes
 neighbor 203.0.113.1 remote-as 64496
 neighbor 203.0.113.1 description bird2-ibgp
 neighbor 203.0.113.1 timers connect 5
 neighbor 203.0.113.1 advertisement-interval 0
 neighbor 203.0.113.5 remote-as 4200000001
 neighbor 203.0.113.5 description gobgp-ebgp
 neighbor 203.0.113.5 timers connect 5
 neighbor 203.0.113.5 advertisement-interval 0
 neighbor 2001:db8:b::1 remote-as 64499
 neighbor 2001:db8:b::1 description bird2-v6-no-as4
 neighbor 2001:db8:b::1 timers connect 5
 neighbor 2001:db8:b::1 advertisement-interval 0
 neighbor 2001:db8:c::5 remote-as 4200000001
 neighbor 2001:db8:c::5 description gobgp-v6
 neighbor 2001:db8:c::5 timers connect 5
 neighbor 2001:db8:c::5 advertisement-interval 0
 neighbor 198.51.100.249 remote-as 64510
 neighbor 198.51.100.249 description bird2-bad-as
 neighbor 198.51.100.249 timers connect 5
 neighbor 198.51.100.245 remote-as 4200000001
 neighbor 198.51.100.245 description gobgp-bad-as
 neighbor 198.51.100.245 timers connect 5
 !
 address-family ipv4 unicast
  network 192.0.2.200/32 route-map ORIG-VIP
  network 203.0.113.128/25 route-map ORIG-NET
  network 203.0.113.192/26
  neighbor 203.0.113.1 activate
  neighbor 203.0.113.5 activate
  neighbor 198.51.100.249 activate
  neighbor 198.51.100.245 activate
  neighbor 203.0.113.1 next-hop-self
  neighbor 203.0.113.1 send-community all
  neighbor 203.0.113.1 addpath-tx-all-paths
  neighbor 203.0.113.5 send-community all
  neighbor 203.0.113.5 addpath-tx-all-paths
 exit-address-family
 !
 address-family ipv6 unicast
  network 2001:db8:1::200/128 route-map ORIG-VIP
  network 2001:db8:30::/48 route-map ORIG-NET
  network 2001:db8:30:1::/64
  neighbor 203.0.113.1 activate
  neighbor 203.0.113.1 next-hop-self
  neighbor 203.0.113.1 send-community all
  neighbor 203.0.113.1 addpath-tx-all-paths
  neighbor 203.0.113.5 activate
  neighbor 203.0.113.5 send-community all
  neighbor 203.0.113.5 addpath-tx-all-paths
  neighbor 2001:db8:b::1 activate
  neighbor 2001:db8:b::1 send-community all
  neighbor 2001:db8:c::5 activate
  neighbor 2001:db8:c::5 send-community all
 exit-address-family
!
EOF
chown -R frr:frr "$WORK/frr"
fx /usr/lib/frr/zebra -d -u frr -g frr -P 0 -z "$WORK/frr/zserv.api" \
    -i "$WORK/frr/zebra.pid" --vty_socket "$WORK/frr" -f "$WORK/frr/zebra.conf"
sleep 2
fx /usr/lib/frr/bgpd -d -u frr -g frr -P 0 -n -z "$WORK/frr/zserv.api" \
    -i "$WORK/frr/bgpd.pid" --vty_socket "$WORK/frr" -f "$WORK/frr/bgpd.conf"

# ---------------------------------------------------------------- GoBGP routes
for i in $(seq 1 30); do
    gobgp_ global >/dev/null 2>&1 && break
    sleep 1
done
gobgp_ global rib -a ipv4 add 192.0.2.200/32 origin igp med 20 \
    community 64511:200 large-community 4200000001:2:200
gobgp_ global rib -a ipv4 add 198.51.100.64/26 origin igp med 21 \
    community 65535:0,64511:201 large-community 4200000001:2:201
gobgp_ global rib -a ipv4 add 198.51.100.192/27 origin incomplete \
    community 64511:202
gobgp_ global rib -a ipv6 add 2001:db8:1::200/128 origin igp med 22 \
    community 64511:600 large-community 4200000001:2:600
gobgp_ global rib -a ipv6 add 2001:db8:20::/48 origin igp \
    community 65535:0 large-community 4200000001:2:601
gobgp_ global rib -a ipv6 add 2001:db8:20:1::/64 origin igp

# ---------------------------------------------------------------- wait
log "waiting for sessions"
wait_established 3 3
birdc_ show protocols || true
gobgp_ neighbor || true
vtysh_ -c 'show bgp summary' || true
sleep 8   # let the initial UPDATEs / End-of-RIBs settle
birdc_ show route all >"$WORK/bird-routes-1.txt" 2>&1 || true
gobgp_ global rib -a ipv4 >"$WORK/gobgp-rib4-1.txt" 2>&1 || true
gobgp_ global rib -a ipv6 >"$WORK/gobgp-rib6-1.txt" 2>&1 || true
vtysh_ -c 'show bgp ipv4 unicast' -c 'show bgp ipv6 unicast' >"$WORK/frr-rib-1.txt" 2>&1 || true

# ---------------------------------------------------------------- withdrawals
log "withdrawals"
birdc_ configure \""$WORK/bird-withdrawn.conf"\"
gobgp_ global rib -a ipv4 del 198.51.100.192/27
gobgp_ global rib -a ipv6 del 2001:db8:20:1::/64
vtysh_ -c 'configure terminal' -c 'router bgp 64496' \
    -c 'address-family ipv4 unicast' -c 'no network 203.0.113.192/26' -c 'exit-address-family' \
    -c 'address-family ipv6 unicast' -c 'no network 2001:db8:30:1::/64' -c 'end'
sleep 5

# ---------------------------------------------------------------- route refresh
log "route refresh"
birdc_ reload in gobgp4
birdc_ reload in frr_ibgp
sleep 2
# gobgp 3.10 "softresetin" only re-applies policy to its stored Adj-RIB-In; it
# never sends a ROUTE-REFRESH (kept here to document that).
gobgp_ neighbor 192.0.2.1 softresetin
gobgp_ neighbor 203.0.113.6 softresetin
sleep 2
vtysh_ -c 'clear bgp 203.0.113.1 soft in' -c 'clear bgp 203.0.113.5 soft in'
sleep 4

# ---------------------------------------------------------------- resets
log "administrative resets (Cease/Administrative Reset)"
gobgp_ neighbor 2001:db8:c::6 reset --reason "leafvip capture: gobgp resets the session"
sleep 1
birdc_ restart frr_ibgp
sleep 1
vtysh_ -c 'clear bgp 203.0.113.5'
log "waiting for sessions to come back"
sleep 3
wait_established 3 3
sleep 3

# ---------------------------------------------------------------- shutdowns
log "administrative shutdowns with shutdown communication"
birdc_ disable gobgp4 '"leafvip capture: bird2 shuts down the session to gobgp"'
sleep 1
# (`disable` ignores --reason in gobgp 3.10; the deprecated `shutdown` sends it)
gobgp_ neighbor 203.0.113.6 shutdown --reason "leafvip capture: gobgp shuts down the session to frr"
sleep 1
vtysh_ -c 'configure terminal' -c 'router bgp 64496' \
    -c 'neighbor 203.0.113.1 shutdown message leafvip capture: frr shuts down the session to bird2' -c 'end'
sleep 2
birdc_ show protocols || true
gobgp_ neighbor || true
vtysh_ -c 'show bgp summary' || true
sleep 2
log "capture finished"
