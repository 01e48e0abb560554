//! Lease state: a value the driver serializes and restores.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use pxe_proto::{Instant, MacAddr};

/// The state of one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum LeaseState {
    /// Offered to the client, held until `expires` for its REQUEST.
    Offered,
    /// Bound (ACKed) until `expires`.
    Bound,
    /// Released by the client; free, but remembered so the client gets it back.
    Released,
    /// The lease ran out; free, but remembered so the client gets it back.
    Expired,
    /// A client reported the address in use (DHCPDECLINE); held by nobody until `expires`.
    Declined,
}

/// One address and who holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Lease {
    /// The address.
    pub ip: Ipv4Addr,
    /// The client (none for a declined address).
    pub mac: Option<MacAddr>,
    /// The state.
    pub state: LeaseState,
    /// When an offer, binding or decline ends.
    pub expires: Instant,
}

impl Lease {
    /// Whether the address is taken at `now` (offered, bound or declined, and not expired).
    pub fn is_active(&self, now: Instant) -> bool {
        matches!(
            self.state,
            LeaseState::Offered | LeaseState::Bound | LeaseState::Declined
        ) && now < self.expires
    }
}

/// Every known address, at most one record per address.
///
/// Serialized as a list of [`Lease`]s. Restoring ([`LeaseTable::from_leases`]) keeps the
/// invariant the server relies on: one record per address (the later-expiring wins) and at most
/// one active address per client (the later-expiring wins, the others become `Expired`). The
/// `Instant`s must come from a clock whose epoch survives restarts (Unix time) for restored
/// leases to keep their meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(from = "Vec<Lease>", into = "Vec<Lease>")
)]
pub struct LeaseTable {
    by_ip: BTreeMap<Ipv4Addr, Lease>,
}

impl From<Vec<Lease>> for LeaseTable {
    fn from(v: Vec<Lease>) -> Self {
        LeaseTable::from_leases(v)
    }
}

impl From<LeaseTable> for Vec<Lease> {
    fn from(t: LeaseTable) -> Self {
        t.by_ip.into_values().collect()
    }
}

impl LeaseTable {
    /// An empty table.
    pub fn new() -> LeaseTable {
        LeaseTable::default()
    }

    /// A table from records (e.g. read back from disk), repairing duplicates as described above.
    pub fn from_leases(leases: impl IntoIterator<Item = Lease>) -> LeaseTable {
        let mut by_ip: BTreeMap<Ipv4Addr, Lease> = BTreeMap::new();
        for l in leases {
            match by_ip.get(&l.ip) {
                Some(old) if old.expires >= l.expires => {}
                _ => {
                    by_ip.insert(l.ip, l);
                }
            }
        }
        // One active (offered/bound) address per client: keep the one expiring last.
        let mut best: BTreeMap<MacAddr, (Instant, Ipv4Addr)> = BTreeMap::new();
        for l in by_ip.values() {
            if let (Some(mac), LeaseState::Offered | LeaseState::Bound) = (l.mac, l.state) {
                let e = best.entry(mac).or_insert((l.expires, l.ip));
                if l.expires > e.0 {
                    *e = (l.expires, l.ip);
                }
            }
        }
        for l in by_ip.values_mut() {
            if let (Some(mac), LeaseState::Offered | LeaseState::Bound) = (l.mac, l.state)
                && best.get(&mac).is_some_and(|&(_, ip)| ip != l.ip)
            {
                l.state = LeaseState::Expired;
            }
        }
        LeaseTable { by_ip }
    }

    /// The record for `ip`.
    pub fn get(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.by_ip.get(&ip)
    }

    /// The record held or last held by `mac` (active ones first).
    pub fn by_mac(&self, mac: MacAddr) -> Option<&Lease> {
        let mut found = None;
        for l in self.by_ip.values().filter(|l| l.mac == Some(mac)) {
            if matches!(l.state, LeaseState::Offered | LeaseState::Bound) {
                return Some(l);
            }
            found = found.or(Some(l));
        }
        found
    }

    /// Every record, by address.
    pub fn iter(&self) -> impl Iterator<Item = &Lease> {
        self.by_ip.values()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.by_ip.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }

    /// Records in `first..=last`, by address.
    pub(crate) fn range(&self, first: Ipv4Addr, last: Ipv4Addr) -> impl Iterator<Item = &Lease> {
        self.by_ip.range(first..=last).map(|(_, l)| l)
    }

    /// Sets the record for `lease.ip`. A client's other offered/bound address is retired, so a
    /// client holds at most one.
    pub(crate) fn put(&mut self, lease: Lease) {
        if let Some(mac) = lease.mac {
            for l in self.by_ip.values_mut() {
                if l.ip != lease.ip
                    && l.mac == Some(mac)
                    && matches!(l.state, LeaseState::Offered | LeaseState::Bound)
                {
                    l.state = LeaseState::Expired;
                }
            }
        }
        self.by_ip.insert(lease.ip, lease);
    }

    /// Moves records whose time ran out to their free state; returns the changed records.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Lease> {
        let mut changed = Vec::new();
        self.by_ip.retain(|_, l| {
            if now < l.expires {
                return true;
            }
            match l.state {
                LeaseState::Offered | LeaseState::Bound => {
                    l.state = LeaseState::Expired;
                    changed.push(*l);
                    true
                }
                LeaseState::Declined => {
                    let mut freed = *l;
                    freed.state = LeaseState::Expired;
                    changed.push(freed);
                    false
                }
                LeaseState::Released | LeaseState::Expired => true,
            }
        });
        changed
    }

    /// The earliest time a record changes state by itself.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.by_ip
            .values()
            .filter(|l| {
                matches!(
                    l.state,
                    LeaseState::Offered | LeaseState::Bound | LeaseState::Declined
                )
            })
            .map(|l| l.expires)
            .min()
    }
}
