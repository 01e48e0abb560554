//! UDP sockets over nix: making them (close-on-exec, any family; the HTTP listener makes its
//! TCP socket with the same [`socket`], [`family_of`] and [`bind`]), the few socket options nix
//! has no type for, and the one `IP_PKTINFO` / `IPV6_RECVPKTINFO` receive path, shared by the
//! TFTP listener, the DHCP sockets and the DHCPv6 socket: a datagram, who sent it, and the
//! local address and interface it came to.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockProtocol, SockType,
    SockaddrStorage, recvmsg, setsockopt, sockopt,
};

/// A new socket of `family` and `kind` (`SOCK_CLOEXEC`, plus `flags`): what `socket2::Socket::new`
/// did, as nix's `socket` with an `OwnedFd` that converts into the std and tokio types.
pub fn socket(
    family: AddressFamily,
    kind: SockType,
    flags: SockFlag,
    protocol: SockProtocol,
) -> io::Result<OwnedFd> {
    Ok(nix::sys::socket::socket(
        family,
        kind,
        flags | SockFlag::SOCK_CLOEXEC,
        protocol,
    )?)
}

/// The address family of `addr` (`AF_INET` or `AF_INET6`), for [`socket`].
#[must_use]
pub fn family_of(addr: SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// A UDP socket of `addr`'s family (`addr` is only looked at for that).
pub fn udp_socket_for(addr: SocketAddr, flags: SockFlag) -> io::Result<OwnedFd> {
    socket(
        family_of(addr),
        SockType::Datagram,
        flags,
        SockProtocol::Udp,
    )
}

/// `bind(2)` to a std address.
pub fn bind(socket: &impl AsFd, addr: SocketAddr) -> io::Result<()> {
    Ok(nix::sys::socket::bind(
        socket.as_fd().as_raw_fd(),
        &SockaddrStorage::from(addr),
    )?)
}

/// `connect(2)` to a std address.
pub fn connect(socket: &impl AsFd, addr: SocketAddr) -> io::Result<()> {
    Ok(nix::sys::socket::connect(
        socket.as_fd().as_raw_fd(),
        &SockaddrStorage::from(addr),
    )?)
}

/// The socket options nix 0.30 has no type for, declared with nix's own `sockopt_impl!` (the
/// macro nix documents for this), so they are set and read with nix's `setsockopt` and
/// `getsockopt` like the others.
#[allow(
    unsafe_code,
    reason = "sockopt_impl! expands to the setsockopt/getsockopt FFI calls nix makes for its own options"
)]
pub mod opt {
    use nix::libc;
    use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};

    sockopt_impl!(
        /// `IP_MTU_DISCOVER` (ip(7)): path MTU discovery and the DF bit; `IP_PMTUDISC_DONT`
        /// sends without DF.
        IpMtuDiscover,
        SetOnly,
        libc::IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        libc::c_int
    );
    sockopt_impl!(
        /// `IPV6_MTU` (ipv6(7)) read on a connected socket: the path MTU to its peer.
        Ipv6Mtu,
        GetOnly,
        libc::IPPROTO_IPV6,
        libc::IPV6_MTU,
        libc::c_int
    );
    sockopt_impl!(
        /// `IPV6_MULTICAST_IF` (ipv6(7)): the interface index multicast leaves through.
        Ipv6MulticastIf,
        SetOnly,
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_IF,
        libc::c_int
    );

    #[cfg(test)]
    sockopt_impl!(
        /// `SO_NO_CHECK` (socket(7)): IPv4 UDP datagrams leave without a checksum. The kernel
        /// refuses UDP GSO on such a socket with EINVAL (`udp_send_skb` in
        /// net/ipv4/udp.c), which lets a loopback test force a refusal.
        NoCheck,
        SetOnly,
        libc::SOL_SOCKET,
        libc::SO_NO_CHECK,
        bool
    );

    /// `IP_PMTUDISC_DONT` for [`IpMtuDiscover`].
    pub const IP_PMTUDISC_DONT: libc::c_int = libc::IP_PMTUDISC_DONT;
}

