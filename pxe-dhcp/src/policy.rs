//! The boot policy: an ordered, declarative rule list that says what each client boots.
//!
//! The first rule whose [`Match`] fits the [`ClientInfo`] wins. Every [`BootDecision`] carries a
//! `reason` naming the client, its architecture, its firmware and the rule, which the server
//! logs as one line per decision.
//!
//! # The default rules (loop-proof chainloading)
//!
//! | # | name | matches | boot file |
//! |---|---|---|---|
//! | 1 | `pxe-bios` | PXE ROM, BIOS | `undionly.kpxe` |
//! | 2 | `pxe-uefi-x64` | PXE ROM, x64 UEFI (arch 7 or 9) | `ipxe.efi` |
//! | 3 | `pxe-uefi-arm64` | PXE ROM, ARM64 UEFI (arch 11) | `ipxe-arm64.efi` |
//! | 4 | `ipxe-bios` | iPXE, BIOS | `pxelinux.0` |
//! | 5 | `ipxe` | iPXE, any other arch | `boot.ipxe` |
//! | 6 | `http-x64` | HTTPClient, x64 | `http://{http}/ipxe.efi` |
//! | 7 | `http-arm64` | HTTPClient, ARM64 | `http://{http}/ipxe-arm64.efi` |
//!
//! iPXE is recognised by user class `iPXE` *or* option 175, so it never gets an iPXE binary
//! again. In a boot file, `{server}` is replaced by the decision's next-server address, `{http}`
//! by the address of the boot server's HTTP service (the next-server address, with
//! `:`[`Policy::http_port`] unless that is 80), and `{mac}` by the client's MAC in pxelinux form
//! (`52-54-00-12-34-56`).
//!
//! # Boot files over HTTP ([`Policy::with_http`])
//!
//! When the server also serves its root over HTTP, rule 5 (`ipxe`) sends
//! `http://{http}/boot.ipxe` instead of `boot.ipxe`: iPXE resolves the script's relative URLs
//! (kernels, initrds, ISOs) against the script's own, so everything it loads then comes over
//! HTTP, at line rate, where iPXE's TFTP is lock-step. BIOS iPXE keeps `pxelinux.0` over TFTP:
//! pxelinux fetches its files over TFTP whatever URL loaded it.
//!
//! # UEFI Secure Boot: the signed chain ([`UefiChain`])
//!
//! `ipxe.efi` is not signed, so a UEFI machine with Secure Boot on refuses it. The signed chain
//! is Debian's `shim-signed` (signed by Microsoft's UEFI CA) → the netboot GRUB of
//! `grub-efi-amd64-signed` (signed by Debian, checked by shim) → a signed kernel (checked by
//! GRUB through shim). [`Policy::with_uefi_chain`] (`[dhcp] uefi = "shim"`) sends x64 UEFI PXE
//! ROMs to [`SHIM_X64`] instead of `ipxe.efi`; a rule's own `uefi` field does the same for
//! the clients it matches (a lab's Secure Boot machines by MAC, say). Shim then loads
//! [`GRUB_X64`] from the same TFTP directory (shim's `DEFAULT_LOADER`, `\grubx64.efi`), and
//! that GRUB reads [`GRUB_CFG`]: its prefix is built in as `/grub` on the boot server
//! (`grub-mkimage --prefix=/grub` in Debian's `build-efi-images`; `strings` on the image
//! shows it beside the embedded `source $prefix/grub.cfg`). While UEFI clients get `ipxe.efi`,
//! every such decision says in its reason that a Secure Boot machine will refuse it.
//!
//! # Chainloading iPXE ROMs anyway (`once`)
//!
//! Measured in QEMU (`pxe-bin/tests/firmware_boot.rs` boots this path): an iPXE NIC ROM and
//! the `undionly.kpxe` it would chainload send the *same* identifiers — option 77 `iPXE`, option 175, option 60
//! `PXEClient:Arch:00000:UNDI:002001`, option 93 `0000` — so no packet-only test can tell the ROM
//! from the chained build. A rule that sends iPXE ROMs to `undionly.kpxe` therefore carries
//! `once = true`: it applies to one DHCP transaction (one `xid`) per client MAC within
//! [`Policy::once_window_secs`]; the chained iPXE's next request (a new `xid`) skips it and falls
//! through to the iPXE rules (user class `iPXE` → `pxelinux.0`), which end the loop. If a machine
//! reboots inside the window, its ROM goes straight to the next stage, which it can run too.
//! For custom iPXE builds, [`Match::user_class`] / [`Match::not_user_class`] (a custom
//! `user-class`) and [`Match::ipxe_feature`] (an option 175 sub-option) tell builds apart without
//! state. Such a configuration, in TOML:
//!
//! ```toml
//! [[rules]]
//! name = "chain-ipxe-rom"
//! once = true
//! boot_file = "undionly.kpxe"
//! match = { firmware = ["ipxe"], arch = ["bios"] }
//! # ... followed by the default rules (Policy::default().rules)
//! ```

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr};

