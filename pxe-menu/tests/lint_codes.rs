//! Every lint code fires on a config that has the problem and stays quiet on its fixed form.

use pxe_menu::{Code, Config, FileMeta, Firmware, LintOptions, MemTree, lint};

/// Global lines that keep the other checks quiet (a DEFAULT, a timeout).
const HEAD: &str = "DEFAULT a\nTIMEOUT 50\n";
/// A label `a` that is fine.
const LABEL_A: &str = "LABEL a\n  KERNEL vmlinuz\n";

fn has(code: Code, text: &str, opts: &LintOptions<'_>) -> bool {
    lint(&Config::parse(text), opts)
        .iter()
        .any(|f| f.code == code)
}

fn check(code: Code, bad: &str, good: &str, opts: &LintOptions<'_>) {
    assert!(
        has(code, bad, opts),
        "{code} should fire on:\n{bad}\n{:#?}",
        lint(&Config::parse(bad), opts)
    );
    let found = lint(&Config::parse(good), opts);
    assert!(
        found.iter().all(|f| f.code != code),
        "{code} should not fire on:\n{good}\n{found:#?}"
    );
}

fn text(code: Code, bad: &str, good: &str) {
    check(code, bad, good, &LintOptions::default());
}

#[test]
fn text_checks() {
    let h = HEAD;
    let a = LABEL_A;
    // Without a menu people type the first word at boot:; with one, the rest is display text.
    text(
        Code::LabelHasSpaces,
        &format!("{h}LABEL a b\n  KERNEL k\n"),
        &format!("{h}UI menu.c32\nLABEL a b # c\n  KERNEL k\n"),
    );
    text(
        Code::DuplicateLabel,
        &format!("{h}{a}LABEL a\n  KERNEL k\n"),
        &format!("{h}{a}LABEL b\n  KERNEL k\n"),
    );
    text(
        Code::DuplicateLabel,
        &format!("{h}{a}LABEL a x\n  KERNEL k\n"),
        &format!("{h}{a}LABEL a x\n  KERNEL vmlinuz\n"),
    );
    text(
        Code::UnknownTarget,
        &format!("DEFAULT A\nTIMEOUT 5\n{a}"),
        &format!("{h}{a}"),
    );
    text(
        Code::UnknownTarget,
        &format!("{h}ONTIMEOUT b\n{a}"),
        &format!("{h}ONTIMEOUT a\n{a}"),
    );
    text(
        Code::UnknownTarget,
        &format!("UI menu.c32\n{a}  MENU GOTO nowhere\n"),
        "UI menu.c32\nMENU BEGIN tools\nMENU END\nLABEL g\n  MENU GOTO tools\n",
    );
    // Old-style `DEFAULT menu.c32` boots a file on purpose.
    text(
        Code::UnknownTarget,
        &format!("DEFAULT b\n{a}"),
        &format!("DEFAULT menu.c32\n{a}"),
    );
    text(
        Code::PromptNotBoolean,
        &format!("PROMPT 10\n{h}{a}"),
        &format!("PROMPT 1\n{h}{a}"),
    );
    text(
        Code::PromptNotBoolean,
        &format!("# wait 5 seconds\nPROMPT 1\n{h}{a}"),
        &format!("# always ask\nPROMPT 1\n{h}{a}"),
    );
    text(
        Code::NeverAutoboots,
        &format!("PROMPT 1\nDEFAULT a\n{a}"),
        &format!("PROMPT 1\nDEFAULT a\nTOTALTIMEOUT 600\n{a}"),
    );
    text(
        Code::NeverAutoboots,
        &format!("PROMPT 1\nTIMEOUT 0\nDEFAULT a\n{a}"),
        &format!("PROMPT 1\nUI menu.c32\n{a}"),
    );
    // Both timers written as 0 with `PROMPT 1` is a deliberate wait (what a prompt menu with
    // `timeout = 0` renders); leaving TIMEOUT out, PROMPT 10 or a seconds comment is not.
    let on_purpose = "PROMPT 1\nTIMEOUT 0\nTOTALTIMEOUT 0\nDEFAULT a\n";
    text(
        Code::NeverAutoboots,
        &format!("PROMPT 1\nTIMEOUT 0\nDEFAULT a\n{a}"),
        &format!("{on_purpose}{a}"),
    );
    for bad in [
        "PROMPT 1\nTOTALTIMEOUT 0\nDEFAULT a\n",
        "PROMPT 10\nTIMEOUT 0\nTOTALTIMEOUT 0\nDEFAULT a\n",
        "# wait 5 seconds\nPROMPT 1\nTIMEOUT 0\nTOTALTIMEOUT 0\nDEFAULT a\n",
    ] {
        text(
            Code::NeverAutoboots,
            &format!("{bad}{a}"),
            &format!("{on_purpose}{a}"),
        );
    }
    text(
        Code::InlineComment,
        &format!("{h}LABEL a\n  KERNEL k\n  APPEND quiet # silence\n"),
        &format!("{h}LABEL a\n  KERNEL k\n  # silence\n  APPEND quiet\n"),
    );
    text(
        Code::InlineComment,
        &format!("{h}UI menu.c32\n{a}  MENU LABEL Debian # default\n"),
        &format!("{h}UI menu.c32\n{a}  MENU LABEL Item #1\nDISPLAY boot.txt # listing\n"),
    );
    text(
        Code::InlineComment,
        &format!("DEFAULT a # x\nTIMEOUT 5\n{a}"),
        &format!("{h}MENU COLOR sel 7 #ffffffff #00000000 std\nUI menu.c32\n{a}"),
    );
    text(
        Code::UnknownDirective,
        &format!("{h}TIMEOUTS 50\n{a}"),
        &format!("{h}{a}"),
    );
    text(
        Code::UnknownDirective,
        &format!("{h}{a}  APPPEND quiet\n"),
        &format!("{h}{a}  APPEND quiet\n"),
    );
    text(
        Code::UnknownDirective,
        &format!("{h}TIMEOUT=50\n{a}"),
        &format!("{h}# TIMEOUT=50\n{a}"),
    );
    text(
        Code::UnknownDirective,
        &format!("UI menu.c32\nMENU TITEL x\n{a}"),
        &format!("UI menu.c32\nMENU TITLE x\n{a}"),
    );
    text(
        Code::OutsideLabel,
        &format!("{h}KERNEL k\n{a}"),
        &format!("{h}APPEND quiet\n{a}"),
    );
    text(
        Code::OutsideLabel,
        &format!("{h}UI menu.c32\n{a}MENU SEPARATOR\n  INITRD x\n"),
        &format!("{h}UI menu.c32\n{a}  INITRD x\nMENU SEPARATOR\n"),
    );
    text(
        Code::LabelWithoutKernel,
        &format!("{h}LABEL a\n"),
        &format!("{h}{a}"),
    );
    text(
        Code::LabelWithoutKernel,
        &format!("UI menu.c32\n{a}LABEL b\n  MENU LABEL x\n"),
        &format!("UI menu.c32\n{a}LABEL -\n  MENU LABEL Tools\n  MENU DISABLE\n"),
    );
    text(
        Code::InitrdTwice,
        &format!("{h}{a}  INITRD i\n  APPEND initrd=j quiet\n"),
        &format!("{h}{a}  INITRD i,j\n  APPEND quiet\n"),
    );
    text(
        Code::KernelType,
        &format!("{h}LABEL a\n  KERNEL MENU.C32\n"),
        &format!("{h}LABEL a\n  KERNEL menu.c32\n"),
    );
    text(
        Code::KernelType,
        &format!("{h}LABEL a\n  KERNEL dos.com\n"),
        &format!("{h}LABEL a\n  KERNEL pxe.0\n"),
    );
    text(
        Code::KernelType,
        &format!("{h}LABEL a\n  FDIMAGE f.img\n"),
        &format!("{h}LABEL a\n  LINUX memdisk\n  INITRD f.img\n"),
    );
    text(
        Code::KernelType,
        &format!("{h}LABEL a\n  COMBOOT x.com\n"),
        &format!("{h}LABEL a\n  COM32 x.c32\n"),
    );
    text(
        Code::FunctionKeyZero,
        &format!("{h}F0 f10.txt\n{a}"),
        &format!("{h}F10 f10.txt\n{a}"),
    );
    let memdisk = |img: &str, extra: &str| {
        format!("{h}LABEL a\n  KERNEL memdisk\n  INITRD {img}\n  APPEND iso{extra}\n")
    };
    // Notes on what the lint cannot see inside an ISO: every memdisk ISO gets one.
    text(
        Code::MemdiskLinuxIso,
        &memdisk("iso/ubuntu-24.04.iso", ""),
        &memdisk("iso/Win10.iso", ""),
    );
    text(
        Code::MemdiskWindowsIso,
        &memdisk("iso/Win10.iso", " raw"),
        &memdisk("iso/freedos.iso", " raw"),
    );
    text(
        Code::MemdiskLinuxIso,
        &format!("{h}LABEL a\n  KERNEL memdisk\n  APPEND iso initrd=iso/debian.iso\n"),
        &format!("{h}LABEL a\n  KERNEL memdisk\n  APPEND initrd=debian.img\n"),
    );
    text(
        Code::LocalbootValue,
        &format!("{h}LABEL a\n  LOCALBOOT 0x80\n"),
        &format!("{h}LABEL a\n  LOCALBOOT -1\n"),
    );
    // `local_boot(uint16_t)`: 0xffff is -1.
    text(
        Code::LocalbootValue,
        &format!("{h}LABEL a\n  LOCALBOOT 0xfffe\n"),
        &format!("{h}LABEL a\n  LOCALBOOT 0xffff\n"),
    );
    text(
        Code::NumberSyntax,
        &format!("{h}PROMPT yes\n{a}"),
        &format!("{h}PROMPT 1 # always\n{a}"),
    );
    text(
        Code::NumberSyntax,
        &format!("DEFAULT a\nTIMEOUT 5s\n{a}"),
        &format!("DEFAULT a\nTIMEOUT 50\n{a}"),
    );
    text(
        Code::NumberSyntax,
        &format!("{h}UI menu.c32\n{a}  MENU INDENT count 5\n"),
        &format!("{h}UI menu.c32\n{a}  MENU INDENT 5\n"),
    );
    text(
        Code::NumberSyntax,
        &format!("{h}{a}  IPAPPEND 0x0g\n"),
        &format!("{h}{a}  IPAPPEND 0x3\n"),
    );
    text(
        Code::SubSecondTimeout,
        &format!("DEFAULT a\nTIMEOUT 01\n{a}"),
        &format!("DEFAULT a\nTIMEOUT 10\n{a}"),
    );
    text(
        Code::WrongLoader,
        &format!("{h}LABEL a\n  LINUX menu.c32\n"),
        &format!("{h}LABEL a\n  COM32 menu.c32\n"),
    );
    text(
        Code::WrongLoader,
        &format!("{h}LABEL a\n  COM32 vmlinuz\n"),
        &format!("{h}LABEL a\n  COM32 menu\n"),
    );
    text(
        Code::UnbalancedMenu,
        &format!("{h}UI menu.c32\nMENU BEGIN t\n{a}MENU END\nMENU END\n"),
        &format!("{h}UI menu.c32\nMENU BEGIN t\n{a}MENU END\n"),
    );
    text(
        Code::UnbalancedMenu,
        &format!("{h}UI menu.c32\nMENU BEGIN t\n{a}"),
        &format!("{h}UI menu.c32\nMENU BEGIN t\nMENU END\n{a}"),
    );
    // MENU EXIT entries in each submenu share a label and are never booted by name.
    text(
        Code::DuplicateLabel,
        &format!("{h}{a}LABEL a\n  KERNEL other\n"),
        &format!(
            "{h}UI menu.c32\n{a}MENU BEGIN x\nLABEL back\n  MENU EXIT\nMENU END\n\
             MENU BEGIN y\nLABEL back\n  MENU EXIT\nMENU END\n"
        ),
    );
    let latin1 = |bad: bool| {
        let mut t = HEAD.as_bytes().to_vec();
        t.extend_from_slice(b"LABEL a\n  KERNEL vmlinuz\n  MENU LABEL Fran");
        t.extend_from_slice(if bad {
            b"\xe7ais\n"
        } else {
            "\u{e7}ais\n".as_bytes()
        });
        t
    };
    assert!(
        lint(&Config::parse_bytes(&latin1(true)), &LintOptions::default())
            .iter()
            .any(|f| matches!(f.code, Code::NonUtf8,) && f.line == 5)
    );
    assert!(
        lint(
            &Config::parse_bytes(&latin1(false)),
            &LintOptions::default()
        )
        .iter()
        .all(|f| f.code != Code::NonUtf8)
    );
    text(
        Code::MenuWithoutUi,
        &format!("{h}MENU TITLE x\n{a}"),
        &format!("{h}UI menu.c32\nMENU TITLE x\n{a}"),
    );
    text(
        Code::MenuWithoutUi,
        &format!("{h}{a}  MENU LABEL A\n"),
        &format!("DEFAULT vesamenu.c32\n{a}  MENU LABEL A\n"),
    );
    text(
        Code::SerialNotFirst,
        &format!("{h}SERIAL 0 115200\n{a}"),
        &format!("SERIAL 0 115200\n{h}{a}"),
    );
    text(
        Code::PasswordEscapable,
        &format!("UI menu.c32\n{a}  MENU PASSWD x\n"),
        // A master password guards [Tab] and [Esc] itself.
        &format!("UI menu.c32\nMENU MASTER PASSWD m\n{a}  MENU PASSWD x\n"),
    );
    text(
        Code::PasswordEscapable,
        &format!("UI menu.c32\n{a}  MENU PASSWD $1$x$y\n"),
        &format!("UI menu.c32\n{a}"),
    );
    text(
        Code::PathList,
        &format!("{h}PATH a:b\n{a}"),
        &format!("{h}PATH a\nPATH b\n{a}"),
    );
    text(
        Code::PathList,
        &format!("{h}PATH a b\n{a}"),
        &format!("{h}PATH a/b\n{a}"),
    );
    let long = "x".repeat(2100);
    text(
        Code::CommandLineTooLong,
        &format!("{h}{a}  APPEND {long}\n"),
        &format!("{h}{a}  APPEND {}\n", &long[..1000]),
    );
    text(
        Code::MissingValue,
        &format!("{h}{a}  INITRD\n"),
        &format!("{h}{a}  INITRD i\n"),
    );
    text(
        Code::MissingValue,
        &format!("{h}LABEL\n{a}"),
        &format!("{h}{a}"),
    );
    text(Code::NoDefault, LABEL_A, &format!("UI menu.c32\n{a}"));
    text(
        Code::UnterminatedText,
        &format!("{h}{a}  TEXT HELP\n  x\n"),
        &format!("{h}{a}  TEXT HELP\n  x\n  ENDTEXT\n"),
    );
    text(
        Code::Overridden,
        &format!("{h}LABEL a\n  KERNEL x\n  KERNEL y\n"),
        &format!("{h}LABEL a\n  KERNEL y\n"),
    );
    text(
        Code::Overridden,
        &format!("{h}{a}  APPEND x\n  APPEND y\n"),
        &format!("{h}{a}  APPEND x y\n"),
    );
    text(
        Code::Overridden,
        &format!("{h}DEFAULT a\n{a}"),
        &format!("{h}{a}"),
    );
}

