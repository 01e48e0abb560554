//! The config file (TOML). Flags override it: [`Config::apply_overrides`].
//!
//! ```toml
//! root = "/srv/tftp"          # TFTP root
//! menu = "/etc/pxe/menu.toml" # optional: menu source (doctor lints it)
//! log_format = "text"         # or "json"
//!
//! [tftp]
//! listen = "0.0.0.0:69"
//! secure = true
//! user = "tftp"
//! create = false
//! permissive = false          # true: also serve files that are not world-readable
//! blksize_max = 1468
//! windowsize_max = 64
//! port_range = "49152:65535"
//! max_transfers = 2000        # concurrent transfers; more requests wait (dropped, retried)
//! max_handshakes = 4096       # requests not yet answered by their client (floods, storms)
//! max_handshakes_per_source = 16  # of those, from one address
//! lockstep_threads = 2        # default: one per CPU; 0 keeps every transfer on the event loop
//!
//! [http]                      # off unless listen is set (or --http)
//! listen = "0.0.0.0:8080"
//! max_connections = 1000       # at the cap, idle keep-alive connections are closed first
//! max_connections_per_client = 64
//! send_timeout = 60            # seconds a response may wait for the client to read
//! connection_threads = 64      # kept-alive connections asking for small answers, on threads; 0: none
//!
//! [dhcp]                      # owned by crate::dhcp::DhcpConfig
//! [dhcp6]                     # owned by crate::dhcp6::Dhcp6Config
//!
//! [[host]]                    # per machine: crate::decide::HostConfig
//! mac = "52:54:00:12:34:56"
//! kernel = "debian/linux"
//!
//! [decide]                    # ask an HTTP service per machine: crate::decide::DecideConfig
//! url = "http://127.0.0.1:8081/boot"
//! [admin]                     # off unless listen is set: /metrics and the status page
//! listen = "127.0.0.1:9169"
//! ```

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ranges::PortRange;

/// Where packaged installs keep the config (used by `contrib/pxe.service`).
pub const DEFAULT_PATH: &str = "/etc/pxe/pxe.toml";

/// The whole config file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// TFTP root directory.
    pub root: Option<PathBuf>,
    /// Menu source (MENU.toml) rendered into the root; `pxe doctor` lints it.
    pub menu: Option<PathBuf>,
    /// Log line format; `--log-format` overrides it.
    pub log_format: Option<LogFormat>,
    /// TFTP settings.
    pub tftp: TftpConfig,
    /// HTTP settings.
    pub http: HttpConfig,
    /// DHCP settings (see `crate::dhcp`).
    pub dhcp: crate::dhcp::DhcpConfig,
    /// Per-machine answers (`[[host]]`), before the `[[dhcp.rules]]`.
    pub host: Vec<crate::decide::HostConfig>,
    /// An HTTP service asked per machine (`[decide]`), for machines without a `[[host]]`.
    pub decide: Option<crate::decide::DecideConfig>,
    /// DHCPv6 settings (see `crate::dhcp6`).
    pub dhcp6: crate::dhcp6::Dhcp6Config,
    /// The admin listener: metrics and the status page (see `crate::admin`).
    pub admin: crate::admin::AdminConfig,
}

/// Settings given outside the config file (`pxe serve`'s flags); each one set wins over the
/// file in [`Config::apply_overrides`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Overrides {
    /// TFTP root directory.
    pub root: Option<PathBuf>,
    /// TFTP listen address.
    pub listen: Option<SocketAddr>,
    /// HTTP listen address.
    pub http: Option<SocketAddr>,
    /// DHCP settings.
    pub dhcp: crate::dhcp::DhcpOverrides,
    /// DHCPv6 settings.
    pub dhcp6: crate::dhcp6::Dhcp6Overrides,
}

