//! The serde forms the binary uses: the menu as TOML, findings as JSON.

use pxe_menu::{Boot, Code, Menu, Ui, lint_str};

const MENU_TOML: &str = r#"
title = "Lab boot menu"
timeout = 10
default = "local"
serial = { port = 0, baud = 115200 }
say = ["pxe: menu loaded"]

[[entry]]
id = "local"
name = "Boot from local disk"
kind = "local-boot"

[[entry]]
id = "debian"
name = "Debian installer"
kind = "linux"
kernel = "debian-installer/amd64/linux"
initrd = ["debian-installer/amd64/initrd.gz"]
append = "vga=788 --- quiet"

[[entry]]
id = "freedos"
name = "FreeDOS"
kind = "memdisk-iso"
image = "iso/fdbasecd.iso"
hidden = true

[[entry]]
id = "ipxe"
name = "Chain to iPXE"
kind = "chain"
file = "undionly.kpxe"

[[entry]]
id = "web"
name = "Installer over HTTP"
kind = "http"
kernel = "http://10.0.0.1/vmlinuz"
"#;

#[test]
fn menu_from_toml() {
    let m: Menu = toml::from_str(MENU_TOML).unwrap();
    assert_eq!(m.title, "Lab boot menu");
    assert_eq!(m.ui, Ui::Menu);
    assert_eq!(m.display_file, "boot.txt");
    assert_eq!(m.ipxe_script, "boot.ipxe");
    assert_eq!(m.memdisk, "memdisk");
    assert_eq!(m.entries.len(), 5);
    assert_eq!(m.entries[0].boot, Boot::LocalBoot);
    assert_eq!(
        m.entries[2].boot,
        Boot::MemdiskIso {
            image: "iso/fdbasecd.iso".into(),
            raw: false
        }
    );
    assert!(m.entries[2].hidden);
    assert!(matches!(&m.entries[4].boot, Boot::Http { initrd, .. } if initrd.is_empty()));
    let files = m.render().unwrap();
    assert!(
        files[0]
            .contents
            .starts_with("SERIAL 0 115200\nDISPLAY boot.txt\nSAY pxe: menu loaded\n")
    );
    assert!(
        files[2]
            .contents
            .starts_with("#!ipxe\necho pxe: menu loaded\n")
    );
    // Back through TOML unchanged.
    let again: Menu = toml::from_str(&toml::to_string(&m).unwrap()).unwrap();
    assert_eq!(again, m);
}

#[test]
fn starter_menu_as_toml() {
    let text = toml::to_string(&Menu::starter()).unwrap();
    assert!(text.contains("kind = \"local-boot\""), "{text}");
    let back: Menu = toml::from_str(&text).unwrap();
    assert_eq!(back, Menu::starter());
}

#[test]
fn typos_are_errors() {
    let entry = "title = \"x\"\n[[entry]]\nid = \"a\"\nname = \"A\"\nkind = \"linux\"\n";
    assert!(toml::from_str::<Menu>(&format!("{entry}kernel = \"k\"\n")).is_ok());
    let err = toml::from_str::<Menu>(&format!("{entry}kernal = \"k\"\n")).unwrap_err();
    assert!(err.to_string().contains("kernal"), "{err}");
    let err = toml::from_str::<Menu>(&format!("timout = 5\n{entry}kernel = \"k\"\n")).unwrap_err();
    assert!(err.to_string().contains("timout"), "{err}");
}

#[test]
fn bad_toml_is_a_serde_error() {
    let err = toml::from_str::<Menu>(
        "title = \"x\"\n[[entry]]\nid = \"a\"\nname = \"A\"\nkind = \"floppy\"\n",
    );
    assert!(err.is_err());
}

#[test]
fn findings_as_json() {
    let f = lint_str(
        "PROMPT 10\nDEFAULT a\nLABEL a\n  KERNEL vmlinuz\n",
        &Default::default(),
    );
    let v = serde_json::to_value(&f).unwrap();
    assert_eq!(v[0]["code"], "M004");
    assert_eq!(v[0]["severity"], "warning");
    assert_eq!(v[0]["line"], 1);
    assert_eq!(v[0]["col"], 8);
    assert!(v[0]["fix"].as_str().unwrap().contains("TIMEOUT 100"));
    let back: Vec<pxe_menu::Finding> = serde_json::from_value(v).unwrap();
    assert_eq!(back, f);
    assert_eq!(back[1].code, Code::NeverAutoboots);
}
