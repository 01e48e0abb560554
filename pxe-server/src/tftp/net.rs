//! Sockets for the TFTP server: the listening socket (with the request's local address via
//! `IP_PKTINFO`), per-transfer reply sockets (optional port range), batched sends, and the
//! privilege drop after binding.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

use crate::ranges::PortRange;

/// Socket buffer size asked for on transfer sockets: a 64-packet window of 8 KiB blocks, so a
/// burst is never dropped by a full receive queue (the atftpd failure mode measured here).
pub const SOCKET_BUFFER: usize = 4 << 20;

/// How often a blocked `recv` wakes up to look at the stop flag.
pub const STOP_POLL: Duration = Duration::from_millis(200);

/// The listening socket (port 69 or `--listen`).
#[derive(Debug)]
pub struct Listener {
    socket: UdpSocket,
    local: SocketAddr,
    wildcard: bool,
    cmsg: Vec<u8>,
}

/// One request as received: payload length, who sent it, and the local address it came to.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes in the buffer.
    pub len: usize,
    /// The client.
    pub remote: SocketAddr,
    /// The address the datagram was sent to (from `IP_PKTINFO` when bound to a wildcard).
    pub local: SocketAddr,
}

impl Listener {
    /// Binds `addr`; on a wildcard address also asks the kernel for each datagram's destination.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        if addr.is_ipv6() {
            // Dual-stack on [::] like tftpd-hpa with no -6: v4 clients arrive v4-mapped.
            socket.set_only_v6(false)?;
        }
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        socket.bind(&addr.into())?;
        socket.set_read_timeout(Some(STOP_POLL))?;
        let socket: UdpSocket = socket.into();
        let local = socket.local_addr()?;
        let wildcard = addr.ip().is_unspecified();
        if wildcard {
            match local {
                SocketAddr::V4(_) => setsockopt(&socket, sockopt::Ipv4PacketInfo, &true),
                SocketAddr::V6(_) => setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true),
            }
            .map_err(io::Error::from)?;
        }
        let cmsg = nix::cmsg_space!(libc::in_pktinfo, libc::in6_pktinfo);
        Ok(Self {
            socket,
            local,
            wildcard,
            cmsg,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Receives one datagram; `Ok(None)` when [`STOP_POLL`] passed with nothing.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = match nix::sys::socket::recvmsg::<SockaddrStorage>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut self.cmsg),
            MsgFlags::empty(),
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(remote) = msg.address.as_ref().and_then(storage_to_std) else {
            return Ok(None);
        };
        let mut local = self.local;
        if self.wildcard
            && let Ok(cmsgs) = msg.cmsgs()
        {
            {
                for c in cmsgs {
                    match c {
                        ControlMessageOwned::Ipv4PacketInfo(pi) => {
                            let ip = Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr));
                            local = match self.local {
                                SocketAddr::V4(_) => SocketAddr::new(ip.into(), self.local.port()),
                                SocketAddr::V6(_) => {
                                    SocketAddr::new(ip.to_ipv6_mapped().into(), self.local.port())
                                }
                            };
                        }
                        ControlMessageOwned::Ipv6PacketInfo(pi) => {
                            let ip = Ipv6Addr::from(pi.ipi6_addr.s6_addr);
                            local = SocketAddr::new(ip.into(), self.local.port());
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(Some(Received {
            len: msg.bytes,
            remote,
            local,
        }))
    }

    /// Sends one datagram from the listening socket (errors for requests we cannot serve).
    pub fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(buf, to)
    }
}

fn storage_to_std(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::new(IpAddr::V4(v4.ip()), v4.port()));
    }
    s.as_sockaddr_in6()
        .map(|v6| SocketAddr::new(IpAddr::V6(v6.ip()), v6.port()))
}

