//! `pxe get tftp://HOST[:PORT]/PATH`: the reference client ([`pxe_server::tftp::download`]
//! drives it). A progress bar on a terminal, a one-line summary otherwise.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use pxe_tftp::{ClientConfig, Outcome};

use crate::cli::GetArgs;
use crate::error::Error;
use pxe_server::tftp::download::{Progress, Target, download};
use pxe_server::tftp::transfer::mib_per_s;

/// Runs `pxe get`.
pub fn run(args: &GetArgs) -> Result<ExitCode, Error> {
    let server = resolve(&args.url.host, args.url.port)?;
    let mut config = ClientConfig {
        dally: Duration::from_millis(args.dally),
        ..ClientConfig::default()
    };
    if let Some(b) = args.blksize {
        config = config.option("blksize", &b.to_string());
    }
    if let Some(w) = args.windowsize {
        config = config.option("windowsize", &w.to_string());
    }
    if args.tsize {
        config = config.option("tsize", "0");
    }
    let (target, path) = open_target(args)?;
    let bar = progress_bar();
    let result = download(
        server,
        args.url.path.as_bytes(),
        config,
        target,
        |p| match (p, &bar) {
            (Progress::Size(t), Some(b)) => b.set_length(t),
            (Progress::Bytes(n), Some(b)) => b.set_position(n),
            _ => {}
        },
    );
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let done = result?;
    let (st, elapsed) = (&done.stats, done.elapsed);
    match &done.outcome {
        Some(Outcome::Completed) => {
            eprintln!(
                "{} bytes in {:.2} s ({:.1} MiB/s), blksize {}, windowsize {}, {} retransmits",
                st.bytes,
                elapsed.as_secs_f64(),
                mib_per_s(st.bytes, elapsed),
                st.blksize,
                st.windowsize,
                st.retransmits + st.timeouts,
            );
            Ok(ExitCode::SUCCESS)
        }
        other => {
            if let Some(path) = path {
                let _ = std::fs::remove_file(path);
            }
            let why = match other {
                Some(Outcome::Failed(e)) => e.to_string(),
                Some(o) => format!("{o:?}"),
                None => "unfinished".to_owned(),
            };
            Err(Error::Tftp(format!("{}: {why}", args.url)))
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, Error> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::io(format!("resolve {host}"), e))?
        .next()
        .ok_or_else(|| Error::Usage(format!("{host}: no address")))
}

/// The output, and its path when it is a file (removed if the download fails).
fn open_target(args: &GetArgs) -> Result<(Target, Option<PathBuf>), Error> {
    let path = match &args.output {
        Some(p) if p.as_os_str() == "-" => {
            return Ok((Target::Stream(Box::new(io::stdout().lock())), None));
        }
        Some(p) => p.clone(),
        None => {
            let name = Path::new(&args.url.path)
                .file_name()
                .ok_or_else(|| Error::Usage(format!("{}: no file name; use -o FILE", args.url)))?;
            PathBuf::from(name)
        }
    };
    let file =
        File::create(&path).map_err(|e| Error::io(format!("create {}", path.display()), e))?;
    Ok((Target::File(file), Some(path)))
}

fn progress_bar() -> Option<ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}
