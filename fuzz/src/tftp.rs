//! TFTP targets: the packet codec, the server session, the reference client, the path sanitizer.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Component, Path};

use arbitrary::Arbitrary;
use pxe_proto::{Datagram, Destination, Duration, Instant, SansIo};
use pxe_tftp::wire::{Packet, Repr};
use pxe_tftp::{
    Client, ClientConfig, ClientEvent, ErrorCode, FileInfo, Mode, Outcome, RequestKind,
    SanitizeOptions, Server, ServerConfig, SessionEvent,
};

use crate::decode;

/// Parse → emit → parse: whatever parses must emit to exactly `buffer_len` bytes and parse back
/// to the same value; no input panics.
pub fn tftp_packet(data: &[u8]) {
    let Ok(repr) = Repr::parse_bytes(data) else {
        // Packet view accessors must not panic on what the checked constructor refused.
        let p = Packet::new_unchecked(data);
        let _ = (p.opcode(), p.raw_opcode());
        return;
    };
    let len = repr.buffer_len();
    let mut buf = vec![0u8; len];
    let n = repr
        .emit(&mut buf)
        .unwrap_or_else(|e| panic!("{repr:?} parsed but does not emit: {e}"));
    assert_eq!(n, len, "emit wrote {n} bytes, buffer_len said {len}");
    let again = Repr::parse_bytes(&buf[..n]).expect("emitted packet does not parse");
    assert_eq!(again, repr, "parse(emit(parse(x))) differs");
    // One byte short is an error, never a panic or a partial write reported as success.
    if len > 0 {
        assert!(repr.emit(&mut buf[..len - 1]).is_err());
    }
    // Options iterate without panicking and each pair is NUL-free.
    if let Repr::Rrq { options, .. } | Repr::Wrq { options, .. } | Repr::Oack { options } = repr {
        for (name, value) in options.iter() {
            assert!(!name.contains(&0) && !value.contains(&0));
        }
    }
}

/// The sanitizer's contract: an accepted name is non-empty, relative, free of NUL and control
/// characters, and has only normal components (no `..`, no `.`, no root).
pub fn tftp_path(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (prefix, raw) = if flags & 8 != 0 {
        let n = rest.iter().position(|&b| b == b'|').unwrap_or(0);
        (
            std::str::from_utf8(&rest[..n]).ok(),
            &rest[(n + 1).min(rest.len())..],
        )
    } else {
        (None, rest)
    };
    let opts = SanitizeOptions {
        backslash_to_slash: flags & 1 != 0,
        trim_trailing_garbage: flags & 2 != 0,
        lowercase: flags & 4 != 0,
        root_prefix: prefix,
        max_len: 1024,
    };
    let Ok(name) = pxe_tftp::sanitize(raw, &opts) else {
        return;
    };
    assert!(!name.is_empty(), "empty name accepted from {raw:?}");
    assert!(
        !name.starts_with('/'),
        "absolute name {name:?} from {raw:?}"
    );
    assert!(
        !name.chars().any(|c| c < ' ' || c == '\x7f'),
        "control character in {name:?}"
    );
    for c in Path::new(&name).components() {
        assert!(
            matches!(c, Component::Normal(_)),
            "component {c:?} in {name:?} from {raw:?}"
        );
    }
    for part in name.split('/') {
        assert!(part != ".." && part != ".", "{name:?} from {raw:?}");
    }
    if opts.backslash_to_slash {
        // Another OS could read `\` as a separator; with the option on none may survive.
        assert!(!name.contains('\\'), "{name:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces of the session harnesses.

/// A recognisable, non-periodic file content: a shifted offset bug shows up as a mismatch.
fn file_byte(seed: u8, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8) ^ usize::from(seed)) as u8
}

fn file(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| file_byte(seed, i)).collect()
}

