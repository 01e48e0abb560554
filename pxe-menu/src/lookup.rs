//! How a PXELINUX client finds its config file and resolves relative paths
//! (menu-syntax.md §9; syslinux `core/fs/pxe/pxe.c`, `doc/pxelinux.txt`).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::net::Ipv4Addr;

use pxe_proto::MacAddr;

use crate::tree::TreeView;

/// ARP hardware type 1 (Ethernet), the `01-` in `pxelinux.cfg/01-aa-bb-...`.
pub const HTYPE_ETHERNET: u8 = 1;

/// What a client knows about itself when it looks for its config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClientIdentity {
    /// DHCP option 209 (`pxelinux.configfile`), tried first, relative to the path prefix.
    pub config_file: Option<String>,
    /// The 16 raw UUID bytes from DHCP option 97 (type byte removed) or DMI.
    pub uuid: Option<[u8; 16]>,
    /// ARP hardware type and hardware address (`htype`, `chaddr[..hlen]`).
    pub hardware: Option<(u8, Vec<u8>)>,
    /// The client's IPv4 address (`yiaddr`).
    pub ip: Option<Ipv4Addr>,
}

impl ClientIdentity {
    /// An Ethernet client with a MAC address and an IPv4 address.
    pub fn ethernet(mac: MacAddr, ip: Ipv4Addr) -> ClientIdentity {
        ClientIdentity {
            hardware: Some((HTYPE_ETHERNET, mac.octets().to_vec())),
            ip: Some(ip),
            ..ClientIdentity::default()
        }
    }
}

/// The UUID file name: lower-case, dashed 8-4-4-4-12, bytes in wire order (pxelinux does not
/// byte-swap the first three fields). `None` for the all-zero and all-ones UUIDs that firmware
/// reports when it has none.
pub fn uuid_name(uuid: &[u8; 16]) -> Option<String> {
    if uuid.iter().all(|b| *b == 0) || uuid.iter().all(|b| *b == 0xff) {
        return None;
    }
    let mut s = String::with_capacity(36);
    for (i, b) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{b:02x}");
    }
    Some(s)
}

/// The hardware-address file name: `01-88-99-aa-bb-cc-dd` (type, then the address, lower-case).
pub fn hardware_name(htype: u8, addr: &[u8]) -> String {
    let mut s = format!("{htype:02x}");
    for b in addr {
        let _ = write!(s, "-{b:02x}");
    }
    s
}

/// The eight hex-IP names: upper-case, 8 digits, then one digit shorter each time
/// (`C0A80164`, `C0A8016`, ..., `C`).
pub fn ip_names(ip: Ipv4Addr) -> [String; 8] {
    let full = format!("{:08X}", u32::from(ip));
    core::array::from_fn(|i| full.get(..8 - i).unwrap_or("").to_string())
}

/// The files a PXELINUX client tries, in order, relative to its path prefix (menu-syntax.md §9):
/// option 209, `pxelinux.cfg/<uuid>`, `pxelinux.cfg/01-<mac>`, the hex IP shortened one digit
/// at a time, `pxelinux.cfg/default`.
///
/// ```
/// use pxe_menu::{config_search_order, ClientIdentity};
/// let id = ClientIdentity::ethernet(
///     "88:99:aa:bb:cc:dd".parse().unwrap(),
///     "192.168.1.100".parse().unwrap(),
/// );
/// let order = config_search_order(&id);
/// assert_eq!(order[0], "pxelinux.cfg/01-88-99-aa-bb-cc-dd");
/// assert_eq!(order[1], "pxelinux.cfg/C0A80164");
/// assert_eq!(order[8], "pxelinux.cfg/C");
/// assert_eq!(order.last().unwrap(), "pxelinux.cfg/default");
/// ```
pub fn config_search_order(client: &ClientIdentity) -> Vec<String> {
    let mut out = Vec::with_capacity(12);
    if let Some(f) = client.config_file.as_ref().filter(|f| !f.is_empty()) {
        out.push(f.clone());
    }
    if let Some(u) = client.uuid.as_ref().and_then(uuid_name) {
        out.push(format!("pxelinux.cfg/{u}"));
    }
    if let Some((htype, addr)) = &client.hardware {
        out.push(format!("pxelinux.cfg/{}", hardware_name(*htype, addr)));
    }
    if let Some(ip) = client.ip {
        out.extend(ip_names(ip).iter().map(|n| format!("pxelinux.cfg/{n}")));
    }
    out.push("pxelinux.cfg/default".to_string());
    out
}

