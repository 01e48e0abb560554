//! A boot menu written once (TOML), rendered for pxelinux, iPXE and GRUB, and the pxelinux
//! rendering checked by the linter.
//!
//! `cargo run -p pxe-menu --example render`

use pxe_menu::{LintOptions, Menu, lint_str};

const MENU: &str = r#"
title = "Lab boot menu"
timeout = 10
default = "local"

[[entry]]
id = "local"
name = "Boot from local disk"
kind = "local-boot"

[[entry]]
id = "debian"
name = "Debian installer"
kind = "linux"
kernel = "debian/linux"
initrd = ["debian/initrd.gz"]
append = "auto=true priority=critical"
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let menu: Menu = toml::from_str(MENU)?;
    for file in menu.render()? {
        println!("==> {} ({} bytes)", file.path, file.contents.len());
    }
    let findings = lint_str(&menu.render_pxelinux(), &LintOptions::default());
    println!("pxelinux lint: {} finding(s)", findings.len());
    for f in findings {
        println!("  {f}");
    }
    Ok(())
}
