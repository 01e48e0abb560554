//! Two lease servers sharing one PostgreSQL lease store: a real PostgreSQL (Debian's
//! `postgresql`, `initdb` on a temporary directory, run as user `postgres`, listening only on a
//! unix socket in that directory, stopped by pid also when the test fails), two
//! `pxe serve --dhcp server` with one pool in two namespaces on one bridged segment, and two
//! load clients (relays, `giaddr`, one UDP socket carrying many clients each) that send every
//! message to both servers, as a broadcast would reach both. One server is killed with
//! SIGKILL mid-load; the other must finish every client. Audit: no address ACKed to two
//! clients, every ACK in the database bound to its client. Needs root, `ip` and `postgresql`.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pxe_dhcp::wire::{MessageType, Repr};
use pxe_proto::MacAddr;
use support::dhcp;
use support::netns::{self, Host, Netns, Segment};
use support::process::Proc;
use support::tools::require_root;

const SERVER_A: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
const SERVER_B: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 3);
const RELAY_A: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
const RELAY_B: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 4);
/// Clients per load generator; both together fit the pool (10.98.0.10–10.98.1.250).
const CLIENTS: u16 = 200;

/// The newest PostgreSQL server binaries installed (`/usr/lib/postgresql/N/bin`).
fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed: this test needs the Debian package `postgresql` \
             (run `sudo bash scripts/install-deps.sh`)"
        )
    })
}

/// The `postgres` user's uid and gid.
fn postgres_ids() -> (u32, u32) {
    let u = nix::unistd::User::from_name("postgres")
        .expect("look up user postgres")
        .expect("user postgres exists (package postgresql)");
    (u.uid.as_raw(), u.gid.as_raw())
}

/// A PostgreSQL cluster in `dir`, listening on a unix socket in `dir` only.
struct Postgres {
    proc: Proc,
    socket_dir: PathBuf,
}

