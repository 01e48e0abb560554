//! Turning a hand-written pxelinux config into a [`Menu`], for migrating to a generated one.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::keyword::Keyword;
use crate::lint::slug;
use crate::model::{Boot, Entry, Menu, SerialConsole, Ui};
use crate::parse::{Config, first_word, is_space};

/// The result of [`Menu::import`]: the menu, and what could not be carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The imported menu. Render it to get files that pass the lint, after reviewing `notes`.
    pub menu: Menu,
    /// One line per label or setting that changed or was left out, with its line number.
    pub notes: Vec<String>,
}

impl Menu {
    /// Imports a pxelinux config: labels become entries (a label with spaces gets a one-word
    /// id and keeps its text as the name), `INITRD`/`initrd=` become `initrd`, memdisk with an
    /// ISO becomes `memdisk-iso`, `LOCALBOOT` becomes `local-boot`, `PXE`/`.0` become `chain`.
    /// Timeouts are rounded up to whole seconds. Labels the model cannot express (COM32
    /// modules, `CONFIG`, menu actions) are left out and listed in the notes, and so is a
    /// forced `boot:` prompt without a timeout (it imports as `timeout = 0`, which renders as
    /// a deliberate wait).
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
        let s = cfg.scopes();
        let mut notes = Vec::new();
        let mut menu = Menu::starter();
        menu.entries.clear();
        menu.serial = None;
        menu.default = None;
        let global = |k| s.global(k).map(|(i, d)| (i.line, d.value.as_str()));
        if let Some((_, t)) = global(Keyword::MenuTitle) {
            menu.title = t.trim().to_string();
        }
        let tenths = global(Keyword::Timeout).map_or(0, |(_, v)| crate::parse::atoi(v));
        menu.timeout = u32::try_from((tenths.max(0) + 9) / 10).unwrap_or(u32::MAX);
        menu.ui = match global(Keyword::Ui) {
            Some((_, u)) if first_word(u).to_ascii_lowercase().ends_with("vesamenu.c32") => {
                Ui::Vesamenu
            }
            Some(_) => Ui::Menu,
            None => Ui::Prompt,
        };
        if let Some((_, v)) = global(Keyword::Serial) {
            let mut w = v.split(is_space).filter(|w| !w.is_empty());
            let port = w.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let baud = w.next().and_then(|b| b.parse().ok()).unwrap_or(9600);
            menu.serial = Some(SerialConsole { port, baud });
        }
        menu.say = s
            .globals
            .iter()
            .filter_map(|i| i.directive())
            .filter(|d| d.keyword == Keyword::Say)
            .map(|d| d.value.trim().to_string())
            .collect();
        if let Some((_, d)) = global(Keyword::Display) {
            menu.display_file = first_word(d).to_string();
        }
        let global_append = global(Keyword::Append).map(|(_, a)| a);
        let mut renamed: Vec<(&str, String)> = Vec::new();
        for l in &s.labels {
            let line = l.item.line;
            let mut id = if l.raw.trim_end() == l.id && valid_id(l.id) {
                l.id.to_string()
            } else {
                slug(l.raw)
            };
            while menu.entries.iter().any(|e| e.id == id) {
                id.push('_');
            }
            let Some(boot) = import_boot(l, global_append) else {
                notes.push(format!(
                    "line {line}: label `{}` left out: not a kind the menu model has",
                    l.raw.trim_end()
                ));
                continue;
            };
            if id != l.raw.trim_end() {
                notes.push(format!(
                    "line {line}: label `{}` is now id `{id}`",
                    l.raw.trim_end()
                ));
                renamed.push((l.id, id.clone()));
            }
            let name = l.get(Keyword::MenuLabel).map_or_else(
                || l.raw.trim().to_string(),
                |(_, d)| d.value.trim().to_string(),
            );
            menu.entries.push(Entry {
                id,
                name,
                boot,
                help: l
                    .help()
                    .map(|h| h.iter().map(|l| l.trim()).collect::<Vec<_>>().join("\n")),
                hidden: l.get(Keyword::MenuHide).is_some(),
            });
        }
        if let Some((line, d)) = global(Keyword::Default) {
            let target = first_word(d);
            let id = renamed
                .iter()
                .find(|(old, _)| *old == target)
                .map_or(target, |(_, new)| new.as_str());
            if menu.entries.iter().any(|e| e.id == id) {
                menu.default = Some(id.to_string());
            } else {
                notes.push(format!(
                    "line {line}: DEFAULT `{}` names no imported entry",
                    d.trim()
                ));
            }
        }
        // The model renders `timeout = 0` at a bare prompt as a deliberate wait, so say so when
        // the file did not (the seed's `PROMPT 10` + `TIMEOUT 0`, lint M005).
        if let Some((line, p)) = global(Keyword::Prompt)
            && crate::parse::atoi(p) != 0
            && menu.ui == Ui::Prompt
            && menu.timeout == 0
            && global(Keyword::Totaltimeout).is_none_or(|(_, v)| crate::parse::atoi(v) == 0)
        {
            notes.push(format!(
                "line {line}: boot: has no timeout, so timeout = 0 waits forever; set timeout \
                 (seconds) to boot the default unattended"
            ));
        }
        Import { menu, notes }
    }
}