use pxe_proto::MacAddr;

use crate::pxe::{ArchKind, ClientInfo, Firmware, IpFamily};
use crate::wire::DhcpOption;

/// The first file of the signed UEFI chain: shim, as `shim-signed` ships it
/// (`/usr/lib/shim/shimx64.efi.signed`).
pub const SHIM_X64: &str = "shimx64.efi";
/// The name shim loads next from its own directory: the signed netboot GRUB
/// (`/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed`).
pub const GRUB_X64: &str = "grubx64.efi";
/// Where that GRUB reads its menu: `$prefix/grub.cfg` with the built-in prefix `/grub`, on the
/// TFTP server it was loaded from.
pub const GRUB_CFG: &str = "grub/grub.cfg";
/// iPXE for x64 UEFI (`ipxe` package: `/usr/lib/ipxe/ipxe.efi`); not signed.
pub const IPXE_X64: &str = "ipxe.efi";
/// iPXE for ARM64 UEFI.
pub const IPXE_ARM64: &str = "ipxe-arm64.efi";

/// Which chain UEFI PXE clients start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum UefiChain {
    /// iPXE (`ipxe.efi`): fast (HTTP), scriptable, but unsigned: refused under Secure Boot.
    #[default]
    Ipxe,
    /// The signed chain shim → GRUB → kernel ([`SHIM_X64`], [`GRUB_X64`], [`GRUB_CFG`]); x64
    /// only (ARM64 clients keep iPXE).
    Shim,
}

impl UefiChain {
    /// The name used in configs and logs.
    pub fn name(self) -> &'static str {
        match self {
            UefiChain::Ipxe => "ipxe",
            UefiChain::Shim => "shim",
        }
    }

    /// The first file this chain boots on `arch`; `None` when it has none for it.
    pub fn boot_file(self, arch: ArchKind) -> Option<&'static str> {
        match (self, arch) {
            (UefiChain::Ipxe, ArchKind::X64Uefi) => Some(IPXE_X64),
            (UefiChain::Ipxe, ArchKind::Arm64Uefi) => Some(IPXE_ARM64),
            (UefiChain::Shim, ArchKind::X64Uefi) => Some(SHIM_X64),
            _ => None,
        }
    }

    /// Every file of the chain that starts with `boot_file`, relative to the root: the files a
    /// server must hold for a client sent to `boot_file` to come up.
    pub fn files_after(boot_file: &str) -> &'static [&'static str] {
        if boot_file == SHIM_X64 {
            &[SHIM_X64, GRUB_X64, GRUB_CFG]
        } else {
            &[]
        }
    }
}

/// Why a UEFI client sent to unsigned iPXE may not come up, added to the decision's reason.
pub const SECURE_BOOT_NOTE: &str = "ipxe.efi is unsigned: with Secure Boot on, this machine \
     refuses it and does not boot; set [dhcp] uefi = \"shim\" (or uefi = \"shim\" on a rule \
     matching it) for the signed shim → GRUB chain";

/// A MAC address with a mask (`52:54:00:00:00:00` / `ff:ff:ff:00:00:00` matches a vendor prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MacMatch {
    /// The address to compare with (after masking).
    pub address: MacAddr,
    /// The mask; all ones (exact match) when omitted.
    #[cfg_attr(feature = "serde", serde(default = "all_ones"))]
    pub mask: MacAddr,
}

#[cfg(feature = "serde")]
fn all_ones() -> MacAddr {
    MacAddr::BROADCAST
}

impl MacMatch {
    /// Whether `mac` matches.
    pub fn matches(&self, mac: MacAddr) -> bool {
        mac.masked(&self.mask) == self.address.masked(&self.mask)
    }
}

/// What a rule matches. Every field that is set must match; an empty list or `None` matches
/// anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct Match {
    /// The IP version of the request (`v4`, `v6`); either when omitted.
    pub family: Option<IpFamily>,
    /// Firmware kinds (`pxe`, `ipxe`, `http-client`, `other`).
    pub firmware: Vec<Firmware>,
    /// Architecture classes (`bios`, `x64-uefi`, `arm64-uefi`, ...); any of the client's
    /// option 93 entries may match.
    pub arch: Vec<ArchKind>,
    /// Exact option 93 codes.
    pub arch_code: Vec<u16>,
    /// Client MAC, with a mask.
    pub mac: Option<MacMatch>,
    /// Option 60 prefix (`PXEClient`, `HTTPClient`, `HW-Client`).
    pub vendor_class: Option<String>,
    /// A user class (option 77) the client must send.
    pub user_class: Option<String>,
    /// A user class the client must not send.
    pub not_user_class: Option<String>,
    /// An option 175 sub-option the client must send (an iPXE feature or setting code).
    pub ipxe_feature: Option<u8>,
    /// An option 175 sub-option the client must not send.
    pub not_ipxe_feature: Option<u8>,
}

