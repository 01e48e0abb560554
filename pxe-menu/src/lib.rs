//! The pxelinux config language, exactly as syslinux 6 reads it: parse, lint, render, and the
//! client's config-file lookup. `no_std` + `alloc`; touches no file system.
//!
//! - [`Config::parse_bytes`]: a lossless, position-keeping parse of config bytes with
//!   syslinux 6.04's rules (`parse_config_file()` in `com32/elflink/ldlinux/readconfig.c` and
//!   `com32/menu/readconfig.c`): `fgets` lines, case-insensitive keywords that need a blank
//!   after them, values to the end of the line (an inline `#` is part of them), a core `LABEL`
//!   is its first word, unknown lines kept, non-UTF-8 bytes read as Latin-1 and reported.
//!   [`Config::scopes`] and [`Config::resolve`] say what the file means (labels, their command
//!   lines as `record()` builds them, timeouts, submenus).
//! - [`Tree`]: a whole tree read from its real entry points ([`entry_points`]) through a
//!   [`TreeView`] that hands out bytes by path (Sans-IO): includes pasted in place, `CONFIG`
//!   targets and menu.c32's files as further configs, loops and depth reported.
//! - [`lint`] / [`Tree::lint`]: [`Finding`]s with stable [`Code`]s, severity, file, line:col,
//!   message and fix, by [`LintMode`]. Given a [`TreeView`] of the served tree it also checks
//!   files, case, permissions and modules.
//! - [`Menu`]: a declarative menu (serde, TOML in the binary) rendered to
//!   `pxelinux.cfg/default`, the DISPLAY file, an iPXE script and a GRUB `grub.cfg` (for the
//!   signed UEFI Secure Boot chain; [`lint_grub`] checks it); a render is refused only for a
//!   lint error in its own output. [`Menu::import`] / [`Menu::import_tree`] turn a
//!   hand-written config or tree into one, with a note for everything not carried over.
//! - [`config_search_order`], [`lookup_config`] and [`path_prefix`]: where a PXELINUX client
//!   looks for its config and how it resolves paths (§9).
//! - [`parse_display`]: the DISPLAY file's control codes as typed segments (§7).
//!
//! # Example
//! ```
//! use pxe_menu::{lint, Code, Config, LintOptions, MemTree};
//!
//! // A hand-written config, abridged.
//! let text = "DISPLAY boot.txt\n# Prompt for 10s\nPROMPT 10\nDEFAULT debian\n\
//!             LABEL debian\n  KERNEL memdisk\n  INITRD iso/debian.iso\n  APPEND iso\n";
//! let cfg = Config::parse(text);
//! assert_eq!(cfg.resolve().labels[0].command_line, "memdisk iso initrd=iso/debian.iso");
//!
//! let mut tree = MemTree::new();
//! for f in ["pxelinux.0", "ldlinux.c32", "memdisk", "iso/debian.iso"] {
//!     tree.insert(f, 1 << 20);
//! }
//! tree.insert("Boot.txt", 300);
//! let opts = LintOptions { tree: Some(&tree), ..LintOptions::default() };
//! let codes: Vec<Code> = lint(&cfg, &opts).iter().map(|f| f.code).collect();
//! assert_eq!(
//!     codes,
//!     [Code::FileCaseMismatch, Code::PromptNotBoolean, Code::NeverAutoboots, Code::MemdiskLinuxIso]
//! );
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
// Lints beyond the workspace's ([workspace.lints] in the root Cargo.toml), for the no_std
// cores only: `core`/`alloc` paths over `std` ones, and unsafe code forbidden outright.
#![warn(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod display;
mod error;
mod import;
mod keyword;
mod lint;
mod lookup;
mod model;
mod parse;
mod reader;
mod render_grub;
mod resolve;
mod tree;

pub use display::{Segment, parse_display};
pub use error::Error;
pub use import::Import;
pub use keyword::{Arg, Keyword, Scope};
pub use lint::{
    Code, Finding, Firmware, LintMode, LintOptions, Loader, MEMDISK_MAX_BYTES, MEMDISK_WARN_BYTES,
    Severity, lint, lint_str, slug,
};
pub use lookup::{
    ClientIdentity, HTYPE_ETHERNET, config_search_order, hardware_name, ip_names, is_url,
    lookup_config, path_prefix, resolve_path, uuid_name,
};
pub use model::{
    Boot, Entry, Menu, PASS_THROUGH, PXELINUX_DEFAULT, RenderedFile, SerialConsole, Ui,
};
pub use parse::{Config, Directive, Item, ItemKind, MAX_LINE, TextBlock};
pub use reader::{
    EntryPoint, MAX_INCLUDE_DEPTH, MAX_ROOTS, MAX_TREE_ITEMS, Root, Tree, entry_points,
    is_client_config_name, looks_like_entry,
};
pub use render_grub::{GRUB_CFG, GrubFinding, grub_quote, lint_grub};
pub use resolve::{LabelScope, Resolved, ResolvedLabel, Scopes};
pub use tree::{FileMeta, MemTree, TreeView};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
