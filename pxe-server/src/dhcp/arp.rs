//! Neighbour-table injection for RFC 2131 §4.1 "unicast to the client's hardware address".
//!
//! A client without an address does not answer ARP, so to unicast an OFFER/ACK to its new
//! `yiaddr` the server first tells the kernel which MAC that address has (what dnsmasq and ISC
//! dhcpd do with `SIOCSARP`). When that fails the driver broadcasts instead, which every client
//! accepts.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;

use nix::libc;
use pxe_proto::MacAddr;

nix::ioctl_write_ptr_bad!(
    /// `SIOCSARP` (netdevice(7), `<linux/sockios.h>`): nix has no neighbour-table wrapper, so
    /// the ioctl is declared with nix's macro, which turns the -1 return into an `Errno`.
    siocsarp,
    libc::SIOCSARP,
    libc::arpreq
);

/// ARP flag "entry complete" (`ATF_COM` in `<net/if_arp.h>`).
const ATF_COM: libc::c_int = 0x02;

/// Adds (or replaces) the neighbour entry `ip` → `mac` on interface `ifname`.
#[allow(
    unsafe_code,
    reason = "the arpreq C struct and the SIOCSARP ioctl have no safe wrapper in nix"
)]
pub fn set_neighbour(fd: RawFd, ifname: &str, ip: Ipv4Addr, mac: MacAddr) -> io::Result<()> {
    let name = ifname.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {ifname:?}"),
        ));
    }
    // SAFETY: all-zero bytes are a valid value for this plain C struct.
    let mut req: libc::arpreq = unsafe { std::mem::zeroed() };

    let pa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in (16 bytes) fits in sockaddr (16 bytes); both are plain C structs.
    req.arp_pa = unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(pa) };

    req.arp_ha.sa_family = libc::ARPHRD_ETHER;
    for (d, s) in req.arp_ha.sa_data.iter_mut().zip(mac.octets()) {
        *d = s as libc::c_char;
    }
    req.arp_flags = ATF_COM;
    for (d, s) in req.arp_dev.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }

    // SAFETY: `req` is a fully initialised arpreq that lives across the call; SIOCSARP only reads it.
    unsafe { siocsarp(fd, &raw const req) }?;
    Ok(())
}
