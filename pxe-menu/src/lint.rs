//! Findings about a config: what syslinux 6 will do differently from what the text suggests
//! (menu-syntax.md §12), and, given a [`TreeView`], whether the files it needs are served.
//!
//! Codes are stable: a code keeps its meaning forever, new checks get new codes.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::keyword::Keyword;
use crate::lookup::resolve_path;
use crate::parse::{Config, Directive, Item, ItemKind, first_word, is_space, is_string_valued};
use crate::resolve::{LabelScope, Scopes};
use crate::tree::TreeView;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Severity {
    /// Advice.
    Info,
    /// Likely not what was meant.
    Warning,
    /// Will not work as written.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $name:literal, $sev:ident; )*) => {
        /// A lint check. `id()` (`M001`) and `name()` (`label-has-spaces`) never change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable identifier, e.g. `M001`.
            pub const fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The stable kebab-case name, e.g. `label-has-spaces`.
            pub const fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The usual severity (a few checks raise or lower it case by case).
            pub const fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }
        }
    };
}

codes! {
    /// `LABEL` value has whitespace: the core keeps only the first word.
    LabelHasSpaces = "M001", "label-has-spaces", Error;
    /// Two labels share a core id (case-sensitive, after first-word truncation).
    DuplicateLabel = "M002", "duplicate-label", Error;
    /// `DEFAULT`/`ONTIMEOUT`/`MENU GOTO`/`MENU EXIT` names no label or menu.
    UnknownTarget = "M003", "unknown-target", Error;
    /// `PROMPT` is a boolean, not a time.
    PromptNotBoolean = "M004", "prompt-not-boolean", Warning;
    /// A forced `boot:` prompt with no timeout and no UI never boots by itself (not raised
    /// for the deliberate form `PROMPT 1`, `TIMEOUT 0`, `TOTALTIMEOUT 0`).
    NeverAutoboots = "M005", "never-autoboots", Warning;
    /// An inline `#` in a string value is part of the value, not a comment.
    InlineComment = "M006", "inline-comment", Warning;
    /// A line syslinux silently ignores (typo, `KEY=value`).
    UnknownDirective = "M007", "unknown-directive", Warning;
    /// A label directive with no open label: ignored.
    OutsideLabel = "M008", "outside-label", Warning;
    /// A label with nothing to boot boots a file named after the label.
    LabelWithoutKernel = "M009", "label-without-kernel", Warning;
    /// Both `INITRD` and `initrd=` in `APPEND`: only the `INITRD` one is used.
    InitrdTwice = "M010", "initrd-twice", Warning;
    /// Kernel type that 6.x reads differently (upper-case extension, `.com`, `FDIMAGE`, ...).
    KernelType = "M011", "kernel-type", Warning;
    /// `F0`: 6.x puts it in F11's slot.
    FunctionKeyZero = "M012", "function-key-zero", Warning;
    /// A note on a memdisk ISO: whether the system on it keeps finding its files depends on
    /// what is inside, which the lint cannot see (netboot images work, full installers and
    /// live ISOs usually do not).
    MemdiskLinuxIso = "M013", "memdisk-linux-iso", Info;
    /// A note on a memdisk ISO whose name says Windows: Setup loses the disk; use wimboot.
    MemdiskWindowsIso = "M014", "memdisk-windows-iso", Info;
    /// A BIOS-only boot (memdisk, PXE NBP, boot sector) for a UEFI target.
    BiosOnlyOnUefi = "M015", "bios-only-on-uefi", Error;
    /// A `LOCALBOOT` value PXELINUX does not define.
    LocalbootValue = "M016", "localboot-value", Warning;
    /// `LOCALBOOT` under UEFI is unreliable (loops back into the menu).
    LocalbootUefi = "M017", "localboot-uefi", Warning;
    /// `MENU` directives without a `UI` line: no menu is shown.
    MenuWithoutUi = "M018", "menu-without-ui", Info;
    /// `SERIAL` is not the first directive: earlier output misses the serial console.
    SerialNotFirst = "M019", "serial-not-first", Info;
    /// A menu password that Tab, Esc or the `boot:` prompt can walk around.
    PasswordEscapable = "M020", "password-escapable", Info;
    /// Several directories on one `PATH` line (docs and code disagree on the separator).
    PathList = "M021", "path-list", Info;
    /// A command line over 2048 bytes: "cmdline too long".
    CommandLineTooLong = "M022", "command-line-too-long", Warning;
    /// A file name over 127 characters including the prefix.
    PathTooLong = "M023", "path-too-long", Info;
    /// A directive that needs a value has none.
    MissingValue = "M024", "missing-value", Warning;
    /// Neither `DEFAULT` nor `UI`: "No DEFAULT or UI configuration directive found!".
    NoDefault = "M025", "no-default", Warning;
    /// `TEXT` block without `ENDTEXT` swallows the rest of the file.
    UnterminatedText = "M026", "unterminated-text", Warning;
    /// A directive repeated where only the last one counts.
    Overridden = "M027", "overridden", Warning;
    /// A referenced file is not in the tree.
    FileMissing = "M030", "file-missing", Error;
    /// A referenced file exists only with different letter case (TFTP is case-sensitive).
    FileCaseMismatch = "M031", "file-case-mismatch", Error;
    /// A referenced file is not world-readable.
    FileNotReadable = "M032", "file-not-readable", Error;
    /// `ldlinux.c32` is not next to `pxelinux.0`.
    LdlinuxMissing = "M033", "ldlinux-missing", Error;
    /// A COM32 module without `libutil.c32` and `libcom32.c32`.
    ModuleLibsMissing = "M034", "module-libs-missing", Error;
    /// memdisk image large enough to cost RAM and TFTP time.
    MemdiskImageLarge = "M035", "memdisk-image-large", Warning;
    /// memdisk image too large to fit in RAM below 4 GiB.
    MemdiskImageTooLarge = "M036", "memdisk-image-too-large", Error;
    /// No `pxelinux.0`/`lpxelinux.0` at the path prefix.
    LoaderMissing = "M037", "loader-missing", Warning;
    /// Without a menu, the DISPLAY file is the only list users see, and it omits a label.
    DisplayMissingLabel = "M038", "display-missing-label", Warning;
    /// A number syslinux reads with `atoi`/`strtoul`, written so that it silently becomes
    /// another value (`TIMEOUT 5s` is 5, `PROMPT yes` is 0).
    NumberSyntax = "M039", "number-syntax", Warning;
    /// A loader directive that cannot load the file it names (`LINUX menu.c32`, `COM32
    /// vmlinuz`, which loads `vmlinuz.c32`).
    WrongLoader = "M040", "wrong-loader", Error;
    /// An `INCLUDE` (or `MENU INCLUDE`) that leads back to a file being read: syslinux has no
    /// guard and never finishes reading.
    IncludeLoop = "M041", "include-loop", Error;
    /// Includes nested deeper than the 16 levels syslinux documents.
    IncludeDepth = "M042", "include-depth", Warning;
    /// A file that defines labels is included twice, so its labels are defined twice.
    IncludedTwice = "M043", "included-twice", Warning;
    /// A line with bytes that are not UTF-8 (read as Latin-1, as the BIOS code page shows them).
    NonUtf8 = "M044", "non-utf8", Info;
    /// `MENU END` without an open `MENU BEGIN`, or a `MENU BEGIN` never closed.
    UnbalancedMenu = "M045", "unbalanced-menu", Warning;
    /// A `TIMEOUT`/`TOTALTIMEOUT` under a second (1 to 9): it counts tenths of a second.
    SubSecondTimeout = "M046", "sub-second-timeout", Info;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        Code::ALL
            .iter()
            .find(|c| c.id() == s || c.name() == s)
            .copied()
            .ok_or_else(|| serde::de::Error::custom(format!("unknown lint code {s:?}")))
    }
}

