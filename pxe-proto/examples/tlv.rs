//! The byte cursors and the TLV (code, length, value) iterator every wire format here is built
//! on: write a DHCP-style option list, then walk it back, malformed input included.
//!
//! `cargo run -p pxe-proto --example tlv`

use pxe_proto::{TlvIter, TlvWriter, Writer};

fn main() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    let mut options = TlvWriter::new(&mut w);
    options.put(53, &[1]).expect("room"); // message type DHCPDISCOVER
    options.put(60, b"PXEClient").expect("room");
    options.end().expect("room"); // option 255
    let len = w.position();

    for tlv in TlvIter::new(&buf[..len]) {
        match tlv {
            Ok(t) => println!("option {} at {}: {:02x?}", t.code, t.offset, t.value),
            Err(e) => println!("malformed: {e}"),
        }
    }
    // A length running past the end is an error, never a panic or an out-of-bounds read.
    let truncated = [60, 9, b'P', b'X'];
    println!("{:?}", TlvIter::new(&truncated).collect::<Vec<_>>());
}
