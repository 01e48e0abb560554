//! Reply construction shared by both responders.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use pxe_proto::{Destination, MacAddr, Transmit};

use super::{DhcpEvent, IgnoreReason, Stats};
use crate::policy::BootDecision;
use crate::pxe::{ClientInfo, Firmware};
use crate::wire::{
    CLIENT_PORT, DhcpOption, MessageType, Op, OptionCode, Packet, PxeSubOption, Repr, SERVER_PORT,
    VendorOptions,
};

/// A reply waiting for `poll_transmit`.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub repr: Repr,
    pub destination: Destination,
    pub local: Option<SocketAddr>,
    pub max_len: usize,
}

/// The options a netboot client is classified by (vendor class 60, 43, user class 77, RFC 4578's
/// 93/94/97, iPXE's 175): one of them malformed makes the boot decision unreliable.
const BOOT_OPTIONS: [u8; 7] = [43, 60, 77, 93, 94, 97, 175];

/// Parses a datagram both responders answer only if it is a BOOTREQUEST; counts it in `stats`.
/// The error is the client (when known) and why the datagram is ignored. Beside the request,
/// the first malformed option a client is classified by ([`BOOT_OPTIONS`], left out by
/// [`Repr::parse_lenient`]): such a client gets no boot decision. Other malformed options that
/// the exchange does not need are left out silently, as dhcpd and dnsmasq ignore them.
pub(crate) fn parse_request(
    payload: &[u8],
    stats: &mut Stats,
) -> Result<(Repr, Option<crate::Error>), (Option<MacAddr>, IgnoreReason)> {
    stats.received += 1;
    let (req, dropped) = Packet::new_checked(payload)
        .and_then(|p| Repr::parse_lenient(&p))
        .map_err(|e| {
            stats.malformed += 1;
            stats.last_error = Some(e);
            (None, IgnoreReason::Malformed(e))
        })?;
    if req.op != Op::BootRequest {
        return Err((Some(req.client_mac()), IgnoreReason::NotRequest));
    }
    let bad_boot = dropped.into_iter().find(
        |e| matches!(e, crate::Error::MalformedOption { code, .. } if BOOT_OPTIONS.contains(code)),
    );
    if let Some(e) = bad_boot {
        stats.last_error = Some(e);
    }
    Ok((req, bad_boot))
}

/// A reply to `req`: same xid, chaddr, flags and giaddr; options 53 and 54 first.
pub(crate) fn reply_to(req: &Repr, mt: MessageType, server_id: Ipv4Addr) -> Repr {
    let mut r = Repr::new(Op::BootReply, req.xid, MacAddr::default());
    r.htype = req.htype;
    r.hlen = req.hlen;
    r.chaddr = req.chaddr;
    r.flags = req.flags;
    r.giaddr = req.giaddr;
    r.options.push(DhcpOption::MessageType(mt));
    r.options.push(DhcpOption::ServerIdentifier(server_id));
    r
}

/// The option 43 that makes an offer a usable PXE offer: PXE_DISCOVERY_CONTROL bit 3 ("boot
/// file present: download it, skip discovery"). EDK2 counts an offer with `PXEClient` and a
/// discovery sub-option as PXE 1.0 and boots its file; without any 43 it expects a boot-server
/// exchange on 4011 (EDK2 stops with PXE-E16 when nobody answers there).
pub(crate) fn pxe_boot_file_vendor_options() -> DhcpOption {
    DhcpOption::VendorSpecific(VendorOptions::Pxe(alloc::vec![
        PxeSubOption::DiscoveryControl(PxeSubOption::USE_BOOT_FILE)
    ]))
}