/// One problem found in a config.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Finding {
    /// The file the finding is in: the index [`Item::file`] uses (0 for a config parsed on its
    /// own; [`crate::Tree::path`] names it).
    #[cfg_attr(feature = "serde", serde(default))]
    pub file: u32,
    /// The check (serialised as its id, `M001`).
    pub code: Code,
    /// How bad it is.
    pub severity: Severity,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong and what syslinux does instead.
    pub message: String,
    /// How to fix it, when there is a clear fix.
    pub fix: Option<String>,
}

/// `line:col: severity[M001 label-has-spaces]: message (fix: ...)`
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}[{} {}]: {}",
            self.line,
            self.col,
            self.severity,
            self.code.id(),
            self.code.name(),
            self.message
        )?;
        if let Some(fix) = &self.fix {
            write!(f, " (fix: {fix})")?;
        }
        Ok(())
    }
}

/// The firmware the config is served to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Firmware {
    /// Legacy BIOS PXE (pxelinux.0).
    #[default]
    Bios,
    /// UEFI (syslinux.efi, or iPXE/GRUB instead).
    Uefi,
}

/// Default size above which a memdisk image gets [`Code::MemdiskImageLarge`]: 256 MiB.
pub const MEMDISK_WARN_BYTES: u64 = 256 << 20;
/// Default size above which a memdisk image gets [`Code::MemdiskImageTooLarge`]: 3 GiB, since
/// the image must fit in RAM below 4 GiB beside everything else.
pub const MEMDISK_MAX_BYTES: u64 = 3 << 30;

/// How the config being linted is reached, which decides the checks that need the whole
/// picture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum LintMode {
    /// A config pxelinux loads at start (`pxelinux.cfg/default`, a per-client file): every
    /// check.
    #[default]
    Entry,
    /// A config reached by a `CONFIG` label, which a person chose from a menu: an interactive
    /// prompt there without a timeout is what they asked for (no M005, M025).
    Interactive,
    /// Files passed to `menu.c32`/`vesamenu.c32` on its command line: only the menu reads them
    /// (no M005, M018, M025).
    Menu,
    /// A file that is only ever included: only what is wrong in itself (no checks of DEFAULT,
    /// UI, timeouts, targets or loader files, and label directives before its first `LABEL`
    /// may belong to a label opened by the file including it).
    Fragment,
}

/// Which syslinux variant reads the config: they share the config language, but only
/// PXELINUX needs `pxelinux.0` at the path prefix and gives `LOCALBOOT` its PXE meanings
/// (`core/pxeboot.c`; the disk variants take a BIOS drive number, `core/localboot.c`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Loader {
    /// PXELINUX (`pxelinux.0`, `lpxelinux.0`).
    #[default]
    Pxelinux,
    /// ISOLINUX (CD images).
    Isolinux,
    /// SYSLINUX (FAT).
    Syslinux,
    /// EXTLINUX (ext2/3/4, btrfs, ...).
    Extlinux,
}

/// What the lint knows beyond the text.
#[derive(Clone, Copy)]
pub struct LintOptions<'t> {
    /// The syslinux variant that reads the config.
    pub loader: Loader,
    /// How the config is reached.
    pub mode: LintMode,
    /// Whether `INCLUDE`d files are already part of the config (read by [`crate::Tree`]); when
    /// not, a config with includes does not have its targets judged.
    pub includes_read: bool,
    /// The paths of the files [`Item::file`] indexes (set by [`crate::Tree::lint`]), so a
    /// message can name another file.
    pub files: &'t [String],
    /// The firmware the config is for.
    pub firmware: Firmware,
    /// The served tree, for the file checks; `None` skips them.
    pub tree: Option<&'t dyn TreeView>,
    /// The client's path prefix relative to the tree root (`pxe/PC/`, or `""` when
    /// `pxelinux.0` is at the root); see [`crate::path_prefix`].
    pub prefix: &'t str,
    /// memdisk images above this size get a warning.
    pub memdisk_warn_bytes: u64,
    /// memdisk images above this size get an error.
    pub memdisk_max_bytes: u64,
}

impl Default for LintOptions<'_> {
    fn default() -> Self {
        LintOptions {
            loader: Loader::Pxelinux,
            mode: LintMode::Entry,
            includes_read: false,
            files: &[],
            firmware: Firmware::Bios,
            tree: None,
            prefix: "",
            memdisk_warn_bytes: MEMDISK_WARN_BYTES,
            memdisk_max_bytes: MEMDISK_MAX_BYTES,
        }
    }
}

impl fmt::Debug for LintOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LintOptions")
            .field("firmware", &self.firmware)
            .field("tree", &self.tree.is_some())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Extensions 6.x dispatches on (menu-syntax.md §4), plus the removed COMBOOT ones.
const FILE_EXTENSIONS: &[&str] = &[".c32", ".img", ".bss", ".bin", ".bs", ".0", ".com", ".cbt"];

fn extension(file: &str) -> Option<&str> {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.rfind('.').and_then(|i| base.get(i..))
}

