//! Connection slots: who may connect at the caps, and which connection makes room.
//!
//! As nginx does when its `worker_connections` run out (`ngx_drain_connections`), a new
//! connection at the cap closes an **idle** one — one waiting for its next request, either
//! freshly accepted or kept alive after a response — the one idle the longest first, so a
//! new client is always served while any connection is idle. A connection reading a request
//! or sending a response is never closed to make room: when every slot is busy, the listener
//! stops accepting until one frees (new connections wait in the kernel's backlog).
//!
//! Each client address also has a cap of its own (`max_connections_per_client`, like nginx's
//! `limit_conn` per `$binary_remote_addr`), so one host cannot take every slot: over it, the
//! client's own longest-idle connection makes room, or, when all of its connections are busy,
//! the new one is closed at once.
//!
//! A connection idle for less than the table's `grace` (a quarter second in the server) is not
//! evicted yet: a new connection is idle until its request arrives, and a client whose request
//! is a few milliseconds behind its handshake must not lose it to the next connection. A flood
//! of new connections faster than that waits in the backlog for at most the grace.
//!
//! The bookkeeping is one mutex held for a few map operations; a connection learns it was
//! evicted through its [`Slot`] (a `Notify`, which keeps the wakeup when nobody waits yet).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The shared slot table of one listener.
#[derive(Debug)]
pub struct Slots {
    inner: Mutex<Inner>,
    /// Woken when a slot frees or a connection goes idle (the accept loop waits on it).
    changed: Notify,
}

#[derive(Debug)]
struct Inner {
    max: usize,
    per_client: usize,
    grace: Duration,
    next_id: u64,
    conns: HashMap<u64, Conn>,
    /// (idle since, id) of every idle connection: the first is the one idle the longest.
    idle: BTreeSet<(Instant, u64)>,
    /// Open connections per client address.
    clients: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Conn {
    ip: IpAddr,
    idle_since: Option<Instant>,
    evict: Arc<Notify>,
}

/// What [`Slots::admit`] decided for a new connection.
#[derive(Debug)]
pub enum Admission {
    /// Serve it; it holds the slot until dropped.
    Admitted(Slot),
    /// Its client already holds `max_connections_per_client`, all busy: close it.
    ClientFull,
    /// Every slot is busy, or idle for less than the grace: wait for [`Slots::changed`] (or
    /// the time [`Slots::room`] says) and ask again.
    Full,
}

/// One connection's place in the table; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    evict: Arc<Notify>,
}

impl Slots {
    /// A table of `max` slots, at most `per_client` per client address (both at least 1),
    /// evicting connections idle for at least `grace`.
    #[must_use]
    pub fn new(max: usize, per_client: usize, grace: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                max: max.max(1),
                per_client: per_client.max(1),
                grace,
                next_id: 0,
                conns: HashMap::new(),
                idle: BTreeSet::new(),
                clients: HashMap::new(),
            }),
            changed: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The table stays consistent between statements: a panic elsewhere cannot leave it
        // half-updated, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// New caps, for connections admitted from now on. Lowering them closes nothing at once:
    /// later admissions evict idle connections down to the cap.
    pub fn set_limits(&self, max: usize, per_client: usize) {
        let mut inner = self.lock();
        inner.max = max.max(1);
        inner.per_client = per_client.max(1);
        drop(inner);
        self.changed.notify_one();
    }

    /// Whether a new connection could be admitted at `now` (ignoring the per-client cap,
    /// which depends on who connects): a free slot, or enough idle connections past the grace
    /// to make one. `Err` carries when enough will be past it, if they stay idle.
    pub fn room(&self, now: Instant) -> Result<(), Option<Instant>> {
        let inner = self.lock();
        let needed = (inner.conns.len() + 1).saturating_sub(inner.max);
        if needed == 0 {
            return Ok(());
        }
        match inner.idle.iter().nth(needed - 1) {
            Some(&(since, _)) if since + inner.grace <= now => Ok(()),
            Some(&(since, _)) => Err(Some(since + inner.grace)),
            None => Err(None),
        }
    }

    /// Waits until a slot may have freed (see [`Slots::room`]).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Open connections and how many of them are idle.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.conns.len(), inner.idle.len())
    }

    /// Decides at `now` for a new connection from `ip`; `evicted` gets the client address of
    /// every idle connection closed to make room.
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
        evicted: &mut Vec<IpAddr>,
    ) -> Admission {
        let ip = ip.to_canonical();
        let mut inner = self.lock();
        let ripe = |since: Instant| since + inner.grace <= now;
        // The client's own longest-idle connection, when it is at its cap.
        let own = if inner.clients.get(&ip).copied().unwrap_or(0) >= inner.per_client {
            let own = inner
                .idle
                .iter()
                .take_while(|(since, _)| ripe(*since))
                .find(|(_, id)| inner.conns.get(id).is_some_and(|c| c.ip == ip))
                .copied();
            if own.is_none() {
                return Admission::ClientFull;
            }
            own
        } else {
            None
        };
        let freed = usize::from(own.is_some());
        let needed = (inner.conns.len() - freed + 1).saturating_sub(inner.max);
        let others: Vec<(Instant, u64)> = inner
            .idle
            .iter()
            .take_while(|(since, _)| ripe(*since))
            .filter(|e| Some(**e) != own)
            .take(needed)
            .copied()
            .collect();
        if others.len() < needed {
            return Admission::Full;
        }
        for (_, id) in own.into_iter().chain(others) {
            evicted.extend(inner.evict(id));
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let evict = Arc::new(Notify::new());
        inner.conns.insert(
            id,
            Conn {
                ip,
                idle_since: Some(now),
                evict: Arc::clone(&evict),
            },
        );
        inner.idle.insert((now, id));
        *inner.clients.entry(ip).or_default() += 1;
        Admission::Admitted(Slot {
            slots: Arc::clone(self),
            id,
            evict,
        })
    }
}