impl Postgres {
    fn start(dir: &Path) -> Postgres {
        let bin = pg_bin();
        let (uid, gid) = postgres_ids();
        let data = dir.join("data");
        nix::unistd::chown(dir, Some(uid.into()), Some(gid.into())).expect("chown");
        let out = Command::new(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .uid(uid)
            .gid(gid)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The server itself (not pg_ctl, which would leave it running unowned): the guard
        // stops it by pid, also when the test fails. `-h ''`: no TCP at all.
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args(["-h", "", "-k"])
            .arg(dir)
            .uid(uid)
            .gid(gid);
        let proc = Proc::start("postgres", &mut cmd, &dir.join("postgres.log"));
        let sock = dir.join(".s.PGSQL.5432");
        let t0 = Instant::now();
        while !sock.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "PostgreSQL did not start:\n{}",
                proc.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Postgres {
            proc,
            socket_dir: dir.to_owned(),
        }
    }

    fn url(&self) -> String {
        format!(
            "postgresql:///postgres?host={}&user=postgres",
            self.socket_dir.display()
        )
    }

    /// Runs `sql` with psql; its output, unaligned, one row a line.
    fn query(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .arg("-h")
            .arg(&self.socket_dir)
            .args(["-U", "postgres", "-d", "postgres", "-Atc", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.proc.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn serve(ns: &Netns, dir: &Path, addr: Ipv4Addr, url: &str) -> Proc {
    dhcp::lease_server(ns.name(), dir, addr, "eth0", "10.98.0.10,10.98.1.250", url)
}

fn mac(side: u8, i: u16) -> MacAddr {
    let [a, b] = i.to_be_bytes();
    MacAddr([0x52, 0x54, 0, side, a, b])
}

/// One client's progress: the offer taken (address, server), when last sent, REQUESTs sent.
type Slot = (Option<(Ipv4Addr, Ipv4Addr)>, Option<Instant>, u32);

/// Runs DORA for `CLIENTS` clients through relay address `relay`, each message to both
/// servers; returns every ACK seen.
fn clients(
    relay: Ipv4Addr,
    side: u8,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
) -> Vec<(MacAddr, Ipv4Addr)> {
    let sock = UdpSocket::bind(SocketAddrV4::new(relay, 67)).expect("bind the relay port");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut state: HashMap<MacAddr, Slot> = HashMap::new();
    let mut acks = Vec::new();
    let mut next = 0u16;
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) && (next < CLIENTS || !state.is_empty()) {
        while next < CLIENTS && state.len() < 16 {
            state.insert(mac(side, next), (None, None, 0));
            next += 1;
        }
        for (m, (offer, sent, tries)) in &mut state {
            if sent.is_none_or(|t| t.elapsed() > Duration::from_millis(300)) {
                // A REQUEST unanswered three times (its server died, or withheld the ACK and
                // now ignores it): start over, as RFC 2131 §4.4.1 clients do.
                if *tries >= 3 {
                    *offer = None;
                    *tries = 0;
                }
                let xid = u32::from_be_bytes([0x98, side, m.0[4], m.0[5]]);
                let msg = match offer {
                    None => dhcp::relayed(relay, MessageType::Discover, *m, xid, None),
                    Some(o) => {
                        *tries += 1;
                        dhcp::relayed(relay, MessageType::Request, *m, xid, Some(*o))
                    }
                };
                for s in [SERVER_A, SERVER_B] {
                    let _ = sock.send_to(&msg, SocketAddrV4::new(s, 67));
                }
                *sent = Some(Instant::now());
            }
        }
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(r) = Repr::parse_bytes(&buf[..n]) else {
                continue;
            };
            let std::net::SocketAddr::V4(from) = from else {
                continue;
            };
            let m = MacAddr([
                r.chaddr[0],
                r.chaddr[1],
                r.chaddr[2],
                r.chaddr[3],
                r.chaddr[4],
                r.chaddr[5],
            ]);
            let Some(slot) = state.get_mut(&m) else {
                continue;
            };
            match r.message_type() {
                Some(MessageType::Offer) if slot.0.is_none() => {
                    *slot = (Some((r.yiaddr, *from.ip())), None, 0);
                }
                Some(MessageType::Ack) if slot.0.map(|o| o.0) == Some(r.yiaddr) => {
                    acks.push((m, r.yiaddr));
                    state.remove(&m);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Some(MessageType::Nak) if slot.0.map(|o| o.1) == Some(*from.ip()) => {
                    *slot = (None, None, 0);
                }
                _ => {}
            }
        }
    }
    acks
}

#[test]
fn two_servers_on_one_database_never_ack_an_address_twice_and_survive_a_kill_9() {
    require_root();
    let dir = tempfile::tempdir().expect("tempdir");
    // Readable by user postgres (the data and socket live here) and by the servers.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir(&pg_dir).expect("mkdir");
    let pg = Postgres::start(&pg_dir);
    let url = pg.url();

    let seg = Segment::new(
        "pg",
        &[
            Host {
                name: "srva",
                addrs: &["10.98.0.1/23"],
                mac: None,
            },
            Host {
                name: "srvb",
                addrs: &["10.98.0.3/23"],
                mac: None,
            },
            Host {
                name: "clia",
                addrs: &["10.98.0.2/23"],
                mac: None,
            },
            Host {
                name: "clib",
                addrs: &["10.98.0.4/23"],
                mac: None,
            },
        ],
    );
    let mut a = serve(seg.host("srva"), dir.path(), SERVER_A, &url);
    let b = serve(seg.host("srvb"), dir.path(), SERVER_B, &url);
    assert_eq!(
        pg.query("SELECT max(version) FROM schema_version").trim(),
        "1",
        "migrations applied"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let load = |host: &str, relay: Ipv4Addr, side: u8| {
        let stop = stop.clone();
        let done = done.clone();
        let ns = seg.host(host).name().to_owned();
        std::thread::spawn(move || {
            netns::on_thread_in(&ns, move || clients(relay, side, stop, done))
        })
    };
    let la = load("clia", RELAY_A, 1);
    let lb = load("clib", RELAY_B, 2);
    // Mid-load (a quarter of the clients bound): server A dies without a chance to save or
    // say anything.
    let t0 = Instant::now();
    while done.load(Ordering::Relaxed) < usize::from(CLIENTS) / 2 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    a.kill();
    let at_kill = done.load(Ordering::Relaxed);
    let t0 = Instant::now();
    while !(la.is_finished() && lb.is_finished()) && t0.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let acks_a = la.join().expect("client thread A");
    let acks_b = lb.join().expect("client thread B");
    let mut b = b;
    b.assert_running();

    let acks: Vec<_> = acks_a.iter().chain(&acks_b).copied().collect();
    dhcp::assert_no_address_twice(&acks);
    assert_eq!(
        (acks_a.len(), acks_b.len()),
        (usize::from(CLIENTS), usize::from(CLIENTS)),
        "every client of both relays got an ACK, from B after A's kill -9\nB's log:\n{}",
        b.log()
    );
    // Every ACK is in the database, bound to its client.
    let rows: BTreeMap<Ipv4Addr, (String, String)> = pg
        .query("SELECT host(address), coalesce(mac, ''), state FROM leases")
        .lines()
        .filter_map(|l| {
            let mut f = l.split('|');
            Some((
                f.next()?.parse().ok()?,
                (f.next()?.to_owned(), f.next()?.to_owned()),
            ))
        })
        .collect();
    dhcp::assert_all_bound(&acks, &rows, "database");
    let conflicts = b
        .log()
        .matches("held by another server sharing the lease store")
        .count();
    eprintln!(
        "{} ACKs ({at_kill} before A's kill -9), none duplicated, all in the database; \
         B withheld {conflicts} replies for addresses A held",
        acks.len()
    );
    assert!(
        at_kill < 2 * usize::from(CLIENTS),
        "A was killed after the load ended"
    );
}
