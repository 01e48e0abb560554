//! The files of a typical hand-built PXE setup (copied below) and a config pxelinux handles well.

use pxe_menu::{
    Code, Config, EntryPoint, FileMeta, Firmware, LintMode, LintOptions, MemTree, Segment,
    Severity, Tree, lint, parse_display,
};

const SEED_V1: &str = include_str!("fixtures/seed-v1.cfg");
const SEED_V2: &str = include_str!("fixtures/seed-v2.cfg");
const SEED_BOOT_TXT: &str = include_str!("fixtures/seed-boot.txt");
const GOOD: &str = include_str!("fixtures/good.cfg");

/// A hand-built /srv/tftp tree (pxelinux, menus, ISOs, and a Windows ISO added later).
fn seed_tree() -> MemTree {
    let mut t = MemTree::new();
    for f in [
        "pxelinux.0",
        "ldlinux.c32",
        "libutil.c32",
        "libcom32.c32",
        "memdisk",
        "boot.txt",
    ] {
        t.insert(f, 40_000);
    }
    t.insert("pxelinux.cfg/default", 400);
    t.insert("iso/debian.iso", 50 << 20);
    t.insert("iso/pxe-windows7.iso", 180 << 20);
    t
}

fn good_tree() -> MemTree {
    let mut t = MemTree::new();
    for f in [
        "pxelinux.0",
        "ldlinux.c32",
        "libutil.c32",
        "libcom32.c32",
        "menu.c32",
        "modules/linux.c32",
        "help.txt",
        "boot.txt",
        "debian-installer/amd64/linux",
        "debian-installer/amd64/initrd.gz",
        "memtest",
    ] {
        t.insert(f, 30_000);
    }
    t
}

fn codes(text: &str, opts: &LintOptions<'_>) -> Vec<(u32, Code)> {
    lint(&Config::parse(text), opts)
        .iter()
        .map(|f| (f.line, f.code))
        .collect()
}

#[test]
fn seed_v1_findings() {
    let tree = seed_tree();
    let opts = LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    };
    assert_eq!(
        codes(SEED_V1, &opts),
        [
            (5, Code::PromptNotBoolean),
            (5, Code::NeverAutoboots),
            (13, Code::MemdiskLinuxIso)
        ]
    );
    let f = lint(&Config::parse(SEED_V1), &opts);
    assert_eq!(
        f[0].fix.as_deref(),
        Some("PROMPT 1 and TIMEOUT 100 (TIMEOUT counts tenths of a second)")
    );
    // A note, not a warning: the lint only sees the ISO's name.
    assert_eq!(f[2].severity, Severity::Info);
    assert!(f[2].message.contains("cannot see"));
    // What pxelinux does with it.
    let r = Config::parse(SEED_V1).resolve();
    assert!(r.prompt);
    assert_eq!(r.timeout, 0);
    assert_eq!(r.display.as_deref(), Some("boot.txt"));
    assert_eq!(
        r.labels[0].command_line,
        "memdisk iso initrd=iso/debian.iso"
    );
    assert_eq!(r.labels[1].command_line, ".localboot 0");
}

#[test]
fn seed_v2_findings() {
    let tree = seed_tree();
    let opts = LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    };
    assert_eq!(
        codes(SEED_V2, &opts),
        [
            (5, Code::PromptNotBoolean),
            (5, Code::NeverAutoboots),
            (13, Code::MemdiskLinuxIso),
            (22, Code::MemdiskWindowsIso),
            (22, Code::LabelHasSpaces),
        ]
    );
    let f = lint(&Config::parse(SEED_V2), &opts);
    let label = f.iter().find(|f| f.code == Code::LabelHasSpaces).unwrap();
    assert_eq!(label.severity, Severity::Error);
    assert!(label.message.contains("only `Windows` boots it"));
    assert_eq!((label.line, label.col), (22, 7));
    assert_eq!(
        label.fix.as_deref(),
        Some("LABEL windows_7_install_amd64 + MENU LABEL Windows 7 Install (AMD64)")
    );
    assert_eq!(Config::parse(SEED_V2).resolve().labels[2].id, "Windows");
}

