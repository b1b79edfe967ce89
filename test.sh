#!/usr/bin/env bash
# Runs every test. The protocol core does not depend on cargo features, so
# it runs once; the leafvip crate's unit tests run with each feature on its
# own; the integration tests (including the root-only interop and fault
# tests in network namespaces) run with all features. With
# LEAFVIP_REQUIRE_ROOT_TESTS=1 a missing root or router binary fails them
# instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")"

run() {
    echo "==> cargo test $*"
    cargo test "$@"
}

run -p leafvip-bgp --all-targets
run -p leafvip --lib --bins --no-default-features
for feature in kube l2 bfd; do
    run -p leafvip --lib --bins --no-default-features --features "$feature"
done
run -p leafvip --all-targets --all-features
