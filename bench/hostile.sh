#!/usr/bin/env bash
# Hostile peers on a release build (issue 20): tests/hostile.rs with 100k
# VIPs at BIRD over two hold-3 sessions while a scripted peer floods a
# third session with UPDATEs, KEEPALIVEs and ROUTE-REFRESH (the last one
# never reading), and while every VIP is swapped for another by a reload.
# Each run waits 61 s before its floods so that the
# status's one-minute maximum holds the flood's longest event, not the
# initial sync's. Prints, per flood: the longest event in the last minute
# (and since start), and leafvip's RSS before the flood and at its peak.
# Run as root: bench/hostile.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
for i in $(seq "$runs"); do
    LEAFVIP_REQUIRE_ROOT_TESTS=1 LEAFVIP_HOSTILE_VIPS=100000 LEAFVIP_HOSTILE_SETTLE=61 \
        cargo test -q --release --features metrics,bfd --test hostile -- --nocapture --test-threads 1 \
        floods_ a_peer_that_floods swapping_ 2>&1 | grep -oE "figure .*|test result: FAILED.*|panicked.*"
done
