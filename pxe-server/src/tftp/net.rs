//! Sockets for the TFTP server: the listening socket (with the request's local address via
//! `IP_PKTINFO`), per-transfer reply sockets (optional port range), batched sends, and the
//! privilege drop after binding.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockFlag, SockaddrStorage,
    getsockopt, sendmmsg, setsockopt, sockopt,
};

use crate::ranges::PortRange;
use crate::udp::{self, opt};

/// Socket buffer size asked for on the listener (a storm's burst of requests) and on transfer
/// sockets (a 64-packet window of 8 KiB blocks), so a burst is never dropped by a full receive
/// queue (the atftpd failure mode measured here).
pub const SOCKET_BUFFER: usize = 4 << 20;

/// The listening socket (port 69 or `--listen`), on the TFTP runtime.
#[derive(Debug)]
pub struct Listener {
    socket: tokio::net::UdpSocket,
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

/// A bound listening socket, not yet on a runtime (binding happens before privileges drop,
/// outside any runtime).
#[derive(Debug)]
pub struct BoundListener {
    socket: UdpSocket,
    local: SocketAddr,
    wildcard: bool,
}

impl BoundListener {
    /// Binds `addr`; on a wildcard address also asks the kernel for each datagram's destination.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = udp::udp_socket_for(addr, SockFlag::SOCK_NONBLOCK)?;
        setsockopt(&socket, sockopt::ReuseAddr, &true)?;
        if addr.is_ipv6() {
            // Dual-stack on [::] like tftpd-hpa with no -6: v4 clients arrive v4-mapped.
            setsockopt(&socket, sockopt::Ipv6V6Only, &false)?;
        }
        // A storm's requests arrive in one burst, each charged its skb's true size (~2.3 KiB on
        // a veth): at the default buffer (net.core.rmem_default, 208 KiB) about 90 of them fit
        // and the rest are dropped until the ROM resends (4 s or more). Binding port 69 is done
        // as root, which may go past net.core.rmem_max (also 208 KiB by default).
        if setsockopt(&socket, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
            let _ = setsockopt(&socket, sockopt::RcvBuf, &SOCKET_BUFFER);
        }
        udp::bind(&socket, addr)?;
        let socket = UdpSocket::from(socket);
        let local = socket.local_addr()?;
        let wildcard = addr.ip().is_unspecified();
        if wildcard {
            crate::udp::enable_pktinfo(&socket, local.is_ipv6())?;
        }
        Ok(Self {
            socket,
            local,
            wildcard,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A second handle on the socket (blocking sends never wait: it is non-blocking).
    pub fn try_clone_socket(&self) -> io::Result<UdpSocket> {
        self.socket.try_clone()
    }

    /// Registers the socket with the current tokio runtime.
    pub fn into_listener(self) -> io::Result<Listener> {
        Ok(Listener {
            socket: tokio::net::UdpSocket::from_std(self.socket)?,
            local: self.local,
            wildcard: self.wildcard,
            cmsg: crate::udp::pktinfo_cmsg_space(),
        })
    }
}

impl Listener {
    /// The bound address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Waits for the next datagram.
    pub async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        let fd = self.socket.as_raw_fd();
        let cmsg = &mut self.cmsg;
        let got = self
            .socket
            .async_io(tokio::io::Interest::READABLE, || {
                crate::udp::recv_pktinfo(fd, buf, cmsg)
            })
            .await?;
        let mut local = self.local;
        if self.wildcard
            && let Some(ip) = got.local
        {
            local = match (ip, self.local) {
                (IpAddr::V4(v4), SocketAddr::V6(_)) => {
                    SocketAddr::new(v4.to_ipv6_mapped().into(), self.local.port())
                }
                (ip, _) => SocketAddr::new(ip, self.local.port()),
            };
        }
        Ok(Received {
            len: got.len,
            remote: got.remote,
            local,
        })
    }

    /// Sends one datagram from the listening socket (errors for requests we cannot serve),
    /// without waiting: a full send buffer loses it like the network would.
    pub fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        let to = SockaddrStorage::from(to);
        Ok(nix::sys::socket::sendto(
            self.socket.as_raw_fd(),
            buf,
            &to,
            MsgFlags::empty(),
        )?)
    }
}

/// Whether a send or receive error is the network losing a packet, not the transfer failing:
/// a local firewall rule dropping it (EPERM), a full device or socket queue (ENOBUFS, EAGAIN),
/// an ICMP error for an earlier datagram (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN,
/// ENETDOWN), an interrupted call. The retransmission timer deals with all of them as with a
/// lost packet; only a timeout or the client's ERROR ends a transfer.
#[must_use]
pub fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(
            Errno::EPERM
                | Errno::ENOBUFS
                | Errno::EAGAIN
                | Errno::ECONNREFUSED
                | Errno::EHOSTUNREACH
                | Errno::ENETUNREACH
                | Errno::EHOSTDOWN
                | Errno::ENETDOWN
                | Errno::EINTR
        )
    ) || e.kind() == io::ErrorKind::WouldBlock
}

