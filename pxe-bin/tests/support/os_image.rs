//! A real operating system to boot in the firmware tests, built from Debian packages once per
//! test run and shared by every boot.
//!
//! - The kernel is `vmlinuz` from the package `linux-image-amd64` depends on (the signed build,
//!   `linux-signed-amd64`), unpacked from its `.deb` with `dpkg-deb`; nothing is installed into
//!   the host's `/boot`. `scripts/install-deps.sh` downloads that `.deb` into [`DEBS_DIR`].
//! - The initramfs (cpio `newc`, gzip) holds `busybox` from `busybox-static`, the NIC drivers
//!   the QEMU NICs need (`e1000`, and `virtio_net` with its dependencies: all modules in
//!   Debian's kernel, found in the same package, loaded in dependency order) and an `/init` that
//!   prints [`USERSPACE_MARKER`] on the serial console, asks for an address with `udhcpc`,
//!   prints [`DHCP_MARKER`] with the address and the server that gave it, and powers off.
//! - An El Torito ISO (`xorriso` + `isolinux`) holding the same kernel and initramfs, for the
//!   memdisk and `sanboot` paths.
//!
//! The unpacked kernel tree is kept under `CARGO_TARGET_TMPDIR` between runs (keyed by the
//! `.deb`'s name); the initramfs and the ISO are rebuilt once per test process.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use super::tools::checked;

/// Where `scripts/install-deps.sh` downloads the kernel package (overridden by `PXE_OS_DEBS`).
pub const DEBS_DIR: &str = "/opt/pxe-deps/os";
/// Printed by `/init` as soon as userspace runs: `PXEOS-USERSPACE cmdline=<kernel cmdline>`.
pub const USERSPACE_MARKER: &str = "PXEOS-USERSPACE";
/// Printed by `/init` once `udhcpc` got a lease: `PXEOS-DHCP-OK ip=A server=S mac=M`.
pub const DHCP_MARKER: &str = "PXEOS-DHCP-OK";
/// Printed by `/init` when `udhcpc` got no lease.
pub const DHCP_FAILED: &str = "PXEOS-DHCP-FAILED";
/// The kernel command line every path passes (plus `pxeos.path=<path>`): console on the first
/// serial port, reboot (QEMU `-no-reboot`: exit) at once on a panic, and no check that the
/// timer interrupt arrives within a few ticks (`no_timer_check`, arch/x86/kernel/apic/io_apic.c
/// `timer_irq_works`): TCG on a loaded machine misses it and the kernel panics with "IO-APIC +
/// timer doesn't work" (seen here with six boots on two cores).
pub const CMDLINE: &str = "console=ttyS0 panic=-1 no_timer_check";

/// The drivers of the NICs the labs use, as module names; their dependencies are added.
const NIC_MODULES: &[&str] = &["e1000", "virtio_pci", "virtio_net"];

/// The built system.
#[derive(Debug)]
pub struct OsImage {
    /// The kernel release, e.g. `6.1.0-57-amd64`.
    pub release: String,
    /// The signed kernel (`vmlinuz-<release>` from the package).
    pub kernel: PathBuf,
    /// The initramfs (gzip-compressed cpio `newc`).
    pub initrd: PathBuf,
    /// An El Torito (isolinux) ISO booting the same kernel and initramfs with
    /// `pxeos.path=iso`.
    pub iso: PathBuf,
    /// The modules in the initramfs, in load order.
    pub modules: Vec<String>,
}

/// The shared image, built on first use (one build per test process, whatever thread asks).
pub fn os_image() -> &'static OsImage {
    static IMAGE: OnceLock<OsImage> = OnceLock::new();
    IMAGE.get_or_init(build)
}