impl Menu {
    /// Imports a tree read by [`crate::Tree::read`]: its first entry point's config, with
    /// everything included, as [`Menu::import`] does for one file; notes name the file and
    /// line they are about.
    pub fn import_tree(tree: &crate::Tree) -> Import {
        let Some(root) = tree.roots.first() else {
            let mut menu = Menu::starter();
            menu.entries.clear();
            return Import {
                menu,
                notes: alloc::vec!["no config could be read".into()],
            };
        };
        let mut import = Menu::import(&root.config);
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

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn import_boot(l: &crate::resolve::LabelScope<'_>, global_append: Option<&str>) -> Option<Boot> {
    let (_, k) = l.kernel()?;
    let append = l
        .get(Keyword::Append)
        .map(|(_, d)| d.value.as_str())
        .or(global_append);
    let append = append.filter(|a| a.trim() != "-").unwrap_or("");
    let mut initrd: Vec<String> = l
        .get(Keyword::Initrd)
        .map(|(_, d)| {
            d.value
                .split(',')
                .map(|f| first_word(f).to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut args = Vec::new();
    for w in append.split(is_space).filter(|w| !w.is_empty()) {
        match w.strip_prefix("initrd=") {
            // INITRD beats initrd= (menu-syntax.md §4).
            Some(files) if initrd.is_empty() => {
                initrd = files.split(',').map(ToString::to_string).collect();
            }
            Some(_) => {}
            None => args.push(w),
        }
    }
    let file = k.first_word();
    let ext = file
        .rsplit('/')
        .next()
        .and_then(|b| b.rfind('.').and_then(|i| b.get(i..)));
    match k.keyword {
        Keyword::Localboot => Some(Boot::LocalBoot),
        Keyword::Pxe => Some(Boot::Chain {
            file: file.to_string(),
        }),
        Keyword::Kernel if ext == Some(".0") => Some(Boot::Chain {
            file: file.to_string(),
        }),
        Keyword::Kernel | Keyword::Linux => {
            let memdisk = file
                .rsplit('/')
                .next()
                .is_some_and(|b| b.eq_ignore_ascii_case("memdisk"));
            if memdisk && args.contains(&"iso") && initrd.len() == 1 {
                let raw = args.contains(&"raw");
                return Some(Boot::MemdiskIso {
                    image: initrd.remove(0),
                    raw,
                });
            }
            if ext.is_some_and(|e| {
                [".c32", ".bs", ".bin", ".bss", ".img", ".com", ".cbt"].contains(&e)
            }) {
                return None;
            }
            // KERNEL may carry options after the file name too.
            let mut all: Vec<&str> = k
                .value
                .split(is_space)
                .filter(|w| !w.is_empty())
                .skip(1)
                .collect();
            all.extend(args);
            Some(Boot::Linux {
                kernel: file.to_string(),
                initrd,
                append: all.join(" "),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_the_seed_and_renders_after_review() {
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
        assert!(import.notes[2].starts_with("line 2: boot: has no timeout"));
        // What the seed's problems were is in the notes; the imported menu renders as a
        // deliberate wait at boot: with memdisk notes, which never block.
        let (_, findings) = m.render_with_findings().unwrap();
        assert!(findings.iter().all(|f| f.severity < crate::Severity::Error));
    }

    #[test]
    fn imports_menu_settings() {
        let cfg = "SERIAL 1 115200\nUI vesamenu.c32\nTIMEOUT 55\nMENU TITLE Lab\nSAY hi\n\
                   LABEL a\n MENU LABEL ^Alpha\n MENU HIDE\n KERNEL k\n TEXT HELP\n   line one\n ENDTEXT\n\
                   LABEL a\n KERNEL k2\n";
        let import = Menu::import(&Config::parse(cfg));
        let m = import.menu;
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
        assert_eq!(m.entries[0].name, "^Alpha");
        assert!(m.entries[0].hidden);
        assert_eq!(m.entries[0].help.as_deref(), Some("line one"));
        assert_eq!(m.entries[1].id, "a_");
    }
}
