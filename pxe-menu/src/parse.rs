//! Lossless parsing of a pxelinux config file, with syslinux 6's lexical rules
//! (`parse_config_file()` in `com32/elflink/ldlinux/readconfig.c` and `com32/menu/readconfig.c`).
//!
//! Every line `fgets` returns becomes an [`Item`] (a `TEXT ... ENDTEXT` block is one item) that
//! keeps its file line and column, so a lint can point at it and [`Config`]'s `Display` can
//! write it back. Parsing works on bytes and never fails: syslinux ignores what it does not
//! know, and so do we, keeping such lines as [`ItemKind::Unknown`] for the lint. Bytes that
//! are not UTF-8 are read as Latin-1 (one char per byte, as the BIOS code page shows them) and
//! their lines are listed in [`Config::non_utf8_lines`].

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use nom::bytes::complete::{take_while, take_while1};
use nom::{IResult, Parser};

use crate::keyword::{Arg, Keyword, Scope};

/// syslinux's `MAX_LINE` minus the terminator: longer lines are split and the rest is a new line.
pub const MAX_LINE: usize = 4095;

/// One parsed line (or `TEXT` block) with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Item {
    /// Which file the item comes from: an index into the file list of the
    /// [`crate::Tree`] that read it; 0 for a config parsed on its own.
    #[cfg_attr(feature = "serde", serde(default))]
    pub file: u32,
    /// 1-based line number of the item's first line in its file.
    pub line: u32,
    /// 1-based column (in characters) of the first non-blank character.
    pub col: u32,
    /// 1-based column where the directive's value starts (the end of the line when it has none).
    pub value_col: u32,
    /// What the line is.
    pub kind: ItemKind,
}

/// What a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum ItemKind {
    /// An empty or whitespace-only line.
    Blank,
    /// A line whose first character is `#`; the text after the `#`.
    Comment(String),
    /// A known directive.
    Directive(Directive),
    /// A line whose first word is not a keyword; syslinux ignores it silently. The text from the
    /// first non-blank character.
    Unknown(String),
    /// `TEXT kind` ... `ENDTEXT`.
    Text(TextBlock),
    /// Where the items of a `MENU INCLUDE file [tag]` end, inserted by the [`crate::Tree`]
    /// reader after them (at the `MENU INCLUDE` line). With a tag menu.c32 closes the open
    /// label and the submenu the tag opened there (`parse_config_file()`, `do_include:` in
    /// `com32/menu/readconfig.c`); without one it means nothing.
    IncludeEnd {
        /// Whether the `MENU INCLUDE` had a tag (and so opened a submenu).
        tagged: bool,
    },
}

/// A known directive and its raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Directive {
    /// The keyword.
    pub keyword: Keyword,
    /// Everything after the keyword and the whitespace that follows it, verbatim to the end of
    /// the line (an inline `# ...` is part of it, as in syslinux).
    pub value: String,
}

impl Directive {
    /// The first whitespace-delimited word of the value (the core's reading of `LABEL` and of
    /// word-valued directives).
    pub fn first_word(&self) -> &str {
        first_word(&self.value)
    }

    /// The value read as syslinux reads a number for this keyword: `strtoul(.., 0)` for
    /// `LOCALBOOT`/`IPAPPEND`/`SYSAPPEND` (so `0x10` and `-1` work), `atoi` otherwise.
    pub fn int(&self) -> i64 {
        match self.keyword {
            Keyword::Localboot | Keyword::Ipappend | Keyword::Sysappend => {
                strtol_base0(&self.value)
            }
            _ => atoi(&self.value),
        }
    }
}

/// A `TEXT` block: syslinux swallows every line up to `ENDTEXT`, keywords included.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TextBlock {
    /// The rest of the `TEXT` line; only `HELP` is used, other blocks are skipped.
    pub kind: String,
    /// The lines of the block, verbatim.
    pub lines: Vec<String>,
    /// Whether an `ENDTEXT` line closed it (otherwise it ran to the end of the file).
    pub terminated: bool,
}

