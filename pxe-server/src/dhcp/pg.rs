//! A [`LeaseStore`] in PostgreSQL, shared by several lease servers (the model of Kea's
//! PostgreSQL lease backend): `[dhcp] leases = "postgres://USER@HOST/DB"`.
//!
//! The address column is the table's primary key, so the database, not any one server, decides
//! who holds an address: [`PgStore::commit`] writes a batch with one
//! `INSERT .. ON CONFLICT (address) DO UPDATE .. WHERE` that only overwrites a row this server
//! wrote, or another server's row to bind it to the same client or to take it when it is free
//! (released, expired, or past its expiry); see `CLAIM`. A row PostgreSQL does not return was claimed by another server: it is reported as
//! [`HeldElsewhere`] and its reply withheld. The statement commits with the server's
//! `synchronous_commit` (on by default: flushed to the WAL) before the future returns, so no
//! ACK is sent for a lease the database has not made durable.
//!
//! Other servers' leases are loaded at start and polled every [`REFRESH`] by a revision number
//! every write takes from one sequence, so offers avoid them; the poll only steers offers, the
//! primary key is what keeps two clients from being ACKed one address.
//!
//! When the database cannot be reached, commits fail (their replies are withheld; clients
//! retry) without holding the DHCP driver: a connection attempt gives up after
//! [`CONNECT_TIMEOUT`], a statement after [`QUERY_TIMEOUT`], and after a failed attempt the
//! next waits [`RETRY_MIN`], doubling up to [`RETRY_MAX`], while commits in between fail at
//! once; the driver logs the failures once per few seconds with their count.
//!
//! `tokio-postgres` rather than `sqlx`: no database is needed at compile time (sqlx's checked
//! queries want one, or an offline cache kept in step), far fewer dependencies, and it runs on
//! the tokio runtime the driver already has.
//!
//! Schema, versioned in `schema_version` and migrated at start under an advisory lock (two
//! servers starting at once do not both migrate): see [`MIGRATIONS`].

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use pxe_dhcp::responder::{Lease, LeaseState, LeaseTable};
use pxe_proto::MacAddr;
use tokio_postgres::{Client, NoTls};

use super::clock::Clock;
use super::store::{HeldElsewhere, LeaseStore, StoreError, StoreFuture};

/// How often other servers' changes are read.
pub const REFRESH: Duration = Duration::from_secs(2);

/// How long one connection attempt may take. The driver awaits a commit before it sends the
/// batch's replies and takes the next datagrams, so a database host that drops packets must
/// not hold DHCP for the kernel's SYN retries (about two minutes on Linux).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one statement may take before the connection is given up (a database that went
/// away mid-query would otherwise hold the commit until TCP's retransmissions give up).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait after a first failed connection attempt; it doubles with each failure up to
/// [`RETRY_MAX`]. Meanwhile commits fail at once (their replies withheld, as for any failed
/// commit) instead of each trying to connect.
pub const RETRY_MIN: Duration = Duration::from_millis(500);

/// The longest wait between connection attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// Key of the advisory lock held while migrating (any constant unique to this schema).
const MIGRATION_LOCK: i64 = 0x7078_655f_6c65_6173;

