//! DHCP Unique Identifiers (RFC 8415 §11; DUID-UUID from RFC 6355 §4).

use alloc::vec::Vec;
use core::fmt;

use pxe_proto::MacAddr;

/// Hardware type 1, Ethernet (IANA "Hardware Types", as RFC 8415 §11.2 uses it).
pub const HW_ETHERNET: u16 = 1;

/// The longest DUID: 128 octets after the 2-octet type (RFC 8415 §11.1).
pub const MAX_DUID_LEN: usize = 130;

/// A DUID, by its type (RFC 8415 §11.1).
///
/// Servers treat DUIDs as opaque (RFC 8415 §11: "compared for equality"), so every DUID
/// round-trips byte for byte, including unknown types; the typed forms are there to find the
/// client's link-layer address for logs and MAC-based rules.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Duid {
    /// Type 1, DUID-LLT: link-layer address plus time (RFC 8415 §11.2).
    LinkLayerTime {
        /// Hardware type (IANA; 1 = Ethernet).
        hw_type: u16,
        /// Seconds since midnight UTC, 1 January 2000, modulo 2^32.
        time: u32,
        /// The link-layer address.
        address: Vec<u8>,
    },
    /// Type 2, DUID-EN: enterprise number plus identifier (RFC 8415 §11.3).
    Enterprise {
        /// The vendor's IANA private enterprise number.
        enterprise: u32,
        /// The vendor-assigned identifier.
        id: Vec<u8>,
    },
    /// Type 3, DUID-LL: link-layer address (RFC 8415 §11.4).
    LinkLayer {
        /// Hardware type (IANA; 1 = Ethernet).
        hw_type: u16,
        /// The link-layer address.
        address: Vec<u8>,
    },
    /// Type 4, DUID-UUID (RFC 6355 §4): what EDK2's PXE sends, from the SMBIOS system UUID.
    Uuid([u8; 16]),
    /// Any other type, or a known type whose body does not have its form.
    Other {
        /// The DUID type.
        duid_type: u16,
        /// The bytes after the type.
        data: Vec<u8>,
    },
}

impl Duid {
    /// A DUID-LL for an Ethernet address (what this server uses for itself).
    pub fn from_mac(mac: MacAddr) -> Duid {
        Duid::LinkLayer {
            hw_type: HW_ETHERNET,
            address: mac.octets().to_vec(),
        }
    }

    /// Reads a DUID from an option body.
    pub fn decode(data: &[u8]) -> Result<Duid, &'static str> {
        if data.len() < 3 {
            return Err("a DUID is a 2-byte type and at least 1 byte of identifier");
        }
        if data.len() > MAX_DUID_LEN {
            return Err("a DUID is at most 130 bytes (RFC 8415 §11.1)");
        }
        let duid_type = u16::from_be_bytes([data[0], data[1]]);
        let body = &data[2..];
        let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Ok(match (duid_type, body.len()) {
            (1, 7..) => Duid::LinkLayerTime {
                hw_type: be16(body),
                time: be32(&body[2..]),
                address: body[6..].to_vec(),
            },
            (2, 5..) => Duid::Enterprise {
                enterprise: be32(body),
                id: body[4..].to_vec(),
            },
            (3, 3..) => Duid::LinkLayer {
                hw_type: be16(body),
                address: body[2..].to_vec(),
            },
            (4, 16) => {
                let mut u = [0u8; 16];
                u.copy_from_slice(body);
                Duid::Uuid(u)
            }
            _ => Duid::Other {
                duid_type,
                data: body.to_vec(),
            },
        })
    }

    /// Appends the DUID's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Duid::LinkLayerTime {
                hw_type,
                time,
                address,
            } => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.extend_from_slice(&hw_type.to_be_bytes());
                out.extend_from_slice(&time.to_be_bytes());
                out.extend_from_slice(address);
            }
            Duid::Enterprise { enterprise, id } => {
                out.extend_from_slice(&2u16.to_be_bytes());
                out.extend_from_slice(&enterprise.to_be_bytes());
                out.extend_from_slice(id);
            }
            Duid::LinkLayer { hw_type, address } => {
                out.extend_from_slice(&3u16.to_be_bytes());
                out.extend_from_slice(&hw_type.to_be_bytes());
                out.extend_from_slice(address);
            }
            Duid::Uuid(u) => {
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(u);
            }
            Duid::Other { duid_type, data } => {
                out.extend_from_slice(&duid_type.to_be_bytes());
                out.extend_from_slice(data);
            }
        }
    }

    /// The DUID's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// The Ethernet address inside a DUID-LLT or DUID-LL, if it holds one.
    pub fn mac(&self) -> Option<MacAddr> {
        match self {
            Duid::LinkLayerTime {
                hw_type: HW_ETHERNET,
                address,
                ..
            }
            | Duid::LinkLayer {
                hw_type: HW_ETHERNET,
                address,
            } => MacAddr::from_bytes(address).ok(),
            _ => None,
        }
    }

    /// The UUID of a DUID-UUID.
    pub fn uuid(&self) -> Option<[u8; 16]> {
        match self {
            Duid::Uuid(u) => Some(*u),
            _ => None,
        }
    }
}