/// A parsed config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Config {
    /// The items in file order.
    pub items: Vec<Item>,
    /// Lines (1-based, in the file the item's `file` names) holding bytes that are not UTF-8;
    /// they were read as Latin-1.
    #[cfg_attr(feature = "serde", serde(default))]
    pub non_utf8_lines: Vec<(u32, u32)>,
}

/// syslinux's `my_isspace`: any control character, space or DEL separates words.
pub(crate) fn is_space(c: char) -> bool {
    c <= ' ' || c == '\x7f'
}

/// The first whitespace-delimited word of `s` (empty if none).
pub(crate) fn first_word(s: &str) -> &str {
    let s = s.trim_start_matches(is_space);
    s.split(is_space).next().unwrap_or("")
}

/// `atoi`: optional sign and decimal digits after leading blanks; anything after is ignored.
pub(crate) fn atoi(s: &str) -> i64 {
    let s = s.trim_start_matches(is_space);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or("")),
        Some(b'+') => (false, s.get(1..).unwrap_or("")),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

/// `strtoul(s, NULL, 0)` as an int: `0x` hex, leading `0` octal, else decimal; a sign is allowed.
pub(crate) fn strtol_base0(s: &str) -> i64 {
    let s = s.trim_start_matches(is_space);
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or("")),
        Some(b'+') => (false, s.get(1..).unwrap_or("")),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = rest.strip_prefix("0x").or(rest.strip_prefix("0X")) {
        (16, h)
    } else if rest.starts_with('0') {
        (8, rest)
    } else {
        (10, rest)
    };
    let mut n: i64 = 0;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        n = n
            .saturating_mul(i64::from(radix))
            .saturating_add(i64::from(d));
    }
    if neg { -n } else { n }
}

/// One blank-separated word, after optional leading blanks.
fn word(i: &str) -> IResult<&str, &str> {
    let (i, _) = take_while(is_space).parse(i)?;
    take_while1(|c| !is_space(c)).parse(i)
}

/// Splits bytes into the lines syslinux's `fgets(line, MAX_LINE, f)` loop sees, each with its
/// 1-based line number in the file: `fgets` stops after a `\n` or after [`MAX_LINE`] bytes (the
/// rest of a longer line comes back as the next line, with the same file line number here), and
/// the line is then cut at its first `\r` and its first `\n`. A NUL byte ends the C string.
pub(crate) fn physical_lines(bytes: &[u8]) -> Vec<(&[u8], u32)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut number = 1u32;
    while !rest.is_empty() {
        let nl = rest.iter().take(MAX_LINE).position(|b| *b == b'\n');
        let take = nl.map_or(rest.len().min(MAX_LINE), |i| i + 1);
        let (chunk, tail) = rest.split_at(take);
        rest = tail;
        let cut = chunk
            .iter()
            .position(|b| matches!(b, b'\r' | b'\n' | 0))
            .unwrap_or(chunk.len());
        out.push((chunk.get(..cut).unwrap_or(&[]), number));
        if nl.is_some() {
            number = number.saturating_add(1);
        }
    }
    out
}

/// Decodes one line: UTF-8 where it is valid, each other byte as the Latin-1 char of the same
/// value. The flag says whether any byte was not UTF-8.
pub(crate) fn decode(line: &[u8]) -> (String, bool) {
    if let Ok(s) = core::str::from_utf8(line) {
        return (s.to_owned(), false);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for chunk in line.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(chunk.invalid().iter().map(|b| char::from(*b)));
    }
    (out, true)
}

fn col_of(line: &str, byte: usize) -> u32 {
    let chars = line.get(..byte).map_or(0, |p| p.chars().count());
    u32::try_from(chars).unwrap_or(u32::MAX).saturating_add(1)
}