impl Inner {
    /// Takes connection `id` out of the table and tells it to close; its client's address.
    fn evict(&mut self, id: u64) -> Option<IpAddr> {
        let conn = self.remove(id)?;
        conn.evict.notify_one();
        Some(conn.ip)
    }

    fn remove(&mut self, id: u64) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        if let Some(seq) = conn.idle_since {
            self.idle.remove(&(seq, id));
        }
        if let Some(n) = self.clients.get_mut(&conn.ip) {
            *n -= 1;
            if *n == 0 {
                self.clients.remove(&conn.ip);
            }
        }
        Some(conn)
    }
}

impl Slot {
    /// Marks the connection idle (waiting for a request): from now on it may be evicted.
    /// False when it already was: close it.
    pub fn idle(&self) -> bool {
        let mut inner = self.slots.lock();
        let now = Instant::now();
        let Some(conn) = inner.conns.get_mut(&self.id) else {
            return false;
        };
        if conn.idle_since.is_none() {
            conn.idle_since = Some(now);
            inner.idle.insert((now, self.id));
        }
        drop(inner);
        self.slots.changed.notify_one();
        true
    }

    /// Marks the connection busy (a request is arriving): it is no longer evicted. False when
    /// it was evicted meanwhile: close it.
    pub fn busy(&self) -> bool {
        let mut inner = self.slots.lock();
        let Some(conn) = inner.conns.get_mut(&self.id) else {
            return false;
        };
        if let Some(seq) = conn.idle_since.take() {
            inner.idle.remove(&(seq, self.id));
        }
        true
    }

    /// Whether the connection was evicted, without waiting (for a connection thread, which
    /// looks now and then).
    pub fn is_evicted(&self) -> bool {
        !self.slots.lock().conns.contains_key(&self.id)
    }

