//! Option negotiation (RFC 2347): what a client asked for and what the server grants.
//!
//! Supported: `blksize` (RFC 2348), `tsize` (RFC 2349), `timeout` (RFC 2349), tftp-hpa's
//! `utimeout` (microseconds) and `rollover`, and `windowsize` (RFC 7440). Names match
//! case-insensitively; values are plain decimal. Unknown options and out-of-range values are
//! ignored, never an error: the OACK lists only options that were requested *and* accepted,
//! and there is no OACK at all when none were.

use pxe_proto::{Duration, WireError, Writer};

use crate::wire::{self, MAX_BLKSIZE, MIN_BLKSIZE, Mode, Opcode, Options};

/// The largest window a session uses: half the block-number space, so that an ACK's 16-bit
/// number always names exactly one block of the window even with `rollover` 1.
pub const MAX_WINDOWSIZE: u16 = 32768;

/// One option this crate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TftpOption {
    /// `blksize` (RFC 2348).
    Blksize,
    /// `tsize` (RFC 2349).
    Tsize,
    /// `timeout` in seconds (RFC 2349).
    Timeout,
    /// `utimeout` in microseconds (tftp-hpa).
    Utimeout,
    /// `windowsize` (RFC 7440).
    Windowsize,
    /// `rollover`: the block number after 65535 (tftp-hpa; 0 or 1).
    Rollover,
}

impl TftpOption {
    /// Every option, in a fixed order.
    pub const ALL: [TftpOption; 6] = [
        TftpOption::Blksize,
        TftpOption::Tsize,
        TftpOption::Timeout,
        TftpOption::Utimeout,
        TftpOption::Windowsize,
        TftpOption::Rollover,
    ];

    /// The option's name on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            TftpOption::Blksize => "blksize",
            TftpOption::Tsize => "tsize",
            TftpOption::Timeout => "timeout",
            TftpOption::Utimeout => "utimeout",
            TftpOption::Windowsize => "windowsize",
            TftpOption::Rollover => "rollover",
        }
    }

    /// The option called `name` (case-insensitive), if this crate knows it.
    pub fn from_name(name: &[u8]) -> Option<TftpOption> {
        TftpOption::ALL
            .into_iter()
            .find(|o| name.eq_ignore_ascii_case(o.name().as_bytes()))
    }
}

/// An ordered set of at most one of each [`TftpOption`], allocation-free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionList {
    items: [Option<TftpOption>; 6],
}

impl OptionList {
    fn push(&mut self, opt: TftpOption) {
        if self.contains(opt) {
            return;
        }
        if let Some(slot) = self.items.iter_mut().find(|s| s.is_none()) {
            *slot = Some(opt);
        }
    }

    /// Whether `opt` is in the list.
    pub fn contains(&self, opt: TftpOption) -> bool {
        self.items.contains(&Some(opt))
    }

    /// The options in order.
    pub fn iter(&self) -> impl Iterator<Item = TftpOption> + '_ {
        self.items.iter().flatten().copied()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items[0].is_none()
    }
}

/// The options of a request, as numbers. `None` means absent or not a decimal number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestedOptions {
    /// `blksize` as requested.
    pub blksize: Option<u64>,
    /// `tsize` as requested (0 in an RRQ; the file size in a WRQ).
    pub tsize: Option<u64>,
    /// `timeout` in seconds.
    pub timeout: Option<u64>,
    /// `utimeout` in microseconds.
    pub utimeout: Option<u64>,
    /// `windowsize` as requested.
    pub windowsize: Option<u64>,
    /// `rollover` as requested.
    pub rollover: Option<u64>,
    /// Known options in the order the client sent them (the OACK keeps this order).
    pub order: OptionList,
    /// How many options this crate does not know (ignored, as RFC 2347 says).
    pub unknown: u16,
}

impl RequestedOptions {
    /// Reads the options of an RRQ or WRQ. The first occurrence of a name wins.
    pub fn from_options(options: Options<'_>) -> Self {
        let mut req = RequestedOptions::default();
        for (name, value) in options {
            let Some(opt) = TftpOption::from_name(name) else {
                req.unknown = req.unknown.saturating_add(1);
                continue;
            };
            if req.order.contains(opt) {
                continue;
            }
            req.order.push(opt);
            let v = wire::parse_decimal(value);
            match opt {
                TftpOption::Blksize => req.blksize = v,
                TftpOption::Tsize => req.tsize = v,
                TftpOption::Timeout => req.timeout = v,
                TftpOption::Utimeout => req.utimeout = v,
                TftpOption::Windowsize => req.windowsize = v,
                TftpOption::Rollover => req.rollover = v,
            }
        }
        req
    }