impl Match {
    /// Whether `c` satisfies every condition.
    pub fn matches(&self, c: &ClientInfo) -> bool {
        let arch_ok = self.arch.is_empty() || c.archs.iter().any(|a| self.arch.contains(&a.kind()));
        let code_ok =
            self.arch_code.is_empty() || c.archs.iter().any(|a| self.arch_code.contains(&a.0));
        let feature = |code: u8| c.ipxe.as_ref().is_some_and(|e| e.get(code).is_some());
        self.family.is_none_or(|f| f == c.ip_family())
            && (self.firmware.is_empty() || self.firmware.contains(&c.firmware))
            && arch_ok
            && code_ok
            && self.mac.is_none_or(|m| m.matches(c.mac))
            && self
                .vendor_class
                .as_ref()
                .is_none_or(|p| c.vendor_class.starts_with(p.as_bytes()))
            && self
                .user_class
                .as_ref()
                .is_none_or(|u| c.has_user_class(u.as_bytes()))
            && self
                .not_user_class
                .as_ref()
                .is_none_or(|u| !c.has_user_class(u.as_bytes()))
            && self.ipxe_feature.is_none_or(feature)
            && self.not_ipxe_feature.is_none_or(|f| !feature(f))
    }
}

/// The value of an extra option a rule sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum ExtraValue {
    /// A string (no NUL added).
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// IPv4 addresses.
    Ip(Vec<Ipv4Addr>),
    /// One byte.
    U8(u8),
    /// A big-endian u16.
    U16(u16),
    /// A big-endian u32.
    U32(u32),
}

/// An extra option a rule adds to its replies (e.g. 209 pxelinux config file).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExtraOption {
    /// Option code.
    pub code: u8,
    /// Value.
    pub value: ExtraValue,
}

impl ExtraOption {
    /// The option in typed form (or [`DhcpOption::Unknown`] if the bytes do not fit the code's
    /// type, so a configured value is always sent as written).
    pub fn to_option(&self) -> DhcpOption {
        let data: Vec<u8> = match &self.value {
            ExtraValue::Text(s) => s.as_bytes().to_vec(),
            ExtraValue::Bytes(b) => b.clone(),
            ExtraValue::Ip(ips) => ips.iter().flat_map(|i| i.octets()).collect(),
            ExtraValue::U8(v) => alloc::vec![*v],
            ExtraValue::U16(v) => v.to_be_bytes().to_vec(),
            ExtraValue::U32(v) => v.to_be_bytes().to_vec(),
        };
        // Typed only when that re-encodes to the same bytes: a PXE option 43 without its End
        // sub-option, or with bytes after it, would otherwise be "repaired" on the way out.
        match DhcpOption::decode(self.code, &data) {
            Ok(typed) if encodes_to(&typed, &data) => typed,
            _ => DhcpOption::Unknown {
                code: self.code,
                data,
            },
        }
    }
}

fn encodes_to(o: &DhcpOption, data: &[u8]) -> bool {
    let mut out = Vec::with_capacity(data.len());
    o.encode_value(&mut out);
    out == data
}

/// One rule: a match and what to boot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct Rule {
    /// A name for logs.
    pub name: String,
    /// The conditions.
    #[cfg_attr(feature = "serde", serde(rename = "match", default))]
    pub when: Match,
    /// Boot file (`file` field, and option 67 when asked); may contain `{server}`, `{http}` and
    /// `{mac}` (see the module docs). May be empty when [`Rule::uefi`] is set: the rule then
    /// applies only to the UEFI clients that chain has a file for.
    #[cfg_attr(feature = "serde", serde(default))]
    pub boot_file: String,
    /// For UEFI clients the rule matches, boot this chain's first file
    /// ([`UefiChain::boot_file`]) instead of `boot_file`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub uefi: Option<UefiChain>,
    /// Next server (`siaddr`; the host in a DHCPv6 boot URL); the responder's own address when
    /// `None` or of the other IP version than the request.
    #[cfg_attr(feature = "serde", serde(default))]
    pub next_server: Option<IpAddr>,
    /// Server host name (`sname`, and option 66 when asked).
    #[cfg_attr(feature = "serde", serde(default))]
    pub server_name: Option<String>,
    /// Extra options to send.
    #[cfg_attr(feature = "serde", serde(default))]
    pub options: Vec<ExtraOption>,
    /// Apply to one transaction per client within [`Policy::once_window_secs`] (see the module
    /// docs: chainloading iPXE ROMs).
    #[cfg_attr(feature = "serde", serde(default))]
    pub once: bool,
}

