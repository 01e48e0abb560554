//! Inputs for the benches, built the way real clients send them.

use std::fmt::Write as _;

/// The option 60 vendor class of the iPXE BIOS ROM (lab capture).
pub const IPXE_BIOS_CLASS: &[u8] = b"PXEClient:Arch:00000:UNDI:002001";

/// A DHCPDISCOVER shaped like the iPXE BIOS ROM's (as QEMU's ROM sends it: options 53, 57, 93, 94, 97, 60,
/// 77 raw `iPXE`, 175, 55 with the PXE range 128-135): BOOTP header, magic cookie, options,
/// padded to 442 bytes like the captured one.
pub fn ipxe_discover(xid: u32, mac: [u8; 6]) -> Vec<u8> {
    let mut b = vec![0u8; 236];
    b[0] = 1; // BOOTREQUEST
    b[1] = 1; // Ethernet
    b[2] = 6;
    b[4..8].copy_from_slice(&xid.to_be_bytes());
    b[8..10].copy_from_slice(&4u16.to_be_bytes()); // secs
    b[10] = 0x80; // broadcast flag
    b[28..34].copy_from_slice(&mac);
    b.extend_from_slice(&[99, 130, 83, 99]);
    let mut opt = |code: u8, data: &[u8]| {
        b.push(code);
        b.push(u8::try_from(data.len()).unwrap_or(u8::MAX));
        b.extend_from_slice(data);
    };
    opt(53, &[1]);
    opt(57, &1472u16.to_be_bytes());
    opt(93, &[0, 0]);
    opt(94, &[1, 2, 1]);
    let mut guid = [0u8; 17];
    for (i, g) in guid.iter_mut().enumerate().skip(1) {
        *g = u8::try_from(i * 13 % 251).unwrap_or(0);
    }
    opt(97, &guid);
    opt(60, IPXE_BIOS_CLASS);
    opt(77, b"iPXE");
    opt(
        175,
        &[
            0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0xeb, 0x03, 0x01, 0x00, 0x00, 0x17, 0x01,
            0x01,
        ],
    );
    opt(
        55,
        &[
            1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134,
            135, 175, 203,
        ],
    );
    let mut client_id = vec![1u8];
    client_id.extend_from_slice(&mac);
    opt(61, &client_id);
    b.push(255);
    b.resize(442, 0);
    b
}

/// A pxelinux `menu.c32` config with `entries` LABEL blocks, each with KERNEL, APPEND, MENU
/// LABEL and TEXT HELP, plus a few nested MENU BEGIN blocks: what a big site menu looks like.
pub fn pxelinux_menu(entries: usize) -> String {
    let mut s = String::from(
        "SERIAL 0 115200\nDEFAULT menu.c32\nPROMPT 0\nTIMEOUT 300\nONTIMEOUT local\n\
         MENU TITLE Site boot menu\n\nLABEL local\n  MENU LABEL Boot from local disk\n  LOCALBOOT 0\n\n",
    );
    for i in 0..entries {
        if i % 100 == 0 {
            if i > 0 {
                s.push_str("MENU END\n\n");
            }
            let _ = writeln!(
                s,
                "MENU BEGIN group{}\n  MENU TITLE Group {}\n",
                i / 100,
                i / 100
            );
        }
        let _ = write!(
            s,
            "LABEL install{i}\n  MENU LABEL ^Install system {i}\n  KERNEL images/sys{i}/vmlinuz\n  \
             APPEND initrd=images/sys{i}/initrd.gz auto=true priority=critical url=http://10.0.0.1/preseed/{i}.cfg --- quiet\n  \
             TEXT HELP\n  Installs system {i} unattended.\n  ENDTEXT\n\n"
        );
    }
    if entries > 0 {
        s.push_str("MENU END\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_is_captured_size_and_ends_options() {
        let d = ipxe_discover(0x1234_5678, [0x52, 0x54, 0, 0x77, 0, 0x10]);
        assert_eq!(d.len(), 442);
        assert_eq!(&d[236..240], &[99, 130, 83, 99]);
        assert!(d[240..].contains(&255));
    }

    #[test]
    fn menu_has_all_entries() {
        let m = pxelinux_menu(500);
        assert_eq!(m.matches("\nLABEL install").count(), 500);
        assert_eq!(m.matches("MENU BEGIN").count(), 5);
        assert_eq!(m.matches("MENU END").count(), 5);
    }
}

#[cfg(test)]
mod menu_lint_tests {
    use super::*;

    #[test]
    fn big_menu_parses_to_all_labels_and_lints_clean() {
        let text = pxelinux_menu(500);
        let cfg = pxe_menu::Config::parse(&text);
        assert_eq!(cfg.resolve().labels.len(), 501);
        let findings = pxe_menu::lint(&cfg, &pxe_menu::LintOptions::default());
        for f in &findings {
            eprintln!("{f:?}");
        }
        assert!(findings.is_empty());
    }
}
