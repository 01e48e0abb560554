//! DHCP hot path, ns per packet: parse and emit of an iPXE-shaped DHCPDISCOVER, with the
//! `dhcproto` crate's parse and encode of the same bytes side by side.

// criterion_group!/criterion_main! generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dhcproto::{Decodable, Encodable};
use pxe_benches::fixtures::ipxe_discover;
use std::hint::black_box;

fn dhcproto_reference(c: &mut Criterion) {
    let bytes = ipxe_discover(0x1234_5678, [0x52, 0x54, 0, 0x77, 0, 0x10]);
    let mut g = c.benchmark_group("dhcp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("dhcproto_parse_discover", |b| {
        b.iter(|| dhcproto::v4::Message::from_bytes(black_box(&bytes)).map(|m| m.xid()))
    });
    let msg = dhcproto::v4::Message::from_bytes(&bytes).expect("fixture parses");
    g.bench_function("dhcproto_encode_discover", |b| {
        b.iter(|| black_box(&msg).to_vec().map(|v| v.len()))
    });
    g.finish();
}

criterion_group!(benches, dhcproto_reference);
criterion_main!(benches);