/// The MTU of the route from `local` to `remote` (`IP_MTU` on a connected socket): the
/// interface MTU for a client on the same link. Read through a socket, so it is the MTU of the
/// server's own network namespace.
pub fn route_mtu(local: IpAddr, remote: SocketAddr) -> Option<u32> {
    let socket = Socket::new(
        Domain::for_address(remote),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .ok()?;
    socket.bind(&SocketAddr::new(local, 0).into()).ok()?;
    socket.connect(&remote.into()).ok()?;
    match remote {
        SocketAddr::V4(_) => rustix::net::sockopt::ip_mtu(&socket).ok(),
        SocketAddr::V6(_) => rustix::net::sockopt::ipv6_mtu(&socket).ok(),
    }
}

/// Hands out ports from `--port-range`, round robin, shared by all transfers.
#[derive(Debug)]
pub struct PortAllocator {
    range: Option<PortRange>,
    next: AtomicU32,
}

impl PortAllocator {
    /// `None` means ephemeral ports chosen by the kernel.
    #[must_use]
    pub fn new(range: Option<PortRange>) -> Self {
        Self {
            range,
            next: AtomicU32::new(std::process::id()),
        }
    }

    /// A UDP socket bound to `local_ip` (a port from the range, or ephemeral) and connected to
    /// `remote`, with large buffers: the transfer's TID (RFC 1350 §4).
    pub fn reply_socket(&self, local_ip: IpAddr, remote: SocketAddr) -> io::Result<UdpSocket> {
        let socket = Socket::new(
            Domain::for_address(remote),
            Type::DGRAM,
            Some(Protocol::UDP),
        )?;
        set_buffers(&socket);
        match self.range {
            None => socket.bind(&SocketAddr::new(local_ip, 0).into())?,
            Some(r) => self.bind_in_range(&socket, local_ip, r)?,
        }
        socket.connect(&remote.into())?;
        // No DF bit: some PXE ROMs mishandle it (dnsmasq does the same); blksize is already
        // capped to the MTU, so nothing fragments unless --blksize-max asks for it.
        if remote.is_ipv4() {
            let _ = rustix::net::sockopt::set_ip_mtu_discover(
                &socket,
                rustix::net::sockopt::Ipv4PathMtuDiscovery::DONT,
            );
        }
        Ok(socket.into())
    }

    fn bind_in_range(&self, socket: &Socket, ip: IpAddr, r: PortRange) -> io::Result<()> {
        let span = u32::from(r.high - r.low) + 1;
        let start = self.next.fetch_add(1, Ordering::Relaxed) % span;
        for i in 0..span {
            let port = r.low + u16::try_from((start + i) % span).unwrap_or(0);
            match socket.bind(&SocketAddr::new(ip, port).into()) {
                Ok(()) => {
                    self.next.store(start + i + 1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("every port in --port-range {r} is in use"),
        ))
    }
}

/// Asks for [`SOCKET_BUFFER`]-sized buffers; as root past `net.core.*mem_max` (FORCE).
fn set_buffers(socket: &Socket) {
    let forced = setsockopt(socket, sockopt::SndBufForce, &SOCKET_BUFFER).is_ok()
        && setsockopt(socket, sockopt::RcvBufForce, &SOCKET_BUFFER).is_ok();
    if !forced {
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    }
}

/// A client-side socket for `pxe get`: unconnected (the server answers from a new port).
pub fn client_socket(server: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = Socket::new(
        Domain::for_address(server),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    set_buffers(&socket);
    socket.bind(&local.into())?;
    Ok(socket.into())
}

/// Receives for `pxe get`, several datagrams per `recvmsg` where the kernel coalesces them
/// (UDP GRO, the `UDP_GRO` socket option, Linux ≥ 5.0): a window that `pxe tftp` sent as one
/// GSO batch then arrives in one call instead of one per block. Without GRO each call returns
/// one datagram, as `recv_from` would.
#[derive(Debug)]
pub struct GroReceiver {
    buf: Vec<u8>,
    cmsg: Vec<u8>,
}

/// What one [`GroReceiver::recv`] returned: datagrams of `segment` bytes back to back (the last
/// may be shorter), all from `from`.
#[derive(Debug)]
pub struct Batch<'a> {
    /// The sender.
    pub from: SocketAddr,
    bytes: &'a [u8],
    segment: usize,
}

impl Batch<'_> {
    /// The datagrams, in arrival order.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        self.bytes.chunks(self.segment.max(1))
    }
}

impl GroReceiver {
    /// Asks the kernel to coalesce on `socket`; a kernel that refuses just does not.
    pub fn new(socket: &UdpSocket) -> Self {
        let _ = setsockopt(socket, sockopt::UdpGroSegment, &true);
        Self {
            // A coalesced batch is one UDP payload: never more than 64 KiB.
            buf: vec![0; (u16::MAX as usize + 1).max(pxe_tftp::wire::MAX_DATAGRAM_LEN)],
            cmsg: nix::cmsg_space!(libc::c_int),
        }
    }

    /// Waits (up to the socket's read timeout) for the next datagram or coalesced batch.
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<Batch<'_>> {
        let mut iov = [IoSliceMut::new(&mut self.buf)];
        let msg = nix::sys::socket::recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut self.cmsg),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let len = msg.bytes;
        let from = msg.address.as_ref().and_then(storage_to_std);
        let mut segment = len;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::UdpGroSegments(size) = c {
                    segment = usize::try_from(size).unwrap_or(len);
                }
            }
        }
        let from = from.ok_or_else(|| io::Error::other("datagram without a source address"))?;
        Ok(Batch {
            from,
            bytes: &self.buf[..len],
            segment,
        })
    }
}