    /// Whether the client asked for any option at all (known ones).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Server limits applied while negotiating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub blksize_max: u16,
    pub windowsize_max: u16,
    pub window_bytes_max: usize,
    pub rollover: u16,
    pub negotiate: bool,
}

/// What a session runs with, and which options its OACK acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Negotiated {
    /// Data bytes per block.
    pub blksize: u16,
    /// Blocks in flight before an ACK is needed (1 = lockstep RFC 1350).
    pub windowsize: u16,
    /// The transfer size sent in (RRQ) or received with (WRQ) the `tsize` option.
    pub tsize: Option<u64>,
    /// The retransmission timeout the client asked for, if granted.
    pub timeout: Option<Duration>,
    /// The block number after 65535.
    pub rollover: u16,
    /// Options in the OACK, in the client's order; empty means no OACK is sent.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub acknowledged: OptionList,
    /// The granted `timeout` value in seconds, echoed verbatim.
    pub(crate) timeout_secs: u64,
    /// The granted `utimeout` value in microseconds, echoed verbatim.
    pub(crate) utimeout_micros: u64,
}

impl Default for Negotiated {
    /// Plain RFC 1350: 512-byte blocks, lockstep, no OACK.
    fn default() -> Self {
        Negotiated {
            blksize: wire::DEFAULT_BLKSIZE,
            windowsize: 1,
            tsize: None,
            timeout: None,
            rollover: 0,
            acknowledged: OptionList::default(),
            timeout_secs: 0,
            utimeout_micros: 0,
        }
    }
}

impl Negotiated {
    /// The server's answer to `req`. `file_size` is the size to echo for an octet RRQ's `tsize`
    /// (unknown size, or netascii: `tsize` is not acknowledged); `write` selects WRQ rules.
    pub(crate) fn server(
        req: &RequestedOptions,
        limits: &Limits,
        mode: Mode,
        write: bool,
        file_size: Option<u64>,
    ) -> Negotiated {
        let mut n = Negotiated {
            rollover: limits.rollover,
            ..Negotiated::default()
        };
        if !limits.negotiate {
            return n;
        }
        for opt in req.order.iter() {
            let granted = match opt {
                TftpOption::Blksize => {
                    req.blksize
                        .filter(|&v| v >= u64::from(MIN_BLKSIZE))
                        .map(|v| {
                            let cap = limits.blksize_max.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
                            n.blksize = u16::try_from(v).unwrap_or(MAX_BLKSIZE).min(cap);
                        })
                }
                TftpOption::Tsize => {
                    // RFC 2349 §3: an RRQ gets "the size of the file, in octets". In netascii
                    // the octets on the wire outnumber the file's by its line ends, unknown
                    // until the whole file is read, so there is no true size to send (tftp-hpa
                    // does not acknowledge `tsize` there either).
                    let size = match (write, mode) {
                        (true, _) => req.tsize,
                        (false, Mode::Netascii) => None,
                        (false, _) => file_size,
                    };
                    size.map(|s| n.tsize = Some(s))
                }
                TftpOption::Timeout => req.timeout.filter(|t| (1..=255).contains(t)).map(|t| {
                    n.timeout_secs = t;
                    if n.utimeout_micros == 0 {
                        n.timeout = Some(Duration::from_secs(t));
                    }
                }),
                TftpOption::Utimeout => req
                    .utimeout
                    .filter(|u| (10_000..=255_000_000).contains(u))
                    .map(|u| {
                        n.utimeout_micros = u;
                        n.timeout = Some(Duration::from_micros(u));
                    }),
                // Netascii sends one block at a time (see `Session`), as tftp-hpa and dnsmasq do.
                TftpOption::Windowsize => req
                    .windowsize
                    .filter(|w| (1..=65535).contains(w) && mode != Mode::Netascii)
                    .map(|w| n.windowsize = u16::try_from(w).unwrap_or(u16::MAX)),
                TftpOption::Rollover => req
                    .rollover
                    .filter(|r| *r <= 1)
                    .map(|r| n.rollover = r as u16),
            };
            if granted.is_some() {
                n.acknowledged.push(opt);
            }
        }
        // The byte cap depends on the final blksize, whatever the option order was.
        let by_bytes =
            (limits.window_bytes_max / usize::from(n.blksize)).clamp(1, usize::from(u16::MAX));
        n.windowsize = n
            .windowsize
            .min(limits.windowsize_max.max(1))
            .min(MAX_WINDOWSIZE)
            .min(by_bytes as u16);
        n
    }