/// The schema migrations, in order; version `i + 1` is `MIGRATIONS[i]`. Applied ones are
/// recorded in `schema_version`; never edit one that has shipped, append a new one.
pub const MIGRATIONS: &[&str] = &["
CREATE SEQUENCE lease_revision;
CREATE TABLE leases (
    address   inet PRIMARY KEY,
    mac       text,
    client_id bytea,
    state     text NOT NULL CHECK (state IN ('bound', 'released', 'expired', 'declined')),
    expires   bigint NOT NULL,
    server    text NOT NULL,
    revision  bigint NOT NULL DEFAULT nextval('lease_revision')
);
CREATE INDEX leases_revision ON leases (revision);
"];

/// The claim: write a batch; returns the rows written. `$7` is the current Unix time in
/// microseconds. A server rewrites its own rows freely; another server's row only to bind or
/// decline an address that is free (released, expired, or past its expiry), or to bind it to
/// the same client (it moved to this server). A release or expiry this server saw of an
/// address another server holds (an offer of the same address that ran out) never touches
/// that server's row.
const CLAIM: &str = "
INSERT INTO leases AS l (address, mac, client_id, state, expires, server)
SELECT * FROM unnest($1::inet[], $2::text[], $3::bytea[], $4::text[], $5::int8[], $6::text[])
ON CONFLICT (address) DO UPDATE SET
    mac = EXCLUDED.mac, client_id = EXCLUDED.client_id, state = EXCLUDED.state,
    expires = EXCLUDED.expires, server = EXCLUDED.server, revision = nextval('lease_revision')
WHERE l.server = EXCLUDED.server
   OR (EXCLUDED.state IN ('bound', 'declined')
       AND (l.state IN ('released', 'expired') OR l.expires <= $7))
   OR (EXCLUDED.state = 'bound'
       AND l.mac IS NOT DISTINCT FROM EXCLUDED.mac
       AND l.client_id IS NOT DISTINCT FROM EXCLUDED.client_id)
RETURNING address";

/// A lease store in PostgreSQL.
pub struct PgStore {
    url: String,
    /// This server's name in the `server` column: its address on the served segment.
    server: String,
    client: Option<Client>,
    /// The highest revision read so far.
    revision: i64,
    /// After a failed connection attempt: when the next may start, and the wait that led
    /// there (doubled on the next failure).
    retry: Option<(std::time::Instant, Duration)>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.describe())
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Whether a `leases` setting names a PostgreSQL database rather than a file.
#[must_use]
pub fn is_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

fn db_err(what: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Database(format!("{what}: {e}"))
}

fn state_name(s: LeaseState) -> &'static str {
    match s {
        LeaseState::Offered => "offered",
        LeaseState::Bound => "bound",
        LeaseState::Released => "released",
        LeaseState::Expired => "expired",
        LeaseState::Declined => "declined",
    }
}

fn parse_state(s: &str) -> Option<LeaseState> {
    Some(match s {
        "bound" => LeaseState::Bound,
        "released" => LeaseState::Released,
        "expired" => LeaseState::Expired,
        "declined" => LeaseState::Declined,
        _ => return None,
    })
}

impl PgStore {
    /// A store for the database at `url`, writing as `server`. Nothing is connected until
    /// [`LeaseStore::load`].
    #[must_use]
    pub fn new(url: &str, server: Ipv4Addr) -> PgStore {
        PgStore {
            url: url.to_owned(),
            server: server.to_string(),
            client: None,
            revision: 0,
            retry: None,
        }
    }