fn has_file_extension(word: &str) -> bool {
    extension(word).is_some_and(|e| FILE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn basename(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// The keyword a misspelt word was probably meant to be.
fn suggest_keyword(words: &[&str]) -> Option<Keyword> {
    let first = words.first()?.to_ascii_uppercase();
    // Keywords are short; a long word is no typo of one (and would make the distance costly).
    if first.len() > 24 || words.get(1).is_some_and(|w| w.len() > 24) {
        return None;
    }
    let (candidates, probe): (Vec<Keyword>, String) = if first == "MENU" {
        let second = words.get(1)?.to_ascii_uppercase();
        let menu = Keyword::ALL
            .iter()
            .copied()
            .filter(|k| k.is_menu())
            .collect();
        (menu, format!("MENU {second}"))
    } else {
        (
            Keyword::ALL
                .iter()
                .copied()
                .filter(|k| !k.is_menu())
                .collect(),
            first,
        )
    };
    candidates
        .into_iter()
        .map(|k| (distance(&probe, k.name()), k))
        .filter(|(d, k)| *d <= 2 && *d < k.name().len() / 2 + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Whether text mentions a time in seconds ("10s", "10 sec", "seconds").
fn mentions_seconds(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i).is_some_and(u8::is_ascii_digit) {
            let start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let n: i64 = lower
                .get(start..i)
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            let after = lower.get(i..).unwrap_or("").trim_start();
            let unit = after
                .split(|c: char| !c.is_ascii_alphabetic())
                .next()
                .unwrap_or("");
            if matches!(unit, "s" | "sec" | "secs" | "second" | "seconds") {
                return Some(n);
            }
        }
        i += 1;
    }
    None
}

struct Linter<'c, 'o> {
    cfg: &'c Config,
    scopes: Scopes<'c>,
    opts: &'o LintOptions<'o>,
    out: core::cell::RefCell<Vec<Finding>>,
}

impl Linter<'_, '_> {
    fn push(&self, code: Code, at: (u32, u32, u32), message: String, fix: Option<String>) {
        self.push_sev(code, code.severity(), at, message, fix);
    }

    fn push_sev(
        &self,
        code: Code,
        severity: Severity,
        (file, line, col): (u32, u32, u32),
        message: String,
        fix: Option<String>,
    ) {
        self.out.borrow_mut().push(Finding {
            file,
            code,
            severity,
            line,
            col,
            message,
            fix,
        });
    }
}

fn at(i: &Item) -> (u32, u32, u32) {
    (i.file, i.line, i.col)
}

fn at_value(i: &Item) -> (u32, u32, u32) {
    (i.file, i.line, i.value_col)
}

/// Lints a parsed config. Findings come sorted by position.
///
/// ```
/// use pxe_menu::{lint, Code, Config, LintOptions};
/// let cfg = Config::parse("PROMPT 10\nDEFAULT a\nLABEL a\n  KERNEL vmlinuz\n");
/// let codes: Vec<Code> = lint(&cfg, &LintOptions::default()).iter().map(|f| f.code).collect();
/// assert_eq!(codes, [Code::PromptNotBoolean, Code::NeverAutoboots]);
/// ```
pub fn lint(cfg: &Config, opts: &LintOptions<'_>) -> Vec<Finding> {
    let l = Linter {
        cfg,
        scopes: cfg.scopes(),
        opts,
        out: core::cell::RefCell::new(Vec::new()),
    };
    l.lines();
    l.labels();
    if opts.mode != LintMode::Fragment {
        l.targets();
        l.prompt();
        l.globals();
    }
    l.menus();
    if opts.tree.is_some() {
        l.tree();
    }
    let mut out = l.out.into_inner();
    out.sort_by_key(|f| (f.file, f.line, f.col, f.code));
    out.dedup();
    out
}

/// Parses and lints text in one call.
pub fn lint_str(text: &str, opts: &LintOptions<'_>) -> Vec<Finding> {
    lint(&Config::parse(text), opts)
}

impl Linter<'_, '_> {
    /// Where whole-file findings go: line 1 of the config's first file.
    fn top(&self) -> (u32, u32, u32) {
        (self.cfg.items.first().map_or(0, |i| i.file), 1, 1)
    }

    /// Whether a menu module runs: a `UI` line, a `DEFAULT` naming menu.c32/vesamenu.c32 (the
    /// core boots it like any module), or a file only menu.c32 reads.
    fn has_menu(&self) -> bool {
        self.opts.mode == LintMode::Menu
            || self.scopes.global(Keyword::Ui).is_some()
            || self
                .scopes
                .global(Keyword::Default)
                .is_some_and(|(_, d)| is_menu_module(d.first_word()))
    }

    /// `MENU BEGIN`/`MENU END` balance (`begin_submenu()`/`end_submenu()`).
    fn menus(&self) {
        for item in &self.scopes.unbalanced_ends {
            self.push(
                Code::UnbalancedMenu,
                at(item),
                "MENU END with no MENU BEGIN open: menu.c32 ignores it, so a submenu above was \
                 probably closed twice"
                    .into(),
                Some("remove this MENU END or add the missing MENU BEGIN".into()),
            );
        }
        if self.scopes.unclosed_begins > 0 && self.opts.mode != LintMode::Fragment {
            let at_begin = self
                .cfg
                .directives()
                .filter(|(_, d)| d.keyword == Keyword::MenuBegin)
                .last()
                .map_or(self.top(), |(i, _)| at(i));
            self.push(
                Code::UnbalancedMenu,
                at_begin,
                format!(
                    "{} MENU BEGIN without MENU END: every entry after it lands in that submenu",
                    self.scopes.unclosed_begins
                ),
                Some("close each submenu with MENU END".into()),
            );
        }
        for (file, line) in self.non_utf8_first_lines() {
            self.push(
                Code::NonUtf8,
                (file, line, 1),
                "bytes that are not UTF-8 (read as Latin-1; syslinux shows them in the BIOS code \
                 page, so accented text may look different on screen)"
                    .into(),
                None,
            );
        }
    }

    /// The first non-UTF-8 line of each file.
    fn non_utf8_first_lines(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for (f, l) in &self.cfg.non_utf8_lines {
            if !out.iter().any(|(of, _)| of == f) {
                out.push((*f, *l));
            }
        }
        out
    }

    /// Checks that look at one line at a time.
    fn lines(&self) {
        let cfg = self.cfg;
        for item in &cfg.items {
            match &item.kind {
                ItemKind::Unknown(text) => self.unknown(item, text),
                ItemKind::Text(b) if !b.terminated => self.push(
                    Code::UnterminatedText,
                    at(item),
                    "TEXT block has no ENDTEXT: every following line is swallowed".into(),
                    Some("add an ENDTEXT line after the help text".into()),
                ),
                ItemKind::Directive(d) => self.directive(item, d),
                _ => {}
            }
        }
        // In a fragment, label directives before the first LABEL continue a label the
        // including file opened (includes are read as if pasted in place).
        let first_label = self
            .scopes
            .labels
            .first()
            .map(|l| (l.item.file, l.item.line));
        for item in &self.scopes.orphans {
            if self.opts.mode == LintMode::Fragment
                && first_label.is_none_or(|f| (item.file, item.line) < f)
            {
                continue;
            }
            let what = match &item.kind {
                ItemKind::Directive(d) => d.keyword.name(),
                _ => "TEXT",
            };
            self.push(
                Code::OutsideLabel,
                at(item),
                format!("{what} outside a LABEL is ignored"),
                Some("move it under the LABEL it belongs to".into()),
            );
        }
    }

    fn unknown(&self, item: &Item, text: &str) {
        let words: Vec<&str> = text.split(is_space).filter(|w| !w.is_empty()).collect();
        let first = words.first().copied().unwrap_or("");
        let (message, fix) = if let Some((key, value)) = first.split_once('=') {
            match Keyword::lookup([key]) {
                Some((k, _)) => (
                    format!(
                        "`{first}` is not read as {}: syslinux has no `=` form",
                        k.name()
                    ),
                    Some(format!("{} {value}", k.name())),
                ),
                None => (format!("unknown directive `{key}` is ignored"), None),
            }
        } else {
            let shown = if first.eq_ignore_ascii_case("MENU") {
                words.get(..2).unwrap_or(&words).join(" ")
            } else {
                first.to_string()
            };
            let fix = suggest_keyword(&words).map(|k| format!("did you mean {}?", k.name()));
            (
                format!("unknown directive `{shown}` is ignored by syslinux"),
                fix,
            )
        };
        self.push(Code::UnknownDirective, at(item), message, fix);
    }

    fn directive(&self, item: &Item, d: &Directive) {
        let k = d.keyword;
        if let Some(pos) = inline_comment(k, &d.value) {
            let kept = d.value.get(..pos).unwrap_or("").trim_end();
            self.push(
                Code::InlineComment,
                at_value(item),
                format!(
                    "`#` does not start a comment here: the {} value is `{}`",
                    k.name(),
                    d.value
                ),
                Some(format!(
                    "{} {kept}, with the comment on its own line",
                    k.name()
                )),
            );
        }
        let needs_value = matches!(
            k,
            Keyword::Label
                | Keyword::Initrd
                | Keyword::Default
                | Keyword::Ui
                | Keyword::Include
                | Keyword::Display
                | Keyword::Font
                | Keyword::Kbdmap
                | Keyword::MenuLabel
                | Keyword::MenuGoto
                | Keyword::MenuInclude
                | Keyword::Path
                | Keyword::Ontimeout
        ) || (k.is_kernel_like() && k != Keyword::Localboot)
            || k.function_key().is_some();
        if needs_value && d.value.trim().is_empty() {
            self.push(
                Code::MissingValue,
                at(item),
                format!("{} has no value", k.name()),
                None,
            );
        }
        if matches!(k, Keyword::Timeout | Keyword::Totaltimeout)
            && let n @ 1..=9 = d.int()
        {
            self.push(
                Code::SubSecondTimeout,
                at_value(item),
                format!(
                    "{} {n} is {n}/10 of a second: it counts tenths of a second",
                    k.name()
                ),
                Some(format!(
                    "{} {}, if {n} seconds were meant",
                    k.name(),
                    n * 10
                )),
            );
        }
        if let Some((word, read_as)) = number_problem(k, &d.value) {
            let tenths = if matches!(k, Keyword::Timeout | Keyword::Totaltimeout) {
                " (it counts tenths of a second)"
            } else {
                ""
            };
            let shown = if word.is_empty() {
                "no number".to_string()
            } else {
                format!("`{word}`")
            };
            self.push(
                Code::NumberSyntax,
                at_value(item),
                format!(
                    "{} {shown} is read as {read_as}: syslinux reads numbers with atoi/strtoul, \
                     which stop at the first character that is not a digit{tenths}",
                    k.name()
                ),
                Some(format!("{} {read_as}, or the number you meant", k.name())),
            );
        }
        match k {
            Keyword::F0 => self.push(
                Code::FunctionKeyZero,
                at(item),
                "F0 lands in F11's slot in syslinux 6".into(),
                Some(format!("F10 {}", d.value)),
            ),
            Keyword::Comboot | Keyword::Fdimage => self.push(
                Code::KernelType,
                at(item),
                format!("{} is not supported since syslinux 5", k.name()),
                None,
            ),
            Keyword::Kernel => {
                let file = d.first_word();
                if let Some(ext) = extension(file) {
                    let lower = ext.to_ascii_lowercase();
                    if ext == ".img" {
                        // `.img` is IMAGE_TYPE_FDIMAGE, which execute() hands to the Linux
                        // loader: a Linux-format image (GRUB's lnxcore.img) boots, a floppy
                        // image does not.
                        self.push_sev(
                            Code::KernelType,
                            Severity::Info,
                            at_value(item),
                            format!(
                                "`{file}` goes to the Linux kernel loader in syslinux 6 (floppy \
                                 image support is gone): fine for a Linux-format image, a floppy \
                                 image needs memdisk"
                            ),
                            None,
                        );
                    } else if matches!(lower.as_str(), ".com" | ".cbt") {
                        self.push(
                            Code::KernelType,
                            at_value(item),
                            format!(
                                "`{file}`: COMBOOT ({lower}) programs are not loadable since \
                                 syslinux 5; syslinux 6 hands the file to the Linux loader"
                            ),
                            None,
                        );
                    } else if ext != lower && FILE_EXTENSIONS.contains(&lower.as_str()) {
                        self.push(
                            Code::KernelType,
                            at_value(item),
                            format!(
                                "`{file}`: syslinux 6 matches extensions case-sensitively, so \
                                 this loads as a Linux kernel"
                            ),
                            Some(format!("use the lower-case extension {lower}")),
                        );
                    }
                }
            }
            Keyword::Path => {
                let v = d.value.trim_end();
                if v.contains(':') || v.split(is_space).filter(|w| !w.is_empty()).count() > 1 {
                    self.push(
                        Code::PathList,
                        at_value(item),
                        "several directories on one PATH line: docs say spaces, syslinux 6 \
                         splits on `:`"
                            .into(),
                        Some("write one PATH line per directory".into()),
                    );
                }
            }
            _ => {}
        }
    }

    /// Per-label checks.
    fn labels(&self) {
        let labels = &self.scopes.labels;
        let has_menu = self.has_menu();
        let mut seen: Vec<(&str, String, (u32, u32))> = Vec::new();
        let mut noted: Vec<&str> = Vec::new();
        for l in labels {
            if l.id.is_empty() {
                continue;
            }
            // With a menu, the text after the first word is what menu.c32 shows (its LABEL is
            // the whole line); only the `boot:` prompt without a menu makes people type it.
            if l.raw.trim_end() != l.id && !has_menu && self.opts.mode != LintMode::Fragment {
                self.push(
                    Code::LabelHasSpaces,
                    at_value(l.item),
                    format!(
                        "LABEL `{}` defines label `{}` in the core: at boot: only `{}` boots \
                         it, and the rest of the line is shown nowhere without a menu",
                        l.raw.trim_end(),
                        l.id,
                        l.id
                    ),
                    Some(format!(
                        "LABEL {} + MENU LABEL {}",
                        slug(l.raw),
                        l.raw.trim_end()
                    )),
                );
            }
            // Entries with a menu action are never booted by name; the core's `find_label()`
            // takes the first label of a name, which only matters when two boot different
            // things.
            if l.action().is_none() {
                let cmd = crate::resolve::command_line(l);
                let here = (l.item.file, l.item.line);
                // With a menu, each entry runs its own command line; the id only matters to
                // DEFAULT/ONTIMEOUT (and a person at boot:, which the menu hides).
                let named = !has_menu || self.named_by_default(l.id);
                match seen.iter().find(|(id, _, _)| *id == l.id) {
                    Some((_, first_cmd, first_at))
                        if *first_cmd != cmd
                            && *first_at != here
                            && (named || !noted.contains(&l.id)) =>
                    {
                        // Under a menu and named by nothing, only `boot:` (reached with Esc)
                        // sees the clash: a note, once per id.
                        let (severity, once) = match (named, has_menu) {
                            (true, true) => (Severity::Warning, false),
                            (true, false) => (Severity::Error, false),
                            (false, _) => (Severity::Info, true),
                        };
                        let message = if severity == Severity::Info {
                            format!(
                                "label `{}` is defined again with another command line: each menu \
                                 entry boots its own, but typed at boot: the first one boots",
                                l.id
                            )
                        } else {
                            format!(
                                "label `{}` is defined twice with different command lines; \
                                 DEFAULT, ONTIMEOUT and boot: always get the first",
                                l.id
                            )
                        };
                        self.push_sev(
                            Code::DuplicateLabel,
                            severity,
                            at_value(l.item),
                            message,
                            Some("give each LABEL a unique one-word id".into()),
                        );
                        if once {
                            noted.push(l.id);
                        }
                    }
                    Some(_) => {}
                    None => seen.push((l.id, cmd, here)),
                }
            }
            self.label(l);
        }
    }

    /// Whether DEFAULT or ONTIMEOUT boots label `id` by name.
    fn named_by_default(&self, id: &str) -> bool {
        self.cfg.directives().any(|(_, d)| {
            matches!(d.keyword, Keyword::Default | Keyword::Ontimeout) && d.first_word() == id
        })
    }

    fn label(&self, l: &LabelScope<'_>) {
        let kernel = l.kernel();
        let acts = l.action().is_some();
        let file_exists = self.opts.tree.is_some_and(|t| {
            resolve_path(self.opts.prefix, l.id).is_some_and(|p| t.stat(&p).is_some())
        });
        // A label named like a file with a type extension boots that file on purpose.
        if kernel.is_none() && !acts && !file_exists && !has_file_extension(l.id) {
            self.push(
                Code::LabelWithoutKernel,
                at(l.item),
                format!(
                    "label `{}` has no KERNEL, so it boots a file named `{}`",
                    l.id, l.id
                ),
                Some("add KERNEL (or LINUX/COM32/LOCALBOOT) to the label".into()),
            );
        }
        // Repeats where only the last counts.
        let mut kernels = l.directives().filter(|(_, d)| d.keyword.is_kernel_like());
        let first_kernel = kernels.next();
        for (item, d) in kernels {
            let first = first_kernel.map_or(0, |(i, _)| i.line);
            self.push_sev(
                Code::Overridden,
                Severity::Info,
                at(item),
                format!(
                    "{} replaces the kernel set on line {first}",
                    d.keyword.name()
                ),
                None,
            );
        }
        for k in [Keyword::Append, Keyword::Initrd, Keyword::MenuLabel] {
            let mut same = l.directives().filter(|(_, d)| d.keyword == k).skip(1);
            if let Some((item, _)) = same.next() {
                self.push(
                    Code::Overridden,
                    at(item),
                    format!(
                        "a second {} in label `{}` replaces the first",
                        k.name(),
                        l.id
                    ),
                    Some("merge them into one line".into()),
                );
            }
        }
        if acts {
            return;
        }
        let initrd = l.get(Keyword::Initrd);
        // The label's APPEND, or the global one it inherits.
        let append = l.get(Keyword::Append).or(l
            .global_append
            .and_then(|d| self.cfg.directives().find(|(_, x)| core::ptr::eq(*x, d))));
        if let (Some(_), Some((a_item, a))) = (initrd, append)
            && a.value.split(is_space).any(|w| w.starts_with("initrd="))
        {
            self.push(
                Code::InitrdTwice,
                at(a_item),
                "APPEND has initrd= and the label has INITRD: only INITRD is used".into(),
                Some("list all initrds on the INITRD line".into()),
            );
        }
        let cmdline = crate::resolve::command_line(l);
        if cmdline.len() >= 2048 {
            self.push(
                Code::CommandLineTooLong,
                at(l.item),
                format!(
                    "label `{}` command line is {} bytes: syslinux refuses 2048 or more \
                     (\"cmdline too long\")",
                    l.id,
                    cmdline.len()
                ),
                None,
            );
        }
        if let Some((item, d)) = kernel {
            self.boot_kind(l, item, d);
        }
    }

    fn boot_kind(&self, l: &LabelScope<'_>, item: &Item, d: &Directive) {
        let uefi = self.opts.firmware == Firmware::Uefi;
        let file = d.first_word();
        if d.keyword == Keyword::Localboot {
            let n = d.int();
            if uefi {
                self.push(
                    Code::LocalbootUefi,
                    at(item),
                    "LOCALBOOT under UEFI often loops back into the menu".into(),
                    Some("use iPXE `exit` (or GRUB `exit`) for UEFI clients".into()),
                );
            } else if self.opts.loader == Loader::Pxelinux
                && !matches!(n as u16, 0 | 4 | 5 | 0xffff)
            {
                // `local_boot(uint16_t)` in core/pxeboot.c: -1 and 0xffff are both INT 18h.
                self.push(
                    Code::LocalbootValue,
                    at_value(item),
                    format!("LOCALBOOT {n} is not defined on PXELINUX (0, 4, 5 or -1)"),
                    Some("LOCALBOOT 0".into()),
                );
            }
            return;
        }
        self.loader_matches(item, d);
        let memdisk = basename(file).eq_ignore_ascii_case("memdisk")
            && matches!(d.keyword, Keyword::Kernel | Keyword::Linux);
        let bios_only = memdisk
            || matches!(d.keyword, Keyword::Pxe | Keyword::Boot | Keyword::Bss)
            || (d.keyword == Keyword::Kernel
                && extension(file).is_some_and(|e| matches!(e, ".0" | ".bs" | ".bin" | ".bss")));
        if uefi && bios_only {
            self.push(
                Code::BiosOnlyOnUefi,
                at(item),
                format!("`{file}` only works on BIOS clients"),
                Some(if memdisk {
                    "boot the image with iPXE `sanboot` or use wimboot/netboot kernels".into()
                } else {
                    "serve UEFI clients an iPXE script instead".into()
                }),
            );
        }
        if !memdisk {
            return;
        }
        let images = self.memdisk_images(l);
        let iso = l
            .get(Keyword::Append)
            .is_some_and(|(_, a)| a.value.split(is_space).any(|w| w == "iso"));
        for image in images {
            let name = basename(&image).to_ascii_lowercase();
            if !iso && !name.ends_with(".iso") {
                continue;
            }
            // Only the name is known here, not what the image holds: both are notes.
            if name.contains("win") {
                self.push(
                    Code::MemdiskWindowsIso,
                    at(l.item),
                    format!(
                        "memdisk with `{image}`: if this is Windows Setup, it loses the RAM disk \
                         once its own drivers load (this lint only sees the file name)"
                    ),
                    Some(
                        "boot WinPE with wimboot (bootmgr, boot/bcd, boot/boot.sdi, \
                         sources/boot.wim) via iPXE or linux.c32: the `wimboot` menu kind"
                            .into(),
                    ),
                );
            } else {
                self.push(
                    Code::MemdiskLinuxIso,
                    at(l.item),
                    format!(
                        "memdisk boots `{image}` from RAM; what happens next depends on what is \
                         inside, which this lint cannot see: netboot images such as Debian's \
                         mini.iso work, a full Linux installer or live ISO usually cannot find \
                         its CD once Linux runs"
                    ),
                    None,
                );
            }
        }
    }

    /// The loader directive can load the file (`execute()` in
    /// `com32/elflink/ldlinux/execute.c`): `.linux` hands any file to the Linux loader, and
    /// `.com32` applies `apply_extension(.., ".c32")`, so `COM32 vmlinuz` loads `vmlinuz.c32`.
    fn loader_matches(&self, item: &Item, d: &Directive) {
        let file = d.first_word();
        match d.keyword {
            Keyword::Linux if file.ends_with(".c32") => self.push(
                Code::WrongLoader,
                at_value(item),
                format!(
                    "LINUX hands `{file}` to the Linux kernel loader, which cannot run a COM32 \
                     module"
                ),
                Some(format!("COM32 {file} (or KERNEL {file})")),
            ),
            Keyword::Com32 if !file.is_empty() && !file.ends_with(".c32") => {
                let base = basename(file);
                let lower = base.to_ascii_lowercase();
                let kernel_like = extension(base).is_some()
                    || lower.starts_with("vmlinu")
                    || lower.starts_with("bzimage")
                    || matches!(lower.as_str(), "linux" | "memdisk" | "kernel");
                let tree_says = self.opts.tree.is_some_and(|t| {
                    let at = |f: &str| {
                        resolve_path(self.opts.prefix, f).is_some_and(|p| t.stat(&p).is_some())
                    };
                    at(file) && !at(&format!("{file}.c32"))
                });
                if kernel_like || tree_says {
                    self.push(
                        Code::WrongLoader,
                        at_value(item),
                        format!(
                            "COM32 loads `{file}.c32` (it adds .c32 to a name without it), not \
                             `{file}`"
                        ),
                        Some(format!(
                            "KERNEL {file} (or LINUX {file} for a Linux kernel)"
                        )),
                    );
                }
            }
            _ => {}
        }
    }

    /// The images memdisk loads for a label: `INITRD` files, else `initrd=` in APPEND.
    fn memdisk_images(&self, l: &LabelScope<'_>) -> Vec<String> {
        if let Some((_, d)) = l.get(Keyword::Initrd) {
            return d
                .value
                .split(',')
                .map(|s| first_word(s).to_string())
                .collect();
        }
        let append = l
            .get(Keyword::Append)
            .or(self.scopes.global(Keyword::Append))
            .map(|(_, d)| d.value.as_str())
            .unwrap_or("");
        append
            .split(is_space)
            .filter_map(|w| w.strip_prefix("initrd="))
            .flat_map(|w| w.split(','))
            .map(ToString::to_string)
            .collect()
    }

    /// DEFAULT / ONTIMEOUT / MENU GOTO / MENU EXIT targets.
    fn targets(&self) {
        let has_includes = self
            .cfg
            .directives()
            .any(|(_, d)| matches!(d.keyword, Keyword::Include | Keyword::MenuInclude));
        // A target may live in an include this config was parsed without.
        if has_includes && !self.opts.includes_read {
            return;
        }
        let scopes = &self.scopes;
        let file_exists = |name: &str| {
            self.opts.tree.is_some_and(|t| {
                resolve_path(self.opts.prefix, name).is_some_and(|p| t.stat(&p).is_some())
            })
        };
        for (item, d) in self.cfg.directives() {
            match d.keyword {
                Keyword::Default | Keyword::Ontimeout => {
                    let target = d.first_word();
                    if target.is_empty()
                        || has_file_extension(target)
                        || target.contains('/')
                        || scopes.label(target).is_some()
                        || file_exists(target)
                    {
                        continue;
                    }
                    let fix = scopes
                        .labels
                        .iter()
                        .map(|l| l.id)
                        .find(|id| id.eq_ignore_ascii_case(target))
                        .map(|id| format!("{} {id} (labels are case-sensitive)", d.keyword.name()));
                    self.push(
                        Code::UnknownTarget,
                        at_value(item),
                        format!(
                            "{} `{target}` matches no label; syslinux will look for a file \
                             named `{target}`",
                            d.keyword.name()
                        ),
                        fix,
                    );
                }
                Keyword::MenuGoto | Keyword::MenuExit => {
                    let tag = d.first_word();
                    if tag.is_empty() || tag == ".top" || scopes.menu_tags.contains(&tag) {
                        continue;
                    }
                    self.push(
                        Code::UnknownTarget,
                        at_value(item),
                        format!("{} `{tag}` names no MENU BEGIN tag", d.keyword.name()),
                        None,
                    );
                }
                _ => {}
            }
        }
    }

    /// PROMPT and timeouts (menu-syntax.md §6).
    fn prompt(&self) {
        let cfg = self.cfg;
        let has_ui = self.has_menu();
        let person_waits = matches!(self.opts.mode, LintMode::Interactive | LintMode::Menu);
        let timeout = self
            .scopes
            .global(Keyword::Timeout)
            .map_or(0, |(_, d)| d.int());
        let total_line = self.scopes.global(Keyword::Totaltimeout);
        let total = total_line.map_or(0, |(_, d)| d.int());
        let timeout_written = self.scopes.global(Keyword::Timeout).is_some();
        let Some((item, d)) = self.scopes.global(Keyword::Prompt) else {
            return;
        };
        let n = d.int();
        // A comment on the line above (or inline) that talks about seconds shows the intent.
        let idx = cfg
            .items
            .iter()
            .position(|i| core::ptr::eq(i, item))
            .unwrap_or(0);
        let comment_above =
            idx.checked_sub(1)
                .and_then(|p| cfg.items.get(p))
                .and_then(|i| match &i.kind {
                    ItemKind::Comment(c) => Some(c.as_str()),
                    _ => None,
                });
        let secs = mentions_seconds(&d.value).or(comment_above.and_then(mentions_seconds));
        if n != 0 && n != 1 || secs.is_some() {
            let tenths = secs.unwrap_or(n).saturating_mul(10);
            self.push(
                Code::PromptNotBoolean,
                at_value(item),
                format!(
                    "PROMPT is a yes/no flag, not a time: PROMPT {n} just means \"always show \
                     boot:\""
                ),
                Some(format!(
                    "PROMPT 1 and TIMEOUT {tenths} (TIMEOUT counts tenths of a second)"
                )),
            );
        }
        // `PROMPT 1` with both timers written out as 0 is the one form that says "wait at
        // boot: for a person" on purpose: `TOTALTIMEOUT 0` changes nothing in pxelinux, so
        // it is only there to state intent (what `Menu::render` writes for `timeout = 0`).
        // A PROMPT other than 1, a seconds comment, or a TIMEOUT left out (common hand-written mistakes)
        // still get M005.
        let waits_on_purpose = n == 1 && secs.is_none() && timeout_written && total_line.is_some();
        if n != 0 && !has_ui && timeout == 0 && total == 0 && !waits_on_purpose && !person_waits {
            self.push(
                Code::NeverAutoboots,
                at_value(item),
                "boot: is always shown and there is no TIMEOUT, so an unattended client waits \
                 forever and never boots the DEFAULT"
                    .into(),
                Some(format!(
                    "TIMEOUT {} (tenths of a second), or UI menu.c32",
                    secs.map_or(100, |s| s.saturating_mul(10))
                )),
            );
        }
    }

    /// File-wide checks.
    fn globals(&self) {
        let cfg = self.cfg;
        let first_directive = cfg.directives().next();
        if let Some((item, _)) = cfg.directives().find(|(_, d)| d.keyword == Keyword::Serial)
            && first_directive.is_some_and(|(f, _)| !core::ptr::eq(f, item))
        {
            self.push(
                Code::SerialNotFirst,
                at(item),
                "SERIAL is not the first directive: output before it misses the serial \
                     console"
                    .into(),
                Some("move SERIAL to the top of the file".into()),
            );
        }
        let ui = self.scopes.global(Keyword::Ui);
        let default = self.scopes.global(Keyword::Default);
        let person_waits = matches!(self.opts.mode, LintMode::Interactive | LintMode::Menu);
        if ui.is_none() && default.is_none() && !person_waits {
            self.push(
                Code::NoDefault,
                self.top(),
                "neither DEFAULT nor UI: pxelinux prints \"No DEFAULT or UI configuration \
                 directive found!\""
                    .into(),
                Some("add DEFAULT <label> (and UI menu.c32 for a menu)".into()),
            );
        }
        if !self.has_menu()
            && self.opts.mode == LintMode::Entry
            && let Some((item, _)) = cfg.directives().find(|(_, d)| d.keyword.is_menu())
        {
            self.push(
                Code::MenuWithoutUi,
                at(item),
                "MENU directives but no UI line: the core ignores them and shows no menu".into(),
                Some("add UI menu.c32".into()),
            );
        }
        // An entry password; a master password alone guards [Tab] and [Esc] itself
        // (menu.c32 asks for it before either works).
        let master = cfg
            .directives()
            .any(|(_, d)| d.keyword == Keyword::MenuMasterPasswd);
        if let Some((item, _)) = cfg
            .directives()
            .find(|(_, d)| d.keyword == Keyword::MenuPasswd && !d.value.trim().is_empty())
            .filter(|_| !master)
        {
            let int = |k| self.scopes.global(k).map(|(_, d)| d.int());
            let locked = int(Keyword::Allowoptions) == Some(0)
                && int(Keyword::Noescape) == Some(1)
                && int(Keyword::Prompt).unwrap_or(0) == 0;
            if !locked {
                self.push(
                    Code::PasswordEscapable,
                    at(item),
                    "a menu password can be walked around at boot: while options are allowed \
                     or escapes work"
                        .into(),
                    Some("ALLOWOPTIONS 0, NOESCAPE 1 and PROMPT 0".into()),
                );
            }
        }
        for k in [Keyword::Default, Keyword::Ui, Keyword::Prompt] {
            let mut same = self
                .scopes
                .globals
                .iter()
                .filter(|i| i.directive().is_some_and(|d| d.keyword == k));
            let Some(first) = same.next() else { continue };
            for item in same.filter(|i| (i.file, i.line) != (first.file, first.line)) {
                // Within one file it is a slip; across included files a later file setting
                // it again is usually how the tree is layered, so only a note.
                let (severity, where_) = if item.file == first.file {
                    (Severity::Warning, format!("line {}", first.line))
                } else {
                    (
                        Severity::Info,
                        match self
                            .opts
                            .files
                            .get(usize::try_from(first.file).unwrap_or(usize::MAX))
                        {
                            Some(path) => format!("{path}:{}", first.line),
                            None => format!("line {} of an included file", first.line),
                        },
                    )
                };
                self.push_sev(
                    Code::Overridden,
                    severity,
                    at(item),
                    format!("{} repeats {where_}: only the last one counts", k.name(),),
                    Some("keep one".into()),
                );
            }
        }
    }
}

/// A number value syslinux reads as something other than what is written: the first word is
/// not entirely a number in the syntax the directive's parser takes (`atoi` for most;
/// `strtoul(.., 0)`, which takes `0x..` and octal, for `LOCALBOOT`, `IPAPPEND`, `SYSAPPEND`:
/// `parse_config_file()` in `com32/elflink/ldlinux/readconfig.c`, `execute()` in
/// `execute.c`). Returns the word and the value it is read as. Later words are ignored by
/// syslinux and not judged here (`PROMPT 1 # comment` is fine).
fn number_problem(k: Keyword, value: &str) -> Option<(&str, i64)> {
    if k.arg() != crate::keyword::Arg::Int {
        return None;
    }
    let word = first_word(value);
    let base0 = matches!(
        k,
        Keyword::Localboot | Keyword::Ipappend | Keyword::Sysappend
    );
    let digits = word.strip_prefix(['-', '+']).unwrap_or(word);
    let ok = if base0 {
        if let Some(h) = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())
        } else if digits.starts_with('0') {
            digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
        } else {
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
    } else {
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if ok {
        return None;
    }
    let read_as = if base0 {
        crate::parse::strtol_base0(value)
    } else {
        crate::parse::atoi(value)
    };
    Some((word, read_as))
}

/// Whether a word on menu.c32's command line is a config file for it to read (not `~`, the
/// current config, and not an option).
pub(crate) fn is_menu_file(w: &str) -> bool {
    !w.is_empty() && w != "~" && !w.contains('=')
}

/// The config files a label passes to menu.c32/vesamenu.c32 (`parse_configs(argv + 1)` in
/// `com32/menu/readconfig.c` reads each one): the words after the module on its command line.
pub(crate) fn menu_module_files<'a>(l: &LabelScope<'a>) -> Vec<(&'a Item, &'a str)> {
    let Some((kitem, k)) = l.kernel() else {
        return Vec::new();
    };
    if !matches!(k.keyword, Keyword::Kernel | Keyword::Com32) || !is_menu_module(k.first_word()) {
        return Vec::new();
    }
    let mut out: Vec<(&Item, &str)> = k
        .value
        .split(is_space)
        .filter(|w| !w.is_empty())
        .skip(1)
        .filter(|w| is_menu_file(w))
        .map(|w| (kitem, w))
        .collect();
    let append = l
        .get(Keyword::Append)
        .or(l.global_append.map(|d| (kitem, d)));
    if let Some((aitem, a)) = append
        && a.value != "-"
    {
        out.extend(
            a.value
                .split(is_space)
                .filter(|w| is_menu_file(w))
                .map(|w| (aitem, w)),
        );
    }
    out
}

/// Whether a file is menu.c32 or vesamenu.c32 (by its base name).
pub(crate) fn is_menu_module(file: &str) -> bool {
    let b = basename(file);
    b == "menu.c32" || b == "vesamenu.c32"
}

/// Where an inline `#` that looks like a comment starts in a value, if it matters.
///
/// Command lines (`DEFAULT`, `APPEND`, `KERNEL`, ...) take any blank-then-`#`: it reaches the
/// kernel or the label lookup. Display text (`MENU LABEL`, `SAY`, ...) only a `# ` comment
/// shape, since `Item #1` is shown as written. Word and number values ignore the rest of the
/// line, and colours/passwords/`MENU AUTOBOOT` use `#` themselves.
fn inline_comment(k: Keyword, value: &str) -> Option<usize> {
    if !is_string_valued(k) || k.arg() != crate::keyword::Arg::Rest {
        return None;
    }
    if matches!(
        k,
        Keyword::MenuColor
            | Keyword::MenuColour
            | Keyword::MenuMsgcolor
            | Keyword::MenuMsgcolour
            | Keyword::MenuAutoboot
            | Keyword::MenuPasswd
            | Keyword::MenuMasterPasswd
            | Keyword::MenuBackground
            // LABEL: the core keeps the first word; the rest is menu.c32's display text.
            | Keyword::Label
    ) {
        return None;
    }
    let command = k.is_kernel_like()
        || matches!(
            k,
            Keyword::Default
                | Keyword::Ui
                | Keyword::Append
                | Keyword::Initrd
                | Keyword::Ontimeout
                | Keyword::Onerror
        );
    let bytes = value.as_bytes();
    value.char_indices().find_map(|(i, c)| {
        let after = bytes.get(i + 1).copied();
        let comment_shaped = after.is_none_or(|b| is_space(char::from(b)));
        (c == '#'
            && i > 0
            && bytes.get(i - 1).is_some_and(|b| is_space(char::from(*b)))
            && (command || comment_shaped))
            .then(|| i - 1)
    })
}

/// A one-word id made from display text: `Windows 7 Install (AMD64)` → `windows_7_install_amd64`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() { "entry".into() } else { out }
}

/// How a referenced file is used (decides severity when it is missing).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Needed to boot (kernel, initrd, module): missing is an error.
    Boot,
    /// A COM32 module, also searched in PATH directories.
    Module,
    /// Shown; syslinux silently skips a missing one.
    Optional,
    /// Included; syslinux silently skips a missing one, and trees leave out optional parts
    /// this way (a note, not a warning).
    Include,
}

