//! The reference client: one read transfer (RRQ), as a Sans-IO state machine.
//!
//! Used by the simulation tests, the benches and `pxe get`. It sends an RRQ with any option set
//! (in the order given, so it can imitate real firmware), handles an OACK or a server that
//! ignores options and answers with DATA 1, learns the server's TID from the first reply,
//! receives windows (RFC 7440: ACK at window end, one re-ACK on a gap or duplicate), follows
//! block-number rollover, retransmits on its own timer and dallies after the final ACK.
//!
//! The timer adapts (RFC 1123 §4.2.3.2 asks TFTP for adaptive timeouts): RFC 6298 estimation
//! from the request→first reply and ACK→next DATA round trips, Karn's rule (no sample from an
//! exchange whose request or ACK was sent more than once), [`ClientConfig::rto`] until the
//! first sample, doubling on each expiry up to [`ClientConfig::rto_max`]. A `timeout` or
//! `utimeout` option the server grants fixes the timer at that value (RFC 2349).
//!
//! Received bytes come out through [`Client::poll_data`] as `(offset, &[u8])`, borrowed from a
//! buffer reused for the whole transfer, so a driver can `pwrite` them without allocating.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::SocketAddr;

use pxe_proto::{Datagram, Destination, Duration, Instant, SansIo, Transmit, Writer};

use crate::error::TransferError;
use crate::options::{Negotiated, RequestedOptions};
use crate::receiver::{DataOutcome, Receiver};
use crate::rto::Rto;
use crate::session::{Outcome, TransferStats};
use crate::stray::Strays;
use crate::wire::{self, ErrorCode, Mode, Opcode, Options, Packet, Repr};

/// The least the adaptive timer waits ([`ClientConfig::rto`] lowers it if smaller).
///
/// The server session's default floor (20 ms) too. A client's resend is an ACK: a server that
/// follows RFC 1123 §4.2.3.1 (this crate's does) ignores it when it turns out to be a
/// duplicate, so a client timer firing together with the server's costs one 4-byte packet,
/// while a slower one would only add its wait to the losses only the client repairs (its
/// request, the first reply, an ACK whose one repeat was lost too). The hazard of an eager
/// client, a server that answers every copy of an ACK (the Sorcerer's Apprentice), is handled
/// where it starts: the copies of DATA that our own repeated ACK brings back are not ACKed
/// (see `echoes`).
pub const CLIENT_RTO_MIN: Duration = Duration::from_millis(20);

/// What the client asks for and how patient it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Transfer mode (default `octet`).
    pub mode: Mode,
    /// Options sent in the RRQ, in this order, as `(name, value)` (default none).
    pub options: Vec<(String, String)>,
    /// Initial retransmission timeout for the RRQ and ACKs, until a round trip was measured
    /// (default 1 s, RFC 6298 §2.1); doubled on each expiry.
    pub rto: Duration,
    /// Upper bound of the backed-off timeout (default 8 s).
    pub rto_max: Duration,
    /// Retransmissions before giving up (default 5), counting only those after a wait of at
    /// least [`rto`](Self::rto) (or the granted `timeout`): the quicker ones the measured
    /// timer makes first come on top, so the client stays as patient as with a fixed timer
    /// (1 + 2 + 4 + 8 + 8 + 8 s of silence by default).
    pub max_retries: u32,
    /// How long to linger after the final ACK to re-ACK a resent last block (default 1 s).
    pub dally: Duration,
    /// Block number after 65535 when the server does not negotiate `rollover` (default 0;
    /// larger values are treated as 1, see [`ServerConfig::rollover`](crate::ServerConfig)).
    pub rollover: u16,
    /// The most bytes buffered for the driver (default 4 MiB); DATA beyond it is dropped (and
    /// resent by the server) until the driver drains [`Client::poll_data`].
    pub buffer_max: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            mode: Mode::Octet,
            options: Vec::new(),
            rto: Duration::from_secs(1),
            rto_max: Duration::from_secs(8),
            max_retries: 5,
            dally: Duration::from_secs(1),
            rollover: 0,
            buffer_max: 4 << 20,
        }
    }
}

impl ClientConfig {
    /// Appends an option to the request.
    pub fn option(mut self, name: &str, value: &str) -> Self {
        self.options.push((name.to_string(), value.to_string()));
        self
    }
}

