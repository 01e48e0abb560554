//! Writing rendered menu files into a root, for `pxe menu render`, `pxe init` and the reload
//! of `pxe serve` alike: only below the root, and never over a file no render wrote (a
//! distribution's boot.msg, a hand-written pxelinux.cfg/default) or over a rendered file
//! someone edited since.
//!
//! The record ([`RENDER_RECORD`] in the root) holds one line per file a render wrote:
//! the SHA-256 of what was written, two spaces and the path (the `sha256sum` layout). A line
//! that is only a path (written before hashes were kept) marks a file as ours whatever it
//! holds.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;

/// The file in a render's output directory listing what earlier renders wrote.
pub const RENDER_RECORD: &str = ".pxe-menu-rendered";

/// What to do when a file to write is foreign or was edited by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Write nothing and return an error naming every such file and why.
    Refuse,
    /// Write the other files and leave these alone, returning them.
    Skip,
    /// Write them anyway (`--force`).
    Overwrite,
}

/// A file left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its path relative to the root.
    pub path: String,
    /// Why it was not written.
    pub reason: &'static str,
}

/// The result of [`write_rendered`]: the files written and those left alone.
#[derive(Debug, Default)]
pub struct Written {
    /// Where each written file went.
    pub written: Vec<PathBuf>,
    /// Files not written ([`OnConflict::Skip`] only).
    pub skipped: Vec<Skipped>,
}

/// `root` joined with `path`, if `path` is relative and made only of plain names: a rendered
/// file never lands outside the root, whatever the menu says.
pub fn dest(root: &Path, path: &str) -> Result<PathBuf, Error> {
    let p = Path::new(path);
    let plain = path.split('/').all(|c| !matches!(c, "" | "." | ".."))
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(Error::Menu(format!(
            "refusing to write `{path}`: a rendered file must be a relative path of plain \
             names inside {}",
            root.display()
        )));
    }
    Ok(root.join(p))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The record of `dir`: path to the hash of what a render last wrote there (`None` for a
/// line without hash).
pub fn record(dir: &Path) -> BTreeMap<String, Option<String>> {
    let text = fs::read_to_string(dir.join(RENDER_RECORD)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once("  ") {
            Some((h, p)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                (p.to_owned(), Some(h.to_owned()))
            }
            _ => (l.to_owned(), None),
        })
        .collect()
}

/// Records that `files` (path, contents) were just written into `dir`.
pub fn remember<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<(), Error> {
    let mut rec = record(dir);
    for (p, c) in files {
        rec.insert(p.to_owned(), Some(sha256_hex(c)));
    }
    let mut text = String::new();
    for (p, h) in &rec {
        if let Some(h) = h {
            text.push_str(h);
            text.push_str("  ");
        }
        text.push_str(p);
        text.push('\n');
    }
    let dest = dir.join(RENDER_RECORD);
    crate::atomic::write_atomic(&dest, text.as_bytes(), 0o644)
        .map_err(|e| Error::io(format!("write {}", dest.display()), e))
}

/// Why writing `contents` over `on_disk` at `path` needs `--force`, if it does.
fn conflict(
    rec: &BTreeMap<String, Option<String>>,
    path: &str,
    on_disk: Option<&[u8]>,
    contents: &[u8],
) -> Option<&'static str> {
    let on_disk = on_disk?;
    if on_disk == contents {
        return None;
    }
    match rec.get(path) {
        None => Some("not written by an earlier `pxe menu render`"),
        Some(Some(h)) if *h != sha256_hex(on_disk) => Some("edited by hand since the last render"),
        Some(_) => None,
    }
}