impl Linter<'_, '_> {
    /// Files the config names, with the item naming them.
    fn references(&self) -> Vec<(&Item, String, Use)> {
        let mut out = Vec::new();
        // The core tries `.c32` first for a name without a known extension (`get_extension()`).
        let module = |w: &str| {
            if has_file_extension(w) {
                w.to_string()
            } else {
                format!("{w}.c32")
            }
        };
        // COM32 always adds `.c32` unless the name ends in it (`apply_extension()`).
        let com32 = |w: &str| {
            if w.ends_with(".c32") {
                w.to_string()
            } else {
                format!("{w}.c32")
            }
        };
        for l in &self.scopes.labels {
            for (item, file) in menu_module_files(l) {
                out.push((item, file.to_string(), Use::Optional));
            }
        }
        let orphan = |item: &Item| self.scopes.orphans.iter().any(|o| core::ptr::eq(*o, item));
        for (item, d) in self.cfg.directives() {
            let w = d.first_word();
            if orphan(item) {
                continue;
            }
            match d.keyword {
                Keyword::Localboot => {}
                Keyword::Com32 if !w.is_empty() => out.push((item, com32(w), Use::Module)),
                Keyword::Ui if !w.is_empty() => {
                    out.push((item, module(w), Use::Module));
                    if is_menu_module(w) {
                        for f in d.value.split(is_space).skip(1).filter(|f| is_menu_file(f)) {
                            out.push((item, f.to_string(), Use::Optional));
                        }
                    }
                }
                k if k.is_kernel_like() && !w.is_empty() => {
                    let u = if extension(w) == Some(".c32") {
                        Use::Module
                    } else {
                        Use::Boot
                    };
                    out.push((item, w.to_string(), u));
                }
                Keyword::Default if extension(w) == Some(".c32") => {
                    out.push((item, w.to_string(), Use::Module));
                }
                Keyword::Initrd => {
                    for f in d.value.split(',').map(first_word).filter(|f| !f.is_empty()) {
                        out.push((item, f.to_string(), Use::Boot));
                    }
                }
                Keyword::Append => {
                    let files = d
                        .value
                        .split(is_space)
                        .filter_map(|w| w.strip_prefix("initrd="))
                        .flat_map(|w| w.split(','))
                        .filter(|f| !f.is_empty());
                    for f in files {
                        out.push((item, f.to_string(), Use::Boot));
                    }
                }
                Keyword::Include | Keyword::MenuInclude if !w.is_empty() => {
                    out.push((item, w.to_string(), Use::Include));
                }
                Keyword::Display | Keyword::Font | Keyword::Kbdmap | Keyword::MenuHelp
                    if !w.is_empty() =>
                {
                    out.push((item, w.to_string(), Use::Optional));
                }
                Keyword::MenuBackground if !w.is_empty() && !w.starts_with('#') => {
                    out.push((item, w.to_string(), Use::Optional));
                }
                k if k.function_key().is_some() && !w.is_empty() => {
                    out.push((item, w.to_string(), Use::Optional));
                }
                _ => {}
            }
        }
        out
    }

