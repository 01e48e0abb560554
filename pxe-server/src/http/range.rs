//! `Range: bytes=…` requests (RFC 9110 §14.1.2), one range at a time.
//!
//! iPXE and curl resume and probe with a single range; a multi-range request would need a
//! `multipart/byteranges` body, which boot clients never ask for, so it is answered with the
//! whole file (a server may ignore `Range`, RFC 9110 §14.2). A header that does not parse is
//! ignored the same way.

/// What a request's `Range` header asks of a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send the whole file (200).
    Full,
    /// Bytes `start..=end` (206 with `Content-Range`); `end < size`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// No byte of the range exists (416 with `Content-Range: bytes */size`, RFC 9110 §15.5.17).
    Unsatisfiable,
}

impl RangeRequest {
    /// Interprets the `Range` header value `header` (if any) for a file of `size` bytes.
    #[must_use]
    pub fn parse(header: Option<&[u8]>, size: u64) -> Self {
        let Some(spec) = header
            .and_then(|h| std::str::from_utf8(h).ok())
            .map(str::trim)
            .and_then(|h| strip_prefix_ignore_case(h, "bytes="))
        else {
            return Self::Full;
        };
        let spec = spec.trim();
        if spec.contains(',') {
            return Self::Full;
        }
        let Some((first, last)) = spec.split_once('-') else {
            return Self::Full;
        };
        let (first, last) = (first.trim(), last.trim());
        if first.is_empty() {
            // suffix-range: the last N bytes (§14.1.2); N = 0 selects nothing.
            return match digits(last) {
                Some(0) => Self::Unsatisfiable,
                Some(_) if size == 0 => Self::Unsatisfiable,
                Some(n) => Self::Partial {
                    start: size.saturating_sub(n),
                    end: size - 1,
                },
                None => Self::Full,
            };
        }
        let Some(start) = digits(first) else {
            return Self::Full;
        };
        let end = if last.is_empty() {
            None
        } else {
            match digits(last) {
                Some(end) if end >= start => Some(end),
                // last < first makes the whole header invalid (§14.1.1): ignore it.
                _ => return Self::Full,
            }
        };
        if start >= size {
            return Self::Unsatisfiable;
        }
        Self::Partial {
            start,
            end: end.map_or(size - 1, |e| e.min(size - 1)),
        }
    }
}

/// Non-empty ASCII digits as a `u64` (an overflowing value is refused like any bad syntax).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::{self, Full, Partial, Unsatisfiable};

    fn p(h: &str, size: u64) -> RangeRequest {
        RangeRequest::parse(Some(h.as_bytes()), size)
    }

    #[test]
    fn single_ranges() {
        assert_eq!(p("bytes=0-99", 1000), Partial { start: 0, end: 99 });
        assert_eq!(
            p("bytes=500-", 1000),
            Partial {
                start: 500,
                end: 999
            }
        );
        assert_eq!(
            p("bytes=-100", 1000),
            Partial {
                start: 900,
                end: 999
            }
        );
        assert_eq!(p("bytes=-5000", 1000), Partial { start: 0, end: 999 });
        assert_eq!(
            p("bytes=990-2000", 1000),
            Partial {
                start: 990,
                end: 999
            }
        );
        assert_eq!(p("Bytes= 10 - 20 ", 1000), Partial { start: 10, end: 20 });
        assert_eq!(
            p("bytes=999-999", 1000),
            Partial {
                start: 999,
                end: 999
            }
        );
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(p("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(p("bytes=1000-1001", 1000), Unsatisfiable);
        assert_eq!(p("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Unsatisfiable);
        assert_eq!(p("bytes=-1", 0), Unsatisfiable);
    }

    #[test]
    fn ignored_headers_mean_the_whole_file() {
        assert_eq!(RangeRequest::parse(None, 10), Full);
        for h in [
            "bytes=5-2",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=0-99999999999999999999999",
            "bytes=1",
        ] {
            assert_eq!(p(h, 10), Full, "{h}");
        }
        assert_eq!(RangeRequest::parse(Some(b"bytes=\xff-1"), 10), Full);
    }

    #[test]
    fn large_offsets() {
        let size = 5 << 30;
        assert_eq!(
            p("bytes=4294967296-", size),
            Partial {
                start: 1 << 32,
                end: size - 1
            }
        );
    }
}