impl Rule {
    /// A rule matching `when` that boots `boot_file`.
    pub fn new(name: &str, when: Match, boot_file: &str) -> Rule {
        Rule {
            name: name.to_string(),
            when,
            boot_file: boot_file.to_string(),
            uefi: None,
            next_server: None,
            server_name: None,
            options: Vec::new(),
            once: false,
        }
    }
}

/// The rule list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Policy {
    /// Rules in priority order.
    pub rules: Vec<Rule>,
    /// How long a `once` rule stays used for a client, in seconds.
    #[cfg_attr(feature = "serde", serde(default = "default_once_window"))]
    pub once_window_secs: u32,
    /// The TCP port of the boot server's HTTP service, for `{http}` in boot files: set by the
    /// driver to the port it serves HTTP on. 80 (the default) is left out of URLs.
    #[cfg_attr(feature = "serde", serde(default = "default_http_port"))]
    pub http_port: u16,
    /// Per-machine answers, tried before [`Policy::rules`] for their MAC: the host layer
    /// (static host entries and answers from a per-machine decider). Not part of the rule
    /// file's form: a driver fills it.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub hosts: BTreeMap<MacAddr, Host>,
}

/// What one machine gets, whatever the rules say: its own rules (tried in order before the
/// policy's; when none matches, the policy's rules decide), or no answer at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Host {
    /// Where the answer comes from, for the decision's reason (`host lab-1`, `decider`).
    pub name: String,
    /// Rules for this machine alone; their `once` flag is ignored.
    pub rules: Vec<Rule>,
    /// Send this machine nothing (dnsmasq's `dhcp-host=MAC,ignore`).
    pub ignore: bool,
}

impl Host {
    /// A host answered by `rules`.
    pub fn with_rules(name: &str, rules: Vec<Rule>) -> Host {
        Host {
            name: name.to_string(),
            rules,
            ignore: false,
        }
    }

    /// A host that gets no answer.
    pub fn ignored(name: &str) -> Host {
        Host {
            name: name.to_string(),
            rules: Vec::new(),
            ignore: true,
        }
    }
}

/// Default for [`Policy::http_port`]: HTTP's well-known port (RFC 9110 §4.2.1).
pub const DEFAULT_HTTP_PORT: u16 = 80;

#[cfg(feature = "serde")]
fn default_http_port() -> u16 {
    DEFAULT_HTTP_PORT
}

/// Default for [`Policy::once_window_secs`]: long enough for a ROM to fetch and start
/// `undionly.kpxe` under emulation, short enough that the next boot chains again.
pub const DEFAULT_ONCE_WINDOW_SECS: u32 = 120;

#[cfg(feature = "serde")]
fn default_once_window() -> u32 {
    DEFAULT_ONCE_WINDOW_SECS
}

/// What a client boots, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootDecision {
    /// Index of the rule in [`Policy::rules`] (0-based; the reason counts from 1), or in its
    /// host's rules when [`BootDecision::host`] is set.
    pub rule_index: usize,
    /// The rule came from the host layer ([`Policy::hosts`]), not from [`Policy::rules`].
    pub host: bool,
    /// The rule's name.
    pub rule_name: String,
    /// Whether the rule is a `once` rule (the responder records its use).
    pub once: bool,
    /// The boot file with `{server}`/`{http}`/`{mac}` filled in. For a DHCPv6 client always a
    /// URL (RFC 5970 §3.1): a bare name becomes `tftp://[server]/name`.
    pub boot_file: String,
    /// `siaddr` (DHCPv4), or the host of the boot URL (DHCPv6).
    pub next_server: IpAddr,
    /// `sname`, if configured.
    pub server_name: Option<String>,
    /// Extra options.
    pub options: Vec<DhcpOption>,
    /// Human-readable reason, e.g. `52:54:00:12:34:56 arch 7 = x64 UEFI, PXE ROM (UNDI 3.0), no
    /// iPXE user class → ipxe.efi by rule 2 (pxe-uefi-x64)`.
    pub reason: String,
}