    /// Checks against the served tree.
    fn tree(&self) {
        let Some(tree) = self.opts.tree else { return };
        let prefix = self.opts.prefix;
        let paths: Vec<String> = self
            .cfg
            .directives()
            .filter(|(_, d)| d.keyword == Keyword::Path)
            .flat_map(|(_, d)| {
                d.value
                    .split(|c: char| c == ':' || is_space(c))
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|p| !p.is_empty())
            .map(|p| if p.ends_with('/') { p } else { format!("{p}/") })
            .collect();
        let refs = self.references();
        let mut modules_used = None;
        for (item, file, usage) in refs {
            let Some(path) = resolve_path(prefix, &file) else {
                continue;
            };
            if path.chars().count() > 127 {
                self.push(
                    Code::PathTooLong,
                    at_value(item),
                    format!("`{path}` is over 127 characters; old PXE stacks truncate it"),
                    None,
                );
            }
            let mut found = tree.stat(&path).map(|m| (path.clone(), m));
            if found.is_none() && usage == Use::Module {
                found = paths.iter().find_map(|dir| {
                    let p = resolve_path(prefix, &format!("{dir}{file}"))?;
                    tree.stat(&p).map(|m| (p, m))
                });
            }
            if usage == Use::Module && modules_used.is_none() {
                modules_used = Some(item);
            }
            match found {
                Some((p, meta)) => {
                    if !meta.world_readable {
                        self.push(
                            Code::FileNotReadable,
                            at_value(item),
                            format!("`{p}` is not world-readable, so the TFTP server cannot send it"),
                            Some(format!("chmod o+r {p}")),
                        );
                    }
                    self.memdisk_size(item, &file, meta.size);
                }
                None => match tree.find_ignore_case(&path) {
                    Some(real) => self.push(
                        Code::FileCaseMismatch,
                        at_value(item),
                        format!("`{path}` does not exist, but `{real}` does: TFTP names are case-sensitive"),
                        Some(format!("write `{}` or rename the file", real.strip_prefix(prefix).unwrap_or(&real))),
                    ),
                    None => {
                        let sev = match usage {
                            Use::Include => Severity::Info,
                            Use::Optional => Severity::Warning,
                            Use::Boot | Use::Module => Severity::Error,
                        };
                        let what = if matches!(usage, Use::Optional | Use::Include) { " (syslinux skips it silently)" } else { "" };
                        self.push_sev(
                            Code::FileMissing,
                            sev,
                            at_value(item),
                            format!("`{path}` is not in the served tree{what}"),
                            None,
                        );
                    }
                },
            }
        }
        self.display_listing(tree);
        // The loader sits at the prefix only for the configs pxelinux loads at start.
        if self.opts.firmware != Firmware::Bios
            || self.opts.mode != LintMode::Entry
            || self.opts.loader != Loader::Pxelinux
        {
            return;
        }
        let has_loader = ["pxelinux.0", "lpxelinux.0"]
            .iter()
            .any(|l| resolve_path(prefix, l).is_some_and(|p| tree.stat(&p).is_some()));
        let in_dirs = |name: &str| {
            core::iter::once(String::new())
                .chain(paths.iter().cloned())
                .any(|dir| {
                    resolve_path(prefix, &format!("{dir}{name}"))
                        .is_some_and(|p| tree.stat(&p).is_some())
                })
        };
        if !has_loader {
            self.push(
                Code::LoaderMissing,
                self.top(),
                format!("no pxelinux.0 or lpxelinux.0 at the path prefix `{prefix}`"),
                Some("copy /usr/lib/PXELINUX/pxelinux.0 there".into()),
            );
        } else if !in_dirs("ldlinux.c32") {
            self.push(
                Code::LdlinuxMissing,
                self.top(),
                "ldlinux.c32 is not next to pxelinux.0: \"Failed to load ldlinux.c32\"".into(),
                Some("copy ldlinux.c32 from the same syslinux version as pxelinux.0".into()),
            );
        }
        if let Some(item) = modules_used {
            let missing: Vec<&str> = ["libutil.c32", "libcom32.c32"]
                .into_iter()
                .filter(|m| !in_dirs(m))
                .collect();
            if !missing.is_empty() {
                self.push(
                    Code::ModuleLibsMissing,
                    at_value(item),
                    format!("COM32 modules need {} next to them", missing.join(" and ")),
                    Some("copy them from the same syslinux version".into()),
                );
            }
        }
    }

    /// With no UI the user types a label at `boot:`, knowing only what the DISPLAY file shows:
    /// every label should appear there.
    fn display_listing(&self, tree: &dyn TreeView) {
        // Only where pxelinux starts: a prompt reached from a menu choice (Debian's help
        // screens) is for people who know what to type.
        if self.opts.mode != LintMode::Entry {
            return;
        }
        let ui = self.has_menu();
        let Some((_, display)) = self.scopes.global(Keyword::Display) else {
            return;
        };
        let Some(path) = resolve_path(self.opts.prefix, display.first_word()) else {
            return;
        };
        if ui {
            return;
        }
        let Some(text) = tree.read(&path) else { return };
        let words: alloc::collections::BTreeSet<&str> = text
            .split(|c: char| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, ',' | ';' | ':' | '|' | '(' | ')' | '[' | ']')
            })
            .filter(|w| !w.is_empty())
            .collect();
        for l in &self.scopes.labels {
            if l.id.is_empty()
                || l.get(Keyword::MenuHide).is_some()
                || l.action().is_some()
                || words.contains(l.id)
            {
                continue;
            }
            self.push(
                Code::DisplayMissingLabel,
                at_value(l.item),
                format!(
                    "label `{}` is not listed in {path}, the only menu users see at boot:",
                    l.id
                ),
                Some(format!("add `{}` to {path}", l.id)),
            );
        }
    }

    fn memdisk_size(&self, item: &Item, file: &str, size: u64) {
        // Only images loaded by a memdisk label.
        // Labels are in file order and own the items up to the next one.
        let labels = &self.scopes.labels;
        let idx = labels.partition_point(|l| l.item.line <= item.line);
        let Some(l) = idx
            .checked_sub(1)
            .and_then(|i| labels.get(i))
            .filter(|l| l.items.iter().any(|i| core::ptr::eq(*i, item)))
        else {
            return;
        };
        let memdisk = l
            .kernel()
            .is_some_and(|(_, d)| basename(d.first_word()).eq_ignore_ascii_case("memdisk"));
        if !memdisk || basename(file).eq_ignore_ascii_case("memdisk") {
            return;
        }
        let mib = size >> 20;
        if size > self.opts.memdisk_max_bytes {
            self.push(
                Code::MemdiskImageTooLarge,
                at_value(item),
                format!("`{file}` is {mib} MiB: memdisk must hold it in RAM below 4 GiB"),
                Some(
                    "boot it with iPXE `sanboot` over HTTP (the `sanboot` menu kind: read on \
                     demand by range requests, no RAM copy, BIOS and UEFI), or a netboot kernel \
                     or wimboot"
                        .into(),
                ),
            );
        } else if size > self.opts.memdisk_warn_bytes {
            self.push(
                Code::MemdiskImageLarge,
                at_value(item),
                format!(
                    "`{file}` is {mib} MiB: memdisk pulls all of it over TFTP into RAM first \
                     (about {} s at 10 MB/s)",
                    size / 10_000_000
                ),
                Some(
                    "prefer iPXE `sanboot` over HTTP (the `sanboot` menu kind): iPXE reads only \
                     the blocks the booted system asks for, copies nothing into RAM, and works \
                     on UEFI too; memdisk suits small images (floppies, tool ISOs) on BIOS"
                        .into(),
                ),
            );
        }
    }
}
