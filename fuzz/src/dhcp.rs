//! DHCP targets: the message codec and the option / sub-option decoders.

use std::net::Ipv4Addr;

use pxe_dhcp::policy::Policy;
use pxe_dhcp::pxe::ClientInfo;
use pxe_dhcp::wire::{DhcpOption, Packet, Repr};

/// Parse → emit → parse: a message that parses emits to exactly `buffer_len` bytes and parses
/// back to the same value. Classification and the default policy run on it without panicking.
pub fn dhcp_message(data: &[u8]) {
    if let Ok(p) = Packet::new_checked(data) {
        // The raw view must walk any bytes without panicking.
        for o in p.raw_options() {
            if o.is_err() {
                break;
            }
        }
        let _ = (p.overload(), p.client_mac(), p.sname(), p.file());
    }
    let Ok(repr) = Repr::parse_bytes(data) else {
        return;
    };
    let len = repr.buffer_len();
    let mut buf = vec![0u8; len];
    let n = repr
        .emit(&mut buf)
        .unwrap_or_else(|e| panic!("parsed message does not emit: {e}\n{repr:?}"));
    assert_eq!(n, len, "emit wrote {n} bytes, buffer_len said {len}");
    let again = Repr::parse_bytes(&buf[..n])
        .unwrap_or_else(|e| panic!("emitted message does not parse: {e}\n{repr:?}"));
    assert_eq!(again, repr, "parse(emit(parse(x))) differs");
    // Honouring a small option 57 is an error or a fit, never a panic.
    let max = repr.max_reply_len().min(len);
    let _ = repr.emit(&mut buf[..max]);

    let info = ClientInfo::from_repr(&repr);
    let _ = (
        info.summary(),
        info.is_netboot(),
        info.arch_kind(),
        info.is_uefi(),
    );
    let _ = Policy::default().decide(&info, Ipv4Addr::new(192, 0, 2, 1));
}

/// Option values, above all option 43 (PXE sub-options) and option 175 (iPXE encapsulated):
/// decode never panics, and a decoded value encodes to bytes that decode to the same value.
pub fn dhcp_suboptions(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (code, value) = match sel {
        0..=95 => (43, rest),
        96..=191 => (175, rest),
        _ => match rest.split_first() {
            Some((&c, v)) => (c, v),
            None => return,
        },
    };
    let Ok(opt) = DhcpOption::decode(code, value) else {
        return;
    };
    let mut enc = Vec::new();
    opt.encode_value(&mut enc);
    let again = DhcpOption::decode(code, &enc)
        .unwrap_or_else(|e| panic!("re-encoded option {code} does not decode: {e}\n{opt:?}"));
    assert_eq!(
        again, opt,
        "option {code}: decode(encode(decode(x))) differs"
    );
}
