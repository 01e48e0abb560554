//! Real-firmware fixtures: classification and the default policy's decision for each.
//!
//! Provenance. No packet capture of these clients is stored in this repository, so each fixture
//! is *built* (by a small script, bytes pasted below) from what was measured with the real
//! clients (QEMU's iPXE ROM, OVMF's EDK2 PXE) on a capture bridge:
//! - `IPXE_BIOS`: QEMU 7.2 + SeaBIOS + ipxe-qemu ROM 1.0.0+git-20190125 (e1000): option 60
//!   `PXEClient:Arch:00000:UNDI:002001`, 77 plain `iPXE`, 93 `0000`, 175 (bus id 8086:100e,
//!   feature flags as the ROM sends them), 57 = 1472 (iPXE: MTU − 28).
//! - `IPXE_EFI`: OVMF + iPXE EFI ROM: 60 `PXEClient:Arch:00007:UNDI:003010`, 77 `iPXE`, 93 `0007`.
//! - `EDK2_OVMF`: OVMF 2022.11's own PXE client (virtio-net, `romfile=`): 60
//!   `PXEClient:Arch:00007:UNDI:003000`, no 77, no 175, 93 `0007`, 94 `01 03 00`.
//! - `PXE21_BIOS_ROM`: a PXE 2.1 BIOS ROM (Intel-like), the option set a PXE 2.1 BIOS ROM sends
//!   (57 = 1464, Intel PRL incl. 128-135, 94 `01 02 01`, 97 = 0 + GUID).
//! - `UEFI_HTTP`: EDK2's HTTP boot round after PXE fails: 60 `HTTPClient:Arch:00016:UNDI:003000`.
//!
//! Exact PRL contents, option order, MACs, xids and UUIDs are illustrative, not measured.

use core::net::Ipv4Addr;

use pxe_dhcp::policy::{Match, Policy, Rule};
use pxe_dhcp::pxe::{Arch, ArchKind, ClientInfo, Firmware, UndiVersion};
use pxe_dhcp::wire::{MessageType, Repr};

const IPXE_BIOS: &str = concat!(
    "010106001d3c5a0100008000000000000000000000000000000000005254007700100000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363",
    "350101390205c05d0200005e030102013c20505845436c69656e743a417263683a30303030303a554e44493a30303230",
    "30314d04695058453717010306070c0f111a2b3c4243778081828384858687afcbaf0db105018086100e100101130101",
    "3d0701525400770010611100101112131415161718191a1b1c1d1e1fff",
);
const IPXE_EFI: &str = concat!(
    "010106007e11aa0200008000000000000000000000000000000000005254007700200000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363",
    "350101390205c05d0200075e0301030a3c20505845436c69656e743a417263683a30303030373a554e44493a30303330",
    "31304d04695058453717010306070c0f111a2b3c4243778081828384858687afcbaf0db105018086100e130101240101",
    "3d0701525400770020611100101112131415161718191a1b1c1d1e1fff",
);
const EDK2_OVMF: &str = concat!(
    "010106005a6b7c0300008000000000000000000000000000000000005254007700300000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363",
    "350101390205c037230102030405060c0d0f111216171c28292a2b3233363a3b3c424361808182838485868761110010",
    "1112131415161718191a1b1c1d1e1f5e030103005d0200073c20505845436c69656e743a417263683a30303030373a55",
    "4e44493a303033303030ff",
);
const PXE21_BIOS_ROM: &str = concat!(
    "010106003a4b5c040000800000000000000000000000000000000000001b213a4b5c0000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363",
    "350101390205b8372501020305060b0c0d0f10111216171c28292a2b3233363a3b3c4243618081828384858687af5e03",
    "0102015d020000611100101112131415161718191a1b1c1d1e1f3c20505845436c69656e743a417263683a3030303030",
    "3a554e44493a303032303031ff",
);
const UEFI_HTTP: &str = concat!(
    "010106005a6b7c0500008000000000000000000000000000000000005254007700300000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000063825363",
    "350101390205c037090103060f2b3c424361611100101112131415161718191a1b1c1d1e1f5e030103005d0200103c21",
    "48545450436c69656e743a417263683a30303031363a554e44493a303033303030ff",
);

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

