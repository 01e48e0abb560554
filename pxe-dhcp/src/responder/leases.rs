//! Lease state: a value the driver serializes and restores.

use alloc::collections::{BTreeMap, BTreeSet};
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

/// Every known address, at most one record per address, with indexes by client and by deadline
/// so that every operation is logarithmic in the number of records.
///
/// Serialized as a list of [`Lease`]s. Restoring ([`LeaseTable::from_leases`]) keeps the
/// invariant the server relies on: one record per address (the later-expiring wins) and at most
/// one active address per client (the later-expiring wins, the others become `Expired`). The
/// `Instant`s must come from a clock whose epoch survives restarts (Unix time) for restored
/// leases to keep their meaning.
#[derive(Debug, Clone, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(from = "Vec<Lease>", into = "Vec<Lease>")
)]
pub struct LeaseTable {
    by_ip: BTreeMap<Ipv4Addr, Lease>,
    /// Each client's current (or last) address.
    by_mac: BTreeMap<MacAddr, Ipv4Addr>,
    /// When offered, bound and declined records run out.
    deadlines: BTreeSet<(Instant, Ipv4Addr)>,
}

impl PartialEq for LeaseTable {
    fn eq(&self, other: &Self) -> bool {
        self.by_ip == other.by_ip
    }
}

impl Eq for LeaseTable {}

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

fn timed(l: &Lease) -> bool {
    matches!(
        l.state,
        LeaseState::Offered | LeaseState::Bound | LeaseState::Declined
    )
}

fn holds(l: &Lease) -> bool {
    matches!(l.state, LeaseState::Offered | LeaseState::Bound)
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
        // Each client's address: its active one expiring last, else its record expiring last.
        let mut best: BTreeMap<MacAddr, (bool, Instant, Ipv4Addr)> = BTreeMap::new();
        for l in by_ip.values() {
            if let Some(mac) = l.mac {
                let key = (holds(l), l.expires, l.ip);
                let e = best.entry(mac).or_insert(key);
                if (key.0, key.1) > (e.0, e.1) {
                    *e = key;
                }
            }
        }
        for l in by_ip.values_mut() {
            if let Some(mac) = l.mac
                && holds(l)
                && best.get(&mac).is_some_and(|b| b.2 != l.ip)
            {
                l.state = LeaseState::Expired;
            }
        }
        let by_mac = best.into_iter().map(|(m, b)| (m, b.2)).collect();
        let deadlines = by_ip
            .values()
            .filter(|l| timed(l))
            .map(|l| (l.expires, l.ip))
            .collect();
        LeaseTable {
            by_ip,
            by_mac,
            deadlines,
        }
    }

    /// The record for `ip`.
    pub fn get(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.by_ip.get(&ip)
    }

    /// The record `mac` holds or last held.
    pub fn by_mac(&self, mac: MacAddr) -> Option<&Lease> {
        self.by_mac
            .get(&mac)
            .and_then(|ip| self.by_ip.get(ip))
            .filter(|l| l.mac == Some(mac))
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
        if let Some(old) = self.by_ip.get(&lease.ip).copied() {
            self.deadlines.remove(&(old.expires, old.ip));
            if let Some(m) = old.mac
                && old.mac != lease.mac
                && self.by_mac.get(&m) == Some(&old.ip)
            {
                self.by_mac.remove(&m);
            }
        }
        // A client's address index moves only when it takes a new address (or had none): a
        // released or expired record elsewhere must not retire its current binding.
        if let Some(mac) = lease.mac {
            let current = self.by_mac.get(&mac).copied();
            if holds(&lease) || current.is_none_or(|ip| ip == lease.ip) {
                self.by_mac.insert(mac, lease.ip);
                if let Some(prev_ip) = current.filter(|&ip| ip != lease.ip)
                    && let Some(prev) = self.by_ip.get_mut(&prev_ip)
                    && prev.mac == Some(mac)
                    && holds(prev)
                {
                    self.deadlines.remove(&(prev.expires, prev_ip));
                    prev.state = LeaseState::Expired;
                }
            }
        }
        if timed(&lease) {
            self.deadlines.insert((lease.expires, lease.ip));
        }
        self.by_ip.insert(lease.ip, lease);
    }

    /// Moves records whose time ran out to their free state; returns the changed records.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Lease> {
        let mut changed = Vec::new();
        while let Some(&(at, ip)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(l) = self
                .by_ip
                .get_mut(&ip)
                .filter(|l| l.expires == at && timed(l))
            else {
                continue;
            };
            let declined = l.state == LeaseState::Declined;
            l.state = LeaseState::Expired;
            changed.push(*l);
            if declined {
                self.by_ip.remove(&ip);
            }
        }
        changed
    }

    /// The earliest time a record changes state by itself.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }
}
