//! The open-file cache: descriptors of recently served files, shared by every connection of a
//! listener, as nginx's `open_file_cache` keeps them.
//!
//! Without it every request pays a path walk and a descriptor: `openat2`, two stats and a
//! `close` around its `sendfile` — for iPXE's `sanboot`, which reads a disk image in 64 KiB
//! `Range` requests, that is most of the request's system calls. With it a request for a file
//! served a moment ago costs one `fstat` of the cached descriptor.
//!
//! **Opening** is never done here: a miss goes through [`Root::open_read`], so the name rules,
//! the `openat2(RESOLVE_BENEATH)` confinement (or its walk fallback), the world-read check and
//! the upload-temporary refusal are exactly those of every other open; the cache only keeps what
//! that open returned, under the decoded request name. Refusals are not cached (a file that
//! appears is served at once).
//!
//! **Revalidation**, the policy and why:
//! - Every hit `fstat`s the cached descriptor (one system call, no path walk) and compares size,
//!   modification time, mode and link count with what the entry was opened with. Any difference
//!   — a file truncated, rewritten or appended in place (`cp` over it), made private
//!   (`chmod o-r`), or with no link left (deleted, or replaced by a rename over it, as TFTP
//!   uploads and `install`/`rsync` do) — drops the entry and opens the name again. This is per
//!   request because HTTP announces the size before the content: a size cached across a change
//!   would send a wrong `Content-Length` and a cut response, where nginx's `open_file_cache`
//!   (valid for 60 s by default) would.
//! - What a descriptor cannot show — the name now leads to another inode while the old one is
//!   still linked elsewhere (`mv img img.old; mv new img`), a directory on the way renamed or
//!   made inaccessible — is seen by a full open of the name again once an entry is
//!   [`VALID`] old: at most that long after such a change, a request still gets the previous
//!   file, whole and consistent (it is still open).
//! - An entry unused for [`INACTIVE`] is dropped by [`FileCache::sweep`] (the HTTP accept loop
//!   calls it every second), so a deleted file's space is not held by an idle cache.
//! - At most [`MAX_ENTRIES`] entries: a miss with the cache full drops the entry used longest
//!   ago. A dropped entry's descriptor closes when the last response sending from it ends.
//! - [`FileCache::clear`] drops everything (a configuration reload calls it). The cache
//!   belongs to one listener and its root, which a reload cannot change (a new root is a
//!   restart, with a new cache), so no entry can outlive the root it was opened beneath.

use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::stat::{FileStat, fstat};

use crate::tftp::fs::{Data, Refusal, Root};

/// Most files held open by the cache (nginx's `open_file_cache max=`). Boot trees serve a
/// handful of files; the descriptors count against `RLIMIT_NOFILE` besides the connections'.
pub const MAX_ENTRIES: usize = 256;

/// How long an entry is used before its name is opened again from the root (nginx's
/// `open_file_cache_valid`, 60 s by default there; see the module docs for what it bounds).
pub const VALID: Duration = Duration::from_secs(1);

/// How long an unused entry stays (nginx's `open_file_cache ... inactive=`).
pub const INACTIVE: Duration = Duration::from_secs(10);

/// What a request gets: the data, its size and its `Last-Modified` text.
#[derive(Debug)]
pub struct Opened {
    /// The file (shared with the cache and other responses) or the in-memory bytes.
    pub data: Data,
    /// Its size now.
    pub size: u64,
    /// `Last-Modified` (RFC 9110 §8.8.2), when the file has a time HTTP can express.
    pub modified: Option<Arc<str>>,
}

/// What of a file's status must not change while an entry serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    size: i64,
    mtime: i64,
    mtime_nsec: i64,
    mode: u32,
    ino: u64,
    dev: u64,
}

impl Version {
    fn of(st: &FileStat) -> Self {
        Self {
            size: st.st_size,
            mtime: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec,
            mode: st.st_mode,
            ino: st.st_ino,
            dev: st.st_dev,
        }
    }
}

