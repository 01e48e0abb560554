//! Per-machine decisions: what one client boots, asked of a [`Decide`] implementation before
//! the static `[[dhcp.rules]]` answer.
//!
//! The DHCP driver classifies each network-boot request into a [`Client`] and asks the decider
//! (at most [`DECIDE_TIMEOUT`]; no answer in time counts as [`Decision::Default`]). The answer
//! becomes that machine's entry in the boot policy's host layer
//! ([`pxe_dhcp::policy::Policy::hosts`]), so the core decides with it like with any rule:
//! - [`Decision::Default`]: the static rules decide ([`StaticRules`] is that decider).
//! - [`Decision::Ignore`]: no reply at all (not even an address from the lease server).
//! - [`Decision::Boot`]: a boot file for every firmware stage, and/or something for iPXE to run:
//!   a script, a kernel + initrds + command line (turned into a script), or the configured
//!   menu with another default entry. A PXE ROM is first sent the static rules' iPXE (unless a
//!   boot file is given), then iPXE gets the machine's script, which the server keeps under
//!   `_pxe/host/MAC.ipxe` (MAC as `52-54-00-12-34-56`) and serves over HTTP (when on) and
//!   TFTP. A menu default also gives pxelinux its per-machine file
//!   `pxelinux.cfg/01-52-54-00-12-34-56`.
//!
//! Static `[[host]]` entries ([`HostConfig`]) are decisions known in advance; `[decide] url`
//! asks an HTTP service ([`HttpDecider`]); programs embedding the server implement [`Decide`].

mod files;
mod http;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::time::Duration;

use pxe_dhcp::policy::{Host, MacMatch, Match, Policy, Rule};
use pxe_dhcp::pxe::{ClientInfo, Firmware};
use pxe_dhcp::wire::{DhcpOption, OptionCode, Repr};
use pxe_proto::MacAddr;
use serde::{Deserialize, Serialize};

pub use self::files::HostFiles;
pub use self::http::{DecideConfig, HttpDecider};

/// How long the DHCP driver waits for a decider before the static rules answer.
pub const DECIDE_TIMEOUT: Duration = Duration::from_secs(3);

/// The classified client a decision is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Client {
    /// Hardware address (`chaddr`).
    pub mac: MacAddr,
    /// Client architecture (option 93's first entry, RFC 4578 §2.1), e.g. 0 BIOS, 7 x64 UEFI.
    pub arch: Option<u16>,
    /// The architecture's name (`x64 UEFI`).
    pub arch_name: Option<String>,
    /// The boot firmware: `pxe` (a PXE ROM), `ipxe`, `http-client` (UEFI HTTP boot), `other`.
    pub firmware: Firmware,
    /// Option 77's first class (iPXE sends `iPXE`), when it is text.
    pub user_class: Option<String>,
    /// Option 60 (`PXEClient:Arch:00007:UNDI:003016`), when it is text.
    pub vendor_class: Option<String>,
    /// The relay agent's address (`giaddr`): which subnet the client is on; none when direct.
    pub giaddr: Option<Ipv4Addr>,
    /// The DUID of an RFC 4361 client identifier (option 61 type 255), hex; the same value
    /// identifies the machine in DHCPv6.
    pub duid: Option<String>,
}

impl Client {
    /// A client with only a hardware address and firmware known.
    #[must_use]
    pub fn new(mac: MacAddr, firmware: Firmware) -> Self {
        Self {
            mac,
            arch: None,
            arch_name: None,
            firmware,
            user_class: None,
            vendor_class: None,
            giaddr: None,
            duid: None,
        }
    }

    /// The client behind a DHCP request.
    #[must_use]
    pub fn from_request(req: &Repr) -> Self {
        Self::from_info(&ClientInfo::from_repr(req), req)
    }

