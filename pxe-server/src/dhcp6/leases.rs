//! The DHCPv6 lease file: the stateful server's [`Lease6Table`] as JSON, replaced atomically
//! (temporary file, `fsync`, rename, `fsync` of the directory) so a crash leaves the old table
//! or the new one, never half of either.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use pxe_dhcp::v6::Lease6Table;

/// The lease file at one path.
#[derive(Debug)]
pub struct Lease6File {
    path: PathBuf,
}

impl Lease6File {
    /// The file at `path`; its directory is created if missing.
    pub fn open(path: &Path) -> Result<Lease6File, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| {
                format!(
                    "DHCPv6 lease file {}: create its directory: {e}",
                    path.display()
                )
            })?;
        }
        Ok(Lease6File {
            path: path.to_owned(),
        })
    }

    /// The directory holding the file.
    pub fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// The saved table; empty when the file does not exist yet.
    pub fn load(&self) -> Result<Lease6Table, String> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("DHCPv6 lease file {}: {e}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lease6Table::new()),
            Err(e) => Err(format!("DHCPv6 lease file {}: {e}", self.path.display())),
        }
    }

    /// Replaces the file with `table`, durably.
    pub fn save(&self, table: &Lease6Table) -> Result<(), String> {
        let err = |e: std::io::Error| format!("DHCPv6 lease file {}: {e}", self.path.display());
        let json = serde_json::to_vec_pretty(table).map_err(|e| e.to_string())?;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(&json).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &self.path).map_err(err)?;
        File::open(self.dir())
            .and_then(|d| d.sync_all())
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pxe_dhcp::v6::{Lease6, Lease6State};
    use pxe_proto::Instant;

    #[test]
    fn saves_and_loads_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = Lease6File::open(&dir.path().join("state/leases6.json")).expect("open");
        assert!(file.load().expect("empty").is_empty());
        let table = Lease6Table::from(vec![Lease6 {
            duid: vec![0, 3, 0, 1, 2, 0, 0, 0, 0, 1],
            iaid: 7,
            address: "fd77::100".parse().expect("addr"),
            state: Lease6State::Bound,
            expires: Instant::from_secs(1_800_000_000),
        }]);
        file.save(&table).expect("save");
        assert_eq!(file.load().expect("load"), table);
        assert!(!dir.path().join("state/leases6.json.tmp").exists());
        fs::write(dir.path().join("state/leases6.json"), b"{").expect("corrupt");
        assert!(file.load().is_err());
    }
}