    /// Whether an OACK is due (some option was requested and accepted).
    pub fn has_oack(&self) -> bool {
        !self.acknowledged.is_empty()
    }

    /// The decimal value this side puts in an OACK for `opt`.
    fn value(&self, opt: TftpOption) -> u64 {
        match opt {
            TftpOption::Blksize => u64::from(self.blksize),
            TftpOption::Tsize => self.tsize.unwrap_or(0),
            TftpOption::Timeout => self.timeout_secs,
            TftpOption::Utimeout => self.utimeout_micros,
            TftpOption::Windowsize => u64::from(self.windowsize),
            TftpOption::Rollover => u64::from(self.rollover),
        }
    }

    /// The length of the OACK packet.
    pub fn oack_len(&self) -> usize {
        let mut digits = [0u8; 20];
        2 + self
            .acknowledged
            .iter()
            .map(|o| o.name().len() + wire::format_decimal(self.value(o), &mut digits).len() + 2)
            .sum::<usize>()
    }

    /// Writes the OACK packet (opcode 6, then each acknowledged option and its value).
    pub fn emit_oack(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(buf);
        w.put_u16(Opcode::Oack as u16)?;
        let mut digits = [0u8; 20];
        for opt in self.acknowledged.iter() {
            w.put_slice(opt.name().as_bytes())?;
            w.put_u8(0)?;
            w.put_slice(wire::format_decimal(self.value(opt), &mut digits))?;
            w.put_u8(0)?;
        }
        Ok(w.position())
    }