/// Reads one line that is not inside a `TEXT` block.
fn parse_line(line: &str, number: u32) -> Item {
    let body = line.trim_start_matches(is_space);
    let start = line.len() - body.len();
    let col = col_of(line, start);
    let end_col = col_of(line, line.len());
    let item = |kind, value_col| Item {
        file: 0,
        line: number,
        col,
        value_col,
        kind,
    };
    if body.is_empty() {
        return item(ItemKind::Blank, end_col);
    }
    if let Some(c) = body.strip_prefix('#') {
        return item(ItemKind::Comment(c.to_owned()), col_of(line, start + 1));
    }
    // Up to three words decide the keyword (`MENU MASTER PASSWD`); remember where each ends.
    let mut rest = body;
    let mut words: Vec<(&str, &str)> = Vec::with_capacity(3);
    while words.len() < 3 {
        match word(rest) {
            Ok((r, w)) => {
                words.push((w, r));
                rest = r;
            }
            Err(_) => break,
        }
    }
    match Keyword::lookup(words.iter().map(|(w, _)| *w)) {
        Some((keyword, n)) => {
            let after = words.get(n - 1).map_or("", |(_, r)| *r);
            let value = after.trim_start_matches(is_space);
            let value_col = col_of(line, line.len() - value.len());
            item(
                ItemKind::Directive(Directive {
                    keyword,
                    value: value.to_owned(),
                }),
                value_col,
            )
        }
        None => item(ItemKind::Unknown(body.to_owned()), end_col),
    }
}

impl Config {
    /// Parses a config file as syslinux 6 reads it. Never fails and never panics.
    ///
    /// ```
    /// use pxe_menu::{Config, Keyword};
    /// let cfg = Config::parse("label Windows 7\n  kernel memdisk # x\n");
    /// let d = cfg.items[1].directive().unwrap();
    /// assert_eq!(d.keyword, Keyword::Kernel);
    /// assert_eq!(d.value, "memdisk # x"); // inline '#' is part of the value
    /// ```
    pub fn parse(text: &str) -> Config {
        Config::parse_bytes(text.as_bytes())
    }

    /// Parses bytes: syslinux reads bytes (shown in the BIOS code page), so a file that is not
    /// UTF-8 is read all the same, its other bytes as Latin-1, and the lines holding them are
    /// listed in [`Config::non_utf8_lines`].
    ///
    /// ```
    /// use pxe_menu::Config;
    /// let cfg = Config::parse_bytes(b"SAY caf\xe9\nSAY ok\n");
    /// assert_eq!(cfg.items[0].directive().unwrap().value, "caf\u{e9}");
    /// assert_eq!(cfg.non_utf8_lines, [(0, 1)]);
    /// ```
    pub fn parse_bytes(bytes: &[u8]) -> Config {
        Config::parse_file(bytes, 0)
    }

    /// [`Config::parse_bytes`] with every item tagged as coming from file `file`.
    pub fn parse_file(bytes: &[u8], file: u32) -> Config {
        let mut items = Vec::new();
        let mut non_utf8_lines = Vec::new();
        let mut lines = physical_lines(bytes).into_iter().map(|(l, n)| {
            let (text, bad) = decode(l);
            (text, n, bad)
        });
        let mut note = |n: u32, bad: bool| {
            if bad && non_utf8_lines.last() != Some(&(file, n)) {
                non_utf8_lines.push((file, n));
            }
        };
        while let Some((line, number, bad)) = lines.next() {
            note(number, bad);
            let mut item = parse_line(&line, number);
            item.file = file;
            if let ItemKind::Directive(d) = &item.kind
                && d.keyword == Keyword::Text
            {
                let mut block = TextBlock {
                    kind: d.value.clone(),
                    lines: Vec::new(),
                    terminated: false,
                };
                for (l, n, bad) in lines.by_ref() {
                    note(n, bad);
                    if first_word(&l).eq_ignore_ascii_case("ENDTEXT") {
                        block.terminated = true;
                        break;
                    }
                    block.lines.push(l);
                }
                item.kind = ItemKind::Text(block);
            }
            items.push(item);
        }
        Config {
            items,
            non_utf8_lines,
        }
    }