#[test]
fn seed_under_uefi_and_with_the_troubleshooting_problem() {
    // The classic troubleshooting item: the ISO is not readable by everybody.
    let mut tree = seed_tree();
    tree.insert_meta(
        "iso/debian.iso",
        FileMeta {
            size: 50 << 20,
            world_readable: false,
        },
    );
    let opts = LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    };
    let c = codes(SEED_V1, &opts);
    assert!(c.contains(&(15, Code::FileNotReadable)), "{c:?}");

    let opts = LintOptions {
        firmware: Firmware::Uefi,
        ..LintOptions::default()
    };
    let c = codes(SEED_V2, &opts);
    assert!(c.contains(&(14, Code::BiosOnlyOnUefi)), "{c:?}");
    assert!(c.contains(&(20, Code::LocalbootUefi)), "{c:?}");
}

#[test]
fn seed_boot_txt_is_plain_text() {
    let segs = parse_display(SEED_BOOT_TXT);
    assert_eq!(segs.len(), 1);
    let Segment::Text(t) = &segs[0] else {
        panic!("{segs:?}")
    };
    assert!(t.ends_with("debian\nlocal\n"));
}

#[test]
fn a_config_pxelinux_handles_well_has_no_findings() {
    let tree = good_tree();
    let opts = LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    };
    let f = lint(&Config::parse(GOOD), &opts);
    assert!(f.is_empty(), "{f:#?}");
    let r = Config::parse(GOOD).resolve();
    assert_eq!(r.labels.len(), 5);
    assert_eq!(r.labels[0].display, "^Debian installer (netboot)");
    assert_eq!(r.labels[0].sysappend, 2);
    assert_eq!(
        r.labels[0].help.as_deref(),
        Some(&["  Installs Debian from the network.".to_string()][..])
    );
    assert_eq!(
        r.labels[4].command_line,
        ".com32 linux.c32 wimboot initrdfile=winpe/bootmgr,winpe/bcd,winpe/boot.sdi,winpe/boot.wim"
    );
}

#[test]
fn the_fixed_seed_has_no_findings() {
    let fixed = "SERIAL 0 115200\nDISPLAY boot.txt\nPROMPT 1\nTIMEOUT 100\nDEFAULT debian\n\n\
                 LABEL debian\n  KERNEL debian-installer/amd64/linux\n  \
                 INITRD debian-installer/amd64/initrd.gz\n\n\
                 LABEL local\n  LOCALBOOT 0\n\n\
                 LABEL win7_amd64\n  COM32 linux.c32\n  \
                 APPEND wimboot initrdfile=bootmgr,boot/bcd,boot/boot.sdi,sources/boot.wim\n";
    let mut tree = seed_tree();
    tree.insert("debian-installer/amd64/linux", 6 << 20);
    tree.insert("debian-installer/amd64/initrd.gz", 30 << 20);
    tree.insert("linux.c32", 20_000);
    let opts = LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    };
    assert_eq!(codes(fixed, &opts), []);
}

