//! Property tests: parse → render → parse keeps the meaning of any config, and any valid menu
//! model renders to files that pass the lint and mean what the model says.

use proptest::prelude::*;
use pxe_menu::{
    Boot, Config, Entry, Error, Firmware, ItemKind, Keyword, LintOptions, MemTree, Menu,
    SerialConsole, Severity, TreeView, Ui, lint, lint_grub,
};

fn spelling(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), name.len()).prop_map(move |up| {
        name.chars()
            .zip(up)
            .map(|(c, u)| {
                if u {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect::<String>()
            .replace(' ', "  ")
    })
}

fn config_line() -> impl Strategy<Value = String> {
    let keyword = prop::sample::select(Keyword::ALL.to_vec());
    let directive = (
        keyword,
        "[ \t]{0,3}",
        "[ \t]{1,2}",
        "[a-zA-Z0-9 #=,./:-]{0,24}",
    )
        .prop_flat_map(|(k, indent, sep, value)| {
            spelling(k.name()).prop_map(move |s| {
                if k == Keyword::Text {
                    format!("{indent}{s}{sep}HELP\n{value}\n ENDTEXT")
                } else {
                    format!("{indent}{s}{sep}{value}")
                }
            })
        });
    prop_oneof![
        6 => directive,
        1 => "[ \t]{0,2}#[a-zA-Z0-9 #]{0,20}",
        1 => "[ \t]{0,3}",
        1 => "[a-z]{1,8}[=X] [a-z ]{0,10}",
    ]
}

fn config_text() -> impl Strategy<Value = String> {
    prop::collection::vec(config_line(), 0..40).prop_map(|lines| lines.join("\n"))
}

fn kinds(cfg: &Config) -> Vec<&ItemKind> {
    cfg.items.iter().map(|i| &i.kind).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parse_render_parse_keeps_meaning(text in config_text()) {
        let first = Config::parse(&text);
        let rendered = first.to_string();
        let second = Config::parse(&rendered);
        prop_assert_eq!(kinds(&first), kinds(&second));
        prop_assert_eq!(first.resolve(), second.resolve());
        let lines = |c: &Config| {
            let mut v: Vec<_> =
                lint(c, &LintOptions::default()).into_iter().map(|f| (f.line, f.code)).collect();
            v.sort();
            v
        };
        prop_assert_eq!(lines(&first), lines(&second));
        // Rendering is a fixed point after one pass.
        prop_assert_eq!(second.to_string(), rendered);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}", lines in config_text(), prefix in "[a-z/:]{0,6}") {
        let mut tree = MemTree::new();
        tree.insert("pxelinux.0", 1).insert("A/b", 1).insert("x", 5 << 30);
        let opts = LintOptions { tree: Some(&tree), prefix: &prefix, firmware: Firmware::Uefi, ..LintOptions::default() };
        for t in [text, lines] {
            let cfg = Config::parse(&t);
            let _ = lint(&cfg, &LintOptions::default());
            let _ = lint(&cfg, &opts);
            let _ = cfg.resolve();
            let _ = Menu::import(&cfg).menu.render();
        }
    }
}

fn boot() -> impl Strategy<Value = Boot> {
    let words = || prop::collection::vec("o[a-z0-9=._-]{0,7}", 0..4).prop_map(|w| w.join(" "));
    prop_oneof![
        (
            "k[a-h0-9/]{0,10}",
            prop::collection::vec("i[a-h0-9/.]{0,8}", 0..3),
            words()
        )
            .prop_map(|(kernel, initrd, append)| Boot::Linux {
                kernel,
                initrd,
                append
            }),
        ("[a-h]{1,6}\\.iso", any::<bool>())
            .prop_map(|(image, raw)| Boot::MemdiskIso { image, raw }),
        Just(Boot::LocalBoot),
        "[a-h]{1,6}\\.kpxe".prop_map(|file| Boot::Chain { file }),
        (
            "http://h/k[a-h]{0,5}",
            prop::collection::vec("http://h/i[a-h]{0,5}", 0..2),
            words()
        )
            .prop_map(|(kernel, initrd, append)| Boot::Http {
                kernel,
                initrd,
                append
            }),
        "[a-h]{1,6}\\.iso".prop_map(|image| Boot::Sanboot { image }),
        prop::collection::vec("w[a-h/]{0,6}", 1..4).prop_map(|files| Boot::Wimboot {
            wimboot: "wimboot".into(),
            files
        }),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        "[a-z][a-z0-9_-]{0,6}",
        "E[A-Za-z0-9 ()^.-]{0,20}",
        boot(),
        prop::option::of("[A-Za-z ]{0,20}(\n[A-Za-z ]{0,20}){0,2}"),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(id, name, boot, help, hidden)| Entry {
            id,
            name,
            boot,
            help,
            hidden,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        })
}

fn menu() -> impl Strategy<Value = Menu> {
    (
        "T[A-Za-z0-9 ]{0,20}",
        // 0 (wait forever) often enough to meet the prompt UI.
        prop_oneof![Just(0u32), 0u32..600],
        prop::sample::select(vec![Ui::Menu, Ui::Vesamenu, Ui::Prompt]),
        prop::option::of((0u16..4, prop::sample::select(vec![9600u32, 115_200]))),
        prop::collection::vec("[A-Za-z0-9:-][A-Za-z0-9 :-]{0,19}", 0..3),
        prop::collection::vec(entry(), 1..8),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(
            |(title, timeout, ui, serial, say, mut entries, pick, has_default)| {
                for (i, e) in entries.iter_mut().enumerate() {
                    e.id = format!("{}{i}", e.id);
                }
                entries[0].hidden = false;
                let default = has_default.then(|| entries[pick.index(entries.len())].id.clone());
                let mut m = Menu::starter();
                m.title = title;
                m.timeout = timeout;
                m.ui = ui;
                m.serial = serial.map(|(port, baud)| SerialConsole { port, baud });
                m.say = say;
                m.entries = entries;
                m.default = default;
                m
            },
        )
}

fn expected_command_line(b: &Boot) -> String {
    match b {
        Boot::Linux {
            kernel,
            initrd,
            append,
        } => {
            let mut s = kernel.clone();
            if !initrd.is_empty() {
                s = format!("{s} initrd={}", initrd.join(","));
            }
            if !append.is_empty() {
                s = format!("{s} {append}");
            }
            s
        }
        Boot::MemdiskIso { image, raw } => {
            format!(
                "memdisk iso{} initrd={image}",
                if *raw { " raw" } else { "" }
            )
        }
        Boot::LocalBoot => ".localboot 0".into(),
        Boot::Chain { file } => format!(".pxe {file}"),
        Boot::Http { .. } | Boot::Sanboot { .. } | Boot::Wimboot { .. } => {
            unreachable!("not rendered for pxelinux")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn menus_render_lint_clean_and_mean_what_they_say(m in menu()) {
        let in_pxelinux: Vec<&Entry> = m.entries.iter().filter(|e| e.boot.in_pxelinux()).collect();
        if m.ui == Ui::Prompt && in_pxelinux.is_empty() {
            // A bare prompt with nothing pxelinux can boot is refused by validation.
            let refused = matches!(m.validate(), Err(Error::Unrenderable { field: "entries", .. }));
            prop_assert!(refused, "{:?}", m.validate());
            return Ok(());
        }
        let files = m.render().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let cfg = Config::parse(&files[0].contents);
        // Notes (what the lint cannot see inside a memdisk ISO) are fine; nothing worse.
        let findings = lint(&cfg, &LintOptions::default());
        prop_assert!(findings.iter().all(|f| f.severity == Severity::Info), "{:?}", findings);
        let r = cfg.resolve();
        let menu_ui = m.ui != Ui::Prompt;
        prop_assert_eq!(r.timeout, i64::from(m.timeout) * 10);
        prop_assert_eq!(r.prompt, !menu_ui);
        prop_assert_eq!(r.total_timeout, 0);
        prop_assert_eq!(r.say, m.say.clone());
        prop_assert_eq!(r.serial, m.serial.map(|s| format!("{} {}", s.port, s.baud)));
        prop_assert_eq!(r.title.is_some(), menu_ui);
        prop_assert_eq!(r.labels.len(), in_pxelinux.len());
        for (l, e) in r.labels.iter().zip(&in_pxelinux) {
            prop_assert_eq!(&l.id, &e.id);
            prop_assert_eq!(&l.display, if menu_ui { &e.name } else { &e.id });
            prop_assert_eq!(l.command_line.clone(), expected_command_line(&e.boot));
            prop_assert_eq!(l.hidden, menu_ui && e.hidden);
            let help = e.help.as_ref().filter(|_| menu_ui).map(|h| h.lines().map(ToString::to_string).collect::<Vec<_>>());
            prop_assert_eq!(&l.help, &help);
        }
        if let Some(d) = &r.default {
            prop_assert!(in_pxelinux.iter().any(|e| &e.id == d));
            if let Some(want) = m.default.as_ref().filter(|w| in_pxelinux.iter().any(|e| &&e.id == w)) {
                prop_assert_eq!(d, want);
            }
        }
        // The whole rendered tree, with every file the menu names, passes the tree checks too.
        let mut tree = MemTree::new();
        for f in &files {
            tree.insert_text(&f.path, &f.contents);
        }
        for f in ["pxelinux.0", "ldlinux.c32", "libutil.c32", "libcom32.c32", "menu.c32", "vesamenu.c32", "memdisk"] {
            tree.insert(f, 1000);
        }
        for e in &m.entries {
            for f in e.boot.files() {
                tree.insert(f, 1000);
            }
        }
        let with_tree = LintOptions { tree: Some(&tree), ..LintOptions::default() };
        let found = lint(&cfg, &with_tree);
        prop_assert!(found.iter().all(|f| f.severity == Severity::Info), "{:#?}", found);
        // The GRUB file too: quotes closed, blocks balanced, every file it loads in the tree.
        let grub_found = lint_grub(&files[3].contents, &|p| tree.stat(p).is_some());
        prop_assert!(grub_found.is_empty(), "{:#?}\n{}", grub_found, files[3].contents);
        let ipxe = &files[2].contents;
        for e in &m.entries {
            let section = format!("\n:{}\n", e.id);
            prop_assert!(ipxe.contains(&section));
            let item = ipxe.lines().filter_map(|l| l.strip_prefix("item ")).any(|l| {
                let l = l.strip_prefix("--key ").and_then(|k| k.split_once(' ')).map_or(l, |(_, rest)| rest);
                l.split(' ').next() == Some(e.id.as_str())
            });
            // A hidden default is listed too: iPXE's timeout can only pick a listed item.
            let ipxe_default = m.default.clone().or_else(|| m.entries.iter().find(|e| !e.hidden).map(|e| e.id.clone()));
            prop_assert_eq!(item, !e.hidden || ipxe_default.as_deref() == Some(e.id.as_str()));
        }
    }

    #[test]
    fn menus_survive_toml(m in menu()) {
        let text = toml::to_string(&m).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let back: Menu = toml::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// model → pxelinux text → import gives the model back (for what pxelinux can express).
    #[test]
    fn render_then_import_gives_the_menu_back(m in menu()) {
        let mut m = m;
        if m.ui == Ui::Prompt {
            m.ui = Ui::Menu;
        }
        m.entries.retain(|e| e.boot.in_pxelinux());
        prop_assume!(m.entries.iter().any(|e| !e.hidden));
        if m.default.as_ref().is_some_and(|d| !m.entries.iter().any(|e| &e.id == d)) {
            m.default = None;
        }
        let files = m.render().map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let imported = Menu::import(&Config::parse(&files[0].contents));
        prop_assert!(imported.notes.is_empty(), "{:?}", imported.notes);
        let mut want = m.clone();
        want.title = want.title.trim().to_string();
        want.say = want.say.iter().map(|s| s.trim().to_string()).collect();
        want.default = want.default.or_else(|| m.entries.iter().find(|e| !e.hidden).map(|e| e.id.clone()));
        for e in &mut want.entries {
            e.name = e.name.trim().to_string();
            e.help = e.help.as_ref().map(|h| h.lines().map(str::trim_end).collect::<Vec<_>>().join("\n"));
        }
        prop_assert_eq!(imported.menu, want);
    }
}
