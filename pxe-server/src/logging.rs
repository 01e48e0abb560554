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
use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal};
use std::sync::{Condvar, LazyLock, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
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
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        let value = escape(value);
        self.result = match field.name() {
            "message" => write!(self.writer, "{sep}{value}"),
            // `log` crate records forwarded by tracing-log carry these; the format shows them
            // elsewhere.
            name if name.starts_with("log.") => Ok(()),
            name => write!(self.writer, "{sep}{name}={value}"),
        };
    }
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, value);
        } else {
            // Quoted, as the default format does for strings.
            self.write(field, &format!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.write(field, &text);
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
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::DEBUG), 7);
    }
}
