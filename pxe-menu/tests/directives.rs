//! Every directive of the table parses, in any case, to the right keyword, value and scope.

use pxe_menu::{Arg, Config, ItemKind, Keyword, Scope};

fn sample_value(k: Keyword) -> &'static str {
    match k.arg() {
        Arg::Int => "10",
        Arg::Word => "file.txt",
        Arg::Rest => "some value # kept",
        Arg::Flag => "",
        Arg::Block => "HELP",
    }
}

fn mixed_case(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

#[test]
fn every_keyword_parses_in_any_case() {
    for &k in Keyword::ALL {
        for spelling in [
            k.name().to_string(),
            k.name().to_ascii_lowercase(),
            mixed_case(k.name()),
        ] {
            let value = sample_value(k);
            let spelled = spelling.replace(' ', " \t ");
            let text = format!("  {spelled}\t{value}\nENDTEXT\n");
            let cfg = Config::parse(&text);
            let item = &cfg.items[0];
            match (&item.kind, k) {
                (ItemKind::Text(b), Keyword::Text) => {
                    assert_eq!(b.kind, "HELP");
                    assert!(b.terminated);
                }
                (ItemKind::Directive(d), _) => {
                    assert_eq!(d.keyword, k, "{text:?}");
                    assert_eq!(d.value, value, "{text:?}");
                    assert_eq!(item.col, 3);
                }
                other => panic!("{text:?} parsed as {other:?}"),
            }
            // Glued to its value it is not a keyword (syslinux's looking_at needs a blank).
            if !value.is_empty() {
                let glued = Config::parse(&format!("{}X {value}", k.name()));
                assert!(matches!(glued.items[0].kind, ItemKind::Unknown(_)), "{k:?}");
            }
        }
    }
}

#[test]
fn every_keyword_lands_in_its_scope() {
    for &k in Keyword::ALL {
        if k == Keyword::Text {
            continue;
        }
        let line = format!("{} {}", k.name(), sample_value(k));
        let before = Config::parse(&format!("{line}\nLABEL x\n"));
        let inside = Config::parse(&format!("LABEL x\n{line}\n"));
        let (b, i) = (before.scopes(), inside.scopes());
        match k.scope() {
            Scope::Global => {
                assert_eq!(b.globals.len(), 1, "{k:?}");
                assert_eq!(i.globals.len(), 1, "{k:?}");
                assert!(i.labels[0].items.is_empty(), "{k:?}");
            }
            Scope::Label => {
                assert_eq!(b.orphans.len(), 1, "{k:?}");
                assert_eq!(i.labels[0].items.len(), 1, "{k:?}");
            }
            Scope::Both => {
                assert_eq!(b.globals.len(), 1, "{k:?}");
                assert_eq!(i.labels[0].items.len(), 1, "{k:?}");
            }
            Scope::Structure => {
                // It closes the open label: a KERNEL after it is ignored.
                let after = Config::parse(&format!("LABEL x\n{line}\nKERNEL k\n"));
                let s = after.scopes();
                if k == Keyword::Label {
                    assert_eq!(s.labels.len(), 2);
                    assert_eq!(s.labels[1].items.len(), 1);
                } else {
                    assert_eq!(s.orphans.len(), 1, "{k:?}");
                }
            }
        }
    }
}

#[test]
fn kernel_like_directives_set_the_type() {
    let cases = [
        ("KERNEL vmlinuz", "vmlinuz"),
        ("LINUX memdisk", ".linux memdisk"),
        ("BOOT bs.bin", ".boot bs.bin"),
        ("BSS dos.bss", ".bss dos.bss"),
        ("PXE undionly.kpxe", ".pxe undionly.kpxe"),
        ("FDIMAGE f.img", ".fdimage f.img"),
        ("COMBOOT x.com", ".comboot x.com"),
        ("COM32 chain.c32 hd0", ".com32 chain.c32 hd0"),
        ("CONFIG other.cfg dir/", ".config other.cfg dir/"),
        ("LOCALBOOT -1", ".localboot -1"),
    ];
    for (line, cmd) in cases {
        let cfg = Config::parse(&format!("LABEL x\n{line}\n"));
        assert_eq!(cfg.resolve().labels[0].command_line, cmd);
    }
}

#[test]
fn globals_resolve_with_syslinux_semantics() {
    let cfg = Config::parse(
        "SERIAL 0 115200\nUI menu.c32\nPROMPT 10 # seconds\nTIMEOUT 50\nTIMEOUT 70\nTOTALTIMEOUT 600\n\
         ONTIMEOUT b\nDEFAULT a extra # opts\nSAY hi\nMENU TITLE T\nDISPLAY boot.txt junk\n\
         SYSAPPEND 0x3\nAPPEND quiet\nLABEL a\n  KERNEL k\n  MENU HIDE\n  MENU DEFAULT\n\
         LABEL b\n  KERNEL k\n  APPEND -\n  IPAPPEND 1\n",
    );
    let r = cfg.resolve();
    assert_eq!(r.serial.as_deref(), Some("0 115200"));
    assert_eq!(r.ui.as_deref(), Some("menu.c32"));
    assert!(r.prompt);
    assert_eq!((r.timeout, r.total_timeout), (70, 600));
    assert_eq!(r.ontimeout.as_deref(), Some("b"));
    assert_eq!(r.default.as_deref(), Some("a extra # opts"));
    assert_eq!(r.display.as_deref(), Some("boot.txt"));
    assert_eq!(r.title.as_deref(), Some("T"));
    assert_eq!(r.say, ["hi"]);
    let (a, b) = (&r.labels[0], &r.labels[1]);
    assert_eq!(a.command_line, "k quiet");
    assert!(a.hidden && a.menu_default);
    assert_eq!(a.sysappend, 3);
    assert_eq!(b.command_line, "k");
    assert_eq!(b.sysappend, 1);
}
