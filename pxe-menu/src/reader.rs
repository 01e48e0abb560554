//! Reading a whole pxelinux tree the way syslinux 6 does, from the config files pxelinux really
//! loads: `INCLUDE` and `MENU INCLUDE` pasted in place (`do_include()`, `do_include_menu()` in
//! `com32/elflink/ldlinux/readconfig.c`; `do_include:` in `com32/menu/readconfig.c`), `CONFIG`
//! labels restarting with another file and working directory (`execute()` in
//! `com32/elflink/ldlinux/execute.c`), and config files passed to `menu.c32`/`vesamenu.c32`
//! on their command line (`parse_configs()` in `com32/menu/readconfig.c`).
//!
//! Sans-IO: the reader asks a [`TreeView`] for each file's bytes by path and never touches a
//! file system. Every item keeps the file and line it came from, so findings point there.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::keyword::Keyword;
use crate::lint::{Code, Finding, LintMode, LintOptions, Severity, lint, menu_module_files};
use crate::lookup::resolve_path;
use crate::parse::{Config, Item, ItemKind, is_space};
use crate::resolve::include_tag;
use crate::tree::TreeView;

/// Include nesting syslinux documents ("up to 16 levels"); deeper includes are reported and
/// not followed.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// The most items the whole tree (every config with everything it includes) may expand to; a
/// tree that includes the same files over and over, or reaches the same configs from many
/// labels, stops here with a finding instead of growing without end.
pub const MAX_TREE_ITEMS: usize = 200_000;

/// The most configs (entry points, `CONFIG` targets, menu command lines) one tree is read
/// into.
pub const MAX_ROOTS: usize = 256;

/// A config pxelinux (or menu.c32) reads from the start: its own file plus all it includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// How it is reached, which is also how it is linted.
    pub mode: LintMode,
    /// The working directory (path prefix) relative paths resolve against.
    pub prefix: String,
    /// The files read from the start, in order (one, or several for menu.c32's command line).
    pub files: Vec<u32>,
    /// Where it is reached from (file, line), for `CONFIG` and menu command lines.
    pub from: Option<(u32, u32)>,
    /// Whether an `INCLUDE` of it could not be read: a DEFAULT may name a label there, so
    /// targets are not judged.
    pub missing_includes: bool,
    /// Everything syslinux reads for it, includes pasted in place.
    pub config: Config,
}

/// A starting point for [`Tree::read`]: a config file and the path prefix it is read with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    /// The config file, relative to the tree root.
    pub path: String,
    /// The path prefix (the directory of the loader, or DHCP option 210), relative to the
    /// tree root, ending in `/` (or empty).
    pub prefix: String,
    /// How it is reached ([`LintMode::Entry`] for `pxelinux.cfg/...`, [`LintMode::Fragment`]
    /// for a file linted on its own that only makes sense included).
    pub mode: LintMode,
}

/// A tree read from its entry points.
///
/// ```
/// use pxe_menu::{Code, EntryPoint, LintMode, LintOptions, MemTree, Tree};
/// let mut t = MemTree::new();
/// t.insert_text("pxelinux.cfg/default", "UI menu.c32\nINCLUDE common.cfg\nDEFAULT a\n");
/// t.insert_text("common.cfg", "LABEL a\n KERNEL vmlinuz\n APPEND quiet\nTIMEOUT 50s\n");
/// for f in ["pxelinux.0", "ldlinux.c32", "menu.c32", "libutil.c32", "libcom32.c32", "vmlinuz"] {
///     t.insert(f, 1000);
/// }
/// let tree = Tree::read(&t, &[EntryPoint {
///     path: "pxelinux.cfg/default".into(),
///     prefix: String::new(),
///     mode: LintMode::Entry,
/// }]);
/// let findings = tree.lint(&LintOptions { tree: Some(&t), ..LintOptions::default() });
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].code, Code::NumberSyntax);
/// assert_eq!((tree.path(findings[0].file), findings[0].line), ("common.cfg", 4));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    files: Vec<String>,
    /// The configs read, entry points first, then `CONFIG` targets and menu command lines
    /// in the order they were found.
    pub roots: Vec<Root>,
    /// What reading found (include loops, depth, files included twice).
    pub findings: Vec<Finding>,
    /// Items read so far, over all roots ([`MAX_TREE_ITEMS`] + 1 once the budget is spent and
    /// reported).
    items: usize,
}

