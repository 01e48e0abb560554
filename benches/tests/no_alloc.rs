//! The target: the TFTP server's send path allocates nothing per DATA packet.
//!
//! A counting global allocator counts only while a call into the server session runs
//! (`NeedData`/`supply`, `poll_transmit`, `handle_datagram` of the ACKs). Two in-memory
//! transfers that differ only in file length must cost the server the same number of
//! allocations: whatever the session allocates (the OACK, the window) is per transfer.

#![allow(
    unsafe_code,
    reason = "a counting global allocator is an unsafe trait impl"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use pxe_benches::transfer::{Side, run};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only adds a relaxed counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Server-side allocations and DATA packets sent for one transfer.
fn server_allocs(file: &[u8], blksize: u16, windowsize: u16) -> (u64, u64) {
    ALLOCS.store(0, Ordering::SeqCst);
    let (got, session) = run(file, blksize, windowsize, &mut |side, f| {
        if side == Side::Server {
            COUNTING.store(true, Ordering::SeqCst);
            f();
            COUNTING.store(false, Ordering::SeqCst);
        } else {
            f();
        }
    });
    assert_eq!(got, file.len() as u64, "transfer incomplete");
    (ALLOCS.load(Ordering::SeqCst), session.stats().packets_sent)
}

#[test]
fn server_send_path_allocates_nothing_per_data_packet() {
    // The counter itself works: an allocation inside a counted region is seen.
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let v = std::hint::black_box(vec![1u8; 100]);
    COUNTING.store(false, Ordering::SeqCst);
    drop(v);
    assert!(
        ALLOCS.load(Ordering::SeqCst) >= 1,
        "the counting allocator is not counting"
    );

    let big: Vec<u8> = (0..(8u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let small = &big[..1 << 20];
    for (blksize, windowsize) in [(512, 1), (1468, 1), (1468, 16), (1468, 64), (8192, 16)] {
        let (a_small, p_small) = server_allocs(small, blksize, windowsize);
        let (a_big, p_big) = server_allocs(&big, blksize, windowsize);
        let per_packet = (a_big as f64 - a_small as f64) / (p_big - p_small) as f64;
        println!(
            "blksize {blksize} windowsize {windowsize}: {a_small} allocations for {p_small} packets, \
             {a_big} for {p_big} packets: {per_packet:.4} per extra DATA packet"
        );
        assert_eq!(
            a_big, a_small,
            "blksize {blksize} windowsize {windowsize}: the server allocates per DATA packet"
        );
    }
}
