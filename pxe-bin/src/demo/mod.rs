//! The demo root built into the binary: served when `pxe` runs with no config and no flags.

/// The demo files: (name relative to the root, bytes).
pub const FILES: &[(&str, &[u8])] = &[
    (
        "pxelinux.cfg/default",
        include_bytes!("files/pxelinux.cfg/default"),
    ),
    ("boot.txt", include_bytes!("files/boot.txt")),
    ("boot.ipxe", include_bytes!("files/boot.ipxe")),
    ("hello.txt", include_bytes!("files/hello.txt")),
];

#[cfg(test)]
mod tests {
    use super::FILES;

    #[test]
    fn demo_menu_references_the_display_file() {
        let menu = FILES
            .iter()
            .find(|(n, _)| *n == "pxelinux.cfg/default")
            .map(|f| f.1);
        let menu = std::str::from_utf8(menu.unwrap_or_default()).unwrap_or_default();
        let display = menu
            .lines()
            .find_map(|l| l.strip_prefix("DISPLAY "))
            .unwrap_or_default();
        assert!(
            FILES.iter().any(|(n, _)| *n == display),
            "DISPLAY {display} missing"
        );
        assert!(
            FILES
                .iter()
                .any(|(n, b)| *n == "boot.ipxe" && b.starts_with(b"#!ipxe"))
        );
    }
}
