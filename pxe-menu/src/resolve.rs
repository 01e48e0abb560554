//! What a parsed config means to syslinux: which labels exist, which directives belong to which
//! label, and the command line each label runs: `parse_config_file()` and `record()` in
//! `com32/elflink/ldlinux/readconfig.c` (the core) and `com32/menu/readconfig.c` (menu.c32).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::keyword::{Keyword, Scope};
use crate::parse::{Config, Directive, Item, ItemKind, first_word};

/// A `LABEL` and the items that attach to it.
#[derive(Debug, Clone)]
pub struct LabelScope<'a> {
    /// The `LABEL` line.
    pub item: &'a Item,
    /// The whole `LABEL` value (what menu.c32 uses).
    pub raw: &'a str,
    /// The core's label id: the first word of the value.
    pub id: &'a str,
    /// Label-scoped directives (and `TEXT` blocks) that attach to this label, in order.
    pub items: Vec<&'a Item>,
    /// The global `APPEND` in force when the label was closed: `record()` uses the global
    /// `append` of that moment for a label without its own.
    pub global_append: Option<&'a Directive>,
    /// The global `IPAPPEND`/`SYSAPPEND` in force at the `LABEL` line (`ld.ipappend =
    /// SysAppends` when the label opens).
    pub global_sysappend: Option<&'a Directive>,
    /// The tag of the submenu the label is in (`None` at the top menu).
    pub menu: Option<&'a str>,
}

impl<'a> LabelScope<'a> {
    /// The last directive of this label with `keyword` (syslinux: the last one wins).
    pub fn get(&self, keyword: Keyword) -> Option<(&'a Item, &'a Directive)> {
        self.directives()
            .filter(|(_, d)| d.keyword == keyword)
            .last()
    }

    /// The label's directives.
    pub fn directives(&self) -> impl Iterator<Item = (&'a Item, &'a Directive)> + '_ {
        self.items
            .iter()
            .filter_map(|i| i.directive().map(|d| (*i, d)))
    }

    /// The last kernel-like directive (`KERNEL`, `LINUX`, `COM32`, `LOCALBOOT`, ...).
    pub fn kernel(&self) -> Option<(&'a Item, &'a Directive)> {
        self.directives()
            .filter(|(_, d)| d.keyword.is_kernel_like())
            .last()
    }

    /// The menu action that replaces booting (`MENU EXIT`, `MENU GOTO`, `MENU QUIT`, `MENU
    /// HELP`, `MENU DISABLE`), if any. Such an entry is never looked up by its label to boot.
    pub fn action(&self) -> Option<(&'a Item, &'a Directive)> {
        self.directives()
            .filter(|(_, d)| {
                d.keyword.is_menu_action()
                    // MENU EXIT only acts inside a submenu (`ld.label && m->parent`).
                    && (d.keyword != Keyword::MenuExit || self.menu.is_some())
            })
            .last()
    }

    /// The `TEXT HELP` lines of this label, if any.
    pub fn help(&self) -> Option<&'a [String]> {
        self.items.iter().rev().find_map(|i| match &i.kind {
            ItemKind::Text(b) if first_word(&b.kind).eq_ignore_ascii_case("HELP") => {
                Some(b.lines.as_slice())
            }
            _ => None,
        })
    }
}

/// The file split into globals, labels and items that are ignored because no label is open.
#[derive(Debug, Clone, Default)]
pub struct Scopes<'a> {
    /// Directives that act globally, in order.
    pub globals: Vec<&'a Item>,
    /// Labels in file order.
    pub labels: Vec<LabelScope<'a>>,
    /// Label-scoped directives with no open label: syslinux ignores them.
    pub orphans: Vec<&'a Item>,
    /// Submenu tags from `MENU BEGIN tag`.
    pub menu_tags: Vec<&'a str>,
    /// `MENU END` lines with no submenu open: menu.c32 ignores them (`end_submenu()` stays at
    /// the top menu), so a submenu above was probably closed twice.
    pub unbalanced_ends: Vec<&'a Item>,
    /// How many `MENU BEGIN`s (or tagged `MENU INCLUDE`s) are still open at the end.
    pub unclosed_begins: usize,
    /// `MENU` entry directives between `MENU BEGIN` and the submenu's first `LABEL`: they
    /// describe the submenu's own entry (`MENU LABEL`, `MENU PASSWD`, `MENU DEFAULT`, ...).
    pub submenu_items: Vec<&'a Item>,
    /// Per-menu settings (`MENU ...`, `TIMEOUT`, `ONTIMEOUT`, `TOTALTIMEOUT`) inside a
    /// `MENU BEGIN` ... `MENU END` block: they set the submenu, not the top menu.
    pub submenu_settings: Vec<&'a Item>,
}