#[derive(Debug)]
struct Entry {
    file: Arc<File>,
    version: Version,
    modified: Option<Arc<str>>,
    opened: Instant,
    used: Instant,
}

/// The cache (see the module docs); one per HTTP listener.
#[derive(Debug)]
pub struct FileCache {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
    max: usize,
    valid: Duration,
    inactive: Duration,
}

impl Default for FileCache {
    fn default() -> Self {
        Self::new(MAX_ENTRIES, VALID, INACTIVE)
    }
}

impl FileCache {
    /// A cache of at most `max` entries (at least 1), each reopened after `valid` and dropped
    /// when unused for `inactive`.
    #[must_use]
    pub fn new(max: usize, valid: Duration, inactive: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            max: max.max(1),
            valid,
            inactive,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file `name` (a decoded request path) names under `root`: from the cache when its
    /// entry is still the file (see the module docs), else opened by [`Root::open_read`].
    pub fn open(&self, root: &Root, name: &[u8]) -> Result<Opened, Refusal> {
        let now = Instant::now();
        let cached = {
            let mut entries = self.lock();
            match entries.get_mut(name) {
                Some(e) if now.duration_since(e.opened) < self.valid => {
                    e.used = now;
                    Some((Arc::clone(&e.file), e.version, e.modified.clone()))
                }
                Some(_) => {
                    entries.remove(name);
                    None
                }
                None => None,
            }
        };
        if let Some((file, version, modified)) = cached {
            // The one system call of a hit: the descriptor's status now.
            if let Ok(st) = fstat(&*file)
                && st.st_nlink > 0
                && Version::of(&st) == version
            {
                return Ok(Opened {
                    data: Data::File(file),
                    size: u64::try_from(version.size).unwrap_or(0),
                    modified,
                });
            }
            self.remove_if(name, &file);
        }
        let (data, size) = root.open_read(name)?;
        let Data::File(file) = data else {
            // In-memory roots cost nothing to open.
            return Ok(Opened {
                data,
                size,
                modified: None,
            });
        };
        let st = match fstat(&*file) {
            Ok(st) => st,
            // Served, uncached: the open itself succeeded.
            Err(_) => {
                return Ok(Opened {
                    data: Data::File(file),
                    size,
                    modified: None,
                });
            }
        };
        let version = Version::of(&st);
        let modified = mtime(&st).and_then(http_date).map(Arc::from);
        let mut entries = self.lock();
        if entries.len() >= self.max
            && !entries.contains_key(name)
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(
            name.to_vec(),
            Entry {
                file: Arc::clone(&file),
                version,
                modified: modified.clone(),
                opened: now,
                used: now,
            },
        );
        drop(entries);
        Ok(Opened {
            data: Data::File(file),
            size: u64::try_from(version.size).unwrap_or(0),
            modified,
        })
    }

    /// Drops `name`'s entry if it still holds `file` (another request may have reopened it).
    fn remove_if(&self, name: &[u8], file: &Arc<File>) {
        let mut entries = self.lock();
        if entries
            .get(name)
            .is_some_and(|e| Arc::ptr_eq(&e.file, file))
        {
            entries.remove(name);
        }
    }

    /// Drops the entries unused since `now - inactive`.
    pub fn sweep(&self, now: Instant) {
        let inactive = self.inactive;
        self.lock()
            .retain(|_, e| now.saturating_duration_since(e.used) < inactive);
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Entries held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The modification time of `st`, when after 1970.
fn mtime(st: &FileStat) -> Option<SystemTime> {
    let secs = u64::try_from(st.st_mtime).ok()?;
    let nanos = u32::try_from(st.st_mtime_nsec).unwrap_or(0);
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// `Last-Modified` text for `t` (RFC 9110 §5.6.7), or none for a time the format cannot
/// express (after 9999, where `httpdate` panics): such a file is still served.
pub fn http_date(t: SystemTime) -> Option<String> {
    let secs = t.duration_since(UNIX_EPOCH).ok()?.as_secs();
    // 9999-12-31T23:59:59Z is the last second `httpdate` formats.
    (secs < 253_402_300_800).then(|| httpdate::fmt_http_date(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tftp::fs::DirRoot;
    use std::io::Write as _;
    use std::sync::Weak;

    fn root(dir: &std::path::Path) -> Root {
        Root::Dir(DirRoot::open(dir, true, false).unwrap())
    }

    fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) {
        let mut f = File::create(dir.join(name)).unwrap();
        f.write_all(bytes).unwrap();
        let mut perm = f.metadata().unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
        f.set_permissions(perm).unwrap();
    }

    fn file(o: &Opened) -> &Arc<File> {
        match &o.data {
            Data::File(f) => f,
            Data::Static(_) => panic!("not a file"),
        }
    }

    fn read_all(o: &Opened) -> Vec<u8> {
        let mut buf = vec![0; usize::try_from(o.size).unwrap()];
        let n = o.data.read_at(&mut buf, 0).unwrap();
        buf.truncate(n);
        buf
    }

    fn long() -> FileCache {
        FileCache::new(4, Duration::from_secs(3600), Duration::from_secs(3600))
    }

    #[test]
    fn a_hit_shares_the_descriptor() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", b"hello");
        let (root, cache) = (root(d.path()), long());
        let first = cache.open(&root, b"/a").unwrap();
        let second = cache.open(&root, b"/a").unwrap();
        assert!(Arc::ptr_eq(file(&first), file(&second)));
        assert_eq!(second.size, 5);
        assert!(second.modified.is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn refusals_go_through_the_root_and_are_not_cached() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", b"x");
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("out")).unwrap();
        let (root, cache) = (root(d.path()), long());
        assert!(matches!(
            cache.open(&root, b"/../etc/passwd"),
            Err(Refusal::Escape(_))
        ));
        assert!(matches!(
            cache.open(&root, b"/out"),
            Err(Refusal::Escape(_))
        ));
        assert!(matches!(cache.open(&root, b"/b"), Err(Refusal::NotFound)));
        assert!(cache.is_empty());
        write(d.path(), "b", b"now here");
        assert_eq!(read_all(&cache.open(&root, b"/b").unwrap()), b"now here");
    }

    #[test]
    fn entries_are_bounded_and_evicted_descriptors_close() {
        let d = tempfile::tempdir().unwrap();
        let (root, cache) = (root(d.path()), long());
        let mut weak: Vec<Weak<File>> = Vec::new();
        for i in 0..10 {
            let name = format!("f{i}");
            write(d.path(), &name, name.as_bytes());
            let o = cache.open(&root, format!("/{name}").as_bytes()).unwrap();
            weak.push(Arc::downgrade(file(&o)));
            assert!(cache.len() <= 4);
        }
        assert_eq!(cache.len(), 4);
        // The cache holds the last four; the others' descriptors are closed (no Arc left).
        let open = weak.iter().filter(|w| w.upgrade().is_some()).count();
        assert_eq!(open, 4);
        assert!(weak[9].upgrade().is_some() && weak[0].upgrade().is_none());
        // The least recently used goes first: touch f6, then a new file evicts f7.
        cache.open(&root, b"/f6").unwrap();
        write(d.path(), "g", b"g");
        cache.open(&root, b"/g").unwrap();
        assert!(weak[6].upgrade().is_some());
        assert!(weak[7].upgrade().is_none());
        cache.clear();
        assert!(weak.iter().all(|w| w.upgrade().is_none()));
    }

    #[test]
    fn a_replaced_file_is_seen_at_the_next_request() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", b"old bytes");
        let (root, cache) = (root(d.path()), long());
        let old = cache.open(&root, b"/a").unwrap();
        write(d.path(), "a.new", b"new!");
        std::fs::rename(d.path().join("a.new"), d.path().join("a")).unwrap();
        let new = cache.open(&root, b"/a").unwrap();
        assert!(!Arc::ptr_eq(file(&old), file(&new)));
        assert_eq!(read_all(&new), b"new!");
        // The response already sending keeps its own, whole file.
        assert_eq!(read_all(&old), b"old bytes");
    }

    #[test]
    fn a_file_changed_in_place_is_seen_at_the_next_request() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", &[7; 1000]);
        let (root, cache) = (root(d.path()), long());
        assert_eq!(cache.open(&root, b"/a").unwrap().size, 1000);
        // Shrunk in place (same inode): the size served follows.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(d.path().join("a"))
            .unwrap();
        f.set_len(10).unwrap();
        assert_eq!(cache.open(&root, b"/a").unwrap().size, 10);
        f.set_len(20).unwrap();
        assert_eq!(cache.open(&root, b"/a").unwrap().size, 20);
        // Made private: refused like any open of it.
        let mut perm = f.metadata().unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o600);
        f.set_permissions(perm).unwrap();
        assert!(matches!(
            cache.open(&root, b"/a"),
            Err(Refusal::Denied { .. })
        ));
        assert!(cache.is_empty());
    }

    #[test]
    fn a_deleted_file_is_not_found_at_the_next_request() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", b"bytes");
        let (root, cache) = (root(d.path()), long());
        cache.open(&root, b"/a").unwrap();
        std::fs::remove_file(d.path().join("a")).unwrap();
        assert!(matches!(cache.open(&root, b"/a"), Err(Refusal::NotFound)));
        assert!(cache.is_empty());
    }

