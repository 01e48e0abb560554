//! Log lines nobody on the network can forge, with journald priorities.
//!
//! Clients choose much of what is logged: TFTP file names, DHCP vendor and user classes, host
//! names. In the text format every field value and message goes through [`escape`], so a name
//! holding `\n` and a fake `INFO transfer ... result=ok` stays on its own line, and ESC
//! sequences never reach the admin's terminal raw. The JSON format escapes by itself (RFC 8259
//! §7).
//!
//! Under systemd (stderr connected to the journal, `JOURNAL_STREAM`, systemd.exec(5)), each
//! line starts with its syslog priority, `<3>` for errors to `<7>` for debug (sd-daemon(3)),
//! so `journalctl -p warning` shows warnings and errors only; the journal adds its own time.
//!
//! Writing: every line is one `write(2)` to stderr as it is logged, except the HTTP server's
//! per-request lines ([`BATCHED_TARGET`] at `info`), which are collected and written together at
//! most [`BATCH_DELAY`] later (or at once when [`BATCH_BYTES`] have gathered), as nginx's
//! `access_log ... buffer= flush=` does. A range read of 64 KiB costs only a handful of system
//! calls, and one `write` per request was ~5 % of the server's CPU in the range-read bench
//! (`perf`). Order is kept: any other line first writes out what is gathered, then itself;
//! timestamps are taken when a line is logged, not when it is written. [`flush`] writes out what
//! is gathered (the `pxe` binary calls it before it exits).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal};
use std::sync::{Condvar, LazyLock, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Installs the global subscriber: `format` lines on stderr, filtered by `RUST_LOG` (default
/// `info`). A second call does nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let journal = stderr_is_journal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(!journal && std::io::stderr().is_terminal())
        .with_timer(LineTime)
        .with_writer(StderrLines);
    // A second init (tests) is harmless; ignore it.
    let _ = match (format, journal) {
        (LogFormat::Text, false) => builder
            .with_target(false)
            .fmt_fields(EscapingFields)
            .try_init(),
        (LogFormat::Text, true) => builder
            .with_target(false)
            .without_time()
            .fmt_fields(EscapingFields)
            .event_format(JournalPriority(
                tracing_subscriber::fmt::format()
                    .with_target(false)
                    .without_time(),
            ))
            .try_init(),
        (LogFormat::Json, false) => builder.json().flatten_event(true).try_init(),
        (LogFormat::Json, true) => builder
            .json()
            .flatten_event(true)
            .event_format(JournalPriority(
                tracing_subscriber::fmt::format().json().flatten_event(true),
            ))
            .try_init(),
    };
}

/// The target of the lines that are batched: the HTTP server's per-request lines.
pub const BATCHED_TARGET: &str = "pxe_server::http::body";

/// Longest a batched line waits before it is written.
pub const BATCH_DELAY: Duration = Duration::from_millis(50);

/// Gathered bytes that are written at once, without waiting for [`BATCH_DELAY`].
pub const BATCH_BYTES: usize = 32 << 10;

/// Lines gathered for one write, and where they go.
#[derive(Debug)]
struct Batch<W> {
    buf: Vec<u8>,
    sink: W,
}

impl<W: io::Write> Batch<W> {
    /// Adds `line`; writes everything out now unless `batched` and below [`BATCH_BYTES`].
    /// Returns whether the batch went from empty to waiting (someone must write it later).
    fn push(&mut self, line: &[u8], batched: bool) -> bool {
        let was_empty = self.buf.is_empty();
        if !batched && was_empty {
            // The common case for every other line: straight out, no copy.
            let _ = self.sink.write_all(line);
            return false;
        }
        self.buf.extend_from_slice(line);
        if !batched || self.buf.len() >= BATCH_BYTES {
            self.write_out();
            return false;
        }
        was_empty
    }

    /// Writes what is gathered (a failed write is dropped: logging never fails the server).
    fn write_out(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.sink.write_all(&self.buf);
            self.buf.clear();
            if self.buf.capacity() > 4 * BATCH_BYTES {
                self.buf.shrink_to(BATCH_BYTES);
            }
        }
    }
}