    /// The known directives in file order, with their items.
    pub fn directives(&self) -> impl Iterator<Item = (&Item, &Directive)> {
        self.items
            .iter()
            .filter_map(|i| i.directive().map(|d| (i, d)))
    }

    /// The last global value of `keyword` (syslinux: the last one wins). Label-scoped values
    /// and a submenu's own settings are not global; see [`Config::scopes`].
    pub fn global(&self, keyword: Keyword) -> Option<&Directive> {
        self.scopes().global(keyword).map(|(_, d)| d)
    }
}

impl Item {
    /// The directive on this line, if it is one.
    pub fn directive(&self) -> Option<&Directive> {
        match &self.kind {
            ItemKind::Directive(d) => Some(d),
            _ => None,
        }
    }

    /// The number of physical lines this item spans (a `TEXT` block spans several).
    pub fn line_count(&self) -> u32 {
        match &self.kind {
            ItemKind::Text(b) => {
                let n = u32::try_from(b.lines.len()).unwrap_or(u32::MAX);
                n.saturating_add(1).saturating_add(u32::from(b.terminated))
            }
            _ => 1,
        }
    }
}

/// Writes the config back in normalised form: canonical upper-case keywords, one space after
/// the keyword, two-space indentation inside labels. Values, comments, unknown lines and `TEXT`
/// lines are kept verbatim, so parsing the output gives the same items.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut in_label = false;
        for item in &self.items {
            let indent = if in_label { "  " } else { "" };
            match &item.kind {
                ItemKind::Blank => writeln!(f)?,
                ItemKind::IncludeEnd { .. } => {}
                ItemKind::Comment(c) => writeln!(f, "{indent}#{c}")?,
                ItemKind::Unknown(u) => writeln!(f, "{indent}{u}")?,
                ItemKind::Directive(d) => match d.keyword.scope() {
                    Scope::Structure => {
                        writeln!(f, "{}", DirectiveLine(d))?;
                        in_label = d.keyword == Keyword::Label;
                    }
                    _ => writeln!(f, "{indent}{}", DirectiveLine(d))?,
                },
                ItemKind::Text(b) => {
                    writeln!(f, "{indent}TEXT {}", b.kind)?;
                    for l in &b.lines {
                        writeln!(f, "{l}")?;
                    }
                    if b.terminated {
                        writeln!(f, "{indent}ENDTEXT")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `KEYWORD value`, or just `KEYWORD` when the value is empty.
struct DirectiveLine<'a>(&'a Directive);

impl fmt::Display for DirectiveLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.value.is_empty() {
            f.write_str(d.keyword.name())
        } else {
            write!(f, "{} {}", d.keyword.name(), d.value)
        }
    }
}

/// Whether the keyword's value is text that an inline `#` would end up in.
pub(crate) fn is_string_valued(k: Keyword) -> bool {
    matches!(k.arg(), Arg::Rest | Arg::Word) && !matches!(k, Keyword::Serial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn kinds(cfg: &Config) -> Vec<&ItemKind> {
        cfg.items.iter().map(|i| &i.kind).collect()
    }

    #[test]
    fn keywords_are_case_insensitive_and_need_a_blank() {
        let cfg = Config::parse("LaBeL x\nLABELfoo\nTIMEOUT=50\nprompt\t1\n");
        assert_eq!(cfg.items[0].directive().unwrap().keyword, Keyword::Label);
        assert_eq!(cfg.items[1].kind, ItemKind::Unknown("LABELfoo".into()));
        assert_eq!(cfg.items[2].kind, ItemKind::Unknown("TIMEOUT=50".into()));
        let p = cfg.items[3].directive().unwrap();
        assert_eq!((p.keyword, p.int()), (Keyword::Prompt, 1));
    }

    #[test]
    fn positions_and_values() {
        let cfg = Config::parse("  KERNEL  memdisk raw\n\tMENU   LABEL  Hi # there \n");
        let k = &cfg.items[0];
        assert_eq!((k.line, k.col, k.value_col), (1, 3, 11));
        assert_eq!(k.directive().unwrap().value, "memdisk raw");
        let m = &cfg.items[1];
        assert_eq!((m.line, m.col, m.value_col), (2, 2, 16));
        assert_eq!(m.directive().unwrap().value, "Hi # there ");
    }

    #[test]
    fn line_endings_and_long_lines() {
        let cfg = Config::parse("PROMPT 1\r\nTIMEOUT 5\rjunk\n");
        assert_eq!(cfg.items.len(), 2);
        assert_eq!(cfg.items[1].directive().unwrap().value, "5");
        let long = "A".repeat(MAX_LINE + 10);
        let cfg = Config::parse(&long);
        assert_eq!(cfg.items.len(), 2);
        assert_eq!(cfg.items[1].kind, ItemKind::Unknown("A".repeat(10)));
        assert!(Config::parse("").items.is_empty());
    }

    #[test]
    fn text_blocks_swallow_keywords() {
        let cfg = Config::parse("LABEL a\nTEXT HELP\n KERNEL x\nendtext\nKERNEL y\nTEXT junk\nz\n");
        assert_eq!(
            kinds(&cfg)[1],
            &ItemKind::Text(TextBlock {
                kind: "HELP".into(),
                lines: alloc::vec![" KERNEL x".into()],
                terminated: true
            })
        );
        assert_eq!(cfg.items[2].line, 5);
        assert_eq!(cfg.items[1].line_count(), 3);
        let ItemKind::Text(b) = &cfg.items[3].kind else {
            panic!("not text")
        };
        assert!(!b.terminated);
    }

    #[test]
    fn numbers_read_like_c() {
        assert_eq!(atoi(" 10 # Prompt for 10s"), 10);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(strtol_base0("0x10"), 16);
        assert_eq!(strtol_base0("010"), 8);
        assert_eq!(strtol_base0("-1"), -1);
        assert_eq!(strtol_base0("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn display_round_trips() {
        let text = "# c\nDISPLAY boot.txt\nlabel a b\nkernel k\nTEXT HELP\nhelp\nENDTEXT\n\nfoo bar\nMENU SEPARATOR\n";
        let cfg = Config::parse(text);
        let out = cfg.to_string();
        assert!(out.contains("LABEL a b\n  KERNEL k\n"));
        assert_eq!(kinds(&Config::parse(&out)), kinds(&cfg));
    }

    #[test]
    fn bytes_are_read_as_latin1_and_reported() {
        let cfg = Config::parse_bytes(b"SAY caf\xe9\nLABEL \xff\xfe x\nSAY caf\xc3\xa9\n");
        assert_eq!(cfg.items[0].directive().unwrap().value, "caf\u{e9}");
        assert_eq!(
            cfg.items[1].directive().unwrap().first_word(),
            "\u{ff}\u{fe}"
        );
        assert_eq!(cfg.items[2].directive().unwrap().value, "caf\u{e9}");
        assert_eq!(cfg.non_utf8_lines, [(0, 1), (0, 2)]);
    }

    #[test]
    fn nul_ends_the_line_like_a_c_string() {
        let cfg = Config::parse_bytes(b"KERNEL a\0b\nAPPEND x\n");
        assert_eq!(cfg.items[0].directive().unwrap().value, "a");
        assert_eq!(cfg.items[1].line, 2);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let cfg = Config::parse(&s);
            let again = Config::parse(&cfg.to_string());
            proptest::prop_assert_eq!(kinds(&again), kinds(&cfg));
        }
    }
}
