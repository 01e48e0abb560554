//! A read-only view of the served TFTP tree, so the lint can check files without doing I/O.
//!
//! The binary implements [`TreeView`] over the real directory (`stat`, a case-insensitive
//! directory walk); tests use [`MemTree`].

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};

/// What the lint needs to know about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FileMeta {
    /// Size in bytes.
    pub size: u64,
    /// Whether "other" may read it (`mode & 0o004`): the TFTP server usually runs as an
    /// unprivileged user, so files readable only by their owner are "not found" for clients.
    pub world_readable: bool,
}

/// A read-only view of the TFTP tree. Paths are relative to the tree's root, `/`-separated,
/// with no leading `/`.
pub trait TreeView {
    /// The file at exactly `path` (case-sensitive, as TFTP servers on Unix are), or `None` if
    /// there is no regular file there.
    fn stat(&self, path: &str) -> Option<FileMeta>;

    /// The real spelling of a file whose path matches `path` ignoring ASCII case, if any. Used
    /// to say "exists as `Boot.txt`" instead of just "missing".
    fn find_ignore_case(&self, path: &str) -> Option<String>;

    /// The text of a small file (an `INCLUDE`d config), if the view can read it. The lint
    /// follows includes through this to find labels defined there; the default reads nothing,
    /// and then targets that might live in an include are not judged.
    fn read(&self, path: &str) -> Option<String> {
        let _ = path;
        None
    }

    /// The bytes of a config file, for the [`crate::Tree`] reader. The default takes
    /// [`TreeView::read`]'s text; a view over real files returns the bytes as they are, so a
    /// file that is not UTF-8 is still read.
    fn read_bytes(&self, path: &str) -> Option<alloc::vec::Vec<u8>> {
        self.read(path).map(String::into_bytes)
    }
}

/// An in-memory [`TreeView`].
///
/// ```
/// use pxe_menu::{MemTree, TreeView};
/// let mut t = MemTree::new();
/// t.insert("Boot.txt", 120);
/// assert!(t.stat("boot.txt").is_none());
/// assert_eq!(t.find_ignore_case("boot.txt").as_deref(), Some("Boot.txt"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemTree {
    files: BTreeMap<String, FileMeta>,
    texts: BTreeMap<String, alloc::vec::Vec<u8>>,
    /// Lower-cased path → real path, for [`TreeView::find_ignore_case`].
    folded: BTreeMap<String, String>,
}

impl MemTree {
    /// An empty tree.
    pub fn new() -> MemTree {
        MemTree::default()
    }

    /// Adds a world-readable file of `size` bytes.
    pub fn insert(&mut self, path: &str, size: u64) -> &mut MemTree {
        self.insert_meta(
            path,
            FileMeta {
                size,
                world_readable: true,
            },
        )
    }

    /// Adds a world-readable file with text contents (readable through [`TreeView::read`]).
    pub fn insert_text(&mut self, path: &str, text: &str) -> &mut MemTree {
        self.insert_bytes(path, text.as_bytes())
    }

    /// Adds a world-readable file with byte contents (readable through
    /// [`TreeView::read_bytes`]; [`TreeView::read`] gives it only if it is UTF-8).
    pub fn insert_bytes(&mut self, path: &str, bytes: &[u8]) -> &mut MemTree {
        let path = path.trim_start_matches('/');
        self.texts.insert(path.to_string(), bytes.to_vec());
        self.insert(path, u64::try_from(bytes.len()).unwrap_or(u64::MAX))
    }

    /// Removes a file.
    pub fn remove(&mut self, path: &str) -> &mut MemTree {
        let path = path.trim_start_matches('/');
        self.files.remove(path);
        self.texts.remove(path);
        self.folded.remove(&path.to_ascii_lowercase());
        self
    }

    /// Adds a file with explicit metadata.
    pub fn insert_meta(&mut self, path: &str, meta: FileMeta) -> &mut MemTree {
        let path = path.trim_start_matches('/');
        self.folded
            .insert(path.to_ascii_lowercase(), path.to_string());
        self.files.insert(path.to_string(), meta);
        self
    }
}

impl TreeView for MemTree {
    fn stat(&self, path: &str) -> Option<FileMeta> {
        self.files.get(path).copied()
    }

    fn find_ignore_case(&self, path: &str) -> Option<String> {
        self.folded.get(&path.to_ascii_lowercase()).cloned()
    }

    fn read(&self, path: &str) -> Option<String> {
        self.texts
            .get(path)
            .and_then(|b| String::from_utf8(b.clone()).ok())
    }

    fn read_bytes(&self, path: &str) -> Option<alloc::vec::Vec<u8>> {
        self.texts.get(path).cloned()
    }
}

impl<T: TreeView + ?Sized> TreeView for &T {
    fn stat(&self, path: &str) -> Option<FileMeta> {
        (**self).stat(path)
    }

    fn find_ignore_case(&self, path: &str) -> Option<String> {
        (**self).find_ignore_case(path)
    }

    fn read(&self, path: &str) -> Option<String> {
        (**self).read(path)
    }

    fn read_bytes(&self, path: &str) -> Option<alloc::vec::Vec<u8>> {
        (**self).read_bytes(path)
    }
}