/// Sends `lens.len()` datagrams, the i-th being `buf[i * stride..][..lens[i]]`, in as few
/// syscalls as the kernel allows (`sendmmsg`) on a connected socket.
pub fn send_batch(socket: &UdpSocket, buf: &[u8], stride: usize, lens: &[usize]) -> io::Result<()> {
    use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, sendmmsg};
    // Matches the transfer batch; each slot costs ~150 bytes of stack, touched on every call.
    const MAX: usize = 8;
    let slot = |i: usize| {
        let start = (i * stride).min(buf.len());
        let end = (start + lens.get(i).copied().unwrap_or(0)).min(buf.len());
        &buf[start..end]
    };
    let mut sent = 0;
    while sent < lens.len() {
        let n = (lens.len() - sent).min(MAX);
        let iovs: [[IoSlice<'_>; 1]; MAX] = std::array::from_fn(|i| [IoSlice::new(slot(sent + i))]);
        let mut controls: [SendAncillaryBuffer<'_, '_, '_>; MAX] =
            std::array::from_fn(|_| SendAncillaryBuffer::default());
        let mut ctl = controls.each_mut().into_iter();
        let mut msgs: [Option<MMsgHdr<'_>>; MAX] =
            std::array::from_fn(|i| ctl.next().map(|c| MMsgHdr::new(&iovs[i], c)));
        let mut msgs: [MMsgHdr<'_>; MAX] = msgs.each_mut().map(|m| m.take().expect("MAX controls"));
        match sendmmsg(socket, &mut msgs[..n], SendFlags::empty()) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "sendmmsg sent nothing",
                ));
            }
            Ok(k) => sent += k,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Most segments one GSO send carries (the kernel's `UDP_MAX_SEGMENTS` is 64 before 6.x, 128 after).
const GSO_MAX_SEGMENTS: usize = 64;

/// Largest UDP payload of one GSO send: 65 535 minus the IPv4 and UDP headers. Right for
/// IPv6 too: a v4-mapped destination goes through the IPv4 path, and native IPv6 allows 20
/// bytes more (the 40-byte header is outside the payload length), which no window shape needs.
const GSO_MAX_BYTES: usize = 65_507;

/// Sends a window like [`send_batch`], but as one `sendmsg` with UDP GSO (`UDP_SEGMENT`, the
/// segment size being the first datagram's length) when every datagram but the last has that
/// length and the last is not longer: the stack then splits one skb into the datagrams, so the
/// receiver is woken once per window rather than between datagrams. `gso` is cleared the first
/// time the kernel refuses (see [`gso_refused`]), and every later window of this socket goes
/// straight to `sendmmsg`.
pub fn send_window(
    socket: &UdpSocket,
    buf: &[u8],
    stride: usize,
    lens: &[usize],
    gso: &mut bool,
) -> io::Result<()> {
    if *gso && lens.len() > 1 {
        match send_gso(socket, buf, stride, lens) {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) if gso_refused(&e) => {
                *gso = false;
                tracing::debug!(
                    error = %e,
                    segment = lens[0],
                    "UDP GSO refused, sendmmsg for the rest of this transfer"
                );
            }
            Err(e) => return Err(e),
        }
    }
    send_batch(socket, buf, stride, lens)
}

/// Whether a failed GSO send is the kernel refusing GSO on this socket or route, which it does
/// before sending anything, so the same window can go out through `sendmmsg`:
/// - EIO: an IPsec (xfrm) route; on older kernels also a route without TX checksum offload
///   (newer ones, such as 6.18, checksum the segments in software instead);
/// - EMSGSIZE: a segment larger than the route MTU (blksize above the MTU through
///   `--blksize-max`, or a smaller path MTU learned later): GSO never fragments, a plain send
///   does;
/// - EINVAL, ENOPROTOOPT, EOPNOTSUPP: a kernel without UDP GSO (before 4.18).
fn gso_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EMSGSIZE | libc::EINVAL | libc::ENOPROTOOPT | libc::EOPNOTSUPP)
    )
}

