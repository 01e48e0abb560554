//! The lease file: an append-only journal with periodic compaction (the model of Kea's memfile
//! and its lease file cleanup), restored on start.
//!
//! Format `pxe-leases/2`, one JSON value per line:
//!
//! ```text
//! {"format":"pxe-leases/2","snapshot":2}
//! {"ip":"10.0.0.5","mac":"52:54:00:00:00:01","state":"bound","expires":{"micros":1800003600000000}}
//! {"ip":"10.0.0.6","mac":"52:54:00:00:00:02","state":"bound","expires":{"micros":1800003600000000}}
//! {"ip":"10.0.0.5","mac":"52:54:00:00:00:01","state":"released","expires":{"micros":1800000100000000}}
//! ```
//!
//! The header says how many records follow as the snapshot (one per address: two for one address
//! are refused, naming both clients); every later line is a change, and the last line for an
//! address wins. `expires` is Unix time in microseconds: the driver's [`Clock`] converts to and
//! from the cores' monotonic time here and nowhere else. A record has the fields of
//! [`pxe_dhcp::responder::Lease`].
//!
//! Durability: [`LeaseFile::append`] writes the changes of one batch and `fdatasync`s before
//! the driver sends the replies of that batch, so a `kill -9` (or power cut) at any point loses
//! no acknowledged lease. A crash mid-append can leave a torn last line; it was never
//! acknowledged, and loading drops it. [`LeaseFile::compact`] writes the whole table to a
//! temporary file, `fsync`s it, renames it over the journal and `fsync`s the directory: the
//! file is the old journal or the new snapshot, never a mix. The driver compacts on start and
//! when the journal has grown to several times the table, so a commit costs one appended line
//! per changed lease, not a rewrite of every lease.
//!
//! A file of the earlier format (`pxe-leases/1`: one JSON document rewritten on every change,
//! with the same records) is read and compacted into the journal format on start. An exclusive
//! `flock` on `FILE.lock` keeps two servers from sharing (and so double-allocating) one pool.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use pxe_dhcp::responder::{Lease, LeaseTable};
use pxe_proto::Instant;

use super::clock::Clock;

/// The journal format marker.
const FORMAT: &str = "pxe-leases/2";
/// The earlier whole-file format, migrated on start.
const FORMAT_V1: &str = "pxe-leases/1";

