//! DHCP sockets: bound to an interface, broadcast-capable, arrival address and interface known.
//!
//! A DHCP server cannot use a plain UDP socket: requests arrive as broadcasts from clients that
//! have no address yet, replies must leave on the interface the request came in on, and some go
//! to an address the client does not answer ARP for yet (RFC 2131 §4.1). So each socket sets
//! `SO_BROADCAST`, optionally `SO_BINDTODEVICE`, and `IP_PKTINFO`, which gives each received
//! datagram its destination address and interface index and lets each send pick the outgoing
//! interface.
//!
//! One interface takes one DHCP service: [`InterfaceClaim`] stops a second `pxe` (proxy or
//! server) on it, and a server binds port 67 without `SO_REUSEADDR`, so another DHCP server on
//! the interface (dnsmasq, dhcpd, Kea) makes one of the two fail at start instead of both
//! answering every client. Only a proxy shares port 67 (`SO_REUSEADDR`): proxyDHCP beside the
//! network's DHCP server on one host is how PXE 2.1 §2.2 deploys it.

use std::ffi::OsString;
use std::io::{self, IoSlice};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd};

use nix::libc;
use nix::sys::socket::{
    ControlMessage, MsgFlags, SockFlag, SockaddrIn, sendmsg, setsockopt, sockopt,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Receive buffer asked for on a DHCP socket: room for a burst of ~900 requests (the kernel
/// doubles it for bookkeeping; each datagram is charged ~2.3 KiB).
pub const RECV_BUFFER: usize = 1 << 20;

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

/// A bound DHCP socket not yet registered with the tokio runtime: binding needs root, and
/// happens before the runtime's threads exist (see `crate::privilege`).
#[derive(Debug)]
pub struct BoundSocket {
    sock: std::net::UdpSocket,
    port: u16,
}

impl BoundSocket {
    /// Binds `0.0.0.0:port`, restricted to `device` when given; `shared`: with `SO_REUSEADDR`,
    /// beside another server's socket on the port (a proxy beside the DHCP server).
    ///
    /// Binding the wildcard address is required to receive broadcasts; `SO_BINDTODEVICE` is
    /// what keeps a multi-homed server from answering on the wrong network, and what lets one
    /// `pxe` per interface bind the port without `SO_REUSEADDR`.
    pub fn bind(port: u16, device: Option<&str>, shared: bool) -> io::Result<BoundSocket> {
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
        let sock = crate::udp::udp_socket_for(addr, SockFlag::SOCK_NONBLOCK)?;
        setsockopt(&sock, sockopt::ReuseAddr, &shared)?;
        setsockopt(&sock, sockopt::Broadcast, &true)?;
        if let Some(dev) = device {
            setsockopt(&sock, sockopt::BindToDevice, &OsString::from(dev)).map_err(|e| {
                let e = io::Error::from(e);
                io::Error::new(e.kind(), format!("binding to interface {dev:?}: {e}"))
            })?;
        }
        setsockopt(&sock, sockopt::Ipv4PacketInfo, &true)?;
        // A boot storm's DISCOVERs arrive in one burst. At the default buffer
        // (net.core.rmem_default, 208 KiB) about 90 queued datagrams fill it, each charged its
        // skb's true size (~2.3 KiB on a veth), and the rest are dropped: a PXE ROM resends
        // only after 4 s. benches/src/bin/boot-storm.rs measured 20 of 200 DISCOVERs lost that
        // way. As root (binding port 67 is done as root) past net.core.rmem_max.
        if setsockopt(&sock, sockopt::RcvBufForce, &RECV_BUFFER).is_err() {
            let _ = setsockopt(&sock, sockopt::RcvBuf, &RECV_BUFFER);
        }
        crate::udp::bind(&sock, addr).map_err(|e| {
            let on = device.map_or_else(String::new, |d| format!(" on {d}"));
            let hint = match e.kind() {
                io::ErrorKind::AddrInUse => format!(
                    "another DHCP server (dnsmasq, dhcpd, Kea, or a pxe not bound to an interface) holds UDP port {port}{on}; one interface takes one DHCP server"
                ),
                io::ErrorKind::PermissionDenied => {
                    "ports below 1024 need root or CAP_NET_BIND_SERVICE".to_owned()
                }
                _ => "is the interface up?".to_owned(),
            };
            io::Error::new(
                e.kind(),
                format!("binding UDP port {port}{on} for DHCP: {e} ({hint})"),
            )
        })?;
        let sock = std::net::UdpSocket::from(sock);
        let port = sock.local_addr()?.port();
        Ok(BoundSocket { sock, port })
    }

    /// Registers the socket with the current tokio runtime.
    pub fn register(self) -> io::Result<DhcpSocket> {
        Ok(DhcpSocket {
            sock: UdpSocket::from_std(self.sock)?,
            port: self.port,
        })
    }
}

impl DhcpSocket {
    /// Binds and registers at once ([`BoundSocket::bind`], [`BoundSocket::register`]).
    #[cfg(test)]
    pub fn bind(port: u16, device: Option<&str>, shared: bool) -> io::Result<DhcpSocket> {
        BoundSocket::bind(port, device, shared)?.register()
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

/// This process's claim on DHCP for one interface: a listening abstract Unix socket named
/// after it. Abstract names live in the network namespace and vanish with the process (also on
/// `kill -9`), so a claim is never left stale and two namespaces never collide.
#[derive(Debug)]
pub struct InterfaceClaim {
    _listener: std::os::unix::net::UnixListener,
}

/// Why [`InterfaceClaim::take`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another `pxe` serves DHCP on the interface.
    #[error(
        "another pxe process{} already serves DHCP (proxy or server) on interface {interface}; one interface takes one DHCP service: two would both answer every client, and two servers would hand out one address twice. Stop it, or serve another interface"
    , pid.map_or_else(String::new, |p| format!(" (pid {p})")))]
    Taken {
        /// The interface.
        interface: String,
        /// The other process, when the kernel says.
        pid: Option<i32>,
    },
    /// The claim socket could not be made.
    #[error("claiming DHCP on interface {interface}: {source}")]
    Io {
        /// The interface.
        interface: String,
        /// The OS error.
        source: io::Error,
    },
}

impl InterfaceClaim {
    /// Claims DHCP on `interface` for this process, as long as the claim lives.
    pub fn take(interface: &str) -> Result<InterfaceClaim, ClaimError> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr as UnixAddr, UnixListener, UnixStream};

        let name = format!("pxe/dhcp/{interface}");
        let io_err = |source| ClaimError::Io {
            interface: interface.to_owned(),
            source,
        };
        let addr = UnixAddr::from_abstract_name(name.as_bytes()).map_err(io_err)?;
        match UnixListener::bind_addr(&addr) {
            Ok(l) => Ok(InterfaceClaim { _listener: l }),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                // The holder's pid, for the message: the credentials of a listening socket are
                // those of the process that called listen(2).
                let pid = UnixStream::connect_addr(&addr).ok().and_then(|s| {
                    nix::sys::socket::getsockopt(&s, sockopt::PeerCredentials)
                        .ok()
                        .map(|c| c.pid())
                });
                Err(ClaimError::Taken {
                    interface: interface.to_owned(),
                    pid,
                })
            }
            Err(e) => Err(io_err(e)),
        }
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

    #[test]
    fn a_second_claim_on_an_interface_is_refused_with_the_holders_pid() {
        let name = format!("test-{}", std::process::id());
        let first = InterfaceClaim::take(&name).expect("first claim");
        let err = InterfaceClaim::take(&name).expect_err("second claim");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())) && msg.contains(&name),
            "{msg}"
        );
        InterfaceClaim::take(&format!("{name}-other")).expect("another interface is free");
        drop(first);
        InterfaceClaim::take(&name).expect("free again once dropped");
    }

    #[tokio::test]
    async fn an_exclusive_port_is_refused_to_a_second_socket() {
        let first = DhcpSocket::bind(0, Some("lo"), false).expect("bind");
        let port = first.port();
        let err = DhcpSocket::bind(port, Some("lo"), false).expect_err("in use");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("another DHCP server"), "{err}");
        let err = DhcpSocket::bind(port, Some("lo"), true).expect_err("shared needs both");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[tokio::test]
    async fn the_receive_buffer_holds_a_burst() {
        let sock = DhcpSocket::bind(0, None, false).expect("bind");
        let got = nix::sys::socket::getsockopt(&sock.sock, sockopt::RcvBuf).expect("SO_RCVBUF");
        // Without root the request is capped at net.core.rmem_max; the kernel doubles either.
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let want = if nix::unistd::Uid::effective().is_root() {
            RECV_BUFFER
        } else {
            RECV_BUFFER.min(max)
        };
        assert!(got >= 2 * want, "SO_RCVBUF {got}, want >= 2 x {want}");
    }

    #[tokio::test]
    async fn loopback_round_trip_reports_destination_and_interface() {
        let server = DhcpSocket::bind(0, None, false).expect("bind");
        let client = DhcpSocket::bind(0, None, false).expect("bind");
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