/// The config file a client would load from `tree`: the first of [`config_search_order`] that
/// exists (exact case) below `prefix`, as a path relative to the tree root. `None` means the
/// client prints "Unable to locate configuration file" and reboots.
///
/// ```
/// use pxe_menu::{lookup_config, ClientIdentity, MemTree};
/// let mut tree = MemTree::new();
/// tree.insert("pxe/pxelinux.cfg/default", 10).insert("pxe/pxelinux.cfg/C0A801", 10);
/// let id = ClientIdentity::ethernet(
///     "88:99:aa:bb:cc:dd".parse().unwrap(),
///     "192.168.1.100".parse().unwrap(),
/// );
/// assert_eq!(lookup_config(&tree, "pxe/", &id).as_deref(), Some("pxe/pxelinux.cfg/C0A801"));
/// ```
pub fn lookup_config(tree: &dyn TreeView, prefix: &str, client: &ClientIdentity) -> Option<String> {
    config_search_order(client)
        .iter()
        .filter_map(|name| resolve_path(prefix, name))
        .find(|path| tree.stat(path).is_some())
}

/// The path prefix every relative path is resolved against: DHCP option 210 if given,
/// otherwise the boot file name up to and including its last character that is not
/// `[A-Za-z0-9.-]` (`get_prefix()` in pxe.c; in practice the last `/`).
///
/// ```
/// use pxe_menu::path_prefix;
/// assert_eq!(path_prefix(None, "pxe/PC/pxelinux.0"), "pxe/PC/");
/// assert_eq!(path_prefix(None, "pxelinux.0"), "");
/// assert_eq!(path_prefix(Some("http://srv/boot/"), "pxelinux.0"), "http://srv/boot/");
/// ```
pub fn path_prefix(option_210: Option<&str>, boot_file: &str) -> String {
    if let Some(p) = option_210 {
        return p.to_string();
    }
    let keep = boot_file
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    boot_file.get(..keep).unwrap_or("").to_string()
}

