//! Turning a hand-written pxelinux config (or a whole tree read by [`crate::Tree`]) into a
//! [`Menu`], for moving to a generated one.
//!
//! Lossless for what the model expresses; every directive it does not carry over is named in
//! a note with its file and line, never dropped silently.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::keyword::Keyword;
use crate::lint::{is_menu_module, slug};
use crate::model::{Boot, Entry, Menu, PASS_THROUGH, SerialConsole, Ui};
use crate::parse::{Config, Item, ItemKind, first_word, is_space};
use crate::resolve::{LabelScope, include_tag};

/// The result of [`Menu::import`]: the menu, and what could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The imported menu. Render it to get files that pass the lint, after reviewing `notes`.
    pub menu: Menu,
    /// One line per label or directive that changed or was left out, each starting with
    /// where it is (`line N`, or `path:N` for a tree).
    pub notes: Vec<String>,
}

/// A submenu seen while walking the items: its display name and nesting depth.
#[derive(Debug, Clone)]
struct Submenu {
    name: String,
    depth: usize,
    passwd: Option<String>,
}

struct Importer<'c> {
    cfg: &'c Config,
    /// Names files for notes (`path:line`), or `line N` for a single config.
    paths: &'c [String],
    used: BTreeSet<(u32, u32, usize)>,
    notes: Vec<String>,
}

fn key(cfg: &Config, item: &Item) -> (u32, u32, usize) {
    let idx = cfg
        .items
        .iter()
        .position(|i| core::ptr::eq(i, item))
        .unwrap_or(usize::MAX);
    (item.file, item.line, idx)
}

impl Importer<'_> {
    fn at(&self, item: &Item) -> String {
        match self
            .paths
            .get(usize::try_from(item.file).unwrap_or(usize::MAX))
        {
            Some(p) if !self.paths.is_empty() => format!("{p}:{}", item.line),
            _ => format!("line {}", item.line),
        }
    }

    fn use_item(&mut self, item: &Item) {
        let k = key(self.cfg, item);
        self.used.insert(k);
    }

    /// A note about `item`, which then counts as dealt with.
    fn note(&mut self, item: &Item, text: String) {
        let n = format!("{}: {text}", self.at(item));
        self.notes.push(n);
        self.use_item(item);
    }
}

impl Menu {
    /// Imports a pxelinux config: labels become entries (a label with spaces gets a one-word
    /// id and keeps its text as the name), `INITRD`/`initrd=` become `initrd`, memdisk with an
    /// ISO becomes `memdisk-iso`, `LOCALBOOT n` becomes `local-boot` (with `localboot = n`),
    /// `PXE`/`.0` become `chain`; `MENU PASSWD`, `IPAPPEND`/`SYSAPPEND`, `TEXT HELP`, `MENU
    /// HIDE`, submenus, `ONTIMEOUT`, `MENU MASTER PASSWD` and menu appearance lines are kept.
    /// Timeouts are rounded up to whole seconds (noted when that changes them). Everything
    /// else (COM32 modules, `CONFIG`, menu navigation entries, per-submenu settings) is left
    /// out with a note.
    ///
    /// ```
    /// use pxe_menu::{Boot, Config, Menu};
    /// let cfg = Config::parse("DEFAULT x\nLABEL Win 7\n KERNEL memdisk\n INITRD w.iso\n APPEND iso raw\n");
    /// let import = Menu::import(&cfg);
    /// let e = &import.menu.entries[0];
    /// assert_eq!((e.id.as_str(), e.name.as_str()), ("win_7", "Win 7"));
    /// assert_eq!(e.boot, Boot::MemdiskIso { image: "w.iso".into(), raw: true });
    /// assert_eq!(import.notes.len(), 2); // the renamed label, the DEFAULT that named nothing
    /// ```
    pub fn import(cfg: &Config) -> Import {
        import_config(cfg, &[])
    }