    fn from_info(info: &ClientInfo, req: &Repr) -> Self {
        let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
        let duid = match req.option(OptionCode::ClientIdentifier) {
            // RFC 4361 §6.1: type 255, a 4-byte IAID, then the DUID.
            Some(DhcpOption::ClientIdentifier(id)) if id.len() > 5 && id[0] == 255 => {
                Some(id[5..].iter().map(|b| format!("{b:02x}")).collect())
            }
            _ => None,
        };
        Self {
            mac: info.mac,
            arch: info.arch().map(|a| a.0),
            arch_name: info.arch().map(|a| a.kind().name().to_owned()),
            firmware: info.firmware,
            user_class: info.user_classes.first().and_then(|c| text(c)),
            vendor_class: Some(&info.vendor_class)
                .filter(|v| !v.is_empty())
                .and_then(|v| text(v)),
            giaddr: Some(req.giaddr).filter(|g| !g.is_unspecified()),
            duid,
        }
    }
}

/// What a machine gets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// No opinion: the static rules decide.
    Default,
    /// Boot this.
    Boot(Boot),
    /// Send this machine nothing.
    Ignore,
}

/// A per-machine boot answer; every field is optional. See the module docs for how each is
/// used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Boot {
    /// Names the answer in logs and decision reasons (`lab-1`).
    pub name: Option<String>,
    /// The boot file (or `http://` URL) for every firmware stage; `{server}`, `{http}` and
    /// `{mac}` are filled in as in `[[dhcp.rules]]`.
    pub boot_file: Option<String>,
    /// The TFTP server to send the machine to (`siaddr`); default: this one.
    pub next_server: Option<IpAddr>,
    /// An iPXE script for this machine.
    pub script: Option<String>,
    /// A kernel for iPXE to boot (a name under the root, or a URL).
    pub kernel: Option<String>,
    /// Initrds to load with it.
    pub initrd: Vec<String>,
    /// The kernel command line.
    pub cmdline: Option<String>,
    /// The id of the menu entry (in the configured menu) to boot by default.
    pub menu_default: Option<String>,
}

impl Boot {
    /// Boots `file` at every stage.
    #[must_use]
    pub fn file(file: &str) -> Self {
        Self {
            boot_file: Some(file.to_owned()),
            ..Self::default()
        }
    }

    /// iPXE runs `script` (a PXE ROM is chainloaded into iPXE first).
    #[must_use]
    pub fn script(script: &str) -> Self {
        Self {
            script: Some(script.to_owned()),
            ..Self::default()
        }
    }

    /// iPXE boots `kernel` with `initrd`s and `cmdline`.
    #[must_use]
    pub fn kernel(kernel: &str, initrd: &[&str], cmdline: &str) -> Self {
        Self {
            kernel: Some(kernel.to_owned()),
            initrd: initrd.iter().map(|s| (*s).to_owned()).collect(),
            cmdline: Some(cmdline.to_owned()).filter(|c| !c.is_empty()),
            ..Self::default()
        }
    }

    /// The same answer with a name for logs.
    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
}

/// The future a [`Decide`] implementation returns.
pub type DecideFuture<'a> = Pin<Box<dyn Future<Output = Decision> + Send + 'a>>;

/// Decides per machine. Called for every network-boot DHCP request of a machine without a
/// static `[[host]]` entry (a boot asks several times: DISCOVER and REQUEST, by the ROM and
/// again by iPXE), so cache in the implementation what is expensive to work out.
///
/// ```
/// use pxe_server::decide::{Boot, Client, Decide, DecideFuture, Decision};
///
/// struct Lab;
/// impl Decide for Lab {
///     fn decide<'a>(&'a self, client: &'a Client) -> DecideFuture<'a> {
///         Box::pin(async move {
///             if client.mac.0[..3] == [0x52, 0x54, 0x00] {
///                 Decision::Boot(Boot::kernel("vmlinuz", &["initrd.img"], "console=ttyS0"))
///             } else {
///                 Decision::Default
///             }
///         })
///     }
/// }
/// ```
pub trait Decide: Send + Sync + 'static {
    /// What `client` boots.
    fn decide<'a>(&'a self, client: &'a Client) -> DecideFuture<'a>;
}

impl std::fmt::Debug for dyn Decide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dyn Decide")
    }
}

/// The static `[[dhcp.rules]]` policy as a decider: what the server answers when no other
/// decider is set, or when one says [`Decision::Default`].
#[derive(Debug, Clone)]
pub struct StaticRules {
    policy: Policy,
    server: Ipv4Addr,
}

