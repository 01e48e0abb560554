//! The DISPLAY / F-key file format (menu-syntax.md §7; syslinux `msg.c`).

use alloc::string::String;
use alloc::vec::Vec;

/// A piece of a DISPLAY file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Segment {
    /// Plain text (`\r` removed).
    Text(String),
    /// `^L`: clear the screen and home the cursor.
    ClearScreen,
    /// `^O` + two hex digits: PC text attribute, background then foreground.
    Attribute(u8),
    /// `^X filename\n`: show an LSS16 image in graphics mode.
    Graphics(String),
    /// `^Y`: back to text mode.
    TextMode,
    /// `^P`..`^W`: which outputs get the following text (bit 1 screen, 2 graphics, 4 serial).
    Outputs(u8),
    /// `^G`: beep.
    Beep,
    /// `^Z`: end of file; nothing after it is shown.
    End,
}

/// Splits a DISPLAY file into [`Segment`]s. A `^O` without two hex digits is dropped, as
/// syslinux does.
///
/// ```
/// use pxe_menu::{parse_display, Segment};
/// let s = parse_display("\x0c\x0f0fTitle\x0f07\r\nlocal\n");
/// assert_eq!(s[0], Segment::ClearScreen);
/// assert_eq!(s[1], Segment::Attribute(0x0f));
/// assert_eq!(s[2], Segment::Text("Title".into()));
/// assert_eq!(s[4], Segment::Text("\nlocal\n".into()));
/// ```
pub fn parse_display(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut chars = text.chars().peekable();
    let flush = |buf: &mut String, out: &mut Vec<Segment>| {
        if !buf.is_empty() {
            out.push(Segment::Text(core::mem::take(buf)));
        }
    };
    while let Some(c) = chars.next() {
        let seg = match c {
            '\r' => continue,
            '\x0c' => Segment::ClearScreen,
            '\x0f' => {
                let hi = chars
                    .next_if(char::is_ascii_hexdigit)
                    .and_then(|c| c.to_digit(16));
                let lo = chars
                    .next_if(char::is_ascii_hexdigit)
                    .and_then(|c| c.to_digit(16));
                match (hi, lo) {
                    (Some(h), Some(l)) => Segment::Attribute(u8::try_from(h * 16 + l).unwrap_or(7)),
                    _ => continue,
                }
            }
            '\x18' => {
                let mut name = String::new();
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                    if c != '\r' {
                        name.push(c);
                    }
                }
                Segment::Graphics(name)
            }
            '\x19' => Segment::TextMode,
            '\x10'..='\x17' => Segment::Outputs(u8::try_from(u32::from(c) - 0x10).unwrap_or(7)),
            '\x07' => Segment::Beep,
            '\x1a' => {
                flush(&mut buf, &mut out);
                out.push(Segment::End);
                break;
            }
            c => {
                buf.push(c);
                continue;
            }
        };
        flush(&mut buf, &mut out);
        out.push(seg);
    }
    flush(&mut buf, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code() {
        let s = parse_display("\x18splash.lss\r\n\x19\x11a\x07\x0fzz\x1aignored");
        assert_eq!(
            s,
            [
                Segment::Graphics("splash.lss".into()),
                Segment::TextMode,
                Segment::Outputs(1),
                Segment::Text("a".into()),
                Segment::Beep,
                Segment::Text("zz".into()),
                Segment::End,
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[\\x00-\\x7f]{0,80}") {
            let _ = parse_display(&s);
        }
    }
}