fn classify(fixture: &str) -> ClientInfo {
    let repr = Repr::parse_bytes(&hex(fixture)).unwrap();
    assert_eq!(repr.message_type(), Some(MessageType::Discover));
    ClientInfo::from_repr(&repr)
}

#[test]
fn ipxe_bios_rom_gets_the_next_stage() {
    let c = classify(IPXE_BIOS);
    assert_eq!(c.firmware, Firmware::Ipxe);
    assert_eq!(c.archs, [Arch(0)]);
    assert_eq!(c.undi, Some(UndiVersion { major: 2, minor: 1 }));
    assert!(c.uuid.is_some() && c.ipxe.is_some());
    let d = Policy::default().decide(&c, SERVER).unwrap();
    assert_eq!(d.boot_file, "pxelinux.0");
    assert_eq!(d.next_server, SERVER);
    assert_eq!(
        d.reason,
        "52:54:00:77:00:10 arch 0 = BIOS, iPXE (UNDI 2.1), user class iPXE + option 175 → \
         pxelinux.0 by rule 4 (ipxe-bios)"
    );
}

#[test]
fn ipxe_efi_gets_the_script() {
    let c = classify(IPXE_EFI);
    assert_eq!(c.firmware, Firmware::Ipxe);
    assert_eq!(c.arch_kind(), Some(ArchKind::X64Uefi));
    assert_eq!(
        c.undi,
        Some(UndiVersion {
            major: 3,
            minor: 10
        })
    );
    let d = Policy::default().decide(&c, SERVER).unwrap();
    assert_eq!(d.boot_file, "boot.ipxe");
    assert_eq!(d.rule_name, "ipxe");
}

#[test]
fn edk2_ovmf_gets_ipxe_efi() {
    let c = classify(EDK2_OVMF);
    assert_eq!(c.firmware, Firmware::PxeRom);
    assert_eq!(c.archs, [Arch(7)]);
    assert_eq!(c.undi, Some(UndiVersion { major: 3, minor: 0 }));
    assert!(c.user_classes.is_empty() && c.ipxe.is_none());
    let d = Policy::default().decide(&c, SERVER).unwrap();
    assert_eq!(d.boot_file, "ipxe.efi");
    assert_eq!(
        d.reason,
        format!(
            "52:54:00:77:00:30 arch 7 = x64 UEFI, PXE ROM (UNDI 3.0), no iPXE user class → \
             ipxe.efi by rule 2 (pxe-uefi-x64) ({})",
            pxe_dhcp::policy::SECURE_BOOT_NOTE
        )
    );
}

#[test]
fn pxe21_bios_rom_gets_undionly() {
    let c = classify(PXE21_BIOS_ROM);
    assert_eq!(c.firmware, Firmware::PxeRom);
    assert_eq!(c.arch_kind(), Some(ArchKind::Bios));
    let d = Policy::default().decide(&c, SERVER).unwrap();
    assert_eq!(d.boot_file, "undionly.kpxe");
    assert!(d.reason.contains("by rule 1 (pxe-bios)"), "{}", d.reason);
}

#[test]
fn uefi_http_boot_gets_a_url() {
    let c = classify(UEFI_HTTP);
    assert_eq!(c.firmware, Firmware::HttpClient);
    assert_eq!(c.archs, [Arch(16)]);
    assert!(c.arch().unwrap().is_http());
    let d = Policy::default().decide(&c, SERVER).unwrap();
    assert_eq!(d.boot_file, "http://10.77.0.1/ipxe.efi");
}

#[test]
fn arch_9_and_arm64_and_unknown() {
    let mut c = classify(EDK2_OVMF);
    c.archs = vec![Arch(9)];
    assert_eq!(
        Policy::default().decide(&c, SERVER).unwrap().boot_file,
        "ipxe.efi"
    );
    c.archs = vec![Arch(11)];
    assert_eq!(
        Policy::default().decide(&c, SERVER).unwrap().boot_file,
        "ipxe-arm64.efi"
    );
    c.archs = vec![Arch(2)];
    assert!(Policy::default().decide(&c, SERVER).is_none());
}