/// The MTU of the route from `local` to `remote` (`IP_MTU` on a connected socket): the
/// interface MTU for a client on the same link. Read through a socket, so it is the MTU of the
/// server's own network namespace.
pub fn route_mtu(local: IpAddr, remote: SocketAddr) -> Option<u32> {
    let socket = udp::udp_socket_for(remote, SockFlag::empty()).ok()?;
    udp::bind(&socket, SocketAddr::new(local, 0)).ok()?;
    udp::connect(&socket, remote).ok()?;
    let mtu = match remote {
        SocketAddr::V4(_) => getsockopt(&socket, sockopt::IpMtu).ok()?,
        SocketAddr::V6(_) => getsockopt(&socket, opt::Ipv6Mtu).ok()?,
    };
    u32::try_from(mtu).ok()
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
        let socket = udp::udp_socket_for(remote, SockFlag::empty())?;
        set_buffers(&socket);
        match self.range {
            None => udp::bind(&socket, SocketAddr::new(local_ip, 0))?,
            Some(r) => self.bind_in_range(&socket, local_ip, r)?,
        }
        udp::connect(&socket, remote)?;
        // No DF bit: some PXE ROMs mishandle it (dnsmasq does the same); blksize is already
        // capped to the MTU, so nothing fragments unless --blksize-max asks for it.
        if remote.is_ipv4() {
            let _ = setsockopt(&socket, opt::IpMtuDiscover, &opt::IP_PMTUDISC_DONT);
        }
        Ok(socket.into())
    }

    fn bind_in_range(&self, socket: &OwnedFd, ip: IpAddr, r: PortRange) -> io::Result<()> {
        let span = u32::from(r.high - r.low) + 1;
        let start = self.next.fetch_add(1, Ordering::Relaxed) % span;
        for i in 0..span {
            let port = r.low + u16::try_from((start + i) % span).unwrap_or(0);
            match udp::bind(socket, SocketAddr::new(ip, port)) {
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
fn set_buffers(socket: &impl AsFd) {
    let forced = setsockopt(socket, sockopt::SndBufForce, &SOCKET_BUFFER).is_ok()
        && setsockopt(socket, sockopt::RcvBufForce, &SOCKET_BUFFER).is_ok();
    if !forced {
        let _ = setsockopt(socket, sockopt::SndBuf, &SOCKET_BUFFER);
        let _ = setsockopt(socket, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
}

/// A client-side socket for `pxe get`: unconnected (the server answers from a new port).
pub fn client_socket(server: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = udp::udp_socket_for(server, SockFlag::empty())?;
    set_buffers(&socket);
    udp::bind(&socket, local)?;
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
            cmsg: nix::cmsg_space!(nix::libc::c_int),
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
        let from = msg.address.as_ref().and_then(crate::udp::storage_to_std);
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

/// Most datagrams one `sendmmsg` of [`send_batch`] carries: the transfer batch.
const BATCH_MAX: usize = 8;

thread_local! {
    /// The message headers of [`send_batch`], allocated once per thread (nix's `sendmmsg` fills
    /// preallocated headers). No address (`()`): the socket is connected.
    static BATCH_HEADERS: std::cell::RefCell<MultiHeaders<()>> =
        std::cell::RefCell::new(MultiHeaders::preallocate(BATCH_MAX, None));
}

/// Sends `lens.len()` datagrams, the i-th being `buf[i * stride..][..lens[i]]`, in as few
/// syscalls as the kernel allows (`sendmmsg`) on a connected socket. No allocation per call:
/// the iovecs are on the stack and the headers are `BATCH_HEADERS`.
pub fn send_batch(socket: &impl AsFd, buf: &[u8], stride: usize, lens: &[usize]) -> io::Result<()> {
    let fd = socket.as_fd().as_raw_fd();
    let slot = |i: usize| {
        let start = (i * stride).min(buf.len());
        let end = (start + lens.get(i).copied().unwrap_or(0)).min(buf.len());
        &buf[start..end]
    };
    let no_control: &[ControlMessage<'_>] = &[];
    BATCH_HEADERS.with_borrow_mut(|headers| {
        let mut sent = 0;
        while sent < lens.len() {
            let n = (lens.len() - sent).min(BATCH_MAX);
            let iovs: [[IoSlice<'_>; 1]; BATCH_MAX] =
                std::array::from_fn(|i| [IoSlice::new(slot(sent + i))]);
            match sendmmsg(
                fd,
                headers,
                &iovs[..n],
                [None::<()>; BATCH_MAX],
                no_control,
                MsgFlags::empty(),
            ) {
                // One result per datagram sent (the kernel stops at the first that fails).
                Ok(results) => match results.count() {
                    0 => {
                        return Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "sendmmsg sent nothing",
                        ));
                    }
                    k => sent += k,
                },
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    })
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
/// time the kernel refuses (see `gso_refused`), and every later window of this socket goes
/// straight to `sendmmsg`.
pub fn send_window(
    socket: &(impl AsRawFd + std::os::fd::AsFd),
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
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EIO | Errno::EMSGSIZE | Errno::EINVAL | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP)
    )
}

thread_local! {
    /// The message header of one GSO send, with room for its `UDP_SEGMENT` control message,
    /// allocated once per thread (nix's `sendmsg` would allocate a control buffer per call).
    static GSO_HEADER: std::cell::RefCell<MultiHeaders<SockaddrStorage>> =
        std::cell::RefCell::new(MultiHeaders::preallocate(1, Some(nix::cmsg_space!(u16))));
}

/// One `sendmsg`-equivalent with a `UDP_SEGMENT` control message; `Ok(false)` when the
/// window's shape does not allow it (nothing sent). No allocation per window: the iovecs are
/// on the stack and the header is [`GSO_HEADER`].
fn send_gso(socket: &impl AsRawFd, buf: &[u8], stride: usize, lens: &[usize]) -> io::Result<bool> {
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
    let mut iovs = [IoSlice::new(&[]); GSO_MAX_SEGMENTS];
    for (i, (iov, &len)) in iovs.iter_mut().zip(lens).enumerate() {
        let Some(d) = buf.get(i * stride..i * stride + len) else {
            return Ok(false);
        };
        *iov = IoSlice::new(d);
    }
    let fd = socket.as_raw_fd();
    let iovs = &iovs[..lens.len()];
    GSO_HEADER.with_borrow_mut(|header| {
        loop {
            let cmsgs = [ControlMessage::UdpGsoSegments(&seg16)];
            match sendmmsg(
                fd,
                header,
                &[iovs],
                [None::<SockaddrStorage>],
                cmsgs,
                MsgFlags::empty(),
            ) {
                Ok(_) => return Ok(true),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    })
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

    #[tokio::test]
    async fn pktinfo_reports_the_local_address() {
        let mut l = BoundListener::bind("0.0.0.0:0".parse().unwrap())
            .unwrap()
            .into_listener()
            .unwrap();
        let port = l.local_addr().port();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.send_to(b"hi", ("127.0.0.1", port)).unwrap();
        let mut buf = [0; 16];
        let r = l.recv(&mut buf).await.unwrap();
        assert_eq!(r.len, 2);
        assert_eq!(r.local, SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(r.remote, c.local_addr().unwrap());
    }

    #[test]
    fn transient_errors_are_loss() {
        for errno in [
            nix::libc::EPERM,
            nix::libc::ENOBUFS,
            nix::libc::EAGAIN,
            nix::libc::ECONNREFUSED,
        ] {
            assert!(
                is_transient(&io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
        for errno in [nix::libc::EBADF, nix::libc::EINVAL, nix::libc::EMSGSIZE] {
            assert!(
                !is_transient(&io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
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

    /// A window the kernel refuses to send with GSO goes out at once through `sendmmsg`, whole
    /// and in order, and the socket stays off GSO: losing it would cost the client a
    /// retransmission timeout. `SO_NO_CHECK` makes the kernel refuse on loopback (EINVAL);
    /// `tftp_gso_netns` sees the EMSGSIZE refusal of a real link.
    #[test]
    fn a_refused_gso_window_goes_out_by_sendmmsg() {
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.connect(client.local_addr().unwrap()).unwrap();
        nix::sys::socket::setsockopt(&server, crate::udp::opt::NoCheck, &true).unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let (seg, stride) = (1472, 1500);
        let buf: Vec<u8> = (0..8u8).flat_map(|i| vec![i; stride]).collect();
        let lens = [seg, seg, seg, seg, seg, seg, seg, 100];
        let mut gso = true;
        assert!(
            send_gso(&server, &buf, stride, &lens).is_err_and(|e| gso_refused(&e)),
            "the kernel accepted GSO without checksums: the refusal is not forced"
        );
        send_window(&server, &buf, stride, &lens, &mut gso).unwrap();
        assert!(!gso, "GSO still on after a refusal");
        let mut b = vec![0; 2048];
        for (i, &len) in lens.iter().enumerate() {
            let n = client.recv(&mut b).unwrap();
            assert_eq!(&b[..n], &vec![i as u8; len][..], "datagram {i}");
        }
        send_window(&server, &buf, stride, &lens, &mut gso).unwrap();
        for (i, &len) in lens.iter().enumerate() {
            let n = client.recv(&mut b).unwrap();
            assert_eq!(n, len, "second window, datagram {i}");
        }
    }

    #[test]
    fn gso_refusals_are_the_kernels_gso_errors_only() {
        for errno in [
            nix::libc::EIO,
            nix::libc::EMSGSIZE,
            nix::libc::EINVAL,
            nix::libc::ENOPROTOOPT,
            nix::libc::EOPNOTSUPP,
        ] {
            assert!(gso_refused(&io::Error::from_raw_os_error(errno)), "{errno}");
        }
        for errno in [
            nix::libc::ECONNREFUSED,
            nix::libc::ENOBUFS,
            nix::libc::EAGAIN,
            nix::libc::EPERM,
        ] {
            assert!(
                !gso_refused(&io::Error::from_raw_os_error(errno)),
                "{errno}"
            );
        }
        assert!(!gso_refused(&io::Error::other("not an errno")));
    }
}