/// One datagram received with its packet info.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// Payload bytes written into the buffer.
    pub len: usize,
    /// The sender (unspecified address, port 0, if the kernel gave none).
    pub remote: SocketAddr,
    /// The header's destination address (the broadcast address for a broadcast), when the
    /// socket asked for packet info.
    pub local: Option<IpAddr>,
    /// The interface it arrived on (0 when unknown).
    pub ifindex: u32,
}

/// Asks the kernel to report each datagram's destination address and interface.
pub fn enable_pktinfo(socket: &impl AsFd, ipv6: bool) -> io::Result<()> {
    if ipv6 {
        setsockopt(socket, sockopt::Ipv6RecvPacketInfo, &true)?;
        // A dual-stack socket reports its IPv4 datagrams with IP_PKTINFO.
        let _ = setsockopt(socket, sockopt::Ipv4PacketInfo, &true);
    } else {
        setsockopt(socket, sockopt::Ipv4PacketInfo, &true)?;
    }
    Ok(())
}

/// A control buffer for [`recv_pktinfo`], allocated once per socket.
#[must_use]
pub fn pktinfo_cmsg_space() -> Vec<u8> {
    nix::cmsg_space!(nix::libc::in_pktinfo, nix::libc::in6_pktinfo)
}

/// One non-blocking `recvmsg` into `buf`, reading packet info into `cmsg` (from
/// [`pktinfo_cmsg_space`]). Allocates nothing.
#[allow(
    clippy::ptr_arg,
    reason = "nix's recvmsg takes the control buffer as a Vec"
)]
pub fn recv_pktinfo(fd: RawFd, buf: &mut [u8], cmsg: &mut Vec<u8>) -> io::Result<Arrival> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(cmsg), MsgFlags::empty())?;
    let remote = msg
        .address
        .as_ref()
        .and_then(storage_to_std)
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let mut local = None;
    let mut ifindex = 0;
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::Ipv4PacketInfo(pi) => {
                // `ipi_addr` is the header's destination, `ipi_spec_dst` the local address
                // routing would answer from.
                local = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr))));
                ifindex = u32::try_from(pi.ipi_ifindex).unwrap_or(0);
            }
            ControlMessageOwned::Ipv6PacketInfo(pi) => {
                local = Some(IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr)));
                ifindex = pi.ipi6_ifindex;
            }
            _ => {}
        }
    }
    Ok(Arrival {
        len: msg.bytes,
        remote,
        local,
        ifindex,
    })
}

/// A nix socket address as a std one (IPv4 or IPv6 only; an IPv6 address keeps its scope, which
/// a reply to a link-local sender needs).
#[must_use]
pub fn storage_to_std(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::new(IpAddr::V4(v4.ip()), v4.port()));
    }
    s.as_sockaddr_in6().map(|v6| {
        SocketAddr::V6(SocketAddrV6::new(
            v6.ip(),
            v6.port(),
            v6.flowinfo(),
            v6.scope_id(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_packet_info_reports_destination_source_and_interface() {
        let server = std::net::UdpSocket::bind("[::1]:0").unwrap();
        enable_pktinfo(&server, true).unwrap();
        let client = std::net::UdpSocket::bind("[::1]:0").unwrap();
        client
            .send_to(b"six", server.local_addr().unwrap())
            .unwrap();
        let mut buf = [0; 8];
        let mut cmsg = pktinfo_cmsg_space();
        let got = recv_pktinfo(server.as_raw_fd(), &mut buf, &mut cmsg).unwrap();
        assert_eq!(&buf[..got.len], b"six");
        assert_eq!(got.local, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(got.remote, client.local_addr().unwrap());
        assert_ne!(got.ifindex, 0);
    }
}
