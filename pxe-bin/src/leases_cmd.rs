//! `pxe leases`: the DHCP server's lease table, read from its lease file (the server replaces
//! that file by rename, so it can be read while the server runs).

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use pxe_dhcp::responder::LeaseState;
use pxe_server::config::Config;

use crate::cli::LeasesArgs;
use crate::error::Error;

/// Prints every lease: address, hardware address, state and when that state ends.
pub fn run(args: &LeasesArgs) -> Result<ExitCode, Error> {
    let path = match &args.leases {
        Some(p) => p.clone(),
        None => Config::load(&args.config)?.dhcp.leases_path(),
    };
    let mut leases = pxe_server::dhcp::leases::current(&path)
        .map_err(|e| Error::io(format!("read lease file {}", path.display()), e))?
        .unwrap_or_default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    leases.sort_by_key(|l| l.ip);
    if !args.json {
        println!("{:<15}  {:<17}  {:<8}  ENDS", "IP", "MAC", "STATE");
    }
    for l in &leases {
        let state = match l.state {
            LeaseState::Offered => "offered",
            LeaseState::Bound => "bound",
            LeaseState::Released => "released",
            LeaseState::Expired => "expired",
            LeaseState::Declined => "declined",
        };
        let ends = l.expires.as_micros() / 1_000_000;
        let mac = l.mac.map_or_else(|| "-".to_owned(), |m| m.to_string());
        if args.json {
            let obj = serde_json::json!({
                "ip": l.ip, "mac": l.mac.map(|m| m.to_string()), "state": state, "ends": ends,
            });
            println!("{obj}");
        } else {
            let left = if ends > now {
                format!("in {}", human(ends - now))
            } else {
                format!("{} ago", human(now - ends))
            };
            println!("{:<15}  {mac:<17}  {state:<8}  {left}", l.ip.to_string());
        }
    }
    if leases.is_empty() && !args.json {
        eprintln!("no leases in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn human(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
