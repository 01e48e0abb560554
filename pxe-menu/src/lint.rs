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
    /// memdisk with a Linux distribution ISO: the installer loses the disk after boot.
    MemdiskLinuxIso = "M013", "memdisk-linux-iso", Warning;
    /// memdisk with a Windows ISO: Setup loses the disk; use wimboot.
    MemdiskWindowsIso = "M014", "memdisk-windows-iso", Warning;
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

/// What the lint knows beyond the text.
#[derive(Clone, Copy)]
pub struct LintOptions<'t> {
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

/// Words in an ISO name that say "Linux distribution" (memdisk cannot keep its disk).
const LINUX_ISO_HINTS: &[&str] = &[
    "debian",
    "ubuntu",
    "fedora",
    "centos",
    "rhel",
    "rocky",
    "alma",
    "archlinux",
    "manjaro",
    "mint",
    "suse",
    "kali",
    "gentoo",
    "alpine",
    "linux",
    "netinst",
    "proxmox",
    "clonezilla",
];

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
    fn push(&self, code: Code, at: (u32, u32), message: String, fix: Option<String>) {
        self.push_sev(code, code.severity(), at, message, fix);
    }

    fn push_sev(
        &self,
        code: Code,
        severity: Severity,
        (line, col): (u32, u32),
        message: String,
        fix: Option<String>,
    ) {
        self.out.borrow_mut().push(Finding {
            code,
            severity,
            line,
            col,
            message,
            fix,
        });
    }
}

fn at(i: &Item) -> (u32, u32) {
    (i.line, i.col)
}

fn at_value(i: &Item) -> (u32, u32) {
    (i.line, i.value_col)
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
    l.targets();
    l.prompt();
    l.globals();
    if opts.tree.is_some() {
        l.tree();
    }
    let mut out = l.out.into_inner();
    out.sort_by_key(|f| (f.line, f.col, f.code));
    out
}

/// Parses and lints text in one call.
pub fn lint_str(text: &str, opts: &LintOptions<'_>) -> Vec<Finding> {
    lint(&Config::parse(text), opts)
}

