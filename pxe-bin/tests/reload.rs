//! SIGHUP (`systemctl reload`) under load: 100 TFTP downloads run while a reload changes a
//! DHCP boot rule; the next answer follows the new rule, no transfer fails, a broken config is
//! refused with the reason while the running one stays, and systemd hears READY, RELOADING,
//! READY again and STOPPING over `NOTIFY_SOCKET`.

mod support;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::files::{random_file, write_file};
use support::netns::{self, Link, SERVER_IF, VethPair};
use support::process::Proc;
use support::tools::PXE;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 76, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 76, 0, 2);
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x76, 0x00, 0x02];
const TRANSFERS: usize = 100;
const FILE_LEN: usize = 1 << 20;

/// The server's config. The 100 downloads stand for 100 machines but come from one address,
/// so `[tftp] max_handshakes_per_source` (default 16: a flood's share, whose rules
/// pxe-tftp/src/server.rs tests) is raised to hold all of them at once. With the default, 84
/// wait for their retransmissions, and on a loaded machine a client answering its DATA 1 more
/// than `eviction_age` (1 s) late gives way to the next request from its address and loses
/// its transfer: right for a flood, not what this test is about.
fn config(boot_file: &str, menu: &Path) -> String {
    format!(
        "menu = \"{}\"\n\n[admin]\nlisten = \"127.0.0.1:9169\"\n\n[tftp]\nuser = \"nobody\"\n\
         max_handshakes_per_source = {TRANSFERS}\n\n[dhcp]\nmode = \"proxy\"\ninterface = \"{SERVER_IF}\"\n\n\
         [[dhcp.rules]]\nname = \"lab\"\nmatch = {{ firmware = [\"pxe\"] }}\nboot_file = \"{boot_file}\"\n",
        menu.display()
    )
}

/// A one-entry menu source titled `title`.
fn menu(title: &str) -> String {
    format!(
        "title = \"{title}\"\ntimeout = 1\ndefault = \"os\"\n\n[[entry]]\nid = \"os\"\nname = \"OS\"\n\
         kind = \"linux\"\nkernel = \"vmlinuz\"\ninitrd = [\"initrd.gz\"]\n"
    )
}

/// A PXE ROM's boot-server REQUEST (PXE 2.1 §2.2.5) from a configured client to port 4011.
fn pxe_request(xid: u32) -> Vec<u8> {
    let mut p = vec![0u8; 236];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&xid.to_be_bytes());
    p[12..16].copy_from_slice(&CLIENT.octets());
    p[28..34].copy_from_slice(&MAC);
    p.extend_from_slice(&[99, 130, 83, 99]);
    let mut opt = |code: u8, val: &[u8]| {
        p.push(code);
        p.push(u8::try_from(val.len()).expect("short"));
        p.extend_from_slice(val);
    };
    opt(53, &[3]);
    opt(57, &1464u16.to_be_bytes());
    opt(
        55,
        &[
            1, 3, 6, 43, 60, 66, 67, 93, 97, 128, 129, 130, 131, 132, 133, 134, 135,
        ],
    );
    opt(94, &[1, 2, 1]);
    opt(93, &7u16.to_be_bytes());
    let mut guid = [0u8; 17];
    guid[1..7].copy_from_slice(&MAC);
    opt(97, &guid);
    opt(60, b"PXEClient:Arch:00007:UNDI:003000");
    p.push(255);
    if p.len() < 300 {
        p.resize(300, 0);
    }
    p
}

/// The boot file (BOOTP `file` field) of the ACK to a 4011 request.
fn boot_file(ns: &str, xid: u32) -> String {
    netns::on_thread_in(ns, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(CLIENT, 68)).expect("bind 68");
        s.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        s.send_to(&pxe_request(xid), SocketAddrV4::new(SERVER, 4011))
            .expect("send");
        let mut buf = [0u8; 1500];
        let Ok((n, _)) = s.recv_from(&mut buf) else {
            return "(no ACK from port 4011)".to_owned();
        };
        assert!(n > 236, "short reply");
        let file = &buf[108..236];
        let end = file.iter().position(|&b| b == 0).unwrap_or(file.len());
        String::from_utf8_lossy(&file[..end]).into_owned()
    })
}

/// A lock-step RFC 1350 download (512-byte blocks); returns the bytes. Like tftp-hpa and PXE
/// ROMs it sends the RRQ again (every second, five times) until the first DATA arrives (a
/// loaded machine may answer late; a repeat is served by the transfer it repeats).
fn download(name: &str) -> Result<Vec<u8>, String> {
    let s = UdpSocket::bind(SocketAddrV4::new(CLIENT, 0)).map_err(|e| e.to_string())?;
    let rrq = support::raw_tftp::rrq(name, &[]);
    let mut out = Vec::new();
    let mut buf = [0u8; 600];
    let mut expect: u16 = 1;
    let mut first = None;
    for _ in 0..5 {
        s.send_to(&rrq, SocketAddrV4::new(SERVER, 69))
            .map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(1)))
            .map_err(|e| e.to_string())?;
        if let Ok(got) = s.recv_from(&mut buf) {
            first = Some(got);
            break;
        }
    }
    let mut next = Some(first.ok_or_else(|| "block 1: no answer to 5 RRQs".to_owned())?);
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    loop {
        let (n, from) = match next.take() {
            Some(got) => got,
            None => s
                .recv_from(&mut buf)
                .map_err(|e| format!("block {expect}: {e}"))?,
        };
        match buf[..2] {
            [0, 3] if n >= 4 => {
                let block = u16::from_be_bytes([buf[2], buf[3]]);
                if block == expect {
                    out.extend_from_slice(&buf[4..n]);
                    expect = expect.wrapping_add(1);
                }
                s.send_to(&[0, 4, buf[2], buf[3]], from)
                    .map_err(|e| e.to_string())?;
                if block == expect.wrapping_sub(1) && n < 516 {
                    return Ok(out);
                }
            }
            _ => return Err(format!("error packet {:?}", &buf[..n])),
        }
    }
}

