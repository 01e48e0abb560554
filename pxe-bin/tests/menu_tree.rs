//! `pxe menu` on whole trees: Debian 12's netboot tree from its package (symlinks and all),
//! a tree whose config is a symlink into a subdirectory, render's overwrite protection, and
//! the README's step-by-step memdisk entry run as written (init, render, lint, doctor, serve).

mod support;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::pxe::Pxe;
use support::tools::{PXE, pxe, require_file, run, stdout};

/// Debian 12's netboot images (package `debian-installer-12-netboot-amd64`).
const DEBIAN_NETBOOT: &str = "/usr/lib/debian-installer/images/12/amd64";

fn both(o: &std::process::Output) -> String {
    format!("{}{}", stdout(o), String::from_utf8_lossy(&o.stderr))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn debian_netboot_trees_lint_clean_and_pass_doctor() {
    require_file(
        &format!("{DEBIAN_NETBOOT}/text/pxelinux.0"),
        "debian-installer-12-netboot-amd64",
    );
    for flavour in ["text", "gtk"] {
        let root = format!("{DEBIAN_NETBOOT}/{flavour}");
        // `pxelinux.cfg/default` is a symlink to `../boot-screens/syslinux.cfg`; paths in it
        // resolve from where pxelinux.0 sits (the top), never from the symlink's target.
        let o = pxe(&["menu", "lint", "--root", &root]);
        let out = stdout(&o);
        assert!(o.status.success(), "{flavour}: {}", both(&o));
        assert!(
            out.contains(": 0 error(s), 0 warning(s)"),
            "{flavour}: {out}"
        );
        // Files only ever included are read as part of the tree, with their own lines.
        assert!(
            out.contains("debian-installer/amd64/boot-screens/menu.cfg:"),
            "{flavour}: {out}"
        );
        // The same config named as a file: everything it pulls in.
        let o = pxe(&[
            "menu",
            "lint",
            &format!("{root}/pxelinux.cfg/default"),
            "--root",
            &root,
        ]);
        assert!(o.status.success(), "{flavour}: {}", both(&o));
        // A fragment named on its own: only what is wrong in it (nothing).
        let o = pxe(&[
            "menu",
            "lint",
            &format!("{root}/debian-installer/amd64/boot-screens/stdmenu.cfg"),
            "--root",
            &root,
        ]);
        assert!(o.status.success(), "{flavour}: {}", both(&o));
        assert!(
            stdout(&o).contains("0 finding(s)"),
            "{flavour}: {}",
            both(&o)
        );

        let tmp = tempfile::tempdir().expect("tempdir");
        let cfg = tmp.path().join("pxe.toml");
        fs::write(
            &cfg,
            format!("root = \"{root}\"\n[tftp]\nlisten = \"127.0.0.1:0\"\n"),
        )
        .expect("write");
        let o = pxe(&["doctor", "--config", s(&cfg)]);
        let out = both(&o);
        assert!(o.status.success(), "{flavour}: {out}");
        assert!(out.contains("0 error(s)"), "{flavour}: {out}");
        assert!(
            out.contains("[menu]") && out.contains("lint clean"),
            "{flavour}: {out}"
        );
    }
}

/// A tree laid out like Debian's: the loader and `pxelinux.cfg` are symlinks into a
/// subdirectory, and the config includes files by paths relative to the top. A kernel missing
/// from an included file is an error there, at its line.
#[test]
fn lint_root_reads_from_the_loader_and_reports_included_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let sub = root.join("d/amd64");
    fs::create_dir_all(sub.join("pxelinux.cfg")).expect("mkdir");
    fs::create_dir_all(sub.join("screens")).expect("mkdir");
    for f in [
        "pxelinux.0",
        "screens/ldlinux.c32",
        "screens/menu.c32",
        "screens/libutil.c32",
        "screens/libcom32.c32",
    ] {
        fs::write(sub.join(f), b"x").expect("write");
    }
    fs::write(
        sub.join("screens/main.cfg"),
        "path d/amd64/screens/\nui menu.c32\ninclude d/amd64/screens/labels.cfg\ntimeout 5s\n",
    )
    .expect("write");
    fs::write(
        sub.join("screens/labels.cfg"),
        "label install\n  kernel d/amd64/linux\n  append quiet\n",
    )
    .expect("write");
    symlink("../screens/main.cfg", sub.join("pxelinux.cfg/default")).expect("symlink");
    symlink("d/amd64/pxelinux.0", root.join("pxelinux.0")).expect("symlink");
    symlink("d/amd64/screens/ldlinux.c32", root.join("ldlinux.c32")).expect("symlink");
    symlink("d/amd64/pxelinux.cfg", root.join("pxelinux.cfg")).expect("symlink");
    for dir in [
        root,
        &root.join("d"),
        &sub,
        &sub.join("screens"),
        &sub.join("pxelinux.cfg"),
    ] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    let o = pxe(&["menu", "lint", "--root", s(root)]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(
        out.contains("d/amd64/screens/labels.cfg:2:10: error[M030 file-missing]: `d/amd64/linux`"),
        "{out}"
    );
    assert!(
        out.contains(
            "pxelinux.cfg/default:4:9: warning[M039 number-syntax]: TIMEOUT `5s` is read as 5"
        ),
        "{out}"
    );
    fs::write(sub.join("linux"), b"kernel").expect("write");
    let o = pxe(&["menu", "lint", "--root", s(root)]);
    assert!(o.status.success(), "{}", both(&o));
}

#[test]
fn render_never_overwrites_a_file_it_did_not_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("root");
    fs::create_dir(&out).expect("mkdir");
    // A distribution's own DISPLAY file where the menu would put boot.txt.
    fs::write(out.join("boot.txt"), "Welcome to the lab\n").expect("write");
    let menu = tmp.path().join("menu.toml");
    fs::write(
        &menu,
        "title = \"Lab\"\ntimeout = 5\ndefault = \"local\"\n\n[[entry]]\nid = \"local\"\n\
         name = \"Local disk\"\nkind = \"local-boot\"\n",
    )
    .expect("write");
    let render = |force: bool| {
        let mut args = vec!["menu", "render", s(&menu), "--out", s(&out)];
        if force {
            args.push("--force");
        }
        pxe(&args)
    };
    let o = render(false);
    let err = both(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("refusing to overwrite boot.txt") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(out.join("boot.txt")).expect("read"),
        "Welcome to the lab\n"
    );
    assert!(
        !out.join("pxelinux.cfg/default").exists(),
        "nothing written"
    );

    let o = render(true);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        fs::read_to_string(out.join("boot.txt"))
            .expect("read")
            .contains("Lab")
    );
    // What it wrote, it may write again after the menu changes.
    fs::write(
        &menu,
        fs::read_to_string(&menu)
            .expect("read")
            .replace("Lab", "Lab 2"),
    )
    .expect("write");
    let o = render(false);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        fs::read_to_string(out.join("boot.txt"))
            .expect("read")
            .contains("Lab 2")
    );
}