/// `[tftp]`: the same knobs as `pxe tftp`'s flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TftpConfig {
    /// Listen address (default 0.0.0.0:69, or the interface's address with `--interface`).
    pub listen: Option<SocketAddr>,
    /// Confine names to the root like tftpd-hpa `--secure`.
    pub secure: bool,
    /// Drop privileges to this user after binding.
    pub user: Option<String>,
    /// Accept uploads (write requests), atomically: temporary file, then rename.
    pub create: bool,
    /// Serve files that are not world-readable too (tftpd-hpa `--permissive`); by default
    /// only files with the "other" read bit are served, so a private file (mode 0600) put
    /// under the root is never sent to the network.
    pub permissive: bool,
    /// Largest blksize granted.
    pub blksize_max: Option<u16>,
    /// Largest windowsize granted.
    pub windowsize_max: Option<u16>,
    /// Local ports for transfer sockets.
    pub port_range: Option<PortRange>,
    /// Most concurrent transfers (default `crate::tftp::admission::DEFAULT_MAX_TRANSFERS`);
    /// a request beyond it is dropped unanswered and served when the client retransmits it
    /// after a transfer has ended.
    pub max_transfers: Option<NonZeroU32>,
    /// Most requests whose client has not answered yet (default 4096, see
    /// `pxe_tftp::ServerConfig::max_handshakes`): a flood's share, kept apart from
    /// `max_transfers`. The budget in force is never below `max_transfers`, so raising
    /// `max_transfers` for a boot storm raises it too.
    pub max_handshakes: Option<NonZeroU32>,
    /// Most of those from one client address (default 16, see
    /// `pxe_tftp::ServerConfig::max_handshakes_per_source`). A host that fetches many files in
    /// parallel (a tool, not a PXE ROM) may need more.
    pub max_handshakes_per_source: Option<NonZeroU32>,
    /// Threads that each run one answered lock-step transfer with a blocking `recv` (default:
    /// one per CPU; 0: none, every transfer on the event loop; never more than
    /// `max_transfers`). See
    /// `crate::tftp::Settings::lockstep_threads`.
    pub lockstep_threads: Option<u32>,
}

/// `[http]`: the HTTP server for the same root (`crate::http`). Off unless `listen` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Listen address; `pxe serve --http` overrides it.
    pub listen: Option<SocketAddr>,
    /// Most connections open at once (default `crate::http::DEFAULT_MAX_CONNECTIONS`). At the
    /// cap a new connection closes the one idle the longest; when none is idle, new ones wait
    /// in the kernel's backlog until one finishes.
    pub max_connections: Option<NonZeroU32>,
    /// Most connections open at once from one client address (default
    /// `crate::http::DEFAULT_MAX_CONNECTIONS_PER_CLIENT`), so one host cannot take every slot.
    pub max_connections_per_client: Option<NonZeroU32>,
    /// Seconds a response may make no progress (the client reads nothing) before the
    /// connection is dropped (default 60, `crate::http::DEFAULT_SEND_TIMEOUT`).
    pub send_timeout: Option<NonZeroU32>,
    /// Most connections served on threads of their own at once (default 64,
    /// `crate::http::threads::DEFAULT_CONNECTION_THREADS`; 0: none). A kept-alive connection
    /// asking for one small response after another (iPXE `sanboot` range reads) moves to one
    /// while it keeps asking (`crate::http::threads`).
    pub connection_threads: Option<u32>,
}

/// Log line format (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("read config {}", path.display()), e))?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is only used in error messages. The boot policy is checked
    /// here too, so `pxe serve` and `pxe doctor` both name the file when it is inconsistent.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let invalid = |message: String| Error::Config {
            path: path.to_owned(),
            message,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.dhcp.check().map_err(|e| invalid(e.to_string()))?;
        config.dhcp.policy().map_err(|e| invalid(e.to_string()))?;
        Ok(config)
    }

    /// Applies settings given outside the file (`pxe serve`'s flags) over the file's values.
    pub fn apply_overrides(&mut self, args: &Overrides) -> Result<(), Error> {
        if let Some(root) = &args.root {
            self.root = Some(root.clone());
        }
        if let Some(listen) = args.listen {
            self.tftp.listen = Some(listen);
        }
        if let Some(http) = args.http {
            self.http.listen = Some(http);
        }
        self.dhcp.apply_overrides(&args.dhcp)?;
        self.dhcp6.apply_overrides(&args.dhcp6)
    }

    /// Checks what a server started (or reloaded) with this config needs: a consistent boot
    /// policy, and an address pool or reservations for a DHCP server. The reason on failure.
    pub fn validate(&self) -> Result<(), String> {
        self.dhcp.check().map_err(|e| e.to_string())?;
        self.dhcp.policy().map_err(|e| e.to_string())?;
        let ctx = crate::decide::HostContext {
            http: self.http.listen.is_some(),
            menu: self.load_menu()?,
        };
        crate::decide::static_hosts(&self.host, &ctx)?;
        if let Some(d) = &self.decide {
            crate::decide::HttpDecider::new(d)?;
        }
        if self.dhcp.mode() == crate::dhcp::DhcpMode::Server
            && self.dhcp.range.is_none()
            && self.dhcp.reservations.is_empty()
            && self.dhcp.subnets.is_empty()
        {
            return Err("[dhcp] mode = \"server\" needs an address pool: range = \"FIRST,LAST\", reservations or [[dhcp.subnet]] tables".into());
        }
        if self.dhcp6.mode == crate::dhcp6::Dhcp6Mode::Server && self.dhcp6.range.is_none() {
            return Err(
                "[dhcp6] mode = \"server\" needs an address range: range = \"FIRST,LAST\"".into(),
            );
        }
        Ok(())
    }
}

