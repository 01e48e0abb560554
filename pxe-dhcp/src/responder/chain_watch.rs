//! Notices a firmware that was sent unsigned iPXE and asks again without iPXE ever asking: the
//! firmware did not start the image. With Secure Boot on that is the firmware refusing an
//! unsigned image (EDK2 prints `Access Denied` and moves to its next boot option, PXE over
//! IPv6 or HTTP Boot, whose DHCP request reaches us), so the decision for that next request
//! says so in its reason, naming the fix.
//!
//! A normal boot clears the watch: iPXE's own request (user class `iPXE`) follows the ROM's
//! within seconds. Retransmissions and the REQUEST after an OFFER carry the ROM's `xid` and
//! are not a second attempt.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use core::time::Duration;

use pxe_proto::{Instant, MacAddr};

use crate::policy::{BootDecision, IPXE_ARM64, IPXE_X64};
use crate::pxe::{ClientInfo, Firmware};

/// How long after being sent iPXE a firmware's next request counts as a failed start: longer
/// than an emulated machine takes to fetch and start iPXE, shorter than a reboot cycle.
pub const CHAIN_WATCH_SECS: u64 = 180;

/// Clients sent unsigned iPXE by their firmware, not yet seen as iPXE.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChainWatch {
    sent: BTreeMap<MacAddr, (u32, Instant)>,
}

fn window() -> Duration {
    Duration::from_secs(CHAIN_WATCH_SECS)
}

/// Whether `boot_file` is one of the unsigned iPXE builds for UEFI, by TFTP name or HTTP URL.
fn unsigned_ipxe(boot_file: &str) -> bool {
    let name = boot_file.rsplit('/').next().unwrap_or(boot_file);
    name == IPXE_X64 || name == IPXE_ARM64
}

impl ChainWatch {
    /// Records `decision` for `client`; returns a note for its reason when this firmware was
    /// sent unsigned iPXE in an earlier transaction and iPXE never asked.
    pub(crate) fn observe(
        &mut self,
        client: &ClientInfo,
        decision: &BootDecision,
        now: Instant,
    ) -> Option<String> {
        if client.firmware == Firmware::Ipxe {
            self.sent.remove(&client.mac);
            return None;
        }
        let note = match self.sent.get(&client.mac) {
            Some(&(xid, at)) if xid != client.xid && now < at + window() => Some(format!(
                " (this firmware was sent unsigned iPXE {} s ago and asks again without iPXE \
                 having asked: it did not start iPXE. With Secure Boot on it refuses unsigned \
                 images: set [dhcp] uefi = \"shim\"; otherwise the download failed)",
                now.saturating_duration_since(at).as_secs()
            )),
            _ => None,
        };
        let rom = matches!(client.firmware, Firmware::PxeRom | Firmware::HttpClient);
        if rom && unsigned_ipxe(&decision.boot_file) {
            let entry = self.sent.entry(client.mac).or_insert((client.xid, now));
            if entry.0 != client.xid {
                *entry = (client.xid, now);
            }
        } else if note.is_some() {
            self.sent.remove(&client.mac);
        }
        note
    }

    /// Forgets watches older than the window.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.sent.retain(|_, &mut (_, at)| now < at + window());
    }

    /// When the oldest watch runs out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.sent.values().map(|&(_, at)| at + window()).min()
    }
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;

    use super::*;
    use crate::policy::Policy;
    use crate::pxe::Arch;

    fn client(firmware: Firmware, arch: u16, xid: u32) -> ClientInfo {
        ClientInfo {
            mac: MacAddr([0x52, 0x54, 0, 0x77, 1, 6]),
            xid,
            family: crate::pxe::Family::V4 { message_type: None },
            firmware,
            archs: alloc::vec![Arch(arch)],
            undi: None,
            uuid: None,
            vendor_class: alloc::vec::Vec::new(),
            user_classes: alloc::vec::Vec::new(),
            ipxe: None,
        }
    }

    fn observe(w: &mut ChainWatch, c: &ClientInfo, secs: u64) -> Option<String> {
        let d = Policy::default()
            .decide(c, Ipv4Addr::new(10, 0, 0, 1))
            .expect("a rule");
        w.observe(c, &d, Instant::from_secs(secs))
    }

    #[test]
    fn a_firmware_back_without_ipxe_gets_the_note() {
        let mut w = ChainWatch::default();
        let rom = client(Firmware::PxeRom, 7, 1);
        assert_eq!(observe(&mut w, &rom, 10), None);
        // The REQUEST after the OFFER: same transaction.
        assert_eq!(observe(&mut w, &rom, 11), None);
        // Refused: EDK2's HTTP Boot asks next, in a new transaction.
        let http = client(Firmware::HttpClient, 16, 2);
        let note = observe(&mut w, &http, 40).expect("a note");
        assert!(
            note.contains("30 s ago") && note.contains("uefi = \"shim\""),
            "{note}"
        );
        // A PXE retry afterwards still counts from the first attempt.
        let again = client(Firmware::PxeRom, 7, 3);
        assert!(observe(&mut w, &again, 45).is_some());
        assert!(w.next_deadline().is_some());
        w.expire(Instant::from_secs(45 + CHAIN_WATCH_SECS));
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn ipxe_asking_clears_the_watch() {
        let mut w = ChainWatch::default();
        assert_eq!(observe(&mut w, &client(Firmware::PxeRom, 7, 1), 10), None);
        assert_eq!(observe(&mut w, &client(Firmware::Ipxe, 7, 2), 15), None);
        assert_eq!(w.next_deadline(), None);
        // The next boot's ROM request is a fresh start, not a failed one.
        assert_eq!(observe(&mut w, &client(Firmware::PxeRom, 7, 3), 60), None);
        // BIOS ROMs get undionly.kpxe: not watched.
        let mut w = ChainWatch::default();
        assert_eq!(observe(&mut w, &client(Firmware::PxeRom, 0, 1), 10), None);
        assert_eq!(observe(&mut w, &client(Firmware::PxeRom, 0, 2), 20), None);
    }
}
