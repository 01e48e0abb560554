//! The demo root built into the binary: served when `pxe` runs with no config and no root.
//!
//! The menu is a `pxe-menu` description rendered at start (so the demo shows exactly what
//! `pxe menu render` produces): `pxelinux.cfg/default`, `boot.txt` and `boot.ipxe`, plus
//! `hello.txt` and the `menu.toml` source itself.

use crate::error::Error;

const MENU_TOML: &str = include_str!("files/menu.toml");
const HELLO: &[u8] = include_bytes!("files/hello.txt");

/// The demo files: (name relative to the root, bytes).
pub fn files() -> Result<Vec<(String, Vec<u8>)>, Error> {
    let menu: pxe_menu::Menu =
        toml::from_str(MENU_TOML).map_err(|e| Error::Menu(format!("demo menu.toml: {e}")))?;
    let rendered = menu
        .render()
        .map_err(|e| Error::Menu(format!("demo menu: {e}")))?;
    let mut files: Vec<(String, Vec<u8>)> = rendered
        .into_iter()
        .map(|f| (f.path, f.contents.into_bytes()))
        .collect();
    files.push(("menu.toml".to_owned(), MENU_TOML.as_bytes().to_vec()));
    files.push(("hello.txt".to_owned(), HELLO.to_vec()));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::files;

    #[test]
    fn demo_renders_the_three_menu_files() {
        let files = files().expect("demo renders");
        let get = |n: &str| {
            files
                .iter()
                .find(|(name, _)| name == n)
                .map(|f| f.1.clone())
        };
        let menu = String::from_utf8(get("pxelinux.cfg/default").expect("pxelinux.cfg/default"))
            .expect("utf-8");
        let display = menu
            .lines()
            .find_map(|l| l.strip_prefix("DISPLAY "))
            .expect("DISPLAY");
        assert!(get(display).is_some(), "DISPLAY {display} missing");
        assert!(get("boot.ipxe").expect("boot.ipxe").starts_with(b"#!ipxe"));
        assert!(get("hello.txt").is_some());
    }
}