#[derive(Arbitrary, Debug, Clone)]
enum OptName {
    Blksize,
    Windowsize,
    Tsize,
    Timeout,
    Utimeout,
    Rollover,
    Other(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
enum OptValue {
    Num(u32),
    Small(u8),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
struct Opt {
    name: OptName,
    upper: bool,
    value: OptValue,
}

fn no_nul(mut v: Vec<u8>) -> Vec<u8> {
    v.retain(|&b| b != 0);
    v
}

impl Opt {
    fn pair(&self) -> (Vec<u8>, Vec<u8>) {
        let name = match &self.name {
            OptName::Blksize => b"blksize".to_vec(),
            OptName::Windowsize => b"windowsize".to_vec(),
            OptName::Tsize => b"tsize".to_vec(),
            OptName::Timeout => b"timeout".to_vec(),
            OptName::Utimeout => b"utimeout".to_vec(),
            OptName::Rollover => b"rollover".to_vec(),
            OptName::Other(n) => no_nul(n.clone()),
        };
        let name = if self.upper {
            name.to_ascii_uppercase()
        } else {
            name
        };
        let value = match &self.value {
            OptValue::Num(n) => n.to_string().into_bytes(),
            OptValue::Small(n) => n.to_string().into_bytes(),
            OptValue::Raw(v) => no_nul(v.clone()),
        };
        (name, value)
    }
}

fn option_bytes(opts: &[Opt]) -> Vec<u8> {
    let mut out = Vec::new();
    for o in opts {
        let (n, v) = o.pair();
        out.extend_from_slice(&n);
        out.push(0);
        out.extend_from_slice(&v);
        out.push(0);
    }
    out
}

fn packet(opcode: u16, rest: &[u8]) -> Vec<u8> {
    let mut p = opcode.to_be_bytes().to_vec();
    p.extend_from_slice(rest);
    p
}

fn error_packet(code: u16, msg: &[u8]) -> Vec<u8> {
    let mut p = packet(5, &code.to_be_bytes());
    p.extend_from_slice(msg);
    p.push(0);
    p
}

fn addr(last: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, last), port))
}

/// Largest time step an action may take (a little over an hour, in micros).
const STEP_MAX_MICROS: u64 = 1 << 32;

// ---------------------------------------------------------------------------------------------
// Server session.

