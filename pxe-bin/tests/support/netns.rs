//! Network namespaces a test creates and always deletes (on drop, also when it fails), and two
//! of them joined by a veth pair: a real link (its MTU, its offloads) where loopback would hide
//! them. Addresses exist only inside the namespaces; nothing touches the host's network.

use std::ops::Deref;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::process::Proc;
use super::tools::{checked, ip, require, require_root};

/// A network namespace, deleted when dropped. Derefs to its name, for `ip netns exec NAME`.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name`. Fails, never skips, without root or `ip`.
    pub fn new(name: &str) -> Self {
        require_root();
        require("ip", "iproute2");
        ip(&["netns", "add", name]);
        Self {
            name: name.to_owned(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS...` as a checked setup step.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Runs `argv` inside the namespace and fails the test with its stderr if it fails.
    pub fn exec(&self, argv: &[&str]) -> Output {
        let (program, args) = argv.split_first().expect("a program to run");
        checked(command(self, program).args(args))
    }
}

impl Deref for Netns {
    type Target = str;

    fn deref(&self) -> &str {
        &self.name
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace also deletes the devices inside it (a veth end, and so its peer).
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// `program` to be run inside namespace `ns`. `ip netns exec` execs it, so the child's pid is
/// the program's own (what the process guards kill).
pub fn command(ns: &str, program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, program]);
    cmd
}

/// Runs `f` on a thread of its own moved into namespace `ns` (setns(2) changes only the
/// calling thread's namespace, so the sockets `f` makes live in `ns`); returns its result.
pub fn on_thread_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let nsf = std::fs::File::open(&path).expect("open netns");
        // setns(2) only changes this thread's network namespace.
        nix::sched::setns(&nsf, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
    .join()
    .expect("thread in the namespace")
}

/// Waits until `server` itself listens on UDP `port` in namespace `ns` (`ss -Hulnp`: another
/// process on the port, e.g. dnsmasq beside a proxy, does not count); fails the test, with
/// the sockets and the server's log, if it exits or `limit` passes first.
pub fn wait_udp_port(ns: &str, port: u16, server: &mut Proc, limit: Duration) {
    let t0 = Instant::now();
    let needle = format!(":{port} ");
    let owner = format!("pid={},", server.pid());
    loop {
        server.assert_running();
        let out = command(ns, "ss").arg("-Hulnp").output().expect("run ss");
        let table = String::from_utf8_lossy(&out.stdout);
        if table
            .lines()
            .any(|l| l.contains(&needle) && l.contains(&owner))
        {
            return;
        }
        assert!(
            t0.elapsed() < limit,
            "{} does not listen on UDP {port} after {limit:?}; sockets:\n{table}\nits log:\n{}",
            server.what(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server's end, in [`VethPair::server`].
pub const SERVER_IF: &str = "veth-s";
/// The client's end, in [`VethPair::client`].
pub const CLIENT_IF: &str = "veth-c";
/// The server's IPv4 address on [`TFTP_LINK`].
pub const SERVER_V4: &str = "10.79.0.1";
/// The server's IPv6 address on [`TFTP_LINK`].
pub const SERVER_V6: &str = "fd79::1";

/// How the two ends of a [`VethPair`] are set up.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// Addresses (with prefix length) of the server's end; IPv6 ones without DAD.
    pub server: &'a [&'a str],
    /// Addresses of the client's end.
    pub client: &'a [&'a str],
    /// The client end's MAC address, when the test must know it.
    pub client_mac: Option<&'a str>,
}

/// Both ends addressed, IPv4 `10.79.0.0/24` and IPv6 `fd79::/64` (usable at once: no DAD).
pub const TFTP_LINK: Link<'static> = Link {
    server: &["10.79.0.1/24", "fd79::1/64"],
    client: &["10.79.0.2/24", "fd79::2/64"],
    client_mac: None,
};

/// A server and a client namespace, named `pxev-{s,c}-<pid>-<tag>-<n>`, joined by a veth.
#[derive(Debug)]
pub struct VethPair {
    // Field order is drop order: the client's namespace goes first, as it always did.
    /// The client namespace (its end is [`CLIENT_IF`]).
    pub client: Netns,
    /// The server namespace (its end is [`SERVER_IF`]).
    pub server: Netns,
}

impl VethPair {
    /// A pair set up as [`TFTP_LINK`].
    pub fn new(tag: &str) -> Self {
        Self::with(tag, TFTP_LINK)
    }

    /// Creates both namespaces, the veth between them (both ends created inside: nothing
    /// touches the host's network), `link`'s addresses and MAC, loopback and both ends up.
    /// Fails, never skips, without root or `ip`.
    pub fn with(tag: &str, link: Link<'_>) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let server = Netns::new(&format!("pxev-s-{id}"));
        let client = Netns::new(&format!("pxev-c-{id}"));
        server.ip(&[
            "link", "add", SERVER_IF, "type", "veth", "peer", "name", CLIENT_IF, "netns", &client,
        ]);
        for (ns, dev, addrs, mac) in [
            (&server, SERVER_IF, link.server, None),
            (&client, CLIENT_IF, link.client, link.client_mac),
        ] {
            ns.ip(&["link", "set", "lo", "up"]);
            if let Some(mac) = mac {
                ns.ip(&["link", "set", dev, "address", mac]);
            }
            for addr in addrs {
                if addr.contains(':') {
                    ns.ip(&["addr", "add", addr, "dev", dev, "nodad"]);
                } else {
                    ns.ip(&["addr", "add", addr, "dev", dev]);
                }
            }
            ns.ip(&["link", "set", dev, "up"]);
        }
        Self { client, server }
    }

    /// `program` to be run inside the client namespace.
    pub fn client_command(&self, program: &str) -> Command {
        command(&self.client, program)
    }
}

/// Hosts (namespaces) on one Ethernet segment: each has an `eth0` joined to a bridge in a
/// switch namespace of its own, so every host sees every other's broadcasts, as on a LAN.
/// Namespaces are named `pxeg-<pid>-<tag>-<n>-<host>`; all deleted on drop.
#[derive(Debug)]
pub struct Segment {
    // Field order is drop order: the hosts go first, then the switch.
    hosts: Vec<(String, Netns)>,
    switch: Netns,
}

/// One host of a [`Segment`]: its name in the test, its addresses (with prefix length), and
/// its MAC when the test must know it.
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    /// The host's name in the test (at most 6 characters).
    pub name: &'a str,
    /// Addresses of its `eth0`.
    pub addrs: &'a [&'a str],
    /// Its MAC address.
    pub mac: Option<&'a str>,
}

impl Segment {
    /// Creates the switch and the hosts, every `eth0` up with its addresses.
    pub fn new(tag: &str, hosts: &[Host<'_>]) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let switch = Netns::new(&format!("pxeg-{id}-sw"));
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        let mut made = Vec::new();
        for (i, h) in hosts.iter().enumerate() {
            let ns = Netns::new(&format!("pxeg-{id}-{}", h.name));
            let port = format!("p{i}");
            switch.ip(&[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            switch.ip(&["link", "set", &port, "master", "br0", "up"]);
            ns.ip(&["link", "set", "lo", "up"]);
            if let Some(mac) = h.mac {
                ns.ip(&["link", "set", "eth0", "address", mac]);
            }
            for a in h.addrs {
                ns.ip(&["addr", "add", a, "dev", "eth0"]);
            }
            ns.ip(&["link", "set", "eth0", "up"]);
            made.push((h.name.to_owned(), ns));
        }
        Self {
            hosts: made,
            switch,
        }
    }

    /// The namespace of host `name`.
    pub fn host(&self, name: &str) -> &Netns {
        self.hosts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ns)| ns)
            .unwrap_or_else(|| panic!("no host {name} on the segment"))
    }

    /// The switch's namespace (the bridge is `br0`).
    pub fn switch(&self) -> &Netns {
        &self.switch
    }
}
