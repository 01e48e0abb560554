//! The menu as a GRUB 2 `grub.cfg` for the signed netboot GRUB of the UEFI Secure Boot chain
//! (shim → `grubx64.efi` → this file → a signed kernel), and a lint of what is rendered.
//!
//! That GRUB (Debian's `grubnetx64.efi.signed`) is built with the prefix `/grub` and sources
//! `$prefix/grub.cfg` from the TFTP server it was loaded from, with `root` set to that server:
//! so the file lives at [`GRUB_CFG`] and names files by absolute paths from the TFTP root.
//!
//! Each entry kind is rendered where GRUB on UEFI can run it and left out (with a `#` note in
//! the file, listed by [`Menu::grub_left_out`]) where it cannot:
//!
//! | kind | grub.cfg |
//! |---|---|
//! | `linux` | `linux /KERNEL ARGS` + `initrd /INITRD...` (GRUB ≥ 2.04 boots through the kernel's EFI stub and checks its signature through shim; `linuxefi` is only in older distribution GRUBs); a file named by a URL as for `http`, left out when GRUB cannot fetch it |
//! | `http` | `linux (http,HOST)/PATH` when the URL has no port (GRUB 2.06's `http` device takes none) |
//! | `local-boot` | `exit`: back to the firmware, which tries its next boot option |
//! | `chain` | `chainloader /FILE` for `.efi` programs (a URL as for `http`); BIOS programs left out |
//! | `memdisk-iso` | left out: memdisk is a BIOS program |
//! | `sanboot`, `wimboot` | left out: iPXE commands |
//!
//! Words are written bare when GRUB's script lexer reads them as they are (grub-core/script/
//! yylex.l: blanks, quotes, `\`, `$`, `;`, `|`, `&`, `<`, `>`, `{`, `}` and `#` are special) and
//! single-quoted otherwise, a `'` inside written as `'\''` as in a POSIX shell.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::model::{Boot, Entry, Menu};
use crate::parse::is_space;

/// Where the netboot GRUB reads its menu, relative to the TFTP root: `$prefix/grub.cfg` with
/// the built-in prefix `/grub`.
pub const GRUB_CFG: &str = "grub/grub.cfg";

/// Whether GRUB's lexer reads `word` as one literal word without quotes.
fn bare(word: &str) -> bool {
    !word.is_empty()
        && !word.chars().any(|c| {
            is_space(c)
                || c.is_control()
                || matches!(
                    c,
                    '\'' | '"' | '\\' | '$' | ';' | '|' | '&' | '<' | '>' | '{' | '}' | '#'
                )
        })
}

/// One word for grub.cfg: bare when it can be, else single-quoted.
pub fn grub_quote(word: &str) -> String {
    if bare(word) {
        return word.into();
    }
    let mut o = String::from("'");
    for c in word.chars() {
        if c == '\'' {
            o.push_str("'\\''");
        } else {
            o.push(c);
        }
    }
    o.push('\'');
    o
}

/// A path from the TFTP root (`/` first), quoted.
fn root_path(path: &str) -> String {
    grub_quote(&format!("/{}", path.trim_start_matches('/')))
}

/// A file of a TFTP entry for GRUB, read as pxelinux reads it ([`resolve_path`] with no prefix:
/// `::file` and `/file` from the root): a root path, or for a URL (which pxelinux and iPXE
/// fetch as such) GRUB's `(http,HOST)/PATH`; `Err` for what GRUB cannot fetch (another
/// server's `host::path`, a URL other than `http://HOST/PATH`) or a name of no file.
///
/// [`resolve_path`]: crate::resolve_path
fn served_path(path: &str) -> Result<String, &'static str> {
    if crate::lookup::is_url(path) {
        return http_device(path)
            .ok_or("names a URL GRUB 2.06 cannot fetch (only http://HOST/PATH)");
    }
    match crate::lookup::resolve_path("", path) {
        None => Err("names a file on another TFTP server (host::path), which GRUB cannot fetch"),
        Some(rel) if rel.is_empty() || rel.ends_with('/') => Err("names a directory, not a file"),
        Some(rel) => Ok(root_path(&rel)),
    }
}