#[test]
fn chainloading_ipxe_roms_once_ends_the_loop() {
    let mut policy = Policy::default();
    let mut chain = Rule::new(
        "chain-ipxe-rom",
        Match {
            firmware: vec![Firmware::Ipxe],
            arch: vec![ArchKind::Bios],
            ..Match::default()
        },
        "undionly.kpxe",
    );
    chain.once = true;
    policy.rules.insert(0, chain);
    let rom = classify(IPXE_BIOS);
    let first = policy.decide_with(&rom, SERVER, |_, _| false).unwrap();
    assert_eq!(first.boot_file, "undionly.kpxe");
    assert!(first.once);
    // The chained undionly.kpxe sends the same identifiers; the used once-rule is skipped.
    let second = policy.decide_with(&rom, SERVER, |_, r| r.once).unwrap();
    assert_eq!(second.boot_file, "pxelinux.0");
    assert!(
        second.reason.contains("rule 1 chain-ipxe-rom skipped"),
        "{}",
        second.reason
    );
}

#[test]
fn custom_user_class_and_mac_mask_rules() {
    let mut c = classify(IPXE_BIOS);
    let mut policy = Policy::default();
    let mut r = Rule::new(
        "lab-rack",
        Match {
            mac: Some(pxe_dhcp::policy::MacMatch {
                address: "52:54:00:00:00:00".parse().unwrap(),
                mask: "ff:ff:ff:00:00:00".parse().unwrap(),
            }),
            not_user_class: Some("pxe-stage2".into()),
            ipxe_feature: Some(19),
            ..Match::default()
        },
        "custom.kpxe",
    );
    r.next_server = Some(Ipv4Addr::new(10, 77, 0, 9).into());
    policy.rules.insert(0, r);
    let d = policy.decide(&c, SERVER).unwrap();
    assert_eq!(
        (d.boot_file.as_str(), d.next_server),
        ("custom.kpxe", Ipv4Addr::new(10, 77, 0, 9).into())
    );
    c.user_classes.push(b"pxe-stage2".to_vec());
    assert_eq!(policy.decide(&c, SERVER).unwrap().boot_file, "pxelinux.0");
}

#[test]
fn every_fixture_through_the_proxy() {
    use pxe_dhcp::responder::{DhcpEvent, ProxyConfig, ProxyResponder};
    use pxe_dhcp::wire::{DhcpOption, OptionCode};
    use pxe_proto::{Datagram, Destination, Instant, SansIo};
    use std::net::SocketAddr;

    let cases = [
        (IPXE_BIOS, "pxelinux.0", &b"PXEClient"[..]),
        (IPXE_EFI, "boot.ipxe", b"PXEClient"),
        (EDK2_OVMF, "ipxe.efi", b"PXEClient"),
        (PXE21_BIOS_ROM, "undionly.kpxe", b"PXEClient"),
        (UEFI_HTTP, "http://10.77.0.1/ipxe.efi", b"HTTPClient"),
    ];
    let mut proxy = ProxyResponder::new(ProxyConfig::new(SERVER), Policy::default());
    for (fixture, file, class) in cases {
        let bytes = hex(fixture);
        let remote = SocketAddr::from(([0, 0, 0, 0], 68));
        let local = SocketAddr::from(([255, 255, 255, 255], 67));
        proxy.handle_datagram(Instant::ZERO, Datagram::new(remote, local, &bytes));
        let mut out = [0u8; 1500];
        let t = proxy.poll_transmit(Instant::ZERO, &mut out).unwrap();
        assert_eq!(t.destination, Destination::Broadcast { port: 68 });
        let offer = Repr::parse_bytes(&out[..t.len]).unwrap();
        assert_eq!(offer.message_type(), Some(MessageType::Offer));
        assert_eq!(offer.file, file.as_bytes(), "{file}");
        assert_eq!(offer.siaddr, SERVER);
        assert_eq!(
            offer.option(OptionCode::VendorClassIdentifier),
            Some(&DhcpOption::VendorClassIdentifier(class.to_vec()))
        );
        let events: Vec<_> = std::iter::from_fn(|| proxy.poll_event()).collect();
        assert!(matches!(&events[..], [DhcpEvent::Boot(b)] if b.decision.boot_file == file));
    }
}
