//! The checks behind every fuzz target, one public function per target taking the raw fuzzer
//! input. `fuzz_targets/*.rs` are one-line wrappers, and `tests/regressions.rs` replays the
//! saved inputs in `regressions/<target>/` through the same functions on stable.
//!
//! Structured inputs (action sequences for the state machines) are decoded from the bytes with
//! `arbitrary`, inside the fuzz crate, so the cores need no `arbitrary` derive.

use arbitrary::Unstructured;

mod dhcp;
mod dhcp6;
mod dhcp_responder;
mod http;
mod menu;
mod menu_tree;
mod tftp;

pub use dhcp::{dhcp_message, dhcp_suboptions};
pub use dhcp_responder::{dhcp_lease_server, dhcp_proxy};
pub use dhcp6::{dhcp6_message, dhcp6_server};
pub use http::http_request_head;
pub use menu::{grub_lint, menu_model, menu_parse};
pub use menu_tree::menu_tree;
pub use tftp::{tftp_client, tftp_packet, tftp_path, tftp_server_session};

/// A target's check: the raw fuzzer input in, a panic on any violated property.
pub type Check = fn(&[u8]);

/// Every target by name, for the regression replayer and the smoke script.
pub const TARGETS: &[(&str, Check)] = &[
    ("tftp_packet", tftp_packet),
    ("tftp_server_session", tftp_server_session),
    ("tftp_client", tftp_client),
    ("tftp_path", tftp_path),
    ("dhcp_message", dhcp_message),
    ("dhcp_suboptions", dhcp_suboptions),
    ("dhcp_proxy", dhcp_proxy),
    ("dhcp_lease_server", dhcp_lease_server),
    ("dhcp6_message", dhcp6_message),
    ("dhcp6_server", dhcp6_server),
    ("menu_parse", menu_parse),
    ("menu_model", menu_model),
    ("menu_tree", menu_tree),
    ("grub_lint", grub_lint),
    ("http_request_head", http_request_head),
];

/// Decodes a structured input; a too-short input decodes to nothing and the target returns.
/// With `PXE_FUZZ_DEBUG` set, prints the decoded input (to read a crash).
fn decode<'a, T: arbitrary::Arbitrary<'a> + std::fmt::Debug>(data: &'a [u8]) -> Option<T> {
    let input = T::arbitrary_take_rest(Unstructured::new(data)).ok();
    if debug() {
        eprintln!("{input:#?}");
    }
    input
}

/// Whether `PXE_FUZZ_DEBUG` is set: harnesses then print what they do.
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("PXE_FUZZ_DEBUG").is_some())
}
