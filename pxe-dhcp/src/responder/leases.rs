//! Lease state: a value the driver serializes and restores.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::net::Ipv4Addr;

use pxe_proto::{Instant, MacAddr};

use super::key::ClientKey;

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
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Lease {
    /// The address.
    pub ip: Ipv4Addr,
    /// The client's hardware address, `chaddr` (none for a declined address). Reservations
    /// and the boot policy go by it.
    pub mac: Option<MacAddr>,
    /// The client identifier (option 61) the client is known by, when that is not `mac` itself
    /// (it sent none, or `01` + `mac`; see [`ClientKey`]). Written as colon-separated hex, like
    /// `mac`; absent in files written before identifiers were kept, which still load.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none", with = "hex_id")
    )]
    pub client_id: Option<Vec<u8>>,
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

    /// The client the record belongs to (none for a declined address).
    pub fn key(&self) -> Option<ClientKey<'_>> {
        match &self.client_id {
            Some(id) => Some(ClientKey::from_client_id(id)),
            None => self.mac.map(ClientKey::Hardware),
        }
    }
}

/// `Lease::client_id` as colon-separated hex.
#[cfg(feature = "serde")]
mod hex_id {
    use alloc::borrow::Cow;
    use alloc::vec::Vec;

    use serde::Deserialize;

    use super::super::key::{Hex, parse_hex};

    pub(super) fn serialize<S: serde::Serializer>(
        id: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.collect_str(&Hex(id)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<Cow<'de, str>>::deserialize(d)?
            .map(|s| {
                parse_hex(&s).ok_or_else(|| {
                    serde::de::Error::custom("client_id: expected hex bytes joined by ':'")
                })
            })
            .transpose()
    }
}

/// Each client's current (or last) address, by [`ClientKey`]: two maps, so that a lookup
/// borrows its key and a client known by its hardware address (every PXE ROM) costs no
/// allocation.
#[derive(Debug, Clone, Default)]
struct ClientIndex {
    hardware: BTreeMap<MacAddr, Ipv4Addr>,
    client_id: BTreeMap<Vec<u8>, Ipv4Addr>,
}

impl ClientIndex {
    fn get(&self, key: ClientKey<'_>) -> Option<Ipv4Addr> {
        match key {
            ClientKey::Hardware(m) => self.hardware.get(&m).copied(),
            ClientKey::ClientId(id) => self.client_id.get(id).copied(),
        }
    }

    fn insert(&mut self, key: ClientKey<'_>, ip: Ipv4Addr) {
        match key {
            ClientKey::Hardware(m) => {
                self.hardware.insert(m, ip);
            }
            ClientKey::ClientId(id) => match self.client_id.get_mut(id) {
                Some(slot) => *slot = ip,
                None => {
                    self.client_id.insert(id.to_vec(), ip);
                }
            },
        }
    }

    fn remove(&mut self, key: ClientKey<'_>) {
        match key {
            ClientKey::Hardware(m) => self.hardware.remove(&m),
            ClientKey::ClientId(id) => self.client_id.remove(id),
        };
    }
}

/// Every known address, at most one record per address, with indexes by client, by hardware
/// address and by deadline so that every operation is logarithmic in the number of records.
///
/// Serialized as a list of [`Lease`]s. Restoring ([`LeaseTable::from_leases`]) keeps the
/// invariant the server relies on: one record per address (the later-expiring wins) and at most
/// one active address per client ([`ClientKey`]; the later-expiring wins, the others become
/// `Expired`). The `Instant`s must come from a clock whose epoch survives restarts (Unix time)
/// for restored leases to keep their meaning.
#[derive(Debug, Clone, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Vec<Lease>", into = "Vec<Lease>")
)]
pub struct LeaseTable {
    by_ip: BTreeMap<Ipv4Addr, Lease>,
    clients: ClientIndex,
    /// Every record with a hardware address, for finding a machine's earlier address when it
    /// comes back with another client identifier.
    by_mac: BTreeSet<(MacAddr, Ipv4Addr)>,
    /// When offered, bound and declined records run out.
    deadlines: BTreeSet<(Instant, Ipv4Addr)>,
}