#[test]
fn sighup_changes_a_rule_under_100_transfers_and_none_fails() {
    let net = VethPair::with(
        "reload",
        Link {
            server: &["10.76.0.1/24"],
            client: &["10.76.0.2/24"],
            client_mac: Some("52:54:00:76:00:02"),
        },
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    let sha = random_file(&root.join("big.bin"), FILE_LEN, 76);
    // The server (as nobody) re-renders the menu into the root on reload.
    nix::unistd::chown(&root, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");
    let menu_src = dir.path().join("menu.toml");
    write_file(&menu_src, &menu("First menu"));
    let conf = dir.path().join("pxe.toml");
    write_file(&conf, &config("first.efi", &menu_src));
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    // The server drops to nobody before it says READY; let it reach the socket.
    std::fs::set_permissions(&notify_path, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let log = dir.path().join("serve.log");
    let mut server = Proc::start(
        "pxe serve",
        netns::command(&net.server, PXE)
            .args(["serve", "--config"])
            .arg(&conf)
            .arg("--root")
            .arg(&root)
            .args(["--listen", "10.76.0.1:69"])
            .env("RUST_LOG", "info")
            .env("NOTIFY_SOCKET", &notify_path),
        &log,
    );
    let mut msg = [0u8; 512];
    let mut next_notify = || {
        let n = notify.recv(&mut msg).expect("a notification");
        String::from_utf8_lossy(&msg[..n]).into_owned()
    };
    let ready = next_notify();
    assert!(
        ready.starts_with("READY=1\nSTATUS=serving TFTP on 10.76.0.1:69"),
        "{ready}"
    );
    server.wait_log("DHCP listening", Duration::from_secs(10));
    let first = boot_file(&net.client, 1);
    assert_eq!(first, "first.efi", "{}", server.log());

    let done = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..TRANSFERS)
        .map(|_| {
            let ns = net.client.name().to_owned();
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let r = netns::on_thread_in(&ns, || download("big.bin"));
                done.fetch_add(1, Ordering::SeqCst);
                r
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // A broken file is refused with the reason; the running rule stays.
    write_file(&conf, "[dhcp\nmode = ");
    let pid = Pid::from_raw(i32::try_from(server.pid()).expect("pid"));
    kill(pid, Signal::SIGHUP).expect("SIGHUP");
    assert!(next_notify().starts_with("RELOADING=1\n"));
    assert!(next_notify().starts_with("READY=1\n"));
    server.wait_log("configuration not reloaded", Duration::from_secs(5));
    assert_eq!(boot_file(&net.client, 2), "first.efi");

    // The fixed file changes the rule for the next client.
    write_file(&conf, &config("second.efi", &menu_src));
    write_file(&menu_src, &menu("Second menu"));
    kill(pid, Signal::SIGHUP).expect("SIGHUP");
    assert!(next_notify().starts_with("RELOADING=1\n"));
    assert!(next_notify().starts_with("READY=1\n"));
    server.wait_log("applied: dhcp.rules", Duration::from_secs(5));
    server.wait_log("DHCP configuration reloaded", Duration::from_secs(5));
    let finished_at_reload = done.load(Ordering::SeqCst);
    assert_eq!(boot_file(&net.client, 3), "second.efi");
    server.wait_log("menu re-rendered", Duration::from_secs(5));
    let rendered =
        std::fs::read_to_string(root.join("pxelinux.cfg/default")).expect("the rendered menu");
    assert!(rendered.contains("Second menu"), "{rendered}");
    assert!(
        finished_at_reload < TRANSFERS,
        "the reload came after every transfer ended: make them longer"
    );

    let t0 = Instant::now();
    for (i, w) in workers.into_iter().enumerate() {
        let data = w
            .join()
            .expect("worker")
            .unwrap_or_else(|e| panic!("transfer {i} failed: {e}; log:\n{}", server.log()));
        assert_eq!(data.len(), FILE_LEN, "transfer {i}");
        assert_eq!(support::files::sha256_bytes(&data), sha, "transfer {i}");
    }
    eprintln!(
        "{TRANSFERS} transfers, {finished_at_reload} finished at the reload; the rest took {:?} more",
        t0.elapsed()
    );
    // The metrics count the run: 3 boot answers by rule `lab`, 1 reload, every transfer.
    let m = netns::on_thread_in(net.server.name(), || {
        support::metrics::scrape("127.0.0.1:9169".parse().expect("addr"))
    });
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k} in {m:#?}"))
    };
    assert_eq!(get(r#"pxe_dhcp_decisions_total{rule="lab"}"#), 3.0);
    assert_eq!(get(r#"pxe_reloads_total{}"#), 1.0);
    assert_eq!(
        get(r#"pxe_transfers_total{protocol="tftp",result="completed"}"#),
        TRANSFERS as f64
    );
    assert_eq!(
        get(r#"pxe_transfer_bytes_total{protocol="tftp"}"#),
        (TRANSFERS * FILE_LEN) as f64
    );
    let log = server.log();
    assert!(
        !log.contains("handshake budget full") && !log.contains("max_transfers reached"),
        "a request was dropped or a handshake evicted:\n{log}"
    );
    server.assert_running();
    server.stop_clean(Duration::from_secs(10));
    assert!(next_notify().starts_with("STOPPING=1"));
}