impl Linter<'_, '_> {
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
        for item in &self.scopes.orphans {
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
                    if matches!(lower.as_str(), ".com" | ".cbt" | ".img") {
                        self.push(
                            Code::KernelType,
                            at_value(item),
                            format!("`{file}`: {lower} images are not bootable by syslinux 6"),
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
        let mut seen = alloc::collections::BTreeSet::new();
        for l in labels {
            if l.id.is_empty() {
                continue;
            }
            if l.raw.trim_end() != l.id {
                self.push(
                    Code::LabelHasSpaces,
                    at_value(l.item),
                    format!(
                        "LABEL `{}` defines label `{}` in the core: `boot:` and DEFAULT \
                         ignore the rest",
                        l.raw.trim_end(),
                        l.id
                    ),
                    Some(format!(
                        "LABEL {} + MENU LABEL {}",
                        slug(l.raw),
                        l.raw.trim_end()
                    )),
                );
            }
            if !seen.insert(l.id) {
                self.push(
                    Code::DuplicateLabel,
                    at_value(l.item),
                    format!(
                        "label `{}` is defined twice; the core always picks the first",
                        l.id
                    ),
                    Some("give each LABEL a unique one-word id".into()),
                );
            }
            self.label(l);
        }
    }

    fn label(&self, l: &LabelScope<'_>) {
        let kernel = l.kernel();
        let acts = l.directives().any(|(_, d)| d.keyword.is_menu_action());
        if kernel.is_none() && !acts {
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
            self.push(
                Code::Overridden,
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
        let initrd = l.get(Keyword::Initrd);
        // The label's APPEND, or the global one it inherits.
        let append = l
            .get(Keyword::Append)
            .or(self.scopes.global(Keyword::Append));
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
        let global_append = self
            .scopes
            .global(Keyword::Append)
            .map(|(_, d)| d.value.as_str());
        let cmdline = crate::resolve::command_line(l, global_append);
        if cmdline.len() > 2048 {
            self.push(
                Code::CommandLineTooLong,
                at(l.item),
                format!(
                    "label `{}` command line is {} bytes (limit 2048)",
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
            } else if !matches!(n, 0 | 4 | 5 | -1) {
                self.push(
                    Code::LocalbootValue,
                    at_value(item),
                    format!("LOCALBOOT {n} is not defined on PXELINUX (0, 4, 5 or -1)"),
                    Some("LOCALBOOT 0".into()),
                );
            }
            return;
        }
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
            if name.contains("win") {
                self.push(
                    Code::MemdiskWindowsIso,
                    at(l.item),
                    format!(
                        "memdisk with `{image}`: Windows Setup loses the RAM disk once its own \
                         drivers load, and the whole ISO goes over TFTP into RAM"
                    ),
                    Some(
                        "boot WinPE with wimboot (bootmgr, boot/bcd, boot/boot.sdi, \
                         sources/boot.wim) via iPXE or linux.c32: the `wimboot` menu kind"
                            .into(),
                    ),
                );
            } else if LINUX_ISO_HINTS.iter().any(|h| name.contains(h)) {
                self.push(
                    Code::MemdiskLinuxIso,
                    at(l.item),
                    format!(
                        "memdisk with `{image}`: the installer boots, then cannot find its CD \
                         (the RAM disk is invisible to Linux)"
                    ),
                    Some(
                        "boot the distribution's netboot kernel and initrd (e.g. \
                         debian-installer/amd64/linux + initrd.gz)"
                            .into(),
                    ),
                );
            }
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
    /// Label ids and menu tags defined in INCLUDEd files, read through the tree. `None` when
    /// some include cannot be read (no tree, a missing file, a remote path): then a target
    /// may live there and is not judged.
    fn included_names(&self) -> Option<(Vec<String>, Vec<String>)> {
        let mut ids = Vec::new();
        let mut tags = Vec::new();
        let mut pending: Vec<(String, u32)> = self
            .cfg
            .directives()
            .filter(|(_, d)| matches!(d.keyword, Keyword::Include | Keyword::MenuInclude))
            .map(|(_, d)| (d.first_word().to_string(), 1))
            .collect();
        if pending.is_empty() {
            return Some((ids, tags));
        }
        let tree = self.opts.tree?;
        let mut read: Vec<String> = Vec::new();
        while let Some((file, depth)) = pending.pop() {
            // syslinux documents 16 levels; deeper (or circular) includes are not followed.
            if depth > 16 {
                return None;
            }
            let path = resolve_path(self.opts.prefix, &file)?;
            // Each file once: a file that includes itself must not multiply the work.
            if read.contains(&path) {
                continue;
            }
            let cfg = Config::parse(&tree.read(&path)?);
            read.push(path);
            let s = cfg.scopes();
            ids.extend(s.labels.iter().map(|l| l.id.to_string()));
            tags.extend(s.menu_tags.iter().map(|t| t.to_string()));
            pending.extend(
                cfg.directives()
                    .filter(|(_, d)| matches!(d.keyword, Keyword::Include | Keyword::MenuInclude))
                    .map(|(_, d)| (d.first_word().to_string(), depth + 1)),
            );
        }
        Some((ids, tags))
    }

    /// DEFAULT / ONTIMEOUT / MENU GOTO / MENU EXIT targets.
    fn targets(&self) {
        let Some((included_ids, included_tags)) = self.included_names() else {
            return;
        };
        let scopes = &self.scopes;
        for (item, d) in self.cfg.directives() {
            match d.keyword {
                Keyword::Default | Keyword::Ontimeout => {
                    let target = d.first_word();
                    if target.is_empty()
                        || has_file_extension(target)
                        || target.contains('/')
                        || scopes.label(target).is_some()
                        || included_ids.iter().any(|i| i == target)
                    {
                        continue;
                    }
                    let fix = scopes
                        .labels
                        .iter()
                        .map(|l| l.id)
                        .chain(included_ids.iter().map(String::as_str))
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
                    if tag.is_empty()
                        || tag == ".top"
                        || scopes.menu_tags.contains(&tag)
                        || included_tags.iter().any(|t| t == tag)
                    {
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
        let has_ui = self.scopes.global(Keyword::Ui).is_some();
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
        // A PROMPT other than 1, a seconds comment, or a TIMEOUT left out (the seed's mistakes)
        // still get M005.
        let waits_on_purpose = n == 1 && secs.is_none() && timeout_written && total_line.is_some();
        if n != 0 && !has_ui && timeout == 0 && total == 0 && !waits_on_purpose {
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
        if ui.is_none() && default.is_none() {
            self.push(
                Code::NoDefault,
                (1, 1),
                "neither DEFAULT nor UI: pxelinux prints \"No DEFAULT or UI configuration \
                 directive found!\""
                    .into(),
                Some("add DEFAULT <label> (and UI menu.c32 for a menu)".into()),
            );
        }
        let default_is_menu = default.is_some_and(|(_, d)| {
            let w = basename(d.first_word());
            w.eq_ignore_ascii_case("menu.c32") || w.eq_ignore_ascii_case("vesamenu.c32")
        });
        if ui.is_none()
            && !default_is_menu
            && let Some((item, _)) = cfg.directives().find(|(_, d)| d.keyword.is_menu())
        {
            self.push(
                Code::MenuWithoutUi,
                at(item),
                "MENU directives but no UI line: the core ignores them and shows no menu".into(),
                Some("add UI menu.c32".into()),
            );
        }
        if let Some((item, _)) = cfg
            .directives()
            .find(|(_, d)| matches!(d.keyword, Keyword::MenuPasswd | Keyword::MenuMasterPasswd))
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
            let first = same.next().map(|i| i.line);
            for item in same {
                self.push(
                    Code::Overridden,
                    at(item),
                    format!(
                        "{} repeats line {}: only the last one counts",
                        k.name(),
                        first.unwrap_or(0)
                    ),
                    Some("keep one".into()),
                );
            }
        }
    }
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
    ) {
        return None;
    }
    let command = k.is_kernel_like()
        || matches!(
            k,
            Keyword::Default
                | Keyword::Ui
                | Keyword::Label
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
    /// Shown or included; syslinux silently skips a missing one.
    Optional,
}

impl Linter<'_, '_> {
    /// Files the config names, with the item naming them.
    fn references(&self) -> Vec<(&Item, String, Use)> {
        let mut out = Vec::new();
        let module = |w: &str| {
            if extension(w).is_some() {
                w.to_string()
            } else {
                format!("{w}.c32")
            }
        };
        for (item, d) in self.cfg.directives() {
            let w = d.first_word();
            match d.keyword {
                Keyword::Localboot => {}
                Keyword::Com32 if !w.is_empty() => out.push((item, module(w), Use::Module)),
                Keyword::Ui if !w.is_empty() => out.push((item, module(w), Use::Module)),
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
                Keyword::Display
                | Keyword::Font
                | Keyword::Kbdmap
                | Keyword::Include
                | Keyword::MenuInclude
                | Keyword::MenuHelp
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
                        let sev = if usage == Use::Optional { Severity::Warning } else { Severity::Error };
                        let what = if usage == Use::Optional { " (syslinux skips it silently)" } else { "" };
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
        if self.opts.firmware != Firmware::Bios {
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
                (1, 1),
                format!("no pxelinux.0 or lpxelinux.0 at the path prefix `{prefix}`"),
                Some("copy /usr/lib/PXELINUX/pxelinux.0 there".into()),
            );
        } else if !in_dirs("ldlinux.c32") {
            self.push(
                Code::LdlinuxMissing,
                (1, 1),
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
        let ui = self.scopes.global(Keyword::Ui).is_some();
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
            if l.id.is_empty() || l.get(Keyword::MenuHide).is_some() || words.contains(l.id) {
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