impl PartialEq for LeaseTable {
    fn eq(&self, other: &Self) -> bool {
        self.by_ip == other.by_ip
    }
}

impl Eq for LeaseTable {}

impl TryFrom<Vec<Lease>> for LeaseTable {
    type Error = crate::Error;

    fn try_from(v: Vec<Lease>) -> Result<Self, crate::Error> {
        LeaseTable::try_from_leases(v)
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
        let mut best: BTreeMap<ClientKey<'_>, (bool, Instant, Ipv4Addr)> = BTreeMap::new();
        for l in by_ip.values() {
            if let Some(key) = l.key() {
                let rank = (holds(l), l.expires, l.ip);
                let e = best.entry(key).or_insert(rank);
                if (rank.0, rank.1) > (e.0, e.1) {
                    *e = rank;
                }
            }
        }
        let mut clients = ClientIndex::default();
        for (&key, &(_, _, ip)) in &best {
            clients.insert(key, ip);
        }
        let retired: Vec<Ipv4Addr> = by_ip
            .values()
            .filter(|l| {
                holds(l)
                    && l.key()
                        .and_then(|k| best.get(&k))
                        .is_some_and(|b| b.2 != l.ip)
            })
            .map(|l| l.ip)
            .collect();
        for ip in retired {
            if let Some(l) = by_ip.get_mut(&ip) {
                l.state = LeaseState::Expired;
            }
        }
        let by_mac = by_ip
            .values()
            .filter_map(|l| l.mac.map(|m| (m, l.ip)))
            .collect();
        let deadlines = by_ip
            .values()
            .filter(|l| timed(l))
            .map(|l| (l.expires, l.ip))
            .collect();
        LeaseTable {
            by_ip,
            clients,
            by_mac,
            deadlines,
        }
    }

    /// A table from saved records, refusing one address in records of two different clients
    /// ([`Error::DuplicateLease`](crate::Error::DuplicateLease)): which of them holds it cannot
    /// be told, and guessing could hand out an address that is in use. Two records of one
    /// client for one address keep the later-expiring, as [`LeaseTable::from_leases`] does.
    pub fn try_from_leases(leases: Vec<Lease>) -> Result<LeaseTable, crate::Error> {
        let mut seen: BTreeMap<Ipv4Addr, &Lease> = BTreeMap::new();
        for l in &leases {
            if let Some(old) = seen.insert(l.ip, l)
                && (old.key() != l.key() || old.mac != l.mac)
            {
                return Err(crate::Error::DuplicateLease {
                    ip: l.ip,
                    first: old.mac,
                    second: l.mac,
                });
            }
        }
        Ok(LeaseTable::from_leases(leases))
    }

    /// The record for `ip`.
    pub fn get(&self, ip: Ipv4Addr) -> Option<&Lease> {
        self.by_ip.get(&ip)
    }

    /// The record the client `key` holds or last held.
    pub fn by_client(&self, key: ClientKey<'_>) -> Option<&Lease> {
        self.clients
            .get(key)
            .and_then(|ip| self.by_ip.get(&ip))
            .filter(|l| l.key() == Some(key))
    }

