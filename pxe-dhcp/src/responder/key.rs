//! Who a lease belongs to: the client identifier (option 61), or the hardware address of a
//! client that sends none.

use alloc::vec::Vec;
use core::fmt;

use pxe_proto::MacAddr;

use crate::wire::{DhcpOption, OptionCode, Repr};

/// ARP hardware type 1, Ethernet: the type byte of the identifier RFC 2132 §9.14 suggests.
const HTYPE_ETHERNET: u8 = 1;

/// How the lease server tells clients apart (RFC 2131 §4.2: "If the client supplies a 'client
/// identifier', ... the server MUST use that identifier to identify the client"; without one,
/// `chaddr` does).
///
/// An identifier made of a hardware type and the client's own address (the form RFC 2132 §9.14
/// suggests, and what iPXE sends: `01` + MAC) names the same client as that address sent without
/// an identifier, so a PXE ROM sending `01` + MAC and an installed OS sending nothing share one
/// lease, as with dnsmasq. Any other identifier (RFC 4361's `ff` + IAID + DUID, a hand-set
/// string) is a client of its own even on a MAC another client uses, as in Kea; two machines (or
/// NICs) sending the same identifier are one client.
///
/// Borrows the identifier from the message or the lease it came from, so finding a client's
/// lease allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClientKey<'a> {
    /// No identifier (or one too short to be one, RFC 2132 §9.14: at least 2 bytes), or the
    /// hardware form `01` + this address.
    Hardware(MacAddr),
    /// Any other identifier, byte for byte.
    ClientId(&'a [u8]),
}

impl<'a> ClientKey<'a> {
    /// The client a message comes from or goes to: its option 61, else its `chaddr`. A reply
    /// echoes option 61 (RFC 6842 §3), so it names the same client as its request.
    pub fn of(msg: &'a Repr) -> ClientKey<'a> {
        let id = match msg.option(OptionCode::ClientIdentifier) {
            Some(DhcpOption::ClientIdentifier(id)) if id.len() >= 2 => id.as_slice(),
            _ => return ClientKey::Hardware(msg.client_mac()),
        };
        // `htype` + a 6-byte `chaddr` is the hardware address whatever the type (RFC 2132 §9.14).
        let own =
            msg.hlen == 6 && id.len() == 7 && id[0] == msg.htype && id[1..] == msg.chaddr[..6];
        if own {
            ClientKey::Hardware(msg.client_mac())
        } else {
            ClientKey::from_client_id(id)
        }
    }

    /// The client an identifier names: `01` + 6 bytes is that hardware address.
    pub fn from_client_id(id: &'a [u8]) -> ClientKey<'a> {
        if let [HTYPE_ETHERNET, rest @ ..] = id
            && let Ok(mac) = <[u8; 6]>::try_from(rest)
        {
            return ClientKey::Hardware(MacAddr(mac));
        }
        ClientKey::ClientId(id)
    }

    /// What a lease held by this client at hardware address `mac` records as its `client_id`:
    /// nothing when the address itself is the key, so such leases look as they always did.
    pub fn client_id_for(self, mac: MacAddr) -> Option<Vec<u8>> {
        match self {
            ClientKey::Hardware(m) if m == mac => None,
            ClientKey::Hardware(m) => {
                let mut id = Vec::with_capacity(7);
                id.push(HTYPE_ETHERNET);
                id.extend_from_slice(&m.0);
                Some(id)
            }
            ClientKey::ClientId(id) => Some(id.to_vec()),
        }
    }
}

/// The identifier as colon-separated hex, a hardware key in its `01` + MAC form
/// (`01:52:54:00:77:00:01`, `ff:00:00:00:01:00:01:...`), as dnsmasq writes it.
impl fmt::Display for ClientKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::Hardware(m) => write!(f, "{HTYPE_ETHERNET:02x}:{m}"),
            ClientKey::ClientId(id) => write!(f, "{}", Hex(id)),
        }
    }
}

/// Bytes as lower-case hex joined by `:`, the form lease files and logs use for identifiers.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Reads [`Hex`]'s form back: two hex digits per byte, joined by `:` (empty for no bytes).
#[cfg(feature = "serde")]
pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(':')
        .map(|b| match b.as_bytes() {
            [x, y] if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => {
                u8::from_str_radix(b, 16).ok()
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MessageType, Op};
    use alloc::string::ToString;
    use alloc::vec;

    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 1]);

    fn msg(id: Option<&[u8]>) -> Repr {
        let mut r = Repr::new(Op::BootRequest, 1, MAC);
        r.options
            .push(DhcpOption::MessageType(MessageType::Discover));
        if let Some(id) = id {
            r.options.push(DhcpOption::ClientIdentifier(id.to_vec()));
        }
        r
    }

    #[test]
    fn no_identifier_and_htype_plus_chaddr_are_one_client() {
        let ipxe = [1, 0x52, 0x54, 0, 0x77, 0, 1];
        assert_eq!(ClientKey::of(&msg(None)), ClientKey::Hardware(MAC));
        assert_eq!(ClientKey::of(&msg(Some(&ipxe))), ClientKey::Hardware(MAC));
        assert_eq!(ClientKey::Hardware(MAC).client_id_for(MAC), None);
        // Too short to be an identifier (RFC 2132 §9.14): the hardware address.
        assert_eq!(ClientKey::of(&msg(Some(&[7]))), ClientKey::Hardware(MAC));
    }

    #[test]
    fn other_identifiers_are_their_own_clients() {
        // RFC 4361: ff, IAID, DUID-LLT.
        let duid = [0xff, 0, 0, 0, 1, 0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d];
        let r = msg(Some(&duid));
        let k = ClientKey::of(&r);
        assert_eq!(k, ClientKey::ClientId(&duid));
        assert_eq!(k.client_id_for(MAC), Some(duid.to_vec()));
        assert_eq!(k.to_string(), "ff:00:00:00:01:00:01:00:01:2a:2b:2c:2d");
        // Another Ethernet address as identifier is that address's client, and a lease records
        // it because it is not the lease's own MAC.
        let other = [1, 2, 2, 2, 2, 2, 2];
        let r = msg(Some(&other));
        let k = ClientKey::of(&r);
        assert_eq!(k, ClientKey::Hardware(MacAddr([2; 6])));
        assert_eq!(k.client_id_for(MAC), Some(other.to_vec()));
        assert_eq!(ClientKey::from_client_id(&other), k);
    }

    #[test]
    fn non_ethernet_hardware_form() {
        // IEEE 802 (htype 6) sending its own htype + chaddr is its hardware address.
        let mut r = msg(Some(&[6, 0x52, 0x54, 0, 0x77, 0, 1]));
        r.htype = 6;
        assert_eq!(ClientKey::of(&r), ClientKey::Hardware(MAC));
        // InfiniBand (RFC 4390: hlen 0, identifier required).
        let mut r = msg(Some(&[0xff; 20]));
        r.htype = 32;
        r.hlen = 0;
        assert_eq!(ClientKey::of(&r), ClientKey::ClientId(&[0xff; 20]));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn hex_round_trip() {
        for b in [vec![], vec![0], vec![0xff, 0, 0x1a]] {
            assert_eq!(parse_hex(&Hex(&b).to_string()), Some(b));
        }
        for bad in ["0", "0g", "+1", "01:", ":01", "001", "01-02"] {
            assert_eq!(parse_hex(bad), None, "{bad}");
        }
        assert_eq!(ClientKey::Hardware(MAC).to_string(), "01:52:54:00:77:00:01");
    }
}