    /// The client's reading of an OACK answering a request with `req`: every option must have
    /// been requested, `blksize`/`windowsize` may only shrink (RFC 2347, 2348, 7440).
    pub(crate) fn client(
        req: &RequestedOptions,
        oack: Options<'_>,
        rollover: u16,
    ) -> Result<Negotiated, &'static str> {
        let mut n = Negotiated {
            rollover,
            ..Negotiated::default()
        };
        for (name, value) in oack {
            let opt =
                TftpOption::from_name(name).ok_or("OACK has an option that was not requested")?;
            if !req.order.contains(opt) || n.acknowledged.contains(opt) {
                return Err("OACK has an option that was not requested");
            }
            let v = wire::parse_decimal(value).ok_or("OACK value is not a decimal number")?;
            match opt {
                TftpOption::Blksize => {
                    if v < u64::from(MIN_BLKSIZE) || Some(v) > req.blksize {
                        return Err("OACK blksize is out of range");
                    }
                    n.blksize = u16::try_from(v).map_err(|_| "OACK blksize is out of range")?;
                }
                TftpOption::Tsize => n.tsize = Some(v),
                TftpOption::Timeout => {
                    n.timeout_secs = v;
                    // As on the server: `utimeout` is the finer value and wins in any order.
                    if n.utimeout_micros == 0 {
                        n.timeout = Some(Duration::from_secs(v));
                    }
                }
                TftpOption::Utimeout => {
                    n.utimeout_micros = v;
                    n.timeout = Some(Duration::from_micros(v));
                }
                TftpOption::Windowsize => {
                    if v == 0 || Some(v) > req.windowsize {
                        return Err("OACK windowsize is out of range");
                    }
                    n.windowsize =
                        u16::try_from(v).map_err(|_| "OACK windowsize is out of range")?;
                }
                TftpOption::Rollover => {
                    if v > 1 {
                        return Err("OACK rollover is out of range");
                    }
                    n.rollover = v as u16;
                }
            }
            n.acknowledged.push(opt);
        }
        n.windowsize = n.windowsize.min(MAX_WINDOWSIZE);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            blksize_max: 1468,
            windowsize_max: 64,
            window_bytes_max: 4 << 20,
            rollover: 0,
            negotiate: true,
        }
    }

    fn req(pairs: &[(&str, &str)]) -> RequestedOptions {
        let mut buf = [0u8; 512];
        let n = wire::write_options(
            pairs.iter().map(|(a, b)| (a.as_bytes(), b.as_bytes())),
            &mut buf,
        )
        .unwrap();
        RequestedOptions::from_options(Options::from_bytes(&buf[..n]))
    }

    fn oack(n: &Negotiated) -> alloc::vec::Vec<u8> {
        let mut buf = alloc::vec![0u8; n.oack_len()];
        let len = n.emit_oack(&mut buf).unwrap();
        assert_eq!(len, buf.len());
        buf
    }

    #[test]
    fn edk2_probe_gets_tsize_blksize_windowsize_in_its_order() {
        let r = req(&[("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")]);
        let n = Negotiated::server(&r, &limits(), Mode::Octet, false, Some(1234));
        assert_eq!((n.blksize, n.windowsize, n.tsize), (1468, 4, Some(1234)));
        assert_eq!(
            oack(&n),
            b"\0\x06tsize\x001234\0blksize\x001468\0windowsize\x004\0"
        );
    }

    #[test]
    fn clamps_and_ignores_out_of_range() {
        let r = req(&[
            ("BLKSIZE", "65464"),
            ("windowsize", "65535"),
            ("timeout", "0"),
            ("foo", "1"),
        ]);
        let n = Negotiated::server(&r, &limits(), Mode::Octet, false, None);
        assert_eq!((n.blksize, n.windowsize, n.timeout), (1468, 64, None));
        assert_eq!(oack(&n), b"\0\x06blksize\x001468\0windowsize\x0064\0");
        assert_eq!(r.unknown, 1);

        let r = req(&[("blksize", "7"), ("tsize", "0"), ("windowsize", "0")]);
        let n = Negotiated::server(&r, &limits(), Mode::Octet, false, None);
        assert!(!n.has_oack(), "nothing accepted: no OACK");
        assert_eq!(n.blksize, 512);
    }

    #[test]
    fn timeouts_and_netascii() {
        let r = req(&[
            ("timeout", "3"),
            ("utimeout", "250000"),
            ("windowsize", "8"),
            ("tsize", "0"),
        ]);
        let n = Negotiated::server(&r, &limits(), Mode::Netascii, false, Some(10));
        assert_eq!(n.timeout, Some(Duration::from_millis(250)));
        assert_eq!((n.windowsize, n.tsize), (1, None));
        assert_eq!(oack(&n), b"\0\x06timeout\x003\0utimeout\x00250000\0");
    }

    #[test]
    fn edge_values() {
        let l = limits();
        let server = |pairs: &[(&str, &str)], write: bool| {
            Negotiated::server(&req(pairs), &l, Mode::Octet, write, Some(77))
        };
        // Duplicates: the first occurrence wins and the OACK names each option once (RFC 2347
        // does not allow a name twice); names match case-insensitively.
        let n = server(
            &[("BlkSize", "1024"), ("blksize", "512"), ("TSIZE", "5")],
            false,
        );
        assert_eq!(n.blksize, 1024);
        assert_eq!(oack(&n), b"\0\x06blksize\x001024\0tsize\x0077\0");
        // A first occurrence that is not a number is not replaced by a later good one.
        assert!(!server(&[("blksize", "x"), ("blksize", "1024")], false).has_oack());
        // Leading zeros are decimal, and the OACK carries the canonical value.
        let n = server(&[("blksize", "0001024"), ("windowsize", "008")], false);
        assert_eq!(oack(&n), b"\0\x06blksize\x001024\0windowsize\x008\0");
        // blksize: 8 is the floor (RFC 2348), anything larger is clamped, even past u16 or
        // 65464; a value beyond u64 is not a number at all.
        assert_eq!(server(&[("blksize", "8")], false).blksize, 8);
        for big in ["65465", "65536", "4294967296", "18446744073709551615"] {
            assert_eq!(server(&[("blksize", big)], false).blksize, 1468, "{big}");
        }
        assert!(!server(&[("blksize", "18446744073709551616")], false).has_oack());
        let wide = Limits {
            blksize_max: u16::MAX,
            ..l
        };
        let n = Negotiated::server(
            &req(&[("blksize", "65535")]),
            &wide,
            Mode::Octet,
            false,
            None,
        );
        assert_eq!(n.blksize, MAX_BLKSIZE);
        // windowsize: 1..=65535 (RFC 7440), then the server's caps.
        for bad in ["0", "65536", "-1", ""] {
            assert!(!server(&[("windowsize", bad)], false).has_oack(), "{bad}");
        }
        assert_eq!(server(&[("windowsize", "1")], false).windowsize, 1);
        // timeout: 1..=255 s (RFC 2349); utimeout: 10 ms..=255 s in microseconds (tftp-hpa).
        assert!(!server(&[("timeout", "256")], false).has_oack());
        assert_eq!(
            server(&[("timeout", "255")], false).timeout,
            Some(Duration::from_secs(255))
        );
        assert!(!server(&[("utimeout", "9999")], false).has_oack());
        assert!(!server(&[("utimeout", "255000001")], false).has_oack());
        assert_eq!(
            server(&[("utimeout", "10000")], false).timeout,
            Some(Duration::from_millis(10))
        );
        // utimeout wins over timeout in either order; both are echoed.
        let n = server(&[("utimeout", "20000"), ("timeout", "4")], false);
        assert_eq!(n.timeout, Some(Duration::from_millis(20)));
        assert_eq!(oack(&n), b"\0\x06utimeout\x0020000\0timeout\x004\0");
        // tsize: an RRQ gets the real size whatever it sent; a WRQ's value is echoed (RFC
        // 2349), and a WRQ without a number gets no tsize.
        assert_eq!(server(&[("tsize", "999")], false).tsize, Some(77));
        assert_eq!(
            server(&[("tsize", "123456789012")], true).tsize,
            Some(123_456_789_012)
        );
        assert!(!server(&[("tsize", "abc")], true).has_oack());
        // rollover: 0 or 1 only.
        assert!(!server(&[("rollover", "2")], false).has_oack());
        // No negotiation at all: RFC 1350 defaults, no OACK.
        let off = Limits {
            negotiate: false,
            ..l
        };
        let n = Negotiated::server(&req(&[("blksize", "1024")]), &off, Mode::Octet, false, None);
        assert_eq!((n.blksize, n.has_oack()), (512, false));
    }

    #[test]
    fn window_bytes_cap_applies_after_blksize() {
        let mut l = limits();
        l.window_bytes_max = 4096;
        let r = req(&[("windowsize", "16"), ("blksize", "1024")]);
        let n = Negotiated::server(&r, &l, Mode::Octet, false, None);
        assert_eq!((n.blksize, n.windowsize), (1024, 4));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Whatever a client asks, the server's OACK is one the client accepts, and both sides
        /// then agree on every parameter (RFC 2347: the OACK only narrows the request).
        #[test]
        fn the_client_accepts_every_oack_the_server_sends(
            opts in proptest::collection::vec((0usize..8, proptest::prop_oneof![
                4 => proptest::sample::select(&[0u64, 1, 4, 7, 8, 255, 256, 512, 1468, 9999, 20_000, 65_464, 65_535, 65_536][..]),
                1 => 0u64..70_000,
                1 => proptest::num::u64::ANY,
            ]), 0..8),
            netascii: bool,
            write: bool,
            size in proptest::option::of(0u64..1 << 40),
        ) {
            const NAMES: [&str; 8] =
                ["blksize", "tsize", "timeout", "utimeout", "windowsize", "rollover", "BlkSize", "x"];
            let values: alloc::vec::Vec<_> =
                opts.iter().map(|&(n, v)| (NAMES[n], alloc::format!("{v}"))).collect();
            let pairs: alloc::vec::Vec<_> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let r = req(&pairs);
            let mode = if netascii { Mode::Netascii } else { Mode::Octet };
            let server = Negotiated::server(&r, &limits(), mode, write, size);
            let bytes = oack(&server);
            let client = Negotiated::client(&r, Options::from_bytes(&bytes[2..]), 0);
            proptest::prop_assert_eq!(client, Ok(server));
        }
    }

    #[test]
    fn client_checks_oack() {
        let r = req(&[("blksize", "1432"), ("tsize", "0")]);
        let n = Negotiated::client(
            &r,
            Options::from_bytes(b"blksize\x001400\0tsize\x0099\0"),
            0,
        )
        .unwrap();
        assert_eq!((n.blksize, n.tsize), (1400, Some(99)));
        assert!(Negotiated::client(&r, Options::from_bytes(b"windowsize\x004\0"), 0).is_err());
        assert!(Negotiated::client(&r, Options::from_bytes(b"blksize\x002000\0"), 0).is_err());
    }
}
