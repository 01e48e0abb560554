//! The crate's error type.

use alloc::string::String;

/// Why a menu model cannot be rendered.
///
/// Parsing never fails (syslinux accepts any text) and lint problems are [`crate::Finding`]s,
/// so errors only come from [`crate::Menu::render`] and [`crate::Menu::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An entry id is not one token of printable, non-space ASCII (menu-syntax.md §3).
    #[error("entry id {id:?} must be one word of printable ASCII without spaces")]
    InvalidId {
        /// The offending id.
        id: String,
    },
    /// Two entries share an id.
    #[error("entry id {id:?} is used twice")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// The default entry is not one of the entries.
    #[error("default entry {id:?} is not an entry id")]
    UnknownDefault {
        /// The missing id.
        id: String,
    },
    /// A text field holds something that cannot be written into the target files.
    #[error("{} {reason}", subject(.id, .field))]
    InvalidText {
        /// The entry id (empty for menu-level fields).
        id: String,
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required field is empty.
    #[error("{} is empty", subject(.id, .field))]
    Empty {
        /// The entry id (empty for menu-level fields).
        id: String,
        /// The field's name.
        field: &'static str,
    },
    /// The model as a whole cannot be rendered as asked (the field says which setting).
    #[error("{field}: {reason}")]
    Unrenderable {
        /// The menu-level field to change.
        field: &'static str,
        /// Why, and what to change.
        reason: &'static str,
    },
    /// The rendered pxelinux file would be flagged by this crate's own lint; the model has to
    /// change (the finding says how).
    #[error("rendered config fails lint {code} at line {line}: {message}")]
    Lint {
        /// The finding's code (`M005`, ...).
        code: &'static str,
        /// Line in the rendered `pxelinux.cfg/default`.
        line: u32,
        /// The finding's message.
        message: String,
    },
}

/// What a field error is about: `menu title` / `menu FIELD` for the menu's own fields (an
/// empty id), `FIELD of entry "ID"` for an entry's.
fn subject(id: &str, field: &str) -> String {
    match (id.is_empty(), field) {
        (true, "title") => "menu title".into(),
        (true, _) => alloc::format!("menu {field}"),
        (false, _) => alloc::format!("{field} of entry {id:?}"),
    }
}