fn build() -> OsImage {
    let t0 = Instant::now();
    let debs =
        std::env::var_os("PXE_OS_DEBS").map_or_else(|| PathBuf::from(DEBS_DIR), PathBuf::from);
    let deb = kernel_deb(&debs);
    let name = deb
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a .deb name")
        .trim_end_matches(".deb")
        .to_owned();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pxe-os");
    let tree = cache.join(&name);
    if !tree.join("done").is_file() {
        unpack_kernel(&deb, &tree);
    }
    let release = kernel_release(&tree);
    let kernel = tree.join(format!("boot/vmlinuz-{release}"));
    assert!(
        kernel.is_file(),
        "{} missing from {}",
        kernel.display(),
        deb.display()
    );
    let module_dir = tree.join(format!("lib/modules/{release}/kernel"));
    let modules = module_order(&module_dir, NIC_MODULES);

    let out = cache.join(format!("run-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("create the image directory");
    remove_other_runs(&cache);
    let initrd = out.join("initrd.gz");
    build_initrd(&modules, &initrd);
    let iso = out.join("os.iso");
    build_iso(&kernel, &initrd, &out.join("iso"), &iso);
    let image = OsImage {
        release,
        kernel,
        initrd,
        iso,
        modules: modules.iter().map(|(n, _)| n.clone()).collect(),
    };
    eprintln!(
        "os image: kernel {} ({} bytes), initrd {} bytes with modules {:?}, ISO {} bytes; \
         built in {:.1} s",
        image.release,
        size(&image.kernel),
        size(&image.initrd),
        image.modules,
        size(&image.iso),
        t0.elapsed().as_secs_f64()
    );
    image
}

fn size(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// Removes the image directories of earlier test processes (they are rebuilt per run).
fn remove_other_runs(cache: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("run-")) else {
            continue;
        };
        if pid != std::process::id().to_string() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The kernel package `linux-image-amd64` depends on, as downloaded into `dir`.
fn kernel_deb(dir: &Path) -> PathBuf {
    let hint = format!(
        "run `sudo bash scripts/install-deps.sh` (it downloads the package linux-image-amd64 \
         depends on into {DEBS_DIR}), or set PXE_OS_DEBS to a directory holding \
         linux-image-<release>-amd64_*.deb"
    );
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("no kernel package directory {}: {e}; {hint}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("linux-image-") && n.ends_with("_amd64.deb"))
        })
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no linux-image-*_amd64.deb in {}; {hint}", dir.display()))
}

/// Unpacks the kernel and the network and virtio drivers of `deb` into `tree` (then marks it
/// done, so a later run reuses it).
fn unpack_kernel(deb: &Path, tree: &Path) {
    let _ = fs::remove_dir_all(tree);
    fs::create_dir_all(tree).expect("create the kernel tree");
    let script = format!(
        "set -o pipefail; dpkg-deb --fsys-tarfile '{deb}' | tar -x -C '{tree}' --wildcards \
         './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/net/*' \
         './lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/net/core/*'",
        deb = deb.display(),
        tree = tree.display()
    );
    checked(Command::new("bash").args(["-c", &script]));
    fs::write(tree.join("done"), "").expect("mark the kernel tree done");
}

/// The release of the single kernel in `tree/boot`.
fn kernel_release(tree: &Path) -> String {
    fs::read_dir(tree.join("boot"))
        .expect("the unpacked boot directory")
        .flatten()
        .find_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("vmlinuz-"))
                .map(str::to_owned)
        })
        .expect("a vmlinuz-<release> in the package")
}

/// Every `.ko` under `dir`, by module name.
fn index_modules(dir: &Path, index: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            index_modules(&path, index);
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && let Some(module) = name.strip_suffix(".ko")
        {
            index.insert(module.replace('-', "_"), path.clone());
        }
    }
}

/// The `depends=` list of a module file: its `.modinfo` section is NUL-separated `key=value`
/// strings (what `modinfo -F depends` prints).
fn module_depends(path: &Path) -> Vec<String> {
    let data = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let key = b"\0depends=";
    let Some(at) = data.windows(key.len()).position(|w| w == key) else {
        return Vec::new();
    };
    let rest = &data[at + key.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"))
        .collect()
}

/// `roots` and everything they depend on, each after its dependencies.
fn module_order(dir: &Path, roots: &[&str]) -> Vec<(String, PathBuf)> {
    let mut index = BTreeMap::new();
    index_modules(dir, &mut index);
    let mut order: Vec<(String, PathBuf)> = Vec::new();
    fn visit(
        name: &str,
        index: &BTreeMap<String, PathBuf>,
        order: &mut Vec<(String, PathBuf)>,
        depth: usize,
    ) {
        assert!(depth < 32, "module dependency cycle at {name}");
        if order.iter().any(|(n, _)| n == name) {
            return;
        }
        let path = index
            .get(name)
            .unwrap_or_else(|| panic!("module {name} is not in the kernel package"));
        for dep in module_depends(path) {
            visit(&dep, index, order, depth + 1);
        }
        order.push((name.to_owned(), path.clone()));
    }
    for root in roots {
        visit(root, &index, &mut order, 0);
    }
    order
}

/// `/init`: markers on the console, the NIC drivers, a lease from DHCP, power off.
fn init_script(modules: &[(String, PathBuf)]) -> String {
    let names: Vec<&str> = modules.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "{USERSPACE_MARKER} cmdline=$(cat /proc/cmdline)"
for m in {modules}; do
  insmod /lib/modules/$m.ko || echo "PXEOS-INSMOD-FAILED $m"
done
ifname=
for i in 1 2 3 4 5 6 7 8 9 10; do
  for n in /sys/class/net/*; do
    [ "${{n##*/}}" = lo ] || ifname=${{n##*/}}
  done
  [ -n "$ifname" ] && break
  sleep 1
