//! DHCP hot path, ns per packet, on an iPXE-shaped DHCPDISCOVER (442 bytes): parse, emit,
//! client classification, the boot-policy decision, and a whole proxyDHCP DISCOVER → OFFER;
//! with the `dhcproto` crate's parse and encode of the same bytes side by side.

#![allow(
    missing_docs,
    reason = "criterion_group!/criterion_main! generate undocumented public functions"
)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dhcproto::{Decodable, Encodable};
use pxe_benches::fixtures::ipxe_discover;
use pxe_dhcp::policy::Policy;
use pxe_dhcp::pxe::ClientInfo;
use pxe_dhcp::responder::{ProxyConfig, ProxyResponder};
use pxe_dhcp::wire::{Packet, Repr};
use pxe_proto::{Datagram, Instant, SansIo};

const MAC: [u8; 6] = [0x52, 0x54, 0, 0x77, 0, 0x10];

fn dhcp(c: &mut Criterion) {
    let bytes = ipxe_discover(0x1234_5678, MAC);
    let server = Ipv4Addr::new(10, 77, 0, 1);
    let mut g = c.benchmark_group("dhcp");
    g.throughput(Throughput::Elements(1));

    g.bench_function("pxe_view_checked", |b| {
        b.iter(|| Packet::new_checked(black_box(&bytes[..])).map(|p| p.xid()))
    });
    g.bench_function("pxe_parse_discover", |b| {
        b.iter(|| Repr::parse_bytes(black_box(&bytes)).map(|r| r.xid))
    });
    g.bench_function("dhcproto_parse_discover", |b| {
        b.iter(|| dhcproto::v4::Message::from_bytes(black_box(&bytes)).map(|m| m.xid()))
    });

    let repr = Repr::parse_bytes(&bytes).expect("fixture parses");
    let mut out = vec![0u8; 1500];
    g.bench_function("pxe_emit_discover", |b| {
        b.iter(|| black_box(&repr).emit(&mut out))
    });
    let msg = dhcproto::v4::Message::from_bytes(&bytes).expect("fixture parses");
    g.bench_function("dhcproto_encode_discover", |b| {
        b.iter(|| black_box(&msg).to_vec().map(|v| v.len()))
    });

    g.bench_function("pxe_classify", |b| {
        b.iter(|| ClientInfo::from_repr(black_box(&repr)).firmware)
    });
    let client = ClientInfo::from_repr(&repr);
    let policy = Policy::default();
    g.bench_function("pxe_policy_decide", |b| {
        b.iter(|| {
            policy
                .decide(black_box(&client), server)
                .map(|d| d.rule_index)
        })
    });
    g.bench_function("pxe_parse_classify_decide", |b| {
        b.iter(|| {
            let r = Repr::parse_bytes(black_box(&bytes)).expect("parses");
            policy
                .decide(&ClientInfo::from_repr(&r), server)
                .map(|d| d.rule_index)
        })
    });

    let mut proxy = ProxyResponder::new(ProxyConfig::new(server), Policy::default());
    let local = SocketAddr::from(([255, 255, 255, 255], 67));
    let remote = SocketAddr::from(([0, 0, 0, 0], 68));
    g.bench_function("pxe_proxy_discover_to_offer", |b| {
        b.iter(|| {
            let now = Instant::from_secs(1);
            proxy.handle_datagram(now, Datagram::new(remote, local, black_box(&bytes)));
            let len = proxy.poll_transmit(now, &mut out).map(|t| t.len);
            while proxy.poll_event().is_some() {}
            len
        })
    });
    g.finish();
}

criterion_group!(benches, dhcp);
criterion_main!(benches);
