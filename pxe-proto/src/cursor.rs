//! Bounds-checked big-endian cursors.
//!
//! Every read or write checks its length first and reports the offset on failure, so a parser
//! built on them can hand any bytes to any field accessor without panicking.

use crate::WireError;

/// Reads network-order fields from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` bytes, advancing past them.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(WireError::Truncated {
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Bytes up to (not including) the next NUL, advancing past the NUL. An unterminated string is
    /// [`WireError::Malformed`] naming `field`.
    pub fn nul_terminated(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        let rest = &self.buf[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(WireError::Malformed {
                field,
                offset: self.pos,
            })?;
        let out = &rest[..n];
        self.pos += n + 1;
        Ok(out)
    }

    /// Everything not read yet, advancing to the end.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }
}

/// Writes network-order fields into a caller's buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Room left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Reserves the next `n` bytes and returns them for the caller to fill.
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(WireError::BufferTooSmall {
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            })?;
        let start = self.pos;
        self.pos = end;
        Ok(&mut self.buf[start..end])
    }

    /// Appends `data`.
    pub fn put_slice(&mut self, data: &[u8]) -> Result<(), WireError> {
        self.reserve(data.len())?.copy_from_slice(data);
        Ok(())
    }

    /// Appends one byte.
    pub fn put_u8(&mut self, v: u8) -> Result<(), WireError> {
        self.put_slice(&[v])
    }

    /// Appends a big-endian `u16`.
    pub fn put_u16(&mut self, v: u16) -> Result<(), WireError> {
        self.put_slice(&v.to_be_bytes())
    }

    /// Appends a big-endian `u32`.
    pub fn put_u32(&mut self, v: u32) -> Result<(), WireError> {
        self.put_slice(&v.to_be_bytes())
    }

    /// Appends `n` copies of `byte` (padding).
    pub fn fill(&mut self, byte: u8, n: usize) -> Result<(), WireError> {
        self.reserve(n)?.fill(byte);
        Ok(())
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// Mutable access to bytes already written, to patch a length field after the fact.
    pub fn written_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.pos]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_reports_truncation() {
        let mut r = Reader::new(&[0, 1, 0, 0, 0, 2, b'a', 0, 9]);
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.u32(), Ok(2));
        assert_eq!(r.nul_terminated("filename"), Ok(&b"a"[..]));
        assert_eq!(r.position(), 8);
        assert_eq!(
            r.u16(),
            Err(WireError::Truncated {
                offset: 8,
                needed: 2,
                available: 1
            })
        );
        assert_eq!(r.u8(), Ok(9));
        assert!(r.is_empty());
        assert_eq!(
            Reader::new(b"abc").nul_terminated("mode"),
            Err(WireError::Malformed {
                field: "mode",
                offset: 0
            })
        );
        assert!(Reader::new(&[]).bytes(usize::MAX).is_err());
    }

    #[test]
    fn writes_fields_and_reports_overflow() {
        let mut buf = [0u8; 7];
        let mut w = Writer::new(&mut buf);
        w.put_u16(0x0304).unwrap();
        w.put_u32(0x0506_0708).unwrap();
        assert_eq!(
            w.put_u16(1),
            Err(WireError::BufferTooSmall {
                offset: 6,
                needed: 2,
                available: 1
            })
        );
        w.fill(0xee, 1).unwrap();
        assert_eq!(w.written(), &[3, 4, 5, 6, 7, 8, 0xee]);
        w.written_mut()[0] = 9;
        assert_eq!(buf[0], 9);
    }

    proptest::proptest! {
        #[test]
        fn reader_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64), ops in proptest::collection::vec(0u8..6, 0..32)) {
            let mut r = Reader::new(&data);
            for op in ops {
                let _ = match op {
                    0 => r.u8().map(|_| ()),
                    1 => r.u16().map(|_| ()),
                    2 => r.u32().map(|_| ()),
                    3 => r.bytes(5).map(|_| ()),
                    4 => r.nul_terminated("x").map(|_| ()),
                    _ => { r.rest(); Ok(()) }
                };
                proptest::prop_assert!(r.position() <= data.len());
            }
        }
    }
}