/// A config still to read: its files, prefix, mode and where it is reached from.
type Pending = (Vec<String>, String, LintMode, Option<(u32, u32)>);

/// State while one root is flattened.
struct Flatten<'v> {
    view: &'v dyn TreeView,
    prefix: String,
    items: Vec<Item>,
    non_utf8: Vec<(u32, u32)>,
    stack: Vec<u32>,
    first_included_at: BTreeMap<u32, (u32, u32)>,
    missing: bool,
}

impl Tree {
    /// Reads the tree from `entries`, following everything syslinux follows. Files that
    /// cannot be read are skipped, as syslinux skips them; the lint reports them.
    pub fn read(view: &dyn TreeView, entries: &[EntryPoint]) -> Tree {
        let mut tree = Tree::default();
        let mut cache: BTreeMap<u32, Option<Config>> = BTreeMap::new();
        let mut pending: Vec<Pending> = entries
            .iter()
            .map(|e| (alloc::vec![e.path.clone()], e.prefix.clone(), e.mode, None))
            .collect();
        pending.reverse();
        // Each config (by the files it resolves to) is read once, however many labels reach
        // it and with whatever working directory: a config reached again adds no new lines.
        let mut seen: alloc::collections::BTreeSet<Vec<String>> = Default::default();
        while let Some((paths, prefix, mode, from)) = pending.pop() {
            if tree.roots.len() >= MAX_ROOTS || tree.items >= MAX_TREE_ITEMS {
                break;
            }
            if !seen.insert(paths.clone()) {
                continue;
            }
            let root = tree.read_root(view, &mut cache, &paths, &prefix, mode, from);
            let Some(root) = root else { continue };
            // What this config starts from here: CONFIG targets and menu command lines.
            let mut found = tree.discover(&root);
            found.reverse();
            pending.splice(0..0, found);
            tree.roots.push(root);
        }
        tree
    }

    /// The path of file `index` (as [`Item::file`] and [`Finding::file`] hold it).
    pub fn path(&self, index: u32) -> &str {
        self.files
            .get(usize::try_from(index).unwrap_or(usize::MAX))
            .map_or("", String::as_str)
    }