fn nul_terminated(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// Fills the boot fields of `r` from `d`: `siaddr`, `file` (and option 67 when the client asks
/// for it or the name does not fit), `sname`/66, option 60 (`PXEClient` or `HTTPClient`) with 43
/// when `vendor` is set, 97 echoed, the rule's extra options.
pub(crate) fn apply_boot(
    r: &mut Repr,
    req: &Repr,
    client: &ClientInfo,
    d: &BootDecision,
    vendor: bool,
) {
    if let IpAddr::V4(next) = d.next_server {
        r.siaddr = next;
    }
    let file = d.boot_file.as_bytes();
    if file.len() < 128 {
        r.file = file.to_vec();
    }
    if file.len() >= 128 || req.requests(OptionCode::BootfileName) {
        // NUL-terminated as dnsmasq sends it ("buggy PXE again").
        r.set_option(DhcpOption::BootfileName(nul_terminated(&d.boot_file)));
    }
    if let Some(name) = &d.server_name
        && name.len() < 64
    {
        r.sname = name.as_bytes().to_vec();
    }
    if req.requests(OptionCode::TftpServerName) {
        let name = d
            .server_name
            .clone()
            .unwrap_or_else(|| alloc::format!("{}", d.next_server));
        r.set_option(DhcpOption::TftpServerName(nul_terminated(&name)));
    }
    if client.firmware == Firmware::HttpClient {
        // UEFI HTTP boot ignores offers without the echoed class (xCAT #7743).
        r.set_option(DhcpOption::VendorClassIdentifier(b"HTTPClient".to_vec()));
    } else if vendor {
        r.set_option(DhcpOption::VendorClassIdentifier(b"PXEClient".to_vec()));
        r.set_option(pxe_boot_file_vendor_options());
    }
    if let Some(m @ DhcpOption::ClientMachineIdentifier(_)) =
        req.option(OptionCode::ClientMachineIdentifier)
    {
        r.set_option(m.clone());
    }
    for o in &d.options {
        r.set_option(o.clone());
    }
}

/// Echoes options 61 and 82 and puts the reply's options in their final order:
/// - option 61 as the client sent it (RFC 6842 §3: the server "MUST return the 'client
///   identifier' option, unaltered", so the client can match its replies);
/// - 53, 54, then 1 (RFC 2132 §3.3: the subnet mask MUST come before the router option);
/// - then the options the client listed in option 55, in its order (RFC 2132 §9.8: the server
///   "MUST try to insert the requested options in the order requested"), then the others;
/// - option 82 from the request last, unchanged (RFC 3046 §2.2).
pub(crate) fn finish_options(r: &mut Repr, req: &Repr) {
    r.options
        .retain(|x| x.code() != OptionCode::RelayAgentInformation);
    if let Some(id @ DhcpOption::ClientIdentifier(_)) = req.option(OptionCode::ClientIdentifier) {
        r.set_option(id.clone());
    }
    let requested: &[OptionCode] = match req.option(OptionCode::ParameterRequestList) {
        Some(DhcpOption::ParameterRequestList(l)) => l,
        _ => &[],
    };
    // Stable: options with equal rank keep the order they were added in.
    r.options.sort_by_key(|o| match o.code() {
        OptionCode::MessageType => 0,
        OptionCode::ServerIdentifier => 1,
        OptionCode::SubnetMask => 2,
        c => requested
            .iter()
            .position(|&q| q == c)
            .map_or(usize::MAX, |i| i + 3),
    });
    if let Some(o @ DhcpOption::RelayAgentInformation(_)) =
        req.option(OptionCode::RelayAgentInformation)
    {
        r.options.push(o.clone());
    }
}

/// RFC 2131 §4.1: where a server reply to `req` goes.
pub(crate) fn destination(req: &Repr, reply: &Repr, nak: bool) -> Destination {
    if !req.giaddr.is_unspecified() {
        return Destination::Unicast(SocketAddr::new(IpAddr::V4(req.giaddr), SERVER_PORT));
    }
    if nak {
        return Destination::Broadcast { port: CLIENT_PORT };
    }
    if !req.ciaddr.is_unspecified() {
        return Destination::Unicast(SocketAddr::new(IpAddr::V4(req.ciaddr), CLIENT_PORT));
    }
    // Unicasting to `chaddr` needs an Ethernet address; any other hardware type (InfiniBand
    // sends hlen 0, RFC 4390) can only be reached by broadcast.
    let ethernet = req.htype == 1 && req.hlen == 6;
    if req.flags.broadcast() || reply.yiaddr.is_unspecified() || !ethernet {
        return Destination::Broadcast { port: CLIENT_PORT };
    }
    Destination::ToHardware {
        ip: reply.yiaddr,
        chaddr: req.client_mac(),
        port: CLIENT_PORT,
    }
}

/// Writes the next pending reply into `buf`, skipping (and reporting) any that cannot be written.
pub(crate) fn transmit(
    queue: &mut VecDeque<Pending>,
    events: &mut VecDeque<DhcpEvent>,
    stats: &mut Stats,
    buf: &mut [u8],
) -> Option<Transmit> {
    while let Some(p) = queue.pop_front() {
        let limit = p.max_len.min(buf.len());
        match p.repr.emit(&mut buf[..limit]) {
            Ok(len) => {
                return Some(Transmit {
                    destination: p.destination,
                    local: p.local,
                    len,
                });
            }
            Err(e) => {
                stats.emit_failures += 1;
                events.push_back(DhcpEvent::Ignored {
                    mac: Some(p.repr.client_mac()),
                    reason: IgnoreReason::EmitFailed(e),
                });
            }
        }
    }
    None
}

/// The address replies leave from: the server address and the port the request came to.
pub(crate) fn local_addr(server: Ipv4Addr, port: u16) -> Option<SocketAddr> {
    Some(SocketAddr::new(IpAddr::V4(server), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn finish_options_echoes_61_unaltered_and_82_last() {
        let mac = MacAddr([0x52, 0x54, 0, 0x77, 0, 1]);
        let mut req = Repr::new(Op::BootRequest, 1, mac);
        let id = DhcpOption::ClientIdentifier(vec![0xff, 0, 0, 0, 1, 0, 4, 0xaa]);
        let agent = DhcpOption::RelayAgentInformation(vec![1, 2, 3]);
        req.options = vec![
            DhcpOption::MessageType(MessageType::Discover),
            agent.clone(),
            id.clone(),
        ];
        let mut r = reply_to(&req, MessageType::Offer, Ipv4Addr::new(10, 77, 0, 1));
        finish_options(&mut r, &req);
        assert_eq!(r.options.iter().filter(|o| **o == id).count(), 1);
        assert_eq!(r.options.last(), Some(&agent));
        // RFC 6842 §3: nothing to echo when the client sent no identifier.
        req.options
            .retain(|o| o.code() != OptionCode::ClientIdentifier);
        let mut r = reply_to(&req, MessageType::Offer, Ipv4Addr::new(10, 77, 0, 1));
        finish_options(&mut r, &req);
        assert_eq!(r.option(OptionCode::ClientIdentifier), None);
    }
}