/// One `sendmsg` with a `UDP_SEGMENT` control message; `Ok(false)` when the window's shape
/// does not allow it (nothing sent). Stack buffers only: no allocation per window.
fn send_gso(socket: &UdpSocket, buf: &[u8], stride: usize, lens: &[usize]) -> io::Result<bool> {
    let Some((&seg, rest)) = lens.split_first() else {
        return Ok(false);
    };
    let last = rest.last().copied().unwrap_or(seg);
    let total: usize = lens.iter().sum();
    let uniform = rest
        .split_last()
        .is_none_or(|(_, middle)| middle.iter().all(|&l| l == seg));
    let Ok(seg16) = u16::try_from(seg) else {
        return Ok(false);
    };
    if seg == 0 || !uniform || last > seg || lens.len() > GSO_MAX_SEGMENTS || total > GSO_MAX_BYTES
    {
        return Ok(false);
    }
    let mut iovs = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; GSO_MAX_SEGMENTS];
    for (i, (iov, &len)) in iovs.iter_mut().zip(lens).enumerate() {
        let Some(d) = buf.get(i * stride..i * stride + len) else {
            return Ok(false);
        };
        iov.iov_base = d.as_ptr().cast_mut().cast();
        iov.iov_len = d.len();
    }
    // u64 words keep the control buffer aligned for cmsghdr; 32 bytes ≥ CMSG_SPACE(2).
    let mut control = [0u64; 4];
    // SAFETY: zeroed msghdr is a valid empty header; the fields set below point into live
    // stack buffers (`iovs`, `control`) and `buf`, which outlive the sendmsg call. The
    // cmsg macros are given a msghdr whose control buffer is large enough for one u16.
    let rc = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iovs.as_mut_ptr();
        msg.msg_iovlen = lens.len();
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(2) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = libc::UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(2) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), seg16);
        loop {
            let rc = libc::sendmsg(socket.as_raw_fd(), &msg, 0);
            if rc >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break rc;
            }
        }
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_route_mtu_is_found() {
        let lo = Ipv4Addr::LOCALHOST;
        let mtu = route_mtu(lo.into(), (lo, 9).into()).unwrap();
        assert!(mtu >= 1500, "{mtu}");
    }

    #[test]
    fn pktinfo_reports_the_local_address() {
        let mut l = Listener::bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let port = l.local_addr().port();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.send_to(b"hi", ("127.0.0.1", port)).unwrap();
        let mut buf = [0; 16];
        let r = loop {
            if let Some(r) = l.recv(&mut buf).unwrap() {
                break r;
            }
        };
        assert_eq!(r.len, 2);
        assert_eq!(r.local, SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(r.remote, c.local_addr().unwrap());
    }

    #[test]
    fn port_range_is_respected_and_batches_arrive() {
        let low = 40000 + u16::try_from(std::process::id() % 20000).unwrap();
        let alloc = PortAllocator::new(Some(PortRange { low, high: low + 3 }));
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let remote = client.local_addr().unwrap();
        let socks: Vec<_> = (0..4)
            .map(|_| {
                alloc
                    .reply_socket(Ipv4Addr::LOCALHOST.into(), remote)
                    .unwrap()
            })
            .collect();
        for s in &socks {
            let p = s.local_addr().unwrap().port();
            assert!((low..=low + 3).contains(&p), "{p}");
        }
        assert!(
            alloc
                .reply_socket(Ipv4Addr::LOCALHOST.into(), remote)
                .is_err()
        );
        let buf: Vec<u8> = (0..100u8).flat_map(|i| [i; 10]).collect();
        let lens = vec![3; 100];
        send_batch(&socks[0], &buf, 10, &lens).unwrap();
        let mut b = [0; 16];
        for i in 0..100u8 {
            let (n, _) = client.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], &[i, i, i]);
        }
    }

    #[test]
    fn gro_receiver_splits_a_gso_window_back_into_its_datagrams() {
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rx = GroReceiver::new(&client);
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.connect(client.local_addr().unwrap()).unwrap();
        let buf: Vec<u8> = (0..8u8).flat_map(|i| [i; 10]).collect();
        let lens = [7, 7, 7, 7, 7, 7, 7, 2];
        let mut gso = true;
        send_window(&server, &buf, 10, &lens, &mut gso).unwrap();
        server.send(b"lone").unwrap();
        let mut got = Vec::new();
        let mut calls = 0;
        while got.len() < lens.len() + 1 {
            let batch = rx.recv(&client).unwrap();
            assert_eq!(batch.from, server.local_addr().unwrap());
            got.extend(batch.datagrams().map(<[u8]>::to_vec));
            calls += 1;
        }
        // Loopback hands a GSO batch to a GRO socket whole: one call for the window.
        assert_eq!(calls, 2);
        for (i, &l) in lens.iter().enumerate() {
            assert_eq!(got[i], vec![u8::try_from(i).unwrap(); l]);
        }
        assert_eq!(got[lens.len()], b"lone");
    }

    #[test]
    fn gso_window_arrives_as_datagrams_with_a_short_last() {
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.connect(client.local_addr().unwrap()).unwrap();
        let buf: Vec<u8> = (0..8u8).flat_map(|i| [i; 10]).collect();
        let mut gso = true;
        let lens = [7, 7, 7, 7, 7, 7, 7, 2];
        send_window(&server, &buf, 10, &lens, &mut gso).unwrap();
        // Unequal middle lengths: not a GSO shape, goes out through sendmmsg.
        send_window(&server, &buf, 10, &[3, 5, 1], &mut gso).unwrap();
        let mut b = [0; 16];
        for (i, &l) in lens.iter().enumerate() {
            let (n, _) = client.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], &vec![u8::try_from(i).unwrap(); l][..]);
        }
        for (i, l) in [3, 5, 1].into_iter().enumerate() {
            let (n, _) = client.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], &vec![u8::try_from(i).unwrap(); l][..]);
        }
        assert!(gso, "loopback refused GSO");
    }

    /// A window of eight 1468-byte blocks, sent as one GSO `sendmsg` from a reply socket made
    /// like a transfer's, arrives as eight datagrams, and GSO stays on: native IPv6, and an
    /// IPv4 client of the dual-stack listener (v4-mapped `AF_INET6` socket).
    #[test]
    fn gso_window_over_ipv6_and_v4_mapped() {
        for (client_ip, server_ip) in [
            (
                IpAddr::from(Ipv6Addr::LOCALHOST),
                IpAddr::from(Ipv6Addr::LOCALHOST),
            ),
            (
                Ipv4Addr::LOCALHOST.into(),
                Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(),
            ),
        ] {
            let client = UdpSocket::bind((client_ip, 0)).unwrap();
            let port = client.local_addr().unwrap().port();
            let remote = SocketAddr::new(
                match client_ip {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped().into(),
                    v6 @ IpAddr::V6(_) => v6,
                },
                port,
            );
            let server = PortAllocator::new(None)
                .reply_socket(server_ip, remote)
                .unwrap();
            let (seg, stride) = (1472, 1500);
            let buf: Vec<u8> = (0..8u8).flat_map(|i| vec![i; stride]).collect();
            let lens = [seg; 8];
            let mut gso = true;
            send_window(&server, &buf, stride, &lens, &mut gso).unwrap();
            assert!(gso, "{server_ip}: GSO refused");
            let mut b = vec![0; 2048];
            for i in 0..8u8 {
                let (n, _) = client.recv_from(&mut b).unwrap();
                assert_eq!(&b[..n], &vec![i; seg][..], "{server_ip}");
            }
        }
    }

    #[test]
    fn gso_refusals_are_the_kernels_gso_errors_only() {
        for errno in [
            libc::EIO,
            libc::EMSGSIZE,
            libc::EINVAL,
            libc::ENOPROTOOPT,
            libc::EOPNOTSUPP,
        ] {
            assert!(gso_refused(&io::Error::from_raw_os_error(errno)), "{errno}");
        }
        for errno in [libc::ECONNREFUSED, libc::ENOBUFS, libc::EAGAIN, libc::EPERM] {
            assert!(
                !gso_refused(&io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
        assert!(!gso_refused(&io::Error::other("not an errno")));
    }
}
