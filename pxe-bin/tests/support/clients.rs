//! Real TFTP clients driven against a [`Pxe`] on loopback.

use std::process::{Command, Output};
use std::time::Duration;

use super::pxe::Pxe;
use super::tools::{require, run};

/// tftp-hpa in binary mode against `server`: `tftp -m binary 127.0.0.1 PORT -c COMMAND...`
/// (`get REMOTE LOCAL`, `put LOCAL REMOTE`), within `timeout`.
pub fn tftp_hpa(server: &Pxe, command: &[&str], timeout: Duration) -> Output {
    require("tftp", "tftp-hpa");
    let port = server.addr.port().to_string();
    run(
        Command::new("tftp")
            .args(["-m", "binary", "127.0.0.1", &port, "-c"])
            .args(command),
        timeout,
    )
}
