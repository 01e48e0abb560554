//! The DHCPv6 socket and the interface facts DHCPv6 needs.

use std::ffi::OsString;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use nix::ifaddrs::getifaddrs;
use nix::net::if_::if_nametoindex;
use nix::sys::socket::{SockFlag, setsockopt, sockopt};
use pxe_proto::MacAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;

use pxe_dhcp::v6::ALL_DHCP_RELAY_AGENTS_AND_SERVERS;

/// An interface's IPv6 side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface6 {
    /// Kernel name.
    pub name: String,
    /// Kernel index (the scope of link-local addresses).
    pub index: u32,
    /// Its hardware address (for the server DUID), when it has one.
    pub mac: Option<MacAddr>,
    /// Its global (not link-local) address and that prefix's length: the first one that is not
    /// a SLAAC address (modified EUI-64, `...:xxff:fexx:...`), which is how a configured
    /// server address is told from one the kernel made from a router's advertisement.
    pub global: Option<(Ipv6Addr, u8)>,
    /// Its link-local address.
    pub link_local: Option<Ipv6Addr>,
}

/// Whether `a` is in fe80::/10.
pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// Whether `a`'s interface identifier is a modified EUI-64 (RFC 4291 appendix A).
fn is_eui64(a: Ipv6Addr) -> bool {
    let o = a.octets();
    o[11] == 0xff && o[12] == 0xfe
}

impl Interface6 {
    /// The IPv6 facts of interface `name`.
    pub fn by_name(name: &str) -> Result<Interface6, String> {
        let index = if_nametoindex(name)
            .map_err(|_| format!("no network interface named {name:?} (see `ip -br addr`)"))?;
        let mut i = Interface6 {
            name: name.to_owned(),
            index,
            mac: None,
            global: None,
            link_local: None,
        };
        let addrs = getifaddrs().map_err(|e| format!("listing network interfaces: {e}"))?;
        for ifa in addrs.filter(|a| a.interface_name == name) {
            if let Some(link) = ifa.address.as_ref().and_then(|a| a.as_link_addr())
                && let Some(m) = link.addr()
                && m != [0; 6]
            {
                i.mac = Some(MacAddr(m));
            }
            let Some(sin6) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in6()) else {
                continue;
            };
            let ip = sin6.ip();
            if is_link_local(ip) {
                i.link_local = i.link_local.or(Some(ip));
            } else if !ip.is_loopback()
                && i.global.is_none_or(|(g, _)| is_eui64(g) && !is_eui64(ip))
            {
                let prefix = ifa
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in6())
                    .map_or(128, |m| {
                        // At most 128: the cast cannot truncate.
                        u128::from(m.ip()).leading_ones() as u8
                    });
                i.global = Some((ip, prefix));
            }
        }
        Ok(i)
    }
}

/// One received DHCPv6 datagram's addressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival6 {
    /// Payload length in the buffer.
    pub len: usize,
    /// Source address (with its scope for a link-local one) and port.
    pub remote: SocketAddrV6,
    /// Destination address from the IP header (ff02::1:2 for a client's multicast).
    pub local: Ipv6Addr,
}

/// UDP 547 on one interface, joined to ff02::1:2.
#[derive(Debug)]
pub struct Dhcp6Socket {
    sock: UdpSocket,
}

impl Dhcp6Socket {
    /// Binds `[::]:port` (547 for a server) on `iface` and joins ff02::1:2 there, without a
    /// runtime (the server binds before it drops privileges); [`Dhcp6Socket::from_std`] then
    /// registers it with tokio.
    pub fn bind_std(iface: &Interface6, port: u16) -> io::Result<std::net::UdpSocket> {
        let addr = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
        let sock = crate::udp::udp_socket_for(addr, SockFlag::SOCK_NONBLOCK)?;
        setsockopt(&sock, sockopt::Ipv6V6Only, &true)?;
        setsockopt(&sock, sockopt::ReuseAddr, &true)?;
        setsockopt(&sock, sockopt::BindToDevice, &OsString::from(&iface.name)).map_err(|e| {
            let e = io::Error::from(e);
            io::Error::new(
                e.kind(),
                format!("binding to interface {:?}: {e}", iface.name),
            )
        })?;
        crate::udp::enable_pktinfo(&sock, true)?;
        crate::udp::bind(&sock, addr).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("binding UDP port {port} for DHCPv6: {e} (another DHCPv6 server running?)"),
            )
        })?;
        let sock = std::net::UdpSocket::from(sock);
        sock.join_multicast_v6(&ALL_DHCP_RELAY_AGENTS_AND_SERVERS, iface.index)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("joining ff02::1:2 on {}: {e}", iface.name),
                )
            })?;
        setsockopt(
            &sock,
            crate::udp::opt::Ipv6MulticastIf,
            &i32::try_from(iface.index).unwrap_or(0),
        )?;
        Ok(sock)
    }

    /// Registers a socket from [`Dhcp6Socket::bind_std`] with the current tokio runtime.
    pub fn from_std(sock: std::net::UdpSocket) -> io::Result<Dhcp6Socket> {
        Ok(Dhcp6Socket {
            sock: UdpSocket::from_std(sock)?,
        })
    }

    /// Waits for the next datagram, writing its payload into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Arrival6> {
        let fd = self.sock.as_fd().as_raw_fd();
        let mut cmsg = crate::udp::pktinfo_cmsg_space();
        let got = self
            .sock
            .async_io(Interest::READABLE, || {
                crate::udp::recv_pktinfo(fd, buf, &mut cmsg)
            })
            .await?;
        let remote = match got.remote {
            SocketAddr::V6(v6) => v6,
            SocketAddr::V4(_) => SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0),
        };
        let local = match got.local {
            Some(IpAddr::V6(ip)) => ip,
            _ => Ipv6Addr::UNSPECIFIED,
        };
        Ok(Arrival6 {
            len: got.len,
            remote,
            local,
        })
    }

    /// Sends `payload` to `to` (a link-local destination carries its scope).
    pub async fn send(&self, payload: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.sock.send_to(payload, to).await
    }
}
