//! Router advertisements for isolated networks (RFC 4861 §4.2, §6.2), as dnsmasq's
//! `enable-ra` sends them: the M and O flags say how hosts configure themselves, and one Prefix
//! Information option gives the on-link prefix.
//!
//! - server mode: M=1, O=1, prefix with L=1, A=0: addresses come from DHCPv6 only
//!   (dnsmasq's plain `dhcp-range` with `enable-ra`);
//! - boot-only mode: M=0, O=1, prefix with L=1, A=1: SLAAC addresses, boot options through an
//!   Information-request (dnsmasq's `ra-stateless`).
//!
//! The router lifetime is [`ROUTER_LIFETIME`] (dnsmasq's default), not 0: EDK2's PXE waits up
//! to 10 s for a gateway in its IPv6 route table after DHCPv6 before it loads the boot file
//! (NetworkPkg/UefiPxeBcDxe/PxeBcImpl.c, `PxeBcSetIp6Address` → `PxeBcCheckRouteTable` with
//! `PXEBC_IP6_ROUTE_TABLE_TIMEOUT`). On the isolated networks these RAs are for, nothing is
//! off-link, so being the default router costs nothing.

use std::io;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, setsockopt, sockopt};
use pxe_proto::MacAddr;
use tokio::sync::watch;

use super::Dhcp6Mode;

/// ICMPv6 Router Solicitation (RFC 4861 §4.1).
const ROUTER_SOLICITATION: u8 = 133;
/// ICMPv6 Router Advertisement (RFC 4861 §4.2).
const ROUTER_ADVERTISEMENT: u8 = 134;
/// All-nodes multicast (RFC 4291 §2.7.1).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Router lifetime advertised, in seconds (RFC 4861 §6.2.1 AdvDefaultLifetime: 3 ×
/// MaxRtrAdvInterval by default; dnsmasq sends 1800).
pub const ROUTER_LIFETIME: u16 = 1800;
/// Unsolicited advertisement interval: RFC 4861 §6.2.1 allows 4-1800 s; short, for firmware
/// that does not solicit.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Prefix valid lifetime advertised, in seconds (one day).
const VALID: u32 = 86_400;
/// Prefix preferred lifetime advertised, in seconds (four hours).
const PREFERRED: u32 = 14_400;

/// The RA's bytes (checksum left 0: the kernel fills it in on ICMPv6 raw sockets, RFC 3542
/// §3.1).
pub fn advertisement(
    mode: Dhcp6Mode,
    prefix: Ipv6Addr,
    prefix_len: u8,
    mac: Option<MacAddr>,
) -> Vec<u8> {
    let (m, o, a) = match mode {
        Dhcp6Mode::Server => (true, true, false),
        Dhcp6Mode::BootOnly | Dhcp6Mode::Off => (false, true, true),
    };
    let mut ra = vec![ROUTER_ADVERTISEMENT, 0, 0, 0, 64];
    ra.push(u8::from(m) << 7 | u8::from(o) << 6);
    ra.extend_from_slice(&ROUTER_LIFETIME.to_be_bytes());
    ra.extend_from_slice(&[0; 8]); // reachable time, retrans timer: unspecified
    if let Some(mac) = mac {
        // Source link-layer address (RFC 4861 §4.6.1), length in units of 8 octets.
        ra.extend_from_slice(&[1, 1]);
        ra.extend_from_slice(&mac.octets());
    }
    // Prefix Information (RFC 4861 §4.6.2).
    ra.extend_from_slice(&[3, 4, prefix_len, 0x80 | u8::from(a) << 6]);
    ra.extend_from_slice(&VALID.to_be_bytes());
    ra.extend_from_slice(&PREFERRED.to_be_bytes());
    ra.extend_from_slice(&[0; 4]);
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix_len.min(128)))
        .unwrap_or(0);
    ra.extend_from_slice(&(u128::from(prefix) & mask).to_be_bytes());
    ra
}

/// Opens the raw ICMPv6 socket RAs leave from, bound to `iface` (index `index`), without a
/// runtime: it needs `CAP_NET_RAW`, which the server gives up after binding.
pub fn open(iface: &str, index: u32) -> io::Result<std::net::UdpSocket> {
    let sock = crate::udp::socket(
        AddressFamily::Inet6,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK,
        SockProtocol::IcmpV6,
    )?;
    setsockopt(
        &sock,
        sockopt::BindToDevice,
        &std::ffi::OsString::from(iface),
    )?;
    // RFC 4861 §6.1.2: hosts drop an RA whose hop limit is not 255.
    setsockopt(&sock, sockopt::Ipv6MulticastHops, &255)?;
    setsockopt(&sock, sockopt::Ipv6Ttl, &255)?;
    setsockopt(
        &sock,
        crate::udp::opt::Ipv6MulticastIf,
        &i32::try_from(index).unwrap_or(0),
    )?;
    // A raw socket is still a datagram socket to recv/sendto: tokio drives it like UDP.
    Ok(sock.into())
}

/// Sends `ra` through `sock` (from [`open`]) on interface `index` every [`INTERVAL`] and in
/// answer to each Router Solicitation (at most one a second), until `shutdown`.
pub async fn run(
    sock: std::net::UdpSocket,
    ra: Vec<u8>,
    iface: &str,
    index: u32,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let sock = tokio::net::UdpSocket::from_std(sock)?;
    let to = SocketAddr::V6(SocketAddrV6::new(ALL_NODES, 0, 0, index));
    let mut tick = tokio::time::interval(INTERVAL);
    let mut last = tokio::time::Instant::now() - Duration::from_secs(2);
    let mut buf = [0u8; 1500];
    loop {
        let send = tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    return Ok(());
                }
                false
            }
            _ = tick.tick() => true,
            r = sock.recv(&mut buf) => {
                let n = r?;
                n > 0 && buf[0] == ROUTER_SOLICITATION && last.elapsed() >= Duration::from_secs(1)
            }
        };
        if send {
            last = tokio::time::Instant::now();
            if let Err(e) = sock.send_to(&ra, to).await {
                tracing::warn!(error = %e, interface = iface, "router advertisement not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_mode() {
        let p: Ipv6Addr = "2001:db8:77::1".parse().expect("addr");
        let mac = Some(MacAddr([2, 0, 0, 0, 0, 1]));
        let s = advertisement(Dhcp6Mode::Server, p, 64, mac);
        assert_eq!(s[0], ROUTER_ADVERTISEMENT);
        assert_eq!(s[5], 0xc0, "M and O");
        assert_eq!(&s[6..8], &ROUTER_LIFETIME.to_be_bytes());
        assert_eq!(&s[16..18], &[1, 1]);
        // Prefix option after the 16-byte header and the 8-byte link-layer option.
        assert_eq!(&s[24..28], &[3, 4, 64, 0x80]);
        assert_eq!(
            &s[40..56],
            &"2001:db8:77::".parse::<Ipv6Addr>().expect("p").octets()
        );
        let b = advertisement(Dhcp6Mode::BootOnly, p, 64, None);
        assert_eq!(b[5], 0x40, "O only");
        assert_eq!(&b[16..20], &[3, 4, 64, 0xc0], "L and A");
        assert_eq!(b.len(), 16 + 32);
    }
}
