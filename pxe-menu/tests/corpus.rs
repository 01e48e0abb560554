//! The real-world corpus (`tests/corpus/`, one directory per tree, indexed by
//! `tests/corpus/trees.toml` with each tree's source and licence in `SOURCES.md`), read from
//! each tree's entry points as syslinux reads it.
//!
//! - Lint: the findings must equal the hand-reviewed `tests/corpus-expected/<tree>.findings`
//!   line for line (`PXE_MENU_BLESS=1 cargo test -p pxe-menu --test corpus` rewrites them for
//!   review after a deliberate change).
//! - Import: every entry point imported into the menu model, rendered and parsed again boots
//!   the same things (label command lines, default, timeout, passwords), and everything the
//!   model leaves out is named in a note.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use pxe_menu::{
    Config, EntryPoint, FileMeta, Finding, LintMode, LintOptions, Loader, Menu, Tree, TreeView,
};

/// One tree of `trees.toml` (the fields this test needs).
#[derive(Debug, serde::Deserialize)]
struct TreeEntry {
    name: String,
    loader: String,
    prefix: String,
    entry_points: Vec<String>,
    #[serde(default)]
    alt_entry: Vec<AltEntry>,
    #[serde(default)]
    omitted: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct AltEntry {
    path: String,
    loader: String,
    prefix: String,
}

#[derive(Debug, serde::Deserialize)]
struct Index {
    tree: Vec<TreeEntry>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-expected")
}

/// A corpus tree on disk, plus the binaries left out of the repository (they exist upstream).
struct DirView {
    root: PathBuf,
    omitted: BTreeSet<String>,
}

impl DirView {
    fn path(&self, path: &str) -> Option<PathBuf> {
        let rel = Path::new(path.trim_start_matches('/'));
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return None;
        }
        let full = self.root.join(rel);
        // Symlinks (kept as git symlinks) must stay inside the tree.
        let real = fs::canonicalize(&full).ok()?;
        real.starts_with(fs::canonicalize(&self.root).ok()?)
            .then_some(full)
    }
}

impl TreeView for DirView {
    fn stat(&self, path: &str) -> Option<FileMeta> {
        if self.omitted.contains(path.trim_start_matches('/')) {
            return Some(FileMeta {
                size: 100_000,
                world_readable: true,
            });
        }
        let meta = fs::metadata(self.path(path)?).ok()?;
        // Git does not keep modes beyond the executable bit: every file counts as readable.
        meta.is_file().then_some(FileMeta {
            size: meta.len(),
            world_readable: true,
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
            let entry = fs::read_dir(&dir)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.eq_ignore_ascii_case(part))?;
            dir.push(&entry);
            found.push(entry);
        }
        let joined = found.join("/");
        (dir.is_file() || self.omitted.contains(&joined)).then_some(joined)
    }

    fn read(&self, path: &str) -> Option<String> {
        String::from_utf8(self.read_bytes(path)?).ok()
    }

    fn read_bytes(&self, path: &str) -> Option<Vec<u8>> {
        fs::read(self.path(path)?).ok()
    }
}

fn loader(name: &str) -> Loader {
    match name {
        "isolinux" => Loader::Isolinux,
        "syslinux" => Loader::Syslinux,
        "extlinux" => Loader::Extlinux,
        _ => Loader::Pxelinux,
    }
}

fn dir_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

/// Every entry point of a tree: (config path, prefix, loader).
fn entries(t: &TreeEntry) -> Vec<(String, String, Loader)> {
    let mut out: Vec<(String, String, Loader)> = t
        .entry_points
        .iter()
        .map(|e| (e.clone(), dir_prefix(&t.prefix), loader(&t.loader)))
        .collect();
    out.extend(
        t.alt_entry
            .iter()
            .map(|a| (a.path.clone(), dir_prefix(&a.prefix), loader(&a.loader))),
    );
    out
}

fn read(view: &DirView, path: &str, prefix: &str) -> Tree {
    Tree::read(
        view,
        &[EntryPoint {
            path: path.to_string(),
            prefix: prefix.to_string(),
            mode: LintMode::Entry,
        }],
    )
}