impl<'a> Scopes<'a> {
    /// The last global directive with `keyword`.
    pub fn global(&self, keyword: Keyword) -> Option<(&'a Item, &'a Directive)> {
        self.globals
            .iter()
            .filter_map(|i| i.directive().map(|d| (*i, d)))
            .rfind(|(_, d)| d.keyword == keyword)
    }

    /// The first label whose core id is `id` (case-sensitive; the first one wins, as in the core).
    pub fn label(&self, id: &str) -> Option<&LabelScope<'a>> {
        self.labels.iter().find(|l| l.id == id)
    }
}

impl Config {
    /// Splits the file into global, label and ignored items, following syslinux's scoping: a
    /// label runs until the next `LABEL`, `MENU BEGIN/END/SEPARATOR`, a tagged `MENU INCLUDE`
    /// (and the end of its items), or the end. An untagged `MENU INCLUDE`, like `INCLUDE`,
    /// leaves the label open (`do_include:` in `com32/menu/readconfig.c`).
    pub fn scopes(&self) -> Scopes<'_> {
        let mut s = Scopes::default();
        let mut open: Option<LabelScope<'_>> = None;
        let mut submenu_header = false;
        let mut menus: Vec<&str> = Vec::new();
        let mut global_append: Option<&Directive> = None;
        let mut global_sysappend: Option<&Directive> = None;
        for item in &self.items {
            let keyword = match &item.kind {
                ItemKind::Directive(d) => d.keyword,
                ItemKind::Text(_) => Keyword::Text,
                ItemKind::IncludeEnd { tagged: true } => {
                    close(&mut s, &mut open, global_append);
                    menus.pop();
                    submenu_header = false;
                    continue;
                }
                _ => continue,
            };
            if keyword == Keyword::MenuInclude {
                if let Some(d) = item.directive()
                    && let Some(tag) = include_tag(&d.value)
                {
                    close(&mut s, &mut open, global_append);
                    menus.push(tag);
                    s.menu_tags.push(tag);
                    submenu_header = true;
                }
                s.globals.push(item);
                continue;
            }
            match keyword.scope() {
                Scope::Structure => {
                    close(&mut s, &mut open, global_append);
                    submenu_header = keyword == Keyword::MenuBegin;
                    match keyword {
                        Keyword::MenuBegin => {
                            let tag = item.directive().map_or("", Directive::first_word);
                            menus.push(tag);
                            s.menu_tags.push(tag);
                        }
                        Keyword::MenuEnd if menus.pop().is_none() => {
                            s.unbalanced_ends.push(item);
                        }
                        _ => {}
                    }
                    if let Some(d) = item.directive()
                        && keyword == Keyword::Label
                    {
                        open = Some(LabelScope {
                            item,
                            raw: d.value.as_str(),
                            id: first_word(&d.value),
                            items: Vec::new(),
                            global_append: None,
                            global_sysappend,
                            menu: menus.last().copied(),
                        });
                    }
                }
                Scope::Global if !menus.is_empty() && per_menu(keyword) => {
                    s.submenu_settings.push(item);
                }
                Scope::Global => s.globals.push(item),
                Scope::Label => match open.as_mut() {
                    Some(l) => l.items.push(item),
                    None if submenu_header && keyword.is_menu() => s.submenu_items.push(item),
                    None => s.orphans.push(item),
                },
                Scope::Both => match open.as_mut() {
                    Some(l) => l.items.push(item),
                    None => {
                        if let Some(d) = item.directive() {
                            match d.keyword {
                                Keyword::Append => global_append = Some(d),
                                Keyword::Ipappend | Keyword::Sysappend => {
                                    global_sysappend = Some(d);
                                }
                                _ => {}
                            }
                        }
                        s.globals.push(item);
                    }
                },
            }
        }
        close(&mut s, &mut open, global_append);
        s.unclosed_begins = menus.len();
        s
    }

    /// What the file means to syslinux 6 (see [`Resolved`]).
    pub fn resolve(&self) -> Resolved {
        let s = self.scopes();
        let text = |k| s.global(k).map(|(_, d)| d.value.clone());
        let int = |k| s.global(k).map_or(0, |(_, d)| d.int());
        let labels = s
            .labels
            .iter()
            .map(|l| {
                let menu_label = l.get(Keyword::MenuLabel).map(|(_, d)| d.value.clone());
                ResolvedLabel {
                    id: l.id.to_string(),
                    display: menu_label.unwrap_or_else(|| l.raw.to_string()),
                    command_line: match l.action() {
                        Some((_, d)) => d.keyword.name().to_string() + " " + d.value.trim_end(),
                        None => command_line(l),
                    },
                    sysappend: sysappend(l),
                    passwd: l.get(Keyword::MenuPasswd).map(|(_, d)| d.value.clone()),
                    menu: l.menu.map(ToString::to_string),
                    hidden: l.get(Keyword::MenuHide).is_some(),
                    menu_default: l.get(Keyword::MenuDefault).is_some(),
                    help: l.help().map(|h| h.to_vec()),
                }
            })
            .collect();
        Resolved {
            default: text(Keyword::Default),
            ui: text(Keyword::Ui),
            prompt: int(Keyword::Prompt) != 0,
            timeout: int(Keyword::Timeout),
            total_timeout: int(Keyword::Totaltimeout),
            ontimeout: text(Keyword::Ontimeout),
            serial: text(Keyword::Serial),
            display: s
                .global(Keyword::Display)
                .map(|(_, d)| d.first_word().to_string()),
            say: s
                .globals
                .iter()
                .filter_map(|i| i.directive())
                .filter(|d| d.keyword == Keyword::Say)
                .map(|d| d.value.clone())
                .collect(),
            title: text(Keyword::MenuTitle),
            labels,
        }
    }
}