    #[test]
    fn a_name_moved_to_another_linked_file_is_seen_once_the_entry_is_old() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", b"first");
        let (root, cache) = (
            root(d.path()),
            FileCache::new(4, Duration::from_millis(50), Duration::from_secs(3600)),
        );
        cache.open(&root, b"/a").unwrap();
        // The old file keeps a link (`mv a a.old`): its descriptor shows no change.
        std::fs::rename(d.path().join("a"), d.path().join("a.old")).unwrap();
        write(d.path(), "a", b"second");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(read_all(&cache.open(&root, b"/a").unwrap()), b"second");
    }

    #[test]
    fn unused_entries_are_swept() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a", b"a");
        write(d.path(), "b", b"b");
        let (root, cache) = (
            root(d.path()),
            FileCache::new(4, Duration::from_secs(3600), Duration::from_secs(10)),
        );
        let start = Instant::now();
        let a = Arc::downgrade(file(&cache.open(&root, b"/a").unwrap()));
        cache.sweep(start + Duration::from_secs(5));
        assert_eq!(cache.len(), 1);
        cache.open(&root, b"/b").unwrap();
        cache.sweep(Instant::now() + Duration::from_secs(10));
        assert!(cache.is_empty());
        assert!(a.upgrade().is_none());
    }

    #[test]
    fn memory_roots_pass_through() {
        let root = Root::Embedded(vec![("m".into(), Arc::from(&b"mem"[..]))]);
        let cache = long();
        let o = cache.open(&root, b"/m").unwrap();
        assert_eq!(o.size, 3);
        assert!(matches!(o.data, Data::Static(_)));
        assert!(cache.is_empty());
    }

    #[test]
    fn dates_outside_the_http_format_are_left_out() {
        assert_eq!(
            http_date(UNIX_EPOCH).as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
        let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        assert_eq!(
            http_date(last).as_deref(),
            Some("Fri, 31 Dec 9999 23:59:59 GMT")
        );
        assert_eq!(http_date(last + Duration::from_secs(1)), None);
        assert_eq!(http_date(UNIX_EPOCH - Duration::from_secs(1)), None);
    }
}
