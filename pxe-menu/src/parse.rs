//! Lossless parsing of a pxelinux config file, with syslinux 6's lexical rules (menu-syntax.md §1).
//!
//! Every physical line becomes an [`Item`] (a `TEXT ... ENDTEXT` block is one item) that keeps
//! its line and column, so a lint can point at it and [`Config`]'s `Display` can write it back.
//! Parsing never fails: syslinux itself ignores what it does not know, and so do we, keeping
//! such lines as [`ItemKind::Unknown`] for the lint.

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
    /// 1-based line number of the item's first line.
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

/// Splits text into the lines syslinux's `fgets` loop sees: cut at the first `\r` or `\n`, and
/// split lines longer than [`MAX_LINE`] bytes.
fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    // A final newline does not start another line.
    let last_empty = text.ends_with('\n') || text.is_empty();
    let count = text.split('\n').count() - usize::from(last_empty);
    text.split('\n')
        .take(count)
        .map(|l| l.split('\r').next().unwrap_or(""))
        .flat_map(split_long)
}

fn split_long(mut line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    while line.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = line.split_at(cut);
        out.push(head);
        line = tail;
    }
    out.push(line);
    out
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
        let mut items = Vec::new();
        let mut lines = physical_lines(text).zip(1u32..);
        while let Some((line, number)) = lines.next() {
            let mut item = parse_line(line, number);
            if let ItemKind::Directive(d) = &item.kind
                && d.keyword == Keyword::Text
            {
                let mut block = TextBlock {
                    kind: d.value.clone(),
                    lines: Vec::new(),
                    terminated: false,
                };
                for (l, _) in lines.by_ref() {
                    if first_word(l).eq_ignore_ascii_case("ENDTEXT") {
                        block.terminated = true;
                        break;
                    }
                    block.lines.push(l.to_owned());
                }
                item.kind = ItemKind::Text(block);
            }
            items.push(item);
        }
        Config { items }
    }

    /// Parses bytes: syslinux reads bytes in the BIOS codepage, so invalid UTF-8 is replaced
    /// (U+FFFD) rather than rejected.
    pub fn parse_bytes(bytes: &[u8]) -> Config {
        Config::parse(&String::from_utf8_lossy(bytes))
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
    fn bytes_are_read_lossily() {
        let cfg = Config::parse_bytes(b"SAY caf\xe9\n");
        assert_eq!(cfg.items[0].directive().unwrap().value, "caf\u{fffd}");
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