    /// Resolves once the connection was evicted (at once if it already was).
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let removed = self.slots.lock().remove(self.id);
        if removed.is_some() {
            self.slots.changed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    /// A table without grace, so tests need no clock.
    fn table(max: usize, per_client: usize) -> Arc<Slots> {
        Slots::new(max, per_client, Duration::ZERO)
    }

    fn admit(s: &Arc<Slots>, n: u8) -> (Admission, Vec<IpAddr>) {
        let mut evicted = Vec::new();
        let a = s.admit(ip(n), Instant::now(), &mut evicted);
        (a, evicted)
    }

    fn slot(a: Admission) -> Slot {
        match a {
            Admission::Admitted(s) => s,
            other => panic!("not admitted: {other:?}"),
        }
    }

    async fn was_evicted(s: &Slot) -> bool {
        tokio::time::timeout(Duration::from_millis(10), s.evicted())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn the_longest_idle_connection_makes_room() {
        let s = table(3, 10);
        let a = slot(admit(&s, 1).0);
        let b = slot(admit(&s, 2).0);
        let c = slot(admit(&s, 3).0);
        // b goes busy and back idle: a is now idle the longest, then c, then b.
        assert!(b.busy());
        assert!(b.idle());
        assert_eq!(s.room(Instant::now()), Ok(()));
        let (d, ev) = admit(&s, 4);
        let _d = slot(d);
        assert_eq!(ev, [ip(1)]);
        assert!(was_evicted(&a).await);
        assert!(!a.busy(), "an evicted connection stays out");
        assert!(!was_evicted(&c).await);
        let (_e, ev) = admit(&s, 5);
        assert_eq!(ev, [ip(3)]);
        assert_eq!(s.counts().0, 3);
    }

    #[tokio::test]
    async fn busy_connections_are_never_evicted() {
        let s = table(2, 10);
        let a = slot(admit(&s, 1).0);
        let b = slot(admit(&s, 2).0);
        assert!(a.busy() && b.busy());
        assert_eq!(s.room(Instant::now()), Err(None));
        let (full, ev) = admit(&s, 3);
        assert!(matches!(full, Admission::Full));
        assert!(ev.is_empty());
        assert!(!was_evicted(&a).await && !was_evicted(&b).await);
        // One going idle makes room; one closing frees a slot.
        assert!(b.idle());
        let (_c, ev) = admit(&s, 3);
        assert_eq!(ev, [ip(2)]);
        drop(a);
        assert_eq!(s.room(Instant::now()), Ok(()));
        let (d, ev) = admit(&s, 4);
        let _d = slot(d);
        assert!(ev.is_empty());
    }

    #[tokio::test]
    async fn one_client_cannot_take_every_slot() {
        let s = table(10, 2);
        let a = slot(admit(&s, 1).0);
        let b = slot(admit(&s, 1).0);
        assert!(a.busy() && b.busy());
        let (refused, ev) = admit(&s, 1);
        assert!(matches!(refused, Admission::ClientFull));
        assert!(ev.is_empty());
        // Another client is not affected.
        let (other, ev) = admit(&s, 2);
        let _other = slot(other);
        assert!(ev.is_empty());
        // The client's own idle connection makes room for its new one, not another's.
        assert!(a.idle());
        let (c, ev) = admit(&s, 1);
        let _c = slot(c);
        assert_eq!(ev, [ip(1)]);
        assert!(was_evicted(&a).await);
        assert_eq!(s.counts().0, 3);
    }

    #[tokio::test]
    async fn lowered_caps_evict_idle_connections_down_to_them() {
        let s = table(4, 10);
        let conns: Vec<Slot> = (1..=4).map(|n| slot(admit(&s, n).0)).collect();
        s.set_limits(2, 10);
        let (_e, ev) = admit(&s, 5);
        assert_eq!(ev, [ip(1), ip(2), ip(3)]);
        assert_eq!(s.counts(), (2, 2));
        drop(conns);
        assert_eq!(s.counts(), (1, 1));
    }

    #[test]
    fn connections_idle_for_less_than_the_grace_stay() {
        let grace = Duration::from_millis(250);
        let s = Slots::new(2, 10, grace);
        let t0 = Instant::now();
        let mut ev = Vec::new();
        let _a = s.admit(ip(1), t0, &mut ev);
        let _b = s.admit(ip(2), t0 + Duration::from_millis(100), &mut ev);
        let soon = t0 + Duration::from_millis(200);
        assert_eq!(s.room(soon), Err(Some(t0 + grace)));
        assert!(matches!(s.admit(ip(3), soon, &mut ev), Admission::Full));
        assert!(ev.is_empty());
        let later = t0 + grace;
        assert_eq!(s.room(later), Ok(()));
        let _c = s.admit(ip(3), later, &mut ev);
        assert_eq!(ev, [ip(1)]);
    }

    #[test]
    fn ipv4_mapped_addresses_are_one_client() {
        let s = table(10, 1);
        let mut ev = Vec::new();
        let now = Instant::now();
        let _a = s.admit("::ffff:10.0.0.1".parse().unwrap(), now, &mut ev);
        let mapped = s.admit("10.0.0.1".parse().unwrap(), now, &mut ev);
        assert_eq!(
            ev,
            ["10.0.0.1".parse::<IpAddr>().unwrap()],
            "idle one evicted"
        );
        drop(mapped);
    }
}
