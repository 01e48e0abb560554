//! TFTP hot paths: packet parse/emit (ns per packet) and a whole in-memory transfer through
//! the `pxe-tftp` client and server cores (MiB/s, no sockets).

#![allow(
    missing_docs,
    reason = "criterion_group!/criterion_main! generate undocumented public functions"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pxe_tftp::BlockNumber;
use pxe_tftp::wire::{Options, Packet, Repr};

fn wire(c: &mut Criterion) {
    let payload = vec![0xa5u8; 1468];
    let data = Repr::Data {
        block: BlockNumber(4242),
        data: &payload,
    };
    let mut data_bytes = vec![0u8; data.buffer_len()];
    data.emit(&mut data_bytes).expect("fits");
    let ack_bytes = [0u8, 4, 0x10, 0x92];
    let rrq_bytes = b"\x00\x01pxelinux.cfg/01-52-54-00-77-00-10\x00octet\x00tsize\x000\x00blksize\x001468\x00windowsize\x004\x00";
    let oack_opts = b"tsize\x0067108864\x00blksize\x001468\x00windowsize\x004\x00";

    let mut g = c.benchmark_group("tftp_wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_data_1468", |b| {
        b.iter(|| {
            let p = Packet::new_checked(black_box(&data_bytes[..])).expect("valid");
            Repr::parse(&p).map(|r| matches!(r, Repr::Data { .. }))
        })
    });
    g.bench_function("parse_ack", |b| {
        b.iter(|| {
            let p = Packet::new_checked(black_box(&ack_bytes[..])).expect("valid");
            Repr::parse(&p).map(|r| matches!(r, Repr::Ack { .. }))
        })
    });
    g.bench_function("parse_rrq_3_options", |b| {
        b.iter(|| {
            let p = Packet::new_checked(black_box(&rrq_bytes[..])).expect("valid");
            match Repr::parse(&p) {
                Ok(Repr::Rrq { options, .. }) => options.iter().count(),
                _ => 0,
            }
        })
    });
    let mut out = vec![0u8; 2048];
    g.bench_function("emit_data_1468", |b| {
        b.iter(|| {
            Repr::Data {
                block: BlockNumber(black_box(7)),
                data: black_box(&payload),
            }
            .emit(&mut out)
        })
    });
    g.bench_function("emit_ack", |b| {
        b.iter(|| {
            Repr::Ack {
                block: BlockNumber(black_box(7)),
            }
            .emit(&mut out)
        })
    });
    g.bench_function("emit_oack_3_options", |b| {
        b.iter(|| {
            Repr::Oack {
                options: Options::from_bytes(black_box(oack_opts)),
            }
            .emit(&mut out)
        })
    });
    g.finish();
}

fn transfer(c: &mut Criterion) {
    let file: Vec<u8> = (0..(16u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let mut g = c.benchmark_group("tftp_transfer_in_memory_16MiB");
    g.throughput(Throughput::Bytes(file.len() as u64));
    g.sample_size(10);
    for (blksize, windowsize) in [
        (512u16, 1u16),
        (1468, 1),
        (1468, 16),
        (1468, 64),
        (8192, 16),
    ] {
        // Every iteration must move the whole file, or the figure means nothing.
        let (got, _) = pxe_benches::transfer::run(&file, blksize, windowsize, &mut |_, f| f());
        assert_eq!(got, file.len() as u64);
        g.bench_function(format!("blksize{blksize}_ws{windowsize}"), |b| {
            b.iter(|| pxe_benches::transfer::run(&file, blksize, windowsize, &mut |_, f| f()).0)
        });
    }
    g.finish();
}

criterion_group!(benches, wire, transfer);
criterion_main!(benches);
