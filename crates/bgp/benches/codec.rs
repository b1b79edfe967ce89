//! Encode 100k /32 announcements into UPDATEs (through the Adj-RIB-Out, the
//! path the daemon takes) and decode that stream back.
//! Run: cargo bench -p leafvip-bgp --bench codec
mod support;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leafvip_bgp::rib_out::{AdjRibOut, Route, RouteAttrs};
use leafvip_bgp::session::Negotiated;
use leafvip_bgp::wire::{next_message_len, Context, FamilySet, Message, Prefix};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use support::negotiated;

const N: u32 = 100_000;

fn routes() -> Vec<Route> {
    let attrs = Arc::new(RouteAttrs::default());
    (0..N)
        .map(|i| Route {
            prefix: Prefix::host(IpAddr::V4(Ipv4Addr::from(0x6440_0000 + i))),
            next_hop: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2)),
            attrs: attrs.clone(),
        })
        .collect()
}

fn encode(neg: &Negotiated, routes: &[Route]) -> Vec<u8> {
    let mut rib = AdjRibOut::new(65100);
    rib.set_routes(routes.iter().cloned());
    rib.session_up(neg);
    let ctx = neg.send_context();
    let mut out = Vec::with_capacity(routes.len() * 6);
    for u in rib.poll_updates() {
        Message::Update(u).emit(&ctx, &mut out).expect("fits");
    }
    out
}

fn decode(stream: &[u8], ctx: &Context) -> usize {
    let mut pos = 0;
    let mut routes = 0;
    while let Ok(Some(len)) = next_message_len(&stream[pos..], ctx) {
        if let Ok(Message::Update(u)) = Message::parse(&stream[pos..pos + len], ctx) {
            routes += u.announced().count();
        }
        pos += len;
    }
    routes
}

fn bench(c: &mut Criterion) {
    let routes = routes();
    let mut g = c.benchmark_group("100k_ipv4_host_routes");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.sample_size(20);
    for (name, neg) in [
        ("4096", negotiated(false, FamilySet::EMPTY)),
        ("65535", negotiated(true, FamilySet::EMPTY)),
        ("4096_addpath", negotiated(false, FamilySet::IPV4)),
    ] {
        g.bench_function(format!("encode_{name}"), |b| {
            b.iter(|| black_box(encode(&neg, &routes)))
        });
        let stream = encode(&neg, &routes);
        let ctx = neg.receive_context();
        assert_eq!(decode(&stream, &ctx), N as usize);
        g.bench_function(format!("decode_{name}"), |b| {
            b.iter(|| black_box(decode(&stream, &ctx)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
