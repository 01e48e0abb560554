//! Safe file names: one pure function from a requested name to a path relative to the root.
//!
//! # Contract
//! [`sanitize`] only looks at bytes. It guarantees the result is non-empty, relative (no
//! leading `/`, no Windows drive prefix such as `C:`), valid UTF-8, free of NUL and control
//! characters, and has no `.` or `..` components nor components made only of dots and spaces
//! (Windows path APIs drop trailing dots and spaces, so `.. ` would mean `..` there). Joining
//! it to the root therefore cannot climb out *lexically*, on Unix or Windows. It does **not**
//! look at the file system: a symlink inside the root can still point outside it. Symlink
//! policy is the driver's (for example open with `RESOLVE_BENEATH`/`O_NOFOLLOW`, or
//! canonicalize and check the prefix).

use alloc::string::String;

/// How [`sanitize`] treats the quirks of real clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SanitizeOptions<'a> {
    /// Turn `\` into `/` (Windows-style PXE clients; default `true`).
    pub backslash_to_slash: bool,
    /// Drop trailing NUL and `0xFF` bytes that some PXE ROMs send after the name (default
    /// `true`).
    pub trim_trailing_garbage: bool,
    /// Lower-case ASCII letters (for case-insensitive Windows boot files; default `false`).
    pub lowercase: bool,
    /// With `Some(prefix)`, an absolute name must start with this directory (for example
    /// `/srv/tftp`, for clients configured with full server paths) and it is stripped; other
    /// absolute names are refused. With `None` (the default), a leading `/` just means the
    /// root, as dnsmasq and most PXE setups treat it.
    pub root_prefix: Option<&'a str>,
    /// Longest accepted name in bytes (default 1024).
    pub max_len: usize,
}

impl Default for SanitizeOptions<'_> {
    fn default() -> Self {
        SanitizeOptions {
            backslash_to_slash: true,
            trim_trailing_garbage: true,
            lowercase: false,
            root_prefix: None,
            max_len: 1024,
        }
    }
}

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Nothing left after trimming.
    #[error("empty file name")]
    Empty,
    /// Longer than [`SanitizeOptions::max_len`].
    #[error("file name is {len} bytes, longer than {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A NUL byte inside the name.
    #[error("NUL byte at offset {offset}")]
    Nul {
        /// Where.
        offset: usize,
    },
    /// A control character (below 0x20, or 0x7F).
    #[error("control character 0x{byte:02x} at offset {offset}")]
    Control {
        /// The byte.
        byte: u8,
        /// Where.
        offset: usize,
    },
    /// Not UTF-8.
    #[error("file name is not UTF-8 (at offset {offset})")]
    NotUtf8 {
        /// Where decoding failed.
        offset: usize,
    },
    /// A `..` component (or one of dots and spaces only, which Windows reads as `..` or `.`).
    #[error("file name has a '..' component")]
    ParentComponent,
    /// An absolute name outside [`SanitizeOptions::root_prefix`], or one with a Windows drive
    /// prefix (`C:\\boot`, `c:boot`).
    #[error("absolute file name outside the root")]
    OutsideRoot,
}

