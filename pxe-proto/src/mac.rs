//! Ethernet (EUI-48) hardware addresses.

use core::fmt;
use core::str::FromStr;

use crate::WireError;

/// A 48-bit hardware address, as in the DHCP `chaddr` field when `htype` is 1 (RFC 2131 §2).
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The address from its first six bytes, or an error if `bytes` is shorter.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WireError> {
        let six: [u8; 6] =
            bytes
                .get(..6)
                .and_then(|b| b.try_into().ok())
                .ok_or(WireError::Truncated {
                    offset: 0,
                    needed: 6,
                    available: bytes.len(),
                })?;
        Ok(MacAddr(six))
    }

    /// The six octets.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// The address with `mask` applied octet by octet, for "match this vendor prefix" rules.
    pub fn masked(&self, mask: &MacAddr) -> MacAddr {
        let mut out = self.0;
        for (o, m) in out.iter_mut().zip(mask.0) {
            *o &= m;
        }
        MacAddr(out)
    }

    /// The pxelinux config-file form: lower-case hex joined by `-` (`88-99-aa-bb-cc-dd`).
    pub fn to_dashed(&self) -> DashedMac {
        DashedMac(*self)
    }
}

/// [`MacAddr`] displayed with dashes, as pxelinux names its per-client config files.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DashedMac(MacAddr);

impl fmt::Display for DashedMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0.0;
        write!(
            f,
            "{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(o: [u8; 6]) -> Self {
        MacAddr(o)
    }
}

/// Why a string is not a MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a MAC address (want six hex octets separated by ':' or '-')")]
pub struct ParseMacError;

impl FromStr for MacAddr {
    type Err = ParseMacError;

    /// Accepts `aa:bb:cc:dd:ee:ff` and `aa-bb-cc-dd-ee-ff`, either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for o in out.iter_mut() {
            let p = parts.next().ok_or(ParseMacError)?;
            // from_str_radix alone would take a sign ("+f").
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ParseMacError);
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| ParseMacError)?;
        }
        if parts.next().is_some() {
            return Err(ParseMacError);
        }
        Ok(MacAddr(out))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_and_parse_round_trip() {
        let m = MacAddr([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
        assert_eq!(m.to_string(), "52:54:00:ab:cd:ef");
        assert_eq!(m.to_dashed().to_string(), "52-54-00-ab-cd-ef");
        assert_eq!("52:54:00:AB:CD:EF".parse::<MacAddr>(), Ok(m));
        assert_eq!("52-54-00-ab-cd-ef".parse::<MacAddr>(), Ok(m));
    }

    #[test]
    fn rejects_bad_strings() {
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:ef:01",
            "5254:00:ab:cd:ef",
            "zz:54:00:ab:cd:ef",
            "123:4:5:6:7:8",
            "+2:54:00:ab:cd:ef",
            "52:54:00:ab:cd:+f",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(ParseMacError), "{bad}");
        }
    }

    #[test]
    fn masks_and_short_input() {
        let m = MacAddr([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
        let mask = MacAddr([0xff, 0xff, 0xff, 0, 0, 0]);
        assert_eq!(m.masked(&mask), MacAddr([0x52, 0x54, 0x00, 0, 0, 0]));
        assert!(MacAddr::from_bytes(&[1, 2, 3]).is_err());
        assert_eq!(
            MacAddr::from_bytes(&[1, 2, 3, 4, 5, 6, 7]),
            Ok(MacAddr([1, 2, 3, 4, 5, 6]))
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_display_round_trip(o in proptest::array::uniform6(proptest::num::u8::ANY)) {
            let m = MacAddr(o);
            proptest::prop_assert_eq!(m.to_string().parse::<MacAddr>(), Ok(m));
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = s.parse::<MacAddr>();
        }
    }
}
