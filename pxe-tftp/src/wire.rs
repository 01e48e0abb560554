//! TFTP packets on the wire (RFC 1350 §5, RFC 2347 OACK), smoltcp style.
//!
//! [`Packet`] is a zero-copy view over received bytes, checked once with
//! [`Packet::new_checked`]; [`Repr`] is the parsed, borrowing form with
//! [`parse`](Repr::parse), [`buffer_len`](Repr::buffer_len) and [`emit`](Repr::emit).
//! Filenames and option strings stay `&[u8]` here: UTF-8 checks and path policy live in
//! [`crate::path`], option meaning in [`crate::options`].

use core::fmt;

use pxe_proto::{Reader, WireError, Writer};

/// Byte offsets of the fixed fields (RFC 1350 §5, figures 5-1 to 5-4).
mod field {
    use core::ops::Range;

    /// Every packet starts with a 2-byte opcode.
    pub const OPCODE: Range<usize> = 0..2;
    /// DATA and ACK carry a block number, ERROR an error code, at the same place.
    pub const BLOCK: Range<usize> = 2..4;
    /// The DATA payload and the ERROR message start here.
    pub const PAYLOAD: usize = 4;
    /// RRQ, WRQ and OACK bodies (strings) start here.
    pub const STRINGS: usize = 2;
}

/// Size of the DATA header (opcode + block), to add to the block size for a buffer length.
pub const DATA_HEADER_LEN: usize = field::PAYLOAD;
/// The block size without the `blksize` option (RFC 1350 §2).
pub const DEFAULT_BLKSIZE: u16 = 512;
/// The smallest `blksize` a client may request (RFC 2348).
pub const MIN_BLKSIZE: u16 = 8;
/// The largest `blksize` a client may request (RFC 2348).
pub const MAX_BLKSIZE: u16 = 65464;
/// The largest datagram this crate ever emits: a DATA packet at [`MAX_BLKSIZE`].
pub const MAX_DATAGRAM_LEN: usize = MAX_BLKSIZE as usize + DATA_HEADER_LEN;

/// The packet type (RFC 1350 §5; OACK from RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Opcode {
    /// Read request.
    Rrq = 1,
    /// Write request.
    Wrq = 2,
    /// Data.
    Data = 3,
    /// Acknowledgment.
    Ack = 4,
    /// Error.
    Error = 5,
    /// Option acknowledgment (RFC 2347).
    Oack = 6,
}

impl Opcode {
    /// The opcode for a wire value, or `None` for values RFC 1350/2347 do not define.
    pub const fn from_u16(v: u16) -> Option<Opcode> {
        Some(match v {
            1 => Opcode::Rrq,
            2 => Opcode::Wrq,
            3 => Opcode::Data,
            4 => Opcode::Ack,
            5 => Opcode::Error,
            6 => Opcode::Oack,
            _ => return None,
        })
    }
}

/// A block number as it appears on the wire: 16 bits, wrapping (RFC 1350 §5).
///
/// Sessions count blocks in `u64` and map to this type with a rollover value (see
/// [`BlockNumber::from_index`]); this type only names the wire field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BlockNumber(pub u16);

impl BlockNumber {
    /// The wire number of the `index`-th block (block 1 is the first DATA packet, 0 the
    /// OACK/WRQ acknowledgment) when numbers wrap from 65535 to `rollover` (0 for most
    /// clients; tftp-hpa's `rollover` option allows 1).
    pub const fn from_index(index: u64, rollover: u16) -> BlockNumber {
        if index <= u16::MAX as u64 {
            return BlockNumber(index as u16);
        }
        let period = 65536 - rollover as u64;
        BlockNumber((rollover as u64 + (index - 65536) % period) as u16)
    }

    /// The block index in `lo..=hi` whose wire number is `self`, if any.
    ///
    /// Unique as long as the range is shorter than the rollover period (65536 − rollover),
    /// which sessions guarantee by capping the window at 32768 blocks.
    pub fn resolve(self, lo: u64, hi: u64, rollover: u16) -> Option<u64> {
        if lo > hi {
            return None;
        }
        let w = u64::from(self.0);
        if lo <= u64::from(u16::MAX) && w >= lo && w <= hi.min(u64::from(u16::MAX)) {
            return Some(w);
        }
        let start = lo.max(65536);
        if start > hi || self.0 < rollover {
            return None;
        }
        let period = 65536 - u64::from(rollover);
        let first = u64::from(BlockNumber::from_index(start, rollover).0);
        let d = (w + period - first) % period;
        start.checked_add(d).filter(|&k| k <= hi)
    }
}