/// `http://HOST/PATH` as GRUB's `(http,HOST)/PATH`; `None` with a port or another scheme.
fn http_device(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    if host.is_empty() || host.contains(':') || host.contains('@') {
        return None;
    }
    Some(grub_quote(&format!("(http,{host})/{path}")))
}

/// A kernel command line split into words, each quoted as needed.
fn args(append: &str) -> String {
    append
        .split(is_space)
        .filter(|w| !w.is_empty())
        .map(grub_quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The body of an entry's `menuentry`, or why GRUB cannot boot it.
fn entry_body(e: &Entry) -> Result<String, &'static str> {
    // Offered unprotected it would walk around the password; GRUB's own users/password_pbkdf2
    // cannot check menu.c32's hashes.
    if e.passwd.is_some() {
        return Err("has a menu.c32 password (MENU PASSWD), which GRUB cannot check");
    }
    let mut o = String::new();
    match &e.boot {
        Boot::Linux {
            kernel,
            initrd,
            append,
        } => {
            let _ = write!(o, "  linux {}", served_path(kernel)?);
            if !append.is_empty() {
                let _ = write!(o, " {}", args(append));
            }
            o.push('\n');
            if !initrd.is_empty() {
                let files = initrd
                    .iter()
                    .map(|i| served_path(i))
                    .collect::<Result<Vec<String>, _>>()?;
                let _ = writeln!(o, "  initrd {}", files.join(" "));
            }
        }
        Boot::Http {
            kernel,
            initrd,
            append,
        } => {
            let kernel = http_device(kernel)
                .ok_or("GRUB 2.06 fetches only http://HOST/PATH URLs (no port, no https)")?;
            let initrds: Option<Vec<String>> = initrd.iter().map(|i| http_device(i)).collect();
            let initrds = initrds
                .ok_or("GRUB 2.06 fetches only http://HOST/PATH URLs (no port, no https)")?;
            let _ = write!(o, "  linux {kernel}");
            if !append.is_empty() {
                let _ = write!(o, " {}", args(append));
            }
            o.push('\n');
            if !initrds.is_empty() {
                let _ = writeln!(o, "  initrd {}", initrds.join(" "));
            }
        }
        Boot::LocalBoot => o.push_str("  exit\n"),
        Boot::Chain { file } => {
            if !file.to_ascii_lowercase().ends_with(".efi") {
                return Err("chains a BIOS program, which UEFI GRUB cannot run");
            }
            let _ = writeln!(o, "  chainloader {}", served_path(file)?);
        }
        Boot::MemdiskIso { .. } => {
            return Err("memdisk is a BIOS program; UEFI GRUB cannot run it (sanboot can)");
        }
        Boot::Sanboot { .. } => return Err("sanboot is an iPXE command"),
        Boot::Wimboot { .. } => return Err("wimboot runs under iPXE"),
    }
    Ok(o)
}

impl Menu {
    /// The entries [`Menu::render_grub`] leaves out, each with the reason.
    pub fn grub_left_out(&self) -> Vec<(&str, &'static str)> {
        self.entries
            .iter()
            .filter_map(|e| entry_body(e).err().map(|why| (e.id.as_str(), why)))
            .collect()
    }

    /// Renders `grub/grub.cfg`: the serial console, `echo`ed lines, the timeout and default,
    /// then one `menuentry` per entry GRUB can boot (hidden ones only when they are the
    /// default, as in the iPXE menu), a `#` note for each one it cannot.
    pub fn render_grub(&self) -> String {
        let mut o = format!(
            "# {} (rendered from the menu model; GRUB on UEFI)\n",
            self.title.replace('\n', " ")
        );
        if let Some(s) = self.serial {
            // COM1-COM4 by number; an I/O port address by `--port`.
            let unit = if s.port < 4 {
                format!("--unit={}", s.port)
            } else {
                format!("--port=0x{:x}", s.port)
            };
            let _ = writeln!(
                o,
                "if serial {unit} --speed={}; then\n  terminal_input --append serial\n  \
                 terminal_output --append serial\nfi",
                s.baud
            );
        }
        for s in &self.say {
            let _ = writeln!(o, "echo {}", grub_quote(s));
        }
        // The model's 0 waits forever; GRUB's 0 boots at once and -1 waits.
        let timeout = if self.ui == crate::model::Ui::None {
            // No menu in pxelinux either: boot the default at once.
            String::from("0")
        } else if self.timeout == 0 {
            String::from("-1")
        } else {
            format!("{}", self.timeout)
        };
        let _ = writeln!(o, "set timeout={timeout}");
        let bootable: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| entry_body(e).is_ok())
            .collect();
        let default = self
            .default
            .as_ref()
            .and_then(|d| bootable.iter().find(|e| &e.id == d))
            .or_else(|| bootable.iter().find(|e| !e.hidden))
            .map(|e| e.id.as_str());
        if let Some(d) = default {
            let _ = writeln!(o, "set default={}", grub_quote(d));
        }
        for e in &self.entries {
            match entry_body(e) {
                Ok(_) if e.hidden && Some(e.id.as_str()) != default => {}
                Ok(body) => {
                    let name = e.name.replace('^', "");
                    let _ = write!(
                        o,
                        "\nmenuentry {} --id {} {{\n{body}}}\n",
                        grub_quote(&name),
                        grub_quote(&e.id)
                    );
                }
                Err(why) => {
                    let _ = writeln!(o, "\n# entry {} left out: {why}", e.id);
                }
            }
        }
        o
    }
}