/// What the client tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server answered: with an OACK (its options are here) or with DATA 1 (defaults).
    Negotiated(Negotiated),
    /// The transfer is over; every received byte was handed out through `poll_data` first.
    Finished(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Requesting,
    Transfer,
    Dally,
    Done,
}

/// A read transfer from the client's side.
#[derive(Debug)]
pub struct Client {
    server: SocketAddr,
    peer: Option<SocketAddr>,
    config: ClientConfig,
    requested: RequestedOptions,
    rrq: Vec<u8>,
    rrq_due: bool,
    phase: Phase,
    receiver: Option<Receiver>,
    negotiated: Negotiated,
    rto: Rto,
    /// When the request or ACK that the next reply answers went out, if it went out once
    /// (Karn's rule: a resent packet gives no sample).
    sample_from: Option<Instant>,
    /// The last ACK sent (wire block number) and how many more times it was sent.
    last_ack: Option<(u16, u32)>,
    /// Copies of the current DATA still expected because we sent the ACK before it more than
    /// once: a server with the Sorcerer's Apprentice bug (RFC 1123 §4.2.3.1) answers every
    /// copy. They are not ACKed again, or each would double the traffic for good.
    echoes: u32,
    retries: u32,
    /// Expiries of a timer at least this long count as retries (see `max_retries`).
    patient: Duration,
    deadline: Option<Instant>,
    events: VecDeque<ClientEvent>,
    stray: Strays,
    error_out: Option<(ErrorCode, String)>,
    outcome: Option<Outcome>,
    stats: TransferStats,
}

impl Client {
    /// Starts reading `filename` from `server` (normally port 69). The RRQ goes out on the
    /// first `poll_transmit`. Fails only if the name or an option contains a NUL.
    pub fn new(
        now: Instant,
        server: SocketAddr,
        filename: &[u8],
        mut config: ClientConfig,
    ) -> Result<Client, crate::Error> {
        config.rollover = config.rollover.min(1);
        let pairs = || {
            config
                .options
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        };
        let mut options = alloc::vec![0u8; wire::options_len(pairs())];
        let olen = wire::write_options(pairs(), &mut options)?;
        if pairs().any(|(n, v)| n.contains(&0) || v.contains(&0)) {
            return Err(crate::Error::Wire(pxe_proto::WireError::Malformed {
                field: "option",
                offset: 0,
            }));
        }
        let repr = Repr::Rrq {
            filename,
            mode: config.mode,
            options: Options::from_bytes(&options[..olen]),
        };
        let mut rrq = alloc::vec![0u8; repr.buffer_len()];
        repr.emit(&mut rrq)?;
        let requested = RequestedOptions::from_options(Options::from_bytes(&options[..olen]));
        let negotiated = Negotiated {
            rollover: config.rollover,
            ..Negotiated::default()
        };
        Ok(Client {
            server,
            peer: None,
            requested,
            rrq,
            rrq_due: true,
            phase: Phase::Requesting,
            receiver: None,
            stats: TransferStats::new(now, &negotiated),
            negotiated,
            rto: Rto::new(
                config.rto,
                CLIENT_RTO_MIN.min(config.rto),
                config.rto_max,
                None,
            ),
            sample_from: None,
            last_ack: None,
            echoes: 0,
            retries: 0,
            patient: config.rto.min(config.rto_max),
            deadline: None,
            events: VecDeque::new(),
            stray: Strays::default(),
            error_out: None,
            outcome: None,
            config,
        })
    }

    /// The server's transfer address, once it answered.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The options in force (defaults until the server answers).
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Counters (`bytes`/`blocks` count received DATA).
    pub fn stats(&self) -> &TransferStats {
        &self.stats
    }

