//! The embedding example (`pxe-server/examples/embed.rs`) as a real boot server: proxyDHCP,
//! TFTP and HTTP started through `PxeServer::builder()` with its own `Decide`, beside dnsmasq
//! (which gives the addresses), in a network namespace; QEMU/TCG with SeaBIOS and the e1000's
//! iPXE ROM boots through it: the decider's per-machine script greets the machine, then chains
//! the root's `boot.ipxe`, whose marker ends the test. The example prints the server's event
//! stream, which must show the decision and the script's HTTP transfer.
//!
//! Needs root, the packages `scripts/install-deps.sh` installs, and the example built
//! (`cargo build -p pxe-server --example embed`; `scripts/test.sh` builds every target).

mod support;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use support::firmware_lab::{Firmware, Lab, tail};
use support::tools::PXE;

/// Time bound from QEMU's start to the marker.
const LIMIT: Duration = Duration::from_secs(60);

/// The example's binary, built beside `pxe` in the same target directory.
fn embed_binary() -> PathBuf {
    let bin = std::path::Path::new(PXE)
        .parent()
        .expect("the target directory")
        .join("examples/embed");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p pxe-server --example embed`",
        bin.display()
    );
    bin
}

#[test]
fn bios_ipxe_rom_boots_through_the_embedded_server_and_its_decider() {
    let embed = embed_binary();
    let mac = "52:54:00:77:e0:01";
    let lab = Lab::new("embed");
    lab.write_marker_files();
    let dnsmasq = lab.start_dnsmasq(
        "dnsmasq-addresses",
        "dhcp-range=10.77.0.100,10.77.0.199,255.255.0.0,10m\nno-ping\nlog-dhcp\n",
    );
    let root = lab.root().display().to_string();
    let embed = embed.display().to_string();
    let mut server = lab.spawn("embed", &[&embed, &root, "br0"]);
    for port in [69, 67, 4011] {
        lab.wait_udp_port(port, &mut server, Duration::from_secs(10));
    }
    let boot = lab.boot(Firmware::BiosIpxeRom, mac, &lab.script_marker(), LIMIT);
    let _ = std::io::stderr().write_all(boot.report("embed").as_bytes());
    let logs = || {
        format!(
            "--- serial (last 40 lines):\n{}\n--- embed:\n{}\n--- dnsmasq:\n{}",
            tail(&boot.serial, 40),
            tail(&server.log(), 60),
            tail(&dnsmasq.log(), 20)
        )
    };
    assert!(boot.ok, "{}\n{}", boot.why, logs());
    assert!(
        boot.serial.contains(&format!("embed: hello {mac}")),
        "the decider's script did not run\n{}",
        logs()
    );
    let events = server.log();
    let script = "_pxe/host/52-54-00-77-e0-01.ipxe";
    assert!(
        events.lines().any(|l| l.starts_with("Dhcp(DhcpDecision")
            && l.contains("decider")
            && l.contains(script)),
        "no decision event naming the decider and the script\n{}",
        logs()
    );
    assert!(
        events.lines().any(|l| l.starts_with("TransferFinished")
            && l.contains("Http")
            && l.contains(script)
            && l.contains("Completed")),
        "no finished HTTP transfer of the script in the event stream\n{}",
        logs()
    );
}
