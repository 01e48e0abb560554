//! DHCP sockets: bound to an interface, broadcast-capable, arrival address and interface known.
//!
//! A DHCP server cannot use a plain UDP socket: requests arrive as broadcasts from clients that
//! have no address yet, replies must leave on the interface the request came in on, and some go
//! to an address the client does not answer ARP for yet (RFC 2131 §4.1). So each socket sets
//! `SO_REUSEADDR`, `SO_BROADCAST`, optionally `SO_BINDTODEVICE`, and `IP_PKTINFO`, which gives
//! each received datagram its destination address and interface index and lets each send pick
//! the outgoing interface.

use std::io::{self, IoSlice};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{ControlMessage, MsgFlags, SockaddrIn, sendmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// One received DHCP datagram's addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Payload length in the receive buffer.
    pub len: usize,
    /// Source address and port.
    pub remote: SocketAddrV4,
    /// Destination address from the IP header (often 255.255.255.255) with our port.
    pub local: SocketAddrV4,
    /// Kernel index of the interface it arrived on (0 when unknown).
    pub ifindex: u32,
}

/// A UDP socket for DHCP on one port.
#[derive(Debug)]
pub struct DhcpSocket {
    sock: UdpSocket,
    port: u16,
}

impl DhcpSocket {
    /// Binds `0.0.0.0:port` (or `bind_ip:port`), restricted to `device` when given.
    ///
    /// Binding the wildcard address is required to receive broadcasts; `SO_BINDTODEVICE` is
    /// what keeps a multi-homed server from answering on the wrong network.
    pub fn bind(port: u16, device: Option<&str>) -> io::Result<DhcpSocket> {
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_reuse_address(true)?;
        sock.set_broadcast(true)?;
        if let Some(dev) = device {
            sock.bind_device(Some(dev.as_bytes())).map_err(|e| {
                io::Error::new(e.kind(), format!("binding to interface {dev:?}: {e}"))
            })?;
        }
        setsockopt(&sock, sockopt::Ipv4PacketInfo, &true)?;
        sock.set_nonblocking(true)?;
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        sock.bind(&addr.into()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("binding UDP port {port} for DHCP: {e} (another DHCP server running? port 67 needs root or CAP_NET_BIND_SERVICE)"),
            )
        })?;
        let port = sock.local_addr()?.as_socket().map_or(port, |a| a.port());
        Ok(DhcpSocket {
            sock: UdpSocket::from_std(sock.into())?,
            port,
        })
    }

    /// The raw descriptor, for ioctls on the socket's interface.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_fd().as_raw_fd()
    }

    /// The bound port.
    #[cfg(test)]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the next datagram, writing its payload into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Arrival> {
        let port = self.port;
        let fd = self.sock.as_fd().as_raw_fd();
        self.sock
            .async_io(Interest::READABLE, || recv_pktinfo(fd, port, buf))
            .await
    }

    /// The next datagram if one is already queued, else `WouldBlock`.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Arrival> {
        let port = self.port;
        let fd = self.sock.as_fd().as_raw_fd();
        self.sock
            .try_io(Interest::READABLE, || recv_pktinfo(fd, port, buf))
    }

    /// Sends `payload` to `to`, leaving through interface `ifindex` (0 = by routing) from
    /// source address `from` (unspecified = the kernel's choice).
    ///
    /// With a non-zero `ifindex`, `IP_PKTINFO` makes even 255.255.255.255 leave on that
    /// interface, which is how a broadcast reply reaches the segment the request came from.
    pub async fn send(
        &self,
        payload: &[u8],
        to: SocketAddrV4,
        ifindex: u32,
        from: Ipv4Addr,
    ) -> io::Result<usize> {
        let fd = self.sock.as_fd().as_raw_fd();
        self.sock
            .async_io(Interest::WRITABLE, || {
                send_pktinfo(fd, payload, to, ifindex, from)
            })
            .await
    }
}

fn recv_pktinfo(fd: i32, port: u16, buf: &mut [u8]) -> io::Result<Arrival> {
    let mut cmsg = crate::udp::pktinfo_cmsg_space();
    let got = crate::udp::recv_pktinfo(fd, buf, &mut cmsg)?;
    let remote = match got.remote {
        SocketAddr::V4(v4) => v4,
        SocketAddr::V6(_) => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
    };
    let local = match got.local {
        Some(std::net::IpAddr::V4(ip)) => SocketAddrV4::new(ip, port),
        _ => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
    };
    Ok(Arrival {
        len: got.len,
        remote,
        local,
        ifindex: got.ifindex,
    })
}

fn send_pktinfo(
    fd: i32,
    payload: &[u8],
    to: SocketAddrV4,
    ifindex: u32,
    from: Ipv4Addr,
) -> io::Result<usize> {
    let info = libc::in_pktinfo {
        ipi_ifindex: i32::try_from(ifindex).unwrap_or(0),
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from(from).to_be(),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    let iov = [IoSlice::new(payload)];
    let dest = SockaddrIn::from(to);
    let cmsgs = [ControlMessage::Ipv4PacketInfo(&info)];
    let with_info: &[ControlMessage<'_>] = if ifindex == 0 && from.is_unspecified() {
        &[]
    } else {
        &cmsgs
    };
    Ok(sendmsg(
        fd,
        &iov,
        with_info,
        MsgFlags::empty(),
        Some(&dest),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_round_trip_reports_destination_and_interface() {
        let server = DhcpSocket::bind(0, None).expect("bind");
        let client = DhcpSocket::bind(0, None).expect("bind");
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, server.port());
        client
            .send(b"hello", to, 0, Ipv4Addr::UNSPECIFIED)
            .await
            .expect("send");
        let mut buf = [0u8; 64];
        let a = server.recv(&mut buf).await.expect("recv");
        assert_eq!(&buf[..a.len], b"hello");
        assert_eq!(a.local, to);
        assert_eq!(a.remote.port(), client.port());
        let lo = crate::dhcp::iface::Interface::by_name("lo").expect("lo");
        assert_eq!(a.ifindex, lo.index);

        // A reply through an explicit interface and source address.
        server
            .send(b"back", a.remote, a.ifindex, Ipv4Addr::LOCALHOST)
            .await
            .expect("send back");
        let b = client.recv(&mut buf).await.expect("recv back");
        assert_eq!(&buf[..b.len], b"back");
        assert_eq!(b.remote, to);
    }
}
