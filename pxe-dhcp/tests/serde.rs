//! The policy, the responder settings and the lease table as configuration / state files.
#![cfg(feature = "serde")]

use core::net::Ipv4Addr;

use pxe_dhcp::policy::{ExtraValue, Policy};
use pxe_dhcp::pxe::{ArchKind, Firmware};
use pxe_dhcp::responder::{Lease, LeaseState, LeaseTable, ServerConfig};
use pxe_proto::{Instant, MacAddr};

#[test]
fn policy_round_trips_and_reads_a_hand_written_config() {
    let p = Policy::default();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), p);

    let cfg = r#"{
        "rules": [
            { "name": "chain-ipxe-rom", "once": true, "boot_file": "undionly.kpxe",
              "match": { "firmware": ["ipxe"], "arch": ["bios"] } },
            { "name": "rack-a", "boot_file": "pxelinux.0", "next_server": "10.77.0.9",
              "match": { "mac": { "address": "52:54:00:00:00:00", "mask": "ff:ff:ff:00:00:00" },
                         "vendor_class": "PXEClient", "not_user_class": "stage2" },
              "options": [ { "code": 209, "value": { "text": "pxelinux.cfg/rack-a" } } ] }
        ]
    }"#;
    let p: Policy = serde_json::from_str(cfg).unwrap();
    assert_eq!(p.once_window_secs, 120);
    assert!(p.rules[0].once);
    assert_eq!(p.rules[0].when.firmware, [Firmware::Ipxe]);
    assert_eq!(p.rules[0].when.arch, [ArchKind::Bios]);
    assert_eq!(
        p.rules[1].next_server,
        Some(Ipv4Addr::new(10, 77, 0, 9).into())
    );
    assert_eq!(
        p.rules[1].options[0].value,
        ExtraValue::Text("pxelinux.cfg/rack-a".into())
    );
    assert!(
        serde_json::from_str::<Policy>(r#"{"rules":[{"name":"x","boot_file":"y","typo":1}]}"#)
            .is_err()
    );
}

#[test]
fn lease_table_survives_serialization() {
    let mac = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
    let t = LeaseTable::from_leases([
        Lease {
            ip: Ipv4Addr::new(10, 77, 0, 100),
            mac: Some(mac),
            client_id: None,
            state: LeaseState::Bound,
            expires: Instant::from_secs(1_700_003_600),
        },
        Lease {
            ip: Ipv4Addr::new(10, 77, 0, 101),
            mac: Some(mac),
            client_id: Some(vec![0xff, 0, 0, 0, 1, 0, 4, 0xaa]),
            state: LeaseState::Bound,
            expires: Instant::from_secs(1_700_003_600),
        },
    ]);
    let json = serde_json::to_string(&t).unwrap();
    assert!(
        json.contains("\"52:54:00:00:00:01\"")
            && json.contains("bound")
            && json.contains("\"client_id\":\"ff:00:00:00:01:00:04:aa\""),
        "{json}"
    );
    assert_eq!(json.matches("client_id").count(), 1, "{json}");
    assert_eq!(serde_json::from_str::<LeaseTable>(&json).unwrap(), t);
}

#[test]
fn server_config_defaults() {
    let c: ServerConfig = serde_json::from_str(
        r#"{ "server_ip": "10.77.0.1", "subnet_mask": "255.255.0.0",
             "pools": [ { "first": "10.77.0.100", "last": "10.77.0.200" } ] }"#,
    )
    .unwrap();
    assert_eq!((c.lease_time_secs, c.offer_hold_secs), (3600, 60));
}
