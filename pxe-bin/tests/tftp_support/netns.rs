//! Two network namespaces joined by a veth pair: a real link (its MTU, its offloads) where
//! loopback would hide them. IPv4 `10.79.0.0/24` and IPv6 `fd79::/64` exist only inside the
//! namespaces; both are deleted when the [`VethPair`] drops, also when the test fails.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::require;

/// The server's end, in [`VethPair::server`].
pub const SERVER_IF: &str = "veth-s";
/// The client's end, in [`VethPair::client`].
pub const CLIENT_IF: &str = "veth-c";
/// The server's IPv4 address.
pub const SERVER_V4: &str = "10.79.0.1";
/// The server's IPv6 address.
pub const SERVER_V6: &str = "fd79::1";

/// A server and a client namespace, named `pxeg-{s,c}-<pid>-<tag>-<n>`.
#[derive(Debug)]
pub struct VethPair {
    /// The server namespace's name.
    pub server: String,
    /// The client namespace's name.
    pub client: String,
}

impl VethPair {
    /// Creates both namespaces, the veth between them (both ends created inside: nothing
    /// touches the host's network), addresses (IPv6 without DAD, usable at once), links up.
    /// Fails, never skips, without root or `ip`.
    pub fn new(tag: &str) -> Self {
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "this test creates network namespaces and needs root (CI runs as root)"
        );
        require("ip", "iproute2");
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let pair = Self {
            server: format!("pxeg-s-{id}"),
            client: format!("pxeg-c-{id}"),
        };
        ip(&["netns", "add", &pair.server]);
        ip(&["netns", "add", &pair.client]);
        let (s, c) = (pair.server.as_str(), pair.client.as_str());
        ip(&[
            "-n", s, "link", "add", SERVER_IF, "type", "veth", "peer", "name", CLIENT_IF, "netns",
            c,
        ]);
        for (ns, dev, v4, v6) in [
            (s, SERVER_IF, SERVER_V4, SERVER_V6),
            (c, CLIENT_IF, "10.79.0.2", "fd79::2"),
        ] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        pair
    }

    /// Runs `argv` inside namespace `ns` and fails the test with its stderr if it fails.
    pub fn exec(ns: &str, argv: &[&str]) -> Output {
        let out = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {ns} {argv:?}: {e}"));
        assert!(
            out.status.success(),
            "{argv:?} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `program` to be run inside the client namespace.
    pub fn client_command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.client, program]);
        cmd
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        // Deleting a namespace also deletes the veth end inside it, and so its peer.
        for ns in [&self.client, &self.server] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
