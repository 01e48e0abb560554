//! Serves a directory over TFTP from a smoltcp stack on a Linux TAP device:
//! the [`pxe_smoltcp`] driver as an embedded device would run it, with std
//! only for the TAP device, the clock and the files. Needs root (or CAP_NET_ADMIN).
//!
//! ```text
//! ip tuntap add dev tap0 mode tap
//! ip addr add 10.99.0.1/24 dev tap0
//! ip link set tap0 up
//! cargo run -p pxe-smoltcp --example smoltcp_tap -- tap0 10.99.0.2/24 /srv/tftp
//! curl -o pxelinux.0 tftp://10.99.0.2/pxelinux.0
//! ```
//!
//! `--max-transfers N` exits after N finished transfers (tests use it as a safety net). Prints
//! `listening on IP:69` once the interface is up, then one line per driver event.

fn main() {
    if let Err(e) = tap::main() {
        eprintln!("smoltcp_tap: {e}");
        std::process::exit(1);
    }
}

mod tap {
    use std::fs::File;
    use std::io::{ErrorKind, Write};
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::AsRawFd;
    use std::path::PathBuf;

    use pxe_smoltcp::{Driver, DriverConfig, DriverEvent, FileSource};
    use pxe_tftp::ErrorCode;
    use smoltcp::iface::{Config, Interface, SocketSet};
    use smoltcp::phy::{Medium, TunTapInterface, wait};
    use smoltcp::time::{Duration, Instant};
    use smoltcp::wire::{EthernetAddress, IpCidr};

    /// Files under a directory, opened with std (the name is already sanitized: relative, no
    /// `..`; symlinks are followed, which is fine for an example).
    struct DirFiles {
        root: PathBuf,
    }

    impl FileSource for DirFiles {
        type File = File;

        fn open(&mut self, name: &str) -> Result<File, ErrorCode> {
            let file = File::open(self.root.join(name)).map_err(|e| match e.kind() {
                ErrorKind::NotFound => ErrorCode::FileNotFound,
                _ => ErrorCode::AccessViolation,
            })?;
            match file.metadata() {
                Ok(m) if m.is_file() => Ok(file),
                _ => Err(ErrorCode::FileNotFound),
            }
        }

        fn size(&self, file: &File) -> Option<u64> {
            file.metadata().ok().map(|m| m.len())
        }

        fn read(
            &mut self,
            file: &mut File,
            offset: u64,
            buf: &mut [u8],
        ) -> Result<usize, ErrorCode> {
            let mut done = 0;
            while done < buf.len() {
                match file.read_at(&mut buf[done..], offset + done as u64) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return Err(ErrorCode::NotDefined),
                }
            }
            Ok(done)
        }
    }

    pub fn main() -> Result<(), String> {
        let mut args = std::env::args().skip(1);
        let usage = "usage: smoltcp_tap TAP IP/PREFIX DIR [--max-transfers N]";
        let tap = args.next().ok_or(usage)?;
        let cidr: IpCidr = args
            .next()
            .ok_or(usage)?
            .parse()
            .map_err(|_| "IP/PREFIX: expected e.g. 10.99.0.2/24")?;
        let root = PathBuf::from(args.next().ok_or(usage)?);
        let mut max_transfers = u64::MAX;
        while let Some(flag) = args.next() {
            match (flag.as_str(), args.next()) {
                ("--max-transfers", Some(n)) => {
                    max_transfers = n.parse().map_err(|_| "--max-transfers: a number")?;
                }
                _ => return Err(usage.into()),
            }
        }

        let mut device = TunTapInterface::new(&tap, Medium::Ethernet)
            .map_err(|e| format!("opening tap {tap}: {e}"))?;
        let fd = device.as_raw_fd();
        let mac = EthernetAddress([0x02, 0x70, 0x78, 0x65, 0x00, 0x01]);
        let mut iface = Interface::new(Config::new(mac.into()), &mut device, Instant::now());
        iface.update_ip_addrs(|a| {
            let _ = a.push(cidr);
        });
        let mut sockets = SocketSet::new(vec![]);
        let mut driver = Driver::new(DriverConfig::default(), DirFiles { root }, &mut sockets)
            .map_err(|e| format!("binding sockets: {e:?}"))?;
        println!("listening on {}:69", cidr.address());
        let _ = std::io::stdout().flush();

        let mut finished = 0;
        loop {
            let now = Instant::now();
            let wake = driver.run(now, &mut iface, &mut device, &mut sockets);
            while let Some(ev) = driver.poll_event() {
                println!("{ev:?}");
                if matches!(ev, DriverEvent::Finished { .. }) {
                    finished += 1;
                }
            }
            let _ = std::io::stdout().flush();
            if finished >= max_transfers {
                return Ok(());
            }
            let delay = wake.map(|w| if w > now { w - now } else { Duration::ZERO });
            wait(fd, delay).map_err(|e| format!("waiting on tap: {e}"))?;
        }
    }
}