    /// Every file read (or tried), by index.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The index of `path`, if the reader met it.
    pub fn index_of(&self, path: &str) -> Option<u32> {
        self.files
            .iter()
            .position(|f| f == path)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Lints every root with `opts` (its `prefix`, `mode` and `includes_read` are set per
    /// root) and adds what the reader found. Sorted by file and line, each finding once.
    pub fn lint(&self, opts: &LintOptions<'_>) -> Vec<Finding> {
        let mut out = self.findings.clone();
        for root in &self.roots {
            let o = LintOptions {
                mode: root.mode,
                includes_read: !root.missing_includes,
                files: &self.files,
                prefix: &root.prefix,
                ..*opts
            };
            out.extend(lint(&root.config, &o));
        }
        out.sort_by(|a, b| {
            (a.file, a.line, a.col, a.code, &a.message)
                .cmp(&(b.file, b.line, b.col, b.code, &b.message))
        });
        out.dedup();
        out
    }

    fn index(&mut self, path: &str) -> u32 {
        if let Some(i) = self.index_of(path) {
            return i;
        }
        self.files.push(path.to_string());
        u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX)
    }

    fn read_root(
        &mut self,
        view: &dyn TreeView,
        cache: &mut BTreeMap<u32, Option<Config>>,
        paths: &[String],
        prefix: &str,
        mode: LintMode,
        from: Option<(u32, u32)>,
    ) -> Option<Root> {
        let mut f = Flatten {
            view,
            prefix: prefix.to_string(),
            items: Vec::new(),
            non_utf8: Vec::new(),
            stack: Vec::new(),
            first_included_at: BTreeMap::new(),
            missing: false,
        };
        let mut files = Vec::new();
        for p in paths {
            let idx = self.index(p);
            if self.load(view, cache, idx).is_some() {
                files.push(idx);
                self.flatten(cache, &mut f, idx);
            }
        }
        if files.is_empty() {
            return None;
        }
        Some(Root {
            mode,
            prefix: prefix.to_string(),
            files,
            from,
            missing_includes: f.missing,
            config: Config {
                items: f.items,
                non_utf8_lines: f.non_utf8,
            },
        })
    }

    fn load<'c>(
        &self,
        view: &dyn TreeView,
        cache: &'c mut BTreeMap<u32, Option<Config>>,
        idx: u32,
    ) -> Option<&'c Config> {
        cache
            .entry(idx)
            .or_insert_with(|| {
                view.read_bytes(self.path(idx))
                    .map(|b| Config::parse_file(&b, idx))
            })
            .as_ref()
    }

    fn push(&mut self, code: Code, severity: Severity, item: &Item, message: String) {
        self.findings.push(Finding {
            file: item.file,
            code,
            severity,
            line: item.line,
            col: item.value_col,
            message,
            fix: None,
        });
    }

    /// Pastes file `idx` and what it includes into `f.items`.
    fn flatten(
        &mut self,
        cache: &mut BTreeMap<u32, Option<Config>>,
        f: &mut Flatten<'_>,
        idx: u32,
    ) {
        let Some(cfg) = self.load(f.view, cache, idx).cloned() else {
            return;
        };
        f.stack.push(idx);
        for (file, line) in &cfg.non_utf8_lines {
            if !f.non_utf8.contains(&(*file, *line)) {
                f.non_utf8.push((*file, *line));
            }
        }
        for item in cfg.items {
            if self.items >= MAX_TREE_ITEMS {
                if self.items == MAX_TREE_ITEMS {
                    // Once per tree: one past the budget marks it reported.
                    self.items += 1;
                    self.push(
                        Code::IncludeDepth,
                        Severity::Warning,
                        &item,
                        format!(
                            "the tree's configs and their includes expand to more than \
                             {MAX_TREE_ITEMS} lines; the rest is not read"
                        ),
                    );
                }
                break;
            }
            self.items += 1;
            let include = item
                .directive()
                .filter(|d| matches!(d.keyword, Keyword::Include | Keyword::MenuInclude))
                .map(|d| {
                    let tag = (d.keyword == Keyword::MenuInclude)
                        .then(|| include_tag(&d.value))
                        .flatten()
                        .is_some();
                    (d.keyword, d.first_word().to_string(), tag)
                });
            f.items.push(item.clone());
            let Some((keyword, name, tagged)) = include else {
                continue;
            };
            self.include(cache, f, &item, keyword, &name);
            if tagged {
                f.items.push(Item {
                    kind: ItemKind::IncludeEnd { tagged: true },
                    ..item
                });
            }
        }
        f.stack.pop();
    }

    fn include(
        &mut self,
        cache: &mut BTreeMap<u32, Option<Config>>,
        f: &mut Flatten<'_>,
        item: &Item,
        keyword: Keyword,
        name: &str,
    ) {
        let Some(path) = resolve_path(&f.prefix, name).filter(|_| !name.is_empty()) else {
            // A URL or another server: not readable here.
            f.missing |= !name.is_empty();
            return;
        };
        let target = self.index(&path);
        if f.stack.contains(&target) {
            let chain: Vec<&str> = f
                .stack
                .iter()
                .skip_while(|i| **i != target)
                .map(|i| self.path(*i))
                .collect();
            let message = format!(
                "{} `{name}` leads back to a file still being read ({} -> {path}): syslinux has \
                 no guard against this and reads it again and again until it runs out of memory",
                keyword.name(),
                chain.join(" -> ")
            );
            self.push(Code::IncludeLoop, Severity::Error, item, message);
            return;
        }
        if f.stack.len() >= MAX_INCLUDE_DEPTH {
            let message = format!(
                "{} `{name}` is nested deeper than the {MAX_INCLUDE_DEPTH} levels syslinux \
                 documents; it is not followed here",
                keyword.name()
            );
            self.push(Code::IncludeDepth, Severity::Warning, item, message);
            return;
        }
        let Some(cfg) = self.load(f.view, cache, target) else {
            f.missing = true;
            return;
        };
        // Labels that boot something (not menu lines like `MENU GOTO .top` or `MENU EXIT`,
        // which shared menu pieces repeat in every submenu and nobody boots by name).
        let defines_labels = cfg.scopes().labels.iter().any(|l| {
            l.kernel().is_some() && !l.directives().any(|(_, d)| d.keyword.is_menu_action())
        });
        match f.first_included_at.get(&target) {
            Some(&(file, line)) if defines_labels => {
                let message = format!(
                    "`{path}` is already included at {}:{line}, so every label in it is \
                     defined twice (the core boots the first of each)",
                    self.path(file)
                );
                self.push(Code::IncludedTwice, Severity::Warning, item, message);
            }
            Some(_) => {}
            None => {
                f.first_included_at.insert(target, (item.file, item.line));
            }
        }
        self.flatten(cache, f, target);
    }

    /// `CONFIG` targets and menu command lines a root leads to.
    fn discover(&mut self, root: &Root) -> Vec<Pending> {
        let mut out = Vec::new();
        let scopes = root.config.scopes();
        let prefix = root.prefix.as_str();
        for l in &scopes.labels {
            let Some((item, k)) = l.kernel() else {
                continue;
            };
            if l.action().is_some() {
                continue;
            }
            if k.keyword == Keyword::Config {
                // `.config FILE ARGS`: ARGS (the rest of the command line) is the new
                // working directory (`mangle_name(config_cwd, args)`).
                let cmd = crate::resolve::command_line(l);
                let mut words = cmd.split(is_space).filter(|w| !w.is_empty()).skip(1);
                let Some(file) = words.next() else { continue };
                let new_prefix = match words.next() {
                    Some(dir) => match resolve_path(prefix, dir) {
                        Some(p) if p.is_empty() || p.ends_with('/') => p,
                        Some(p) => format!("{p}/"),
                        None => continue,
                    },
                    None => prefix.to_string(),
                };
                if let Some(path) = resolve_path(prefix, file) {
                    out.push((
                        alloc::vec![path],
                        new_prefix,
                        LintMode::Interactive,
                        Some((item.file, item.line)),
                    ));
                }
                continue;
            }
            let files: Vec<String> = menu_module_files(l)
                .iter()
                .filter_map(|(_, f)| resolve_path(prefix, f))
                .collect();
            if !files.is_empty() {
                out.push((
                    files,
                    prefix.to_string(),
                    LintMode::Menu,
                    Some((item.file, item.line)),
                ));
            }
        }
        // `UI vesamenu.c32 a.cfg` (or a DEFAULT naming the module) hands menu.c32 its files.
        for k in [Keyword::Ui, Keyword::Default] {
            let Some((item, d)) = scopes.global(k) else {
                continue;
            };
            if !crate::lint::is_menu_module(d.first_word()) {
                continue;
            }
            let files: Vec<String> = d
                .value
                .split(is_space)
                .skip(1)
                .filter(|w| crate::lint::is_menu_file(w))
                .filter_map(|w| resolve_path(prefix, w))
                .collect();
            if !files.is_empty() {
                out.push((
                    files,
                    prefix.to_string(),
                    LintMode::Menu,
                    Some((item.file, item.line)),
                ));
            }
        }
        out
    }
}

