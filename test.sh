#!/usr/bin/env bash
# Runs every test: each cargo feature on its own and all together (unit,
# property, byte-vector and scripted-session tests; benches run once as
# tests so they cannot rot). Interop tests that need root and real routers
# join this script as they land; with LEAFVIP_REQUIRE_ROOT_TESTS=1 they fail
# instead of skipping when root or a router binary is missing.
set -euo pipefail
cd "$(dirname "$0")"

run() {
    echo "==> cargo test $*"
    cargo test --workspace --all-targets "$@"
}

run --no-default-features
for feature in kube l2 bfd; do
    run --no-default-features --features "$feature"
done
run --all-features
