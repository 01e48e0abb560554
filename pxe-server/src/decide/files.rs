//! The files per-machine decisions generate (iPXE scripts, pxelinux per-MAC menus), served by
//! TFTP and HTTP before the root.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use pxe_proto::MacAddr;

/// Where generated iPXE scripts live (`_pxe/host/52-54-00-12-34-56.ipxe`).
pub(crate) const HOST_DIR: &str = "_pxe/host/";

/// Generated files by name, shared by the DHCP driver (which writes them as it decides) and
/// the TFTP and HTTP drivers (which serve them). Cheap to clone: clones share the files.
#[derive(Debug, Clone, Default)]
pub struct HostFiles {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    by_name: HashMap<String, Arc<[u8]>>,
    by_mac: HashMap<MacAddr, Vec<String>>,
}

impl HostFiles {
    /// Replaces machine `mac`'s files with `files` (name under the root, contents).
    pub fn set(&self, mac: MacAddr, files: Vec<(String, Vec<u8>)>) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.remove(mac);
        if files.is_empty() {
            return;
        }
        let names = files.iter().map(|(n, _)| n.clone()).collect();
        for (name, bytes) in files {
            inner.by_name.insert(name, Arc::from(bytes));
        }
        inner.by_mac.insert(mac, names);
    }

    /// Drops machine `mac`'s files.
    pub fn remove(&self, mac: MacAddr) {
        self.inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(mac);
    }

    /// Takes every machine's files from `other` (after dropping those of `replaced`).
    pub fn replace(&self, replaced: impl IntoIterator<Item = MacAddr>, other: &HostFiles) {
        let theirs = other.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for mac in replaced {
            inner.remove(mac);
        }
        for (mac, names) in &theirs.by_mac {
            inner.remove(*mac);
            for n in names {
                if let Some(b) = theirs.by_name.get(n) {
                    inner.by_name.insert(n.clone(), Arc::clone(b));
                }
            }
            inner.by_mac.insert(*mac, names.clone());
        }
    }

    /// The file named `name` (as a TFTP or HTTP client asks for it: a leading `/` is ignored).
    #[must_use]
    pub fn get(&self, name: &[u8]) -> Option<Arc<[u8]>> {
        let name = std::str::from_utf8(name).ok()?.trim_start_matches('/');
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_name
            .get(name)
            .cloned()
    }
}

impl Inner {
    fn remove(&mut self, mac: MacAddr) {
        for n in self.by_mac.remove(&mac).unwrap_or_default() {
            self.by_name.remove(&n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_a_machines_files() {
        let files = HostFiles::default();
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        files.set(
            mac,
            vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
        );
        assert_eq!(files.get(b"/a").as_deref(), Some(&b"1"[..]));
        files.set(mac, vec![("b".into(), b"3".to_vec())]);
        assert_eq!(files.get(b"a"), None);
        assert_eq!(files.get(b"b").as_deref(), Some(&b"3"[..]));
        let other = HostFiles::default();
        other.set(
            MacAddr([2, 0, 0, 0, 0, 2]),
            vec![("c".into(), b"4".to_vec())],
        );
        files.replace([mac], &other);
        assert_eq!(files.get(b"b"), None);
        assert_eq!(files.get(b"c").as_deref(), Some(&b"4"[..]));
    }
}