fn view(t: &TreeEntry) -> DirView {
    DirView {
        root: corpus_dir().join(&t.name),
        omitted: t.omitted.iter().cloned().collect(),
    }
}

fn index() -> Index {
    let text = fs::read_to_string(corpus_dir().join("trees.toml")).expect("corpus index");
    toml::from_str(&text).expect("trees.toml parses")
}

/// `path:line:col: severity[code name]: message`, the form the expected files hold.
fn line(tree: &Tree, f: &Finding) -> String {
    format!("{}:{f}", tree.path(f.file))
}

#[test]
fn corpus_findings_match_the_reviewed_expectations() {
    let index = index();
    // Distinct files that exist, per tree: one file read from several entry points counts once.
    let mut files: BTreeSet<(String, String)> = BTreeSet::new();
    let bless = std::env::var_os("PXE_MENU_BLESS").is_some();
    let mut failures = String::new();
    for t in &index.tree {
        let view = view(t);
        let mut got: Vec<String> = Vec::new();
        for (path, prefix, loader) in entries(t) {
            let tree = read(&view, &path, &prefix);
            assert!(
                !tree.roots.is_empty(),
                "{}: entry point {path} not read",
                t.name
            );
            for f in tree.files() {
                if view.read_bytes(f).is_some() {
                    files.insert((t.name.clone(), f.clone()));
                }
            }
            // The corpus holds the configs (and the binaries' names in `omitted`), not the
            // kernels and images built at release time, so the files they name are not
            // checked here: the text and the tree structure are. File checks run on whole
            // trees in pxe-bin's tests (Debian's netboot package).
            let opts = LintOptions {
                loader,
                ..LintOptions::default()
            };
            for f in tree.lint(&opts) {
                let l = line(&tree, &f);
                if !got.contains(&l) {
                    got.push(l);
                }
            }
        }
        let mut text = String::new();
        for l in &got {
            let _ = writeln!(text, "{l}");
        }
        let expected_path = expected_dir().join(format!("{}.findings", t.name));
        if bless {
            fs::create_dir_all(expected_dir()).expect("mkdir");
            fs::write(&expected_path, &text).expect("write expectations");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            let want: BTreeSet<&str> = expected.lines().collect();
            let have: BTreeSet<&str> = text.lines().collect();
            let _ = writeln!(failures, "== {}", t.name);
            for l in have.difference(&want) {
                let _ = writeln!(failures, "+ {l}");
            }
            for l in want.difference(&have) {
                let _ = writeln!(failures, "- {l}");
            }
        }
    }
    let files = files.len();
    assert!(files >= 100, "the corpus reads only {files} distinct files");
    assert!(
        failures.is_empty(),
        "findings differ from tests/corpus-expected:\n{failures}"
    );
}

/// What a config boots, as the comparison sees it: each bootable label's id, what it boots
/// (see [`boots`]) and password, the default, the timeout.
#[derive(Debug, PartialEq, Eq)]
struct Meaning {
    labels: Vec<(String, String, Option<String>)>,
    default: Option<String>,
    ontimeout: Option<String>,
    timeout: i64,
}

/// A command line as the loaders read it: the type and file, the `initrd=` files (the last
/// `initrd=` counts, wherever it stands), the other words in order, and the SYSAPPEND bits.
fn boots(cmd: &str, sysappend: u32) -> String {
    let mut words = cmd.split_whitespace();
    let mut head = words.next().unwrap_or("").to_string();
    if head.starts_with('.') {
        let file = words.next().unwrap_or("");
        // LOCALBOOT's value is a uint16_t: `-1` and `0xffff` are one value.
        let file = if head == ".localboot" {
            let v = if let Some(h) = file.strip_prefix("0x") {
                i64::from_str_radix(h, 16).unwrap_or(0)
            } else {
                file.parse::<i64>().unwrap_or(0)
            };
            format!("{}", v as u16)
        } else {
            file.to_string()
        };
        head = format!("{head} {file}");
        // `LINUX f` and `KERNEL f` load the same when f's extension picks no other loader.
        let typed = [".c32", ".img", ".bss", ".bin", ".bs", ".0"];
        if let Some(f) = head.strip_prefix(".linux ")
            && !typed.iter().any(|x| f.ends_with(x))
        {
            head = f.to_string();
        }
    }
    let mut initrd = "";
    let mut rest = Vec::new();
    for w in words {
        match w.strip_prefix("initrd=") {
            Some(f) => initrd = f,
            None => rest.push(w),
        }
    }
    format!(
        "{head} | initrd={initrd} | {} | sysappend={sysappend}",
        rest.join(" ")
    )
}

