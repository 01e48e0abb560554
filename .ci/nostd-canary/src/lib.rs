//! The no_std canary: links the four cores with their default features off (plus the
//! pxe-smoltcp driver), with its own panic handler and allocator, as firmware or a smoltcp device
//! would. It builds only if none of them
//! (nor any dependency) links `std`. Nothing runs it; building it is the test.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::sync::atomic::{AtomicUsize, Ordering};

use pxe_proto::{Datagram, Instant, SansIo, TlvIter};

/// A bump allocator over a static arena; frees nothing (enough to link, and to run a request).
struct Bump;

const ARENA: usize = 256 * 1024;

struct Arena(UnsafeCell<[u8; ARENA]>);

// SAFETY: every byte range is handed out once (the atomic cursor only grows), so no two
// allocations alias.
unsafe impl Sync for Arena {}

static HEAP: Arena = Arena(UnsafeCell::new([0; ARENA]));
static NEXT: AtomicUsize = AtomicUsize::new(0);

// SAFETY: returns null when out of space; returned ranges are in bounds, aligned, disjoint.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = HEAP.0.get().cast::<u8>();
        let mut cur = NEXT.load(Ordering::Relaxed);
        loop {
            let addr = base as usize + cur;
            let start = addr.next_multiple_of(layout.align()) - base as usize;
            let Some(end) = start.checked_add(layout.size()).filter(|&e| e <= ARENA) else {
                return core::ptr::null_mut();
            };
            match NEXT.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                // SAFETY: start + size <= ARENA, so the pointer stays inside HEAP.
                Ok(_) => return unsafe { base.add(start) },
                Err(now) => cur = now,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

fn addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port))
}

/// Runs each core once on `len` bytes at `ptr`, so all four are linked in. Returns a number
/// derived from every result so nothing is optimised away.
///
/// # Safety
/// `ptr` must point to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pxe_nostd_canary(ptr: *const u8, len: usize) -> usize {
    // SAFETY: the caller's contract.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    let now = Instant::from_millis(1);
    let mut score = TlvIter::new(bytes).count();

    let mut server = pxe_tftp::Server::new(pxe_tftp::ServerConfig::default());
    server.handle_datagram(now, Datagram::new(addr(2, 2000), addr(1, 69), bytes));
    let mut buf = [0u8; 600];
    while let Some(t) = server.poll_transmit(now, &mut buf) {
        score += t.len;
    }
    if let Some(incoming) = server.poll_event() {
        let mut session = incoming.accept(now, pxe_tftp::FileInfo { size: Some(3) });
        while session.poll_event().is_some() {}
        score += session.max_transmit_len();
    }
    score += usize::from(pxe_tftp::wire::Repr::parse_bytes(bytes).is_ok());

    if let Ok(msg) = pxe_dhcp::wire::Repr::parse_bytes(bytes) {
        let info = pxe_dhcp::pxe::ClientInfo::from_repr(&msg);
        score += msg.options.len() + usize::from(info.is_netboot());
    }

    if let Ok(text) = core::str::from_utf8(bytes) {
        score += pxe_menu::Config::parse(text).items.len();
    }
    score + smoltcp_round(bytes)
}

/// One round of the smoltcp driver on a loopback interface, serving `bytes` as a file.
fn smoltcp_round(bytes: &[u8]) -> usize {
    use pxe_smoltcp::{Driver, DriverConfig, MemoryFiles};
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{Loopback, Medium};
    use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

    let now = smoltcp::time::Instant::from_millis(1);
    let mut device = Loopback::new(Medium::Ip);
    let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut device, now);
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24));
    });
    let mut sockets = SocketSet::new(alloc::vec![]);
    let files = [("f", bytes)];
    let config = DriverConfig {
        transfer_ports: 50000..50001,
        ..DriverConfig::default()
    };
    match Driver::new(config, MemoryFiles::new(&files), &mut sockets) {
        Ok(mut driver) => {
            let wake = driver.run(now, &mut iface, &mut device, &mut sockets);
            usize::from(wake.is_some()) + driver.active_transfers()
        }
        Err(_) => 0,
    }
}