/// Records the open label (`record()`), with the global APPEND of this moment.
fn close<'a>(
    s: &mut Scopes<'a>,
    open: &mut Option<LabelScope<'a>>,
    global_append: Option<&'a Directive>,
) {
    if let Some(mut l) = open.take() {
        l.global_append = global_append;
        s.labels.push(l);
    }
}

/// The tag of `MENU INCLUDE file tag`: everything after the file name (menu.c32 passes the
/// rest of the line to `begin_submenu()`), or `None` without one.
pub(crate) fn include_tag(value: &str) -> Option<&str> {
    let v = value.trim_start_matches(crate::parse::is_space);
    let file = first_word(v);
    let rest = v
        .get(file.len()..)
        .unwrap_or("")
        .trim_start_matches(crate::parse::is_space);
    (!rest.is_empty()).then_some(rest)
}

/// Settings each (sub)menu has its own copy of in menu.c32.
fn per_menu(k: Keyword) -> bool {
    k.is_menu()
        || matches!(
            k,
            Keyword::Timeout | Keyword::Ontimeout | Keyword::Totaltimeout
        )
}

/// The command line `record()` builds for a label: `[.type ]KERNEL[ APPEND][ initrd=INITRD]`,
/// the kernel defaulting to the label id (the core's first word), the APPEND to the global
/// one in force when the label was closed (`APPEND -` = none).
pub(crate) fn command_line(l: &LabelScope<'_>) -> String {
    let mut out = String::new();
    match l.kernel() {
        Some((_, d)) => {
            if let Some(t) = d.keyword.type_specifier() {
                out.push_str(t);
                out.push(' ');
            }
            out.push_str(&d.value);
        }
        None => out.push_str(l.id),
    }
    let append = l
        .get(Keyword::Append)
        .map(|(_, d)| d.value.as_str())
        .or(l.global_append.map(|d| d.value.as_str()));
    if let Some(a) = append.filter(|a| !a.is_empty() && *a != "-") {
        out.push(' ');
        out.push_str(a);
    }
    if let Some((_, d)) = l.get(Keyword::Initrd) {
        out.push_str(" initrd=");
        out.push_str(&d.value);
    }
    out
}

/// The `IPAPPEND`/`SYSAPPEND` bits a label boots with: its own, else the global value in force
/// at its `LABEL` line (`strtoul(.., 0)`).
pub(crate) fn sysappend(l: &LabelScope<'_>) -> u32 {
    let d = l
        .directives()
        .filter(|(_, d)| matches!(d.keyword, Keyword::Ipappend | Keyword::Sysappend))
        .last()
        .map(|(_, d)| d)
        .or(l.global_sysappend);
    // strtoul into a uint32_t: wraps like C.
    d.map_or(0, |d| d.int() as u32)
}

