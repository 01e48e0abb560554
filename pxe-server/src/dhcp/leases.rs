//! The lease file: lease state persisted atomically after every change and restored on start.
//!
//! The lease server core keeps its state as a value (`pxe-dhcp` serializes it); this module
//! only makes that value durable. Every save writes a temporary file beside the real one,
//! `fsync`s it, renames it over the old file and `fsync`s the directory, so after a crash or a
//! power cut the file holds either the state before the change or the state after it, never a
//! torn mix: no lease is lost and none is handed out twice. An exclusive `flock` on
//! `FILE.lock` keeps two servers from sharing (and so double-allocating) one pool.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The format marker written into every lease file.
const FORMAT: &str = "pxe-leases/1";

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
struct Envelope<T> {
    format: String,
    leases: T,
}

#[derive(Serialize)]
struct EnvelopeRef<'a, T> {
    format: &'a str,
    leases: &'a T,
}

/// An open, locked lease file.
#[derive(Debug)]
pub struct LeaseFile {
    path: PathBuf,
    tmp: PathBuf,
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
        let tmp = with_suffix(path, ".tmp");
        // A temp file left by a crash mid-save was never renamed, so it is not the state.
        let _ = fs::remove_file(&tmp);
        Ok(LeaseFile {
            path: path.to_owned(),
            tmp,
            _lock: locked,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or `None` if there is no file yet.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, LeaseFileError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LeaseFileError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let env: Envelope<T> =
            serde_json::from_slice(&bytes).map_err(|e| LeaseFileError::Corrupt {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        if env.format != FORMAT {
            return Err(LeaseFileError::Corrupt {
                path: self.path.clone(),
                reason: format!("format {:?}, expected {FORMAT:?}", env.format),
            });
        }
        Ok(Some(env.leases))
    }

    /// Replaces the saved state with `state`, durably, before returning.
    pub fn save<T: Serialize>(&mut self, state: &T) -> Result<(), LeaseFileError> {
        let io_err = |source| LeaseFileError::Io {
            path: self.path.clone(),
            source,
        };
        let mut bytes = serde_json::to_vec(&EnvelopeRef {
            format: FORMAT,
            leases: state,
        })
        .map_err(|e| io_err(io::Error::other(e)))?;
        bytes.push(b'\n');
        let mut f = File::create(&self.tmp).map_err(io_err)?;
        f.write_all(&bytes).map_err(io_err)?;
        f.sync_all().map_err(io_err)?;
        drop(f);
        fs::rename(&self.tmp, &self.path).map_err(io_err)?;
        // The rename is only durable once the directory entry is.
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err)?;
        Ok(())
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn save_load_round_trip_and_no_leftovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/leases.json");
        let mut lf = LeaseFile::open(&path).expect("open");
        assert_eq!(lf.load::<BTreeMap<String, String>>().expect("load"), None);
        let mut m = BTreeMap::new();
        m.insert("52:54:00:00:00:01".to_owned(), "10.0.0.5".to_owned());
        lf.save(&m).expect("save");
        m.insert("52:54:00:00:00:02".to_owned(), "10.0.0.6".to_owned());
        lf.save(&m).expect("save again");
        assert_eq!(
            lf.load::<BTreeMap<String, String>>().expect("load"),
            Some(m.clone())
        );
        assert!(!with_suffix(&path, ".tmp").exists());
        drop(lf);
        let again = LeaseFile::open(&path).expect("reopen after drop");
        assert_eq!(
            again.load::<BTreeMap<String, String>>().expect("load"),
            Some(m)
        );
    }

    #[test]
    fn lease_tables_round_trip_and_files_from_before_client_ids_load() {
        use pxe_dhcp::responder::{ClientKey, LeaseState, LeaseTable};
        use pxe_proto::MacAddr;

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leases.json");
        // A file as `pxe serve --dhcp server` wrote it before leases kept option 61.
        let old = concat!(
            r#"{"format":"pxe-leases/1","leases":["#,
            r#"{"ip":"10.77.0.100","mac":"52:54:00:77:00:01","state":"bound","expires":{"micros":1700003600000000}},"#,
            r#"{"ip":"10.77.0.101","mac":"52:54:00:77:00:02","state":"released","expires":{"micros":1700000000000000}},"#,
            r#"{"ip":"10.77.0.102","mac":null,"state":"declined","expires":{"micros":1700003600000000}}"#,
            "]}\n"
        );
        fs::write(&path, old).expect("write");
        let mut lf = LeaseFile::open(&path).expect("open");
        let table: LeaseTable = lf.load().expect("load").expect("a table");
        assert_eq!(table.len(), 3);
        let mac = MacAddr([0x52, 0x54, 0, 0x77, 0, 1]);
        let l = table
            .by_client(ClientKey::Hardware(mac))
            .expect("its MAC names the client");
        assert_eq!((l.state, l.client_id.as_deref()), (LeaseState::Bound, None));
        // Saved again, the records without an identifier are written as they were.
        lf.save(&table).expect("save");
        let text = fs::read_to_string(&path).expect("read");
        assert_eq!(text, old);
        assert_eq!(lf.load::<LeaseTable>().expect("load"), Some(table));
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

    #[test]
    fn crash_leftovers_and_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("leases.json");
        {
            let mut lf = LeaseFile::open(&path).expect("open");
            lf.save(&vec![1u32, 2]).expect("save");
        }
        // A crash between write and rename leaves a torn temp file; the real file still holds
        // the last complete state.
        fs::write(with_suffix(&path, ".tmp"), b"{\"format\":\"pxe-le").expect("write tmp");
        let lf = LeaseFile::open(&path).expect("open");
        assert_eq!(lf.load::<Vec<u32>>().expect("load"), Some(vec![1, 2]));
        assert!(!with_suffix(&path, ".tmp").exists());
        drop(lf);

        fs::write(&path, b"garbage").expect("write");
        let lf = LeaseFile::open(&path).expect("open");
        assert!(matches!(
            lf.load::<Vec<u32>>(),
            Err(LeaseFileError::Corrupt { .. })
        ));
    }
}
