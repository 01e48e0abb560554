//! Client system architecture types (DHCP option 93, RFC 4578 §2.1, and the IANA "Processor
//! Architecture Types" registry).

use core::fmt;

/// A processor architecture type code, as a client sends it in option 93 (and in the `Arch:`
/// field of option 60).
///
/// Names follow the IANA registry, which applies RFC 4578 erratum 4624: code 7 is x64 UEFI and
/// code 9 is EBC. Real x64 firmware sends 7 and some (VMware) sends 9, so [`Arch::kind`] maps both
/// to [`ArchKind::X64Uefi`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Arch(pub u16);

/// The broad class of an [`Arch`]: which boot loader build a client can run.
///
/// HTTP-boot variants map to the same kind as their PXE sibling; [`Arch::is_http`] tells them
/// apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
#[non_exhaustive]
pub enum ArchKind {
    /// x86 PC BIOS (0) and PC/AT BIOS HTTP (20).
    Bios,
    /// 32-bit x86 UEFI (6, 15).
    Ia32Uefi,
    /// x64 UEFI (7, 9 per erratum 4624, 16; also 17, EBC HTTP, which x64 firmware uses).
    X64Uefi,
    /// 32-bit ARM UEFI (10, 18).
    Arm32Uefi,
    /// 64-bit ARM UEFI (11, 19).
    Arm64Uefi,
    /// 32-bit RISC-V UEFI (25, 26).
    Riscv32Uefi,
    /// 64-bit RISC-V UEFI (27, 28).
    Riscv64Uefi,
    /// 64-bit LoongArch UEFI (39, 40).
    #[cfg_attr(feature = "serde", serde(rename = "loongarch64-uefi"))]
    LoongArch64Uefi,
    /// ARM U-Boot (21-24).
    ArmUboot,
    /// Raspberry Pi `rpiboot` (41).
    #[cfg_attr(feature = "serde", serde(rename = "rpiboot"))]
    RpiBoot,
    /// Anything else (Itanium, PowerPC, s390, MIPS, ...).
    Other,
}

impl ArchKind {
    /// Whether this kind runs UEFI images.
    pub fn is_uefi(self) -> bool {
        matches!(
            self,
            ArchKind::Ia32Uefi
                | ArchKind::X64Uefi
                | ArchKind::Arm32Uefi
                | ArchKind::Arm64Uefi
                | ArchKind::Riscv32Uefi
                | ArchKind::Riscv64Uefi
                | ArchKind::LoongArch64Uefi
        )
    }

    /// A short human name ("x64 UEFI").
    pub fn name(self) -> &'static str {
        match self {
            ArchKind::Bios => "BIOS",
            ArchKind::Ia32Uefi => "IA32 UEFI",
            ArchKind::X64Uefi => "x64 UEFI",
            ArchKind::Arm32Uefi => "ARM32 UEFI",
            ArchKind::Arm64Uefi => "ARM64 UEFI",
            ArchKind::Riscv32Uefi => "RISC-V 32 UEFI",
            ArchKind::Riscv64Uefi => "RISC-V 64 UEFI",
            ArchKind::LoongArch64Uefi => "LoongArch 64 UEFI",
            ArchKind::ArmUboot => "ARM U-Boot",
            ArchKind::RpiBoot => "Raspberry Pi rpiboot",
            ArchKind::Other => "other",
        }
    }
}

