//! What the admin listener shows, built from the event stream ([`crate::events`]): counters
//! for `/metrics`, and for the status page the clients booting now (the stage each reached),
//! running transfers with their rates, recent failures with their fix, and the leases.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::events::{
    ConnectionLimit, DhcpDecision, Event, LeaseAction, LeaseEvent, Protocol, TransferFinished,
    TransferId, TransferProgress, TransferResult, TransferStarted,
};
use crate::ranges::DhcpRange;

/// Failures kept for the status page.
const RECENT_FAILURES: usize = 50;
/// Clients not heard from for this long leave the "booting now" table.
const CLIENT_TTL: Duration = Duration::from_secs(600);
/// A transfer from an address no lease names is matched to the latest DHCP client sent that
/// boot file within this window (proxyDHCP never learns the client's address).
const MATCH_WINDOW: Duration = Duration::from_secs(120);

/// How far a client got, in boot order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// A DHCP boot answer was sent.
    Dhcp,
    /// The network boot program (the DHCP boot file) was fetched.
    Nbp,
    /// A menu or boot script was fetched.
    Menu,
    /// A kernel was fetched.
    Kernel,
    /// An initrd was fetched.
    Initrd,
    /// A disk or live image was fetched.
    Image,
}

impl Stage {
    /// Every stage, in order (the status page's columns).
    pub const ALL: [Stage; 6] = [
        Stage::Dhcp,
        Stage::Nbp,
        Stage::Menu,
        Stage::Kernel,
        Stage::Initrd,
        Stage::Image,
    ];

    /// The stage a file stands for, judged by its name (the NBP is recognised separately).
    fn of_file(name: &str) -> Stage {
        let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
        if base.contains("initrd") || base.contains("initramfs") || base.starts_with("initr") {
            Stage::Initrd
        } else if base.contains("vmlinu")
            || base.contains("bzimage")
            || base.starts_with("kernel")
            || base == "linux"
            || base.starts_with("linux")
        {
            Stage::Kernel
        } else if [
            ".iso",
            ".img",
            ".squashfs",
            ".qcow2",
            ".wim",
            ".tar",
            ".raw",
        ]
        .iter()
        .any(|e| base.ends_with(e))
        {
            Stage::Image
        } else {
            Stage::Menu
        }
    }
}

/// A client seen booting.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// Hardware address, once DHCP or a lease named it.
    pub mac: Option<String>,
    /// Address, once a lease or a transfer named it.
    pub ip: Option<IpAddr>,
    /// Architecture (option 93).
    pub arch: Option<String>,
    /// Firmware kind.
    pub firmware: Option<String>,
    /// The rule that answered it.
    pub rule: Option<String>,
    /// The boot file it was sent.
    pub boot_file: Option<String>,
    /// Furthest stage reached.
    pub stage: Stage,
    /// Every stage reached.
    pub stages: Vec<Stage>,
    /// Seconds since it was last heard from.
    pub idle_secs: u64,
    #[serde(skip)]
    last: Option<Instant>,
}

/// A running transfer.
#[derive(Debug, Clone, Serialize)]
pub struct Running {
    /// Transfer id.
    pub id: u64,
    /// `tftp` or `http`.
    pub protocol: &'static str,
    /// Client address and port.
    pub client: String,
    /// Requested name.
    pub file: String,
    /// Bytes so far.
    pub bytes: u64,
    /// Bytes in all, when known.
    pub size: Option<u64>,
    /// Bytes per second over the last progress interval (0 before the first).
    pub rate: u64,
    #[serde(skip)]
    last: (Instant, u64),
}

/// A failed or refused request.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Unix time, seconds.
    pub at: u64,
    /// `tftp` or `http`.
    pub protocol: &'static str,
    /// Client address and port.
    pub client: String,
    /// Requested name.
    pub file: String,
    /// Why.
    pub reason: String,
    /// How to fix it, when the server knows.
    pub fix: Option<String>,
}

/// A lease as the status page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseRow {
    /// The address.
    pub ip: Ipv4Addr,
    /// The holder.
    pub mac: Option<String>,
    /// offered, bound, released, expired, declined.
    pub state: &'static str,
    /// Unix time (seconds) the state ends.
    pub expires: u64,
}

/// Everything `/api/status` returns.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Clients seen in the last ten minutes, most recent first.
    pub clients: Vec<Client>,
    /// Running transfers.
    pub transfers: Vec<Running>,
    /// Recent failures, newest first.
    pub failures: Vec<Failure>,
    /// Leases, by address.
    pub leases: Vec<LeaseRow>,
}

