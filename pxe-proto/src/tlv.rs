//! The code/length/value format of DHCP options and PXE vendor sub-options.
//!
//! RFC 2132 §2: each option is a one-octet code, a one-octet length and that many octets of data,
//! except code 0 (Pad), which is a single octet, and code 255 (End), which ends the list. PXE 2.1
//! vendor options (DHCP option 43) and iPXE's option 175 nest the same format.

use crate::{WireError, Writer};

/// The Pad code (RFC 2132 §3.1): a lone octet with no length.
pub const PAD: u8 = 0;
/// The End code (RFC 2132 §3.2): no more options follow.
pub const END: u8 = 255;

/// One option as found in the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The option code.
    pub code: u8,
    /// The option's data (without code and length).
    pub value: &'a [u8],
    /// Offset of the code octet from the start of the iterated slice, for error messages.
    pub offset: usize,
}

/// Iterates the options in a byte slice, skipping Pad and stopping at End or the slice's end.
///
/// A length that runs past the end of the slice yields one `Err` naming the offset, then the
/// iterator is finished: the caller decides whether a truncated list is fatal.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TlvIter<'a> {
    /// Iterates `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        TlvIter {
            buf,
            pos: 0,
            done: false,
        }
    }

    /// Whether an End option was seen (as opposed to running off the end of the slice).
    pub fn saw_end(&self) -> bool {
        self.done && self.pos < self.buf.len() && self.buf[self.pos] == END
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        while self.buf.get(self.pos) == Some(&PAD) {
            self.pos += 1;
        }
        let offset = self.pos;
        let code = match self.buf.get(offset) {
            None => {
                self.done = true;
                return None;
            }
            Some(&END) => {
                self.done = true;
                return None;
            }
            Some(&c) => c,
        };
        let Some(&len) = self.buf.get(offset + 1) else {
            self.done = true;
            return Some(Err(WireError::Truncated {
                offset,
                needed: 2,
                available: 1,
            }));
        };
        let start = offset + 2;
        let end = start + usize::from(len);
        let Some(value) = self.buf.get(start..end) else {
            self.done = true;
            return Some(Err(WireError::Truncated {
                offset,
                needed: 2 + usize::from(len),
                available: self.buf.len() - offset,
            }));
        };
        self.pos = end;
        Some(Ok(Tlv {
            code,
            value,
            offset,
        }))
    }
}

/// Writes options in the same format.
#[derive(Debug)]
pub struct TlvWriter<'w, 'b> {
    w: &'w mut Writer<'b>,
}

impl<'w, 'b> TlvWriter<'w, 'b> {
    /// Writes options through `w`.
    pub fn new(w: &'w mut Writer<'b>) -> Self {
        TlvWriter { w }
    }

    /// Writes one option. A value over 255 bytes is [`WireError::TooLong`]; formats that allow
    /// splitting long values (RFC 3396) do the split themselves.
    pub fn put(&mut self, code: u8, value: &[u8]) -> Result<(), WireError> {
        let len = u8::try_from(value.len()).map_err(|_| WireError::TooLong {
            field: "option value",
            len: value.len(),
            max: 255,
        })?;
        let out = self.w.reserve(2 + value.len())?;
        out[0] = code;
        out[1] = len;
        out[2..].copy_from_slice(value);
        Ok(())
    }

    /// Writes the End option.
    pub fn end(&mut self) -> Result<(), WireError> {
        self.w.put_u8(END)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn skips_pad_and_stops_at_end() {
        let bytes = [0, 0, 53, 1, 1, 0, 60, 3, b'a', b'b', b'c', 255, 7, 7];
        let mut it = TlvIter::new(&bytes);
        let all: Vec<_> = it.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].code, all[0].value, all[0].offset),
            (53, &[1u8][..], 2)
        );
        assert_eq!(
            (all[1].code, all[1].value, all[1].offset),
            (60, &b"abc"[..], 6)
        );
        assert!(it.saw_end());
    }

    #[test]
    fn truncated_option_is_one_error() {
        let bytes = [53, 1, 1, 60, 9, b'x'];
        let got: Vec<_> = TlvIter::new(&bytes).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1],
            Err(WireError::Truncated {
                offset: 3,
                needed: 11,
                available: 3
            })
        );
        assert_eq!(TlvIter::new(&[7]).collect::<Vec<_>>().len(), 1);
    }

    #[test]
    fn writer_rejects_long_values() {
        let mut buf = [0u8; 400];
        let mut w = Writer::new(&mut buf);
        let mut t = TlvWriter::new(&mut w);
        assert!(matches!(
            t.put(1, &[0; 256]),
            Err(WireError::TooLong { .. })
        ));
        t.put(1, &[9; 4]).unwrap();
        t.end().unwrap();
        assert_eq!(w.written(), &[1, 4, 9, 9, 9, 9, 255]);
    }

    proptest::proptest! {
        #[test]
        fn round_trip(opts in proptest::collection::vec((1u8..255, proptest::collection::vec(proptest::num::u8::ANY, 0..40)), 0..10)) {
            let mut buf = [0u8; 512];
            let mut w = Writer::new(&mut buf);
            let mut t = TlvWriter::new(&mut w);
            for (c, v) in &opts { t.put(*c, v).unwrap(); }
            t.end().unwrap();
            let n = w.position();
            let back: Vec<(u8, Vec<u8>)> = TlvIter::new(&buf[..n]).map(|t| t.map(|t| (t.code, t.value.to_vec()))).collect::<Result<_, _>>().unwrap();
            proptest::prop_assert_eq!(back, opts);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            for t in TlvIter::new(&data).flatten() {
                proptest::prop_assert!(t.offset + 2 + t.value.len() <= data.len());
            }
        }
    }
}
