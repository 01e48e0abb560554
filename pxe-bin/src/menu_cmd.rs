//! `pxe menu lint|render|import` (the tree on disk is [`pxe_server::menu_tree::FsTree`]).
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
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pxe_menu::{EntryPoint, Finding, LintMode, LintOptions, Menu, Severity, Tree, TreeView};

use crate::cli::{
    MenuArgs, MenuCommand, MenuImportArgs, MenuLintArgs, MenuRenderArgs, ReportFormat,
};
use crate::error::Error;
use crate::layout::write_atomic;
use pxe_server::config::Config;
use pxe_server::doctor::report::{self, Report};
use pxe_server::menu_tree::{FsTree, Overlay, tree_entries, tree_path};
use pxe_server::rendered::{OnConflict, write_rendered};

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

fn render_cmd(a: &MenuRenderArgs) -> Result<ExitCode, Error> {
    let text = fs::read_to_string(&a.menu)
        .map_err(|e| Error::io(format!("read menu {}", a.menu.display()), e))?;
    let menu = parse_menu(&text, &a.menu)?;
    let (files, findings) =
        render_menu(&menu).map_err(|e| Error::Menu(format!("{}: {e}", a.menu.display())))?;
    for f in &findings {
        eprintln!("{} ({}):{f}", a.menu.display(), pxe_menu::PXELINUX_DEFAULT);
    }
    for e in menu.entries.iter().filter(|e| !e.boot.in_pxelinux()) {
        println!(
            "note: entry {} is iPXE-only: left out of {} (a comment there says so), rendered \
             into {}",
            e.id,
            pxe_menu::PXELINUX_DEFAULT,
            menu.ipxe_script
        );
    }
    if let Some((_, grub)) = files.iter().find(|(p, _)| p == pxe_menu::GRUB_CFG) {
        for f in pxe_menu::lint_grub(grub, &|rel| a.out.join(rel).is_file()) {
            eprintln!(
                "{}: warning: {}:{}: {}",
                a.menu.display(),
                pxe_menu::GRUB_CFG,
                f.line,
                f.message
            );
        }
    }
    // Never over a file an earlier render did not write, or one edited since: a
    // distribution's boot.msg or a hand-written pxelinux.cfg/default is someone's work.
    let on_conflict = if a.force {
        OnConflict::Overwrite
    } else {
        OnConflict::Refuse
    };
    for dest in write_rendered(&a.out, &files, on_conflict)?.written {
        println!("wrote {}", dest.display());
    }
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
        let (root, path) = import_root(a)?;
        let entry = EntryPoint {
            path,
            prefix: String::new(),
            mode: LintMode::Entry,
        };
        (FsTree::new(&root), vec![entry])
    };
    let tree = Tree::read(&fs_tree, &entries);
    let mut import = Menu::import_tree(&tree);
    // pxelinux skips a config it cannot read; the import says which, as they may hold
    // entries (a wrong --root is the usual cause).
    for f in tree.files() {
        if fs_tree.read_bytes(f).is_none() {
            import.notes.push(format!(
                "{f} is not readable under {}: its entries are not imported",
                fs_tree.root().display()
            ));
        }
    }
    if import.menu.entries.is_empty() {
        for n in &import.notes {
            println!("note: {n}");
        }
        return Err(Error::Menu(format!(
            "nothing imported from {}: no entry pxe can render (see the notes); nothing written",
            a.source.display()
        )));
    }
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

/// The tree root and the config's path in it for `pxe menu import FILE`: `--root`, else the
/// directory above `pxelinux.cfg/` (where pxelinux.0 sits, which relative paths resolve
/// from; the file's own directory may be a symlink's, as in Debian's netboot tree), else the
/// file's own directory.
fn import_root(a: &MenuImportArgs) -> Result<(PathBuf, String), Error> {
    let abs = |p: &Path| {
        std::path::absolute(p).map_err(|e| Error::io(format!("resolve {}", p.display()), e))
    };
    let source = abs(&a.source)?;
    let root = match &a.root {
        Some(r) => abs(r)?,
        None => {
            let dir = source.parent().unwrap_or(Path::new("/"));
            match dir.parent() {
                Some(up) if dir.file_name().is_some_and(|n| n == "pxelinux.cfg") => {
                    up.to_path_buf()
                }
                _ => dir.to_path_buf(),
            }
        }
    };
    let rel = source.strip_prefix(&root).map_err(|_| {
        Error::Usage(format!(
            "{} is not under the root {}",
            a.source.display(),
            root.display()
        ))
    })?;
    let path = rel
        .to_str()
        .ok_or_else(|| Error::Usage(format!("{} is not UTF-8", rel.display())))?;
    Ok((root, path.to_owned()))
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