impl fmt::Display for BlockNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The ERROR packet's code (RFC 1350 §5 Appendix; 8 from RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ErrorCode {
    /// 0: not defined, see the error message.
    NotDefined,
    /// 1: file not found.
    FileNotFound,
    /// 2: access violation.
    AccessViolation,
    /// 3: disk full or allocation exceeded.
    DiskFull,
    /// 4: illegal TFTP operation.
    IllegalOperation,
    /// 5: unknown transfer ID.
    UnknownTransferId,
    /// 6: file already exists.
    FileAlreadyExists,
    /// 7: no such user.
    NoSuchUser,
    /// 8: the transfer should be terminated during option negotiation (RFC 2347). UEFI
    /// firmware also uses it to end its `tsize` probe.
    OptionNegotiation,
    /// Any other value.
    Other(u16),
}

impl ErrorCode {
    /// The code for a wire value.
    pub const fn from_u16(v: u16) -> ErrorCode {
        match v {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTransferId,
            6 => ErrorCode::FileAlreadyExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionNegotiation,
            v => ErrorCode::Other(v),
        }
    }

    /// The wire value.
    pub const fn to_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTransferId => 5,
            ErrorCode::FileAlreadyExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionNegotiation => 8,
            ErrorCode::Other(v) => v,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorCode::NotDefined => "not defined",
            ErrorCode::FileNotFound => "file not found",
            ErrorCode::AccessViolation => "access violation",
            ErrorCode::DiskFull => "disk full",
            ErrorCode::IllegalOperation => "illegal TFTP operation",
            ErrorCode::UnknownTransferId => "unknown transfer ID",
            ErrorCode::FileAlreadyExists => "file already exists",
            ErrorCode::NoSuchUser => "no such user",
            ErrorCode::OptionNegotiation => "option negotiation",
            ErrorCode::Other(_) => "unassigned",
        };
        write!(f, "{} ({})", self.to_u16(), name)
    }
}

/// The transfer mode of a request (RFC 1350 §5), matched case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Mode {
    /// `netascii`: 8-bit ASCII with CR LF line ends and CR NUL for a bare CR.
    Netascii,
    /// `octet`: raw bytes. What every PXE client uses.
    Octet,
    /// `mail`: obsolete (RFC 1350 §1); parsed, never served.
    Mail,
}

impl Mode {
    /// The mode named by `name` (case-insensitive), or `None`.
    pub fn parse(name: &[u8]) -> Option<Mode> {
        if name.eq_ignore_ascii_case(b"netascii") {
            Some(Mode::Netascii)
        } else if name.eq_ignore_ascii_case(b"octet") {
            Some(Mode::Octet)
        } else if name.eq_ignore_ascii_case(b"mail") {
            Some(Mode::Mail)
        } else {
            None
        }
    }

    /// The canonical lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Netascii => "netascii",
            Mode::Octet => "octet",
            Mode::Mail => "mail",
        }
    }
}

/// The option list of an RRQ, WRQ or OACK (RFC 2347): NUL-terminated name/value strings.
///
/// Holds the raw bytes; [`iter`](Options::iter) yields the complete pairs without allocating.
/// Parsing is lenient in the way real clients need: trailing NUL padding (some PXE ROMs pad
/// requests) and an incomplete last pair are ignored by the iterator.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Options<'a> {
    bytes: &'a [u8],
}

impl<'a> Options<'a> {
    /// No options.
    pub const EMPTY: Options<'static> = Options { bytes: &[] };

    /// Options stored as raw wire bytes (as produced by [`write_options`]).
    pub const fn from_bytes(bytes: &'a [u8]) -> Self {
        Options { bytes }
    }

    /// The raw wire bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether no complete option is present.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The `(name, value)` pairs in wire order.
    pub fn iter(&self) -> OptionsIter<'a> {
        OptionsIter {
            reader: Reader::new(self.bytes),
        }
    }

    /// The value of the first option called `name` (compared case-insensitively, RFC 2347).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (name, value) in self.iter() {
            list.entry(&Bytes(name), &Bytes(value));
        }
        list.finish()
    }
}