/// 30 KB of config that would expand to 30 million lines (b.cfg: 500 labels; a.cfg: 200
/// `INCLUDE /b.cfg`; the default: 300 `CONFIG /a.cfg dN/` labels) is linted within one item
/// budget for the whole tree: a warning, never an abort.
#[test]
fn lint_root_of_an_exploding_tree_ends_with_a_finding() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    fs::create_dir(root.join("pxelinux.cfg")).expect("mkdir");
    for f in ["pxelinux.0", "ldlinux.c32", "k"] {
        fs::write(root.join(f), b"x").expect("write");
    }
    let b: String = (0..500)
        .map(|i| format!("LABEL b{i}\n KERNEL k\n"))
        .collect();
    fs::write(root.join("b.cfg"), b).expect("write");
    fs::write(root.join("a.cfg"), "INCLUDE /b.cfg\n".repeat(200)).expect("write");
    let d: String = (0..300)
        .map(|i| format!("LABEL d{i}\n CONFIG /a.cfg d{i}/\n"))
        .collect();
    fs::write(
        root.join("pxelinux.cfg/default"),
        format!("DEFAULT d0\n{d}"),
    )
    .expect("write");
    let o = pxe(&["menu", "lint", "--root", s(root)]);
    let out = both(&o);
    assert!(o.status.code().is_some(), "killed: {out}");
    assert!(out.contains("lines; the rest is not read"), "{out}");
}