/// Whether `name` (a file in `pxelinux.cfg/`) is one pxelinux looks up for some client
/// (`pxe_open_config()` in `core/fs/pxe/pxe.c`): `default`, a UUID, `01-` plus a MAC address,
/// or one to eight upper-case hex digits of an IPv4 address.
///
/// ```
/// use pxe_menu::is_client_config_name;
/// assert!(is_client_config_name("default"));
/// assert!(is_client_config_name("01-88-99-aa-bb-cc-dd"));
/// assert!(is_client_config_name("C0A801"));
/// assert!(!is_client_config_name("c0a801"));
/// assert!(!is_client_config_name("menu.cfg"));
/// ```
pub fn is_client_config_name(name: &str) -> bool {
    let hex_lower = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if name == "default" {
        return true;
    }
    if (1..=8).contains(&name.len()) && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
    {
        return true;
    }
    let parts: Vec<&str> = name.split('-').collect();
    let uuid =
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| hex_lower(p));
    let hw = parts.len() >= 2 && parts.iter().all(|p| p.len() == 2 && hex_lower(p));
    uuid || hw
}

/// The entry points of a pxelinux loader at `loader` (a path in the tree, e.g. `pxelinux.0` or
/// `boot/x86/pxelinux.0`): `pxelinux.cfg/default` and the per-client files among `cfg_names`
/// (the names in `pxelinux.cfg/` next to it), each read with the loader's directory as the
/// path prefix (`get_prefix()` in `core/fs/pxe/pxe.c`), which is where the loader sits, not
/// where a symlink to it points.
///
/// ```
/// use pxe_menu::entry_points;
/// let e = entry_points("boot/pxelinux.0", &["default".into(), "01-aa-bb-cc-dd-ee-ff".into(), "x.cfg".into()]);
/// assert_eq!(e.len(), 2);
/// assert_eq!((e[1].path.as_str(), e[1].prefix.as_str()), ("boot/pxelinux.cfg/default", "boot/"));
/// ```
pub fn entry_points(loader: &str, cfg_names: &[String]) -> Vec<EntryPoint> {
    let prefix = crate::lookup::path_prefix(None, loader);
    let mut names: Vec<&String> = cfg_names
        .iter()
        .filter(|n| is_client_config_name(n))
        .collect();
    // `default` last: pxelinux tries the per-client names first.
    names.sort_by_key(|n| (n.as_str() == "default", n.as_str()));
    names
        .into_iter()
        .map(|n| EntryPoint {
            path: format!("{prefix}pxelinux.cfg/{n}"),
            prefix: prefix.clone(),
            mode: LintMode::Entry,
        })
        .collect()
}