/// The IANA registry: code, name, kind, HTTP boot.
const TABLE: &[(u16, &str, ArchKind, bool)] = &[
    (0, "x86 BIOS", ArchKind::Bios, false),
    (1, "NEC/PC98", ArchKind::Other, false),
    (2, "Itanium", ArchKind::Other, false),
    (3, "DEC Alpha", ArchKind::Other, false),
    (4, "Arc x86", ArchKind::Other, false),
    (5, "Intel Lean Client", ArchKind::Other, false),
    (6, "x86 UEFI", ArchKind::Ia32Uefi, false),
    (7, "x64 UEFI", ArchKind::X64Uefi, false),
    (8, "EFI Xscale", ArchKind::Other, false),
    (9, "EBC (x64 UEFI in practice)", ArchKind::X64Uefi, false),
    (10, "ARM 32-bit UEFI", ArchKind::Arm32Uefi, false),
    (11, "ARM 64-bit UEFI", ArchKind::Arm64Uefi, false),
    (12, "PowerPC Open Firmware", ArchKind::Other, false),
    (13, "PowerPC ePAPR", ArchKind::Other, false),
    (14, "POWER OPAL v3", ArchKind::Other, false),
    (15, "x86 UEFI HTTP", ArchKind::Ia32Uefi, true),
    (16, "x64 UEFI HTTP", ArchKind::X64Uefi, true),
    (17, "EBC HTTP", ArchKind::X64Uefi, true),
    (18, "ARM 32-bit UEFI HTTP", ArchKind::Arm32Uefi, true),
    (19, "ARM 64-bit UEFI HTTP", ArchKind::Arm64Uefi, true),
    (20, "PC/AT BIOS HTTP", ArchKind::Bios, true),
    (21, "ARM 32-bit U-Boot", ArchKind::ArmUboot, false),
    (22, "ARM 64-bit U-Boot", ArchKind::ArmUboot, false),
    (23, "ARM 32-bit U-Boot HTTP", ArchKind::ArmUboot, true),
    (24, "ARM 64-bit U-Boot HTTP", ArchKind::ArmUboot, true),
    (25, "RISC-V 32-bit UEFI", ArchKind::Riscv32Uefi, false),
    (26, "RISC-V 32-bit UEFI HTTP", ArchKind::Riscv32Uefi, true),
    (27, "RISC-V 64-bit UEFI", ArchKind::Riscv64Uefi, false),
    (28, "RISC-V 64-bit UEFI HTTP", ArchKind::Riscv64Uefi, true),
    (29, "RISC-V 128-bit UEFI", ArchKind::Other, false),
    (30, "RISC-V 128-bit UEFI HTTP", ArchKind::Other, true),
    (31, "s390 Basic", ArchKind::Other, false),
    (32, "s390 Extended", ArchKind::Other, false),
    (33, "MIPS 32-bit UEFI", ArchKind::Other, false),
    (34, "MIPS 64-bit UEFI", ArchKind::Other, false),
    (35, "Sunway 32-bit UEFI", ArchKind::Other, false),
    (36, "Sunway 64-bit UEFI", ArchKind::Other, false),
    (37, "LoongArch 32-bit UEFI", ArchKind::Other, false),
    (38, "LoongArch 32-bit UEFI HTTP", ArchKind::Other, true),
    (
        39,
        "LoongArch 64-bit UEFI",
        ArchKind::LoongArch64Uefi,
        false,
    ),
    (
        40,
        "LoongArch 64-bit UEFI HTTP",
        ArchKind::LoongArch64Uefi,
        true,
    ),
    (41, "ARM rpiboot", ArchKind::RpiBoot, false),
];

impl Arch {
    /// x86 BIOS (0).
    pub const X86_BIOS: Arch = Arch(0);
    /// 32-bit x86 UEFI (6).
    pub const IA32_UEFI: Arch = Arch(6);
    /// x64 UEFI (7; erratum 4624).
    pub const X64_UEFI: Arch = Arch(7);
    /// EBC (9), sent by some x64 firmware instead of 7.
    pub const EBC: Arch = Arch(9);
    /// 64-bit ARM UEFI (11).
    pub const ARM64_UEFI: Arch = Arch(11);
    /// x64 UEFI HTTP boot (16).
    pub const X64_UEFI_HTTP: Arch = Arch(16);
    /// 64-bit ARM UEFI HTTP boot (19).
    pub const ARM64_UEFI_HTTP: Arch = Arch(19);
    /// 64-bit RISC-V UEFI (27).
    pub const RISCV64_UEFI: Arch = Arch(27);

    fn entry(self) -> Option<&'static (u16, &'static str, ArchKind, bool)> {
        TABLE.iter().find(|e| e.0 == self.0)
    }

    /// The registry name, or `"unassigned"`.
    pub fn name(self) -> &'static str {
        self.entry().map_or("unassigned", |e| e.1)
    }

    /// The broad class (7 and 9 are both [`ArchKind::X64Uefi`]).
    pub fn kind(self) -> ArchKind {
        self.entry().map_or(ArchKind::Other, |e| e.2)
    }

    /// Whether this is an HTTP-boot code (15-20, 23, 24, 26, 28, ...).
    pub fn is_http(self) -> bool {
        self.entry().is_some_and(|e| e.3)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.0, self.kind().name())?;
        if self.is_http() {
            f.write_str(" HTTP")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn seven_and_nine_are_both_x64_uefi() {
        assert_eq!(Arch(7).kind(), ArchKind::X64Uefi);
        assert_eq!(Arch(9).kind(), ArchKind::X64Uefi);
        assert_eq!(Arch(11).kind(), ArchKind::Arm64Uefi);
        assert_eq!(Arch(27).kind(), ArchKind::Riscv64Uefi);
        assert!(Arch(16).is_http() && Arch(16).kind().is_uefi());
        assert!(!Arch(0).kind().is_uefi());
        assert_eq!(Arch(999).kind(), ArchKind::Other);
        assert_eq!(Arch(7).to_string(), "7 = x64 UEFI");
        assert_eq!(Arch(16).to_string(), "16 = x64 UEFI HTTP");
    }

    #[test]
    fn table_is_sorted_and_complete() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(usize::from(e.0), i);
        }
    }
}