/// Debug-prints bytes as an escaped string.
struct Bytes<'a>(&'a [u8]);

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl<'a> IntoIterator for Options<'a> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = OptionsIter<'a>;
    fn into_iter(self) -> OptionsIter<'a> {
        self.iter()
    }
}

/// Iterator over option `(name, value)` pairs; allocation-free.
#[derive(Debug, Clone)]
pub struct OptionsIter<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let name = self.reader.nul_terminated("option name").ok()?;
        if name.is_empty() {
            // NUL padding: nothing meaningful follows.
            self.reader.rest();
            return None;
        }
        match self.reader.nul_terminated("option value") {
            Ok(value) => Some((name, value)),
            Err(_) => {
                self.reader.rest();
                None
            }
        }
    }
}

/// Writes `(name, value)` pairs in wire form (each NUL-terminated, no trailing extra NUL,
/// which some clients reject) and returns the length written.
pub fn write_options<'p, I>(pairs: I, buf: &mut [u8]) -> Result<usize, WireError>
where
    I: IntoIterator<Item = (&'p [u8], &'p [u8])>,
{
    let mut w = Writer::new(buf);
    for (name, value) in pairs {
        put_string(&mut w, name)?;
        put_string(&mut w, value)?;
    }
    Ok(w.position())
}

/// The length [`write_options`] needs for `pairs`.
pub fn options_len<'p, I>(pairs: I) -> usize
where
    I: IntoIterator<Item = (&'p [u8], &'p [u8])>,
{
    pairs.into_iter().map(|(n, v)| n.len() + v.len() + 2).sum()
}

fn put_string(w: &mut Writer<'_>, s: &[u8]) -> Result<(), WireError> {
    w.put_slice(s)?;
    w.put_u8(0)
}

/// Writes `v` in decimal ASCII into `out` and returns the digits (option values, RFC 2347).
pub fn format_decimal(mut v: u64, out: &mut [u8; 20]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &out[i..]
}