/// Whether a single config, read on its own, looks like a whole config (it has `DEFAULT` or
/// `UI`) rather than a fragment meant to be included.
pub fn looks_like_entry(cfg: &Config) -> bool {
    cfg.directives()
        .any(|(_, d)| matches!(d.keyword, Keyword::Default | Keyword::Ui))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MemTree;
    use alloc::vec;

    fn entry(path: &str) -> EntryPoint {
        EntryPoint {
            path: path.into(),
            prefix: String::new(),
            mode: LintMode::Entry,
        }
    }

    fn codes(tree: &Tree, t: &MemTree) -> Vec<(String, u32, Code)> {
        tree.lint(&LintOptions {
            tree: Some(t),
            ..LintOptions::default()
        })
        .iter()
        .map(|f| (tree.path(f.file).to_string(), f.line, f.code))
        .collect()
    }

    fn base() -> MemTree {
        let mut t = MemTree::new();
        for f in [
            "pxelinux.0",
            "ldlinux.c32",
            "menu.c32",
            "libutil.c32",
            "libcom32.c32",
            "k",
        ] {
            t.insert(f, 10);
        }
        t
    }

    #[test]
    fn include_loops_and_depth_are_reported_not_followed_forever() {
        let mut t = base();
        t.insert_text("a", "DEFAULT x\nINCLUDE b\nLABEL x\n KERNEL k\n");
        t.insert_text("b", "INCLUDE a\n");
        let tree = Tree::read(&t, &[entry("a")]);
        assert_eq!(codes(&tree, &t), [("b".to_string(), 1, Code::IncludeLoop)]);
        // A self-include.
        t.insert_text("c", "DEFAULT x\nLABEL x\n KERNEL k\nINCLUDE c\n");
        let tree = Tree::read(&t, &[entry("c")]);
        assert_eq!(codes(&tree, &t), [("c".to_string(), 4, Code::IncludeLoop)]);
        // A chain deeper than 16.
        for i in 0..20 {
            t.insert_text(&format!("d{i}"), &format!("INCLUDE d{}\n", i + 1));
        }
        t.insert_text("deep", "DEFAULT x\nLABEL x\n KERNEL k\nINCLUDE d0\n");
        let tree = Tree::read(&t, &[entry("deep")]);
        assert_eq!(
            codes(&tree, &t),
            [("d14".to_string(), 1, Code::IncludeDepth)]
        );
    }

    /// 30 KB of config that expands to 30 million lines if each `CONFIG` target and each
    /// include is read in full: b.cfg has 500 labels, a.cfg includes b.cfg 200 times, and the
    /// entry point reaches a.cfg from 300 labels with 300 working directories. One budget for
    /// the whole tree ends it with a finding; a.cfg is read once.
    fn blow_up_tree() -> MemTree {
        let mut t = base();
        let mut b = String::new();
        for i in 0..500 {
            b.push_str(&format!("LABEL b{i}\n KERNEL k\n"));
        }
        t.insert_text("b.cfg", &b);
        t.insert_text("a.cfg", &"INCLUDE /b.cfg\n".repeat(200));
        let mut d = String::from("DEFAULT d0\n");
        for i in 0..300 {
            d.push_str(&format!("LABEL d{i}\n CONFIG /a.cfg d{i}/\n"));
        }
        t.insert_text("pxelinux.cfg/default", &d);
        t
    }

    #[test]
    fn one_item_budget_for_the_whole_tree() {
        let t = blow_up_tree();
        let tree = Tree::read(&t, &[entry("pxelinux.cfg/default")]);
        let items: usize = tree.roots.iter().map(|r| r.config.items.len()).sum();
        assert!(items <= MAX_TREE_ITEMS, "{items} items");
        assert_eq!(tree.roots.len(), 2, "a.cfg read once");
        let full: Vec<_> = tree
            .findings
            .iter()
            .filter(|f| f.message.contains("expand to more than"))
            .collect();
        assert_eq!(full.len(), 1, "{full:?}");
        assert_eq!(full[0].severity, Severity::Warning);
        assert!(
            codes(&tree, &t)
                .iter()
                .any(|(f, _, c)| f == "b.cfg" && *c == Code::IncludeDepth)
        );
    }

    #[test]
    fn labels_stay_open_across_include_and_untagged_menu_include() {
        let mut t = base();
        t.insert_text(
            "pxelinux.cfg/default",
            "UI menu.c32\nDEFAULT a\nLABEL a\nINCLUDE body\nMENU INCLUDE more\nAPPEND x=1\n\
             MENU INCLUDE sub Tools\nINITRD lost\n",
        );
        t.insert_text("body", "KERNEL k\n");
        t.insert_text("more", "APPEND y=2\n");
        t.insert_text("sub", "LABEL b\n KERNEL k\nMENU LABEL B\n");
        let tree = Tree::read(&t, &[entry("pxelinux.cfg/default")]);
        let r = tree.roots[0].config.resolve();
        assert_eq!(r.labels[0].command_line, "k x=1");
        assert_eq!(r.labels[1].menu.as_deref(), Some("Tools"));
        // INITRD after the tagged include: the label in it was closed at its end.
        assert_eq!(
            codes(&tree, &t),
            [
                ("pxelinux.cfg/default".to_string(), 6, Code::Overridden),
                ("pxelinux.cfg/default".to_string(), 8, Code::OutsideLabel)
            ]
        );
    }

    #[test]
    fn config_labels_and_menu_files_are_roots() {
        let mut t = base();
        t.insert_text(
            "pxelinux.cfg/default",
            "DEFAULT m\nLABEL m\n KERNEL menu.c32\n APPEND one.menu ~\nLABEL sub\n CONFIG other/x.cfg other/\n",
        );
        t.insert_text("one.menu", "LABEL z\n KERNEL k\n");
        t.insert_text("other/x.cfg", "PROMPT 1\nLABEL y\n KERNEL k2\n");
        t.insert("other/k2", 1);
        let tree = Tree::read(&t, &[entry("pxelinux.cfg/default")]);
        let modes: Vec<(LintMode, &str)> = tree
            .roots
            .iter()
            .map(|r| (r.mode, r.prefix.as_str()))
            .collect();
        assert_eq!(
            modes,
            [
                (LintMode::Entry, ""),
                (LintMode::Menu, ""),
                (LintMode::Interactive, "other/")
            ]
        );
        assert_eq!(codes(&tree, &t), vec![]);
    }

    #[test]
    fn a_file_included_twice_with_labels_is_reported_once() {
        let mut t = base();
        t.insert_text(
            "pxelinux.cfg/default",
            "DEFAULT a\nINCLUDE l\nINCLUDE l\nINCLUDE s\nINCLUDE s\nUI menu.c32\n",
        );
        t.insert_text("l", "LABEL a\n KERNEL k\n");
        t.insert_text("s", "MENU COLOR title 1 #fff #000 none\n");
        let tree = Tree::read(&t, &[entry("pxelinux.cfg/default")]);
        assert_eq!(
            codes(&tree, &t),
            [("pxelinux.cfg/default".to_string(), 3, Code::IncludedTwice)]
        );
    }

    #[test]
    fn client_names() {
        assert!(is_client_config_name(
            "b8945908-d6a6-41a9-611d-74a6ab80b83d"
        ));
        assert!(is_client_config_name("C"));
        assert!(!is_client_config_name("C0A801649"));
        assert!(!is_client_config_name("01-AA-BB"));
    }
}