#[test]
fn firmware_checks() {
    let uefi = LintOptions {
        firmware: Firmware::Uefi,
        ..LintOptions::default()
    };
    let bios = LintOptions::default();
    let memdisk = format!("{HEAD}LABEL a\n  KERNEL memdisk\n  INITRD fd.img\n");
    let chain = format!("{HEAD}LABEL a\n  PXE undionly.kpxe\n");
    assert!(has(Code::BiosOnlyOnUefi, &memdisk, &uefi));
    assert!(!has(Code::BiosOnlyOnUefi, &memdisk, &bios));
    assert!(has(Code::BiosOnlyOnUefi, &chain, &uefi));
    assert!(!has(Code::BiosOnlyOnUefi, LABEL_A, &uefi));
    let local = format!("{HEAD}LABEL a\n  LOCALBOOT 0\n");
    assert!(has(Code::LocalbootUefi, &local, &uefi));
    assert!(!has(Code::LocalbootUefi, &local, &bios));
    // LOCALBOOT values are only judged for PXELINUX on BIOS.
    assert!(!has(
        Code::LocalbootValue,
        &local.replace(" 0", " 7"),
        &uefi
    ));
}

fn loader_tree() -> MemTree {
    let mut t = MemTree::new();
    for f in [
        "pxe/pxelinux.0",
        "pxe/ldlinux.c32",
        "pxe/libutil.c32",
        "pxe/libcom32.c32",
        "pxe/vmlinuz",
    ] {
        t.insert(f, 1000);
    }
    t
}

