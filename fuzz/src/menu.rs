//! The pxelinux config parser.

use pxe_menu::{Config, LintOptions, lint};

/// Parse never panics; rendering (`Display`) and parsing again keeps the meaning: the same kinds
/// of items, and the same resolved labels, command lines and timeouts. Lint and the DISPLAY
/// file parser run on the same text without panicking.
pub fn menu_parse(data: &[u8]) {
    let cfg = Config::parse_bytes(data);
    let text = cfg.to_string();
    let again = Config::parse(&text);
    let kinds = |c: &Config| c.items.iter().map(|i| i.kind.clone()).collect::<Vec<_>>();
    assert_eq!(
        kinds(&again),
        kinds(&cfg),
        "render → parse changed the items\n{text}"
    );
    assert_eq!(
        again.resolve(),
        cfg.resolve(),
        "render → parse changed the meaning\n{text}"
    );
    let _ = lint(&cfg, &LintOptions::default());
    let _ = pxe_menu::parse_display(&String::from_utf8_lossy(data));
}

/// Text from a small alphabet that includes the characters the model must refuse or escape
/// (blanks, `#`, `$`, `{`, `|`, `&`, `;`, `^`, quotes, backslash, a tab and a newline), so most
/// generated menus are valid and the rest probe `validate`.
#[derive(Debug)]
struct Text(String);

impl<'a> arbitrary::Arbitrary<'a> for Text {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCXYZ0123456789._-/=,:+ \
                                  ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~";
        let len = u.int_in_range(0..=24)?;
        let mut s = String::with_capacity(len);
        for _ in 0..len {
            let b: u8 = u.arbitrary()?;
            let c = ALPHABET[usize::from(b) % ALPHABET.len()];
            // The `~` slots become the awkward characters.
            s.push(if c == b'~' {
                [
                    '#', '$', '{', '}', '|', '&', ';', '^', '"', '\'', '\\', '\t', '\n', 'é', ' ',
                ][usize::from(b) % 15]
            } else {
                char::from(c)
            });
        }
        Ok(Text(s))
    }
}

#[derive(Debug, arbitrary::Arbitrary)]
enum BootIn {
    Linux(Text, Vec<Text>, Text),
    MemdiskIso(Text, bool),
    LocalBoot,
    Chain(Text),
    Http(Text, Vec<Text>, Text),
    Sanboot(Text),
    Wimboot(Text, Vec<Text>),
}

#[derive(Debug, arbitrary::Arbitrary)]
struct EntryIn {
    id: Text,
    name: Text,
    boot: BootIn,
    help: Option<Text>,
    hidden: bool,
}

#[derive(Debug, arbitrary::Arbitrary)]
struct MenuIn {
    title: Text,
    timeout: u16,
    default: Option<u8>,
    ui: u8,
    serial: Option<(u8, u32)>,
    say: Vec<Text>,
    entries: Vec<EntryIn>,
}

