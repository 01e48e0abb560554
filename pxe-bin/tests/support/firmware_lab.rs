//! Test kit for booting real firmware (QEMU/TCG: SeaBIOS + iPXE NIC ROMs, OVMF's EDK2 PXE)
//! against a server running in a network namespace the test owns.
//!
//! One [`Lab`] per test: a namespace `pxefw-<tag>-<pid>` holding a bridge `br0`
//! (`10.77.0.1/16`, `fd77::1/64`) with a tap `tap0` for QEMU. Everything the test starts runs
//! inside it through `ip netns exec`, as a [`Proc`] that is killed by pid when dropped; the
//! namespace is deleted when the [`Lab`] drops. Labs are serialized by a lock file: QEMU/TCG
//! takes a whole core and CI machines have two; labs made with [`Lab::new_shared`] share it with
//! each other (boots that spend much of their time waiting run side by side).
//!
//! Needs root, iproute2, qemu-system-x86, ipxe-qemu, ovmf and dnsmasq-base
//! (`scripts/install-deps.sh`).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::files::write_file;
use super::netns::{self, Netns};
use super::process::Proc;

/// The server's address on the bridge.
pub const SERVER_IP: &str = "10.77.0.1";
/// The prefix length of the namespace's subnet.
pub const PREFIX: u8 = 16;
/// Where the labs take turns.
const LOCK_PATH: &str = "/tmp/pxe-firmware-boot.lock";
const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// OVMF built with Secure Boot support (SMM), and its variable store with Microsoft's keys
/// enrolled and Secure Boot on.
const OVMF_CODE_MS: &str = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd";
const OVMF_VARS_MS: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

/// Which firmware boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS with the e1000's iPXE option ROM (ipxe-qemu).
    BiosIpxeRom,
    /// OVMF with a virtio NIC whose iPXE ROM is removed (`romfile=`): EDK2's own PXE client.
    UefiEdk2,
    /// As [`Firmware::UefiEdk2`] with Secure Boot on: OVMF's `.ms` build and variable store
    /// (Microsoft keys enrolled), which needs `q35` with SMM and a secure flash.
    UefiEdk2SecureBoot,
}

/// The outcome of one boot.
#[derive(Debug)]
pub struct Boot {
    /// From QEMU's start to the marker (or to giving up).
    pub elapsed: Duration,
    /// Whether the marker appeared in time.
    pub ok: bool,
    /// Why the boot ended, when it failed.
    pub why: String,
    /// The serial log, escape sequences removed.
    pub serial: String,
    /// When each milestone first showed up, in order.
    pub milestones: Vec<(Duration, &'static str)>,
}

impl Boot {
    /// How many times `needle` appears in the serial log.
    pub fn count(&self, needle: &str) -> usize {
        self.serial.matches(needle).count()
    }