#[derive(Arbitrary, Debug)]
enum Request {
    Built {
        write: bool,
        netascii: bool,
        name: Vec<u8>,
        options: Vec<Opt>,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum ServerAction {
    /// ACK `n` from the client.
    Ack(u16),
    /// ACK relative to the highest DATA block sent so far.
    AckRelative(i8),
    /// DATA for a write session: the next block the server expects, `len` bytes.
    DataNext(u16),
    /// DATA with any block number.
    Data(u16, u16),
    /// ERROR from the client.
    Error(u16, Vec<u8>),
    /// Anything from the client's TID.
    Raw(Vec<u8>),
    /// Anything from another port of the client (a wrong TID).
    Stranger(Vec<u8>),
    /// The clock moves forward.
    Advance(u32),
    /// The clock jumps to the session's deadline.
    Timeout,
    /// The driver gives up (a read error).
    Abort,
    /// The driver answers a `NeedData` with a wrong offset.
    BadSupply(u64),
}

#[derive(Arbitrary, Debug)]
struct ServerInput {
    request: Request,
    file_len: u16,
    seed: u8,
    size_known: bool,
    negotiate: bool,
    max_retries: u8,
    blksize_max: u16,
    windowsize_max: u8,
    actions: Vec<ServerAction>,
}

/// A server session fed an arbitrary sequence of datagrams and clock steps. Checks: no panic;
/// every DATA of an octet read carries exactly the file bytes at its block's offset and never
/// starts past the end of the file; per input no more DATA than one window (no retransmit
/// storm, no Sorcerer's Apprentice); transmits fit `max_transmit_len`; the deadline is never in
/// the past after the driver drained; a run of unanswered timeouts ends the session; `Finished`
/// comes once.
pub fn tftp_server_session(data: &[u8]) {
    let Some(input) = decode::<ServerInput>(data) else {
        return;
    };
    let client = addr(2, 2000);
    let local = addr(1, 69);
    let content = file(input.seed, usize::from(input.file_len));
    let config = ServerConfig {
        allow_write: true,
        negotiate: input.negotiate,
        max_retries: u32::from(input.max_retries % 9),
        blksize_max: input.blksize_max.max(8),
        windowsize_max: u16::from(input.windowsize_max.max(1)),
        ..ServerConfig::default()
    };
    let mut server = Server::new(config);
    let mut now = Instant::from_secs(1);
    let request = match &input.request {
        Request::Built {
            write,
            netascii,
            name,
            options,
        } => {
            let mut p = packet(if *write { 2 } else { 1 }, &no_nul(name.clone()));
            p.push(0);
            p.extend_from_slice(if *netascii { b"NetASCII" } else { b"octet" });
            p.push(0);
            p.extend_from_slice(&option_bytes(options));
            p
        }
        Request::Raw(p) => p.clone(),
    };
    server.handle_datagram(now, Datagram::new(client, local, &request));
    let mut buf = [0u8; 1600];
    let mut server_replies = 0;
    while let Some(t) = server.poll_transmit(now, &mut buf) {
        assert!(t.len <= buf.len());
        assert_eq!(t.destination, Destination::Unicast(client));
        server_replies += 1;
        assert!(server_replies <= 1, "one request, several replies");
    }
    let Some(incoming) = server.poll_event() else {
        return;
    };
    assert!(server.poll_event().is_none(), "one request, two Incoming");
    assert_eq!(incoming.peer(), client);
    let kind = incoming.kind();
    let octet = incoming.mode() == Mode::Octet;
    let size = input.size_known.then_some(content.len() as u64);
    let mut session = incoming.accept(now, FileInfo { size });
    let negotiated = *session.negotiated();
    let bs = usize::from(negotiated.blksize);
    let window = usize::from(negotiated.windowsize.max(1));
    assert!(
        bs >= 8 && negotiated.blksize <= config.blksize_max.max(512),
        "{negotiated:?}"
    );
    assert!(
        negotiated.windowsize <= config.windowsize_max.max(1),
        "{negotiated:?}"
    );
    let mut out = vec![0u8; session.max_transmit_len()];

    let mut highest_sent: u16 = 0;
    let mut last_ack_seen: u16 = 0;
    let mut write_offset = 0u64;
    let mut finished = 0;
    let mut unanswered_timeouts = 0u32;

    // Runs the str0m drain loop after an input, serving NeedData from `content`.
    let mut drain = |session: &mut pxe_tftp::Session,
                     now: Instant,
                     highest_sent: &mut u16,
                     last_ack_seen: &mut u16,
                     write_offset: &mut u64,
                     finished: &mut u32| {
        let mut data_sent = 0usize;
        let mut sent = 0usize;
        loop {
            let mut progress = false;
            while let Some(t) = session.poll_transmit(now, &mut out) {
                progress = true;
                sent += 1;
                assert!(t.len <= out.len(), "transmit longer than max_transmit_len");
                let bytes = &out[..t.len];
                let repr = Repr::parse_bytes(bytes).expect("session emitted an unparsable packet");
                match t.destination {
                    Destination::Unicast(to) if to == client => {}
                    Destination::Unicast(_) => {
                        assert!(matches!(
                            repr,
                            Repr::Error {
                                code: ErrorCode::UnknownTransferId,
                                ..
                            }
                        ));
                        continue;
                    }
                    d => panic!("TFTP sent to {d:?}"),
                }
                match repr {
                    Repr::Data { block, data } => {
                        assert_eq!(kind, RequestKind::Read, "write session sent DATA");
                        data_sent += 1;
                        assert!(
                            data.len() <= bs,
                            "DATA of {} bytes > blksize {bs}",
                            data.len()
                        );
                        assert!(block.0 >= 1, "DATA block 0");
                        *highest_sent = (*highest_sent).max(block.0);
                        if octet {
                            let offset = (usize::from(block.0) - 1) * bs;
                            assert!(
                                offset <= content.len(),
                                "DATA {} starts at {offset}, past the end of a {}-byte file",
                                block.0,
                                content.len()
                            );
                            let end = (offset + bs).min(content.len());
                            assert_eq!(data, &content[offset..end], "DATA {} bytes wrong", block.0);
                        }
                    }
                    Repr::Ack { block } => {
                        assert_eq!(kind, RequestKind::Write, "read session sent ACK");
                        *last_ack_seen = block.0;
                    }
                    Repr::Oack { .. } | Repr::Error { .. } => {}
                    r => panic!("session sent {r:?}"),
                }
            }
            while let Some(ev) = session.poll_event() {
                progress = true;
                match ev {
                    SessionEvent::NeedData { offset, len } => {
                        assert_eq!(kind, RequestKind::Read, "NeedData in a write session");
                        assert!(len > 0, "NeedData of zero bytes");
                        assert!(
                            offset <= content.len() as u64 || !octet,
                            "NeedData at {offset} past a {}-byte file",
                            content.len()
                        );
                        let start = usize::try_from(offset)
                            .unwrap_or(usize::MAX)
                            .min(content.len());
                        let end = start.saturating_add(len).min(content.len());
                        session
                            .supply(offset, &content[start..end])
                            .expect("supplying what NeedData asked for failed");
                    }
                    SessionEvent::Finished(outcome) => {
                        *finished += 1;
                        assert_eq!(*finished, 1, "Finished twice");
                        let stats = session.stats();
                        if let (Outcome::Completed, RequestKind::Read, true, false) =
                            (&outcome, kind, octet, stats.final_ack_missing)
                        {
                            assert_eq!(
                                stats.bytes,
                                content.len() as u64,
                                "completed read acknowledged {} of {} bytes",
                                stats.bytes,
                                content.len()
                            );
                        }
                    }
                    // `Established` only feeds the server's handshake budget, which this
                    // session-level target has no server for.
                    _ => {}
                }
            }
            while let Some((offset, bytes)) = session.poll_data() {
                progress = true;
                assert_eq!(offset, *write_offset, "write data out of order");
                *write_offset += bytes.len() as u64;
            }
            if !progress {
                break;
            }
            assert!(
                sent <= window + 8,
                "{sent} datagrams for one input (window {window})"
            );
        }
        assert!(
            data_sent <= window,
            "{data_sent} DATA for one input with windowsize {window}"
        );
        if let Some(d) = session.poll_timeout() {
            // Equal is due at once: a waiting client's ACK after two unanswered resends brings
            // the timer's resend forward to now (the resend itself still goes out through
            // `handle_timeout`, never straight from an input).
            assert!(d >= now, "deadline {d} before now {now} once drained");
        }
        data_sent
    };

    drain(
        &mut session,
        now,
        &mut highest_sent,
        &mut last_ack_seen,
        &mut write_offset,
        &mut finished,
    );
    for action in input.actions {
        let from_client = |session: &mut pxe_tftp::Session, now, bytes: &[u8]| {
            session.handle_datagram(now, Datagram::new(client, addr(1, 3000), bytes));
        };
        match action {
            ServerAction::Ack(n) => from_client(&mut session, now, &packet(4, &n.to_be_bytes())),
            ServerAction::AckRelative(d) => {
                let n = highest_sent.wrapping_add_signed(i16::from(d));
                from_client(&mut session, now, &packet(4, &n.to_be_bytes()));
            }
            ServerAction::DataNext(len) => {
                let block = last_ack_seen.wrapping_add(1);
                let offset = (usize::from(block) - 1) * bs;
                let len = usize::from(len).min(bs);
                let payload: Vec<u8> = (offset..offset + len)
                    .map(|i| file_byte(input.seed, i))
                    .collect();
                let mut p = packet(3, &block.to_be_bytes());
                p.extend_from_slice(&payload);
                from_client(&mut session, now, &p);
            }
            ServerAction::Data(block, len) => {
                let mut p = packet(3, &block.to_be_bytes());
                p.resize(4 + usize::from(len).min(bs + 1), 0xAA);
                from_client(&mut session, now, &p);
            }
            ServerAction::Error(code, msg) => {
                from_client(&mut session, now, &error_packet(code, &no_nul(msg)))
            }
            ServerAction::Raw(bytes) => from_client(&mut session, now, &bytes),
            ServerAction::Stranger(bytes) => {
                session.handle_datagram(now, Datagram::new(addr(2, 2001), addr(1, 3000), &bytes));
            }
            ServerAction::Advance(us) => {
                now += Duration::from_micros(u64::from(us) % STEP_MAX_MICROS);
                session.handle_timeout(now);
            }
            ServerAction::Timeout => {
                if let Some(d) = session.poll_timeout() {
                    now = now.max(d);
                }
                session.handle_timeout(now);
            }
            ServerAction::Abort => session.abort(now, ErrorCode::NotDefined, "driver gave up"),
            ServerAction::BadSupply(off) => {
                // Only a wrong offset or an unexpected call: the session must refuse it.
                let _ = session.supply(off | (1 << 63), &[1, 2, 3]);
            }
        }
        drain(
            &mut session,
            now,
            &mut highest_sent,
            &mut last_ack_seen,
            &mut write_offset,
            &mut finished,
        );
    }
    // Let the clock run out: the session must end on its own, whatever state the sequence left
    // it in. Besides max_retries it waits out the idle and handshake timeouts (30 s without
    // progress), so allow generously many deadlines; each is one cheap call.
    let limit = config.max_retries + 10_000;
    for _ in 0..limit {
        let Some(d) = session.poll_timeout() else {
            break;
        };
        now = now.max(d);
        session.handle_timeout(now);
        unanswered_timeouts += 1;
        drain(
            &mut session,
            now,
            &mut highest_sent,
            &mut last_ack_seen,
            &mut write_offset,
            &mut finished,
        );
    }
    assert!(
        session.poll_timeout().is_none(),
        "session still has a deadline after {unanswered_timeouts} unanswered timeouts (max_retries {})",
        config.max_retries
    );
    assert!(
        session.outcome().is_some(),
        "session ended without an outcome"
    );
}

// ---------------------------------------------------------------------------------------------
// Reference client.

#[derive(Arbitrary, Debug)]
enum ClientAction {
    /// An OACK from the server's transfer port.
    Oack(Vec<Opt>),
    /// DATA carrying the file's real bytes for block `n` (clamped to the file).
    FileBlock(u16),
    /// The block after the last one delivered.
    NextBlock,
    /// DATA with arbitrary bytes (spoils the content check).
    Data(u16, Vec<u8>),
    /// ERROR from the server.
    Error(u16, Vec<u8>),
    /// Anything from the server's transfer port.
    Raw(Vec<u8>),
    /// Anything from another port (a wrong TID).
    Stranger(Vec<u8>),
    /// The clock moves forward.
    Advance(u32),
    /// The clock jumps to the client's deadline.
    Timeout,
    /// The driver gives up.
    Abort,
}

#[derive(Arbitrary, Debug)]
struct ClientInput {
    netascii: bool,
    options: Vec<Opt>,
    file_len: u16,
    seed: u8,
    max_retries: u8,
    actions: Vec<ClientAction>,
}

/// The reference client fed arbitrary server behaviour. Checks: no panic; data comes out in
/// order from offset 0; as long as the "server" only sent real file blocks, the bytes delivered
/// are a prefix of the file, and all of it once the client reports completion; at most a few
/// datagrams per input; deadlines in the future; the client ends on its own.
pub fn tftp_client(data: &[u8]) {
    let Some(input) = decode::<ClientInput>(data) else {
        return;
    };
    let content = file(input.seed, usize::from(input.file_len));
    let server = addr(1, 69);
    let tid = addr(1, 40000);
    let mut config = ClientConfig {
        mode: if input.netascii {
            Mode::Netascii
        } else {
            Mode::Octet
        },
        max_retries: u32::from(input.max_retries % 9),
        ..ClientConfig::default()
    };
    for o in &input.options {
        let (n, v) = o.pair();
        config.options.push((
            String::from_utf8_lossy(&n).into_owned(),
            String::from_utf8_lossy(&v).into_owned(),
        ));
    }
    let max_retries = config.max_retries;
    let mut now = Instant::from_secs(1);
    let Ok(mut client) = Client::new(now, server, b"pxelinux.0", config) else {
        return;
    };
    let mut buf = vec![0u8; 70000];
    let mut delivered: Vec<u8> = Vec::new();
    let mut spoiled = input.netascii;
    let mut finished: Option<Outcome> = None;
    let mut data_blksize: Option<u16> = None;

    let mut drain = |client: &mut Client,
                     now: Instant,
                     delivered: &mut Vec<u8>,
                     finished: &mut Option<Outcome>,
                     spoiled: bool| {
        let mut sent = 0;
        loop {
            let mut progress = false;
            while let Some(t) = client.poll_transmit(now, &mut buf) {
                progress = true;
                sent += 1;
                assert!(t.len <= buf.len());
                let repr = Repr::parse_bytes(&buf[..t.len]).expect("client emitted garbage");
                assert!(
                    matches!(
                        repr,
                        Repr::Rrq { .. } | Repr::Ack { .. } | Repr::Error { .. }
                    ),
                    "client sent {repr:?}"
                );
            }
            while let Some((offset, bytes)) = client.poll_data() {
                progress = true;
                assert_eq!(offset, delivered.len() as u64, "data out of order");
                delivered.extend_from_slice(bytes);
            }
            while let Some(ev) = client.poll_event() {
                progress = true;
                if let ClientEvent::Finished(o) = ev {
                    assert!(finished.is_none(), "Finished twice");
                    *finished = Some(o);
                }
            }
            if !progress {
                break;
            }
            assert!(sent <= 8, "{sent} datagrams for one input");
        }
        if !spoiled {
            assert!(
                delivered.len() <= content.len(),
                "more bytes than the file has"
            );
            assert_eq!(
                &delivered[..],
                &content[..delivered.len()],
                "delivered bytes differ"
            );
            if finished == &Some(Outcome::Completed) {
                assert_eq!(
                    delivered.len(),
                    content.len(),
                    "completed with a short file"
                );
            }
        }
        if let Some(d) = client.poll_timeout() {
            assert!(d > now, "deadline {d} not after now {now}");
        }
    };

    drain(&mut client, now, &mut delivered, &mut finished, spoiled);
    for action in input.actions {
        let bs = usize::from(client.negotiated().blksize);
        let send = |client: &mut Client, from: SocketAddr, bytes: &[u8]| {
            client.handle_datagram(now, Datagram::new(from, addr(2, 2000), bytes));
        };
        let block_packet = |block: u16| {
            let offset = (usize::from(block.max(1)) - 1) * bs;
            let start = offset.min(content.len());
            let end = (offset + bs).min(content.len());
            let mut p = packet(3, &block.max(1).to_be_bytes());
            p.extend_from_slice(&content[start..end]);
            (p, offset <= content.len())
        };
        match action {
            ClientAction::Oack(opts) => {
                let mut p = packet(6, &[]);
                p.extend_from_slice(&option_bytes(&opts));
                send(&mut client, tid, &p);
            }
            ClientAction::FileBlock(n) => {
                let last = content.len() / bs + 1;
                let n = (usize::from(n) % last + 1) as u16;
                let (p, _) = block_packet(n);
                let before = client.negotiated().blksize;
                send(&mut client, tid, &p);
                // The block size the DATA was cut for must be the one the client keeps.
                if client.negotiated().blksize != before {
                    spoiled = true;
                }
                data_blksize.get_or_insert(before);
            }
            ClientAction::NextBlock => {
                let n = (delivered.len() / bs + 1).min(usize::from(u16::MAX)) as u16;
                let (p, inside) = block_packet(n);
                if inside {
                    send(&mut client, tid, &p);
                }
            }
            ClientAction::Data(block, bytes) => {
                let mut p = packet(3, &block.to_be_bytes());
                p.extend_from_slice(&bytes);
                send(&mut client, tid, &p);
                spoiled = true;
            }
            ClientAction::Error(code, msg) => {
                send(&mut client, tid, &error_packet(code, &no_nul(msg)))
            }
            ClientAction::Raw(bytes) => {
                spoiled |= bytes.get(..2) == Some(&[0, 3]);
                send(&mut client, tid, &bytes);
            }
            ClientAction::Stranger(bytes) => send(&mut client, addr(9, 40001), &bytes),
            ClientAction::Advance(us) => {
                now += Duration::from_micros(u64::from(us) % STEP_MAX_MICROS);
                client.handle_timeout(now);
            }
            ClientAction::Timeout => {
                if let Some(d) = client.poll_timeout() {
                    now = now.max(d);
                }
                client.handle_timeout(now);
            }
            ClientAction::Abort => client.abort(now, ErrorCode::OptionNegotiation, "probe done"),
        }
        if data_blksize.is_some_and(|b| b != client.negotiated().blksize) {
            spoiled = true;
        }
        drain(&mut client, now, &mut delivered, &mut finished, spoiled);
    }
    // Expiries of an adapted timer shorter than the initial one do not count as retries
    // (`ClientConfig::max_retries`); it doubles on each, from at least 1 µs, so at most 21
    // such expiries come on top of the retries before the client gives up.
    for _ in 0..max_retries + 3 + 21 {
        let Some(d) = client.poll_timeout() else {
            break;
        };
        now = now.max(d);
        client.handle_timeout(now);
        drain(&mut client, now, &mut delivered, &mut finished, spoiled);
    }
    assert!(client.poll_timeout().is_none(), "client never gives up");
    assert!(
        client.outcome().is_some(),
        "client ended without an outcome"
    );
}