/// A menu naming its output files outside `--out` is refused before anything is written, and
/// a rendered file edited by hand is kept unless `--force`.
#[test]
fn render_stays_inside_out_and_keeps_hand_edits() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("root");
    fs::create_dir(&out).expect("mkdir");
    let menu = tmp.path().join("menu.toml");
    let body = "title = \"Lab\"\ntimeout = 5\ndefault = \"local\"\n\n[[entry]]\nid = \"local\"\n\
                name = \"Local disk\"\nkind = \"local-boot\"\n";
    let abs = tmp.path().join("x/abs.ipxe");
    for (line, field) in [
        (
            "display_file = \"../escape.txt\"\n".to_owned(),
            "display_file",
        ),
        (format!("ipxe_script = \"{}\"\n", s(&abs)), "ipxe_script"),
    ] {
        fs::write(&menu, format!("{line}{body}")).expect("write");
        let o = pxe(&["menu", "render", s(&menu), "--out", s(&out)]);
        let err = both(&o);
        assert!(!o.status.success(), "{err}");
        assert!(
            err.contains(field) && err.contains("relative path"),
            "{err}"
        );
    }
    assert!(!tmp.path().join("escape.txt").exists());
    assert!(!abs.exists());
    assert_eq!(
        fs::read_dir(&out).expect("ls").count(),
        0,
        "nothing written"
    );

    fs::write(&menu, body).expect("write");
    let o = pxe(&["menu", "render", s(&menu), "--out", s(&out)]);
    assert!(o.status.success(), "{}", both(&o));
    let record = fs::read_to_string(out.join(".pxe-menu-rendered")).expect("record");
    assert!(!record.contains(".."), "{record}");
    let default = out.join("pxelinux.cfg/default");
    fs::write(&default, "DEFAULT mine\n").expect("write");
    fs::write(&menu, body.replace("Lab", "Lab 2")).expect("write");
    let o = pxe(&["menu", "render", s(&menu), "--out", s(&out)]);
    let err = both(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("pxelinux.cfg/default (edited by hand since the last render)"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(&default).expect("read"),
        "DEFAULT mine\n"
    );
    let o = pxe(&["menu", "render", s(&menu), "--out", s(&out), "--force"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        fs::read_to_string(&default)
            .expect("read")
            .contains("Lab 2")
    );
}

/// The README's "step by step": its step 4 entry (memdisk + `iso/debian.iso`) and its
/// commands, taken from README.md itself, with `/srv/tftp` replaced by a temporary root.
/// The ISO here is a stand-in (memdisk booting the real mini.iso is a QEMU test elsewhere);
/// the config's TFTP listen address is set to a free loopback port, as doctor checks it is
/// free, and the rendered files are fetched over TFTP from `pxe serve` with `pxe get`.
#[test]
fn readme_step_by_step_memdisk_entry_renders_lints_and_serves() {
    for (file, pkg) in [
        ("/usr/lib/PXELINUX/pxelinux.0", "pxelinux"),
        ("/usr/lib/syslinux/memdisk", "syslinux-common"),
        ("/usr/lib/ipxe/undionly.kpxe", "ipxe"),
    ] {
        require_file(file, pkg);
    }
    let readme = include_str!("../../README.md");
    let start = readme
        .find("## The seed's scenario with `pxe`, step by step")
        .expect("README step-by-step section");
    let section = &readme[start..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the step-by-step code block");
    // Step 4's entry: the indented TOML in the comment.
    let entry: String = block
        .lines()
        .filter_map(|l| l.strip_prefix("#      "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        entry.contains("kind = \"memdisk-iso\"") && entry.contains("iso/debian.iso"),
        "{entry}"
    );
    let commands: Vec<&str> = block
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.trim_start_matches("sudo "))
        .filter(|l| {
            l.starts_with("pxe init") || l.starts_with("pxe menu") || l.starts_with("pxe doctor")
        })
        .collect();
    assert_eq!(commands.len(), 4, "{commands:?}");

    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("srv-tftp");
    let run_step = |cmd: &str| {
        let cmd = cmd.replace("/srv/tftp", s(&root));
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let o = pxe(&args);
        assert!(o.status.success(), "`{cmd}`: {}", both(&o));
        o
    };
    // 2. init.
    run_step(commands[0]);
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod");
    // 3. The ISO, readable by everybody.
    let iso = root.join("iso/debian.iso");
    fs::write(&iso, vec![0u8; 1 << 20]).expect("write iso");
    fs::set_permissions(&iso, fs::Permissions::from_mode(0o644)).expect("chmod");
    // 4. The entry, appended to menu.toml; render; lint.
    let menu_path = root.join("menu.toml");
    let menu = fs::read_to_string(&menu_path).expect("menu.toml");
    fs::write(&menu_path, format!("{menu}\n{entry}")).expect("write");
    let rendered = run_step(commands[1]);
    assert!(
        stdout(&rendered).contains("pxelinux.cfg/default"),
        "{}",
        both(&rendered)
    );
    let cfg = fs::read_to_string(root.join("pxelinux.cfg/default")).expect("rendered");
    assert!(
        cfg.contains("KERNEL memdisk")
            && cfg.contains("INITRD iso/debian.iso")
            && cfg.contains("APPEND iso"),
        "{cfg}"
    );
    let linted = run_step(commands[2]);
    assert!(stdout(&linted).contains("0 error(s)"), "{}", both(&linted));
    // 5. doctor, with the config listening on a free loopback port.
    let conf = root.join("pxe.toml");
    let text = fs::read_to_string(&conf).expect("pxe.toml");
    let text = text.replace("# listen = \"192.168.1.1:69\"", "listen = \"127.0.0.1:0\"");
    assert!(text.contains("listen = \"127.0.0.1:0\""), "{text}");
    fs::write(&conf, text).expect("write");
    let doctor = run_step(commands[3]);
    assert!(both(&doctor).contains("0 error(s)"), "{}", both(&doctor));
    // 6c. Serve (TFTP only) and fetch what was rendered, plus the ISO.
    let server = Pxe::start(&["serve", "--config", s(&conf), "--listen", "127.0.0.1:0"]);
    let fetched = tmp.path().join("fetched");
    for name in [
        "pxelinux.cfg/default",
        "boot.txt",
        "boot.ipxe",
        "iso/debian.iso",
        "memdisk",
    ] {
        let o = run(
            Command::new(PXE)
                .arg("get")
                .arg(server.url(name))
                .arg("-o")
                .arg(&fetched),
            Duration::from_secs(60),
        );
        assert!(o.status.success(), "pxe get {name}: {}", both(&o));
        assert_eq!(
            fs::read(&fetched).expect("fetched"),
            fs::read(root.join(name)).expect("served"),
            "{name}"
        );
    }
}

/// `pxe menu import` on a tree: a password-protected entry stays protected through import
/// and render, and what the model leaves out is printed as notes.
#[test]
fn import_keeps_menu_passwd_and_prints_what_it_leaves_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("tftp");
    fs::create_dir_all(root.join("pxelinux.cfg")).expect("mkdir");
    fs::write(root.join("pxelinux.0"), b"x").expect("write");
    fs::write(
        root.join("pxelinux.cfg/default"),
        "UI menu.c32\nTIMEOUT 50\nMENU TITLE Lab\nINCLUDE entries.cfg\nDEFAULT rescue\n",
    )
    .expect("write");
    fs::write(
        root.join("entries.cfg"),
        "LABEL rescue\n  MENU LABEL Rescue (admins only)\n  MENU PASSWD $6$salt$hash\n  \
         KERNEL rescue/vmlinuz\n  APPEND initrd=rescue/initrd.img rescue\n\
         LABEL hdt\n  COM32 hdt.c32\n",
    )
    .expect("write");
    let out = tmp.path().join("menu.toml");
    let o = pxe(&["menu", "import", s(&root), "-o", s(&out)]);
    let text = both(&o);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("note: entries.cfg:6: label `hdt` left out"),
        "{text}"
    );
    let toml = fs::read_to_string(&out).expect("menu.toml");
    assert!(toml.contains("passwd = \"$6$salt$hash\""), "{toml}");
    // Refuses to replace it without --force.
    let o = pxe(&["menu", "import", s(&root), "-o", s(&out)]);
    assert!(!o.status.success());

    let rendered = tmp.path().join("out");
    fs::create_dir(&rendered).expect("mkdir");
    let o = pxe(&["menu", "render", s(&out), "--out", s(&rendered)]);
    assert!(o.status.success(), "{}", both(&o));
    let cfg = fs::read_to_string(rendered.join("pxelinux.cfg/default")).expect("rendered");
    assert!(cfg.contains("  MENU PASSWD $6$salt$hash\n"), "{cfg}");
    assert!(
        cfg.contains("  APPEND initrd=rescue/initrd.img rescue\n"),
        "{cfg}"
    );
    let ipxe = fs::read_to_string(rendered.join("boot.ipxe")).expect("ipxe");
    assert!(
        !ipxe.contains("rescue/vmlinuz"),
        "iPXE cannot check the password: {ipxe}"
    );
}

