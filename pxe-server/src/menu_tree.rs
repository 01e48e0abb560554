//! A TFTP root on disk as `pxe-menu`'s [`TreeView`] ([`FsTree`]), and the pxelinux entry
//! points found in it ([`tree_entries`]): what `pxe menu lint --root`, `pxe menu import` and
//! `pxe doctor` read a tree through.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use pxe_menu::{EntryPoint, FileMeta, LintMode, TreeView};

/// The largest config file read (pxelinux reads them line by line; a bigger "config" is
/// something else).
const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Loader names whose directory is a path prefix (BIOS pxelinux and its HTTP-capable twin).
const LOADERS: &[&str] = &["pxelinux.0", "lpxelinux.0"];

/// A TFTP root on disk, seen the way a TFTP client sees it: symlinks are followed as long
/// as they stay inside the root (the server's `RESOLVE_BENEATH` rule).
#[derive(Debug, Clone)]
pub struct FsTree {
    root: PathBuf,
    canonical_root: Option<PathBuf>,
}

impl FsTree {
    /// The tree below `root`.
    pub fn new(root: impl Into<PathBuf>) -> FsTree {
        let root = root.into();
        let canonical_root = fs::canonicalize(&root).ok();
        FsTree {
            root,
            canonical_root,
        }
    }

    /// The directory the tree is below.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` (relative, `/`-separated) below the root, or `None` if it would leave the root
    /// (by `..` or by a symlink pointing outside).
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let rel = Path::new(path.trim_start_matches('/'));
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return None;
        }
        let full = self.root.join(rel);
        if let (Ok(real), Some(root)) = (fs::canonicalize(&full), &self.canonical_root)
            && !real.starts_with(root)
        {
            return None;
        }
        Some(full)
    }
}

impl TreeView for FsTree {
    fn stat(&self, path: &str) -> Option<FileMeta> {
        let full = self.resolve(path)?;
        let meta = fs::metadata(&full).ok()?;
        if !meta.is_file() {
            return None;
        }
        // A client reads through every directory on the way: each must be searchable by
        // "other" too, or the file is as good as unreadable.
        let mut searchable = true;
        let mut dir = full.parent();
        while let Some(d) = dir {
            if !d.starts_with(&self.root) {
                break;
            }
            searchable &= fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0);
            dir = d.parent();
        }
        Some(FileMeta {
            size: meta.len(),
            world_readable: searchable && meta.permissions().mode() & 0o004 != 0,
        })
    }

    fn find_ignore_case(&self, path: &str) -> Option<String> {
        let mut dir = self.root.clone();
        let mut found = Vec::new();
        for part in path
            .trim_start_matches('/')
            .split('/')
            .filter(|p| !p.is_empty())
        {
            if part == "." || part == ".." {
                return None;
            }
            let entry = fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.eq_ignore_ascii_case(part))?;
            dir.push(&entry);
            found.push(entry);
        }
        dir.is_file().then(|| found.join("/"))
    }

    fn read(&self, path: &str) -> Option<String> {
        String::from_utf8(self.read_bytes(path)?).ok()
    }

    fn read_bytes(&self, path: &str) -> Option<Vec<u8>> {
        let full = self.resolve(path)?;
        let meta = fs::metadata(&full).ok()?;
        if !meta.is_file() || meta.len() > MAX_CONFIG_BYTES {
            return None;
        }
        fs::read(full).ok()
    }
}

/// The served tree plus one config file from outside it, under a name no path in the tree
/// resolves to.
pub struct Overlay {
    /// The served tree.
    pub base: FsTree,
    /// The name the outside file is read under.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl TreeView for Overlay {
    fn stat(&self, path: &str) -> Option<FileMeta> {
        self.base.stat(path)
    }

    fn find_ignore_case(&self, path: &str) -> Option<String> {
        self.base.find_ignore_case(path)
    }

    fn read(&self, path: &str) -> Option<String> {
        self.base.read(path)
    }

    fn read_bytes(&self, path: &str) -> Option<Vec<u8>> {
        if path == self.path {
            return Some(self.bytes.clone());
        }
        self.base.read_bytes(path)
    }
}