impl Default for Policy {
    fn default() -> Self {
        let m = |fw: Firmware, arch: &[ArchKind]| Match {
            firmware: alloc::vec![fw],
            arch: arch.to_vec(),
            ..Match::default()
        };
        Policy {
            rules: alloc::vec![
                Rule::new(
                    "pxe-bios",
                    m(Firmware::PxeRom, &[ArchKind::Bios]),
                    "undionly.kpxe"
                ),
                Rule::new(
                    "pxe-uefi-x64",
                    m(Firmware::PxeRom, &[ArchKind::X64Uefi]),
                    "ipxe.efi"
                ),
                Rule::new(
                    "pxe-uefi-arm64",
                    m(Firmware::PxeRom, &[ArchKind::Arm64Uefi]),
                    "ipxe-arm64.efi"
                ),
                Rule::new(
                    "ipxe-bios",
                    m(Firmware::Ipxe, &[ArchKind::Bios]),
                    "pxelinux.0"
                ),
                Rule::new("ipxe", m(Firmware::Ipxe, &[]), "boot.ipxe"),
                Rule::new(
                    "http-x64",
                    m(Firmware::HttpClient, &[ArchKind::X64Uefi]),
                    "http://{http}/ipxe.efi"
                ),
                Rule::new(
                    "http-arm64",
                    m(Firmware::HttpClient, &[ArchKind::Arm64Uefi]),
                    "http://{http}/ipxe-arm64.efi"
                ),
            ],
            once_window_secs: DEFAULT_ONCE_WINDOW_SECS,
            http_port: DEFAULT_HTTP_PORT,
            hosts: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// The default rules of a server that also serves its root over HTTP on `port`: iPXE
    /// clients other than BIOS (rule `ipxe`) get `http://{http}/boot.ipxe`, so the script and
    /// everything it loads by relative URL come over HTTP (module docs); the rest as
    /// [`Policy::default`].
    pub fn with_http(port: u16) -> Policy {
        let mut policy = Policy {
            http_port: port,
            ..Policy::default()
        };
        for rule in &mut policy.rules {
            if rule.name == "ipxe" {
                rule.boot_file = "http://{http}/boot.ipxe".to_string();
            }
        }
        policy
    }

    /// These rules with x64 UEFI PXE ROMs (default rule `pxe-uefi-x64`) sent to `chain`'s first
    /// file: [`UefiChain::Shim`] for fleets with Secure Boot on (module docs).
    #[must_use]
    pub fn with_uefi_chain(mut self, chain: UefiChain) -> Policy {
        for rule in &mut self.rules {
            if rule.name == "pxe-uefi-x64"
                && let Some(file) = chain.boot_file(ArchKind::X64Uefi)
            {
                rule.boot_file = file.to_string();
            }
        }
        self
    }

    /// `{http}`: `server` (in brackets if IPv6, RFC 3986 §3.2.2), with `:port` unless
    /// [`Policy::http_port`] is 80.
    fn http_authority(&self, server: IpAddr) -> String {
        let host = url_host(server);
        if self.http_port == DEFAULT_HTTP_PORT {
            host
        } else {
            format!("{host}:{}", self.http_port)
        }
    }

    /// Decides for `client`, with `server` as the default next server (an address of the same
    /// IP version as the request). Stateless: `once` rules are treated like any other (use
    /// [`Policy::decide_with`] to skip used ones).
    pub fn decide(&self, client: &ClientInfo, server: impl Into<IpAddr>) -> Option<BootDecision> {
        self.decide_with(client, server, |_, _| false)
    }

    /// `rules` first, then `under`'s rules (the built-in rules, typically [`Policy::default`] or
    /// [`Policy::with_http`]), with `under`'s other settings. The first match wins, so a rule
    /// of `rules` overrides the built-in ones for the clients it matches and they serve the
    /// rest. Appending keeps the positions of `rules`, by which the responders remember used
    /// `once` rules; the built-in rules have no `once` rule, so a configured `once` rule
    /// chaining iPXE ROMs to undionly.kpxe falls through to the built-in `ipxe-bios` rule on the
    /// chained iPXE's next transaction, which ends the loop (module docs). Check
    /// [`Policy::name_clash`] first: two rules of one name make a decision's reason ambiguous.
    pub fn layered(rules: Vec<Rule>, under: Policy) -> Policy {
        let mut all = rules;
        all.extend(under.rules);
        Policy {
            rules: all,
            ..under
        }
    }

    /// The first rule of `rules` named like one of `self`'s (the built-in rules a
    /// [`Policy::layered`] policy puts under them).
    pub fn name_clash<'a>(&self, rules: &'a [Rule]) -> Option<&'a Rule> {
        rules
            .iter()
            .find(|r| self.rules.iter().any(|d| d.name == r.name))
    }