/// Turns a requested name into a path relative to the TFTP root, or refuses it. See the module
/// documentation for the contract.
///
/// ```
/// use pxe_tftp::path::{sanitize, PathError, SanitizeOptions};
/// let opts = SanitizeOptions::default();
/// assert_eq!(sanitize(b"/pxelinux.cfg\\default\xff", &opts).unwrap(), "pxelinux.cfg/default");
/// assert_eq!(sanitize(b"../../etc/passwd", &opts), Err(PathError::ParentComponent));
/// ```
pub fn sanitize(raw: &[u8], opts: &SanitizeOptions<'_>) -> Result<String, PathError> {
    if raw.len() > opts.max_len {
        return Err(PathError::TooLong {
            len: raw.len(),
            max: opts.max_len,
        });
    }
    let mut name = raw;
    if opts.trim_trailing_garbage {
        while let [rest @ .., 0 | 0xff] = name {
            name = rest;
        }
    }
    for (offset, &byte) in name.iter().enumerate() {
        if byte == 0 {
            return Err(PathError::Nul { offset });
        }
        if byte < 0x20 || byte == 0x7f {
            return Err(PathError::Control { byte, offset });
        }
    }
    let text = core::str::from_utf8(name).map_err(|e| PathError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut owned = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' if opts.backslash_to_slash => owned.push('/'),
            c if opts.lowercase => owned.push(c.to_ascii_lowercase()),
            c => owned.push(c),
        }
    }
    let mut rest = owned.as_str();
    if let (true, Some(prefix)) = (rest.starts_with('/'), opts.root_prefix) {
        let prefix = prefix.trim_end_matches('/');
        // The name was lower-cased above, so the prefix is compared the same way.
        let head = rest.get(..prefix.len()).filter(|head| {
            *head == prefix || (opts.lowercase && head.eq_ignore_ascii_case(prefix))
        });
        rest = head
            .and_then(|head| rest.get(head.len()..))
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .ok_or(PathError::OutsideRoot)?;
    }
    // A drive prefix makes a Windows path absolute (or drive-relative) whatever follows.
    if let [letter, b':', ..] = rest.trim_start_matches('/').as_bytes()
        && letter.is_ascii_alphabetic()
    {
        return Err(PathError::OutsideRoot);
    }
    let mut out = String::with_capacity(rest.len());
    for component in rest.split('/') {
        match component {
            "" | "." => {}
            c if c.trim_end_matches([' ', '.']).is_empty() => {
                return Err(PathError::ParentComponent);
            }
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn hostile_battery() {
        let d = SanitizeOptions::default();
        let rooted = SanitizeOptions {
            root_prefix: Some("/srv/tftp"),
            ..d
        };
        assert_eq!(
            sanitize(b"../../etc/passwd", &d),
            Err(PathError::ParentComponent)
        );
        assert_eq!(sanitize(b"a/../../b", &d), Err(PathError::ParentComponent));
        assert_eq!(
            sanitize(b"\\..\\..\\x", &d),
            Err(PathError::ParentComponent)
        );
        assert_eq!(
            sanitize(b"/etc/passwd", &rooted),
            Err(PathError::OutsideRoot)
        );
        assert_eq!(
            sanitize(b"/srv/tftpx/a", &rooted),
            Err(PathError::OutsideRoot)
        );
        assert_eq!(sanitize(b"/srv/tftp/boot/x", &rooted).unwrap(), "boot/x");
        // With lowercase on, a mixed-case root prefix still matches.
        let folded = SanitizeOptions {
            root_prefix: Some("/srv/TFTP/"),
            lowercase: true,
            ..d
        };
        assert_eq!(sanitize(b"/SRV/tftp/Boot/X", &folded).unwrap(), "boot/x");
        assert_eq!(
            sanitize(b"/srv/tftpx", &folded),
            Err(PathError::OutsideRoot)
        );
        // The prefix length falls inside a character: refused, not a panic.
        assert_eq!(
            sanitize("/x\u{e9}\u{e9}\u{e9}\u{e9}".as_bytes(), &folded),
            Err(PathError::OutsideRoot)
        );
        // Without a prefix a leading slash means the root: still inside it.
        assert_eq!(sanitize(b"/etc/passwd", &d).unwrap(), "etc/passwd");
        assert_eq!(sanitize(b"a\0b", &d), Err(PathError::Nul { offset: 1 }));
        assert_eq!(
            sanitize(b"a\nb", &d),
            Err(PathError::Control {
                byte: b'\n',
                offset: 1
            })
        );
        assert_eq!(
            sanitize(&vec![b'a'; 4096], &d),
            Err(PathError::TooLong {
                len: 4096,
                max: 1024
            })
        );
        assert_eq!(
            sanitize(b"pxelinux.0\xff\xff\xff", &d).unwrap(),
            "pxelinux.0"
        );
        assert_eq!(
            sanitize(
                b"pxelinux.0\xff",
                &SanitizeOptions {
                    trim_trailing_garbage: false,
                    ..d
                }
            ),
            Err(PathError::NotUtf8 { offset: 10 })
        );
        assert_eq!(sanitize(b"", &d), Err(PathError::Empty));
        assert_eq!(sanitize(b"/./", &d), Err(PathError::Empty));
        assert_eq!(sanitize(b"\xff\0", &d), Err(PathError::Empty));
        assert_eq!(sanitize(b"..", &d), Err(PathError::ParentComponent));
        assert_eq!(sanitize(b"a/./b//c", &d).unwrap(), "a/b/c");
        assert_eq!(
            sanitize(
                b"EFI\\BOOT\\BOOTX64.EFI",
                &SanitizeOptions {
                    lowercase: true,
                    ..d
                }
            )
            .unwrap(),
            "efi/boot/bootx64.efi"
        );
        assert_eq!(
            sanitize(
                b"a\\b",
                &SanitizeOptions {
                    backslash_to_slash: false,
                    ..d
                }
            )
            .unwrap(),
            "a\\b"
        );
        assert_eq!(sanitize(b"..a/b..", &d).unwrap(), "..a/b..");
        // Windows-style names: drive prefixes are absolute, dots-and-spaces components are
        // parents there, UNC-style leading separators just mean the root.
        for drive in [
            &b"C:\\Windows\\win.ini"[..],
            b"c:boot.ini",
            b"/D:/x",
            b"\\z:",
        ] {
            assert_eq!(
                sanitize(drive, &d),
                Err(PathError::OutsideRoot),
                "{drive:?}"
            );
        }
        for dots in [&b".. /x"[..], b"a\\...\\b", b"a/. /b", b"... "] {
            assert_eq!(
                sanitize(dots, &d),
                Err(PathError::ParentComponent),
                "{dots:?}"
            );
        }
        assert_eq!(
            sanitize(b"\\\\server\\share\\x", &d).unwrap(),
            "server/share/x"
        );
        assert_eq!(sanitize(b"boot/1:2", &d).unwrap(), "boot/1:2");
        // 0xFF tails around a hostile name are trimmed, then the name is still refused.
        assert_eq!(
            sanitize(b"../x\xff\xff\0", &d),
            Err(PathError::ParentComponent)
        );
        assert_eq!(sanitize(b"a\0b\xff", &d), Err(PathError::Nul { offset: 1 }));
        // The length limit counts the raw bytes, tails included.
        assert!(sanitize(&[b'a'; 1024], &d).is_ok());
        assert!(matches!(
            sanitize(&[&[b'a'; 1000][..], &[0xff; 25]].concat(), &d),
            Err(PathError::TooLong { len: 1025, .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_results_stay_inside(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(p) = sanitize(&raw, &SanitizeOptions::default()) {
                proptest::prop_assert!(!p.is_empty() && !p.starts_with('/'));
                proptest::prop_assert!(p.split('/').all(|c| !c.trim_end_matches([' ', '.']).is_empty()));
                proptest::prop_assert!(!matches!(p.as_bytes(), [l, b':', ..] if l.is_ascii_alphabetic()));
                proptest::prop_assert!(!p.bytes().any(|b| b < 0x20 || b == 0x7f));
            }
        }
    }
}