/// Parses a decimal option value: ASCII digits only, no sign, no spaces; `None` on anything
/// else or on overflow.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// A zero-copy view of a TFTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking it; accessors may then return errors but never panic.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Packet::check_len).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the fixed fields of the packet's opcode are present: 2 bytes for every
    /// packet, 4 for DATA, ACK and ERROR. Unknown opcodes are [`WireError::Malformed`].
    pub fn check_len(&self) -> Result<(), WireError> {
        let data = self.buffer.as_ref();
        let opcode = Reader::new(data).u16()?;
        let needed = match Opcode::from_u16(opcode) {
            Some(Opcode::Data | Opcode::Ack | Opcode::Error) => field::PAYLOAD,
            Some(_) => field::STRINGS,
            None => {
                return Err(WireError::Malformed {
                    field: "opcode",
                    offset: 0,
                });
            }
        };
        if data.len() < needed {
            return Err(WireError::Truncated {
                offset: 0,
                needed,
                available: data.len(),
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The raw opcode field (0 if the packet is shorter than 2 bytes).
    pub fn raw_opcode(&self) -> u16 {
        self.u16_at(field::OPCODE.start)
    }

    /// The opcode, or `None` for an undefined value.
    pub fn opcode(&self) -> Option<Opcode> {
        Opcode::from_u16(self.raw_opcode())
    }

    /// The block number of a DATA or ACK packet.
    pub fn block(&self) -> BlockNumber {
        BlockNumber(self.u16_at(field::BLOCK.start))
    }

    /// The error code of an ERROR packet.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::from_u16(self.u16_at(field::BLOCK.start))
    }

    /// The DATA payload, or the ERROR message with its NUL terminator.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD..).unwrap_or(&[])
    }

    /// The bytes after the opcode: the strings of an RRQ, WRQ or OACK.
    pub fn strings(&self) -> &[u8] {
        self.buffer.as_ref().get(field::STRINGS..).unwrap_or(&[])
    }

    fn u16_at(&self, at: usize) -> u16 {
        let data = self.buffer.as_ref();
        match data.get(at..at + 2) {
            Some(&[a, b]) => u16::from_be_bytes([a, b]),
            _ => 0,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the opcode field.
    pub fn set_opcode(&mut self, opcode: Opcode) {
        self.set_u16_at(field::OPCODE.start, opcode as u16);
    }

    /// Sets the block number field.
    pub fn set_block(&mut self, block: BlockNumber) {
        self.set_u16_at(field::BLOCK.start, block.0);
    }

    /// The DATA payload area, to fill in place.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..)
            .unwrap_or(&mut [])
    }

    fn set_u16_at(&mut self, at: usize, v: u16) {
        if let Some(dst) = self.buffer.as_mut().get_mut(at..at + 2) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }
}

/// A parsed TFTP packet borrowing from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Read request (RFC 1350 §5, RFC 2347 options).
    Rrq {
        /// The requested file name, raw.
        filename: &'a [u8],
        /// Transfer mode.
        mode: Mode,
        /// Options, possibly empty.
        options: Options<'a>,
    },
    /// Write request.
    Wrq {
        /// The file name to write, raw.
        filename: &'a [u8],
        /// Transfer mode.
        mode: Mode,
        /// Options, possibly empty.
        options: Options<'a>,
    },
    /// A block of data; fewer than blksize bytes ends the transfer.
    Data {
        /// Block number.
        block: BlockNumber,
        /// Payload.
        data: &'a [u8],
    },
    /// Acknowledges a DATA block, or (block 0) a WRQ or OACK.
    Ack {
        /// Block number.
        block: BlockNumber,
    },
    /// Error; ends the transfer (never acknowledged).
    Error {
        /// Error code.
        code: ErrorCode,
        /// Human-readable message, without the NUL terminator.
        message: &'a [u8],
    },
    /// Option acknowledgment (RFC 2347).
    Oack {
        /// The options the server accepted.
        options: Options<'a>,
    },
}

impl<'a> Repr<'a> {
    /// Parses a packet. Unknown opcodes, missing NULs in requests and unknown modes are
    /// [`WireError::Malformed`]; bytes after an ACK's block number are ignored (padding), and an
    /// ERROR message without its NUL is accepted as is.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>, WireError> {
        packet.check_len()?;
        let buffer: &'a T = packet.buffer;
        let bytes: &'a [u8] = buffer.as_ref();
        let mut r = Reader::new(bytes);
        let opcode = r.u16()?;
        match Opcode::from_u16(opcode) {
            Some(op @ (Opcode::Rrq | Opcode::Wrq)) => {
                let filename = r.nul_terminated("filename")?;
                let mode_at = r.position();
                let mode = Mode::parse(r.nul_terminated("mode")?).ok_or(WireError::Malformed {
                    field: "mode",
                    offset: mode_at,
                })?;
                let options = Options::from_bytes(r.rest());
                Ok(if op == Opcode::Rrq {
                    Repr::Rrq {
                        filename,
                        mode,
                        options,
                    }
                } else {
                    Repr::Wrq {
                        filename,
                        mode,
                        options,
                    }
                })
            }
            Some(Opcode::Data) => Ok(Repr::Data {
                block: BlockNumber(r.u16()?),
                data: r.rest(),
            }),
            Some(Opcode::Ack) => Ok(Repr::Ack {
                block: BlockNumber(r.u16()?),
            }),
            Some(Opcode::Error) => {
                let code = ErrorCode::from_u16(r.u16()?);
                let rest = r.rest();
                let message = match rest.iter().position(|&b| b == 0) {
                    Some(n) => &rest[..n],
                    None => rest,
                };
                Ok(Repr::Error { code, message })
            }
            Some(Opcode::Oack) => Ok(Repr::Oack {
                options: Options::from_bytes(r.rest()),
            }),
            None => Err(WireError::Malformed {
                field: "opcode",
                offset: 0,
            }),
        }
    }

    /// Parses raw bytes: [`Packet::new_checked`] then [`Repr::parse`].
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Repr<'a>, WireError> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    /// The opcode of this packet.
    pub const fn opcode(&self) -> Opcode {
        match self {
            Repr::Rrq { .. } => Opcode::Rrq,
            Repr::Wrq { .. } => Opcode::Wrq,
            Repr::Data { .. } => Opcode::Data,
            Repr::Ack { .. } => Opcode::Ack,
            Repr::Error { .. } => Opcode::Error,
            Repr::Oack { .. } => Opcode::Oack,
        }
    }

    /// The number of bytes [`emit`](Repr::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Rrq {
                filename,
                mode,
                options,
            }
            | Repr::Wrq {
                filename,
                mode,
                options,
            } => 2 + filename.len() + 1 + mode.as_str().len() + 1 + options.as_bytes().len(),
            Repr::Data { data, .. } => field::PAYLOAD + data.len(),
            Repr::Ack { .. } => field::PAYLOAD,
            Repr::Error { message, .. } => field::PAYLOAD + message.len() + 1,
            Repr::Oack { options } => field::STRINGS + options.as_bytes().len(),
        }
    }

    /// Writes the packet into `buf` and returns its length.
    ///
    /// Strings that contain a NUL cannot be represented and are [`WireError::Malformed`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(buf);
        w.put_u16(self.opcode() as u16)?;
        match self {
            Repr::Rrq {
                filename,
                mode,
                options,
            }
            | Repr::Wrq {
                filename,
                mode,
                options,
            } => {
                check_no_nul(filename, "filename")?;
                put_string(&mut w, filename)?;
                put_string(&mut w, mode.as_str().as_bytes())?;
                w.put_slice(options.as_bytes())?;
            }
            Repr::Data { block, data } => {
                w.put_u16(block.0)?;
                w.put_slice(data)?;
            }
            Repr::Ack { block } => w.put_u16(block.0)?,
            Repr::Error { code, message } => {
                check_no_nul(message, "error message")?;
                w.put_u16(code.to_u16())?;
                put_string(&mut w, message)?;
            }
            Repr::Oack { options } => w.put_slice(options.as_bytes())?,
        }
        Ok(w.position())
    }
}