/// The process's stderr batch and the signal for its writer thread.
struct Stderr {
    batch: Mutex<Batch<io::Stderr>>,
    waiting: Condvar,
}

static STDERR: LazyLock<Stderr> = LazyLock::new(|| Stderr {
    batch: Mutex::new(Batch {
        buf: Vec::new(),
        sink: io::stderr(),
    }),
    waiting: Condvar::new(),
});

fn stderr_batch() -> MutexGuard<'static, Batch<io::Stderr>> {
    STDERR.batch.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes out the batched lines now.
pub fn flush() {
    stderr_batch().write_out();
}

/// Whether the thread that writes batches [`BATCH_DELAY`] after their first line runs; it is
/// started at the first batched line. Without it (it could not start) batched lines are
/// written at once.
fn batch_writer_running() -> bool {
    static RUNNING: OnceLock<bool> = OnceLock::new();
    *RUNNING.get_or_init(|| {
        std::thread::Builder::new()
            .name("pxe-log".into())
            .spawn(|| {
                loop {
                    let mut batch = stderr_batch();
                    while batch.buf.is_empty() {
                        batch = STDERR
                            .waiting
                            .wait(batch)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    drop(batch);
                    std::thread::sleep(BATCH_DELAY);
                    stderr_batch().write_out();
                }
            })
            .is_ok()
    })
}

/// The subscriber's writer: stderr, with the HTTP request lines batched (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrLines;

/// One line's writer from [`StderrLines`].
#[derive(Debug)]
pub struct StderrLine {
    batched: bool,
}

impl<'a> MakeWriter<'a> for StderrLines {
    type Writer = StderrLine;

    fn make_writer(&'a self) -> Self::Writer {
        StderrLine { batched: false }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        StderrLine {
            batched: *meta.level() == Level::INFO && meta.target() == BATCHED_TARGET,
        }
    }
}

impl io::Write for StderrLine {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let waiting = stderr_batch().push(line, self.batched);
        if waiting && !batch_writer_running() {
            flush();
        } else if waiting {
            STDERR.waiting.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The lines' timestamp: what tracing-subscriber's `SystemTime` timer prints (RFC 3339, UTC,
/// microseconds: `2024-05-01T12:34:56.123456Z`), with the date and time of day formatted once
/// per second and thread instead of for every line (that was ~1 % of the server's CPU in the
/// range-read bench, `perf`).
#[derive(Debug, Clone, Copy, Default)]
pub struct LineTime;

/// 10000-01-01T00:00:00Z: from there on the year has five digits, which [`LineTime`] leaves to
/// tracing-subscriber's own formatting.
const YEAR_10000: u64 = 253_402_300_800;

impl FormatTime for LineTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        thread_local! {
            /// The second last formatted, and its `YYYY-MM-DDTHH:MM:SS`.
            static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
        }
        let since = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) if d.as_secs() < YEAR_10000 => d,
            // A clock before 1970 or after 9999: rare enough for the general formatting.
            _ => return tracing_subscriber::fmt::time::SystemTime.format_time(w),
        };
        let secs = since.as_secs();
        let mut line = [0u8; 27];
        let second = match SECOND.get() {
            (s, text) if s == secs => text,
            _ => {
                let text = second_text(secs);
                SECOND.set((secs, text));
                text
            }
        };
        line[..19].copy_from_slice(&second);
        line[19] = b'.';
        put_digits(&mut line[20..26], u64::from(since.subsec_micros()));
        line[26] = b'Z';
        w.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` after 1970 (before [`YEAR_10000`]), UTC.
fn second_text(secs: u64) -> [u8; 19] {
    let (days, time) = (secs / 86_400, secs % 86_400);
    // Days to a civil date (proleptic Gregorian), H. Hinnant's `civil_from_days`: eras of
    // 400 years from 0000-03-01, so the leap day ends a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    let mut text = *b"0000-00-00T00:00:00";
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], time / 3600);
    put_digits(&mut text[14..16], time / 60 % 60);
    put_digits(&mut text[17..19], time % 60);
    text
}

/// Writes `value` into `out` in decimal, zero-padded to its length (the digits that fit).
fn put_digits(out: &mut [u8], mut value: u64) {
    for b in out.iter_mut().rev() {
        // A single digit: the cast keeps it.
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// True when stderr is the journal stream systemd connected (`JOURNAL_STREAM` is its
/// `device:inode`, systemd.exec(5)); a redirected stderr keeps plain lines.
fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(st) = nix::sys::stat::fstat(std::io::stderr()) else {
        return false;
    };
    stream == format!("{}:{}", st.st_dev, st.st_ino)
}

/// `value` with every control character (C0, DEL, C1), the Unicode line and paragraph
/// separators and the bidirectional overrides written as Rust escapes (`\n`, `\u{1b}`), so
/// one event is one line and shows what was received.
#[must_use]
pub fn escape(value: &str) -> Cow<'_, str> {
    // Printable ASCII, nearly every value, is checked byte by byte.
    if value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Cow::Borrowed(value);
    }
    let needs = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !value.chars().any(needs) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if needs(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The text format's fields (`message k=v k=v`), each value [`escape`]d.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapingFields;

impl<'a> MakeVisitor<Writer<'a>> for EscapingFields {
    type Visitor = EscapingVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        EscapingVisitor {
            writer: target,
            first: true,
            result: Ok(()),
        }
    }
}

/// Writes one event's or span's fields for [`EscapingFields`].
#[derive(Debug)]
pub struct EscapingVisitor<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl EscapingVisitor<'_> {
    /// Writes `field`: a space unless it is the first, `name=` unless it is the message, and
    /// the value `value` writes ([`escape`]d when `escaped`), gathered in a per-thread string
    /// so that the line gets one write per field. `log.` fields are left out.
    fn field(
        &mut self,
        field: &Field,
        escaped: bool,
        value: impl FnOnce(&mut String) -> fmt::Result,
    ) {
        thread_local! {
            static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
        }
        if self.result.is_err() {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        let name = field.name();
        // `log` crate records forwarded by tracing-log carry these; the format shows them
        // elsewhere.
        if name.starts_with("log.") {
            return;
        }
        self.result = SCRATCH.with(|scratch| {
            // Taken only if a value's formatting logs an event itself.
            let mut own = String::new();
            let mut borrowed = scratch.try_borrow_mut();
            let text = match &mut borrowed {
                Ok(s) => &mut **s,
                Err(_) => &mut own,
            };
            text.clear();
            text.push_str(sep);
            if name != "message" {
                text.push_str(name);
                text.push('=');
            }
            let at = text.len();
            let r = value(text).and_then(|()| {
                if escaped && let Cow::Owned(e) = escape(&text[at..]) {
                    text.truncate(at);
                    text.push_str(&e);
                }
                self.writer.write_str(text)
            });
            if text.capacity() > SCRATCH_KEPT {
                *text = String::new();
            }
            r
        });
    }
}

/// Most bytes the per-thread field string keeps allocated between lines.
const SCRATCH_KEPT: usize = 4096;

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.field(field, true, |s| {
                s.push_str(value);
                Ok(())
            });
        } else {
            // Quoted, as the default format does for strings.
            self.field(field, true, |s| write!(s, "{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, true, |s| write!(s, "{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, true, |s| write!(s, "{value:?}"));
    }

    // Numbers and booleans hold nothing to escape.

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, false, |s| {
            s.push_str(itoa::Buffer::new().format(value));
            Ok(())
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, false, |s| {
            if value < 0 {
                s.push('-');
            }
            s.push_str(itoa::Buffer::new().format(value.unsigned_abs()));
            Ok(())
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, false, |s| {
            s.push_str(if value { "true" } else { "false" });
            Ok(())
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, false, |s| write_f64(s, value));
    }
}

/// Below this a double's spacing is under 0.01 (2^-7 at most), so a double that is the nearest
/// one to a number of hundredths `h` prints (`{:?}`, shortest round trip) as exactly `h / 100`.
const EXACT_HUNDREDTHS_BELOW: f64 = (1u64 << 45) as f64;

/// `value` as `{:?}` prints it; a whole number of hundredths (the request line's rate, rounded
/// so) from integers, without the cost of float formatting.
fn write_f64(w: &mut impl fmt::Write, value: f64) -> fmt::Result {
    let h = (value * 100.0).round();
    // `is_sign_positive`: `{:?}` prints -0.0 with its sign.
    if value.is_sign_positive() && value < EXACT_HUNDREDTHS_BELOW && h / 100.0 == value {
        // Exact: `h` is a whole number below 2^52.
        let h = h as u64;
        let (whole, frac) = (h / 100, h % 100);
        // `{:?}` keeps one decimal at least and drops a trailing zero: 12.0, 12.5, 12.05.
        let digit = |d: u64| char::from(b'0' + d as u8);
        w.write_str(itoa::Buffer::new().format(whole))?;
        w.write_char('.')?;
        w.write_char(digit(frac / 10))?;
        if frac % 10 != 0 {
            w.write_char(digit(frac % 10))?;
        }
        Ok(())
    } else {
        write!(w, "{value:?}")
    }
}

impl VisitOutput<fmt::Result> for EscapingVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for EscapingVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// An event format with the sd-daemon(3) priority prefix (`<3>` error ... `<7>` debug).
#[derive(Debug, Clone)]
pub struct JournalPriority<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for JournalPriority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// syslog(3) priority of a tracing level.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(escape("pxelinux.0"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\nINFO transfer result=ok\r\u{1b}[2J\u{7f}\u{85}"),
            "a\\nINFO transfer result=ok\\r\\u{1b}[2J\\u{7f}\\u{85}"
        );
        assert_eq!(escape("x\u{2028}y\u{202e}z"), "x\\u{2028}y\\u{202e}z");
        assert_eq!(escape("ünïcode ok"), "ünïcode ok");
    }

    #[test]
    fn batched_lines_wait_and_other_lines_write_them_out_first() {
        let mut b = Batch {
            buf: Vec::new(),
            sink: Vec::new(),
        };
        assert!(!b.push(b"plain 1\n", false));
        assert_eq!(b.sink, b"plain 1\n");
        // The first batched line says someone must write it later; the next does not.
        assert!(b.push(b"http 1\n", true));
        assert!(!b.push(b"http 2\n", true));
        assert_eq!(b.sink, b"plain 1\n");
        // Another line writes the batch out first, in order.
        assert!(!b.push(b"warn 1\n", false));
        assert_eq!(b.sink, b"plain 1\nhttp 1\nhttp 2\nwarn 1\n");
        assert!(b.buf.is_empty());
        // A full batch goes out without waiting.
        let line = [b'x'; 1024];
        let mut waited = 0;
        for _ in 0..BATCH_BYTES / line.len() {
            waited += usize::from(b.push(&line, true));
        }
        assert_eq!(waited, 1);
        assert!(b.buf.is_empty());
        assert_eq!(b.sink.len(), 29 + BATCH_BYTES);
        b.push(b"http 3\n", true);
        b.write_out();
        assert!(b.sink.ends_with(b"http 3\n") && b.buf.is_empty());
    }

    #[test]
    fn the_batched_target_is_the_http_request_line() {
        assert_eq!(
            BATCHED_TARGET,
            crate::http::body::LOG_TARGET,
            "the request line moved: batch its new module"
        );
    }

    #[test]
    fn fields_are_formatted_as_before() {
        use tracing_subscriber::fmt::format::Writer;
        struct Fields;
        let mut out = String::new();
        static META: tracing::Metadata<'static> = tracing::metadata!(
            name: "t",
            target: "t",
            level: Level::INFO,
            fields: &["message", "n", "neg", "ok", "f", "s", "d", "log.target"],
            callsite: &CALLSITE_REF,
            kind: tracing::metadata::Kind::EVENT,
        );
        static CALLSITE_REF: Fields = Fields;
        impl tracing::callsite::Callsite for Fields {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &tracing::Metadata<'_> {
                &META
            }
        }
        let fields = META.fields();
        let f = |name: &str| fields.field(name).expect("field");
        let mut v = EscapingFields.make_visitor(Writer::new(&mut out));
        v.record_str(&f("message"), "http");
        v.record_u64(&f("n"), 206);
        v.record_i64(&f("neg"), -3);
        v.record_bool(&f("ok"), true);
        v.record_f64(&f("f"), 81.02);
        v.record_str(&f("s"), "a\nb");
        v.record_debug(&f("d"), &format_args!("/img\u{1b}"));
        v.record_u64(&f("log.target"), 1);
        v.finish().expect("formatted");
        assert_eq!(
            out,
            "http n=206 neg=-3 ok=true f=81.02 s=\"a\\nb\" d=/img\\u{1b}"
        );
    }

    #[test]
    fn floats_print_as_debug_does() {
        let mut values: Vec<f64> = vec![0.0, -0.0, 12.5, 12.34, 1234.0, 0.01, 0.1, 99.99, 1e20];
        values.extend([f64::NAN, f64::INFINITY, -1.5, 1.0 / 3.0, 1e-7, 2e15 + 0.5]);
        values.extend((0..200_000u32).map(|h| f64::from(h) / 100.0));
        // Around the end of the integer path, and the request line's own rounding.
        values.extend((0..1000u64).map(|i| ((1u64 << 45) - 500 + i) as f64 / 100.0));
        values.extend((0..1000u64).map(|i| ((1u64 << 52) - 500 + i) as f64 / 100.0));
        for (bytes, micros) in [(65_024u64, 37u64), (1 << 30, 417_000), (7, 3), (0, 5)] {
            let mib = bytes as f64 / (1024.0 * 1024.0) / (micros as f64 / 1e6);
            values.push((mib * 100.0).round() / 100.0);
        }
        for v in values {
            let mut out = String::new();
            write_f64(&mut out, v).unwrap();
            assert_eq!(out, format!("{v:?}"), "{v:e}");
        }
    }

    #[test]
    fn timestamps_print_as_tracing_subscriber_does() {
        let text = |secs| String::from_utf8(second_text(secs).to_vec()).unwrap();
        assert_eq!(text(0), "1970-01-01T00:00:00");
        assert_eq!(text(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(text(4_107_542_399), "2100-02-28T23:59:59");
        assert_eq!(text(YEAR_10000 - 1), "9999-12-31T23:59:59");
        // Every 13th day to 9999 against httpdate's calendar ("Thu, 01 Jan 1970 00:00:00 GMT").
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        for day in (0..YEAR_10000 / 86_400).step_by(13) {
            let secs = day * 86_400 + day % 86_400;
            let http = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
            let month = MONTHS.iter().position(|m| *m == &http[8..11]).unwrap() + 1;
            let want = format!(
                "{}-{month:02}-{}T{}",
                &http[12..16],
                &http[5..7],
                &http[17..25]
            );
            assert_eq!(text(secs), want);
        }
        // And the whole line against the timer it replaces, at the same second.
        let format = |timer: &dyn FormatTime| {
            let mut s = String::new();
            timer.format_time(&mut Writer::new(&mut s)).unwrap();
            s
        };
        let same_second = (0..10).any(|_| {
            let theirs = format(&tracing_subscriber::fmt::time::SystemTime);
            let ours = format(&LineTime);
            assert_eq!(ours.len(), theirs.len(), "{ours} {theirs}");
            assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
            ours[..19] == theirs[..19]
        });
        assert!(same_second);
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::DEBUG), 7);
    }
}