    /// Imports a tree read by [`crate::Tree::read`]: its first config, with everything it
    /// includes; notes name the file and line they are about, and the other configs it leads
    /// to (`CONFIG`, menu.c32's files) are named in notes too.
    pub fn import_tree(tree: &crate::Tree) -> Import {
        let Some(root) = tree.roots.first() else {
            let mut menu = Menu::starter();
            menu.entries.clear();
            return Import {
                menu,
                notes: alloc::vec!["no config could be read".into()],
            };
        };
        let mut import = import_config(&root.config, tree.files());
        for r in tree.roots.iter().skip(1) {
            let (file, line) = r.from.unwrap_or((0, 0));
            import.notes.push(format!(
                "{}:{line}: `{}` ({}) is another config this one leads to; it is not imported",
                tree.path(file),
                r.files.first().map_or("", |f| tree.path(*f)),
                match r.mode {
                    crate::LintMode::Interactive => "CONFIG",
                    _ => "menu.c32 command line",
                }
            ));
        }
        import
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one pass over the config, directive by directive"
)]
fn import_config(cfg: &Config, paths: &[String]) -> Import {
    let s = cfg.scopes();
    let mut im = Importer {
        cfg,
        paths,
        used: BTreeSet::new(),
        notes: Vec::new(),
    };
    let mut menu = Menu::starter();
    menu.entries.clear();
    menu.serial = None;
    menu.default = None;
    menu.timeout = 0;
    let global = |k| s.global(k);

    // The UI: a UI line, or a DEFAULT naming the menu module (the core boots it).
    let default = global(Keyword::Default);
    let ui_line = global(Keyword::Ui);
    let default_is_ui = default.is_some_and(|(_, d)| is_menu_module(d.first_word()));
    menu.ui = match (ui_line, default_is_ui) {
        (Some((_, u)), _) if first_word(&u.value).ends_with("vesamenu.c32") => Ui::Vesamenu,
        (Some((_, u)), _) if first_word(&u.value).ends_with("menu.c32") => Ui::Menu,
        (Some((i, u)), _) => {
            im.note(i, format!("UI `{}` is not a menu module the model knows; a menu.c32 menu is written instead", u.value.trim_end()));
            Ui::Menu
        }
        (None, true) if default.is_some_and(|(_, d)| d.first_word().ends_with("vesamenu.c32")) => {
            Ui::Vesamenu
        }
        (None, true) => Ui::Menu,
        (None, false) => {
            let prompt = global(Keyword::Prompt).is_some_and(|(_, d)| d.int() != 0);
            if prompt { Ui::Prompt } else { Ui::None }
        }
    };
    for k in [Keyword::Ui, Keyword::Prompt] {
        if let Some((i, _)) = global(k) {
            im.use_item(i);
        }
    }
    if let Some((i, u)) = ui_line
        && u.value.split(is_space).filter(|w| !w.is_empty()).count() > 1
    {
        im.note(
            i,
            format!(
                "the files passed to `{}` are not imported",
                u.value.trim_end()
            ),
        );
    }
    if let Some((i, t)) = global(Keyword::MenuTitle) {
        menu.title = t.value.trim().to_string();
        im.use_item(i);
    }
    if let Some((i, d)) = global(Keyword::Timeout) {
        let tenths = d.int().max(0);
        menu.timeout = u32::try_from((tenths + 9) / 10).unwrap_or(u32::MAX);
        im.use_item(i);
        if tenths % 10 != 0 {
            im.note(
                i,
                format!(
                    "TIMEOUT {tenths} (tenths of a second) becomes {} s",
                    menu.timeout
                ),
            );
        }
    }
    if let Some((i, d)) = global(Keyword::Serial) {
        let mut w = d.value.split(is_space).filter(|w| !w.is_empty());
        let port = w.next().and_then(|p| p.parse().ok());
        let baud = w.next().map_or(Some(9600), |b| b.parse().ok());
        if let (Some(port), Some(baud), None) = (port, baud, w.next()) {
            menu.serial = Some(SerialConsole { port, baud });
            im.use_item(i);
        }
    }
    for (i, d) in s
        .globals
        .iter()
        .filter_map(|i| i.directive().map(|d| (*i, d)))
    {
        match d.keyword {
            Keyword::Say => {
                menu.say.push(d.value.trim().to_string());
                im.use_item(i);
            }
            Keyword::Display => {
                menu.display_file = d.first_word().to_string();
                im.use_item(i);
            }
            Keyword::MenuMasterPasswd => {
                menu.master_passwd = Some(d.value.trim().to_string());
                im.use_item(i);
            }
            // Applied to the labels (record-time APPEND and SYSAPPEND).
            Keyword::Append | Keyword::Ipappend | Keyword::Sysappend => im.use_item(i),
            // Their contents are read in place.
            Keyword::Include => im.use_item(i),
            Keyword::MenuInclude if include_tag(&d.value).is_none() => im.use_item(i),
            Keyword::Totaltimeout if d.int() == 0 => im.use_item(i),
            k if PASS_THROUGH.contains(&k) => {
                // A tab separates words as a space does; other control characters cannot be
                // written on one line of the model.
                let value = d.value.trim_end().replace('\t', " ");
                if !value.chars().any(char::is_control) {
                    menu.pxelinux_lines
                        .push(format!("{} {value}", k.name()).trim_end().to_string());
                    im.use_item(i);
                }
            }
            _ => {}
        }
    }

    // Submenus: walk the items, keeping the chain of open submenus for each label.
    let mut chain: Vec<Submenu> = Vec::new();
    let mut label_menu: Vec<(usize, Option<Submenu>)> = Vec::new();
    let mut header = false;
    for (idx, item) in cfg.items.iter().enumerate() {
        match &item.kind {
            ItemKind::Directive(d) => match d.keyword {
                Keyword::MenuBegin => {
                    chain.push(Submenu {
                        name: d.value.trim().to_string(),
                        depth: chain.len() + 1,
                        passwd: None,
                    });
                    header = true;
                    im.use_item(item);
                }
                Keyword::MenuInclude => {
                    if let Some(tag) = include_tag(&d.value) {
                        chain.push(Submenu {
                            name: tag.trim().to_string(),
                            depth: chain.len() + 1,
                            passwd: None,
                        });
                        header = true;
                        im.use_item(item);
                    }
                }
                Keyword::MenuEnd => {
                    chain.pop();
                    header = false;
                    im.use_item(item);
                }
                Keyword::Label | Keyword::MenuSeparator => {
                    header = false;
                    if d.keyword == Keyword::Label {
                        label_menu.push((idx, chain.last().cloned()));
                    }
                }
                Keyword::MenuTitle | Keyword::MenuLabel if header => {
                    if let Some(m) = chain.last_mut() {
                        m.name = d.value.replace('^', "").trim().to_string();
                    }
                    im.use_item(item);
                }
                Keyword::MenuPasswd if header => {
                    if let Some(m) = chain.last_mut() {
                        m.passwd = Some(d.value.trim().to_string());
                    }
                    im.use_item(item);
                }
                _ => {}
            },
            ItemKind::IncludeEnd { tagged: true } => {
                chain.pop();
                header = false;
            }
            _ => {}
        }
    }
    let parent_names = |l: &LabelScope<'_>| -> Option<Submenu> {
        let idx = cfg.items.iter().position(|i| core::ptr::eq(i, l.item))?;
        label_menu
            .iter()
            .find(|(i, _)| *i == idx)
            .and_then(|(_, m)| m.clone())
    };

    let mut renamed: Vec<(&str, String)> = Vec::new();
    let mut dropped: Vec<(u32, u32, usize)> = Vec::new();
    let mut menu_default: Option<String> = None;
    for l in &s.labels {
        let mut id = if l.raw.trim_end() == l.id && valid_id(l.id) {
            l.id.to_string()
        } else {
            slug(l.raw)
        };
        while menu.entries.iter().any(|e| e.id == id) {
            id.push('_');
        }
        let Some((boot, localboot)) = import_boot(l, &mut im) else {
            dropped.push(key(cfg, l.item));
            continue;
        };
        im.use_item(l.item);
        if id != l.raw.trim_end() {
            im.note(
                l.item,
                format!("label `{}` is now id `{id}`", l.raw.trim_end()),
            );
        }
        if !renamed.iter().any(|(old, _)| *old == l.id) {
            renamed.push((l.id, id.clone()));
        }
        let name = match l.get(Keyword::MenuLabel) {
            Some((_, d)) if !d.value.trim().is_empty() => d.value.trim().to_string(),
            _ => l.raw.trim().to_string(),
        };
        let sub = parent_names(l);
        if let Some(m) = &sub
            && m.depth > 1
        {
            im.note(
                l.item,
                format!(
                    "label `{}` is in a submenu nested {} deep; it goes into one submenu `{}`",
                    l.id, m.depth, m.name
                ),
            );
        }
        let passwd = l
            .get(Keyword::MenuPasswd)
            .map(|(_, d)| d.value.trim().to_string())
            .or_else(|| sub.as_ref().and_then(|m| m.passwd.clone()));
        if l.get(Keyword::MenuPasswd).is_none() && passwd.is_some() {
            im.note(
                l.item,
                format!("label `{}` gets its submenu's MENU PASSWD", l.id),
            );
        }
        let help = l.help().map(|h| {
            h.iter()
                .map(|x| x.trim_end())
                .collect::<Vec<_>>()
                .join("\n")
        });
        for (i, d) in l.directives() {
            let used = matches!(
                d.keyword,
                Keyword::MenuLabel
                    | Keyword::MenuHide
                    | Keyword::MenuPasswd
                    | Keyword::Ipappend
                    | Keyword::Sysappend
                    | Keyword::Append
                    | Keyword::Initrd
                    | Keyword::MenuDefault
            ) || d.keyword.is_kernel_like();
            if used {
                im.use_item(i);
            }
            if d.keyword == Keyword::MenuDefault {
                if l.menu.is_none() {
                    menu_default = Some(id.clone());
                } else {
                    // A submenu's own default (`m->defentry` of that menu): the model has one
                    // default for the whole menu.
                    im.note(
                        i,
                        format!(
                            "MENU DEFAULT of label `{}` picks the default of its submenu, which \
                             the model does not keep",
                            l.id
                        ),
                    );
                }
            }
        }
        for i in &l.items {
            if matches!(i.kind, ItemKind::Text(_)) {
                im.use_item(i);
            }
        }
        menu.entries.push(Entry {
            id,
            name,
            boot,
            help,
            hidden: l.get(Keyword::MenuHide).is_some(),
            passwd,
            sysappend: crate::resolve::sysappend(l),
            submenu: sub.map(|m| m.name),
            localboot,
        });
    }
    // Submenus whose entries were not next to each other (a label in between was left out
    // is fine; the same name twice is not): the later ones get a distinct name.
    let mut seen: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for e in &mut menu.entries {
        if e.submenu != current {
            if let Some(c) = current.take() {
                seen.push(c);
            }
            current.clone_from(&e.submenu);
            if let Some(t) = &e.submenu
                && seen.contains(t)
            {
                let mut n = 2;
                while seen.contains(&format!("{t} ({n})")) {
                    n += 1;
                }
                e.submenu = Some(format!("{t} ({n})"));
                current.clone_from(&e.submenu);
            }
        } else if let (Some(c), Some(_)) = (&current, &e.submenu) {
            e.submenu = Some(c.clone());
        }
    }

    let rename = |target: &str| {
        renamed
            .iter()
            .find(|(old, _)| *old == target)
            .map(|(_, new)| new.clone())
    };
    // The default: with a menu, DEFAULT picks the highlighted entry and beats MENU DEFAULT
    // (`parse_configs()` applies it last); without one it is what boots.
    match default {
        Some((i, d)) if default_is_ui => {
            im.use_item(i);
            if d.value.split(is_space).filter(|w| !w.is_empty()).count() > 1 {
                im.note(
                    i,
                    format!(
                        "the files passed to `{}` are not imported",
                        d.value.trim_end()
                    ),
                );
            }
            menu.default = menu_default;
        }
        Some((i, d)) => {
            match rename(d.first_word()).filter(|id| menu.entries.iter().any(|e| &e.id == id)) {
                Some(id) => {
                    menu.default = Some(id);
                    im.use_item(i);
                    if d.value.trim_end() != d.first_word() {
                        im.note(
                            i,
                            format!(
                                "the options after the label in `DEFAULT {}` are not kept",
                                d.value.trim_end()
                            ),
                        );
                    }
                }
                None => im.note(
                    i,
                    format!("DEFAULT `{}` names no imported entry", d.value.trim()),
                ),
            }
        }
        None => menu.default = menu_default,
    }
    if menu.ui == Ui::None && menu.default.is_none() {
        // PROMPT 0 without a DEFAULT waits at boot: (pxelinux says so); keep that.
        menu.ui = Ui::Prompt;
    }
    if let Some((i, d)) = global(Keyword::Ontimeout) {
        match rename(d.first_word()).filter(|id| menu.entries.iter().any(|e| &e.id == id)) {
            Some(id) if d.value.trim_end() == d.first_word() => {
                menu.ontimeout = Some(id);
                im.use_item(i);
            }
            _ => im.note(
                i,
                format!(
                    "ONTIMEOUT `{}` is not an imported entry on its own",
                    d.value.trim()
                ),
            ),
        }
    }
    // The model renders `timeout = 0` at a bare prompt as a deliberate wait, so say so when
    // the file did not (a `PROMPT 10` + `TIMEOUT 0`, lint M005).
    if let Some((i, p)) = global(Keyword::Prompt)
        && p.int() != 0
        && menu.ui == Ui::Prompt
        && menu.timeout == 0
        && global(Keyword::Totaltimeout).is_none_or(|(_, d)| d.int() == 0)
    {
        im.note(
            i,
            "boot: has no timeout, so timeout = 0 waits forever; set timeout (seconds) to boot \
             the default unattended"
                .into(),
        );
    }

    // Everything not carried over, one note each.
    for (idx, item) in cfg.items.iter().enumerate() {
        let Some(d) = item.directive() else {
            if let ItemKind::Text(_) = item.kind
                && !im.used.contains(&(item.file, item.line, idx))
            {
                im.note(
                    item,
                    "a TEXT block outside a label is not carried over".into(),
                );
            }
            continue;
        };
        if im.used.contains(&(item.file, item.line, idx)) {
            continue;
        }
        // Labels left out already have their note.
        let in_dropped_label = s.labels.iter().any(|l| {
            dropped.contains(&key(cfg, l.item))
                && (core::ptr::eq(l.item, item) || l.items.iter().any(|i| core::ptr::eq(*i, item)))
        });
        if in_dropped_label {
            continue;
        }
        let text = format!("{} {}", d.keyword.name(), d.value.trim_end());
        im.note(item, format!("`{}` is not carried over", text.trim_end()));
    }
    let mut notes = im.notes;
    notes.dedup();
    Import { menu, notes }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// What a label boots, as the model says it, with its LOCALBOOT value; `None` (with a note)
