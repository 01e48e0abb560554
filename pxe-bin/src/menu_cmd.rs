//! `pxe menu lint|render|import`, and [`FsTree`]: `pxe-menu`'s [`TreeView`] over a real
//! directory.
//!
//! `lint` takes a pxelinux config or a menu description (`MENU.toml`, linted as the config it
//! renders to); with `--root` it reads the tree as pxelinux does (`pxe_menu::Tree`: the config
//! pxelinux loads from next to `pxelinux.0`, everything it includes, `CONFIG` targets and
//! menu.c32's files) and checks the files they name. Without a FILE it lints every entry
//! point of the tree. `render` writes `pxelinux.cfg/default`, the DISPLAY file and the iPXE
//! script, never over a file it did not write before (`--force` to do it anyway); only lint
//! errors stop it. `import` turns a tree into a MENU.toml, printing what it leaves out.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use pxe_menu::{
    EntryPoint, FileMeta, Finding, LintMode, LintOptions, Menu, Severity, Tree, TreeView,
};

use crate::cli::{
    MenuArgs, MenuCommand, MenuImportArgs, MenuLintArgs, MenuRenderArgs, ReportFormat,
};
use crate::error::Error;
use crate::layout::write_atomic;
use pxe_server::config::Config;
use pxe_server::doctor::report::{self, Report};