/// Hex bytes separated by colons, as dnsmasq and Kea log DUIDs: `00:03:00:01:52:54:00:12:34:56`.
impl fmt::Display for Duid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.to_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Parses the colon-separated hex form [`Duid`]'s `Display` writes.
impl core::str::FromStr for Duid {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Duid, &'static str> {
        let bytes =
            s.split(':')
                .map(|h| match h.len() {
                    1 | 2 => u8::from_str_radix(h, 16)
                        .map_err(|_| "a DUID is hex bytes separated by ':'"),
                    _ => Err("a DUID is hex bytes separated by ':'"),
                })
                .collect::<Result<Vec<u8>, _>>()?;
        Duid::decode(&bytes)
    }
}

/// Serialized as the `Display` string (`"00:03:00:01:52:54:00:12:34:56"`), as a config file
/// spells a DUID.
#[cfg(feature = "serde")]
impl serde::Serialize for Duid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Duid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Duid, D::Error> {
        let s = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn known_types_and_their_mac() {
        // dhclient -6 by default: DUID-LLT, Ethernet.
        let llt = [
            0, 1, 0, 1, 0x2c, 0x8f, 0x12, 0x34, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
        ];
        let d = Duid::decode(&llt).unwrap();
        assert_eq!(d.mac(), Some(MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56])));
        assert_eq!(d.to_bytes(), llt);
        // EDK2: DUID-UUID.
        let mut uuid = vec![0, 4];
        uuid.extend(1..=16);
        let d = Duid::decode(&uuid).unwrap();
        assert_eq!(d.uuid().map(|u| u[0]), Some(1));
        assert_eq!(d.mac(), None);
        // A UUID DUID of the wrong length stays as written.
        let d = Duid::decode(&[0, 4, 1, 2, 3]).unwrap();
        assert!(matches!(d, Duid::Other { duid_type: 4, .. }));
        assert_eq!(d.to_bytes(), [0, 4, 1, 2, 3]);
        assert!(Duid::decode(&[0, 3]).is_err());
        assert!(Duid::decode(&[0u8; 131]).is_err());
        assert_eq!(
            Duid::from_mac(MacAddr([2, 0, 0, 0, 0, 1])).to_string(),
            "00:03:00:01:02:00:00:00:00:01"
        );
        assert_eq!(
            "00:03:00:01:02:00:00:00:00:01".parse::<Duid>(),
            Ok(Duid::from_mac(MacAddr([2, 0, 0, 0, 0, 1])))
        );
        assert!("00:03:zz".parse::<Duid>().is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 3..=130)) {
            let d = Duid::decode(&data).unwrap();
            prop_assert_eq!(d.to_bytes(), data);
        }
    }
}