    /// Every record at hardware address `mac`, whichever client identifier it was for, by
    /// address.
    pub fn by_mac(&self, mac: MacAddr) -> impl Iterator<Item = &Lease> {
        let all = (mac, Ipv4Addr::UNSPECIFIED)..=(mac, Ipv4Addr::BROADCAST);
        self.by_mac
            .range(all)
            .filter_map(|(_, ip)| self.by_ip.get(ip))
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
        if let Some(old) = self.by_ip.get(&lease.ip) {
            self.deadlines.remove(&(old.expires, old.ip));
            if let Some(m) = old.mac {
                self.by_mac.remove(&(m, old.ip));
            }
            if let Some(key) = old.key()
                && old.key() != lease.key()
                && self.clients.get(key) == Some(old.ip)
            {
                self.clients.remove(key);
            }
        }
        // A client's address index moves only when it takes a new address (or had none): a
        // released or expired record elsewhere must not retire its current binding.
        if let Some(key) = lease.key() {
            let current = self.clients.get(key);
            if holds(&lease) || current.is_none_or(|ip| ip == lease.ip) {
                self.clients.insert(key, lease.ip);
                if let Some(prev_ip) = current.filter(|&ip| ip != lease.ip)
                    && let Some(prev) = self.by_ip.get_mut(&prev_ip)
                    && prev.key() == Some(key)
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
        if let Some(m) = lease.mac {
            self.by_mac.insert((m, lease.ip));
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
            changed.push(l.clone());
            if declined && let Some(gone) = self.by_ip.remove(&ip) {
                // Declined records name no client, unless a hand-edited file gave them one.
                if let Some(key) = gone.key()
                    && self.clients.get(key) == Some(ip)
                {
                    self.clients.remove(key);
                }
                if let Some(m) = gone.mac {
                    self.by_mac.remove(&(m, ip));
                }
            }
        }
        changed
    }

    /// The earliest time a record changes state by itself.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 1]);
    const MAC2: MacAddr = MacAddr([0x52, 0x54, 0, 0x77, 0, 2]);
    const IPXE_ID: &[u8] = &[1, 0x52, 0x54, 0, 0x77, 0, 1];
    const DUID_ID: &[u8] = &[0xff, 0, 0, 0, 1, 0, 4, 0xaa, 0xbb];

    fn ip(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, n)
    }

    fn lease(n: u8, mac: MacAddr, id: Option<&[u8]>, state: LeaseState, exp: u64) -> Lease {
        Lease {
            ip: ip(n),
            mac: Some(mac),
            client_id: id.map(<[u8]>::to_vec),
            state,
            expires: Instant::from_secs(exp),
        }
    }

    fn state(t: &LeaseTable, n: u8) -> Option<LeaseState> {
        t.get(ip(n)).map(|l| l.state)
    }

    #[test]
    fn one_address_for_two_clients_is_refused_naming_both() {
        use LeaseState::Bound;
        let err = LeaseTable::try_from_leases(alloc::vec![
            lease(1, MAC, None, Bound, 50),
            lease(1, MAC2, None, Bound, 60),
        ])
        .expect_err("duplicate");
        let text = alloc::string::ToString::to_string(&err);
        assert!(
            text.contains("10.77.0.1")
                && text.contains(&alloc::format!("{MAC}"))
                && text.contains(&alloc::format!("{MAC2}")),
            "{text}"
        );
        // The same client twice is a harmless repeat: the later record stands.
        let t = LeaseTable::try_from_leases(alloc::vec![
            lease(1, MAC, None, Bound, 50),
            lease(1, MAC, None, Bound, 60),
        ])
        .expect("one client");
        assert_eq!(
            t.get(ip(1)).map(|l| l.expires),
            Some(Instant::from_secs(60))
        );
    }

    #[test]
    fn restore_keeps_one_active_address_per_client_key() {
        use LeaseState::Bound;
        let t = LeaseTable::from_leases([
            lease(1, MAC, None, Bound, 50),
            // 01 + MAC is the same client as no identifier: the later binding wins.
            lease(2, MAC, Some(IPXE_ID), Bound, 90),
            // Another identifier on that MAC is another client...
            lease(3, MAC, Some(DUID_ID), Bound, 70),
            // ...and the same identifier on another MAC the same one.
            lease(4, MAC2, Some(DUID_ID), Bound, 80),
        ]);
        let expired = Some(LeaseState::Expired);
        assert_eq!(
            [1, 2, 3, 4].map(|n| state(&t, n)),
            [expired, Some(Bound), expired, Some(Bound)]
        );
        let key_ip = |k| t.by_client(k).map(|l| l.ip);
        assert_eq!(key_ip(ClientKey::Hardware(MAC)), Some(ip(2)));
        assert_eq!(key_ip(ClientKey::ClientId(DUID_ID)), Some(ip(4)));
        let on_mac: Vec<_> = t.by_mac(MAC).map(|l| l.ip).collect();
        assert_eq!(on_mac, [ip(1), ip(2), ip(3)]);
        assert_eq!(t.next_expiry(), Some(Instant::from_secs(80)));
    }

    #[test]
    fn put_retires_only_the_same_clients_other_address() {
        use LeaseState::{Bound, Offered};
        let mut t = LeaseTable::new();
        t.put(lease(1, MAC, None, Bound, 100));
        t.put(lease(2, MAC, Some(DUID_ID), Bound, 100));
        assert_eq!((state(&t, 1), state(&t, 2)), (Some(Bound), Some(Bound)));
        // The hardware client (now sending 01 + MAC) moves: its old address is retired.
        t.put(lease(3, MAC, Some(IPXE_ID), Offered, 100));
        assert_eq!(
            [1, 2, 3].map(|n| state(&t, n)),
            [Some(LeaseState::Expired), Some(Bound), Some(Offered)]
        );
        assert_eq!(
            t.by_client(ClientKey::Hardware(MAC)).map(|l| l.ip),
            Some(ip(3))
        );
        // A declined address belongs to nobody.
        t.put(Lease {
            mac: None,
            client_id: None,
            state: LeaseState::Declined,
            ..lease(2, MAC, None, Bound, 200)
        });
        assert_eq!(t.by_client(ClientKey::ClientId(DUID_ID)), None);
        assert_eq!(t.by_mac(MAC).count(), 2);
        let changed = t.expire(Instant::from_secs(200));
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert_eq!(t.get(ip(2)), None, "an expired decline is forgotten");
        assert_eq!(t.next_expiry(), None);
    }

    /// The indexes agree with the records: each client entry names a record of that client,
    /// every offered/bound record is its client's entry (so a client holds one address),
    /// and the MAC and deadline sets are exactly those of the records.
    fn assert_consistent(t: &LeaseTable) {
        for (&m, &ip) in &t.clients.hardware {
            let key = t.by_ip.get(&ip).and_then(Lease::key);
            assert_eq!(key, Some(ClientKey::Hardware(m)), "stale entry {m} -> {ip}");
        }
        for (id, &ip) in &t.clients.client_id {
            let key = t.by_ip.get(&ip).and_then(Lease::key);
            assert_eq!(key, Some(ClientKey::ClientId(id)), "stale entry -> {ip}");
        }
        for l in t.by_ip.values().filter(|l| holds(l)) {
            if let Some(key) = l.key() {
                assert_eq!(
                    t.clients.get(key),
                    Some(l.ip),
                    "{l:?} not its client's entry"
                );
            }
        }
        let by_mac: BTreeSet<_> = t
            .by_ip
            .values()
            .filter_map(|l| l.mac.map(|m| (m, l.ip)))
            .collect();
        assert_eq!(t.by_mac, by_mac);
        let deadlines: BTreeSet<_> = t
            .by_ip
            .values()
            .filter(|l| timed(l))
            .map(|l| (l.expires, l.ip))
            .collect();
        assert_eq!(t.deadlines, deadlines);
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        /// Records on four addresses, at two MACs (or none), with no identifier, `01` + the
        /// first MAC, a DUID, a 2-byte one, or an empty one (only a hand-edited file has that).
        fn any_lease() -> impl Strategy<Value = Lease> {
            let ids: [Option<&'static [u8]>; 5] = [
                None,
                Some(IPXE_ID),
                Some(DUID_ID),
                Some(&[0xff, 9]),
                Some(&[]),
            ];
            (
                0u8..4,
                proptest::option::weighted(0.9, prop_oneof![Just(MAC), Just(MAC2)]),
                proptest::sample::select(ids.to_vec()),
                0usize..5,
                0u64..6,
            )
                .prop_map(|(n, mac, id, state, exp)| Lease {
                    ip: ip(n),
                    mac,
                    client_id: id.map(<[u8]>::to_vec),
                    state: [
                        LeaseState::Offered,
                        LeaseState::Bound,
                        LeaseState::Released,
                        LeaseState::Expired,
                        LeaseState::Declined,
                    ][state],
                    expires: Instant::from_secs(exp),
                })
        }

        #[derive(Debug, Clone)]
        enum Op {
            Put(Lease),
            Expire(u64),
            Restore,
        }

        fn any_op() -> impl Strategy<Value = Op> {
            prop_oneof![
                6 => any_lease().prop_map(Op::Put),
                2 => (0u64..7).prop_map(Op::Expire),
                1 => Just(Op::Restore),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any sequence of puts, expiries and restores leaves the indexes consistent.
            #[test]
            fn indexes_stay_consistent(
                start in proptest::collection::vec(any_lease(), 0..6),
                ops in proptest::collection::vec(any_op(), 0..40),
            ) {
                let mut t = LeaseTable::from_leases(start);
                assert_consistent(&t);
                for op in ops {
                    match op {
                        Op::Put(l) => t.put(l),
                        Op::Expire(s) => {
                            t.expire(Instant::from_secs(s));
                        }
                        Op::Restore => {
                            t = LeaseTable::from_leases(t.iter().cloned().collect::<Vec<_>>());
                        }
                    }
                    assert_consistent(&t);
                }
            }
        }
    }

    #[cfg(feature = "serde")]
    mod serde_format {
        use super::*;
        use proptest::prelude::*;

        #[test]
        fn client_id_is_hex_and_absent_when_none() {
            let with = lease(1, MAC, Some(DUID_ID), LeaseState::Bound, 5);
            let json = serde_json::to_string(&with).expect("serialize");
            assert!(
                json.contains(r#""client_id":"ff:00:00:00:01:00:04:aa:bb""#),
                "{json}"
            );
            let without = lease(1, MAC, None, LeaseState::Bound, 5);
            let json = serde_json::to_string(&without).expect("serialize");
            assert!(!json.contains("client_id"), "{json}");
            let bad = json.replace(r#""state""#, r#""client_id":"ff-00","state""#);
            assert!(serde_json::from_str::<Lease>(&bad).is_err());
        }

        #[test]
        fn records_written_before_client_ids_load() {
            // The format of `pxe-leases/1` files before option 61 was kept.
            let old = r#"[
                {"ip":"10.77.0.100","mac":"52:54:00:77:00:01","state":"bound","expires":{"micros":1700003600000000}},
                {"ip":"10.77.0.101","mac":null,"state":"declined","expires":{"micros":1700003600000000}}
            ]"#;
            let t: LeaseTable = serde_json::from_str(old).expect("old format");
            let l = t
                .by_client(ClientKey::Hardware(MAC))
                .expect("by hardware address");
            assert_eq!(
                (l.ip, l.client_id.as_deref()),
                (Ipv4Addr::new(10, 77, 0, 100), None)
            );
            assert_eq!(
                t.get(Ipv4Addr::new(10, 77, 0, 101)).map(Lease::key),
                Some(None)
            );
        }

        fn any_lease() -> impl Strategy<Value = Lease> {
            let state = prop_oneof![
                Just(LeaseState::Offered),
                Just(LeaseState::Bound),
                Just(LeaseState::Released),
                Just(LeaseState::Expired),
                Just(LeaseState::Declined),
            ];
            (
                any::<[u8; 4]>(),
                proptest::option::of(any::<[u8; 6]>()),
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                state,
                any::<u64>(),
            )
                .prop_map(|(ip, mac, client_id, state, micros)| Lease {
                    ip: Ipv4Addr::from(ip),
                    mac: mac.map(MacAddr),
                    client_id,
                    state,
                    expires: Instant::from_micros(micros),
                })
        }

        proptest! {
            /// A record reads back as written, and so does a table (which is a list of them).
            #[test]
            fn lease_round_trips(leases in proptest::collection::vec(any_lease(), 0..8)) {
                for l in &leases {
                    let json = serde_json::to_string(l).expect("serialize");
                    prop_assert_eq!(&serde_json::from_str::<Lease>(&json).expect("parse"), l);
                }
                let t = LeaseTable::from_leases(leases);
                let json = serde_json::to_string(&t).expect("serialize");
                prop_assert_eq!(serde_json::from_str::<LeaseTable>(&json).expect("parse"), t);
            }
        }
    }

    #[test]
    fn keys_of_records() {
        let l = lease(1, MAC2, Some(IPXE_ID), LeaseState::Bound, 1);
        assert_eq!(l.key(), Some(ClientKey::Hardware(MAC)));
        assert_eq!(
            lease(1, MAC, None, LeaseState::Bound, 1).key(),
            Some(ClientKey::Hardware(MAC))
        );
        let d = Lease {
            mac: None,
            ..lease(1, MAC, None, LeaseState::Declined, 1)
        };
        assert_eq!(d.key(), None);
    }
}