    /// The files under the boot server's root this policy sends clients to, each with the
    /// first rule naming it, in rule order: names without a scheme, and with `http`
    /// (the server also serves its root over HTTP) `http://{http}/NAME` too. Boot files with
    /// other placeholders or URLs elsewhere are not the server's files.
    ///
    /// Rules after one that matches every client (an empty `match`, not `once`) are never
    /// reached, so their files are left out: a configured catch-all hides the built-in files.
    pub fn referenced_files(&self, http: bool) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = Vec::new();
        for r in &self.rules {
            // A rule that boots a UEFI chain (and maybe a file for the others) may not catch all.
            let catch_all = r.when == Match::default() && !r.once && r.uefi.is_none();
            let mut named: Vec<&str> = Vec::new();
            if let Some(chain) = r.uefi {
                named.extend(
                    [ArchKind::X64Uefi, ArchKind::Arm64Uefi]
                        .into_iter()
                        .filter_map(|a| chain.boot_file(a)),
                );
            }
            if !r.boot_file.is_empty() {
                named.push(&r.boot_file);
            }
            for boot_file in named {
                let local = match boot_file.strip_prefix("http://{http}/") {
                    Some(name) if http => Some(name),
                    Some(_) => None,
                    None => Some(boot_file),
                };
                let Some(name) = local.filter(|f| !(f.contains("://") || f.contains('{'))) else {
                    continue;
                };
                let name = name.trim_start_matches('/');
                // The signed chain's later files (GRUB, grub.cfg) are fetched by the chain itself.
                let chain = UefiChain::files_after(name);
                for f in core::iter::once(name).chain(chain.iter().copied().skip(1)) {
                    if !files.iter().any(|(g, _)| g == f) {
                        files.push((f.to_string(), r.name.clone()));
                    }
                }
            }
            if catch_all {
                break;
            }
        }
        files
    }

    /// Whether the host layer says to send `mac` nothing.
    pub fn ignores(&self, mac: MacAddr) -> bool {
        self.hosts.get(&mac).is_some_and(|h| h.ignore)
    }

    /// Decides for `client`, skipping every rule for which `skip(index, rule)` is true (the
    /// responders skip `once` rules already used by this client). The client's host rules
    /// ([`Policy::hosts`]) come first.
    ///
    /// For a DHCPv6 client the boot file is a URL (RFC 5970 §3.1): `{server}` becomes the
    /// bracketed address, and a boot file that is not a URL becomes `tftp://[server]/file`.
    pub fn decide_with(
        &self,
        client: &ClientInfo,
        server: impl Into<IpAddr>,
        skip: impl Fn(usize, &Rule) -> bool,
    ) -> Option<BootDecision> {
        let server = server.into();
        if let Some(host) = self.hosts.get(&client.mac).filter(|h| !h.ignore) {
            for (i, rule) in host.rules.iter().enumerate() {
                if rule.when.matches(client) {
                    let by = format!("{} rule {} ({})", host.name, i + 1, rule.name);
                    if let Some(d) = self.decision(client, server, rule, i, true, &by, "") {
                        return Some(d);
                    }
                }
            }
        }
        let mut skipped = String::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.when.matches(client) {
                continue;
            }
            if skip(i, rule) {
                skipped.push_str(&format!(
                    " (rule {} {} skipped: already used by this client)",
                    i + 1,
                    rule.name
                ));
                continue;
            }
            let by = format!("rule {} ({})", i + 1, rule.name);
            match self.decision(client, server, rule, i, false, &by, &skipped) {
                Some(d) => return Some(d),
                // A `uefi` rule without `boot_file`, for an arch its chain has no file for.
                None => continue,
            }
        }
        None
    }

    /// The decision `rule` (at `index`) makes for `client`; `by` names it in the reason. None
    /// for a `uefi` rule without `boot_file` when its chain has no file for the client's archs.
    #[allow(
        clippy::too_many_arguments,
        reason = "the rule, its index, the client and what the reply needs, all read once"
    )]
    fn decision(
        &self,
        client: &ClientInfo,
        server: IpAddr,
        rule: &Rule,
        index: usize,
        host: bool,
        by: &str,
        skipped: &str,
    ) -> Option<BootDecision> {
        // A `uefi` rule boots its chain on the UEFI archs the chain has a file for, and
        // `boot_file` (when set) on the others.
        let chain_file = rule
            .uefi
            .and_then(|chain| client.archs.iter().find_map(|a| chain.boot_file(a.kind())));
        let template = match chain_file {
            Some(file) => file,
            None if rule.boot_file.is_empty() => return None,
            None => rule.boot_file.as_str(),
        };
        let next_server = rule
            .next_server
            .filter(|n| n.is_ipv6() == server.is_ipv6())
            .unwrap_or(server);
        let mut boot_file = template
            .replace("{server}", &url_host(next_server))
            .replace("{http}", &self.http_authority(next_server))
            .replace("{mac}", &client.mac.to_dashed().to_string());
        let unsigned = client.firmware == Firmware::PxeRom
            && (boot_file == IPXE_X64 || boot_file == IPXE_ARM64);
        if client.ip_family() == IpFamily::V6 && !boot_file.contains("://") {
            boot_file = format!(
                "tftp://{}/{}",
                url_host(next_server),
                boot_file.trim_start_matches('/')
            );
        }
        let note = if unsigned {
            format!(" ({SECURE_BOOT_NOTE})")
        } else {
            String::new()
        };
        let reason = format!("{client} → {boot_file} by {by}{skipped}{note}");
        Some(BootDecision {
            rule_index: index,
            host,
            rule_name: rule.name.clone(),
            once: rule.once && !host,
            boot_file,
            next_server,
            server_name: rule.server_name.clone(),
            options: rule.options.iter().map(ExtraOption::to_option).collect(),
            reason,
        })
    }
}