/// Debian's netboot tarball: `pxelinux.cfg/default` only includes the real menu and boots
/// vesamenu.c32 by path; the modules and libraries live in the PATH directory.
#[test]
fn debian_netboot_default_has_no_findings() {
    let default = "# D-I config version 2.0\n\
                   # search path for the c32 support libraries (libcom32, libutil etc.)\n\
                   path debian-installer/amd64/boot-screens/\n\
                   include debian-installer/amd64/boot-screens/menu.cfg\n\
                   default debian-installer/amd64/boot-screens/vesamenu.c32\n\
                   prompt 0\n\
                   timeout 0\n";
    let menu = "menu hshift 4\nmenu width 70\nmenu title Debian GNU/Linux installer menu (BIOS mode)\n\
                include debian-installer/amd64/boot-screens/stdmenu.cfg\n\
                menu begin advanced\n    menu label ^Advanced options\n    menu title Advanced options\n\
                    label mainmenu\n        menu label ^Back..\n        menu exit\nmenu end\n\
                default install\nlabel install\n\tmenu label ^Install\n\
                \tkernel debian-installer/amd64/linux\n\
                \tappend vga=788 initrd=debian-installer/amd64/initrd.gz --- quiet \n";
    let stdmenu = "menu background debian-installer/amd64/boot-screens/splash.png\n\
                   menu color title\t* #FFFFFFFF *\n";
    let mut t = MemTree::new();
    t.insert_text("pxelinux.cfg/default", default);
    t.insert_text("debian-installer/amd64/boot-screens/menu.cfg", menu);
    t.insert_text("debian-installer/amd64/boot-screens/stdmenu.cfg", stdmenu);
    for f in ["pxelinux.0", "ldlinux.c32"] {
        t.insert(f, 40_000);
    }
    for f in ["linux", "initrd.gz"] {
        t.insert(&format!("debian-installer/amd64/{f}"), 20 << 20);
    }
    for f in ["vesamenu.c32", "libcom32.c32", "libutil.c32", "splash.png"] {
        t.insert(&format!("debian-installer/amd64/boot-screens/{f}"), 40_000);
    }
    let read = |t: &MemTree| {
        Tree::read(
            t,
            &[EntryPoint {
                path: "pxelinux.cfg/default".into(),
                prefix: String::new(),
                mode: LintMode::Entry,
            }],
        )
    };
    let tree = read(&t);
    let opts = LintOptions {
        tree: Some(&t),
        ..LintOptions::default()
    };
    // This older menu.cfg still had `default install`, which the DEFAULT after the INCLUDE
    // replaces: a note, nothing worse.
    let found = tree.lint(&opts);
    assert_eq!(
        found
            .iter()
            .map(|f| (f.line, f.code, f.severity))
            .collect::<Vec<_>>(),
        [(5, Code::Overridden, Severity::Info)]
    );
    // The included menu linted on its own, as the fragment it is: nothing.
    let menu_opts = LintOptions {
        tree: Some(&t),
        mode: LintMode::Fragment,
        ..LintOptions::default()
    };
    assert_eq!(codes(menu, &menu_opts), []);

    // Files named in included configs are checked against the tree.
    let mut no_kernel = t.clone();
    no_kernel.remove("debian-installer/amd64/linux");
    let found = read(&no_kernel).lint(&LintOptions {
        tree: Some(&no_kernel),
        ..LintOptions::default()
    });
    assert_eq!(
        found.iter().map(|f| (f.line, f.code)).collect::<Vec<_>>(),
        [(5, Code::Overridden), (15, Code::FileMissing)]
    );

    // A typo in a DEFAULT naming an included label is found.
    let typo =
        "include debian-installer/amd64/boot-screens/menu.cfg\nui vesamenu.c32\ndefault Install\n";
    assert_eq!(codes(typo, &LintOptions::default()), []);
    let mut typo_tree = t.clone();
    typo_tree.insert_text("pxelinux.cfg/default", typo);
    let found = read(&typo_tree).lint(&LintOptions {
        tree: Some(&typo_tree),
        ..LintOptions::default()
    });
    let m003 = found
        .iter()
        .find(|f| f.code == Code::UnknownTarget)
        .expect("M003");
    assert_eq!(
        m003.fix.as_deref(),
        Some("DEFAULT install (labels are case-sensitive)")
    );
}

/// The Windows label is added to `pxelinux.cfg/default` but not to `boot.txt`, the only
/// list a user sees at `boot:`.
#[test]
fn seed_boot_txt_does_not_list_the_windows_label() {
    let mut tree = seed_tree();
    tree.insert_text("boot.txt", SEED_BOOT_TXT);
    let opts = LintOptions {
        tree: Some(&tree),
        ..LintOptions::default()
    };
    assert!(
        !codes(SEED_V1, &opts)
            .iter()
            .any(|(_, c)| *c == Code::DisplayMissingLabel)
    );
    let v2 = codes(SEED_V2, &opts);
    assert!(v2.contains(&(22, Code::DisplayMissingLabel)), "{v2:?}");
    // With a menu, the DISPLAY file is not the list users go by.
    let with_ui = format!("UI menu.c32\n{SEED_V2}");
    assert!(
        !codes(&with_ui, &opts)
            .iter()
            .any(|(_, c)| *c == Code::DisplayMissingLabel)
    );
}