/// Writes `files` (paths relative to `root`, contents) into `root` and records them, leaving
/// foreign and hand-edited files as `on_conflict` says. A path outside `root` is an error
/// before anything is written.
pub fn write_rendered(
    root: &Path,
    files: &[(String, String)],
    on_conflict: OnConflict,
) -> Result<Written, Error> {
    let rec = record(root);
    let mut plan = Vec::new();
    let mut skipped = Vec::new();
    for (path, contents) in files {
        let d = dest(root, path)?;
        let on_disk = fs::read(&d).ok();
        match conflict(&rec, path, on_disk.as_deref(), contents.as_bytes()) {
            Some(reason) if on_conflict != OnConflict::Overwrite => skipped.push(Skipped {
                path: path.clone(),
                reason,
            }),
            _ => plan.push((path.as_str(), d, contents.as_bytes())),
        }
    }
    if on_conflict == OnConflict::Refuse && !skipped.is_empty() {
        let list: Vec<String> = skipped
            .iter()
            .map(|s| format!("{} ({})", s.path, s.reason))
            .collect();
        return Err(Error::Menu(format!(
            "refusing to overwrite {} in {}: move them away, name other files in the menu \
             (display_file, ipxe_script), or pass --force",
            list.join(", "),
            root.display()
        )));
    }
    let mut written = Vec::new();
    for (_, d, contents) in &plan {
        if let Some(parent) = d.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("create {}", parent.display()), e))?;
        }
        crate::atomic::write_atomic(d, contents, 0o644)
            .map_err(|e| Error::io(format!("write {}", d.display()), e))?;
        written.push(d.clone());
    }
    remember(root, plan.iter().map(|(p, _, c)| (*p, *c)))?;
    Ok(Written { written, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pxe-rendered-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn dest_rejects_escapes() {
        let root = Path::new("/srv/tftp");
        for bad in [
            "../escape.txt",
            "/tmp/x/abs.ipxe",
            "a/../../b",
            "./a",
            "",
            "a/./b",
        ] {
            assert!(dest(root, bad).is_err(), "{bad}");
        }
        assert_eq!(
            dest(root, "pxelinux.cfg/default").unwrap(),
            root.join("pxelinux.cfg/default")
        );
    }

    #[test]
    fn escape_writes_nothing() {
        let d = tmp("escape");
        let files = vec![
            ("ok.txt".to_owned(), "x".to_owned()),
            ("../escape.txt".to_owned(), "y".to_owned()),
        ];
        assert!(write_rendered(&d, &files, OnConflict::Overwrite).is_err());
        assert!(!d.join("ok.txt").exists());
        assert!(!d.parent().unwrap().join("escape.txt").exists());
        assert!(!d.join(RENDER_RECORD).exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn foreign_and_edited_files_are_kept() {
        let d = tmp("edited");
        fs::write(d.join("boot.msg"), "distribution text").unwrap();
        let files = vec![
            ("boot.msg".to_owned(), "ours".to_owned()),
            ("menu.ipxe".to_owned(), "#!ipxe".to_owned()),
        ];
        let err = write_rendered(&d, &files, OnConflict::Refuse).unwrap_err();
        assert!(err.to_string().contains("boot.msg (not written"), "{err}");
        assert!(!d.join("menu.ipxe").exists());
        let w = write_rendered(&d, &files, OnConflict::Skip).unwrap();
        assert_eq!(w.skipped.len(), 1);
        assert_eq!(
            fs::read_to_string(d.join("boot.msg")).unwrap(),
            "distribution text"
        );
        assert_eq!(fs::read_to_string(d.join("menu.ipxe")).unwrap(), "#!ipxe");
        // Ours now: a new render may replace it.
        let files2 = vec![("menu.ipxe".to_owned(), "#!ipxe\nnew".to_owned())];
        write_rendered(&d, &files2, OnConflict::Refuse).unwrap();
        // Edited by hand: refused, then skipped, then forced.
        fs::write(d.join("menu.ipxe"), "#!ipxe\nmine").unwrap();
        let err = write_rendered(&d, &files, OnConflict::Refuse).unwrap_err();
        assert!(err.to_string().contains("edited by hand"), "{err}");
        let w = write_rendered(&d, &files2, OnConflict::Skip).unwrap();
        assert_eq!(w.skipped[0].reason, "edited by hand since the last render");
        assert_eq!(
            fs::read_to_string(d.join("menu.ipxe")).unwrap(),
            "#!ipxe\nmine"
        );
        write_rendered(&d, &files2, OnConflict::Overwrite).unwrap();
        assert_eq!(
            fs::read_to_string(d.join("menu.ipxe")).unwrap(),
            "#!ipxe\nnew"
        );
        assert!(!record(&d).contains_key("boot.msg"));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn old_record_lines_without_hash_still_count() {
        let d = tmp("legacy");
        fs::write(d.join(RENDER_RECORD), "menu.ipxe\n").unwrap();
        fs::write(d.join("menu.ipxe"), "old").unwrap();
        let files = vec![("menu.ipxe".to_owned(), "new".to_owned())];
        write_rendered(&d, &files, OnConflict::Refuse).unwrap();
        assert!(record(&d)["menu.ipxe"].is_some());
        fs::remove_dir_all(&d).unwrap();
    }
}