/// The meaning of a config: what syslinux 6 does with it. Two files with equal `Resolved`
/// values boot the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Resolved {
    /// `DEFAULT` command line.
    pub default: Option<String>,
    /// `UI` module and its arguments.
    pub ui: Option<String>,
    /// `PROMPT` as the boolean it is.
    pub prompt: bool,
    /// `TIMEOUT` in tenths of a second (0 = wait forever).
    pub timeout: i64,
    /// `TOTALTIMEOUT` in tenths of a second (0 = off).
    pub total_timeout: i64,
    /// `ONTIMEOUT` command line.
    pub ontimeout: Option<String>,
    /// `SERIAL` value.
    pub serial: Option<String>,
    /// `DISPLAY` file.
    pub display: Option<String>,
    /// `SAY` lines, in order.
    pub say: Vec<String>,
    /// `MENU TITLE`.
    pub title: Option<String>,
    /// The labels in file order.
    pub labels: Vec<ResolvedLabel>,
}

/// One label as the core and the menu see it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ResolvedLabel {
    /// The core id (the first word of `LABEL`).
    pub id: String,
    /// What menu.c32 shows: `MENU LABEL`, else the whole `LABEL` value.
    pub display: String,
    /// The command line the core executes, with its type specifier (`.localboot 0`); for an
    /// entry with a menu action, that action (`MENU EXIT`, `MENU GOTO tag`, ...).
    pub command_line: String,
    /// `SYSAPPEND`/`IPAPPEND` bits in effect.
    pub sysappend: u32,
    /// `MENU PASSWD` of the entry.
    pub passwd: Option<String>,
    /// The tag of the submenu the entry is in (`None` at the top).
    pub menu: Option<String>,
    /// `MENU HIDE`.
    pub hidden: bool,
    /// `MENU DEFAULT`.
    pub menu_default: bool,
    /// `TEXT HELP` lines.
    pub help: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_first_word_and_scope_directives() {
        let cfg = Config::parse(
            "APPEND quiet\nKERNEL orphan\nLABEL Windows 7 (x)\nKERNEL memdisk\nINITRD w.iso\n\
             TIMEOUT 30\nAPPEND iso raw\nMENU SEPARATOR\nINITRD lost\nLABEL b\nKERNEL vmlinuz\n\
             LABEL c\nAPPEND -\nLABEL d\nLOCALBOOT 0\n",
        );
        let s = cfg.scopes();
        assert_eq!(s.labels.len(), 4);
        assert_eq!(s.labels[0].id, "Windows");
        assert_eq!(s.labels[0].raw, "Windows 7 (x)");
        assert_eq!(s.orphans.len(), 2);
        let r = cfg.resolve();
        assert_eq!(r.timeout, 30);
        assert_eq!(r.labels[0].command_line, "memdisk iso raw initrd=w.iso");
        assert_eq!(r.labels[0].display, "Windows 7 (x)");
        assert_eq!(r.labels[1].command_line, "vmlinuz quiet");
        assert_eq!(r.labels[2].command_line, "c");
        assert_eq!(r.labels[3].command_line, ".localboot 0 quiet");
    }

    #[test]
    fn submenu_header_directives_belong_to_the_submenu() {
        let cfg = Config::parse(
            "MENU BEGIN t\nMENU LABEL Tools\nMENU PASSWD x\nKERNEL k\nLABEL a\nMENU END\nMENU LABEL y\n",
        );
        let s = cfg.scopes();
        assert_eq!(s.submenu_items.len(), 2);
        assert_eq!(
            s.orphans.len(),
            2,
            "KERNEL in the header and MENU LABEL after MENU END"
        );
    }

    #[test]
    fn global_values_skip_label_ones() {
        let cfg = Config::parse("APPEND a\nLABEL x\nAPPEND b\nTIMEOUT 5\n");
        assert_eq!(
            cfg.global(Keyword::Append).map(|d| d.value.as_str()),
            Some("a")
        );
        assert_eq!(cfg.global(Keyword::Timeout).map(|d| d.int()), Some(5));
    }

    #[test]
    fn menu_tags_and_help() {
        let cfg = Config::parse(
            "MENU BEGIN tools\nLABEL x\nTEXT HELP\nhi\nENDTEXT\nMENU END\nSAY a\nSAY b\n",
        );
        let s = cfg.scopes();
        assert_eq!(s.menu_tags, ["tools"]);
        assert_eq!(s.labels[0].help().unwrap(), ["hi"]);
        assert_eq!(cfg.resolve().say, ["a", "b"]);
    }
}