/// One problem [`lint_grub`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrubFinding {
    /// 1-based line in the file.
    pub line: u32,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Splits a grub.cfg line into words the way GRUB's lexer does for what [`Menu::render_grub`]
/// writes (bare words, single quotes, double quotes, `\` escapes); `Err` on an unclosed quote.
fn words(line: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("a single quote is not closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.extend(chars.next()),
                        Some(c) => cur.push(c),
                        None => return Err("a double quote is not closed"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            '#' if !in_word => break,
            c if is_space(c) => {
                if in_word {
                    out.push(core::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Lints a grub.cfg as [`Menu::render_grub`] writes it: every line's quotes are closed,
/// `menuentry` blocks are balanced, and every file `linux`, `initrd` and `chainloader` name by
/// an absolute path exists (`exists` is asked with the path relative to the TFTP root; device
/// paths such as `(http,HOST)/...` are not checked).
pub fn lint_grub(text: &str, exists: &dyn Fn(&str) -> bool) -> Vec<GrubFinding> {
    let mut found = Vec::new();
    let mut depth: u32 = 0;
    let mut opened_at = 0;
    for (n, line) in text.lines().enumerate() {
        let line_no = u32::try_from(n + 1).unwrap_or(u32::MAX);
        let w = match words(line) {
            Ok(w) => w,
            Err(why) => {
                found.push(GrubFinding {
                    line: line_no,
                    message: format!("{why}: GRUB reads the rest of the file as part of it"),
                });
                continue;
            }
        };
        let Some(cmd) = w.first() else { continue };
        match cmd.as_str() {
            "menuentry" | "submenu" => {
                if w.last().map(String::as_str) != Some("{") {
                    found.push(GrubFinding {
                        line: line_no,
                        message: "menuentry without `{` at the end of its line".into(),
                    });
                } else {
                    depth += 1;
                    opened_at = line_no;
                }
            }
            "}" => {
                if depth == 0 {
                    found.push(GrubFinding {
                        line: line_no,
                        message: "`}` closes no menuentry".into(),
                    });
                } else {
                    depth -= 1;
                }
            }
            "linux" | "linuxefi" | "initrd" | "initrdefi" | "chainloader" => {
                let files = if cmd.starts_with("initrd") {
                    &w[1..]
                } else {
                    &w[1..w.len().min(2)]
                };
                if files.is_empty() {
                    found.push(GrubFinding {
                        line: line_no,
                        message: format!("`{cmd}` names no file"),
                    });
                }
                for f in files {
                    if let Some(rel) = f.strip_prefix('/')
                        && !exists(rel)
                    {
                        found.push(GrubFinding {
                            line: line_no,
                            message: format!(
                                "`{cmd}` names {f}, which is not in the served tree \
                                 (GRUB would stop with `file not found`)"
                            ),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    if depth > 0 {
        found.push(GrubFinding {
            line: opened_at,
            message: "menuentry block not closed with `}`".into(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec;

    use super::*;
    use crate::model::{SerialConsole, Ui};

    fn menu(entries: Vec<Entry>) -> Menu {
        Menu {
            title: "Lab".into(),
            timeout: 5,
            default: Some("os".into()),
            ui: Ui::Menu,
            serial: Some(SerialConsole {
                port: 0,
                baud: 115_200,
            }),
            say: vec!["hello world".into()],
            display_file: "boot.txt".into(),
            ipxe_script: "boot.ipxe".into(),
            memdisk: "memdisk".into(),
            entries,
            ontimeout: None,
            master_passwd: None,
            pxelinux_lines: Vec::new(),
        }
    }

    fn entry(id: &str, boot: Boot) -> Entry {
        Entry {
            id: id.into(),
            name: format!("^{id} it's"),
            boot,
            help: None,
            hidden: false,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        }
    }

    #[test]
    fn a_tftp_entry_naming_a_url_fetches_it_over_http_and_only_a_leading_scheme_is_one() {
        let linux = |kernel: &str, initrd: &str| Boot::Linux {
            kernel: kernel.into(),
            initrd: vec![initrd.into()],
            append: String::new(),
        };
        let m = menu(vec![
            entry("os", linux("http://10.0.0.1/vmlinuz", "k/a.gz")),
            entry("tls", linux("k/vmlinuz", "https://10.0.0.1/i.gz")),
            // `://` inside a name: a file like any other, listed for doctor and linted.
            entry("odd", linux("::k/vmlinuz", "dir/a://b")),
            // pxelinux's `host::path`: another server's file.
            entry("far", linux("b::///k", "k/a.gz")),
        ]);
        let cfg = m.render_grub();
        assert!(
            cfg.contains("linux (http,10.0.0.1)/vmlinuz\n  initrd /k/a.gz\n"),
            "{cfg}"
        );
        assert!(
            cfg.contains("# entry tls left out: names a URL GRUB 2.06 cannot fetch"),
            "{cfg}"
        );
        assert!(
            cfg.contains("linux /k/vmlinuz\n  initrd /dir/a://b\n"),
            "{cfg}"
        );
        assert!(
            cfg.contains("# entry far left out: names a file on another TFTP server"),
            "{cfg}"
        );
        let files: Vec<&str> = m.entries.iter().flat_map(|e| e.boot.files()).collect();
        assert_eq!(
            files,
            [
                "k/a.gz",
                "k/vmlinuz",
                "::k/vmlinuz",
                "dir/a://b",
                "b::///k",
                "k/a.gz"
            ]
        );
        let tree = ["k/a.gz", "k/vmlinuz", "dir/a://b"];
        assert_eq!(lint_grub(&cfg, &|p| tree.contains(&p)), []);
    }

    #[test]
    fn renders_every_kind_grub_can_and_notes_the_rest() {
        let m = menu(vec![
            entry(
                "os",
                Boot::Linux {
                    kernel: "k/vmlinuz".into(),
                    initrd: vec!["k/a.gz".into(), "k/b.gz".into()],
                    append: "console=ttyS0 x=$y".into(),
                },
            ),
            entry("local", Boot::LocalBoot),
            entry(
                "shell",
                Boot::Chain {
                    file: "shellx64.efi".into(),
                },
            ),
            entry(
                "ipxe",
                Boot::Chain {
                    file: "undionly.kpxe".into(),
                },
            ),
            entry(
                "web",
                Boot::Http {
                    kernel: "http://10.0.0.1/vmlinuz".into(),
                    initrd: vec!["http://10.0.0.1/initrd.gz".into()],
                    append: String::new(),
                },
            ),
            entry(
                "iso",
                Boot::MemdiskIso {
                    image: "iso/x.iso".into(),
                    raw: false,
                },
            ),
        ]);
        let cfg = m.render_grub();
        assert!(
            cfg.contains("if serial --unit=0 --speed=115200; then"),
            "{cfg}"
        );
        assert!(
            cfg.contains("echo 'hello world'\nset timeout=5\nset default=os\n"),
            "{cfg}"
        );
        assert!(
            cfg.contains(
                "menuentry 'os it'\\''s' --id os {\n  linux /k/vmlinuz console=ttyS0 'x=$y'\n  \
                 initrd /k/a.gz /k/b.gz\n}\n"
            ),
            "{cfg}"
        );
        assert!(cfg.contains("--id local {\n  exit\n}"), "{cfg}");
        assert!(cfg.contains("chainloader /shellx64.efi"), "{cfg}");
        assert!(
            cfg.contains("linux (http,10.0.0.1)/vmlinuz\n  initrd (http,10.0.0.1)/initrd.gz"),
            "{cfg}"
        );
        assert!(
            cfg.contains("# entry ipxe left out: chains a BIOS program"),
            "{cfg}"
        );
        assert!(cfg.contains("# entry iso left out: memdisk"), "{cfg}");
        let left: Vec<&str> = m.grub_left_out().iter().map(|(id, _)| *id).collect();
        assert_eq!(left, ["ipxe", "iso"]);
        // What it renders lints clean against a tree holding the files.
        let tree = ["k/vmlinuz", "k/a.gz", "k/b.gz", "shellx64.efi"];
        assert_eq!(lint_grub(&cfg, &|p| tree.contains(&p)), []);
    }

    #[test]
    fn zero_timeout_waits_and_a_default_grub_cannot_boot_falls_back() {
        let mut m = menu(vec![
            entry(
                "iso",
                Boot::MemdiskIso {
                    image: "x.iso".into(),
                    raw: false,
                },
            ),
            entry("local", Boot::LocalBoot),
        ]);
        m.timeout = 0;
        m.default = Some("iso".into());
        m.serial = None;
        let cfg = m.render_grub();
        assert!(cfg.contains("set timeout=-1\nset default=local\n"), "{cfg}");
        assert!(!cfg.contains("serial"), "{cfg}");
    }

    #[test]
    fn quoting_round_trips_through_the_lexer() {
        for w in ["plain", "a b", "it's", "$x", "a;b", "{", "#x", "\\", "é"] {
            let q = grub_quote(w);
            assert_eq!(words(&q), Ok(vec![w.to_string()]), "{w} as {q}");
        }
    }

    #[test]
    fn lint_finds_missing_files_open_quotes_and_blocks() {
        let cfg = "menuentry 'a' {\n  linux /vmlinuz 'x\n  initrd /missing.gz\n";
        let found = lint_grub(cfg, &|p| p == "vmlinuz");
        let lines: Vec<u32> = found.iter().map(|f| f.line).collect();
        assert_eq!(lines, [2, 3, 1], "{found:?}");
        assert!(found[1].message.contains("/missing.gz"), "{found:?}");
        assert!(lint_grub("}\n", &|_| true)[0].message.contains("closes no"));
    }
}
