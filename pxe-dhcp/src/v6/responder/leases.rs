//! DHCPv6 lease state as data: the [`Server`](super::Server) changes it, the driver persists it.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use pxe_proto::Instant;

/// What an address is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum Lease6State {
    /// Offered in an Advertise, held for the client's Request.
    Advertised,
    /// Bound by a Reply (to a Request, a Rapid Commit Solicit, a Renew or a Rebind).
    Bound,
    /// Declined by a client (RFC 8415 §18.3.8): in use by someone else, held for a lease time.
    Declined,
}

/// One address held for an IA of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Lease6 {
    /// The client's DUID bytes (RFC 8415 §11: compared as opaque bytes).
    pub duid: Vec<u8>,
    /// The IA_NA's IAID.
    pub iaid: u32,
    /// The address.
    pub address: Ipv6Addr,
    /// The state.
    pub state: Lease6State,
    /// When the state ends (the valid lifetime for a binding).
    pub expires: Instant,
}

impl Lease6 {
    /// Whether the lease still holds its address at `now`.
    pub fn is_active(&self, now: Instant) -> bool {
        now < self.expires
    }
}

/// Leases by address, with an index by (DUID, IAID). An address has at most one lease, and an
/// IA at most one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(from = "Vec<Lease6>", into = "Vec<Lease6>")
)]
pub struct Lease6Table {
    by_addr: BTreeMap<Ipv6Addr, Lease6>,
    by_ia: BTreeMap<(Vec<u8>, u32), Ipv6Addr>,
}

impl From<Vec<Lease6>> for Lease6Table {
    fn from(v: Vec<Lease6>) -> Lease6Table {
        let mut t = Lease6Table::default();
        for l in v {
            t.insert(l);
        }
        t
    }
}

impl From<Lease6Table> for Vec<Lease6> {
    fn from(t: Lease6Table) -> Vec<Lease6> {
        t.by_addr.into_values().collect()
    }
}

impl Lease6Table {
    /// An empty table.
    pub fn new() -> Lease6Table {
        Lease6Table::default()
    }

    /// The lease on `addr`.
    pub fn get(&self, addr: Ipv6Addr) -> Option<&Lease6> {
        self.by_addr.get(&addr)
    }

    /// The lease of an IA.
    pub fn by_ia(&self, duid: &[u8], iaid: u32) -> Option<&Lease6> {
        self.by_ia
            .get(&(duid.to_vec(), iaid))
            .and_then(|a| self.by_addr.get(a))
    }

    /// Every lease, by address.
    pub fn iter(&self) -> impl Iterator<Item = &Lease6> {
        self.by_addr.values()
    }

    /// Number of leases.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// Inserts `lease`, replacing any lease on its address and any other address of its IA
    /// (a declined address belongs to no IA any more, so it keeps only the address index).
    pub fn insert(&mut self, lease: Lease6) {
        self.remove(lease.address);
        let key = (lease.duid.clone(), lease.iaid);
        if lease.state != Lease6State::Declined
            && let Some(old) = self.by_ia.insert(key, lease.address)
        {
            self.by_addr.remove(&old);
        }
        self.by_addr.insert(lease.address, lease);
    }

    /// Removes the lease on `addr`.
    pub fn remove(&mut self, addr: Ipv6Addr) -> Option<Lease6> {
        let old = self.by_addr.remove(&addr)?;
        let key = (old.duid.clone(), old.iaid);
        if self.by_ia.get(&key) == Some(&addr) {
            self.by_ia.remove(&key);
        }
        Some(old)
    }

    /// Removes and returns every lease that has expired at `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<Lease6> {
        let gone: Vec<Ipv6Addr> = self
            .by_addr
            .values()
            .filter(|l| !l.is_active(now))
            .map(|l| l.address)
            .collect();
        gone.into_iter().filter_map(|a| self.remove(a)).collect()
    }

    /// The earliest expiry.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_addr.values().map(|l| l.expires).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn lease(duid: u8, iaid: u32, last: u16, state: Lease6State, expires: u64) -> Lease6 {
        Lease6 {
            duid: vec![0, 3, 0, 1, duid],
            iaid,
            address: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last),
            state,
            expires: Instant::from_secs(expires),
        }
    }

    #[test]
    fn an_ia_holds_one_address_and_an_address_one_lease() {
        let mut t = Lease6Table::new();
        t.insert(lease(1, 1, 10, Lease6State::Advertised, 60));
        t.insert(lease(1, 1, 11, Lease6State::Bound, 3600));
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.by_ia(&[0, 3, 0, 1, 1], 1)
                .map(|l| l.address.segments()[7]),
            Some(11)
        );
        t.insert(lease(2, 1, 11, Lease6State::Bound, 3600));
        assert_eq!(t.len(), 1);
        assert!(t.by_ia(&[0, 3, 0, 1, 1], 1).is_none());
        t.insert(lease(2, 1, 12, Lease6State::Declined, 30));
        assert_eq!(t.len(), 2);
        assert_eq!(t.expire(Instant::from_secs(100)).len(), 1);
        assert_eq!(t.next_expiry(), Some(Instant::from_secs(3600)));
    }

    proptest! {
        /// The two indexes agree whatever sequence of inserts and removes.
        #[test]
        fn indexes_agree(ops in proptest::collection::vec((0u8..3, 0u32..2, 0u16..4, 0u8..4), 0..40)) {
            let mut t = Lease6Table::new();
            for (duid, iaid, last, op) in ops {
                match op {
                    0 => { t.remove(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)); }
                    1 => t.insert(lease(duid, iaid, last, Lease6State::Declined, 10)),
                    2 => t.insert(lease(duid, iaid, last, Lease6State::Advertised, 10)),
                    _ => t.insert(lease(duid, iaid, last, Lease6State::Bound, 10)),
                }
                for (key, addr) in &t.by_ia {
                    let l = t.by_addr.get(addr).expect("indexed address has a lease");
                    prop_assert_eq!(&(l.duid.clone(), l.iaid), key);
                }
                for l in t.by_addr.values().filter(|l| l.state != Lease6State::Declined) {
                    prop_assert_eq!(t.by_ia.get(&(l.duid.clone(), l.iaid)), Some(&l.address));
                }
            }
            let round: Lease6Table = Vec::<Lease6>::from(t.clone()).into();
            prop_assert_eq!(round, t);
        }
    }
}
