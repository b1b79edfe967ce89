#!/usr/bin/env bash
# leafvip announcer for ../shared/bench/run-anchors.sh (see its README):
#   leafvip.sh start NETNS LOCAL_IP LOCAL_AS PEER_IP PEER_AS ROUTES_FILE WORKDIR
# The routes file becomes a `vips_file` (PREFIX NEXTHOP per line, so third-
# party next hops work too) and a small config; leafvip connects at once and
# does not listen. LEAFVIP_BIN overrides the binary (default: the release
# build of this checkout).
here=$(cd "$(dirname "$0")" && pwd)
. "${AB_LIB:-$here/../../../shared/bench/announcers/lib.sh}"
ab_parse_args "$@"

bin=${LEAFVIP_BIN:-$here/../../target/release/leafvip}
[ -x "$bin" ] || ab_die "no leafvip binary at $bin (cargo build --release)"

awk 'NF {print $1, $2}' "$ROUTES_FILE" > "$WORKDIR/vips"
cat > "$WORKDIR/leafvip.toml" <<EOF
vips_file = "$WORKDIR/vips"

[bgp]
asn = $LOCAL_AS
router_id = "$LOCAL_IP"

[node]
name = "bench"

[[peer]]
address = "$PEER_IP"
asn = $PEER_AS
local_address = "$LOCAL_IP"
families = ["ipv4-unicast"]
EOF

export RUST_LOG=warn
ab_spawn "$WORKDIR/leafvip.out" "$bin" run -c "$WORKDIR/leafvip.toml" -s "$WORKDIR/leafvip.sock"
echo "$AB_PID"