    /// A one-line summary plus the milestone timeline.
    pub fn report(&self, name: &str) -> String {
        let mut s = format!(
            "{name}: {} after {:.1} s{}\n",
            if self.ok { "marker seen" } else { "FAILED" },
            self.elapsed.as_secs_f64(),
            if self.ok {
                String::new()
            } else {
                format!(" ({})", self.why)
            }
        );
        for (t, m) in &self.milestones {
            let _ = writeln!(s, "  {:6.1} s  {m}", t.as_secs_f64());
        }
        s
    }
}

/// Serial-log milestones of the boot paths, printed with their times.
const MILESTONES: &[(&str, &str)] = &[
    ("iPXE initialising", "iPXE ROM/binary starts"),
    ("Configuring (net0", "iPXE DHCP starts"),
    ("Next server:", "iPXE got an offer with a next-server"),
    ("undionly.kpxe... ok", "undionly.kpxe fetched"),
    ("pxelinux.0... ok", "pxelinux.0 fetched by iPXE"),
    ("boot.ipxe... ok", "boot.ipxe fetched by iPXE"),
    ("PXELINUX 6", "PXELINUX runs"),
    (">>Start PXE over IPv4", "EDK2 PXE starts"),
    (">>Start PXE over IPv6", "EDK2 PXE over IPv6 starts"),
    ("Station IP address", "EDK2 got an address"),
    ("NBP file downloaded", "EDK2 fetched the NBP"),
    ("PXE-E", "EDK2 PXE error"),
    ("Welcome to GRUB", "GRUB runs"),
    ("MEMDISK", "memdisk runs"),
    ("ISOLINUX 6", "isolinux runs"),
    ("Booting from SAN", "iPXE boots a SAN device"),
    ("Linux version", "the kernel starts"),
    ("PXEOS-USERSPACE", "userspace (/init) runs"),
    ("PXEOS-DHCP-OK", "the OS got an address"),
];

/// One test's namespace, work directory and turn on the machine.
#[derive(Debug)]
pub struct Lab {
    /// Short name of the test, used in names and markers.
    pub tag: String,
    /// Captures everything on `br0` into `<dir>/br0.pcap` (kept when the test fails).
    capture: Option<Proc>,
    // Field order is drop order: the namespace goes after the test's processes (locals of the
    // test, dropped before the Lab), the directory after that, the lock last.
    netns: Netns,
    dir: tempfile::TempDir,
    _turn: File,
}

impl Lab {
    /// Waits for the machine, then builds the namespace: `br0` with the server's addresses and
    /// `tap0` for QEMU, both up; IPv6 DAD off so `fd77::1` is usable at once.
    pub fn new(tag: &str) -> Self {
        Self::build(tag, false)
    }

    /// As [`Lab::new`], sharing the machine with other labs that do the same (QEMU boots run
    /// side by side then), but not with the labs of [`Lab::new`].
    pub fn new_shared(tag: &str) -> Self {
        Self::build(tag, true)
    }

