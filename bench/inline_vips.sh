#!/usr/bin/env bash
# How `leafvip check` scales with inline [[vip]] tables: 5k, 20k and 100k
# VIPs in the config itself (not a vips_file). Each error and table
# position once cost a scan from the top of the file (quadratic: 100k took
# minutes); `toml_read::Lines` counts lines once. Prints N and milliseconds.
#   bench/inline_vips.sh [BINARY]   (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/leafvip}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in 5000 20000 100000; do
    python3 - "$n" > "$work/leafvip.toml" <<'PY'
import sys
n = int(sys.argv[1])
print('[bgp]\nasn = 65100\nrouter_id = "198.51.100.3"\n')
for i in range(n):
    print(f'[[vip]]\nprefix = "2001:db8:1::{i >> 16:x}:{i & 0xffff:x}/128"\n')
PY
    start=$(date +%s%N)
    "$bin" check -c "$work/leafvip.toml" > /dev/null
    end=$(date +%s%N)
    echo "$n inline VIPs: $(( (end - start) / 1000000 )) ms"
done