impl StaticRules {
    /// Decides by `policy`, with `server` as the default next server.
    #[must_use]
    pub fn new(policy: Policy, server: Ipv4Addr) -> Self {
        Self { policy, server }
    }

    /// The decision for a classified request: the first matching rule's boot file and next
    /// server, or [`Decision::Ignore`] when none matches.
    #[must_use]
    pub fn decide_info(&self, info: &ClientInfo) -> Decision {
        if self.policy.ignores(info.mac) {
            return Decision::Ignore;
        }
        match self.policy.decide(info, self.server) {
            Some(d) => Decision::Boot(Boot {
                name: Some(d.rule_name),
                boot_file: Some(d.boot_file),
                next_server: Some(d.next_server),
                ..Boot::default()
            }),
            None => Decision::Ignore,
        }
    }
}

impl Decide for StaticRules {
    fn decide<'a>(&'a self, client: &'a Client) -> DecideFuture<'a> {
        let mut info =
            ClientInfo::from_repr(&Repr::new(pxe_dhcp::wire::Op::BootRequest, 0, client.mac));
        info.firmware = client.firmware;
        info.archs = client.arch.map(pxe_dhcp::pxe::Arch).into_iter().collect();
        info.user_classes = client
            .user_class
            .iter()
            .map(|c| c.as_bytes().to_vec())
            .collect();
        if let Some(v) = &client.vendor_class {
            info.vendor_class = v.as_bytes().to_vec();
        }
        let d = self.decide_info(&info);
        Box::pin(std::future::ready(d))
    }
}

/// A `[[host]]` entry: one machine's fixed answer.
///
/// ```toml
/// [[host]]
/// mac = "52:54:00:12:34:56"
/// name = "lab-1"                 # optional, for logs
/// kernel = "debian/linux"        # iPXE boots this ...
/// initrd = ["debian/initrd.gz"]  # ... with these ...
/// cmdline = "console=ttyS0"      # ... and this command line
/// # or: boot_file = "lab/pxelinux.0", next_server = "10.0.0.2", script = "#!ipxe\n...",
/// #     menu_default = "memtest", ignore = true
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// The machine's hardware address.
    pub mac: MacAddr,
    /// Send this machine nothing (dnsmasq's `dhcp-host=MAC,ignore`).
    #[serde(default)]
    pub ignore: bool,
    /// [`Boot::name`].
    #[serde(default)]
    pub name: Option<String>,
    /// [`Boot::boot_file`].
    #[serde(default)]
    pub boot_file: Option<String>,
    /// [`Boot::next_server`].
    #[serde(default)]
    pub next_server: Option<IpAddr>,
    /// [`Boot::script`].
    #[serde(default)]
    pub script: Option<String>,
    /// [`Boot::kernel`].
    #[serde(default)]
    pub kernel: Option<String>,
    /// [`Boot::initrd`].
    #[serde(default)]
    pub initrd: Vec<String>,
    /// [`Boot::cmdline`].
    #[serde(default)]
    pub cmdline: Option<String>,
    /// [`Boot::menu_default`].
    #[serde(default)]
    pub menu_default: Option<String>,
}

impl HostConfig {
    /// The entry as a decision.
    #[must_use]
    pub fn decision(&self) -> Decision {
        if self.ignore {
            return Decision::Ignore;
        }
        Decision::Boot(Boot {
            name: self.name.clone(),
            boot_file: self.boot_file.clone(),
            next_server: self.next_server,
            script: self.script.clone(),
            kernel: self.kernel.clone(),
            initrd: self.initrd.clone(),
            cmdline: self.cmdline.clone(),
            menu_default: self.menu_default.clone(),
        })
    }
}

/// What a decision needs from the server to become a policy entry.
#[derive(Debug, Clone, Default)]
pub struct HostContext {
    /// The server also serves HTTP: scripts are fetched over it.
    pub http: bool,
    /// The configured menu, for [`Boot::menu_default`].
    pub menu: Option<pxe_menu::Menu>,
}