/// A Latin-1 config (as old Windows-era trees have) is linted, not refused; a file that is
/// only a fragment, named on its own, gets only what is wrong in itself.
#[test]
fn latin1_configs_and_fragments_lint_on_their_own() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("default");
    fs::write(
        &cfg,
        b"UI menu.c32\nDEFAULT fr\nLABEL fr\n  MENU LABEL Fran\xe7ais\n  KERNEL vmlinuz\n",
    )
    .expect("write");
    let o = pxe(&["menu", "lint", s(&cfg)]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", both(&o));
    assert!(out.contains(":4:1: info[M044 non-utf8]"), "{out}");

    // Label lines without a LABEL above and no DEFAULT: a fragment, nothing to say.
    let frag = tmp.path().join("body.cfg");
    fs::write(
        &frag,
        "  KERNEL vmlinuz\n  APPEND quiet\nLABEL b\n  KERNEL k\n",
    )
    .expect("write");
    let o = pxe(&["menu", "lint", s(&frag)]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(stdout(&o).contains("0 finding(s)"), "{}", both(&o));
    // Something wrong in it is still found.
    fs::write(&frag, "  KERNEL vmlinuz\nLABEL b\n  LINUX menu.c32\n").expect("write");
    let o = pxe(&["menu", "lint", s(&frag)]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(
        stdout(&o).contains("error[M040 wrong-loader]"),
        "{}",
        both(&o)
    );
}

/// `pxe menu import FILE` reads from the loader's directory (above pxelinux.cfg/): Debian's
/// symlinked default imports its entries; a missing include gets a note; a file with no
/// entry fails and writes nothing.
#[test]
fn import_file_resolves_from_the_loader_directory() {
    require_file(
        &format!("{DEBIAN_NETBOOT}/text/pxelinux.0"),
        "debian-installer-12-netboot-amd64",
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("menu.toml");
    let cfg = format!("{DEBIAN_NETBOOT}/text/pxelinux.cfg/default");
    let o = pxe(&["menu", "import", &cfg, "-o", s(&out)]);
    let text = both(&o);
    assert!(o.status.success(), "{text}");
    assert!(!text.contains("(0 entries"), "{text}");
    assert!(
        fs::read_to_string(&out)
            .expect("read")
            .contains("[[entry]]")
    );

    let root = tmp.path().join("root");
    fs::create_dir_all(root.join("pxelinux.cfg")).expect("mkdir");
    fs::write(root.join("menu.cfg"), "LABEL a\n KERNEL k\n").expect("write");
    fs::write(
        root.join("pxelinux.cfg/default"),
        "DEFAULT a\nINCLUDE menu.cfg\nINCLUDE gone.cfg\n",
    )
    .expect("write");
    let out2 = tmp.path().join("m2.toml");
    let o = pxe(&[
        "menu",
        "import",
        s(&root.join("pxelinux.cfg/default")),
        "-o",
        s(&out2),
    ]);
    let text = both(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("(1 entries"), "{text}");
    assert!(text.contains("note: gone.cfg is not readable"), "{text}");

    fs::write(root.join("pxelinux.cfg/empty"), "INCLUDE gone.cfg\n").expect("write");
    let out3 = tmp.path().join("m3.toml");
    let o = pxe(&[
        "menu",
        "import",
        s(&root.join("pxelinux.cfg/empty")),
        "-o",
        s(&out3),
    ]);
    let text = both(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains("nothing imported"), "{text}");
    assert!(!out3.exists());
}