/// Whether `path` is a URL: it starts with a scheme and `://` (RFC 3986 §3.1: a letter, then
/// letters, digits, `+`, `-` or `.`), as pxelinux's `url_type` (core/fs/pxe/urlparse.c) and
/// iPXE tell a URL from a file name. A `://` further in (`b::///x`, `dir/a://b`) is part of a
/// name.
///
/// ```
/// use pxe_menu::is_url;
/// assert!(is_url("http://10.0.0.1/vmlinuz"));
/// assert!(is_url("tftp+x.y://h/f"));
/// assert!(!is_url("b::///vmlinuz"));
/// assert!(!is_url("iso/a://b"));
/// assert!(!is_url("://x"));
/// ```
pub fn is_url(path: &str) -> bool {
    let Some((scheme, _)) = path.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Where a path named in a config lives on the client's TFTP server, relative to its root, or
/// `None` when it points elsewhere (a URL or `host::path`).
///
/// `::file` skips the prefix; `/file` is absolute on the server; anything else is relative to
/// `prefix`.
///
/// ```
/// use pxe_menu::resolve_path;
/// assert_eq!(resolve_path("pxe/", "iso/d.iso").as_deref(), Some("pxe/iso/d.iso"));
/// assert_eq!(resolve_path("pxe/", "::memdisk").as_deref(), Some("memdisk"));
/// assert_eq!(resolve_path("pxe/", "http://x/y"), None);
/// ```
pub fn resolve_path(prefix: &str, path: &str) -> Option<String> {
    if is_url(path) {
        return None;
    }
    if let Some(abs) = path.strip_prefix("::") {
        return Some(abs.trim_start_matches('/').to_string());
    }
    if path.contains("::") {
        return None;
    }
    if let Some(abs) = path.strip_prefix('/') {
        return Some(abs.trim_start_matches('/').to_string());
    }
    if is_url(prefix) || prefix.contains("::") && !prefix.starts_with("::") {
        return None;
    }
    let prefix = prefix.trim_start_matches("::").trim_start_matches('/');
    Some(format!("{prefix}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_order_for_the_pxelinux_doc_example() {
        let id = ClientIdentity {
            config_file: Some("cfg/special".into()),
            uuid: Some([
                0xb8, 0x94, 0x59, 0x08, 0xd6, 0xa6, 0x41, 0xa9, 0x61, 0x1d, 0x74, 0xa6, 0xab, 0x80,
                0xb8, 0x3d,
            ]),
            hardware: Some((1, alloc::vec![0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd])),
            ip: Some(Ipv4Addr::new(192, 0, 2, 91)),
        };
        assert_eq!(
            config_search_order(&id),
            [
                "cfg/special",
                "pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d",
                "pxelinux.cfg/01-88-99-aa-bb-cc-dd",
                "pxelinux.cfg/C000025B",
                "pxelinux.cfg/C000025",
                "pxelinux.cfg/C00002",
                "pxelinux.cfg/C0000",
                "pxelinux.cfg/C000",
                "pxelinux.cfg/C00",
                "pxelinux.cfg/C0",
                "pxelinux.cfg/C",
                "pxelinux.cfg/default",
            ]
        );
    }

    #[test]
    fn invalid_uuids_and_empty_identity() {
        assert_eq!(uuid_name(&[0; 16]), None);
        assert_eq!(uuid_name(&[0xff; 16]), None);
        let id = ClientIdentity {
            uuid: Some([0; 16]),
            ..Default::default()
        };
        assert_eq!(config_search_order(&id), ["pxelinux.cfg/default"]);
    }

    #[test]
    fn ip_names_for_192_168_1_100() {
        assert_eq!(
            ip_names(Ipv4Addr::new(192, 168, 1, 100)),
            [
                "C0A80164", "C0A8016", "C0A801", "C0A80", "C0A8", "C0A", "C0", "C"
            ]
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(
            path_prefix(None, "/srv/tftp/pxe/PC/pxelinux.0"),
            "/srv/tftp/pxe/PC/"
        );
        assert_eq!(path_prefix(None, "boot_pxelinux.0"), "boot_");
        assert_eq!(path_prefix(None, "host::pxe/lpxelinux.0"), "host::pxe/");
        assert_eq!(path_prefix(Some(""), "a/pxelinux.0"), "");
        assert_eq!(resolve_path("", "boot.txt").as_deref(), Some("boot.txt"));
        assert_eq!(resolve_path("/srv/", "x").as_deref(), Some("srv/x"));
        assert_eq!(resolve_path("h::/a/", "x"), None);
        assert_eq!(resolve_path("pxe/", "/abs/x").as_deref(), Some("abs/x"));
        assert_eq!(resolve_path("pxe/", "h::x"), None);
    }

    proptest::proptest! {
        #[test]
        fn ip_names_shorten_one_digit(ip in proptest::num::u32::ANY) {
            let names = ip_names(Ipv4Addr::from(ip));
            for (i, n) in names.iter().enumerate() {
                proptest::prop_assert_eq!(n.len(), 8 - i);
                proptest::prop_assert!(names[0].starts_with(n.as_str()));
                proptest::prop_assert_eq!(n.to_uppercase(), n.clone());
            }
        }

        #[test]
        fn prefix_never_panics(s in "\\PC{0,60}") {
            let p = path_prefix(None, &s);
            proptest::prop_assert!(s.starts_with(&p));
        }
    }
}