/// A generated file: its name under the root and its contents.
pub type GeneratedFile = (String, Vec<u8>);

/// A machine's entry in the policy's host layer and the files it needs served.
pub type HostEntry = (Host, Vec<GeneratedFile>);

/// A decision as machine `mac`'s entry in the policy's host layer, and the files it needs
/// served (name under the root, contents); `None` for [`Decision::Default`].
pub fn host_entry(
    mac: MacAddr,
    decision: &Decision,
    ctx: &HostContext,
    source: &str,
) -> Result<Option<HostEntry>, String> {
    let boot = match decision {
        Decision::Default => return Ok(None),
        Decision::Ignore => return Ok(Some((Host::ignored(source), Vec::new()))),
        Decision::Boot(b) => b,
    };
    let name = match &boot.name {
        Some(n) => format!("{source} {n}"),
        None => source.to_owned(),
    };
    let dashed = mac.to_dashed().to_string();
    let mut files = Vec::new();
    let mut script = boot.script.clone();
    if script.is_none()
        && let Some(kernel) = &boot.kernel
    {
        script = Some(kernel_script(kernel, &boot.initrd, boot.cmdline.as_deref()));
    }
    if let Some(id) = &boot.menu_default {
        let mut menu = ctx.menu.clone().ok_or_else(|| {
            format!("menu_default = \"{id}\" needs a menu: set `menu = \"/path/menu.toml\"`")
        })?;
        if !menu.entries.iter().any(|e| &e.id == id) {
            return Err(format!(
                "menu_default = \"{id}\": the menu has no entry with this id"
            ));
        }
        menu.default = Some(id.clone());
        files.push((
            format!("pxelinux.cfg/01-{dashed}"),
            menu.render_pxelinux().into_bytes(),
        ));
        if script.is_none() {
            script = Some(menu.render_ipxe());
        }
    }
    let whole = || MacMatch {
        address: mac,
        mask: MacAddr([0xff; 6]),
    };
    let mut rules = Vec::new();
    if let Some(script) = script {
        let path = format!("{}{dashed}.ipxe", files::HOST_DIR);
        let url = if ctx.http {
            format!("http://{{http}}/{path}")
        } else {
            path.clone()
        };
        files.push((path, script.into_bytes()));
        let when = Match {
            firmware: vec![Firmware::Ipxe],
            mac: Some(whole()),
            ..Match::default()
        };
        let mut rule = Rule::new("script", when, &url);
        rule.next_server = boot.next_server;
        rules.push(rule);
    }
    if let Some(file) = &boot.boot_file {
        let when = Match {
            mac: Some(whole()),
            ..Match::default()
        };
        let mut rule = Rule::new("boot-file", when, file);
        rule.next_server = boot.next_server;
        rules.push(rule);
    }
    Ok(Some((Host::with_rules(&name, rules), files)))
}

/// An iPXE script booting `kernel` (RFC 3986 relative names are made absolute, so they are
/// fetched from the root, not next to the script).
fn kernel_script(kernel: &str, initrd: &[String], cmdline: Option<&str>) -> String {
    let url = |name: &str| {
        if name.contains("://") {
            name.to_owned()
        } else {
            format!("/{}", name.trim_start_matches('/'))
        }
    };
    let mut s = format!("#!ipxe\nkernel {}", url(kernel));
    if let Some(c) = cmdline {
        s.push(' ');
        s.push_str(c);
    }
    s.push('\n');
    for i in initrd {
        s.push_str(&format!("initrd {}\n", url(i)));
    }
    s.push_str("boot\n");
    s
}

