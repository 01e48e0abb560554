//! What the boot policy answers a UEFI PXE ROM, end to end through the wire format: build the
//! DHCPDISCOVER such a ROM sends, emit and parse it, classify the client, decide.
//!
//! `cargo run -p pxe-dhcp --example classify`

use std::net::Ipv4Addr;

use pxe_dhcp::policy::Policy;
use pxe_dhcp::pxe::{Arch, ClientInfo};
use pxe_dhcp::wire::{DhcpOption, MessageType, Op, Repr};
use pxe_proto::MacAddr;

fn main() -> Result<(), pxe_dhcp::Error> {
    let mac = MacAddr([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    let mut discover = Repr::new(Op::BootRequest, 0x1234_5678, mac);
    discover.set_option(DhcpOption::MessageType(MessageType::Discover));
    discover.set_option(DhcpOption::VendorClassIdentifier(
        b"PXEClient:Arch:00007:UNDI:003016".to_vec(),
    ));
    discover.set_option(DhcpOption::ClientSystemArchitecture(vec![Arch(7)]));

    let mut wire = vec![0u8; discover.buffer_len()];
    let len = discover.emit(&mut wire)?;
    let parsed = Repr::parse_bytes(&wire[..len])?;
    let client = ClientInfo::from_repr(&parsed);
    println!("client: {client}");

    let server = Ipv4Addr::new(192, 168, 1, 1);
    match Policy::default().decide(&client, server) {
        Some(d) => println!("decision: {}", d.reason),
        None => println!("no rule matches"),
    }
    Ok(())
}