/// when the model has no such kind.
fn import_boot(l: &LabelScope<'_>, im: &mut Importer<'_>) -> Option<(Boot, Option<i32>)> {
    let left_out = |im: &mut Importer<'_>, why: &str| {
        im.note(
            l.item,
            format!("label `{}` left out: {why}", l.raw.trim_end()),
        );
        None
    };
    if let Some((_, a)) = l.action() {
        return left_out(
            im,
            &format!(
                "a menu entry that does {} (the model writes its own menus)",
                a.keyword.name()
            ),
        );
    }
    if l.directives()
        .any(|(_, d)| matches!(d.keyword, Keyword::MenuDisable | Keyword::MenuDisabled))
    {
        return left_out(im, "a disabled menu line (a heading)");
    }
    let Some((_, k)) = l.kernel() else {
        return left_out(im, "no KERNEL (it boots a file named after the label)");
    };
    let cmd = crate::resolve::command_line(l);
    let mut words: Vec<&str> = cmd.split(is_space).filter(|w| !w.is_empty()).collect();
    if k.keyword.type_specifier().is_some() {
        words.remove(0);
    }
    let file = k.first_word();
    let ext = file
        .rsplit('/')
        .next()
        .and_then(|b| b.rfind('.').and_then(|i| b.get(i..)));
    match k.keyword {
        Keyword::Localboot => {
            let v = k.int() as u16;
            let value = match v {
                0 => None,
                4 => Some(4),
                5 => Some(5),
                0xffff => Some(-1),
                _ => {
                    return left_out(
                        im,
                        &format!(
                            "LOCALBOOT {} is not a value PXELINUX defines",
                            k.value.trim()
                        ),
                    );
                }
            };
            return Some((Boot::LocalBoot, value));
        }
        Keyword::Pxe => {
            return Some((
                Boot::Chain {
                    file: file.to_string(),
                },
                None,
            ));
        }
        Keyword::Kernel if ext == Some(".0") => {
            return Some((
                Boot::Chain {
                    file: file.to_string(),
                },
                None,
            ));
        }
        Keyword::Kernel | Keyword::Linux => {}
        other => {
            return left_out(
                im,
                &format!("{} is not a kind the menu model has", other.name()),
            );
        }
    }
    if ext.is_some_and(|e| [".c32", ".bs", ".bin", ".bss", ".img", ".com", ".cbt"].contains(&e)) {
        return left_out(
            im,
            &format!(
                "`{file}` is not a Linux kernel (COM32 modules and boot sectors are not in the model)"
            ),
        );
    }
    // The command line after the kernel: `initrd=` words become the initrd list (the core
    // and the Linux loader use the last one), the rest is the append line.
    let mut initrd: Vec<String> = Vec::new();
    let mut args: Vec<&str> = Vec::new();
    for w in words.iter().skip(1) {
        match w.strip_prefix("initrd=") {
            Some(files) => {
                initrd = files
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(ToString::to_string)
                    .collect()
            }
            None => args.push(w),
        }
    }
    let memdisk = file
        .rsplit('/')
        .next()
        .is_some_and(|b| b.eq_ignore_ascii_case("memdisk"));
    if memdisk {
        if args.iter().all(|a| matches!(*a, "iso" | "raw"))
            && args.contains(&"iso")
            && initrd.len() == 1
        {
            let raw = args.contains(&"raw");
            return Some((
                Boot::MemdiskIso {
                    image: initrd.remove(0),
                    raw,
                },
                None,
            ));
        }
        return left_out(
            im,
            "memdisk with options or images other than one ISO (`iso`, `raw`)",
        );
    }
    if args
        .iter()
        .any(|a| *a == "||" || *a == "&&" || *a == ";" || a.starts_with('#') || a.contains("${"))
    {
        return left_out(
            im,
            "its command line has words iPXE would read as script syntax",
        );
    }
    Some((
        Boot::Linux {
            kernel: file.to_string(),
            initrd,
            append: args.join(" "),
        },
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_the_seed_and_renders() {
        let seed = "DISPLAY boot.txt\nPROMPT 10\nTIMEOUT 0\nDEFAULT debian\nLABEL debian\n KERNEL memdisk\n\
                    INITRD iso/debian.iso\n APPEND iso\nLABEL local\n LOCALBOOT 0\n\
                    LABEL Windows 7 Install (AMD64)\n KERNEL memdisk\n INITRD iso/pxe-windows7.iso\n APPEND iso raw\n\
                    LABEL menu\n COM32 menu.c32\nLABEL net\n KERNEL vmlinuz quiet\n APPEND initrd=i.gz,j.gz x=1\n\
                    LABEL nbp\n KERNEL undi.0\n";
        let import = Menu::import(&Config::parse(seed));
        let m = &import.menu;
        assert_eq!(m.ui, Ui::Prompt);
        assert_eq!(m.timeout, 0);
        assert_eq!(m.default.as_deref(), Some("debian"));
        let ids: Vec<&str> = m.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["debian", "local", "windows_7_install_amd64", "net", "nbp"]
        );
        assert_eq!(m.entries[2].name, "Windows 7 Install (AMD64)");
        assert_eq!(
            m.entries[3].boot,
            Boot::Linux {
                kernel: "vmlinuz".into(),
                initrd: alloc::vec!["i.gz".into(), "j.gz".into()],
                append: "quiet x=1".into()
            }
        );
        assert_eq!(
            m.entries[4].boot,
            Boot::Chain {
                file: "undi.0".into()
            }
        );
        assert_eq!(import.notes.len(), 3, "{:?}", import.notes);
        assert!(import.notes[0].starts_with("line 11: label `Windows 7"));
        assert!(import.notes[1].starts_with("line 15: label `menu` left out"));
        assert!(import.notes[2].starts_with("line 2: boot: has no timeout"));
        let (_, findings) = m.render_with_findings().unwrap();
        assert!(findings.iter().all(|f| f.severity < crate::Severity::Error));
    }

    #[test]
    fn imports_menu_settings_passwords_and_submenus() {
        let cfg = "SERIAL 1 115200\nUI vesamenu.c32\nTIMEOUT 55\nMENU TITLE Lab\nSAY hi\n\
                   MENU COLOR sel 7 #ffffffff #ff000000 std\nMENU MASTER PASSWD m\nONTIMEOUT b\n\
                   LABEL a\n MENU LABEL ^Alpha\n MENU HIDE\n MENU PASSWD $1$x$y\n KERNEL k\n IPAPPEND 2\n\
                   TEXT HELP\n   line one\n ENDTEXT\n\
                   MENU BEGIN tools\n MENU TITLE Tools\n MENU PASSWD t\n LABEL b\n  LOCALBOOT -1\n\
                   LABEL back\n  MENU EXIT\nMENU END\nLABEL a\n KERNEL k2\n";
        let import = Menu::import(&Config::parse(cfg));
        let m = &import.menu;
        assert_eq!(m.ui, Ui::Vesamenu);
        assert_eq!(m.timeout, 6);
        assert_eq!(m.title, "Lab");
        assert_eq!(
            m.serial,
            Some(SerialConsole {
                port: 1,
                baud: 115_200
            })
        );
        assert_eq!(m.say, ["hi"]);
        assert_eq!(
            m.pxelinux_lines,
            ["MENU COLOR sel 7 #ffffffff #ff000000 std"]
        );
        assert_eq!(m.master_passwd.as_deref(), Some("m"));
        assert_eq!(m.ontimeout.as_deref(), Some("b"));
        let a = &m.entries[0];
        assert_eq!(
            (a.name.as_str(), a.hidden, a.sysappend),
            ("^Alpha", true, 2)
        );
        assert_eq!(a.passwd.as_deref(), Some("$1$x$y"));
        assert_eq!(a.help.as_deref(), Some("   line one"));
        let b = &m.entries[1];
        assert_eq!(
            (b.submenu.as_deref(), b.localboot, b.passwd.as_deref()),
            (Some("Tools"), Some(-1), Some("t"))
        );
        assert_eq!(m.entries[2].id, "a_");
        let notes = import.notes.join("\n");
        assert!(
            notes.contains("TIMEOUT 55 (tenths of a second) becomes 6 s"),
            "{notes}"
        );
        assert!(notes.contains("label `back` left out"), "{notes}");
        // The render keeps what was imported.
        let files = m.render().unwrap();
        let r = Config::parse(&files[0].contents).resolve();
        assert_eq!(r.labels[0].passwd.as_deref(), Some("$1$x$y"));
        assert_eq!(r.labels[0].sysappend, 2);
        assert_eq!(r.labels[1].command_line, ".localboot -1");
        assert_eq!(r.labels[1].menu.as_deref(), Some("tools"));
        assert_eq!(r.ontimeout.as_deref(), Some("b"));
        assert!(files[0].contents.contains("MENU MASTER PASSWD m\n"));
        // iPXE cannot check the password: the protected entry is not offered there.
        assert!(
            !files[2].contents.contains("\nitem a "),
            "{}",
            files[2].contents
        );
    }

    #[test]
    fn default_only_boots_at_once() {
        let import = Menu::import(&Config::parse("DEFAULT a\nLABEL a\n KERNEL k\n"));
        assert_eq!(import.menu.ui, Ui::None);
        let files = import.menu.render().unwrap();
        let r = Config::parse(&files[0].contents).resolve();
        assert!(!r.prompt);
        assert_eq!(r.default.as_deref(), Some("a"));
        assert!(import.notes.is_empty(), "{:?}", import.notes);
    }
}