    /// How the transfer ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Whether the client is done, dallying included, with nothing left to send.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Done && self.error_out.is_none() && self.stray.is_empty()
    }

    /// Received bytes and their offset in the file, in order. The slice stays valid until the
    /// next `handle_datagram`; drain this with `poll_transmit` and `poll_event`.
    pub fn poll_data(&mut self) -> Option<(u64, &[u8])> {
        self.receiver.as_mut()?.poll_data()
    }

    /// Ends the transfer: sends ERROR `code` to the server (EDK2 sends ERROR 8 after reading
    /// `tsize` from the OACK) and finishes with [`TransferError::Aborted`].
    ///
    /// After the last block arrived (the client is dallying) this only stops dallying: the
    /// outcome stays [`Outcome::Completed`] and nothing is sent.
    pub fn abort(&mut self, now: Instant, code: ErrorCode, message: &str) {
        if self.phase == Phase::Dally {
            self.phase = Phase::Done;
            self.deadline = None;
            return;
        }
        if self.phase == Phase::Done {
            return;
        }
        self.error_out = Some((code, message.to_string()));
        self.finish(now, Outcome::Failed(TransferError::Aborted { code }));
    }

    fn finish(&mut self, now: Instant, outcome: Outcome) {
        self.phase = Phase::Done;
        self.deadline = None;
        self.stats.finished = Some(now);
        self.outcome = Some(outcome.clone());
        self.events.push_back(ClientEvent::Finished(outcome));
    }

    fn start(&mut self, n: Negotiated) {
        self.negotiated = n;
        self.stats.blksize = n.blksize;
        self.stats.windowsize = n.windowsize;
        self.receiver = Some(Receiver::new(
            &n,
            self.config.mode == Mode::Netascii,
            self.config.buffer_max,
        ));
        self.phase = Phase::Transfer;
        self.retries = 0;
        self.rto.reset_backoff();
        if let Some(t) = n.timeout {
            // RFC 2349: the granted `timeout` is how long both sides wait before resending.
            self.rto = Rto::new(t, t, self.config.rto_max, Some(t));
            self.patient = t;
        }
        self.events.push_back(ClientEvent::Negotiated(n));
    }

    /// A reply arrived that answers the last request or ACK: a round-trip sample if that
    /// went out once, else progress without one (Karn's algorithm, RFC 6298 §5).
    fn answered(&mut self, now: Instant) {
        match self.sample_from.take() {
            Some(sent) => self.rto.sample(now.saturating_duration_since(sent)),
            None => self.rto.progress_without_sample(),
        }
    }

    fn on_data(&mut self, now: Instant, block: wire::BlockNumber, data: &[u8]) {
        let Some(receiver) = self.receiver.as_mut() else {
            return;
        };
        let ack_was_due = receiver.ack_pending();
        match receiver.on_data(block, data) {
            DataOutcome::Accepted { last } => {
                self.stats.blocks = receiver.blocks();
                self.stats.bytes = receiver.bytes;
                self.retries = 0;
                // Each extra copy of the ACK we sent may bring one more copy of this block.
                self.echoes = self.last_ack.map_or(0, |(_, extra)| extra);
                if let Some((_, extra)) = self.last_ack.as_mut() {
                    *extra = 0;
                }
                self.answered(now);
                if last {
                    self.phase = Phase::Dally;
                    self.deadline = Some(now + self.config.dally);
                    self.stats.finished = Some(now);
                    self.outcome = Some(Outcome::Completed);
                    self.events
                        .push_back(ClientEvent::Finished(Outcome::Completed));
                } else {
                    self.deadline = Some(now + self.rto.current());
                }
            }
            DataOutcome::Duplicate => {
                self.stats.duplicate_data += 1;
                if self.echoes > 0 && !ack_was_due {
                    // Most likely the answer to our own repeated ACK, not a sign that our
                    // ACK was lost: ACKing it would make the server send the next block twice.
                    self.echoes -= 1;
                    receiver.cancel_ack();
                }
            }
            DataOutcome::Gap => self.stats.duplicate_data += 1,
            DataOutcome::Dropped => self.stats.ignored += 1,
        }
    }
}

impl SansIo for Client {
    type Event = ClientEvent;

