//! The hot path allocates nothing: once a transfer runs, neither the server session nor the
//! reference client allocates per DATA packet. Counted with a global allocator, so
//! this file holds a single test.

#![allow(
    unsafe_code,
    reason = "a counting global allocator is an unsafe trait impl"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use pxe_proto::{Datagram, Instant, SansIo};
use pxe_tftp::{Client, ClientConfig, FileInfo, Server, ServerConfig, SessionEvent};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only adds a relaxed counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_allocation_per_packet_once_running() {
    for window in ["1", "4", "64"] {
        let file: Vec<u8> = (0..1468 * 3000u32).map(|i| i as u8).collect();
        let (srv, port, cli): (SocketAddr, SocketAddr, SocketAddr) = (
            "10.0.0.1:69".parse().unwrap(),
            "10.0.0.1:40000".parse().unwrap(),
            "10.0.0.2:1234".parse().unwrap(),
        );
        let now = Instant::ZERO;
        let cfg = ClientConfig::default()
            .option("blksize", "1468")
            .option("windowsize", window)
            .option("tsize", "0");
        let mut client = Client::new(now, srv, b"boot.img", cfg).unwrap();
        let mut server = Server::new(ServerConfig::default());
        let mut buf = vec![0u8; 2048];
        let tx = client.poll_transmit(now, &mut buf).unwrap();
        server.handle_datagram(now, Datagram::new(cli, srv, &buf[..tx.len]));
        let mut session = server.poll_event().unwrap().accept(
            now,
            FileInfo {
                size: Some(file.len() as u64),
            },
        );
        let mut received = 0u64;
        let mut counted_from = None;
        let mut allocations_while_running = 0;
        while !session.is_finished() {
            // Warm-up: the first 100 blocks may size queues and buffers.
            let blocks = session.stats().blocks;
            if counted_from.is_none() && blocks >= 100 {
                counted_from = Some((blocks, ALLOCATIONS.load(Ordering::Relaxed)));
            }
            if let Some((_, start)) = counted_from
                && blocks < 2900
            {
                allocations_while_running = ALLOCATIONS.load(Ordering::Relaxed) - start;
            }
            while let Some(ev) = session.poll_event() {
                let SessionEvent::NeedData { offset, len } = ev else {
                    continue;
                };
                let start = offset as usize;
                let end = (start + len).min(file.len());
                session.supply(offset, &file[start..end]).unwrap();
            }
            while let Some(tx) = session.poll_transmit(now, &mut buf) {
                client.handle_datagram(now, Datagram::new(port, cli, &buf[..tx.len]));
                while let Some((offset, bytes)) = client.poll_data() {
                    assert_eq!(offset, received);
                    received += bytes.len() as u64;
                }
            }
            while let Some(tx) = client.poll_transmit(now, &mut buf) {
                session.handle_datagram(now, Datagram::new(cli, port, &buf[..tx.len]));
            }
            while client.poll_event().is_some() {}
        }
        assert_eq!(received, file.len() as u64);
        assert!(counted_from.is_some());
        assert_eq!(
            allocations_while_running, 0,
            "window {window}: allocations while running"
        );
    }
}
