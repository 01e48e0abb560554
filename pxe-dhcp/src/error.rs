//! The crate's one error type.

use pxe_proto::WireError;

/// What went wrong while reading or writing a DHCP message.
///
/// Errors are `Copy` and carry only static context (option names, offsets), so a responder can
/// keep the last one in its statistics without allocating. Offsets count from the first byte of
/// the BOOTP message (the `op` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is shorter than the fixed BOOTP header plus the magic cookie (RFC 2131 §2).
    #[error("message is {len} bytes, shorter than the 240-byte BOOTP header and magic cookie")]
    Truncated {
        /// The message length.
        len: usize,
    },
    /// Bytes 236..240 are not the DHCP magic cookie 99.130.83.99 (RFC 2131 §3): a plain BOOTP
    /// message or not DHCP at all.
    #[error("no DHCP magic cookie at offset 236")]
    NoMagicCookie,
    /// An option whose length runs past the end of its area (options field, `file` or `sname`).
    #[error("option {code} ({name}) at offset {offset}: length runs past the end of the {area}")]
    TruncatedOption {
        /// The option code.
        code: u8,
        /// The option's name from the option table (`"unknown"` if not in it).
        name: &'static str,
        /// Offset of the option's code octet.
        offset: usize,
        /// `"options field"`, `"file field"` or `"sname field"`.
        area: &'static str,
    },
    /// An option whose value does not fit its type (wrong length, bad contents).
    #[error("option {code} ({name}) at offset {offset}: {reason}")]
    MalformedOption {
        /// The option code.
        code: u8,
        /// The option's name from the option table.
        name: &'static str,
        /// Offset of the option's code octet (its first instance, if it was split).
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header field value is longer than its fixed-size field (`sname` 64, `file` 128 bytes).
    #[error("{field} is {len} bytes, longer than its {max}-byte field")]
    FieldTooLong {
        /// `"sname"` or `"file"`.
        field: &'static str,
        /// The value's length.
        len: usize,
        /// The field size.
        max: usize,
    },
    /// An option that cannot be written: code 0 (Pad) or 255 (End) used as a data option.
    #[error("option code {code} cannot carry data")]
    ReservedOptionCode {
        /// The offending code.
        code: u8,
    },
    /// A DHCPv6 message shorter than its fixed header: 4 bytes for a client/server message (RFC
    /// 8415 §8), 34 for a relay message (RFC 8415 §9).
    #[error("DHCPv6 message is {len} bytes, shorter than its {min}-byte header")]
    V6Truncated {
        /// The message length.
        len: usize,
        /// The header length.
        min: usize,
    },
    /// A DHCPv6 option whose length runs past the end of the area holding it (RFC 8415 §21.1).
    #[error(
        "DHCPv6 option {code} ({name}) at offset {offset}: length runs past the end of its area"
    )]
    V6TruncatedOption {
        /// The option code.
        code: u16,
        /// The option's name from the DHCPv6 option table.
        name: &'static str,
        /// Offset of the option's code field.
        offset: usize,
    },
    /// A DHCPv6 option whose value does not fit its type.
    #[error("DHCPv6 option {code} ({name}) at offset {offset}: {reason}")]
    V6MalformedOption {
        /// The option code.
        code: u16,
        /// The option's name from the DHCPv6 option table.
        name: &'static str,
        /// Offset of the option's code field.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Relay-forward messages nested deeper than the hop-count limit (RFC 8415 §7.6:
    /// HOP_COUNT_LIMIT 8; this crate accepts up to [`crate::v6::MAX_RELAY_DEPTH`]).
    #[error("DHCPv6 relay messages nested more than {max} deep")]
    V6RelayTooDeep {
        /// The limit.
        max: usize,
    },
    /// A relay message without exactly one Relay Message option (RFC 8415 §9, §21.10).
    #[error("DHCPv6 relay message at depth {depth} carries no Relay Message option")]
    V6NoRelayMessage {
        /// 0 for the outermost relay message.
        depth: usize,
    },
    /// A DHCPv6 value too long for its 16-bit length field (RFC 8415 §21.1).
    #[error("DHCPv6 option {code} is {len} bytes, longer than 65535")]
    V6OptionTooLong {
        /// The option code.
        code: u16,
        /// Its length.
        len: usize,
    },
    /// Saved lease state holds one address for two clients (a hand-edited or merged lease
    /// file): restoring it would hand one of them an address the other holds.
    #[error(
        "address {ip} is in two lease records, one for {} and one for {}; keep the right one and remove the other",
        MacOrNone(*.first),
        MacOrNone(*.second)
    )]
    DuplicateLease {
        /// The address.
        ip: core::net::Ipv4Addr,
        /// The first record's hardware address (none for a declined address).
        first: Option<pxe_proto::MacAddr>,
        /// The second record's hardware address.
        second: Option<pxe_proto::MacAddr>,
    },
    /// A lower-level read or write failed (typically the output buffer was too small: the
    /// caller's buffer, or the limit from the client's option 57).
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// A record's hardware address in an error message.
struct MacOrNone(Option<pxe_proto::MacAddr>);

impl core::fmt::Display for MacOrNone {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(m) => write!(f, "MAC {m}"),
            None => f.write_str("no client (a declined address)"),
        }
    }
}