    /// Connects (again, after the connection was lost or on a new runtime), at most
    /// [`CONNECT_TIMEOUT`] per attempt, and after a failure not before its backoff has passed.
    async fn client(&mut self) -> Result<&Client, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            let now = std::time::Instant::now();
            if let Some((at, _)) = self.retry
                && now < at
            {
                return Err(StoreError::Database(format!(
                    "not connected; the next attempt in {} ms",
                    at.duration_since(now).as_millis()
                )));
            }
            let attempt =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio_postgres::connect(&self.url, NoTls))
                    .await;
            let (client, conn) = match attempt {
                Ok(Ok(c)) => c,
                failed => {
                    let wait = self
                        .retry
                        .map_or(RETRY_MIN, |(_, w)| w.saturating_mul(2).min(RETRY_MAX));
                    self.retry = Some((std::time::Instant::now() + wait, wait));
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                    };
                    return Err(StoreError::Database(format!(
                        "connecting: {why}; the next attempt in {} ms",
                        wait.as_millis()
                    )));
                }
            };
            self.retry = None;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::error!(error = %e, "DHCP lease database connection lost");
                }
            });
            self.client = Some(client);
        }
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Database("not connected".into()))
    }

    /// `statement` with `params`, given up after [`QUERY_TIMEOUT`] together with the
    /// connection (the next call connects anew).
    async fn query(
        &mut self,
        what: &str,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let client = self.client().await?;
        match tokio::time::timeout(QUERY_TIMEOUT, client.query(statement, params)).await {
            Ok(rows) => rows.map_err(|e| db_err(what, &e)),
            Err(_) => {
                self.client = None;
                Err(StoreError::Database(format!(
                    "{what}: no answer within {} s; reconnecting",
                    QUERY_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// Applies the migrations the database lacks, in one transaction under an advisory lock.
    async fn migrate(&mut self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let mut sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({MIGRATION_LOCK}); \
             CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, \
             applied_at timestamptz NOT NULL DEFAULT now());"
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| db_err("creating schema_version", &e))?;
        let have: i32 = client
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await
            .map_err(|e| db_err("reading schema_version", &e))?
            .get(0);
        let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
        if have > known {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(StoreError::Database(format!(
                "schema version {have} is newer than this pxe knows ({known}); upgrade pxe"
            )));
        }
        sql.clear();
        for (v, m) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(have).unwrap_or(0))
        {
            sql.push_str(m);
            sql.push_str(&format!(
                "INSERT INTO schema_version (version) VALUES ({});",
                v + 1
            ));
            tracing::info!(version = v + 1, "DHCP lease database migrated");
        }
        sql.push_str("COMMIT;");
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| db_err("migrating", &e))
    }

    /// Reads rows of revision above the last seen (all, at first), as leases converted to
    /// `clock`'s time, with whether each is this server's.
    async fn read_since(&mut self, clock: &Clock) -> Result<Vec<(Lease, bool)>, StoreError> {
        let since = self.revision;
        let rows = self
            .query(
                "reading leases",
                "SELECT address, mac, client_id, state, expires, server, revision \
                 FROM leases WHERE revision > $1 ORDER BY revision",
                &[&since],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let IpAddr::V4(ip) = r.get::<_, IpAddr>(0) else {
                continue;
            };
            let mac: Option<String> = r.get(1);
            let state: String = r.get(3);
            let expires: i64 = r.get(4);
            let server: String = r.get(5);
            self.revision = self.revision.max(r.get(6));
            let (Some(state), Ok(mac)) = (
                parse_state(&state),
                mac.map(|m| m.parse::<MacAddr>()).transpose(),
            ) else {
                tracing::warn!(%ip, "DHCP lease database row not understood; skipped");
                continue;
            };
            let lease = Lease {
                ip,
                mac,
                client_id: r.get(2),
                state,
                expires: clock.from_unix(u64::try_from(expires).unwrap_or(0)),
            };
            out.push((lease, server == self.server));
        }
        Ok(out)
    }

    async fn load_async(&mut self, clock: &Clock) -> Result<LeaseTable, StoreError> {
        self.migrate().await?;
        self.revision = 0;
        let now = clock.now();
        let leases = self
            .read_since(clock)
            .await?
            .into_iter()
            .filter_map(|(l, mine)| {
                if mine {
                    Some(l)
                } else if l.is_active(now) {
                    // Another server's: held by nobody here (see `LeaseServer::hold_elsewhere`).
                    Some(Lease {
                        mac: None,
                        client_id: None,
                        state: LeaseState::Declined,
                        ..l
                    })
                } else {
                    None
                }
            });
        LeaseTable::try_from_leases(leases.collect())
            .map_err(|e| StoreError::Database(format!("lease rows: {e}")))
    }

    async fn commit_async(
        &mut self,
        changes: &[Lease],
        clock: &Clock,
    ) -> Result<Vec<HeldElsewhere>, StoreError> {
        // One row per address per statement (ON CONFLICT cannot touch a row twice): the last
        // change of the batch for an address wins, as in the journal.
        let mut last: Vec<&Lease> = Vec::new();
        for l in changes.iter().rev() {
            if l.state != LeaseState::Offered && !last.iter().any(|x| x.ip == l.ip) {
                last.push(l);
            }
        }
        if last.is_empty() {
            return Ok(Vec::new());
        }
        let ips: Vec<IpAddr> = last.iter().map(|l| IpAddr::V4(l.ip)).collect();
        let macs: Vec<Option<String>> = last.iter().map(|l| l.mac.map(|m| m.to_string())).collect();
        let ids: Vec<Option<Vec<u8>>> = last.iter().map(|l| l.client_id.clone()).collect();
        let states: Vec<&str> = last.iter().map(|l| state_name(l.state)).collect();
        let expires: Vec<i64> = last
            .iter()
            .map(|l| i64::try_from(clock.to_unix(l.expires)).unwrap_or(i64::MAX))
            .collect();
        let servers: Vec<String> = last.iter().map(|_| self.server.clone()).collect();
        let now = i64::try_from(clock.to_unix(clock.now())).unwrap_or(i64::MAX);
        let written = self
            .query(
                "writing leases",
                CLAIM,
                &[&ips, &macs, &ids, &states, &expires, &servers, &now],
            )
            .await?;
        let written: Vec<IpAddr> = written.iter().map(|r| r.get(0)).collect();
        let lost: Vec<IpAddr> = ips
            .iter()
            .copied()
            .filter(|ip| !written.contains(ip))
            .collect();
        if lost.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .query(
                "reading claimed leases",
                "SELECT address, expires FROM leases WHERE address = ANY($1)",
                &[&lost],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| match r.get::<_, IpAddr>(0) {
                IpAddr::V4(ip) => Some(HeldElsewhere {
                    ip,
                    until: clock.from_unix(u64::try_from(r.get::<_, i64>(1)).unwrap_or(0)),
                }),
                IpAddr::V6(_) => None,
            })
            .collect())
    }

    async fn refresh_async(&mut self, clock: &Clock) -> Result<Vec<HeldElsewhere>, StoreError> {
        let now = clock.now();
        Ok(self
            .read_since(clock)
            .await?
            .into_iter()
            .filter(|(_, mine)| !mine)
            .map(|(l, _)| HeldElsewhere {
                ip: l.ip,
                // A freed address is held until now, that is, no longer.
                until: if l.is_active(now) { l.expires } else { now },
            })
            .collect())
    }
}

