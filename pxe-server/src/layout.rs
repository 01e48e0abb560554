//! What a TFTP root laid out by `pxe init` holds: the boot files copied from the Debian
//! packages, which `pxe doctor` ([`crate::doctor`]) checks too.

/// A file `pxe init` copies from an installed Debian package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageFile {
    /// Name in the TFTP root.
    pub dest: &'static str,
    /// Absolute path on the system (below the sysroot).
    pub source: &'static str,
    /// The Debian package that installs `source`.
    pub package: &'static str,
}

/// The files of a classic pxelinux root plus the iPXE binaries the default boot policy names.
pub const PACKAGE_FILES: &[PackageFile] = &[
    PackageFile {
        dest: "pxelinux.0",
        source: "/usr/lib/PXELINUX/pxelinux.0",
        package: "pxelinux",
    },
    PackageFile {
        dest: "ldlinux.c32",
        source: "/usr/lib/syslinux/modules/bios/ldlinux.c32",
        package: "syslinux-common",
    },
    PackageFile {
        dest: "libutil.c32",
        source: "/usr/lib/syslinux/modules/bios/libutil.c32",
        package: "syslinux-common",
    },
    PackageFile {
        dest: "libcom32.c32",
        source: "/usr/lib/syslinux/modules/bios/libcom32.c32",
        package: "syslinux-common",
    },
    PackageFile {
        dest: "menu.c32",
        source: "/usr/lib/syslinux/modules/bios/menu.c32",
        package: "syslinux-common",
    },
    PackageFile {
        dest: "memdisk",
        source: "/usr/lib/syslinux/memdisk",
        package: "syslinux-common",
    },
    PackageFile {
        dest: "undionly.kpxe",
        source: "/usr/lib/ipxe/undionly.kpxe",
        package: "ipxe",
    },
    PackageFile {
        dest: "ipxe.efi",
        source: "/usr/lib/ipxe/ipxe.efi",
        package: "ipxe",
    },
];

/// The signed UEFI chain for Secure Boot machines (`[dhcp] uefi = "shim"`): shim under the
/// name the boot policy sends ([`pxe_dhcp::policy::SHIM_X64`]) and the signed netboot GRUB
/// under the name shim loads from its own directory ([`pxe_dhcp::policy::GRUB_X64`]); GRUB
/// then reads `grub/grub.cfg`, rendered from the menu. Optional: without the packages `pxe
/// init` says what to install but succeeds, since the default iPXE chain does not need them.
pub const SECURE_BOOT_FILES: &[PackageFile] = &[
    PackageFile {
        dest: pxe_dhcp::policy::SHIM_X64,
        source: "/usr/lib/shim/shimx64.efi.signed",
        package: "shim-signed",
    },
    PackageFile {
        dest: pxe_dhcp::policy::GRUB_X64,
        source: "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
        package: "grub-efi-amd64-signed",
    },
];