/// The host layer and files of the static `[[host]]` entries. Refuses two entries for one MAC.
pub fn static_hosts(
    hosts: &[HostConfig],
    ctx: &HostContext,
) -> Result<(std::collections::BTreeMap<MacAddr, Host>, HostFiles), String> {
    let mut layer = std::collections::BTreeMap::new();
    let files = HostFiles::default();
    for h in hosts {
        let source = "host";
        let entry = host_entry(h.mac, &h.decision(), ctx, source)
            .map_err(|e| format!("[[host]] {}: {e}", h.mac))?;
        if let Some((host, generated)) = entry {
            if layer.insert(h.mac, host).is_some() {
                return Err(format!("[[host]] {}: two entries for this MAC", h.mac));
            }
            files.set(h.mac, generated);
        }
    }
    Ok((layer, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

    #[test]
    fn kernel_entries_become_an_ipxe_script_and_a_rule_for_ipxe_only() {
        let d = Decision::Boot(Boot::kernel("debian/linux", &["debian/initrd.gz"], "quiet"));
        let ctx = HostContext {
            http: true,
            menu: None,
        };
        let (host, files) = host_entry(MAC, &d, &ctx, "host").unwrap().unwrap();
        assert_eq!(host.rules.len(), 1);
        assert_eq!(
            host.rules[0].boot_file,
            "http://{http}/_pxe/host/52-54-00-12-34-56.ipxe"
        );
        assert_eq!(host.rules[0].when.firmware, [Firmware::Ipxe]);
        assert_eq!(files[0].0, "_pxe/host/52-54-00-12-34-56.ipxe");
        assert_eq!(
            String::from_utf8_lossy(&files[0].1),
            "#!ipxe\nkernel /debian/linux quiet\ninitrd /debian/initrd.gz\nboot\n"
        );
        // Without HTTP the script is fetched over TFTP.
        let (host, _) = host_entry(MAC, &d, &HostContext::default(), "host")
            .unwrap()
            .unwrap();
        assert_eq!(host.rules[0].boot_file, "_pxe/host/52-54-00-12-34-56.ipxe");
    }

    #[test]
    fn host_table_parses_and_menu_defaults_need_a_menu_entry() {
        #[derive(Deserialize)]
        struct T {
            host: Vec<HostConfig>,
        }
        let t: T = toml::from_str(
            r#"
            [[host]]
            mac = "52:54:00:12:34:56"
            name = "lab-1"
            boot_file = "lab/pxelinux.0"
            next_server = "10.0.0.2"
            [[host]]
            mac = "52:54:00:00:00:02"
            ignore = true
            [[host]]
            mac = "52:54:00:00:00:03"
            menu_default = "memtest"
            "#,
        )
        .unwrap();
        assert_eq!(t.host[1].decision(), Decision::Ignore);
        let e = static_hosts(&t.host, &HostContext::default()).unwrap_err();
        assert!(e.contains("needs a menu"), "{e}");
        let mut menu = pxe_menu::Menu::starter();
        let id = menu.entries[0].id.clone();
        menu.default = None;
        let mut hosts = t.host.clone();
        hosts[2].menu_default = Some(id.clone());
        let ctx = HostContext {
            http: false,
            menu: Some(menu),
        };
        let (layer, files) = static_hosts(&hosts, &ctx).unwrap();
        assert_eq!(layer.len(), 3);
        assert!(layer[&hosts[1].mac].ignore);
        let lab = &layer[&MAC];
        assert_eq!(lab.name, "host lab-1");
        assert_eq!(lab.rules[0].next_server, Some("10.0.0.2".parse().unwrap()));
        let pxelinux = files
            .get(b"pxelinux.cfg/01-52-54-00-00-00-03")
            .expect("per-MAC pxelinux file");
        let text = String::from_utf8_lossy(&pxelinux);
        assert!(text.contains(&format!("DEFAULT {id}")), "{text}");
        hosts.push(hosts[0].clone());
        assert!(
            static_hosts(&hosts, &ctx)
                .unwrap_err()
                .contains("two entries")
        );
    }

    #[tokio::test]
    async fn static_rules_decide_like_the_core() {
        let rules = StaticRules::new(Policy::default(), Ipv4Addr::new(10, 0, 0, 1));
        let mut c = Client::new(MAC, Firmware::PxeRom);
        c.arch = Some(7);
        match rules.decide(&c).await {
            Decision::Boot(b) => assert_eq!(b.boot_file.as_deref(), Some("ipxe.efi")),
            other => panic!("{other:?}"),
        }
        let other = Client::new(MAC, Firmware::Other);
        assert_eq!(rules.decide(&other).await, Decision::Ignore);
    }
}