impl LeaseStore for PgStore {
    fn describe(&self) -> String {
        // Never log a password: keep the scheme and what follows the credentials.
        match self.url.split_once('@') {
            Some((_, rest)) => format!("postgres://…@{rest}"),
            None => self.url.clone(),
        }
    }

    fn dir(&self) -> Option<&Path> {
        None
    }

    fn load(&mut self, clock: &Clock) -> Result<LeaseTable, StoreError> {
        // Called before the server's runtime exists: a runtime of its own for the start-up
        // queries; its connection ends with it and the first commit connects anew.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("runtime: {e}")))?;
        let r = rt.block_on(self.load_async(clock));
        self.client = None;
        r
    }

    fn commit<'a>(
        &'a mut self,
        changes: &'a [Lease],
        clock: &'a Clock,
    ) -> StoreFuture<'a, Vec<HeldElsewhere>> {
        Box::pin(self.commit_async(changes, clock))
    }

    fn refresh_interval(&self) -> Option<Duration> {
        Some(REFRESH)
    }

    fn refresh<'a>(&'a mut self, clock: &'a Clock) -> StoreFuture<'a, Vec<HeldElsewhere>> {
        Box::pin(self.refresh_async(clock))
    }

    fn maintain(&mut self, _table: &LeaseTable, _clock: &Clock) {}

    fn close(&mut self, _table: &LeaseTable, _clock: &Clock) -> Result<(), StoreError> {
        // Every change was committed before its reply; nothing is left to save.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("postgres://u@h/db"));
        assert!(is_url("postgresql:///db?host=/run/postgresql"));
        assert!(!is_url("/var/lib/pxe/leases.json"));
        assert!(!is_url("postgres.json"));
    }

    #[tokio::test]
    async fn a_database_that_is_down_is_not_asked_again_before_the_backoff() {
        // A port nothing listens on: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let url = format!("postgres://pxe@127.0.0.1:{port}/pxe");
        let mut store = PgStore::new(&url, Ipv4Addr::LOCALHOST);
        let clock = Clock::new();
        let lease = Lease {
            ip: Ipv4Addr::new(192, 0, 2, 10),
            mac: None,
            client_id: None,
            state: LeaseState::Bound,
            expires: clock.now(),
        };
        let changes = [lease];
        let error = |r: Result<Vec<HeldElsewhere>, StoreError>| match r {
            Err(StoreError::Database(e)) => e,
            other => panic!("{other:?}"),
        };
        let first = error(store.commit(&changes, &clock).await);
        assert!(first.starts_with("connecting: "), "{first}");
        assert!(first.ends_with("the next attempt in 500 ms"), "{first}");
        let second = error(store.commit(&changes, &clock).await);
        assert!(
            second.starts_with("not connected; the next attempt in "),
            "{second}"
        );
        // Once the wait is over the next commit tries again, and the wait doubles.
        tokio::time::sleep(RETRY_MIN).await;
        let third = error(store.commit(&changes, &clock).await);
        assert!(third.ends_with("the next attempt in 1000 ms"), "{third}");
    }

    #[test]
    fn the_password_is_never_described() {
        let s = PgStore::new("postgresql://pxe:secret@db/pxe", Ipv4Addr::LOCALHOST);
        assert_eq!(s.describe(), "postgres://…@db/pxe");
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn states_round_trip_through_their_column_names() {
        for s in [
            LeaseState::Bound,
            LeaseState::Released,
            LeaseState::Expired,
            LeaseState::Declined,
        ] {
            assert_eq!(parse_state(state_name(s)), Some(s));
        }
        // Offers are never written (an offer binds nothing), so never read.
        assert_eq!(parse_state(state_name(LeaseState::Offered)), None);
    }
}