/// Counters and live state, updated by [`Monitor::apply`].
#[derive(Debug, Default)]
pub struct Monitor {
    pool: Option<DhcpRange>,
    finished: BTreeMap<(&'static str, &'static str), u64>,
    bytes: BTreeMap<&'static str, u64>,
    timeouts: BTreeMap<&'static str, u64>,
    retransmits: BTreeMap<&'static str, u64>,
    refused: BTreeMap<(&'static str, &'static str), u64>,
    http_requests: BTreeMap<u16, u64>,
    decisions: BTreeMap<String, u64>,
    ignored: BTreeMap<String, u64>,
    reloads: u64,
    http_evicted: u64,
    http_refused: u64,
    lagged: u64,
    running: BTreeMap<TransferId, Running>,
    clients: Vec<Client>,
    failures: VecDeque<Failure>,
    leases: BTreeMap<Ipv4Addr, LeaseRow>,
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http",
        _ => "tftp",
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A bounded label for a refusal reason (the reason itself is free text).
fn refusal_kind(reason: &str) -> &'static str {
    let r = reason.to_ascii_lowercase();
    if r.contains("no such file") || r.contains("not found") {
        "not_found"
    } else if r.contains("readable") || r.contains("permission") || r.contains("writable") {
        "permission"
    } else if r.contains("read-only") || r.contains("write request") {
        "read_only"
    } else if r.starts_with("bad name") || r.starts_with("refused") || r.contains("outside") {
        "bad_name"
    } else if r.contains("not a regular file") {
        "not_regular"
    } else {
        "other"
    }
}

/// A bounded label for why DHCP sent nothing: the leading word of the reason.
fn ignored_kind(reason: &str) -> String {
    let word: String = reason
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ' ')
        .take(40)
        .collect();
    let word = word.trim().to_ascii_lowercase().replace(' ', "_");
    if word.is_empty() {
        "other".into()
    } else {
        word
    }
}

/// `reason; fix: how` split into its two halves.
fn split_fix(reason: &str) -> (String, Option<String>) {
    match reason.split_once("fix: ") {
        Some((why, fix)) => (
            why.trim_end_matches([' ', ';', ',']).to_owned(),
            Some(fix.to_owned()),
        ),
        None => (reason.to_owned(), None),
    }
}

impl Monitor {
    /// A monitor for a server leasing from `pool` (when it runs the DHCP lease server).
    #[must_use]
    pub fn new(pool: Option<DhcpRange>) -> Self {
        Self {
            pool,
            ..Self::default()
        }
    }

    /// Takes the leases saved before the start.
    pub fn load_leases(&mut self, leases: &[pxe_dhcp::responder::Lease]) {
        use pxe_dhcp::responder::LeaseState;
        for l in leases {
            let state = match l.state {
                LeaseState::Offered => "offered",
                LeaseState::Bound => "bound",
                LeaseState::Released => "released",
                LeaseState::Expired => "expired",
                LeaseState::Declined => "declined",
            };
            self.leases.insert(
                l.ip,
                LeaseRow {
                    ip: l.ip,
                    mac: l.mac.map(|m| m.to_string()),
                    state,
                    expires: l.expires.as_micros() / 1_000_000,
                },
            );
        }
    }

    /// Counts events the subscription lost by falling behind.
    pub fn lagged(&mut self, n: u64) {
        self.lagged += n;
    }