/// `path` below `root` as a tree path (`/`-separated, no leading `/`), taken lexically so a
/// symlink keeps its own place (`pxelinux.cfg/default`, not where it points).
pub fn tree_path(path: &Path, root: &Path) -> Option<String> {
    let abs = |p: &Path| {
        if p.is_absolute() {
            Some(p.to_path_buf())
        } else {
            std::env::current_dir().ok().map(|d| d.join(p))
        }
    };
    let (path, root) = (abs(path)?, abs(root)?);
    let clean =
        |p: &Path| -> PathBuf { p.components().filter(|c| *c != Component::CurDir).collect() };
    let rel = clean(&path).strip_prefix(clean(&root)).ok()?.to_path_buf();
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(rel.to_string_lossy().into_owned())
}

/// The loaders in the tree (walked without following directory symlinks, as far as 8 levels
/// deep), minus those a loader symlink elsewhere in the tree points at: Debian's netboot tree
/// has `pxelinux.0 -> debian-installer/amd64/pxelinux.0`, and the top one is what DHCP names.
fn find_loaders(root: &Path) -> Vec<String> {
    let mut found: Vec<(String, PathBuf, bool)> = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            if ft.is_dir() && depth < 8 {
                dirs.push((path, depth + 1));
            } else if LOADERS.contains(&name.as_str()) && path.is_file() {
                let Some(rel) = tree_path(&path, root) else {
                    continue;
                };
                let real = fs::canonicalize(&path).unwrap_or(path.clone());
                found.push((rel, real, ft.is_symlink()));
            }
        }
    }
    let targets: Vec<PathBuf> = found
        .iter()
        .filter(|(_, _, link)| *link)
        .map(|(_, real, _)| real.clone())
        .collect();
    let mut out: Vec<String> = found
        .iter()
        .filter(|(_, real, link)| *link || !targets.contains(real))
        .map(|(rel, _, _)| rel.clone())
        .collect();
    out.sort();
    out
}

/// The entry points of the tree at `root`: for each loader (or the one at `prefix`), the
/// files in its `pxelinux.cfg/` that pxelinux looks up.
pub fn tree_entries(root: &Path, prefix: Option<&str>) -> Vec<EntryPoint> {
    let loaders = match prefix {
        Some(p) => {
            let p = p.trim_start_matches('/');
            let dir = if p.is_empty() || p.ends_with('/') {
                p.to_string()
            } else {
                format!("{p}/")
            };
            vec![format!("{dir}pxelinux.0")]
        }
        None => find_loaders(root),
    };
    let mut out = Vec::new();
    for loader in &loaders {
        let dir = pxe_menu::path_prefix(None, loader);
        let names: Vec<String> = fs::read_dir(root.join(&dir).join("pxelinux.cfg"))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.path().is_file())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.extend(pxe_menu::entry_points(loader, &names));
    }
    if out.is_empty() && root.join(pxe_menu::PXELINUX_DEFAULT).is_file() {
        out.push(EntryPoint {
            path: pxe_menu::PXELINUX_DEFAULT.to_string(),
            prefix: String::new(),
            mode: LintMode::Entry,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fs_tree_sees_modes_and_case() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir(root.join("iso")).expect("mkdir");
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::set_permissions(root.join("iso"), fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::write(root.join("Boot.txt"), b"menu").expect("write");
        fs::set_permissions(root.join("Boot.txt"), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        fs::write(root.join("iso/secret.iso"), b"iso").expect("write");
        fs::set_permissions(
            root.join("iso/secret.iso"),
            fs::Permissions::from_mode(0o600),
        )
        .expect("chmod");
        let t = FsTree::new(root);
        assert_eq!(
            t.stat("Boot.txt"),
            Some(FileMeta {
                size: 4,
                world_readable: true
            })
        );
        assert_eq!(t.stat("boot.txt"), None);
        assert_eq!(t.find_ignore_case("boot.TXT").as_deref(), Some("Boot.txt"));
        assert_eq!(
            t.stat("iso/secret.iso").map(|m| m.world_readable),
            Some(false)
        );
        assert_eq!(t.stat("iso"), None, "directories are not files");
        assert_eq!(t.stat("../etc/passwd"), None);
        assert_eq!(t.find_ignore_case("../etc/passwd"), None);

        fs::set_permissions(root.join("iso"), fs::Permissions::from_mode(0o750)).expect("chmod");
        fs::set_permissions(
            root.join("iso/secret.iso"),
            fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        assert_eq!(
            t.stat("iso/secret.iso").map(|m| m.world_readable),
            Some(false),
            "a directory others cannot search hides the file"
        );
    }
}