done
ip link set lo up
ip link set "$ifname" up
if udhcpc -i "$ifname" -f -q -n -t 10 -T 2 -V pxeos -s /udhcpc.script; then
  . /tmp/lease
  echo "{DHCP_MARKER} ip=$ip server=$serverid mac=$(cat /sys/class/net/$ifname/address)"
else
  echo "{DHCP_FAILED} on $ifname"
fi
poweroff -f
"#,
        modules = names.join(" ")
    )
}

/// udhcpc's event script: on a lease, remembers the address and the server that gave it.
const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
  bound|renew)
    echo "ip=$ip" > /tmp/lease
    echo "serverid=$serverid" >> /tmp/lease
    ip addr add "$ip/${mask:-16}" dev "$interface"
    ;;
esac
exit 0
"#;

/// Builds the initramfs: a cpio `newc` archive (written here: directories, files, and the
/// `/dev/console` node the kernel opens for `/init` before anything is mounted), gzip-compressed.
fn build_initrd(modules: &[(String, PathBuf)], out: &Path) {
    let busybox = Path::new("/bin/busybox");
    super::tools::require_file("/bin/busybox", "busybox-static");
    let mut cpio = Newc::default();
    for dir in ["bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"] {
        cpio.dir(dir);
    }
    cpio.char_device("dev/console", 5, 1);
    cpio.file(
        "bin/busybox",
        0o755,
        &fs::read(busybox).expect("read /bin/busybox"),
    );
    cpio.file("init", 0o755, init_script(modules).as_bytes());
    cpio.file("udhcpc.script", 0o755, UDHCPC_SCRIPT.as_bytes());
    for (name, path) in modules {
        let data = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        cpio.file(&format!("lib/modules/{name}.ko"), 0o644, &data);
    }
    let raw = out.with_extension("cpio");
    fs::write(&raw, cpio.finish()).expect("write the cpio archive");
    let gz = checked(Command::new("gzip").args(["-6", "-n", "-c"]).arg(&raw)).stdout;
    fs::write(out, gz).expect("write the initramfs");
    let _ = fs::remove_file(raw);
}

/// A cpio archive in the `newc` format (the kernel's `Documentation/driver-api/early-userspace/
/// buffer-format.rst`): a 110-byte ASCII header, the NUL-terminated name, data, each padded to
/// 4 bytes; ends with `TRAILER!!!`.
#[derive(Default)]
struct Newc {
    out: Vec<u8>,
    ino: u32,
}

impl Newc {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() + 1,
            0
        );
        self.out.extend_from_slice(header.as_bytes());
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040_755, (0, 0), &[]);
    }

    fn file(&mut self, name: &str, perm: u32, data: &[u8]) {
        self.entry(name, 0o100_000 | perm, (0, 0), data);
    }

    fn char_device(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, 0o020_600, (major, minor), &[]);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        self.out
    }
}

/// An isolinux ISO holding `kernel` and `initrd`, booting them with `pxeos.path=iso`.
fn build_iso(kernel: &Path, initrd: &Path, staging: &Path, iso: &Path) {
    super::tools::require_file("/usr/lib/ISOLINUX/isolinux.bin", "isolinux");
    super::tools::require("xorriso", "xorriso");
    let boot = staging.join("isolinux");
    fs::create_dir_all(&boot).expect("create the ISO staging directory");
    fs::copy("/usr/lib/ISOLINUX/isolinux.bin", boot.join("isolinux.bin"))
        .expect("copy isolinux.bin");
    fs::copy(
        "/usr/lib/syslinux/modules/bios/ldlinux.c32",
        boot.join("ldlinux.c32"),
    )
    .expect("copy ldlinux.c32 (package syslinux-common)");
    fs::copy(kernel, staging.join("vmlinuz")).expect("copy the kernel");
    fs::copy(initrd, staging.join("initrd.gz")).expect("copy the initramfs");
    fs::write(
        boot.join("isolinux.cfg"),
        format!(
            "SERIAL 0 115200\nSAY PXEOS-ISOLINUX\nDEFAULT os\nPROMPT 0\nTIMEOUT 1\n\
             LABEL os\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz {CMDLINE} pxeos.path=iso\n"
        ),
    )
    .expect("write isolinux.cfg");
    checked(
        Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-o"])
            .arg(iso)
            .args([
                "-b",
                "isolinux/isolinux.bin",
                "-c",
                "isolinux/boot.cat",
                "-no-emul-boot",
                "-boot-load-size",
                "4",
                "-boot-info-table",
                "-V",
                "PXEOS",
            ])
            .arg(staging),
    );
    let _ = fs::remove_dir_all(staging);
}