impl Config {
    /// The menu source (`menu`), read when a `[[host]]` entry needs it (`menu_default`).
    pub fn load_menu(&self) -> Result<Option<pxe_menu::Menu>, String> {
        let wanted = self.host.iter().any(|h| h.menu_default.is_some());
        let Some(path) = self.menu.as_ref().filter(|_| wanted) else {
            return Ok(None);
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("menu {}: {e}", path.display()))?;
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| format!("menu {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file_parses_and_flags_override() {
        let text = r#"
            root = "/srv/tftp"
            log_format = "json"
            [tftp]
            listen = "192.168.1.1:69"
            secure = true
            user = "tftp"
            blksize_max = 1468
            windowsize_max = 64
            port_range = "49152:65535"
            max_transfers = 500
            max_handshakes_per_source = 64
            lockstep_threads = 0
            [http]
            listen = "0.0.0.0:8080"
            max_connections = 50
            max_connections_per_client = 8
            send_timeout = 5
            connection_threads = 0
            [dhcp]
        "#;
        let mut c = Config::parse(text, Path::new("t.toml")).unwrap();
        assert_eq!(
            c.tftp.port_range,
            Some(PortRange {
                low: 49152,
                high: 65535
            })
        );
        assert_eq!(c.tftp.max_transfers, NonZeroU32::new(500));
        assert_eq!(c.tftp.max_handshakes_per_source, NonZeroU32::new(64));
        assert_eq!(c.tftp.lockstep_threads, Some(0));
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(c.http.listen, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(c.http.max_connections, NonZeroU32::new(50));
        assert_eq!(c.http.max_connections_per_client, NonZeroU32::new(8));
        assert_eq!(c.http.send_timeout, NonZeroU32::new(5));
        assert_eq!(c.http.connection_threads, Some(0));
        let args = Overrides {
            root: Some("/other".into()),
            listen: Some("127.0.0.1:6969".parse().unwrap()),
            http: Some("127.0.0.1:6980".parse().unwrap()),
            ..Overrides::default()
        };
        c.apply_overrides(&args).unwrap();
        assert_eq!(c.root.as_deref(), Some(Path::new("/other")));
        assert_eq!(c.tftp.listen, Some("127.0.0.1:6969".parse().unwrap()));
        assert_eq!(c.http.listen, Some("127.0.0.1:6980".parse().unwrap()));
    }

    #[test]
    fn http_is_off_by_default_and_checked() {
        let c = Config::parse("", Path::new("t.toml")).unwrap();
        assert_eq!(c.http, HttpConfig::default());
        let e = Config::parse("[http]\nport = 80\n", Path::new("t.toml")).unwrap_err();
        assert!(e.to_string().contains("port"), "{e}");
    }

    #[test]
    fn typo_is_an_error_naming_the_file() {
        let e = Config::parse("[tftp]\nlisten_addr = \"x\"\n", Path::new("t.toml")).unwrap_err();
        assert!(e.to_string().contains("t.toml"), "{e}");
        assert!(e.to_string().contains("listen_addr"), "{e}");
    }

    #[test]
    fn zero_max_transfers_is_an_error() {
        let e = Config::parse("[tftp]\nmax_transfers = 0\n", Path::new("t.toml")).unwrap_err();
        assert!(e.to_string().contains("max_transfers"), "{e}");
    }

    #[test]
    fn hosts_and_decide_parse_and_are_checked() {
        let text = r#"
            [[host]]
            mac = "52:54:00:12:34:56"
            kernel = "debian/linux"
            initrd = ["debian/initrd.gz"]
            cmdline = "console=ttyS0"
            [[host]]
            mac = "52:54:00:00:00:05"
            ignore = true
            [decide]
            url = "http://127.0.0.1:8081/boot"
            timeout_ms = 500
        "#;
        let c = Config::parse(text, Path::new("t.toml")).unwrap();
        assert_eq!(c.host.len(), 2);
        assert_eq!(c.decide.as_ref().unwrap().timeout_ms, Some(500));
        c.validate().unwrap();
        let mut bad = c.clone();
        bad.decide.as_mut().unwrap().url = "https://x/".into();
        assert!(bad.validate().unwrap_err().contains("http://"));
        let e = Config::parse(
            "[[host]]\nmac = \"52:54:00:00:00:01\"\nkernal = \"x\"\n",
            Path::new("t.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("kernal"), "{e}");
    }

    #[test]
    fn empty_file_is_default() {
        let c = Config::parse("", Path::new("t.toml")).unwrap();
        assert!(c.root.is_none() && c.tftp == TftpConfig::default());
    }
}