fn check_no_nul(s: &[u8], field: &'static str) -> Result<(), WireError> {
    match s.iter().position(|&b| b == 0) {
        Some(offset) => Err(WireError::Malformed { field, offset }),
        None => Ok(()),
    }
}

/// The longest ERROR message [`emit_error`] writes: the packet then fits the 516-byte datagram
/// of RFC 1350 §5 (512 data bytes + 4), which every client can receive whatever it negotiated.
pub const MAX_ERROR_MESSAGE_LEN: usize = DEFAULT_BLKSIZE as usize - 1;

/// Writes an ERROR packet (RFC 1350 §5) with `message` and returns its length, or 0 if `buf`
/// cannot hold even the header. The message is cut at a character boundary to fit `buf` and
/// [`MAX_ERROR_MESSAGE_LEN`]; NULs are replaced by spaces.
pub fn emit_error(code: ErrorCode, message: &str, buf: &mut [u8]) -> usize {
    let Some(room) = buf.len().checked_sub(field::PAYLOAD + 1) else {
        return 0;
    };
    let mut end = message.len().min(room).min(MAX_ERROR_MESSAGE_LEN);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let msg = &message.as_bytes()[..end];
    let mut w = Writer::new(buf);
    let written = (|| -> Result<(), WireError> {
        w.put_u16(Opcode::Error as u16)?;
        w.put_u16(code.to_u16())?;
        for &b in msg {
            w.put_u8(if b == 0 { b' ' } else { b })?;
        }
        w.put_u8(0)
    })();
    if written.is_ok() { w.position() } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    // Requests rebuilt byte for byte from the option lists and orders that tcpdump
    // recorded from real firmware (QEMU's iPXE ROM, OVMF's EDK2); the
    // file names are illustrative.
    /// iPXE (BIOS ROM and EFI): `blksize 1432 tsize 0`.
    static IPXE_RRQ: &[u8] = b"\0\x01undionly.kpxe\0octet\0blksize\x001432\0tsize\x000\0";
    /// pxelinux 6.04: `tsize 0 blksize 1408`.
    static PXELINUX_RRQ: &[u8] =
        b"\0\x01pxelinux.cfg/default\0octet\0tsize\x000\0blksize\x001408\0";
    /// EDK2/OVMF size probe: `tsize 0 blksize 1468 windowsize 4`.
    static EDK2_PROBE_RRQ: &[u8] =
        b"\0\x01shimx64.efi\0octet\0tsize\x000\0blksize\x001468\0windowsize\x004\0";

    #[test]
    fn parses_real_requests() {
        let Ok(Repr::Rrq {
            filename,
            mode,
            options,
        }) = Repr::parse_bytes(IPXE_RRQ)
        else {
            panic!("not an RRQ");
        };
        assert_eq!((filename, mode), (&b"undionly.kpxe"[..], Mode::Octet));
        let pairs: Vec<_> = options.iter().collect();
        assert_eq!(
            pairs,
            vec![(&b"blksize"[..], &b"1432"[..]), (&b"tsize"[..], &b"0"[..])]
        );
        assert_eq!(options.get(b"TSIZE"), Some(&b"0"[..]));
        let Ok(Repr::Rrq { options, .. }) = Repr::parse_bytes(PXELINUX_RRQ) else {
            panic!()
        };
        assert_eq!(options.iter().count(), 2);
        let Ok(Repr::Rrq { options, .. }) = Repr::parse_bytes(EDK2_PROBE_RRQ) else {
            panic!()
        };
        assert_eq!(options.get(b"windowsize"), Some(&b"4"[..]));
        for bytes in [IPXE_RRQ, PXELINUX_RRQ, EDK2_PROBE_RRQ] {
            let repr = Repr::parse_bytes(bytes).unwrap();
            let mut out = vec![0u8; repr.buffer_len()];
            assert_eq!(repr.emit(&mut out), Ok(bytes.len()));
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn lenient_where_clients_are_sloppy() {
        // NUL padding after the options (some PXE ROMs pad requests).
        let Ok(Repr::Rrq { options, mode, .. }) =
            Repr::parse_bytes(b"\0\x01f\0OCTET\0tsize\x000\0\0\0\0")
        else {
            panic!()
        };
        assert_eq!((options.iter().count(), mode), (1, Mode::Octet));
        // An option name without value is ignored.
        let Ok(Repr::Rrq { options, .. }) =
            Repr::parse_bytes(b"\0\x01f\0octet\0tsize\x000\0blksize\0")
        else {
            panic!()
        };
        assert_eq!(options.iter().count(), 1);
        // ERROR without its NUL; ACK with trailing bytes.
        assert_eq!(
            Repr::parse_bytes(b"\0\x05\0\x08abort"),
            Ok(Repr::Error {
                code: ErrorCode::OptionNegotiation,
                message: b"abort"
            })
        );
        assert_eq!(
            Repr::parse_bytes(b"\0\x04\0\x07\0\0"),
            Ok(Repr::Ack {
                block: BlockNumber(7)
            })
        );
    }

    #[test]
    fn rejects_what_cannot_be_a_packet() {
        assert!(Repr::parse_bytes(b"").is_err());
        assert!(Repr::parse_bytes(b"\0").is_err());
        assert!(Repr::parse_bytes(b"\0\x07xx").is_err());
        assert!(Repr::parse_bytes(b"\0\x03\0").is_err());
        assert!(Repr::parse_bytes(b"\0\x01file").is_err());
        assert!(Repr::parse_bytes(b"\0\x01file\0binary\0").is_err());
        assert_eq!(Packet::new_unchecked(&b"\0"[..]).block(), BlockNumber(0));
        let repr = Repr::Error {
            code: ErrorCode::NotDefined,
            message: b"a\0b",
        };
        assert!(repr.emit(&mut [0u8; 16]).is_err());
        assert!(
            Repr::Ack {
                block: BlockNumber(1)
            }
            .emit(&mut [0u8; 3])
            .is_err()
        );
    }

    #[test]
    fn emit_error_truncates_to_the_buffer() {
        let mut buf = [0u8; 8];
        let n = emit_error(ErrorCode::FileNotFound, "file not found", &mut buf);
        assert_eq!(&buf[..n], b"\0\x05\0\x01fil\0");
        assert_eq!(emit_error(ErrorCode::FileNotFound, "x", &mut [0u8; 4]), 0);
        // Never longer than an RFC 1350 datagram, however big the buffer and the message.
        let mut big = vec![0u8; MAX_DATAGRAM_LEN];
        let long = "x".repeat(70_000);
        let n = emit_error(ErrorCode::NotDefined, &long, &mut big);
        assert_eq!(n, 516);
        assert_eq!(big[n - 1], 0);
        // A multi-byte character is not split.
        let n = emit_error(ErrorCode::NotDefined, "ab\u{e9}", &mut buf);
        assert_eq!(&buf[..n], b"\0\x05\0\0ab\0");
        let n = emit_error(ErrorCode::NotDefined, "a\0b", &mut big);
        assert_eq!(&big[..n], b"\0\x05\0\0a b\0");
    }

    #[test]
    fn block_numbers_wrap() {
        assert_eq!(BlockNumber::from_index(65535, 0), BlockNumber(65535));
        assert_eq!(BlockNumber::from_index(65536, 0), BlockNumber(0));
        assert_eq!(BlockNumber::from_index(65536, 1), BlockNumber(1));
        assert_eq!(BlockNumber::from_index(65536 + 65535, 1), BlockNumber(1));
        assert_eq!(BlockNumber(0).resolve(65530, 65540, 0), Some(65536));
        assert_eq!(BlockNumber(0).resolve(65530, 65540, 1), None);
        assert_eq!(BlockNumber(3).resolve(0, 10, 0), Some(3));
        assert_eq!(BlockNumber(3).resolve(5, 10, 0), None);
        // Absurd ranges give an answer or none, never an overflow.
        assert_eq!(BlockNumber(7).resolve(u64::MAX - 1, u64::MAX, 0), None);
        assert_eq!(
            BlockNumber(0xffff).resolve(u64::MAX - 1, u64::MAX, 0),
            Some(u64::MAX)
        );
    }

    #[test]
    fn decimal_values() {
        assert_eq!(parse_decimal(b"1468"), Some(1468));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"-1"), None);
        assert_eq!(parse_decimal(b" 1"), None);
        let mut d = [0u8; 20];
        assert_eq!(format_decimal(0, &mut d), b"0");
        assert_eq!(format_decimal(u64::MAX, &mut d), b"18446744073709551615");
    }

    fn text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 0..40)
    }

    fn options() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec((proptest::collection::vec(1u8..=255, 1..12), text()), 0..6)
            .prop_map(|pairs| {
                let mut buf = vec![0u8; options_len(pairs.iter().map(|(n, v)| (&n[..], &v[..])))];
                write_options(pairs.iter().map(|(n, v)| (&n[..], &v[..])), &mut buf).unwrap();
                buf
            })
    }

    fn round_trip(repr: &Repr<'_>) -> Result<(), TestCaseError> {
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
        prop_assert_eq!(&Repr::parse_bytes(&buf)?, repr);
        Ok(())
    }

    fn mode() -> impl Strategy<Value = Mode> {
        prop_oneof![Just(Mode::Octet), Just(Mode::Netascii), Just(Mode::Mail)]
    }

    proptest! {
        #[test]
        fn requests_round_trip(filename in text(), mode in mode(), opts in options(), write in any::<bool>()) {
            let options = Options::from_bytes(&opts);
            let repr = if write {
                Repr::Wrq { filename: &filename, mode, options }
            } else {
                Repr::Rrq { filename: &filename, mode, options }
            };
            round_trip(&repr)?;
        }

        #[test]
        fn data_ack_error_oack_round_trip(block in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..600), code in any::<u16>(), message in text(), opts in options()) {
            round_trip(&Repr::Data { block: BlockNumber(block), data: &data })?;
            round_trip(&Repr::Ack { block: BlockNumber(block) })?;
            round_trip(&Repr::Error { code: ErrorCode::from_u16(code), message: &message })?;
            round_trip(&Repr::Oack { options: Options::from_bytes(&opts) })?;
            prop_assert_eq!(ErrorCode::from_u16(code).to_u16(), code);
        }

        #[test]
        fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let packet = Packet::new_unchecked(&bytes[..]);
            let _ = (packet.opcode(), packet.block(), packet.error_code(), packet.payload(), packet.strings());
            if let Ok(repr) = Repr::parse_bytes(&bytes) {
                if let Repr::Rrq { options, .. } | Repr::Wrq { options, .. } | Repr::Oack { options } = repr {
                    let _ = options.iter().count();
                }
                let mut buf = vec![0u8; repr.buffer_len()];
                let n = repr.emit(&mut buf).unwrap();
                let again = Repr::parse_bytes(&buf[..n]).unwrap();
                prop_assert_eq!(again, repr);
            }
        }

        #[test]
        fn resolve_inverts_from_index(k in 0u64..400_000, below in 0u64..16384, above in 0u64..16383, rollover in 0u16..=1) {
            let (lo, hi) = (k.saturating_sub(below), k + above);
            prop_assert_eq!(BlockNumber::from_index(k, rollover).resolve(lo, hi, rollover), Some(k));
        }
    }
}