fn tree(code: Code, bad: &str, bad_tree: &MemTree, good: &str, good_tree: &MemTree) {
    let opts = |t| LintOptions {
        tree: Some(t),
        prefix: "pxe/",
        ..LintOptions::default()
    };
    assert!(
        has(code, bad, &opts(bad_tree)),
        "{code} should fire: {:#?}",
        lint(&Config::parse(bad), &opts(bad_tree))
    );
    let found = lint(&Config::parse(good), &opts(good_tree));
    assert!(
        found.iter().all(|f| f.code != code),
        "{code} should not fire: {found:#?}"
    );
}

#[test]
fn tree_checks() {
    let base = loader_tree();
    let cfg = format!("{HEAD}{LABEL_A}");
    let with = |extra: &[(&str, u64)]| {
        let mut t = loader_tree();
        for (f, s) in extra {
            t.insert(f, *s);
        }
        t
    };
    let missing = format!("{HEAD}LABEL a\n  KERNEL vmlinuz\n  INITRD initrd.gz\n");
    tree(
        Code::FileMissing,
        &missing,
        &base,
        &missing,
        &with(&[("pxe/initrd.gz", 10)]),
    );
    let display = format!("DISPLAY boot.txt\n{cfg}");
    let f = lint(
        &Config::parse(&display),
        &LintOptions {
            tree: Some(&base),
            prefix: "pxe/",
            ..LintOptions::default()
        },
    );
    assert_eq!(f[0].code, Code::FileMissing);
    assert_eq!(
        f[0].severity,
        pxe_menu::Severity::Warning,
        "syslinux skips a missing DISPLAY file"
    );
    tree(
        Code::FileCaseMismatch,
        &display,
        &with(&[("pxe/Boot.txt", 10)]),
        &display,
        &with(&[("pxe/boot.txt", 10)]),
    );
    let mut unreadable = loader_tree();
    unreadable.insert_meta(
        "pxe/boot.txt",
        FileMeta {
            size: 10,
            world_readable: false,
        },
    );
    tree(
        Code::FileNotReadable,
        &display,
        &unreadable,
        &display,
        &with(&[("pxe/boot.txt", 10)]),
    );
    let mut no_ldlinux = MemTree::new();
    no_ldlinux
        .insert("pxe/pxelinux.0", 1000)
        .insert("pxe/vmlinuz", 1000);
    tree(Code::LdlinuxMissing, &cfg, &no_ldlinux, &cfg, &base);
    let mut no_loader = MemTree::new();
    no_loader.insert("pxe/vmlinuz", 1000);
    tree(Code::LoaderMissing, &cfg, &no_loader, &cfg, &base);
    let ui = format!("UI menu.c32\n{LABEL_A}");
    let mut no_libs = MemTree::new();
    no_libs
        .insert("pxe/pxelinux.0", 1)
        .insert("pxe/ldlinux.c32", 1)
        .insert("pxe/menu.c32", 1)
        .insert("pxe/vmlinuz", 1);
    tree(
        Code::ModuleLibsMissing,
        &ui,
        &no_libs,
        &ui,
        &with(&[("pxe/menu.c32", 10)]),
    );
    // Modules are also found through PATH.
    let path_ui = format!("PATH lib\nUI menu.c32\n{LABEL_A}");
    let mut in_path = MemTree::new();
    for f in [
        "pxe/pxelinux.0",
        "pxe/ldlinux.c32",
        "pxe/lib/menu.c32",
        "pxe/lib/libutil.c32",
        "pxe/lib/libcom32.c32",
        "pxe/vmlinuz",
    ] {
        in_path.insert(f, 1);
    }
    tree(Code::ModuleLibsMissing, &ui, &no_libs, &path_ui, &in_path);
    tree(Code::FileMissing, &ui, &base, &path_ui, &in_path);
    let iso = format!("{HEAD}LABEL a\n  KERNEL memdisk\n  INITRD img/freedos.iso\n  APPEND iso\n");
    let sized = |n: u64| with(&[("pxe/memdisk", 20_000), ("pxe/img/freedos.iso", n)]);
    tree(
        Code::MemdiskImageLarge,
        &iso,
        &sized(700 << 20),
        &iso,
        &sized(20 << 20),
    );
    tree(
        Code::MemdiskImageTooLarge,
        &iso,
        &sized(4 << 30),
        &iso,
        &sized(700 << 20),
    );
    let long = format!("{HEAD}LABEL a\n  KERNEL {}/vmlinuz\n", "d".repeat(130));
    let long_tree = with(&[(&format!("pxe/{}/vmlinuz", "d".repeat(130)), 10)]);
    tree(Code::PathTooLong, &long, &long_tree, &cfg, &base);
    let listed = format!("DISPLAY boot.txt\n{cfg}");
    let mut shows_b = loader_tree();
    shows_b.insert_text("pxe/boot.txt", "Labels:\n  b  other\n");
    let mut shows_a = loader_tree();
    shows_a.insert_text("pxe/boot.txt", "Labels:\n  a  (Debian)\n");
    tree(
        Code::DisplayMissingLabel,
        &listed,
        &shows_b,
        &listed,
        &shows_a,
    );
}