/// Why the lease file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LeaseFileError {
    /// Reading, writing, syncing or renaming failed.
    #[error("lease file {path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another process holds the lock.
    #[error(
        "lease file {path} is in use by another pxe server (lock {lock} is held); two servers on one pool would hand out the same address twice"
    )]
    Locked {
        /// The lease file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The file exists but is not a lease file we can read.
    #[error(
        "lease file {path} is corrupt or of another format ({reason}); refusing to start with an empty pool, which could hand out addresses that are in use. Move it aside to start afresh"
    )]
    Corrupt {
        /// The file involved.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

#[derive(serde::Deserialize)]
struct EnvelopeV1 {
    format: String,
    leases: Vec<Lease>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    snapshot: usize,
}

/// An open, locked lease journal.
#[derive(Debug)]
pub struct LeaseFile {
    path: PathBuf,
    /// The journal, open for appending once loaded.
    journal: Option<File>,
    /// Lines in the journal (snapshot and changes).
    lines: usize,
    _lock: Flock<File>,
}

impl LeaseFile {
    /// Locks `path` for this process (creating its directory if needed).
    pub fn open(path: &Path) -> Result<LeaseFile, LeaseFileError> {
        let io_err = |source| LeaseFileError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        let lock = with_suffix(path, ".lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(io_err)?;
        let locked = Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|_| {
            LeaseFileError::Locked {
                path: path.to_owned(),
                lock: lock.clone(),
            }
        })?;
        let tmp = crate::atomic::temp_path(path);
        // A temp file left by a crash mid-compaction was never renamed, so it is not the state.
        let _ = fs::remove_file(&tmp);
        Ok(LeaseFile {
            path: path.to_owned(),
            journal: None,
            lines: 0,
            _lock: locked,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines in the journal now: the snapshot's records and the changes appended since.
    pub fn lines(&self) -> usize {
        self.lines
    }

    fn io_err(&self, source: io::Error) -> LeaseFileError {
        LeaseFileError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, reason: String) -> LeaseFileError {
        LeaseFileError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// Reads the saved leases (journal, or a file of the earlier format), expiry times
    /// converted to `clock`'s time, then compacts the file into a fresh journal. No file yet:
    /// an empty table.
    pub fn load(&mut self, clock: &Clock) -> Result<LeaseTable, LeaseFileError> {
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let table = LeaseTable::new();
                self.compact(&table, clock)?;
                return Ok(table);
            }
            Err(e) => return Err(self.io_err(e)),
        };
        let mut text = String::new();
        BufReader::new(f)
            .read_to_string(&mut text)
            .map_err(|e| self.io_err(e))?;
        let records = if text
            .trim_start()
            .starts_with("{\"format\":\"pxe-leases/2\"")
        {
            self.replay(&text)?
        } else {
            let env: EnvelopeV1 =
                serde_json::from_str(&text).map_err(|e| self.corrupt(e.to_string()))?;
            if env.format != FORMAT_V1 {
                return Err(self.corrupt(format!(
                    "format {:?}, expected {FORMAT:?} or {FORMAT_V1:?}",
                    env.format
                )));
            }
            tracing::info!(file = %self.path.display(), leases = env.leases.len(), "DHCP lease file of format {FORMAT_V1} migrated to {FORMAT}");
            env.leases
        };
        let records = records
            .into_iter()
            .map(|mut l| {
                l.expires = clock.from_unix(l.expires.as_micros());
                l
            })
            .collect();
        let table =
            LeaseTable::try_from_leases(records).map_err(|e| self.corrupt(e.to_string()))?;
        self.compact(&table, clock)?;
        Ok(table)
    }

    /// The records of a journal: the snapshot (one per address), then each change in order,
    /// the last one for an address winning. Expiry times are still Unix time.
    fn replay(&self, text: &str) -> Result<Vec<Lease>, LeaseFileError> {
        let mut lines = text.split_inclusive('\n').enumerate();
        let header: Header = match lines.next() {
            Some((_, l)) => {
                serde_json::from_str(l).map_err(|e| self.corrupt(format!("line 1: {e}")))?
            }
            None => return Ok(Vec::new()),
        };
        if header.format != FORMAT {
            return Err(self.corrupt(format!("format {:?}, expected {FORMAT:?}", header.format)));
        }
        let mut snapshot = Vec::with_capacity(header.snapshot);
        let mut latest: std::collections::BTreeMap<std::net::Ipv4Addr, Lease> =
            std::collections::BTreeMap::new();
        for (i, line) in lines {
            if !line.ends_with('\n') {
                // A crash mid-append: never synced, so never acknowledged.
                tracing::warn!(file = %self.path.display(), line = i + 1, "DHCP lease journal: torn last line dropped (a crash while writing it)");
                break;
            }
            let l: Lease = serde_json::from_str(line)
                .map_err(|e| self.corrupt(format!("line {}: {e}", i + 1)))?;
            if i <= header.snapshot {
                snapshot.push(l);
            } else {
                latest.insert(l.ip, l);
            }
        }
        // Two snapshot records for one address are refused (try_from_leases names both);
        // a change replaces the snapshot's record.
        let snapshot =
            LeaseTable::try_from_leases(snapshot).map_err(|e| self.corrupt(e.to_string()))?;
        let mut all: std::collections::BTreeMap<_, _> =
            snapshot.iter().map(|l| (l.ip, l.clone())).collect();
        all.extend(latest);
        Ok(all.into_values().collect())
    }

    fn record(l: &Lease, clock: &Clock) -> Result<Vec<u8>, serde_json::Error> {
        let mut l = l.clone();
        l.expires = Instant::from_micros(clock.to_unix(l.expires));
        let mut line = serde_json::to_vec(&l)?;
        line.push(b'\n');
        Ok(line)
    }

    /// Appends `changes` to the journal and `fdatasync`s it: once this returns, they survive a
    /// crash.
    pub fn append<'a>(
        &mut self,
        changes: impl IntoIterator<Item = &'a Lease>,
        clock: &Clock,
    ) -> Result<(), LeaseFileError> {
        let mut buf = Vec::new();
        let mut n = 0;
        for l in changes {
            buf.extend(Self::record(l, clock).map_err(|e| self.io_err(io::Error::other(e)))?);
            n += 1;
        }
        if n == 0 {
            return Ok(());
        }
        let path = self.path.clone();
        let io_err = |source| LeaseFileError::Io {
            path: path.clone(),
            source,
        };
        let f = self
            .journal
            .as_mut()
            .ok_or_else(|| io_err(io::Error::other("lease journal not loaded")))?;
        f.write_all(&buf).map_err(&io_err)?;
        f.sync_data().map_err(&io_err)?;
        self.lines += n;
        Ok(())
    }

    /// Replaces the journal with a snapshot of `table`, durably, and reopens it for appending.
    pub fn compact(&mut self, table: &LeaseTable, clock: &Clock) -> Result<(), LeaseFileError> {
        let io_err = |source| LeaseFileError::Io {
            path: self.path.clone(),
            source,
        };
        let header = Header {
            format: FORMAT.to_owned(),
            snapshot: table.len(),
        };
        let mut bytes = serde_json::to_vec(&header).map_err(|e| io_err(io::Error::other(e)))?;
        bytes.push(b'\n');
        for l in table.iter() {
            let rec = Self::record(l, clock).map_err(|e| io_err(io::Error::other(e)))?;
            bytes.extend_from_slice(&rec);
        }
        crate::atomic::write_atomic(&self.path, &bytes, 0o644).map_err(io_err)?;
        let mut journal = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io_err)?;
        journal.seek(io::SeekFrom::End(0)).map_err(io_err)?;
        self.journal = Some(journal);
        self.lines = table.len() + 1;
        Ok(())
    }

    /// Every record in the journal file as written (expiry in Unix microseconds), in order:
    /// for audits and tests.
    pub fn read_records(path: &Path) -> io::Result<Vec<Lease>> {
        let f = BufReader::new(File::open(path)?);
        let mut out = Vec::new();
        for (i, line) in f.lines().enumerate() {
            let line = line?;
            if i == 0 || line.is_empty() {
                continue;
            }
            if let Ok(l) = serde_json::from_str(&line) {
                out.push(l);
            }
        }
        Ok(out)
    }
}

/// The leases the file at `path` holds now, one per address (the journal's last record for it
/// wins), expiry in Unix microseconds; `None` when there is no file. Takes no lock: records
/// are appended whole and compaction replaces the file by rename, so this works while the
/// server runs (`pxe leases`, the status page). A torn last line is left out.
pub fn current(path: &Path) -> io::Result<Option<Vec<Lease>>> {
    match LeaseFile::read_records(path) {
        Ok(records) => {
            let mut by_ip = std::collections::BTreeMap::new();
            for l in records {
                by_ip.insert(l.ip, l);
            }
            Ok(Some(by_ip.into_values().collect()))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use pxe_dhcp::responder::{ClientKey, LeaseState};
    use pxe_proto::MacAddr;

    use super::*;

    const T0: u64 = 1_800_000_000;

    fn clock_at(unix_secs: u64) -> Clock {
        Clock::with_wall(UNIX_EPOCH + Duration::from_secs(unix_secs))
    }

    fn lease(n: u8, state: LeaseState, expires: Instant) -> Lease {
        Lease {
            ip: std::net::Ipv4Addr::new(10, 77, 0, n),
            mac: Some(MacAddr([0x52, 0x54, 0, 0x77, 0, n])),
            client_id: None,
            state,
            expires,
        }
    }

    #[test]
    fn journal_appends_replay_and_compaction_keep_the_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/leases.json");
        let clock = clock_at(T0);
        let now = clock.now();
        let mut lf = LeaseFile::open(&path).expect("open");
        assert!(lf.load(&clock).expect("load").is_empty());
        let hour = now + Duration::from_secs(3600);
        let a = lease(1, LeaseState::Bound, hour);
        let b = lease(2, LeaseState::Bound, hour);
        lf.append([&a, &b], &clock).expect("append");
        let released = lease(1, LeaseState::Released, now);
        lf.append([&released], &clock).expect("append");
        assert_eq!(lf.lines(), 4);
        drop(lf);
        let mut lf = LeaseFile::open(&path).expect("reopen");
        let t = lf.load(&clock).expect("load");
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(a.ip).map(|l| l.state), Some(LeaseState::Released));
        assert_eq!(t.get(b.ip), Some(&b));
        // Loading compacted the journal: a header and one line per address.
        assert_eq!(lf.lines(), 3);
        assert_eq!(fs::read_to_string(&path).expect("read").lines().count(), 3);
        assert!(!with_suffix(&path, ".tmp").exists());
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_torn_middle_is_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leases.json");
        let clock = clock_at(T0);
        let mut lf = LeaseFile::open(&path).expect("open");
        lf.load(&clock).expect("load");
        let a = lease(1, LeaseState::Bound, clock.now() + Duration::from_secs(600));
        lf.append([&a], &clock).expect("append");
        drop(lf);
        // A crash while the next line was being written.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"ip\":\"10.77.0.2\",\"mac\":\"52:54")
            .expect("write");
        drop(f);
        let mut lf = LeaseFile::open(&path).expect("open");
        let t = lf.load(&clock).expect("torn tail dropped");
        assert_eq!(t.len(), 1);
        drop(lf);
        let text = fs::read_to_string(&path).expect("read");
        fs::write(&path, text.replace("\"bound\"", "\"bou")).expect("write");
        let mut lf = LeaseFile::open(&path).expect("open");
        assert!(matches!(
            lf.load(&clock),
            Err(LeaseFileError::Corrupt { .. })
        ));
        fs::write(&path, b"garbage").expect("write");
        assert!(matches!(
            lf.load(&clock),
            Err(LeaseFileError::Corrupt { .. })
        ));
    }

    /// The clock contract: the wall clock is read once, at start. A step while serving (NTP,
    /// `date -s`) changes no lease's remaining time and no persisted expiry; what is persisted
    /// is Unix time, so a restart keeps each lease's end in wall-clock terms.
    #[test]
    fn a_wall_clock_step_does_not_move_lease_expiry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leases.json");
        let clock = clock_at(T0);
        let mut lf = LeaseFile::open(&path).expect("open");
        lf.load(&clock).expect("load");
        let now = clock.now();
        let a = lease(1, LeaseState::Bound, now + Duration::from_secs(3600));
        lf.append([&a], &clock).expect("append");
        // Whatever the wall clock does now (the clock read it at start, never again), the
        // running server's time moves only with the monotonic clock: the lease has its 3600 s
        // left and is written again with the same Unix expiry.
        assert!(clock.now().saturating_duration_since(now) < Duration::from_secs(5));
        assert!(a.is_active(clock.now()));
        lf.append([&a], &clock).expect("append again");
        let unix: Vec<u64> = LeaseFile::read_records(&path)
            .expect("records")
            .iter()
            .map(|l| l.expires.as_micros() / 1_000_000)
            .collect();
        assert!(
            unix.iter().all(|&u| (T0 + 3600..=T0 + 3601).contains(&u)),
            "{unix:?}"
        );
        drop(lf);
        // A restart 10 minutes later (by the wall clock) finds 50 minutes left.
        let later = clock_at(T0 + 600);
        let mut lf = LeaseFile::open(&path).expect("reopen");
        let t = lf.load(&later).expect("load");
        let left = t
            .get(a.ip)
            .expect("lease")
            .expires
            .saturating_duration_since(later.now());
        assert!((3000 - 2..=3000 + 1).contains(&left.as_secs()), "{left:?}");
    }

    #[test]
    fn a_file_of_the_earlier_format_is_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leases.json");
        // A file as `pxe serve --dhcp server` wrote it before the journal (Unix micros).
        let old = concat!(
            r#"{"format":"pxe-leases/1","leases":["#,
            r#"{"ip":"10.77.0.100","mac":"52:54:00:77:00:01","state":"bound","expires":{"micros":1800003600000000}},"#,
            r#"{"ip":"10.77.0.101","mac":"52:54:00:77:00:02","state":"released","expires":{"micros":1800000000000000}},"#,
            r#"{"ip":"10.77.0.102","mac":null,"state":"declined","expires":{"micros":1800003600000000}}"#,
            "]}\n"
        );
        fs::write(&path, old).expect("write");
        let clock = clock_at(T0);
        let mut lf = LeaseFile::open(&path).expect("open");
        let table = lf.load(&clock).expect("load");
        assert_eq!(table.len(), 3);
        let mac = MacAddr([0x52, 0x54, 0, 0x77, 0, 1]);
        let l = table
            .by_client(ClientKey::Hardware(mac))
            .expect("its MAC names the client");
        assert_eq!(l.state, LeaseState::Bound);
        let left = l.expires.saturating_duration_since(clock.now()).as_secs();
        assert!((3598..=3600).contains(&left), "{left}");
        let text = fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("{\"format\":\"pxe-leases/2\",\"snapshot\":3}\n"),
            "{text}"
        );
        drop(lf);
        let mut lf = LeaseFile::open(&path).expect("reopen");
        assert_eq!(lf.load(&clock).expect("load"), table);
    }

    #[test]
    fn one_address_on_two_macs_is_a_start_up_error_naming_both() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leases.json");
        for text in [
            concat!(
                r#"{"format":"pxe-leases/1","leases":["#,
                r#"{"ip":"10.77.0.100","mac":"52:54:00:77:00:01","state":"bound","expires":{"micros":1800003600000000}},"#,
                r#"{"ip":"10.77.0.100","mac":"52:54:00:77:00:02","state":"bound","expires":{"micros":1800003600000000}}"#,
                "]}\n"
            ),
            concat!(
                "{\"format\":\"pxe-leases/2\",\"snapshot\":2}\n",
                r#"{"ip":"10.77.0.100","mac":"52:54:00:77:00:01","state":"bound","expires":{"micros":1800003600000000}}"#,
                "\n",
                r#"{"ip":"10.77.0.100","mac":"52:54:00:77:00:02","state":"bound","expires":{"micros":1800003600000000}}"#,
                "\n"
            ),
        ] {
            fs::write(&path, text).expect("write");
            let mut lf = LeaseFile::open(&path).expect("open");
            let err = lf.load(&clock_at(T0)).expect_err("duplicate address");
            let msg = err.to_string();
            assert!(
                msg.contains("10.77.0.100")
                    && msg.contains("52:54:00:77:00:01")
                    && msg.contains("52:54:00:77:00:02"),
                "{msg}"
            );
        }
    }

    #[test]
    fn second_opener_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leases.json");
        let _first = LeaseFile::open(&path).expect("open");
        assert!(matches!(
            LeaseFile::open(&path),
            Err(LeaseFileError::Locked { .. })
        ));
    }
}