    /// Takes one event into the counters and the live state.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Dhcp(d) => self.dhcp(d),
            Event::Lease(l) => self.lease(l),
            Event::TransferStarted(s) => self.started(s),
            Event::TransferProgress(p) => self.progress(p),
            Event::TransferFinished(f) => self.finished(f),
            Event::Reloaded(_) => self.reloads += 1,
            Event::HttpConnectionLimited(l) => match l.action {
                ConnectionLimit::EvictedIdle => self.http_evicted += 1,
                _ => self.http_refused += 1,
            },
        }
    }

    fn dhcp(&mut self, d: &DhcpDecision) {
        if let Some(why) = &d.refused {
            *self.ignored.entry(ignored_kind(why)).or_default() += 1;
            return;
        }
        let rule = d.rule.clone().unwrap_or_else(|| "none".into());
        *self.decisions.entry(rule).or_default() += 1;
        let mac = d.mac.map(|m| m.to_string());
        let c = self.client_by_mac(mac.clone());
        c.arch.clone_from(&d.arch);
        c.firmware.clone_from(&d.firmware);
        c.rule.clone_from(&d.rule);
        c.boot_file.clone_from(&d.boot_file);
        Self::reach(c, Stage::Dhcp);
    }

    fn lease(&mut self, l: &LeaseEvent) {
        let state = match l.action {
            LeaseAction::Offered => "offered",
            LeaseAction::Granted => "bound",
            LeaseAction::Released => "released",
            LeaseAction::Expired => "expired",
            _ => "declined",
        };
        let mac = l.mac.map(|m| m.to_string());
        self.leases.insert(
            l.ip,
            LeaseRow {
                ip: l.ip,
                mac: mac.clone(),
                state,
                expires: unix(l.at + l.remaining),
            },
        );
        if matches!(l.action, LeaseAction::Granted | LeaseAction::Offered) && mac.is_some() {
            let c = self.client_by_mac(mac);
            c.ip = Some(IpAddr::V4(l.ip));
        }
    }

    fn client_by_mac(&mut self, mac: Option<String>) -> &mut Client {
        let found = mac
            .as_ref()
            .and_then(|m| self.clients.iter().position(|c| c.mac.as_ref() == Some(m)));
        let i = found.unwrap_or_else(|| {
            self.clients.push(Client::new(mac, None));
            self.clients.len() - 1
        });
        &mut self.clients[i]
    }

    /// The client a transfer from `ip` of `file` belongs to: the one with that address, else
    /// the latest DHCP client sent that boot file without an address yet, else a new one.
    fn client_for(&mut self, ip: IpAddr, file: &str) -> (usize, bool) {
        if let Some(i) = self.clients.iter().position(|c| c.ip == Some(ip)) {
            let nbp = self.clients[i]
                .boot_file
                .as_deref()
                .is_some_and(|b| same_file(b, file));
            return (i, nbp);
        }
        let now = Instant::now();
        let candidate = self
            .clients
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.ip.is_none()
                    && c.last.is_some_and(|t| now.duration_since(t) < MATCH_WINDOW)
                    && c.boot_file.as_deref().is_some_and(|b| same_file(b, file))
            })
            .max_by_key(|(_, c)| c.last)
            .map(|(i, _)| i);
        match candidate {
            Some(i) => {
                self.clients[i].ip = Some(ip);
                (i, true)
            }
            None => {
                self.clients.push(Client::new(None, Some(ip)));
                (self.clients.len() - 1, false)
            }
        }
    }

    fn reach(c: &mut Client, stage: Stage) {
        if !c.stages.contains(&stage) {
            c.stages.push(stage);
            c.stages.sort();
        }
        c.stage = c.stage.max(stage);
        c.last = Some(Instant::now());
    }

    fn started(&mut self, s: &TransferStarted) {
        let now = Instant::now();
        self.running.insert(
            s.id,
            Running {
                id: s.id.0,
                protocol: protocol(s.protocol),
                client: s.client.to_string(),
                file: s.file.clone(),
                bytes: 0,
                size: s.size,
                rate: 0,
                last: (now, 0),
            },
        );
        if s.upload {
            return;
        }
        let (i, nbp) = self.client_for(s.client.ip(), &s.file);
        let stage = if nbp {
            Stage::Nbp
        } else {
            Stage::of_file(&s.file)
        };
        Self::reach(&mut self.clients[i], stage);
    }

    fn progress(&mut self, p: &TransferProgress) {
        if let Some(r) = self.running.get_mut(&p.id) {
            let now = Instant::now();
            let (t, b) = r.last;
            let dt = now.duration_since(t).as_secs_f64();
            if dt > 0.0 {
                r.rate = ((p.bytes.saturating_sub(b)) as f64 / dt) as u64;
            }
            r.bytes = p.bytes;
            r.size = p.size.or(r.size);
            r.last = (now, p.bytes);
        }
    }

    fn finished(&mut self, f: &TransferFinished) {
        let proto = protocol(f.protocol);
        self.running.remove(&f.id);
        if !matches!(f.result, TransferResult::Refused(_)) {
            *self.bytes.entry(proto).or_default() += f.bytes;
        }
        *self.retransmits.entry(proto).or_default() += f.retransmits;
        *self.timeouts.entry(proto).or_default() += f.timeouts;
        if let Some(status) = f.status {
            *self.http_requests.entry(status).or_default() += 1;
        }
        let (result, reason) = match &f.result {
            TransferResult::Completed => ("completed", None),
            TransferResult::SizeProbe => ("size_probe", None),
            TransferResult::Refused(r) => {
                *self.refused.entry((proto, refusal_kind(r))).or_default() += 1;
                ("refused", Some(r))
            }
            TransferResult::Failed(r) => ("failed", Some(r)),
        };
        *self.finished.entry((proto, result)).or_default() += 1;
        // pxelinux asks for pxelinux.cfg/<uuid>, /<mac>, /<hex ip>... until one exists
        // (pxelinux.doc, "Configuration"): those misses are its lookup, not failures.
        let lookup = f.file.trim_start_matches('/').starts_with("pxelinux.cfg/")
            && matches!(&f.result, TransferResult::Refused(r) if refusal_kind(r) == "not_found");
        if let Some(reason) = reason.filter(|_| !lookup) {
            let (why, fix) = split_fix(reason);
            self.failures.push_front(Failure {
                at: unix(SystemTime::now()),
                protocol: proto,
                client: f.client.to_string(),
                file: f.file.clone(),
                reason: why,
                fix,
            });
            self.failures.truncate(RECENT_FAILURES);
        }
    }

    /// The status page's data.
    #[must_use]
    pub fn snapshot(&mut self) -> Snapshot {
        let now = Instant::now();
        self.clients
            .retain(|c| c.last.is_some_and(|t| now.duration_since(t) < CLIENT_TTL));
        let mut clients = self.clients.clone();
        for c in &mut clients {
            c.idle_secs = c.last.map_or(0, |t| now.duration_since(t).as_secs());
        }
        clients.sort_by_key(|c| c.idle_secs);
        Snapshot {
            clients,
            transfers: self.running.values().cloned().collect(),
            failures: self.failures.iter().cloned().collect(),
            leases: self.leases.values().cloned().collect(),
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every counter and gauge.
    #[must_use]
    pub fn metrics(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let mut active: HashMap<&str, u64> = HashMap::from([("tftp", 0), ("http", 0)]);
        for r in self.running.values() {
            *active.entry(r.protocol).or_default() += 1;
        }
        let mut active: Vec<_> = active.into_iter().collect();
        active.sort_unstable();
        family(
            "pxe_transfers_active",
            "gauge",
            "Transfers running now.",
            active
                .into_iter()
                .map(|(p, n)| (format!("{{protocol=\"{p}\"}}"), n))
                .collect(),
        );
        family(
            "pxe_transfers_total",
            "counter",
            "Transfers finished, by result (completed, size_probe, refused, failed).",
            self.finished
                .iter()
                .map(|((p, r), n)| (format!("{{protocol=\"{p}\",result=\"{r}\"}}"), *n))
                .collect(),
        );
        family(
            "pxe_transfer_bytes_total",
            "counter",
            "Payload bytes moved by finished transfers.",
            self.bytes
                .iter()
                .map(|(p, n)| (format!("{{protocol=\"{p}\"}}"), *n))
                .collect(),
        );
        family(
            "pxe_tftp_retransmits_total",
            "counter",
            "TFTP packets sent again (a timeout or a repeated ACK).",
            self.retransmits
                .iter()
                .filter(|(p, _)| **p == "tftp")
                .map(|(_, n)| (String::new(), *n))
                .collect(),
        );
        family(
            "pxe_tftp_timeouts_total",
            "counter",
            "TFTP retransmission timeouts that fired (the client was slow or gone).",
            self.timeouts
                .iter()
                .filter(|(p, _)| **p == "tftp")
                .map(|(_, n)| (String::new(), *n))
                .collect(),
        );
        family(
            "pxe_requests_refused_total",
            "counter",
            "Requests refused before any byte, by reason.",
            self.refused
                .iter()
                .map(|((p, r), n)| (format!("{{protocol=\"{p}\",reason=\"{r}\"}}"), *n))
                .collect(),
        );
        family(
            "pxe_http_requests_total",
            "counter",
            "HTTP requests answered, by status.",
            self.http_requests
                .iter()
                .map(|(s, n)| (format!("{{status=\"{s}\"}}"), *n))
                .collect(),
        );
        family(
            "pxe_http_connections_evicted_total",
            "counter",
            "Idle HTTP connections (waiting for a request) closed to make room for a new one ([http] max_connections, max_connections_per_client).",
            vec![(String::new(), self.http_evicted)],
        );
        family(
            "pxe_http_connections_refused_total",
            "counter",
            "HTTP connections closed at once because their client already held [http] max_connections_per_client busy connections.",
            vec![(String::new(), self.http_refused)],
        );
        family(
            "pxe_dhcp_decisions_total",
            "counter",
            "DHCP boot answers sent, by the rule that chose them.",
            self.decisions
                .iter()
                .map(|(r, n)| (format!("{{rule=\"{}\"}}", label(r)), *n))
                .collect(),
        );
        family(
            "pxe_dhcp_ignored_total",
            "counter",
            "DHCP messages answered with nothing, by reason.",
            self.ignored
                .iter()
                .map(|(r, n)| (format!("{{reason=\"{}\"}}", label(r)), *n))
                .collect(),
        );
        if let Some(pool) = self.pool {
            let size = u64::from(u32::from(pool.last).saturating_sub(u32::from(pool.first))) + 1;
            let now = unix(SystemTime::now());
            let used = self
                .leases
                .values()
                .filter(|l| {
                    (pool.first..=pool.last).contains(&l.ip)
                        && matches!(l.state, "offered" | "bound" | "declined")
                        && l.expires > now
                })
                .count() as u64;
            let p = format!("{}-{}", pool.first, pool.last);
            family(
                "pxe_dhcp_leases",
                "gauge",
                "Addresses of the lease pool, in use (offered, bound, declined) or free.",
                vec![
                    (format!("{{pool=\"{p}\",state=\"in_use\"}}"), used),
                    (
                        format!("{{pool=\"{p}\",state=\"free\"}}"),
                        size.saturating_sub(used),
                    ),
                ],
            );
        }
        family(
            "pxe_reloads_total",
            "counter",
            "Configurations applied by a reload.",
            vec![(String::new(), self.reloads)],
        );
        family(
            "pxe_events_lost_total",
            "counter",
            "Events the monitor missed by falling behind (its counters are low by as many).",
            vec![(String::new(), self.lagged)],
        );
        out
    }
}

impl Client {
    fn new(mac: Option<String>, ip: Option<IpAddr>) -> Self {
        Self {
            mac,
            ip,
            arch: None,
            firmware: None,
            rule: None,
            boot_file: None,
            stage: Stage::Dhcp,
            stages: Vec::new(),
            idle_secs: 0,
            last: None,
        }
    }
}

/// A label value with `\`, `"` and newlines escaped (exposition format, "Comments, help text,
/// and type information").
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Whether request `file` names boot file `boot` (which may be a URL or have a leading `/`).
fn same_file(boot: &str, file: &str) -> bool {
    let strip = |s: &str| {
        let s = s.split_once("://").map_or(s, |(_, rest)| {
            rest.split_once('/').map_or("", |(_, path)| path)
        });
        s.trim_start_matches('/').to_owned()
    };
    strip(boot) == strip(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_follow_file_names() {
        assert_eq!(Stage::of_file("pxelinux.cfg/default"), Stage::Menu);
        assert_eq!(Stage::of_file("boot.ipxe"), Stage::Menu);
        assert_eq!(Stage::of_file("debian/linux"), Stage::Kernel);
        assert_eq!(Stage::of_file("/casper/vmlinuz"), Stage::Kernel);
        assert_eq!(Stage::of_file("debian/initrd.gz"), Stage::Initrd);
        assert_eq!(Stage::of_file("iso/live.iso"), Stage::Image);
    }

    #[test]
    fn boot_files_match_requests() {
        assert!(same_file("undionly.kpxe", "/undionly.kpxe"));
        assert!(same_file("http://10.0.0.1:8080/boot.ipxe", "/boot.ipxe"));
        assert!(!same_file("ipxe.efi", "undionly.kpxe"));
    }

    #[test]
    fn reasons_split_into_why_and_fix() {
        let (why, fix) =
            split_fix("/srv/a is not world-readable (mode 0600); fix: chmod o+r /srv/a");
        assert_eq!(why, "/srv/a is not world-readable (mode 0600)");
        assert_eq!(fix.as_deref(), Some("chmod o+r /srv/a"));
        assert_eq!(refusal_kind("no such file under the root"), "not_found");
        assert_eq!(refusal_kind("bad name: the name contains '..'"), "bad_name");
        assert_eq!(
            refusal_kind("the server is read-only (start it with --create to accept uploads)"),
            "read_only"
        );
        assert_eq!(label("a\"b\\c"), "a\\\"b\\\\c");
    }
}