fn meaning(cfg: &Config) -> Meaning {
    let r = cfg.resolve();
    let mut labels: Vec<(String, String, Option<String>)> = r
        .labels
        .iter()
        .filter(|l| !l.command_line.starts_with("MENU "))
        .map(|l| {
            (
                l.id.clone(),
                boots(&l.command_line, l.sysappend),
                l.passwd.clone(),
            )
        })
        .collect();
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    Meaning {
        labels,
        default: r
            .default
            .map(|d| d.split_whitespace().next().unwrap_or("").to_string()),
        ontimeout: r
            .ontimeout
            .map(|d| d.split_whitespace().next().unwrap_or("").to_string()),
        timeout: r.timeout,
    }
}

/// What label `id` boots in `m`, if it is a label there.
fn boots_of<'m>(m: &'m Meaning, id: Option<&str>) -> Option<&'m str> {
    m.labels
        .iter()
        .find(|(l, _, _)| Some(l.as_str()) == id)
        .map(|(_, c, _)| c.as_str())
}

#[test]
fn corpus_imports_round_trip_with_a_note_for_everything_left_out() {
    let index = index();
    let mut imported = 0usize;
    let mut refused: Vec<String> = Vec::new();
    for t in &index.tree {
        let view = view(t);
        for (path, prefix, _) in entries(t) {
            let tree = read(&view, &path, &prefix);
            let import = Menu::import_tree(&tree);
            let files = match import.menu.render() {
                Ok(files) => files,
                Err(e) => {
                    // Refused loudly (`pxe menu import` prints this): nothing is lost silently.
                    refused.push(format!("{}: {path}: {e}", t.name));
                    continue;
                }
            };
            imported += 1;
            let before = meaning(&tree.roots[0].config);
            let after = meaning(&Config::parse(&files[0].contents));
            // Every label of the original either boots the same in the render, or is named
            // in a note.
            for (id, cmd, pw) in &before.labels {
                let kept = after.labels.iter().any(|(_, c, p)| c == cmd && p == pw);
                let noted = import.notes.iter().any(|n| n.contains(&format!("`{id}`")));
                assert!(
                    kept || noted,
                    "{}: {path}: label {id} ({cmd}) neither kept nor noted\nnotes: {:#?}\nrendered:\n{}",
                    t.name,
                    import.notes,
                    files[0].contents
                );
            }
            // DEFAULT and ONTIMEOUT boot the same as before, or a note says why not.
            for (what, b, a) in [
                ("DEFAULT", &before.default, &after.default),
                ("ONTIMEOUT", &before.ontimeout, &after.ontimeout),
            ] {
                // A DEFAULT naming a module or command line (`vesamenu.c32`) rather than a
                // label is the UI, which the import carries as such.
                let Some(was) = boots_of(&before, b.as_deref()) else {
                    continue;
                };
                let same = Some(was) == boots_of(&after, a.as_deref());
                let noted = import.notes.iter().any(|n| n.contains(what));
                assert!(
                    same || noted,
                    "{}: {path}: {what} {b:?} -> {a:?} neither kept nor noted\nnotes: {:#?}",
                    t.name,
                    import.notes
                );
            }
            let timeout_kept = after.timeout == (before.timeout + 9) / 10 * 10
                || import.notes.iter().any(|n| n.contains("TIMEOUT"));
            assert!(
                timeout_kept,
                "{}: {path}: timeout {} -> {}",
                t.name, before.timeout, after.timeout
            );
        }
    }
    assert!(
        imported >= 10,
        "only {imported} entry points imported; refused: {refused:#?}"
    );
    eprintln!("{imported} imported; refused to render: {refused:#?}");
}