    fn handle_datagram(&mut self, now: Instant, dgram: Datagram<'_>) {
        let packet = Packet::new_unchecked(dgram.payload);
        let known = match self.peer {
            Some(peer) => peer == dgram.remote,
            None => dgram.remote.ip() == self.server.ip(),
        };
        if !known {
            self.stats.wrong_tid += 1;
            self.stray.push(dgram.remote, dgram.payload);
            return;
        }
        let Ok(repr) = Repr::parse(&packet) else {
            self.stats.ignored += 1;
            return;
        };
        if self.phase == Phase::Requesting
            && matches!(
                repr,
                Repr::Oack { .. } | Repr::Data { .. } | Repr::Error { .. }
            )
        {
            self.peer = Some(dgram.remote);
        }
        match (self.phase, repr) {
            (Phase::Done, _) => self.stats.ignored += 1,
            (Phase::Requesting, Repr::Oack { options }) => {
                match Negotiated::client(&self.requested, options, self.config.rollover) {
                    Ok(n) => {
                        self.answered(now);
                        self.start(n);
                        if let Some(r) = self.receiver.as_mut() {
                            r.reack();
                        }
                        self.deadline = Some(now + self.rto.current());
                    }
                    Err(reason) => {
                        self.error_out = Some((ErrorCode::OptionNegotiation, reason.to_string()));
                        self.finish(
                            now,
                            Outcome::Failed(TransferError::OptionNegotiation { reason }),
                        );
                    }
                }
            }
            (Phase::Requesting, Repr::Data { block, data }) => {
                // `on_data` takes the sample of the request's round trip.
                self.start(Negotiated {
                    rollover: self.config.rollover,
                    ..Negotiated::default()
                });
                self.on_data(now, block, data);
            }
            (Phase::Requesting | Phase::Transfer, Repr::Error { code, message }) => {
                let error = TransferError::from_peer(code, message);
                self.finish(now, Outcome::Failed(error));
            }
            (Phase::Transfer, Repr::Oack { .. }) => match self.receiver.as_mut() {
                // Our ACK 0 was lost: the server resent its OACK.
                Some(r) if !r.started() => r.reack(),
                _ => self.stats.ignored += 1,
            },
            (Phase::Transfer | Phase::Dally, Repr::Data { block, data }) => {
                self.on_data(now, block, data)
            }
            _ => self.stats.ignored += 1,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        self.deadline = None;
        if self.phase == Phase::Dally {
            self.phase = Phase::Done;
            return;
        }
        if self.rto.current() >= self.patient {
            self.retries += 1;
        }
        self.stats.timeouts += 1;
        if self.retries > self.config.max_retries {
            let retries = self.retries - 1;
            self.finish(now, Outcome::Failed(TransferError::TimedOut { retries }));
            return;
        }
        self.rto.back_off();
        self.sample_from = None;
        match self.receiver.as_mut() {
            Some(r) => r.on_timeout(),
            None => self.rrq_due = true,
        }
        self.deadline = Some(now + self.rto.current());
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if let Some(t) = self.stray.poll_transmit(buf) {
            return Some(t);
        }
        let to = self.peer.unwrap_or(self.server);
        let len = if let Some((code, message)) = self.error_out.take() {
            wire::emit_error(code, &message, buf)
        } else if self.phase == Phase::Done {
            return None;
        } else if self.rrq_due {
            let out = buf.get_mut(..self.rrq.len())?;
            out.copy_from_slice(&self.rrq);
            if self.stats.packets_sent > 0 {
                self.stats.retransmits += 1;
                self.sample_from = None;
            } else {
                self.sample_from = Some(now);
            }
            self.rrq_due = false;
            self.rrq.len()
        } else {
            let block = self.receiver.as_mut()?.take_ack()?;
            match self.last_ack.as_mut() {
                Some((b, extra)) if *b == block.0 => {
                    *extra += 1;
                    self.sample_from = None;
                }
                _ => {
                    self.last_ack = Some((block.0, 0));
                    self.sample_from = Some(now);
                }
            }
            let mut w = Writer::new(buf);
            w.put_u16(Opcode::Ack as u16).ok()?;
            w.put_u16(block.0).ok()?;
            w.position()
        };
        self.stats.packets_sent += 1;
        if self.deadline.is_none() && matches!(self.phase, Phase::Requesting | Phase::Transfer) {
            self.deadline = Some(now + self.rto.current());
        }
        Some(Transmit {
            destination: Destination::Unicast(to),
            local: None,
            len,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn poll_event(&mut self) -> Option<ClientEvent> {
        if let (Some(ClientEvent::Finished(_)), Some(r)) =
            (self.events.front(), self.receiver.as_ref())
            && r.has_data()
        {
            return None;
        }
        self.events.pop_front()
    }
}
