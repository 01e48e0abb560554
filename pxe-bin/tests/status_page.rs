//! The live status page in a real browser while a real client boots: QEMU (SeaBIOS + the
//! e1000's iPXE ROM) goes DHCP → pxelinux.0 → its menu files → a kernel → an initrd through
//! `pxe serve --dhcp server`, while headless Chromium loads the admin listener's page again and
//! again in the same namespace. The DOM must show that client (by MAC) reaching each stage, in
//! order; the last load is kept as a screenshot, `target/status-page.png`.
//!
//! Needs root and the packages `scripts/install-deps.sh` installs (chromium among them).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::firmware_lab::{Firmware, Lab, tail};
use support::netns;
use support::os_image::{CMDLINE, USERSPACE_MARKER, os_image};
use support::tools::{PXE, pxe, require, run};

const MAC: &str = "52:54:00:77:02:01";
const ADMIN: &str = "127.0.0.1:9170";
const STAGES: [&str; 5] = ["dhcp", "nbp", "menu", "kernel", "initrd"];

/// Headless Chromium inside `ns`: the page's DOM after its scripts ran (`--dump-dom`), or a
/// screenshot of it into `png`.
fn chromium(ns: &str, profile: &Path, png: Option<&Path>) -> String {
    let mut cmd = netns::command(ns, "chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        // Lets the page's fetch of /api/status and its redraw finish before the dump.
        "--virtual-time-budget=4000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    match png {
        Some(p) => cmd.arg(format!("--screenshot={}", p.display())),
        None => cmd.arg("--dump-dom"),
    };
    cmd.arg(format!("http://{ADMIN}/"));
    let out = run(&mut cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `data-stages` of the client row for [`MAC`] in a dumped DOM.
fn stages_in(dom: &str) -> Option<Vec<String>> {
    let row = dom
        .split("<tr")
        .find(|r| r.contains(&format!("data-mac=\"{MAC}\"")))?;
    let stages = row.split("data-stages=\"").nth(1)?.split('"').next()?;
    Some(stages.split_whitespace().map(str::to_owned).collect())
}

#[test]
fn the_status_page_follows_a_booting_client_through_every_stage() {
    require("chromium", "chromium");
    let os = os_image();
    let lab = Lab::new("status");
    let root = lab.root();
    let out = pxe(&["init", root.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "pxe init failed");
    std::fs::copy(&os.kernel, root.join("vmlinuz")).expect("copy the kernel");
    std::fs::copy(&os.initrd, root.join("initrd.gz")).expect("copy the initramfs");
    std::fs::write(
        root.join("pxelinux.cfg/default"),
        format!(
            "SERIAL 0 115200\nDEFAULT os\nPROMPT 0\nTIMEOUT 1\n\
             LABEL os\n  KERNEL vmlinuz\n  INITRD initrd.gz\n  APPEND {CMDLINE} pxeos.path=status\n"
        ),
    )
    .expect("write the menu");
    let config = lab.dir().join("pxe.toml");
    std::fs::write(&config, format!("[admin]\nlisten = \"{ADMIN}\"\n")).expect("config");
    let leases = lab.dir().join("leases.json");
    let _ra = lab.start_dnsmasq("dnsmasq-ra", "");
    let mut server = lab.spawn(
        "pxe",
        &[
            PXE,
            "serve",
            "--config",
            config.to_str().expect("utf-8"),
            "--root",
            root.to_str().expect("utf-8"),
            "--interface",
            "br0",
            "--dhcp",
            "server",
            "--dhcp-range",
            "10.77.0.100,10.77.0.199",
            "--leases",
            leases.to_str().expect("utf-8"),
        ],
    );
    lab.wait_udp_port(69, &mut server, Duration::from_secs(20));
    server.wait_log("admin listening", Duration::from_secs(10));

    let profile = tempfile::tempdir().expect("chromium profile");
    let mut seen: Vec<Vec<String>> = Vec::new();
    let boot = std::thread::scope(|s| {
        let booting = s.spawn(|| {
            lab.boot_with(
                Firmware::BiosIpxeRom,
                MAC,
                USERSPACE_MARKER,
                Duration::from_secs(300),
                768,
            )
        });
        let t0 = Instant::now();
        while !booting.is_finished() && t0.elapsed() < Duration::from_secs(320) {
            if let Some(stages) = stages_in(&chromium(lab.netns(), profile.path(), None))
                && seen.last() != Some(&stages)
            {
                eprintln!(
                    "{:>6.1} s: the page shows {MAC} at {stages:?}",
                    t0.elapsed().as_secs_f64()
                );
                seen.push(stages);
            }
        }
        booting.join().expect("boot thread")
    });
    assert!(
        boot.ok,
        "{}\n--- serial:\n{}\n--- pxe:\n{}",
        boot.why,
        tail(&boot.serial, 30),
        tail(&server.log(), 40)
    );

    // After the boot: every stage, and the screenshot.
    let dom = chromium(lab.netns(), profile.path(), None);
    let last = stages_in(&dom).unwrap_or_else(|| panic!("no row for {MAC}:\n{dom}"));
    if seen.last() != Some(&last) {
        seen.push(last.clone());
    }
    assert_eq!(last, STAGES, "{dom}");
    // Each load showed the stages reached so far, never one out of order.
    for s in &seen {
        assert_eq!(s[..], STAGES[..s.len()], "a load showed {s:?}");
    }
    assert!(
        dom.contains("10.77.0.1"),
        "the lease table or the client's address:\n{dom}"
    );
    let png = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/status-page.png");
    chromium(lab.netns(), profile.path(), Some(&png));
    let meta = std::fs::metadata(&png).expect("the screenshot");
    assert!(
        meta.len() > 10_000,
        "screenshot too small: {} bytes",
        meta.len()
    );
    eprintln!(
        "status page: {} distinct views of {MAC} during the boot ({:?} to the marker); screenshot {}",
        seen.len(),
        boot.elapsed,
        png.display()
    );
}