/// An address as a URL host: IPv6 in brackets (RFC 3986 §3.2.2).
fn url_host(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{OptionCode, PxeSubOption, VendorOptions};

    fn extra(code: u8, bytes: &[u8]) -> DhcpOption {
        ExtraOption {
            code,
            value: ExtraValue::Bytes(bytes.to_vec()),
        }
        .to_option()
    }

    fn client(firmware: Firmware, arch: u16) -> ClientInfo {
        ClientInfo {
            mac: MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            xid: 1,
            family: crate::pxe::Family::V4 { message_type: None },
            firmware,
            archs: alloc::vec![crate::pxe::Arch(arch)],
            undi: None,
            uuid: None,
            vendor_class: Vec::new(),
            user_classes: Vec::new(),
            ipxe: None,
        }
    }

    #[test]
    fn layering_keeps_user_rules_first_and_finds_clashes_and_files() {
        let mine = alloc::vec![
            Rule::new("lab", Match::default(), "lab/pxelinux.0"),
            Rule::new("ipxe", Match::default(), "x"),
        ];
        let defaults = Policy::with_http(8080);
        assert_eq!(
            defaults.name_clash(&mine).map(|r| r.name.as_str()),
            Some("ipxe")
        );
        assert_eq!(defaults.name_clash(&mine[..1]), None);
        let layered = Policy::layered(mine[..1].to_vec(), defaults.clone());
        assert_eq!(layered.rules[0].name, "lab");
        assert_eq!(layered.rules.len(), 1 + defaults.rules.len());
        assert_eq!(layered.http_port, 8080);
        // The catch-all hides the built-in rules' files.
        assert_eq!(
            layered.referenced_files(true),
            alloc::vec![("lab/pxelinux.0".to_string(), "lab".to_string())]
        );
        let files = defaults.referenced_files(true);
        assert!(
            files.contains(&("boot.ipxe".into(), "ipxe".into())),
            "{files:?}"
        );
        assert!(
            !defaults
                .referenced_files(false)
                .iter()
                .any(|(f, _)| f == "boot.ipxe")
        );
    }

    #[test]
    fn host_rules_come_first_and_fall_through_to_the_policy() {
        let mut policy = Policy::default();
        let mac = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        let ipxe_only = Match {
            firmware: alloc::vec![Firmware::Ipxe],
            ..Match::default()
        };
        policy.hosts.insert(
            mac,
            Host::with_rules(
                "host lab-1",
                alloc::vec![Rule::new(
                    "script",
                    ipxe_only,
                    "http://{http}/_pxe/host/{mac}.ipxe"
                )],
            ),
        );
        let server = Ipv4Addr::new(10, 0, 0, 1);
        let ipxe = client(Firmware::Ipxe, 7);
        let d = policy.decide(&ipxe, server).unwrap();
        assert!(d.host && !d.once);
        assert_eq!(
            d.boot_file,
            "http://10.0.0.1/_pxe/host/52-54-00-12-34-56.ipxe"
        );
        assert!(
            d.reason.contains("by host lab-1 rule 1 (script)"),
            "{}",
            d.reason
        );
        // The PXE ROM stage is the policy's: chainload iPXE first.
        let rom = policy.decide(&client(Firmware::PxeRom, 7), server).unwrap();
        assert_eq!((rom.boot_file.as_str(), rom.host), ("ipxe.efi", false));
        assert!(!policy.ignores(mac));
        policy.hosts.insert(mac, Host::ignored("host lab-1"));
        assert!(policy.ignores(mac));
    }

    #[test]
    fn http_placeholder_carries_the_port_unless_80() {
        let server = Ipv4Addr::new(192, 168, 1, 1);
        let uefi_http = client(Firmware::HttpClient, 16);
        let file = |p: &Policy| p.decide(&uefi_http, server).expect("rule").boot_file;
        assert_eq!(file(&Policy::default()), "http://192.168.1.1/ipxe.efi");
        assert_eq!(file(&Policy::with_http(80)), "http://192.168.1.1/ipxe.efi");
        assert_eq!(
            file(&Policy::with_http(8080)),
            "http://192.168.1.1:8080/ipxe.efi"
        );
        let mut custom = Policy {
            rules: alloc::vec![Rule::new(
                "c",
                Match::default(),
                "http://{http}/{mac}.ipxe tftp://{server}/x"
            )],
            ..Policy::with_http(6980)
        };
        custom.rules[0].next_server = Some(Ipv4Addr::new(10, 0, 0, 9).into());
        assert_eq!(
            file(&custom),
            "http://10.0.0.9:6980/52-54-00-12-34-56.ipxe tftp://10.0.0.9/x"
        );
    }

    #[test]
    fn uefi_shim_chain_sends_x64_pxe_roms_to_shim_and_leaves_the_rest() {
        let server = Ipv4Addr::new(192, 168, 1, 1);
        let p = Policy::default().with_uefi_chain(UefiChain::Shim);
        let file = |fw, arch| p.decide(&client(fw, arch), server).expect("rule");
        for arch in [7, 9] {
            let d = file(Firmware::PxeRom, arch);
            assert_eq!((d.boot_file.as_str(), d.rule_index), (SHIM_X64, 1));
            assert!(!d.reason.contains("unsigned"), "{}", d.reason);
        }
        assert_eq!(file(Firmware::PxeRom, 11).boot_file, IPXE_ARM64);
        assert_eq!(file(Firmware::PxeRom, 0).boot_file, "undionly.kpxe");
        assert_eq!(file(Firmware::Ipxe, 7).boot_file, "boot.ipxe");
        assert_eq!(
            Policy::default().with_uefi_chain(UefiChain::Ipxe),
            Policy::default()
        );
    }

    #[test]
    fn ipxe_efi_decisions_say_secure_boot_refuses_them() {
        let server = Ipv4Addr::new(192, 168, 1, 1);
        let d = Policy::default()
            .decide(&client(Firmware::PxeRom, 7), server)
            .expect("rule");
        assert_eq!(d.boot_file, IPXE_X64);
        assert!(d.reason.contains(SECURE_BOOT_NOTE), "{}", d.reason);
        // iPXE itself is running already: no note.
        let d = Policy::default()
            .decide(&client(Firmware::Ipxe, 7), server)
            .expect("rule");
        assert!(!d.reason.contains("unsigned"), "{}", d.reason);
    }

    #[test]
    fn a_rule_with_uefi_picks_the_chain_for_the_uefi_clients_it_matches() {
        let server = Ipv4Addr::new(192, 168, 1, 1);
        let mut sb = Rule::new("secure-boot-lab", Match::default(), "");
        sb.uefi = Some(UefiChain::Shim);
        let mut p = Policy::default();
        p.rules.insert(0, sb.clone());
        let d = p
            .decide(&client(Firmware::PxeRom, 7), server)
            .expect("rule");
        assert_eq!((d.boot_file.as_str(), d.rule_index), (SHIM_X64, 0));
        // No shim for BIOS or ARM64: the rule does not apply, the defaults decide.
        let d = p
            .decide(&client(Firmware::PxeRom, 0), server)
            .expect("rule");
        assert_eq!((d.boot_file.as_str(), d.rule_index), ("undionly.kpxe", 1));
        let d = p
            .decide(&client(Firmware::PxeRom, 11), server)
            .expect("rule");
        assert_eq!(d.boot_file, IPXE_ARM64);
        // With a boot_file too, the others get that.
        sb.boot_file = "lab/pxelinux.0".into();
        p.rules[0] = sb;
        let d = p
            .decide(&client(Firmware::PxeRom, 0), server)
            .expect("rule");
        assert_eq!((d.boot_file.as_str(), d.rule_index), ("lab/pxelinux.0", 0));
    }

    #[test]
    fn with_http_sends_ipxe_the_script_over_http_but_keeps_bios_on_tftp() {
        let server = Ipv4Addr::new(192, 168, 1, 1);
        let p = Policy::with_http(8080);
        let ipxe_uefi = p.decide(&client(Firmware::Ipxe, 7), server).expect("rule");
        assert_eq!(ipxe_uefi.rule_name, "ipxe");
        assert_eq!(ipxe_uefi.boot_file, "http://192.168.1.1:8080/boot.ipxe");
        let ipxe_bios = p.decide(&client(Firmware::Ipxe, 0), server).expect("rule");
        assert_eq!(ipxe_bios.boot_file, "pxelinux.0");
        let rom = p
            .decide(&client(Firmware::PxeRom, 7), server)
            .expect("rule");
        assert_eq!(rom.boot_file, "ipxe.efi");
        let names = |p: &Policy| p.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&p), names(&Policy::default()));
        let plain = Policy::default()
            .decide(&client(Firmware::Ipxe, 7), server)
            .expect("rule");
        assert_eq!(plain.boot_file, "boot.ipxe");
    }

    #[test]
    fn extra_options_are_sent_as_written() {
        // A well-formed PXE option 43 is typed.
        assert_eq!(
            extra(43, &[6, 1, 8, 255]),
            DhcpOption::VendorSpecific(VendorOptions::Pxe(alloc::vec![
                PxeSubOption::DiscoveryControl(8)
            ]))
        );
        // Without End, or with bytes after it, it stays byte for byte.
        for bytes in [&[6, 1, 8][..], &[6, 1, 8, 255, 9, 9]] {
            let o = extra(43, bytes);
            assert_eq!(o.code(), OptionCode::VendorSpecific);
            let mut out = Vec::new();
            o.encode_value(&mut out);
            assert_eq!(out, bytes);
        }
        // A value that does not fit the code's type is kept too.
        assert_eq!(
            extra(54, &[1, 2, 3]),
            DhcpOption::Unknown {
                code: 54,
                data: alloc::vec![1, 2, 3]
            }
        );
    }
}