#[test]
fn every_code_is_exercised_and_unique() {
    let src = include_str!("lint_codes.rs");
    for c in Code::ALL {
        let variant = format!("{c:?}");
        assert!(
            src.contains(&format!("Code::{variant},")),
            "no test for {c} ({variant})"
        );
        assert_eq!(Code::ALL.iter().filter(|o| o.id() == c.id()).count(), 1);
        assert_eq!(Code::ALL.iter().filter(|o| o.name() == c.name()).count(), 1);
    }
}

#[test]
fn includes_are_followed_once() {
    use pxe_menu::{EntryPoint, LintMode, Tree};
    let mut t = MemTree::new();
    t.insert_text("a.cfg", "INCLUDE b.cfg\nLABEL x\n  KERNEL k\n");
    t.insert_text("b.cfg", "INCLUDE a.cfg\nMENU BEGIN m\nMENU END\n");
    t.insert_text("c.cfg", "LABEL x\n  KERNEL k\n");
    for i in 0..20 {
        t.insert_text(&format!("d{i}.cfg"), &format!("INCLUDE d{}.cfg\n", i + 1));
    }
    let codes = |top: &str| {
        let mut t = t.clone();
        t.insert_text("pxelinux.cfg/default", top);
        let tree = Tree::read(
            &t,
            &[EntryPoint {
                path: "pxelinux.cfg/default".into(),
                prefix: String::new(),
                mode: LintMode::Entry,
            }],
        );
        tree.lint(&LintOptions::default())
            .iter()
            .map(|f| (tree.path(f.file).to_string(), f.code))
            .collect::<Vec<_>>()
    };
    let good = "INCLUDE a.cfg\nUI menu.c32\nDEFAULT x\nLABEL g\n  MENU GOTO m\n";
    assert_eq!(codes(good), [("b.cfg".to_string(), Code::IncludeLoop,)]);
    assert!(
        codes(&good.replace("DEFAULT x", "DEFAULT y"))
            .contains(&("pxelinux.cfg/default".to_string(), Code::UnknownTarget))
    );
    // A single file parsed without its includes leaves targets unjudged.
    assert!(!has(
        Code::UnknownTarget,
        &good.replace("DEFAULT x", "DEFAULT y"),
        &LintOptions::default()
    ));
    // Twice, with labels: the labels are defined twice.
    let twice = "UI menu.c32\nDEFAULT x\nINCLUDE c.cfg\nINCLUDE c.cfg\n";
    assert!(codes(twice).contains(&("pxelinux.cfg/default".to_string(), Code::IncludedTwice,)));
    // Deeper than 16 levels.
    let deep = "UI menu.c32\nDEFAULT x\nLABEL x\n  KERNEL k\nINCLUDE d0.cfg\n";
    assert!(codes(deep).contains(&("d14.cfg".to_string(), Code::IncludeDepth,)));
}