/// The largest config file read (pxelinux reads them line by line; a bigger "config" is
/// something else).
const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// The file in a render's output directory listing what earlier renders wrote, one relative
/// path a line: a render overwrites only these.
pub const RENDER_RECORD: &str = ".pxe-menu-rendered";

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
struct Overlay {
    base: FsTree,
    path: String,
    bytes: Vec<u8>,
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

/// Runs `pxe menu lint`, `render` or `import`.
pub fn run(args: &MenuArgs) -> Result<ExitCode, Error> {
    match &args.command {
        MenuCommand::Lint(a) => lint_cmd(a),
        MenuCommand::Render(a) => render_cmd(a),
        MenuCommand::Import(a) => import_cmd(a),
    }
}

fn is_toml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// Parses a menu description.
pub fn parse_menu(text: &str, path: &Path) -> Result<Menu, Error> {
    toml::from_str(text).map_err(|e| Error::Menu(format!("{}: {e}", path.display())))
}

/// `path` below `root` as a tree path (`/`-separated, no leading `/`), taken lexically so a
/// symlink keeps its own place (`pxelinux.cfg/default`, not where it points).
fn tree_path(path: &Path, root: &Path) -> Option<String> {
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

/// Lints the tree at `root` from its entry points (`prefix` names the loader directory).
/// `Ok(None)` when the tree has no entry point.
pub fn lint_tree(
    root: &Path,
    prefix: Option<&str>,
) -> Result<Option<Vec<(String, Finding)>>, Error> {
    let entries = tree_entries(root, prefix);
    if entries.is_empty() {
        return Ok(None);
    }
    let fs_tree = FsTree::new(root);
    let tree = Tree::read(&fs_tree, &entries);
    let opts = LintOptions {
        tree: Some(&fs_tree),
        ..LintOptions::default()
    };
    Ok(Some(named(&tree, tree.lint(&opts))))
}

fn named(tree: &Tree, findings: Vec<Finding>) -> Vec<(String, Finding)> {
    findings
        .into_iter()
        .map(|f| (tree.path(f.file).to_string(), f))
        .collect()
}

/// Lints `file` (a pxelinux config, or a MENU.toml through its rendering). With `root`, the
/// file is read as part of the tree: the whole config when pxelinux loads it, only its own
/// findings when it is a fragment others include.
pub fn lint_file(
    file: &Path,
    root: Option<&Path>,
    prefix: Option<&str>,
) -> Result<Vec<(String, Finding)>, Error> {
    let shown = file.display().to_string();
    if is_toml(file) {
        let text = fs::read_to_string(file)
            .map_err(|e| Error::io(format!("read menu {}", file.display()), e))?;
        let menu = parse_menu(&text, file)?;
        menu.validate()
            .map_err(|e| Error::Menu(format!("{}: {e}", file.display())))?;
        // Positions are in the config the menu renders to.
        let name = format!("{shown} ({})", pxe_menu::PXELINUX_DEFAULT);
        let findings = pxe_menu::lint_str(&menu.render_pxelinux(), &LintOptions::default());
        return Ok(findings.into_iter().map(|f| (name.clone(), f)).collect());
    }
    let bytes =
        fs::read(file).map_err(|e| Error::io(format!("read menu {}", file.display()), e))?;
    let Some(root) = root else {
        let cfg = pxe_menu::Config::parse_bytes(&bytes);
        let mode = if pxe_menu::looks_like_entry(&cfg) {
            LintMode::Entry
        } else {
            LintMode::Fragment
        };
        let opts = LintOptions {
            mode,
            ..LintOptions::default()
        };
        return Ok(pxe_menu::lint(&cfg, &opts)
            .into_iter()
            .map(|f| (shown.clone(), f))
            .collect());
    };
    let entries = tree_entries(root, prefix);
    let Some(rel) = tree_path(file, root) else {
        // A config kept elsewhere, checked against the served tree: read as an entry point
        // under its own name, its includes from the tree.
        let overlay = Overlay {
            base: FsTree::new(root),
            path: shown.clone(),
            bytes,
        };
        let opts = LintOptions {
            tree: Some(&overlay),
            ..LintOptions::default()
        };
        let prefix = entries
            .first()
            .map_or_else(String::new, |e| e.prefix.clone());
        let tree = Tree::read(
            &overlay,
            &[EntryPoint {
                path: shown,
                prefix,
                mode: LintMode::Entry,
            }],
        );
        return Ok(named(&tree, tree.lint(&opts)));
    };
    let fs_tree = FsTree::new(root);
    let opts = LintOptions {
        tree: Some(&fs_tree),
        ..LintOptions::default()
    };
    let tree = Tree::read(&fs_tree, &entries);
    if let Some(idx) = tree.index_of(&rel) {
        let all = tree.lint(&opts);
        // A config pxelinux loads: everything it pulls in. A fragment: what is in it.
        let mut files = BTreeSet::from([idx]);
        for r in tree.roots.iter().filter(|r| r.files.first() == Some(&idx)) {
            files.extend(r.config.items.iter().map(|i| i.file));
        }
        let mine = all
            .into_iter()
            .filter(|f| files.contains(&f.file))
            .collect();
        return Ok(named(&tree, mine));
    }
    // Not reached from the tree's entry points: read it on its own, as what it looks like.
    let cfg = pxe_menu::Config::parse_bytes(&bytes);
    let mode = if pxe_menu::looks_like_entry(&cfg) {
        LintMode::Entry
    } else {
        LintMode::Fragment
    };
    let prefix = entries
        .first()
        .map_or_else(String::new, |e| e.prefix.clone());
    let tree = Tree::read(
        &fs_tree,
        &[EntryPoint {
            path: rel,
            prefix,
            mode,
        }],
    );
    Ok(named(&tree, tree.lint(&opts)))
}

fn lint_cmd(a: &MenuLintArgs) -> Result<ExitCode, Error> {
    let (what, findings) = match (&a.file, &a.root) {
        (Some(file), root) => (
            file.display().to_string(),
            lint_file(file, root.as_deref(), a.prefix.as_deref())?,
        ),
        (None, Some(root)) => {
            let found = lint_tree(root, a.prefix.as_deref())?.ok_or_else(|| {
                Error::Usage(format!(
                    "no pxelinux.0 (or pxelinux.cfg/default) under {}; name the config file, or \
                     the loader's directory with --prefix",
                    root.display()
                ))
            })?;
            (root.display().to_string(), found)
        }
        (None, None) => return Err(Error::Usage("give a FILE or --root DIR".into())),
    };
    let count = |s: Severity| findings.iter().filter(|(_, f)| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    match a.format {
        ReportFormat::Text => {
            for (path, f) in &findings {
                println!("{path}:{f}");
            }
            println!(
                "{what}: {errors} error(s), {warnings} warning(s), {} finding(s)",
                findings.len()
            );
        }
        ReportFormat::Json => {
            let doc = serde_json::json!({
                "file": a.file.as_ref().map(|f| f.display().to_string()),
                "root": a.root.as_ref().map(|r| r.display().to_string()),
                "errors": errors,
                "warnings": warnings,
                "findings": findings.iter().map(|(path, f)| serde_json::json!({
                    "path": path,
                    "code": f.code.id(),
                    "name": f.code.name(),
                    "severity": f.severity,
                    "line": f.line,
                    "col": f.col,
                    "message": f.message,
                    "fix": f.fix,
                })).collect::<Vec<_>>(),
            });
            println!("{doc:#}");
        }
    }
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Renders a menu description (TOML text) into `(relative path, contents)` pairs.
pub fn render_toml(text: &str) -> Result<Vec<(String, String)>, Error> {
    let menu = parse_menu(text, Path::new("menu.toml"))?;
    Ok(render_menu(&menu)?.0)
}

type Rendered = (Vec<(String, String)>, Vec<Finding>);

fn render_menu(menu: &Menu) -> Result<Rendered, Error> {
    let (files, findings) = menu
        .render_with_findings()
        .map_err(|e| Error::Menu(e.to_string()))?;
    Ok((
        files.into_iter().map(|f| (f.path, f.contents)).collect(),
        findings,
    ))
}

/// The paths earlier renders (and `pxe init`) wrote into `dir`.
pub fn rendered_record(dir: &Path) -> BTreeSet<String> {
    fs::read_to_string(dir.join(RENDER_RECORD))
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Adds `paths` to `dir`'s record of rendered files.
pub fn remember_rendered<'a>(
    dir: &Path,
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<(), Error> {
    let mut record = rendered_record(dir);
    let before = record.len();
    record.extend(paths.into_iter().map(str::to_owned));
    if record.len() == before && dir.join(RENDER_RECORD).is_file() {
        return Ok(());
    }
    let mut text = String::from("");
    for p in &record {
        text.push_str(p);
        text.push('\n');
    }
    write_atomic(&dir.join(RENDER_RECORD), text.as_bytes())
}

fn render_cmd(a: &MenuRenderArgs) -> Result<ExitCode, Error> {
    let text = fs::read_to_string(&a.menu)
        .map_err(|e| Error::io(format!("read menu {}", a.menu.display()), e))?;
    let menu = parse_menu(&text, &a.menu)?;
    let (files, findings) =
        render_menu(&menu).map_err(|e| Error::Menu(format!("{}: {e}", a.menu.display())))?;
    for f in &findings {
        eprintln!("{} ({}):{f}", a.menu.display(), pxe_menu::PXELINUX_DEFAULT);
    }
    // Never over a file an earlier render did not write: a distribution's boot.msg or a
    // hand-written pxelinux.cfg/default is someone's work.
    let record = rendered_record(&a.out);
    let foreign: Vec<&str> = files
        .iter()
        .filter(|(path, contents)| {
            let on_disk = fs::read(a.out.join(path)).ok();
            on_disk.is_some_and(|d| d != contents.as_bytes()) && !record.contains(path.as_str())
        })
        .map(|(path, _)| path.as_str())
        .collect();
    if !foreign.is_empty() && !a.force {
        return Err(Error::Menu(format!(
            "refusing to overwrite {} in {}: not written by an earlier `pxe menu render` (not \
             listed in {RENDER_RECORD}); move them away, name other files in {} (display_file, \
             ipxe_script), or pass --force",
            foreign.join(", "),
            a.out.display(),
            a.menu.display()
        )));
    }
    for (path, contents) in &files {
        let dest = a.out.join(path);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("create {}", parent.display()), e))?;
        }
        write_atomic(&dest, contents.as_bytes())?;
        println!("wrote {}", dest.display());
    }
    remember_rendered(&a.out, files.iter().map(|(p, _)| p.as_str()))?;
    Ok(ExitCode::SUCCESS)
}

fn import_cmd(a: &MenuImportArgs) -> Result<ExitCode, Error> {
    if a.out.exists() && !a.force {
        return Err(Error::Menu(format!(
            "{} exists; pass --force to replace it",
            a.out.display()
        )));
    }
    let (fs_tree, entries) = if a.source.is_dir() {
        let entries = tree_entries(&a.source, a.prefix.as_deref());
        if entries.is_empty() {
            return Err(Error::Usage(format!(
                "no pxelinux.0 (or pxelinux.cfg/default) under {}",
                a.source.display()
            )));
        }
        (FsTree::new(&a.source), entries)
    } else {
        let dir = a.source.parent().unwrap_or(Path::new("."));
        let name = a
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let entry = EntryPoint {
            path: name,
            prefix: String::new(),
            mode: LintMode::Entry,
        };
        (FsTree::new(dir), vec![entry])
    };
    let tree = Tree::read(&fs_tree, &entries);
    let import = Menu::import_tree(&tree);
    let text = toml::to_string_pretty(&import.menu)
        .map_err(|e| Error::Menu(format!("cannot write the imported menu as TOML: {e}")))?;
    write_atomic(&a.out, text.as_bytes())?;
    for n in &import.notes {
        println!("note: {n}");
    }
    if let Err(e) = import.menu.render() {
        println!(
            "warning: the imported menu does not render as it is: {e}; edit it before `pxe menu render`"
        );
    }
    println!(
        "wrote {} ({} entries, {} note(s))",
        a.out.display(),
        import.menu.entries.len(),
        import.notes.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The files of the entries only iPXE boots (`sanboot`, `wimboot`), which no pxelinux lint
/// sees: each must be in the tree, or that entry fails at boot.
fn check_ipxe_only_files(root: &Path, menu: &Menu, report: &mut Report) {
    for e in menu.entries.iter().filter(|e| !e.boot.in_pxelinux()) {
        for f in e.boot.files() {
            if root.join(f.trim_start_matches('/')).is_file() {
                continue;
            }
            let hint = match &e.boot {
                pxe_menu::Boot::Wimboot { wimboot, .. } if wimboot == f => {
                    " (wimboot is not packaged by Debian: download the latest release from \
                     https://github.com/ipxe/wimboot/releases/latest/download/wimboot into the root)"
                }
                pxe_menu::Boot::Wimboot { .. } => {
                    " (copy it from the WinPE media or the ADK's WinPE tree)"
                }
                _ => "",
            };
            report.push(
                report::Severity::Warning,
                "menu",
                format!(
                    "entry {}: {f} is not in {}{hint}; the entry fails to boot",
                    e.id,
                    root.display()
                ),
            );
        }
    }
}

/// `pxe doctor`'s menu checks: lints the served tree from its entry points (everything they
/// include, with the files they name), and checks the menu source renders to what is served.
pub fn doctor_lint(root: &Path, config: &Config, report: &mut Report) {
    match lint_tree(root, None) {
        Ok(Some(findings)) => {
            let worst = findings
                .iter()
                .filter(|(_, f)| f.severity >= Severity::Warning)
                .count();
            for (path, f) in &findings {
                let severity = match f.severity {
                    Severity::Error => report::Severity::Error,
                    Severity::Warning => report::Severity::Warning,
                    Severity::Info => continue,
                };
                report.push(
                    severity,
                    "menu",
                    format!("{}:{f}", root.join(path).display()),
                );
            }
            if worst == 0 {
                report.push(
                    report::Severity::Info,
                    "menu",
                    format!(
                        "the pxelinux configs under {} lint clean against the tree",
                        root.display()
                    ),
                );
            }
        }
        Ok(None) => {}
        Err(e) => report.push(report::Severity::Error, "menu", e.to_string()),
    }
    let Some(menu_path) = &config.menu else {
        return;
    };
    let text = fs::read_to_string(menu_path)
        .map_err(|e| Error::io(format!("read menu {}", menu_path.display()), e));
    // A menu that does not parse is reported by the render below.
    if let Ok(t) = &text
        && let Ok(menu) = parse_menu(t, menu_path)
    {
        check_ipxe_only_files(root, &menu, report);
    }
    let rendered = text.and_then(|t| {
        render_toml(&t).map_err(|e| Error::Menu(format!("{}: {e}", menu_path.display())))
    });
    match rendered {
        Ok(files) => {
            for (path, contents) in files {
                let on_disk = fs::read_to_string(root.join(&path)).ok();
                if on_disk.as_deref() != Some(contents.as_str()) {
                    report.push(
                        report::Severity::Warning,
                        "menu",
                        format!(
                            "{path} is not what {} renders to; run `pxe menu render {} --out {}`",
                            menu_path.display(),
                            menu_path.display(),
                            root.display()
                        ),
                    );
                }
            }
        }
        Err(e) => report.push(report::Severity::Error, "menu", e.to_string()),
    }
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
