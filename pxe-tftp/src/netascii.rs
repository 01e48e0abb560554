//! Netascii translation (RFC 1350 §5 mode "netascii", RFC 764): LF travels as CR LF and a bare
//! CR as CR NUL.
//!
//! Translation changes byte counts: a file of `n` bytes with `k` line ends sends `n + k` bytes,
//! so block boundaries no longer match file offsets. The sender therefore reads raw bytes at its
//! own raw offset, one block at a time (netascii transfers use a window of 1).

use alloc::vec::Vec;

/// Turns local text (LF line ends) into netascii, block by block.
#[derive(Debug, Clone, Default)]
pub(crate) struct Encoder {
    /// The second byte of a CR LF / CR NUL pair that did not fit in the previous block.
    carry: Option<u8>,
}

impl Encoder {
    /// Encodes as much of `input` as fits into `out`; returns `(input bytes consumed, output
    /// bytes written)`. A pair split across blocks carries its second byte to the next call.
    pub(crate) fn encode(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let mut written = 0;
        if let Some(b) = self.carry {
            let Some(slot) = out.first_mut() else {
                return (0, 0);
            };
            *slot = b;
            written = 1;
            self.carry = None;
        }
        let mut consumed = 0;
        for &b in input {
            let (first, second) = match b {
                b'\n' => (b'\r', Some(b'\n')),
                b'\r' => (b'\r', Some(0)),
                b => (b, None),
            };
            let Some(slot) = out.get_mut(written) else {
                break;
            };
            *slot = first;
            written += 1;
            consumed += 1;
            if let Some(second) = second {
                match out.get_mut(written) {
                    Some(slot) => {
                        *slot = second;
                        written += 1;
                    }
                    None => {
                        self.carry = Some(second);
                        break;
                    }
                }
            }
        }
        (consumed, written)
    }

    /// Whether half of a pair is waiting for the next block.
    pub(crate) fn has_carry(&self) -> bool {
        self.carry.is_some()
    }
}

/// Turns netascii back into local text (CR LF → LF, CR NUL → CR), across block boundaries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decoder {
    pending_cr: bool,
}

impl Decoder {
    /// Decodes `input`, appending to `out`.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                match b {
                    b'\n' => out.push(b'\n'),
                    0 => out.push(b'\r'),
                    b'\r' => {
                        out.push(b'\r');
                        self.pending_cr = true;
                    }
                    // Not netascii; keep both bytes rather than lose data.
                    b => out.extend_from_slice(&[b'\r', b]),
                }
            } else if b == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
    }

    /// Ends the stream: a dangling CR is kept as is.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if core::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn encode_all(input: &[u8], block: usize) -> Vec<u8> {
        let mut enc = Encoder::default();
        let mut out = Vec::new();
        let mut rest = input;
        loop {
            let mut buf = vec![0u8; block];
            let (c, w) = enc.encode(rest, &mut buf);
            out.extend_from_slice(&buf[..w]);
            rest = &rest[c..];
            if rest.is_empty() && !enc.has_carry() {
                return out;
            }
        }
    }

    #[test]
    fn translates_line_ends_and_bare_cr() {
        assert_eq!(encode_all(b"a\nb\rc", 64), b"a\r\nb\r\0c");
        // A pair split over a 2-byte block boundary.
        assert_eq!(encode_all(b"a\n\n", 2), b"a\r\n\r\n");
        let mut out = Vec::new();
        let mut dec = Decoder::default();
        dec.decode(b"a\r", &mut out);
        dec.decode(b"\nb\r\0c\r", &mut out);
        dec.finish(&mut out);
        assert_eq!(out, b"a\nb\rc\r");
    }

    proptest::proptest! {
        #[test]
        fn round_trips(data in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\n', b'\r', 0u8, 0xff]), 0..200), block in 1usize..9) {
            let wire = encode_all(&data, block);
            let mut dec = Decoder::default();
            let mut out = Vec::new();
            for chunk in wire.chunks(block) {
                dec.decode(chunk, &mut out);
            }
            dec.finish(&mut out);
            proptest::prop_assert_eq!(out, data);
        }
    }
}
