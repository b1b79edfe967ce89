//! The work one peer event does when 100k VIPs are swapped for another
//! 100k (issue 20): `set_routes` with the new set, then each `poll_batch`
//! of the diff, as the runtime pumps them. The loop's goal is no event
//! over 50 ms, so both are timed on their own.
//! Run: cargo bench -p leafvip-bgp --bench replace
mod support;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use leafvip_bgp::peer::BATCH;
use leafvip_bgp::rib_out::{AdjRibOut, Route, RouteAttrs};
use leafvip_bgp::wire::{FamilySet, Prefix};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use support::negotiated;

const N: u32 = 100_000;

fn routes(base: u32) -> Vec<Route> {
    let attrs = Arc::new(RouteAttrs::default());
    (0..N)
        .map(|i| Route {
            prefix: Prefix::host(IpAddr::V4(Ipv4Addr::from(base + i))),
            next_hop: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2)),
            attrs: attrs.clone(),
        })
        .collect()
}

/// A peer that holds the first set, synced.
fn synced() -> AdjRibOut {
    let mut rib = AdjRibOut::new(65100);
    rib.set_routes(routes(0x6440_0000));
    rib.session_up(&negotiated(false, FamilySet::EMPTY));
    while rib.has_pending() {
        rib.poll_batch(BATCH);
    }
    rib
}

fn bench(c: &mut Criterion) {
    let next = routes(0x6460_0000);
    let mut g = c.benchmark_group("replace_100k");
    g.sample_size(10);
    g.bench_function("set_routes", |b| {
        b.iter_batched(
            synced,
            |mut rib| {
                rib.set_routes(next.iter().cloned());
                rib
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("poll_batch", |b| {
        b.iter_batched(
            || {
                let mut rib = synced();
                rib.set_routes(next.iter().cloned());
                rib
            },
            |mut rib| rib.poll_batch(BATCH),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
