//! The pxelinux config parser.

use pxe_menu::{Config, LintOptions, lint};

/// Parse never panics; rendering (`Display`) and parsing again keeps the meaning: the same kinds
/// of items, and the same resolved labels, command lines and timeouts. Lint and the DISPLAY
/// file parser run on the same text without panicking.
pub fn menu_parse(data: &[u8]) {
    let cfg = Config::parse_bytes(data);
    let text = cfg.to_string();
    let again = Config::parse(&text);
    let kinds = |c: &Config| c.items.iter().map(|i| i.kind.clone()).collect::<Vec<_>>();
    assert_eq!(
        kinds(&again),
        kinds(&cfg),
        "render → parse changed the items\n{text}"
    );
    assert_eq!(
        again.resolve(),
        cfg.resolve(),
        "render → parse changed the meaning\n{text}"
    );
    let _ = lint(&cfg, &LintOptions::default());
    let _ = pxe_menu::parse_display(&String::from_utf8_lossy(data));
}