/// The declarative model: a menu that `validate`s either renders or is refused by the render's
/// own lint (nothing else); what renders has no lint error, parses to one label per pxelinux
/// entry, in order, each running its kernel; importing the render gives the same ids back.
pub fn menu_model(data: &[u8]) {
    use pxe_menu::{Boot, Entry, Menu, PXELINUX_DEFAULT, SerialConsole, Severity, Ui};
    let Some(input) = crate::decode::<MenuIn>(data) else {
        return;
    };
    let texts = |v: Vec<Text>| v.into_iter().map(|t| t.0).collect::<Vec<_>>();
    let mut menu = Menu::starter();
    menu.title = input.title.0;
    menu.timeout = u32::from(input.timeout);
    menu.ui = match input.ui % 3 {
        0 => Ui::Menu,
        1 => Ui::Vesamenu,
        _ => Ui::Prompt,
    };
    menu.serial = input.serial.map(|(port, baud)| SerialConsole {
        port: u16::from(port % 4),
        baud,
    });
    menu.say = texts(input.say);
    menu.entries = input
        .entries
        .into_iter()
        .map(|e| Entry {
            id: e.id.0,
            name: e.name.0,
            boot: match e.boot {
                BootIn::Linux(k, i, a) => Boot::Linux {
                    kernel: k.0,
                    initrd: texts(i),
                    append: a.0,
                },
                BootIn::MemdiskIso(image, raw) => Boot::MemdiskIso {
                    image: image.0,
                    raw,
                },
                BootIn::LocalBoot => Boot::LocalBoot,
                BootIn::Chain(f) => Boot::Chain { file: f.0 },
                BootIn::Http(k, i, a) => Boot::Http {
                    kernel: k.0,
                    initrd: texts(i),
                    append: a.0,
                },
                BootIn::Sanboot(image) => Boot::Sanboot { image: image.0 },
                BootIn::Wimboot(w, f) => Boot::Wimboot {
                    wimboot: w.0,
                    files: texts(f),
                },
            },
            help: e.help.map(|h| h.0),
            hidden: e.hidden,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        })
        .collect();
    menu.default = input
        .default
        .and_then(|i| menu.entries.get(usize::from(i) % menu.entries.len().max(1)))
        .map(|e| e.id.clone());
    if menu.validate().is_err() {
        return;
    }
    // `render` is `validate` plus the lint. The only refusal of a valid model by design is
    // M013 (memdisk with an ISO named like a Linux installer); anything else is a finding
    // (FINDING-2/3, fixed in pxe-menu a397200, were such refusals).
    let files = match menu.render() {
        Ok(files) => files,
        Err(pxe_menu::Error::Lint { code: "M013", .. }) => return,
        Err(e) => panic!("a menu that validates does not render: {e}\n{menu:#?}"),
    };
    let cfg_text = &files
        .iter()
        .find(|f| f.path == PXELINUX_DEFAULT)
        .expect("no pxelinux.cfg/default rendered")
        .contents;
    let cfg = Config::parse(cfg_text);
    let errors: Vec<_> = lint(&cfg, &LintOptions::default())
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "render has lint errors: {errors:#?}\n{cfg_text}"
    );
    let resolved = cfg.resolve();
    let expected: Vec<&Entry> = menu
        .entries
        .iter()
        .filter(|e| e.boot.in_pxelinux())
        .collect();
    let ids: Vec<&str> = resolved.labels.iter().map(|l| l.id.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, want, "labels differ from the entries\n{cfg_text}");
    for (label, entry) in resolved.labels.iter().zip(&expected) {
        if let Boot::Linux { kernel, .. } = &entry.boot {
            assert!(
                label.command_line.starts_with(kernel.as_str()),
                "label {} runs {:?}, not kernel {kernel:?}\n{cfg_text}",
                label.id,
                label.command_line
            );
        }
    }
    // The GRUB file: lints clean (quotes closed, blocks balanced) against a tree holding every
    // file the entries name, and has a menuentry for each entry GRUB can boot.
    let grub = &files
        .iter()
        .find(|f| f.path == pxe_menu::GRUB_CFG)
        .expect("no grub.cfg rendered")
        .contents;
    // grub.cfg names every file from the TFTP root (`/kernel`); the lint asks without the `/`.
    // What doctor checks: the listed files as pxelinux resolves them from the root (a `::`
    // prefix dropped, another server's `host::path` not in this tree).
    let named: Vec<String> = menu
        .entries
        .iter()
        .flat_map(|e| e.boot.files())
        .filter_map(|f| pxe_menu::resolve_path("", f))
        .map(|f| collapse_slashes(&f))
        .collect();
    // The lint may ask for a path with repeated or leading `/` folded (GRUB folds them too).
    // Every file grub.cfg loads from the served tree is one `Boot::files()` lists (what doctor
    // checks), and no other finding (quoting, blocks) occurs.
    let found = pxe_menu::lint_grub(grub, &|p| named.contains(&collapse_slashes(p)));
    assert!(
        found.is_empty(),
        "grub.cfg lint: {found:#?}\nfiles: {named:?}\n{grub}"
    );
    let left_out: Vec<&str> = menu.grub_left_out().iter().map(|(id, _)| *id).collect();
    for e in menu.entries.iter().filter(|e| !e.hidden) {
        let entry = format!("--id {} {{", pxe_menu::grub_quote(&e.id));
        assert_eq!(
            grub.contains(&entry),
            !left_out.contains(&e.id.as_str()),
            "entry {} in grub.cfg: rendered iff GRUB can boot it\n{grub}",
            e.id
        );
    }
    let imported = Menu::import(&cfg).menu;
    let back: Vec<&str> = imported.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        back, want,
        "import(render(menu)) changed the entries\n{cfg_text}"
    );
}

/// The GRUB lint on any text never panics, and what it reports stays within the text's lines.
pub fn grub_lint(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = u32::try_from(text.lines().count()).unwrap_or(u32::MAX);
    for f in pxe_menu::lint_grub(&text, &|p| p.len() % 2 == 0) {
        assert!(
            f.line >= 1 && f.line <= lines.max(1),
            "finding at line {} of {lines}: {f:?}",
            f.line
        );
    }
}

/// `path` with empty components dropped (`/a//b/` → `a/b`), as GRUB reads it.
fn collapse_slashes(path: &str) -> String {
    path.split('/')
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}