    fn build(tag: &str, shared: bool) -> Self {
        let turn = File::create(LOCK_PATH).expect("create the lab lock file");
        if shared {
            turn.lock_shared().expect("take the lab lock (shared)");
        } else {
            turn.lock().expect("take the lab lock");
        }
        let name = format!("pxefw-{tag}-{}", std::process::id());
        remove_stale_namespaces(tag);
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let netns = Netns::new(&name);
        for conf in ["all", "default"] {
            netns.exec(&[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{conf}.accept_dad=0"),
            ]);
        }
        netns.ip(&["link", "set", "lo", "up"]);
        netns.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ]);
        netns.ip(&[
            "addr",
            "add",
            &format!("{SERVER_IP}/{PREFIX}"),
            "dev",
            "br0",
        ]);
        netns.ip(&["addr", "add", "fd77::1/64", "dev", "br0", "nodad"]);
        netns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
        netns.ip(&["link", "set", "tap0", "master", "br0"]);
        netns.ip(&["link", "set", "tap0", "up"]);
        netns.ip(&["link", "set", "br0", "up"]);
        let dir = tempfile::Builder::new()
            .prefix(&format!("pxefw-{tag}-"))
            .tempdir()
            .expect("create the lab directory");
        let mut lab = Self {
            tag: tag.to_owned(),
            capture: None,
            netns,
            dir,
            _turn: turn,
        };
        let pcap = lab.dir().join("br0.pcap").display().to_string();
        // Immediate mode and a 4 MiB buffer: packets reach the file as they come, none dropped.
        lab.capture = Some(lab.spawn(
            "tcpdump",
            &[
                "tcpdump",
                "-n",
                "-U",
                "--immediate-mode",
                "-B",
                "4096",
                "-i",
                "br0",
                "-w",
                &pcap,
            ],
        ));
        lab
    }

    /// The namespace's name.
    pub fn netns(&self) -> &str {
        self.netns.name()
    }

    /// The lab's work directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The TFTP root (`<dir>/root`; laid out by the test).
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Writes the test's own boot files, which print markers on the serial console:
    /// `pxelinux.cfg/default` (`SAY` + `MENU TITLE`) and `boot.ipxe` (`echo`).
    pub fn write_marker_files(&self) {
        let root = self.root();
        fs::create_dir_all(root.join("pxelinux.cfg")).expect("create pxelinux.cfg");
        let cfg = format!(
            "SERIAL 0 115200\n\
             SAY {say}\n\
             UI menu.c32\n\
             PROMPT 0\n\
             TIMEOUT 600\n\
             MENU TITLE {title}\n\
             LABEL local\n  MENU LABEL Boot from local disk\n  LOCALBOOT 0\n",
            say = self.config_marker(),
            title = self.menu_marker(),
        );
        write_file(&root.join("pxelinux.cfg/default"), &cfg);
        let script = format!(
            "#!ipxe\n\
             echo {marker} platform=${{platform}} user-class=${{user-class}} ip=${{net0/ip}}\n\
             iseq ${{platform}} efi && goto end ||\n\
             chain tftp://${{next-server}}/pxelinux.0\n\
             :end\n",
            marker = self.script_marker(),
        );
        write_file(&root.join("boot.ipxe"), &script);
    }

    /// What pxelinux prints once it has read `pxelinux.cfg/default`.
    pub fn config_marker(&self) -> String {
        format!("PXEFW-CONFIG-{}", self.tag)
    }

    /// The menu title: seen once menu.c32 draws the menu.
    pub fn menu_marker(&self) -> String {
        format!("PXEFW-MENU-{}", self.tag)
    }

    /// What `boot.ipxe` echoes (followed by `platform=...`).
    pub fn script_marker(&self) -> String {
        format!("PXEFW-SCRIPT-{}", self.tag)
    }

    /// The capture so far, decoded by `tcpdump -n -r` with `filter` (one line per packet).
    /// Waits first until the capture file stops growing: on a busy machine tcpdump writes
    /// seconds behind the traffic.
    pub fn capture_text(&self, filter: &str) -> String {
        let pcap = self.dir().join("br0.pcap");
        let size = || fs::metadata(&pcap).map_or(0, |m| m.len());
        let until = Instant::now() + Duration::from_secs(10);
        let mut last = size();
        let mut quiet = 0;
        while quiet < 3 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
            let now = size();
            quiet = if now == last { quiet + 1 } else { 0 };
            last = now;
        }
        let out = Command::new("tcpdump")
            .arg("-n")
            .arg("-r")
            .arg(&pcap)
            .arg(filter)
            .output()
            .unwrap_or_else(|e| {
                panic!("run tcpdump -r (scripts/install-deps.sh installs it): {e}")
            });
        assert!(
            out.status.success(),
            "no readable capture: {}; the capture's log:\n{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            self.capture.as_ref().map(Proc::log).unwrap_or_default()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `argv` inside the namespace, stdout and stderr to `<dir>/<what>.log`.
    pub fn spawn(&self, what: &str, argv: &[&str]) -> Proc {
        let (program, args) = argv.split_first().expect("a program to start");
        let log = self.dir().join(format!("{what}.log"));
        Proc::start(what, netns::command(self.netns(), program).args(args), &log)
    }

    /// Starts dnsmasq inside the namespace on `br0` with `extra` config lines, always sending
    /// IPv6 router advertisements: without one, iPXE's "Configuring" waits ~13 s for IPv6.
    /// With no `dhcp-range` for IPv4 in `extra` it opens no DHCPv4 port (and `port=0`: no DNS).
    pub fn start_dnsmasq(&self, what: &str, extra: &str) -> Proc {
        let conf = self.dir().join(format!("{what}.conf"));
        let text = format!(
            "port=0\ninterface=br0\nbind-interfaces\n\
             enable-ra\ndhcp-range=::,constructor:br0,ra-only\n\
             dhcp-leasefile={leases}\npid-file={pid}\nuser=root\n\
             log-facility=-\n{extra}",
            leases = self.dir().join(format!("{what}.leases")).display(),
            pid = self.dir().join(format!("{what}.pid")).display(),
        );
        write_file(&conf, &text);
        let conf = conf.display().to_string();
        let mut p = self.spawn(what, &["dnsmasq", "-k", "-C", &conf]);
        std::thread::sleep(Duration::from_millis(300));
        p.assert_running();
        p
    }

    /// Waits until `server` itself listens on UDP `port` in the namespace (another process on
    /// the port, e.g. dnsmasq beside a proxy, does not count).
    pub fn wait_udp_port(&self, port: u16, server: &mut Proc, limit: Duration) {
        netns::wait_udp_port(self.netns(), port, server, limit);
    }

    /// Boots QEMU (TCG) inside the namespace on `tap0` and waits up to `limit` for `marker` in
    /// the serial log. QEMU is killed by pid before this returns, whatever happened.
    pub fn boot(&self, firmware: Firmware, mac: &str, marker: &str, limit: Duration) -> Boot {
        self.boot_with(firmware, mac, marker, limit, 256)
    }

    /// [`Lab::boot`] with `memory_mib` of RAM (an OS with its initramfs, or an ISO held in RAM
    /// by memdisk, needs more than the 256 MiB a boot loader does).
    pub fn boot_with(
        &self,
        firmware: Firmware,
        mac: &str,
        marker: &str,
        limit: Duration,
        memory_mib: u32,
    ) -> Boot {
        self.boot_until(firmware, mac, marker, limit, memory_mib, &|serial| {
            serial.contains(marker)
        })
    }

    /// [`Lab::boot_with`] with `extra` QEMU arguments (e.g. `-fw_cfg` knobs for OVMF).
    pub fn boot_with_args(
        &self,
        firmware: Firmware,
        mac: &str,
        marker: &str,
        limit: Duration,
        memory_mib: u32,
        extra: &[&str],
    ) -> Boot {
        self.boot_until_args(firmware, mac, marker, limit, memory_mib, extra, &|serial| {
            serial.contains(marker)
        })
    }

    /// [`Lab::boot_with`], done when `done` says so of the serial log so far (it may look at
    /// other things too, such as a server's log); `what` names the goal in failure messages.
    pub fn boot_until(
        &self,
        firmware: Firmware,
        mac: &str,
        what: &str,
        limit: Duration,
        memory_mib: u32,
        done: &dyn Fn(&str) -> bool,
    ) -> Boot {
        self.boot_until_args(firmware, mac, what, limit, memory_mib, &[], done)
    }

    /// [`Lab::boot_until`] with `extra` QEMU arguments.
    #[allow(
        clippy::too_many_arguments,
        reason = "the boot's knobs, each one plain"
    )]
    pub fn boot_until_args(
        &self,
        firmware: Firmware,
        mac: &str,
        what: &str,
        limit: Duration,
        memory_mib: u32,
        extra: &[&str],
        done: &dyn Fn(&str) -> bool,
    ) -> Boot {
        let serial = self.dir().join("serial.log");
        write_file(&serial, "");
        let machine = if firmware == Firmware::UefiEdk2SecureBoot {
            "q35,smm=on,accel=tcg"
        } else {
            "pc,accel=tcg"
        };
        let memory = memory_mib.to_string();
        let mut argv: Vec<String> = [
            "qemu-system-x86_64",
            "-machine",
            machine,
            "-m",
            &memory,
            "-smp",
            "1",
            "-nographic",
            "-monitor",
            "none",
            "-no-reboot",
            "-boot",
            "n",
            "-netdev",
            "tap,id=n0,ifname=tap0,script=no,downscript=no",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        argv.push("-serial".into());
        argv.push(format!("file:{}", serial.display()));
        match firmware {
            Firmware::BiosIpxeRom => {
                argv.push("-device".into());
                argv.push(format!("e1000,netdev=n0,mac={mac},bootindex=1"));
            }
            Firmware::UefiEdk2 | Firmware::UefiEdk2SecureBoot => {
                let (code, vars_src) = if firmware == Firmware::UefiEdk2SecureBoot {
                    argv.push("-global".into());
                    argv.push("driver=cfi.pflash01,property=secure,value=on".into());
                    (OVMF_CODE_MS, OVMF_VARS_MS)
                } else {
                    (OVMF_CODE, OVMF_VARS)
                };
                let vars = self.dir().join("OVMF_VARS_4M.fd");
                fs::copy(vars_src, &vars)
                    .unwrap_or_else(|e| panic!("copy {vars_src} (package ovmf): {e}"));
                argv.push("-drive".into());
                argv.push(format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={code}"
                ));
                argv.push("-drive".into());
                argv.push(format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    vars.display()
                ));
                argv.push("-device".into());
                argv.push(format!(
                    "virtio-net-pci,netdev=n0,mac={mac},romfile=,bootindex=1"
                ));
            }
        }
        argv.extend(extra.iter().map(|a| (*a).to_owned()));
        let argv_ref: Vec<&str> = argv.iter().map(String::as_str).collect();
        let t0 = Instant::now();
        let mut qemu = self.spawn("qemu", &argv_ref);
        let mut milestones = Vec::new();
        let (ok, why) = loop {
            let elapsed = t0.elapsed();
            let text = read_serial(&serial);
            for (needle, label) in MILESTONES {
                if !milestones.iter().any(|(_, l)| l == label) && text.contains(needle) {
                    milestones.push((elapsed, *label));
                }
            }
            if done(&text) {
                break (true, String::new());
            }
            if let Some(status) = qemu.exited() {
                break (
                    false,
                    format!("QEMU exited ({status}): {}", qemu.log().trim()),
                );
            }
            if elapsed > limit {
                break (false, format!("no `{what}` within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let elapsed = t0.elapsed();
        qemu.stop(Duration::from_millis(500));
        Boot {
            elapsed,
            ok,
            why,
            serial: read_serial(&serial),
            milestones,
        }
    }
}

impl Drop for Lab {
    /// Stops the capture; when the test is failing (or `PXE_FW_KEEP` is set), keeps the whole lab
    /// directory (logs, serial log, capture, root) as `/tmp/pxefw-failed-<tag>` (or
    /// `/tmp/pxefw-kept-<tag>`) for a post-mortem.
    fn drop(&mut self) {
        if let Some(mut capture) = self.capture.take() {
            capture.stop(Duration::from_secs(2));
        }
        let asked = std::env::var_os("PXE_FW_KEEP").is_some();
        if std::thread::panicking() || asked {
            let keep = PathBuf::from(format!(
                "/tmp/pxefw-{}-{}",
                if asked { "kept" } else { "failed" },
                self.tag
            ));
            let _ = fs::remove_dir_all(&keep);
            let copied = Command::new("cp")
                .arg("-a")
                .arg(self.dir())
                .arg(&keep)
                .status()
                .is_ok_and(|s| s.success());
            if copied {
                eprintln!(
                    "{}: logs, serial log and capture kept in {}",
                    self.tag,
                    keep.display()
                );
            }
        }
    }
}

/// Deletes namespaces a killed earlier run of the same test left behind.
fn remove_stale_namespaces(tag: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    let prefix = format!("pxefw-{tag}-");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name.strip_prefix(&prefix) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid).exists();
        if !alive {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// The serial log as text with ANSI escape sequences (the menu's drawing) removed.
fn read_serial(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    strip_ansi(&String::from_utf8_lossy(&bytes))
}

/// Removes `ESC [ ... final-byte` sequences and other escapes, keeping plain text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// The last `n` lines of `text`, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
