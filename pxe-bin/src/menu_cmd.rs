//! `pxe menu lint|render`, and [`FsTree`]: `pxe-menu`'s [`TreeView`] over a real directory.
//!
//! `lint` takes a pxelinux config (`pxelinux.cfg/default`) or a menu description (`MENU.toml`,
//! linted as the config it renders to); with `--root` it also checks the files the menu needs
//! on the served tree. `render` writes `pxelinux.cfg/default`, the DISPLAY file and the iPXE
//! script; `pxe-menu` refuses to render a menu its own lint would flag.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use pxe_menu::{FileMeta, Finding, LintOptions, Menu, Severity, TreeView};

use crate::cli::{MenuArgs, MenuCommand, MenuLintArgs, MenuRenderArgs, ReportFormat};
use crate::doctor::{self, Report};
use crate::error::Error;
use pxe_server::config::Config;

/// A TFTP root on disk, seen the way a TFTP client sees it.
#[derive(Debug, Clone)]
pub struct FsTree {
    root: PathBuf,
}

impl FsTree {
    /// The tree below `root`.
    pub fn new(root: impl Into<PathBuf>) -> FsTree {
        FsTree { root: root.into() }
    }

    /// `path` (relative, `/`-separated) below the root, or `None` if it would leave the root.
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let rel = Path::new(path.trim_start_matches('/'));
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return None;
        }
        Some(self.root.join(rel))
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
}

/// Runs `pxe menu lint` or `pxe menu render`.
pub fn run(args: &MenuArgs) -> Result<ExitCode, Error> {
    match &args.command {
        MenuCommand::Lint(a) => lint_cmd(a),
        MenuCommand::Render(a) => render_cmd(a),
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

/// The pxelinux path prefix for a config at `file` served from `root`: the directory holding
/// `pxelinux.cfg/`, relative to the root (`""` when `pxelinux.0` sits at the root).
fn prefix_for(file: &Path, root: &Path) -> String {
    let (Ok(file), Ok(root)) = (fs::canonicalize(file), fs::canonicalize(root)) else {
        return String::new();
    };
    let Some(dir) = file.parent() else {
        return String::new();
    };
    let base = if dir.file_name().is_some_and(|n| n == "pxelinux.cfg") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    match base.strip_prefix(&root) {
        Ok(rel) if !rel.as_os_str().is_empty() => format!("{}/", rel.to_string_lossy()),
        _ => String::new(),
    }
}

/// Lints `file` (a pxelinux config, or a MENU.toml through its rendering).
pub fn lint_file(file: &Path, root: Option<&Path>) -> Result<Vec<Finding>, Error> {
    let text = fs::read_to_string(file)
        .map_err(|e| Error::io(format!("read menu {}", file.display()), e))?;
    let config_text = if is_toml(file) {
        let menu = parse_menu(&text, file)?;
        menu.validate()
            .map_err(|e| Error::Menu(format!("{}: {e}", file.display())))?;
        menu.render_pxelinux()
    } else {
        text
    };
    let tree = root.map(FsTree::new);
    let prefix = match root {
        Some(r) if !is_toml(file) => prefix_for(file, r),
        _ => String::new(),
    };
    let opts = LintOptions {
        tree: tree.as_ref().map(|t| t as &dyn TreeView),
        prefix: &prefix,
        ..LintOptions::default()
    };
    Ok(pxe_menu::lint_str(&config_text, &opts))
}

fn lint_cmd(a: &MenuLintArgs) -> Result<ExitCode, Error> {
    let findings = lint_file(&a.file, a.root.as_deref())?;
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    match a.format {
        ReportFormat::Text => {
            for f in &findings {
                if is_toml(&a.file) {
                    // Positions are in the config the menu renders to.
                    println!("{} ({}):{f}", a.file.display(), pxe_menu::PXELINUX_DEFAULT);
                } else {
                    println!("{}:{f}", a.file.display());
                }
            }
            println!(
                "{}: {errors} error(s), {warnings} warning(s), {} finding(s)",
                a.file.display(),
                findings.len()
            );
        }
        ReportFormat::Json => {
            let doc = serde_json::json!({
                "file": a.file.display().to_string(),
                "root": a.root.as_ref().map(|r| r.display().to_string()),
                "errors": errors,
                "warnings": warnings,
                "findings": findings.iter().map(|f| serde_json::json!({
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
    render_menu(&menu)
}

fn render_menu(menu: &Menu) -> Result<Vec<(String, String)>, Error> {
    Ok(menu
        .render()
        .map_err(|e| Error::Menu(e.to_string()))?
        .into_iter()
        .map(|f| (f.path, f.contents))
        .collect())
}

fn render_cmd(a: &MenuRenderArgs) -> Result<ExitCode, Error> {
    let text = fs::read_to_string(&a.menu)
        .map_err(|e| Error::io(format!("read menu {}", a.menu.display()), e))?;
    let menu = parse_menu(&text, &a.menu)?;
    let files =
        render_menu(&menu).map_err(|e| Error::Menu(format!("{}: {e}", a.menu.display())))?;
    for (path, contents) in files {
        let dest = a.out.join(&path);
        crate::init::write_atomic(&dest, contents.as_bytes())?;
        println!("wrote {}", dest.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `pxe doctor`'s menu checks: lints the served `pxelinux.cfg/default` against the tree, and
/// checks the menu source renders to what is served.
pub fn doctor_lint(root: &Path, config: &Config, report: &mut Report) {
    let served = root.join(pxe_menu::PXELINUX_DEFAULT);
    if served.is_file() {
        match lint_file(&served, Some(root)) {
            Ok(findings) => {
                let worst = findings
                    .iter()
                    .filter(|f| f.severity >= Severity::Warning)
                    .count();
                for f in &findings {
                    let severity = match f.severity {
                        Severity::Error => doctor::Severity::Error,
                        Severity::Warning => doctor::Severity::Warning,
                        Severity::Info => continue,
                    };
                    report.push(severity, "menu", format!("{}:{f}", served.display()));
                }
                if worst == 0 {
                    report.push(
                        doctor::Severity::Info,
                        "menu",
                        format!("{} lints clean against the tree", served.display()),
                    );
                }
            }
            Err(e) => report.push(doctor::Severity::Error, "menu", e.to_string()),
        }
    }
    let Some(menu_path) = &config.menu else {
        return;
    };
    let rendered = fs::read_to_string(menu_path)
        .map_err(|e| Error::io(format!("read menu {}", menu_path.display()), e))
        .and_then(|t| {
            render_toml(&t).map_err(|e| Error::Menu(format!("{}: {e}", menu_path.display())))
        });
    match rendered {
        Ok(files) => {
            for (path, contents) in files {
                let on_disk = fs::read_to_string(root.join(&path)).ok();
                if on_disk.as_deref() != Some(contents.as_str()) {
                    report.push(
                        doctor::Severity::Warning,
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
        Err(e) => report.push(doctor::Severity::Error, "menu", e.to_string()),
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
