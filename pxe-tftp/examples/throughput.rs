//! In-memory transfer throughput of the cores alone (no sockets): a server session and the
//! reference client joined back to back, for a few blksize × windowsize pairs.
//!
//! `cargo run --release -p pxe-tftp --example throughput [MiB]`

use std::net::SocketAddr;
use std::time::Instant as StdInstant;

use pxe_proto::{Datagram, Instant, SansIo};
use pxe_tftp::{Client, ClientConfig, FileInfo, Server, ServerConfig, SessionEvent};

fn transfer(file: &[u8], blksize: u16, window: u16) -> (u64, u64) {
    let (srv, port, cli): (SocketAddr, SocketAddr, SocketAddr) = (
        "10.0.0.1:69".parse().unwrap(),
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:1234".parse().unwrap(),
    );
    let now = Instant::ZERO;
    let cfg = ClientConfig::default()
        .option("blksize", &blksize.to_string())
        .option("windowsize", &window.to_string());
    let mut client = Client::new(now, srv, b"f", cfg).unwrap();
    let config = ServerConfig {
        blksize_max: blksize,
        windowsize_max: window,
        ..ServerConfig::default()
    };
    let mut server = Server::new(config);
    let mut buf = vec![0u8; pxe_tftp::wire::MAX_DATAGRAM_LEN];
    let tx = client.poll_transmit(now, &mut buf).unwrap();
    server.handle_datagram(now, Datagram::new(cli, srv, &buf[..tx.len]));
    let mut session = server.poll_event().unwrap().accept(
        now,
        FileInfo {
            size: Some(file.len() as u64),
        },
    );
    let mut received = 0u64;
    let mut packets = 0u64;
    while !session.is_finished() {
        while let Some(ev) = session.poll_event() {
            let SessionEvent::NeedData { offset, len } = ev else {
                continue;
            };
            let start = offset as usize;
            session
                .supply(offset, &file[start..(start + len).min(file.len())])
                .unwrap();
        }
        while let Some(tx) = session.poll_transmit(now, &mut buf) {
            packets += 1;
            client.handle_datagram(now, Datagram::new(port, cli, &buf[..tx.len]));
            while let Some((_, bytes)) = client.poll_data() {
                received += bytes.len() as u64;
            }
        }
        while let Some(tx) = client.poll_transmit(now, &mut buf) {
            packets += 1;
            session.handle_datagram(now, Datagram::new(cli, port, &buf[..tx.len]));
        }
    }
    (received, packets)
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let file: Vec<u8> = (0..mib << 20).map(|i| i as u8).collect();
    println!(
        "{:>8} {:>6} {:>10} {:>12} {:>14}",
        "blksize", "window", "MiB/s", "packets", "ns/packet"
    );
    for (blksize, window) in [
        (512, 1),
        (1468, 1),
        (1468, 4),
        (1468, 64),
        (8192, 16),
        (65464, 1),
    ] {
        let start = StdInstant::now();
        let (received, packets) = transfer(&file, blksize, window);
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(received, file.len() as u64);
        println!(
            "{blksize:>8} {window:>6} {:>10.0} {packets:>12} {:>14.0}",
            received as f64 / secs / (1 << 20) as f64,
            secs * 1e9 / packets as f64
        );
    }
}
