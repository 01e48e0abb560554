//! A declarative boot menu (TOML in the binary) and its renderings: `pxelinux.cfg/default`, the
//! DISPLAY file (`boot.txt`) and an equivalent iPXE script (menu-syntax.md §10.5, §14).

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::error::Error;
use crate::keyword::Keyword;
use crate::lint::{Finding, LintOptions, Severity, lint};
use crate::parse::{Config, first_word, is_space};

/// A boot menu.
///
/// ```toml
/// title = "Lab boot menu"
/// timeout = 10          # seconds; 0 waits forever
/// default = "local"
/// serial = { port = 0, baud = 115200 }
/// say = ["pxe: menu loaded"]
///
/// [[entry]]
/// id = "local"
/// name = "Boot from local disk"
/// kind = "local-boot"
///
/// [[entry]]
/// id = "debian"
/// name = "Debian installer"
/// kind = "linux"
/// kernel = "debian-installer/amd64/linux"
/// initrd = ["debian-installer/amd64/initrd.gz"]
/// append = "vga=788 --- quiet"
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Menu {
    /// Menu title (`MENU TITLE`, the first line of the DISPLAY file, iPXE `menu`).
    pub title: String,
    /// Seconds before the default entry boots; 0 waits forever (with [`Ui::Prompt`], at
    /// `boot:` until someone types an id or presses Enter for the default).
    #[cfg_attr(feature = "serde", serde(default))]
    pub timeout: u32,
    /// Id of the default entry; the first shown entry if absent.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub default: Option<String>,
    /// How pxelinux shows the entries.
    #[cfg_attr(feature = "serde", serde(default))]
    pub ui: Ui,
    /// Serial console for pxelinux (`SERIAL port baud`, written first).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub serial: Option<SerialConsole>,
    /// Lines printed when the menu loads: `SAY` in pxelinux, `echo` in iPXE.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub say: Vec<String>,
    /// Name of the DISPLAY file, relative to the path prefix.
    #[cfg_attr(feature = "serde", serde(default = "default_display_file"))]
    pub display_file: String,
    /// Name of the iPXE script, relative to the path prefix.
    #[cfg_attr(feature = "serde", serde(default = "default_ipxe_script"))]
    pub ipxe_script: String,
    /// The memdisk binary used by `memdisk-iso` entries, relative to the path prefix.
    #[cfg_attr(feature = "serde", serde(default = "default_memdisk"))]
    pub memdisk: String,
    /// The entries, in display order.
    #[cfg_attr(feature = "serde", serde(default, rename = "entry"))]
    pub entries: Vec<Entry>,

    // Settings hand-written pxelinux trees use, carried by `Menu::import` (pxelinux only).
    /// Entry id booted when the timeout runs out instead of the default (`ONTIMEOUT`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub ontimeout: Option<String>,
    /// `MENU MASTER PASSWD`: unlocks every entry, and menu.c32 asks for it before Tab and
    /// Esc work. Plain text or a `$1$`/`$4$`/`$5$`/`$6$` hash.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub master_passwd: Option<String>,
    /// Global pxelinux lines written verbatim after the model's own (menu colours and
    /// background, layout rows, F1-F12 help files, PATH, ALLOWOPTIONS, ...): see
    /// [`PASS_THROUGH`] for the directives allowed.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub pxelinux_lines: Vec<String>,
}

/// The global directives [`Menu::pxelinux_lines`] may hold: appearance and behaviour the
/// model itself does not write.
pub const PASS_THROUGH: &[Keyword] = &[
    Keyword::Allowoptions,
    Keyword::Implicit,
    Keyword::Noescape,
    Keyword::Nocomplete,
    Keyword::Nohalt,
    Keyword::Console,
    Keyword::Font,
    Keyword::Kbdmap,
    Keyword::F1,
    Keyword::F2,
    Keyword::F3,
    Keyword::F4,
    Keyword::F5,
    Keyword::F6,
    Keyword::F7,
    Keyword::F8,
    Keyword::F9,
    Keyword::F10,
    Keyword::F11,
    Keyword::F12,
    Keyword::Path,
    Keyword::Pxeretry,
    Keyword::Onerror,
    Keyword::MenuHidden,
    Keyword::MenuHiddenkey,
    Keyword::MenuShiftkey,
    Keyword::MenuClear,
    Keyword::MenuSave,
    Keyword::MenuNosave,
    Keyword::MenuImmediate,
    Keyword::MenuNoimmediate,
    Keyword::MenuBackground,
    Keyword::MenuResolution,
    Keyword::MenuColor,
    Keyword::MenuColour,
    Keyword::MenuMsgcolor,
    Keyword::MenuMsgcolour,
    Keyword::MenuAutoboot,
    Keyword::MenuTabmsg,
    Keyword::MenuNotabmsg,
    Keyword::MenuPassprompt,
    Keyword::MenuWidth,
    Keyword::MenuMargin,
    Keyword::MenuPasswordmargin,
    Keyword::MenuRows,
    Keyword::MenuTabmsgrow,
    Keyword::MenuCmdlinerow,
    Keyword::MenuEndrow,
    Keyword::MenuPasswordrow,
    Keyword::MenuTimeoutrow,
    Keyword::MenuHelpmsgrow,
    Keyword::MenuHelpmsgendrow,
    Keyword::MenuHiddenrow,
    Keyword::MenuHshift,
    Keyword::MenuVshift,
];

/// Path of the rendered pxelinux config, relative to the path prefix.
pub const PXELINUX_DEFAULT: &str = "pxelinux.cfg/default";

fn default_display_file() -> String {
    "boot.txt".into()
}

fn default_ipxe_script() -> String {
    "boot.ipxe".into()
}

fn default_memdisk() -> String {
    "memdisk".into()
}

#[cfg(feature = "serde")]
fn default_wimboot() -> String {
    "wimboot".into()
}

/// How pxelinux presents the menu.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Ui {
    /// `UI menu.c32`: a text menu (needs menu.c32, libutil.c32, libcom32.c32).
    #[default]
    Menu,
    /// `UI vesamenu.c32`: the graphical menu.
    Vesamenu,
    /// No menu module: the DISPLAY file lists the ids and `boot:` asks for one. Without a
    /// timeout an unattended client waits there forever. Needs at least one entry pxelinux can
    /// boot (not only [`Boot::Http`]).
    Prompt,
    /// No menu and no prompt (`PROMPT 0`): pxelinux boots the default at once (holding Shift
    /// or Alt shows `boot:`); the iPXE script boots it at once too. Needs a default pxelinux
    /// can boot.
    None,
}

/// `SERIAL port baud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct SerialConsole {
    /// 0-3 for COM1-COM4, or an I/O port address.
    pub port: u16,
    /// Baud rate.
    pub baud: u32,
}

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Entry {
    /// One word of letters, digits, `.`, `_` or `-`: the `LABEL`, typed at `boot:`, and the
    /// iPXE item name.
    pub id: String,
    /// What the menu shows (`MENU LABEL`; a `^` marks the pxelinux hotkey).
    pub name: String,
    /// What it boots.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub boot: Boot,
    /// Help text shown by the menu (`TEXT HELP`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub help: Option<String>,
    /// Bootable by id but not listed in the menus (with [`Ui::Prompt`] the DISPLAY file still
    /// lists it, being the only list there is; the iPXE menu lists it when it is the default,
    /// since iPXE's timeout can only pick a listed item).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "core::ops::Not::not")
    )]
    pub hidden: bool,

    // What hand-written pxelinux labels carry, kept by `Menu::import` (pxelinux only).
    /// `MENU PASSWD`: menu.c32 asks for it before booting the entry (plain text or a
    /// `$1$`/`$4$`/`$5$`/`$6$` hash). The iPXE script cannot check it, so a protected entry is
    /// left out of the iPXE menu.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub passwd: Option<String>,
    /// `IPAPPEND`/`SYSAPPEND` bits: options pxelinux adds to the command line (1 `ip=`, 2
    /// `BOOTIF=`, 4 `SYSUUID=`, ...).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
    pub sysappend: u32,
    /// The submenu the entry is in (its title); entries of one submenu are consecutive.
    /// pxelinux menus only; iPXE lists every entry in one menu.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub submenu: Option<String>,
    /// For `local-boot` entries, the `LOCALBOOT` value when it is not 0: 4 keeps UNDI, 5
    /// keeps the whole PXE stack, -1 asks the BIOS for the next boot device (INT 18h).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub localboot: Option<i32>,
}

#[cfg(feature = "serde")]
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if signature"
)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What an entry boots. In TOML the variant is the `kind` key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)
)]
pub enum Boot {
    /// A Linux kernel with initrds and a command line, fetched over TFTP.
    Linux {
        /// Kernel path, relative to the path prefix.
        kernel: String,
        /// Initrd paths.
        #[cfg_attr(feature = "serde", serde(default))]
        initrd: Vec<String>,
        /// Kernel command line.
        #[cfg_attr(feature = "serde", serde(default))]
        append: String,
    },
    /// An ISO image run from RAM by memdisk (BIOS only; left out of UEFI iPXE boots).
    MemdiskIso {
        /// ISO path, relative to the path prefix.
        image: String,
        /// Add memdisk's `raw` option (some Windows PE images need it).
        #[cfg_attr(feature = "serde", serde(default))]
        raw: bool,
    },
    /// Leave PXE and boot the next device (`LOCALBOOT 0`; iPXE `sanboot`/`exit`).
    LocalBoot,
    /// Chainload another network boot program (`PXE file`; iPXE `chain file`).
    Chain {
        /// NBP path, relative to the path prefix (e.g. `undionly.kpxe`).
        file: String,
    },
    /// iPXE-only: an ISO or disk image booted as a read-only SAN disk over HTTP (`sanboot`):
    /// iPXE reads the blocks the booted system asks for with HTTP range requests, so nothing is
    /// copied into RAM first and images of any size boot, on BIOS and UEFI (where memdisk is
    /// BIOS-only and holds the whole image in RAM below 4 GiB). A relative path is fetched
    /// relative to the iPXE script's URL, so it needs the script served over HTTP (`[http]`).
    /// Not in the pxelinux or GRUB files.
    Sanboot {
        /// Image path, relative to the path prefix, or an `http://` URL.
        image: String,
    },
    /// iPXE-only: Windows PE through wimboot, which serves the listed files to `bootmgr` from
    /// RAM (BIOS and UEFI). Not in the pxelinux or GRUB files.
    Wimboot {
        /// The wimboot binary, relative to the path prefix. Not packaged by Debian: from
        /// <https://github.com/ipxe/wimboot/releases> (`wimboot`, BIOS and x64 UEFI in one).
        #[cfg_attr(feature = "serde", serde(default = "default_wimboot"))]
        wimboot: String,
        /// The files of the WinPE tree that bootmgr reads, each passed to wimboot under its
        /// base name: typically `bootmgr` (`bootmgr.efi` on UEFI), `boot/bcd`, `boot/boot.sdi`
        /// and `sources/boot.wim`.
        files: Vec<String>,
    },
    /// iPXE-only: kernel and initrds over HTTP. Not in the pxelinux files.
    Http {
        /// Kernel URL.
        kernel: String,
        /// Initrd URLs.
        #[cfg_attr(feature = "serde", serde(default))]
        initrd: Vec<String>,
        /// Kernel command line.
        #[cfg_attr(feature = "serde", serde(default))]
        append: String,
    },
}

impl Boot {
    /// Whether pxelinux can run this entry (everything but the iPXE-only [`Boot::Http`],
    /// [`Boot::Sanboot`] and [`Boot::Wimboot`]).
    pub fn in_pxelinux(&self) -> bool {
        !matches!(
            self,
            Boot::Http { .. } | Boot::Sanboot { .. } | Boot::Wimboot { .. }
        )
    }

    /// The files of the served tree this entry loads (kernels, initrds, images, wimboot and its
    /// files; not URLs), for checks that they exist.
    pub fn files(&self) -> Vec<&str> {
        let mut out: Vec<&str> = match self {
            Boot::Linux { kernel, initrd, .. } => core::iter::once(kernel)
                .chain(initrd)
                .map(String::as_str)
                .collect(),
            Boot::Http { .. } | Boot::LocalBoot => Vec::new(),
            Boot::MemdiskIso { image, .. } | Boot::Sanboot { image } => vec![image.as_str()],
            Boot::Chain { file } => vec![file.as_str()],
            Boot::Wimboot { wimboot, files } => core::iter::once(wimboot)
                .chain(files)
                .map(String::as_str)
                .collect(),
        };
        out.retain(|f| !crate::lookup::is_url(f));
        out
    }
}

/// A rendered file, to be written at `path` relative to the path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RenderedFile {
    /// Relative path, `/`-separated (`pxelinux.cfg/default`).
    pub path: String,
    /// The file's contents (the DISPLAY file holds raw control characters).
    pub contents: String,
}

fn invalid(id: &str, field: &'static str, reason: &'static str) -> Error {
    Error::InvalidText {
        id: id.to_owned(),
        field,
        reason,
    }
}

/// Checks a value written on one directive line.
fn one_line(id: &str, field: &'static str, value: &str) -> Result<(), Error> {
    if value.starts_with(is_space) {
        return Err(invalid(
            id,
            field,
            "starts with a blank, which pxelinux drops",
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(invalid(
            id,
            field,
            "contains a line break or control character",
        ));
    }
    if value.contains(" #") {
        return Err(invalid(
            id,
            field,
            "contains ` #`, which pxelinux would keep in the value",
        ));
    }
    if value.contains("${") {
        return Err(invalid(id, field, "contains `${`, which iPXE would expand"));
    }
    // iPXE splits a line into words and reads these ones as command separators or the start of
    // a comment (core/exec.c `command_terminator`), cutting the command short.
    if value
        .split(is_space)
        .any(|w| matches!(w, "||" | "&&" | ";") || w.starts_with('#'))
    {
        return Err(invalid(
            id,
            field,
            "has a word `||`, `&&`, `;` or `#...`, which iPXE reads as a separator or comment",
        ));
    }
    Ok(())
}

/// Checks a file name: one word.
fn file_name(id: &str, field: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::Empty {
            id: id.to_owned(),
            field,
        });
    }
    if value.chars().any(is_space) || value.contains(',') {
        return Err(invalid(id, field, "must be one word without commas"));
    }
    if value.starts_with('-') {
        return Err(invalid(
            id,
            field,
            "starts with `-`, which iPXE reads as an option",
        ));
    }
    one_line(id, field, value)
}

/// Checks the name of a file the render writes into the root: a file name (see
/// [`file_name`]) that is also a relative path of plain names, so it cannot land outside the
/// directory it is rendered into (no leading `/`, no `.` or `..`, no empty part).
fn output_path(field: &'static str, value: &str) -> Result<(), Error> {
    file_name("", field, value)?;
    if value.starts_with('/') || value.split('/').any(|p| matches!(p, "" | "." | "..")) {
        return Err(invalid(
            "",
            field,
            "must be a relative path of plain names inside the rendered root (no leading `/`, \
             no `.` or `..`)",
        ));
    }
    Ok(())
}

/// Extensions that make `KERNEL` load something other than a Linux kernel.
const NON_LINUX_EXTENSIONS: &[&str] =
    &[".c32", ".img", ".bss", ".bin", ".bs", ".0", ".com", ".cbt"];

impl Menu {
    /// The menu `pxe init` writes: local disk by default after 10 s, a Debian netboot entry,
    /// and a serial console on COM1 at 115200 baud.
    pub fn starter() -> Menu {
        Menu {
            title: "PXE boot menu".into(),
            timeout: 10,
            default: Some("local".into()),
            ui: Ui::Menu,
            serial: Some(SerialConsole {
                port: 0,
                baud: 115_200,
            }),
            say: Vec::new(),
            display_file: default_display_file(),
            ipxe_script: default_ipxe_script(),
            memdisk: default_memdisk(),
            ontimeout: None,
            master_passwd: None,
            pxelinux_lines: Vec::new(),
            entries: vec![
                Entry {
                    id: "local".into(),
                    name: "Boot from local disk".into(),
                    boot: Boot::LocalBoot,
                    help: None,
                    hidden: false,
                    passwd: None,
                    sysappend: 0,
                    submenu: None,
                    localboot: None,
                },
                Entry {
                    id: "debian".into(),
                    name: "Debian installer (netboot)".into(),
                    boot: Boot::Linux {
                        kernel: "debian-installer/amd64/linux".into(),
                        initrd: vec!["debian-installer/amd64/initrd.gz".into()],
                        append: "vga=788 --- quiet".into(),
                    },
                    help: Some(
                        "Installs Debian; put the netboot files under debian-installer/.".into(),
                    ),
                    hidden: false,
                    passwd: None,
                    sysappend: 0,
                    submenu: None,
                    localboot: None,
                },
            ],
        }
    }

    /// Checks the model: ids are one safe word and unique, the default exists, text fits on one
    /// line, file names are one word, and a [`Ui::Prompt`] menu has an entry pxelinux can boot.
    pub fn validate(&self) -> Result<(), Error> {
        one_line("", "title", &self.title)?;
        for s in &self.say {
            one_line("", "say", s)?;
        }
        output_path("display_file", &self.display_file)?;
        output_path("ipxe_script", &self.ipxe_script)?;
        file_name("", "memdisk", &self.memdisk)?;
        for (i, e) in self.entries.iter().enumerate() {
            // Not `-` first: iPXE would read `item -x` / `choose --default -x` as options.
            let ok = !e.id.is_empty()
                && !e.id.starts_with('-')
                && e.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(Error::InvalidId { id: e.id.clone() });
            }
            if self.entries.iter().take(i).any(|o| o.id == e.id) {
                return Err(Error::DuplicateId { id: e.id.clone() });
            }
            if e.name.trim().is_empty() {
                return Err(Error::Empty {
                    id: e.id.clone(),
                    field: "name",
                });
            }
            one_line(&e.id, "name", &e.name)?;
            if let Some(h) = &e.help {
                let bad = h.lines().any(|l| {
                    first_word(l).eq_ignore_ascii_case("ENDTEXT")
                        || l.chars().any(|c| c.is_control() && c != '\t')
                });
                if bad {
                    return Err(invalid(
                        &e.id,
                        "help",
                        "has a control character or an ENDTEXT line",
                    ));
                }
            }
            match &e.boot {
                Boot::Linux {
                    kernel,
                    initrd,
                    append,
                }
                | Boot::Http {
                    kernel,
                    initrd,
                    append,
                } => {
                    file_name(&e.id, "kernel", kernel)?;
                    let lower = kernel.to_ascii_lowercase();
                    if NON_LINUX_EXTENSIONS.iter().any(|x| lower.ends_with(x)) {
                        return Err(invalid(
                            &e.id,
                            "kernel",
                            "has an extension pxelinux reads as another image type",
                        ));
                    }
                    for i in initrd {
                        file_name(&e.id, "initrd", i)?;
                    }
                    one_line(&e.id, "append", append)?;
                    if append.split(is_space).any(|w| w.starts_with("initrd=")) {
                        return Err(invalid(
                            &e.id,
                            "append",
                            "has initrd=; list initrds in `initrd`",
                        ));
                    }
                }
                Boot::MemdiskIso { image, .. } | Boot::Sanboot { image } => {
                    file_name(&e.id, "image", image)?;
                }
                Boot::Wimboot { wimboot, files } => {
                    file_name(&e.id, "wimboot", wimboot)?;
                    if files.is_empty() {
                        return Err(Error::Empty {
                            id: e.id.clone(),
                            field: "files",
                        });
                    }
                    for f in files {
                        file_name(&e.id, "files", f)?;
                    }
                }
                Boot::Chain { file } => file_name(&e.id, "file", file)?,
                Boot::LocalBoot => {}
            }
        }
        if self.entries.iter().all(|e| e.hidden) {
            return Err(Error::Empty {
                id: String::new(),
                field: "entries (shown)",
            });
        }
        if let Some(d) = &self.default
            && !self.entries.iter().any(|e| &e.id == d)
        {
            return Err(Error::UnknownDefault { id: d.clone() });
        }
        // With a menu module pxelinux shows an (empty) menu; with the bare prompt it would have
        // no DEFAULT and no UI, which pxelinux reports as an error (lint M025).
        self.validate_imported()?;
        if matches!(self.ui, Ui::Prompt | Ui::None)
            && !self.entries.iter().any(|e| e.boot.in_pxelinux())
        {
            return Err(Error::Unrenderable {
                field: "entries",
                reason: "a prompt menu (ui = \"prompt\") needs at least one entry pxelinux can \
                         boot; http entries are iPXE-only",
            });
        }
        Ok(())
    }

    /// Checks the settings carried over from hand-written trees.
    fn validate_imported(&self) -> Result<(), Error> {
        if let Some(t) = &self.ontimeout
            && !self.entries.iter().any(|e| &e.id == t)
        {
            return Err(Error::UnknownDefault { id: t.clone() });
        }
        if let Some(p) = &self.master_passwd {
            one_line("", "master_passwd", p)?;
        }
        for l in &self.pxelinux_lines {
            if l.chars().any(char::is_control) {
                return Err(invalid(
                    "",
                    "pxelinux_lines",
                    "contains a line break or control character",
                ));
            }
            let cfg = Config::parse(l);
            let ok = cfg.items.len() == 1
                && cfg.items[0]
                    .directive()
                    .is_some_and(|d| PASS_THROUGH.contains(&d.keyword));
            if !ok {
                return Err(invalid(
                    "",
                    "pxelinux_lines",
                    "holds a line that is not one of the directives passed through (menu colours, \
                     layout, F-keys, PATH, ...)",
                ));
            }
        }
        let mut closed: Vec<&str> = Vec::new();
        let mut current: Option<&str> = None;
        for e in &self.entries {
            if let Some(p) = &e.passwd {
                one_line(&e.id, "passwd", p)?;
            }
            if let Some(v) = e.localboot
                && !(matches!(e.boot, Boot::LocalBoot) && matches!(v, -1 | 0 | 4 | 5))
            {
                return Err(invalid(
                    &e.id,
                    "localboot",
                    "is only for local-boot entries, and one of 0, 4, 5 or -1",
                ));
            }
            let sub = e.submenu.as_deref();
            if let Some(t) = sub {
                one_line(&e.id, "submenu", t)?;
                if t.trim().is_empty() {
                    return Err(Error::Empty {
                        id: e.id.clone(),
                        field: "submenu",
                    });
                }
            }
            if sub != current {
                if let Some(c) = current {
                    closed.push(c);
                }
                if sub.is_some_and(|t| closed.contains(&t)) {
                    return Err(invalid(
                        &e.id,
                        "submenu",
                        "names a submenu whose entries are not all next to each other",
                    ));
                }
                current = sub;
            }
        }
        Ok(())
    }

    /// The entry pxelinux boots by default: the model's default if pxelinux can run it, else
    /// the first shown entry it can run.
    fn pxelinux_default(&self) -> Option<&Entry> {
        let usable = |e: &&Entry| e.boot.in_pxelinux();
        self.default
            .as_ref()
            .and_then(|d| self.entries.iter().find(|e| &e.id == d))
            .filter(usable)
            .or_else(|| self.entries.iter().filter(usable).find(|e| !e.hidden))
            .or_else(|| self.entries.iter().find(usable))
    }

    /// The iPXE default: the model's default, else the first shown entry.
    fn ipxe_default(&self) -> Option<&Entry> {
        let open = |e: &&Entry| e.passwd.is_none();
        self.default
            .as_ref()
            .and_then(|d| self.entries.iter().find(|e| &e.id == d))
            .filter(open)
            .or_else(|| self.entries.iter().filter(open).find(|e| !e.hidden))
            .or_else(|| self.entries.iter().find(open))
    }

    /// Renders `pxelinux.cfg/default` (without the lint gate of [`Menu::render`]).
    pub fn render_pxelinux(&self) -> String {
        let mut o = String::new();
        let menu = matches!(self.ui, Ui::Menu | Ui::Vesamenu);
        // SERIAL first so everything after it reaches the serial console.
        if let Some(s) = self.serial {
            let _ = writeln!(o, "SERIAL {} {}", s.port, s.baud);
        }
        let _ = writeln!(o, "DISPLAY {}", self.display_file);
        for s in &self.say {
            let _ = writeln!(o, "SAY {s}");
        }
        match self.ui {
            Ui::Menu => o.push_str("UI menu.c32\n"),
            Ui::Vesamenu => o.push_str("UI vesamenu.c32\n"),
            Ui::Prompt | Ui::None => {}
        }
        let _ = writeln!(o, "PROMPT {}", u8::from(self.ui == Ui::Prompt));
        let _ = writeln!(o, "TIMEOUT {}", u64::from(self.timeout) * 10);
        if self.ui == Ui::Prompt && self.timeout == 0 {
            // A no-op in pxelinux (0 is off), written to state that waiting at `boot:` is meant:
            // the lint's form for a deliberate wait (M005 flags a prompt without timers).
            o.push_str("TOTALTIMEOUT 0\n");
        }
        if let Some(d) = self.pxelinux_default() {
            let _ = writeln!(o, "DEFAULT {}", d.id);
        }
        if let Some(t) = self.ontimeout.as_ref().filter(|t| {
            self.entries
                .iter()
                .any(|e| &&e.id == t && e.boot.in_pxelinux())
        }) {
            let _ = writeln!(o, "ONTIMEOUT {t}");
        }
        if menu {
            let _ = writeln!(o, "MENU TITLE {}", self.title);
            if let Some(p) = &self.master_passwd {
                let _ = writeln!(o, "MENU MASTER PASSWD {p}");
            }
        }
        for l in &self.pxelinux_lines {
            let _ = writeln!(o, "{l}");
        }
        let mut open: Option<&str> = None;
        for e in self.entries.iter().filter(|e| e.boot.in_pxelinux()) {
            let sub = e.submenu.as_deref().filter(|_| menu);
            if sub != open {
                if open.is_some() {
                    o.push_str("\nMENU END\n");
                }
                if let Some(t) = sub {
                    let _ = writeln!(o, "\nMENU BEGIN {}\nMENU TITLE {t}", crate::lint::slug(t));
                }
                open = sub;
            }
            let _ = writeln!(o, "\nLABEL {}", e.id);
            if menu {
                let _ = writeln!(o, "  MENU LABEL {}", e.name);
                if e.hidden {
                    o.push_str("  MENU HIDE\n");
                }
                if let Some(p) = &e.passwd {
                    let _ = writeln!(o, "  MENU PASSWD {p}");
                }
            }
            match &e.boot {
                Boot::Linux {
                    kernel,
                    initrd,
                    append,
                } => {
                    let _ = writeln!(o, "  KERNEL {kernel}");
                    // `initrd=` first on the APPEND line, not an INITRD line (which `record()`
                    // puts after everything): it stays left of a `---`, behind which Debian's
                    // installer copies options into the installed system.
                    let mut line = String::new();
                    if !initrd.is_empty() {
                        let _ = write!(line, "initrd={}", initrd.join(","));
                    }
                    if !append.is_empty() {
                        if !line.is_empty() {
                            line.push(' ');
                        }
                        line.push_str(append);
                    }
                    if !line.is_empty() {
                        let _ = writeln!(o, "  APPEND {line}");
                    }
                }
                Boot::MemdiskIso { image, raw } => {
                    let _ = writeln!(o, "  KERNEL {}", self.memdisk);
                    let _ = writeln!(o, "  INITRD {image}");
                    let _ = writeln!(o, "  APPEND iso{}", if *raw { " raw" } else { "" });
                }
                Boot::LocalBoot => {
                    let _ = writeln!(o, "  LOCALBOOT {}", e.localboot.unwrap_or(0));
                }
                Boot::Chain { file } => {
                    let _ = writeln!(o, "  PXE {file}");
                }
                Boot::Http { .. } | Boot::Sanboot { .. } | Boot::Wimboot { .. } => {}
            }
            if e.sysappend != 0 {
                let _ = writeln!(o, "  IPAPPEND {}", e.sysappend);
            }
            if let (true, Some(h)) = (menu, &e.help) {
                // menu.c32 shows the lines as they are, so they are written unindented.
                o.push_str("  TEXT HELP\n");
                for l in h.lines() {
                    let _ = writeln!(o, "{l}");
                }
                o.push_str("  ENDTEXT\n");
            }
        }
        if open.is_some() {
            o.push_str("\nMENU END\n");
        }
        // Said where an admin looks, not dropped silently.
        for e in self.entries.iter().filter(|e| !e.boot.in_pxelinux()) {
            let _ = writeln!(
                o,
                "\n# entry {} left out: an iPXE-only entry ({})",
                e.id, self.ipxe_script
            );
        }
        o
    }

    /// Renders the DISPLAY file (menu-syntax.md §7): clear screen, the title in bright white,
    /// then one line per entry (`id  name`; hidden ones only with [`Ui::Prompt`], where this
    /// list is all users see) and how to choose.
    pub fn render_display(&self) -> String {
        let mut o = String::from("\x0c\x0f0f");
        // menu.c32 strips `^` from titles; the DISPLAY file would show it verbatim.
        let _ = writeln!(o, "{}\x0f07", strip_hotkey(&self.title));
        o.push('\n');
        let shown: Vec<&Entry> = self
            .entries
            .iter()
            // Without a menu this list is all users see, so hidden entries are listed too.
            .filter(|e| {
                e.boot.in_pxelinux() && (!e.hidden || matches!(self.ui, Ui::Prompt | Ui::None))
            })
            .collect();
        let width = shown.iter().map(|e| e.id.len()).max().unwrap_or(0);
        for e in &shown {
            let _ = writeln!(o, "  {:width$}  {}", e.id, strip_hotkey(&e.name));
        }
        o.push('\n');
        let default = self.pxelinux_default().map(|e| e.id.as_str());
        match (self.ui, default) {
            (Ui::Prompt, Some(d)) if self.timeout > 0 => {
                let _ = writeln!(
                    o,
                    "Type an id at the boot: prompt; {d} boots in {} s.",
                    self.timeout
                );
            }
            (Ui::Prompt, Some(d)) => {
                let _ = writeln!(o, "Type an id at the boot: prompt; Enter boots {d}.");
            }
            (Ui::Prompt, None) => o.push_str("Type an id at the boot: prompt.\n"),
            (Ui::None, Some(d)) => {
                let _ = writeln!(o, "{d} boots at once; hold Shift for the boot: prompt.");
            }
            _ => {}
        }
        o
    }

    /// Renders the iPXE script (menu-syntax.md §10.2): `menu`/`item`/`choose`, one `:id`
    /// section per entry, and back to the menu if a boot fails. The script's own labels
    /// (`pxe/menu`, `pxe/failed`, `pxe/bios_only`) contain a `/`, which entry ids cannot, so
    /// they never collide.
    pub fn render_ipxe(&self) -> String {
        let mut o = String::from("#!ipxe\n");
        for s in &self.say {
            let _ = writeln!(o, "echo {}{s}", end_of_options(s));
        }
        if self.ui == Ui::None
            && let Some(d) = self.ipxe_default()
        {
            // No menu in pxelinux either: boot the default at once.
            let _ = writeln!(o, "goto {}", d.id);
        }
        o.push_str("\n:pxe/menu\n");
        let title = strip_hotkey(&self.title);
        let _ = writeln!(o, "menu {}{title}", end_of_options(&title));
        let default_id = self.ipxe_default().map(|e| e.id.as_str());
        // iPXE has no hidden items and its timeout picks a listed one, so a hidden default is
        // listed too: otherwise the timeout would boot another entry than pxelinux does.
        // A password-protected entry is left out: iPXE cannot check menu.c32's passwords.
        for e in self
            .entries
            .iter()
            .filter(|e| e.passwd.is_none())
            .filter(|e| !e.hidden || Some(e.id.as_str()) == default_id)
        {
            o.push_str("item ");
            // pxelinux's `^x` hotkey; iPXE compares keys exactly, so the lower-case letter.
            if let Some(k) = hotkey(&e.name) {
                let _ = write!(o, "--key {k} ");
            }
            let _ = writeln!(o, "{} {}", e.id, strip_hotkey(&e.name));
        }
        o.push_str("choose");
        if let Some(d) = default_id {
            let _ = write!(o, " --default {d}");
        }
        if self.timeout > 0 {
            let _ = write!(o, " --timeout {}", u64::from(self.timeout) * 1000);
        }
        o.push_str(" selected || goto pxe/menu\ngoto ${selected}\n");
        for e in self.entries.iter().filter(|e| e.passwd.is_some()) {
            let _ = writeln!(
                o,
                "\n# entry {} left out: has a menu.c32 password (MENU PASSWD), which iPXE cannot \
                 check",
                e.id
            );
        }
        for e in self.entries.iter().filter(|e| e.passwd.is_none()) {
            let _ = writeln!(o, "\n:{}", e.id);
            match &e.boot {
                Boot::Linux {
                    kernel,
                    initrd,
                    append,
                }
                | Boot::Http {
                    kernel,
                    initrd,
                    append,
                } => {
                    // Images left from an entry that failed would be passed on as initrds.
                    o.push_str("imgfree\n");
                    let _ = write!(o, "kernel {kernel}");
                    // A UEFI kernel's EFI stub loads its initrds by name from iPXE's file system
                    // (`initrd=`, needed before Linux 5.7 and iPXE's LoadFile2 initrd); BIOS iPXE
                    // ignores the argument. Before APPEND, so it stays left of a `---`.
                    for n in 0..initrd.len() {
                        let _ = write!(o, " initrd=initrd{n}");
                    }
                    if !append.is_empty() {
                        let _ = write!(o, " {append}");
                    }
                    o.push_str(" || goto pxe/failed\n");
                    for (n, i) in initrd.iter().enumerate() {
                        let _ = writeln!(o, "initrd --name initrd{n} {i} || goto pxe/failed");
                    }
                    o.push_str("boot || goto pxe/failed\n");
                }
                Boot::MemdiskIso { image, raw } => {
                    o.push_str("iseq ${platform} pcbios || goto pxe/bios_only\n");
                    o.push_str("imgfree\n");
                    let _ = writeln!(
                        o,
                        "kernel {} iso{} || goto pxe/failed",
                        self.memdisk,
                        if *raw { " raw" } else { "" }
                    );
                    let _ = writeln!(o, "initrd {image} || goto pxe/failed");
                    o.push_str("boot || goto pxe/failed\n");
                }
                Boot::LocalBoot => {
                    // sanboot of drive 0x80 is BIOS-only; UEFI goes back to its boot order.
                    o.push_str(
                        "iseq ${platform} pcbios && sanboot --no-describe --drive 0x80 || exit\n",
                    );
                }
                Boot::Chain { file } => {
                    let _ = writeln!(o, "chain {file} || goto pxe/failed");
                }
                Boot::Sanboot { image } => {
                    // --no-describe: no iBFT/aBFT for an HTTP disk, which the booted OS could
                    // not use anyway; iPXE resolves a relative path against the script's URL.
                    let _ = writeln!(o, "sanboot --no-describe {image} || goto pxe/failed");
                }
                Boot::Wimboot { wimboot, files } => {
                    o.push_str("imgfree\n");
                    let _ = writeln!(o, "kernel {wimboot} || goto pxe/failed");
                    for f in files {
                        // wimboot finds each file by its image name (its base name).
                        let name = f.rsplit('/').next().unwrap_or(f);
                        let _ = writeln!(o, "initrd --name {name} {f} || goto pxe/failed");
                    }
                    o.push_str("boot || goto pxe/failed\n");
                }
            }
            o.push_str("goto pxe/menu\n");
        }
        o.push_str("\n:pxe/bios_only\necho This entry uses memdisk, which needs a BIOS client.\n");
        o.push_str("goto pxe/failed\n");
        o.push_str("\n:pxe/failed\necho Boot failed, back to the menu.\nsleep 3\ngoto pxe/menu\n");
        o
    }

    /// Validates the model and renders the four files: `pxelinux.cfg/default`, the DISPLAY
    /// file, the iPXE script and GRUB's `grub/grub.cfg` ([`Menu::render_grub`]). The pxelinux
    /// file is linted with this crate's own lint; any finding is an [`Error::Lint`], so a render
    /// never produces a file the lint flags.
    ///
    /// ```
    /// let files = pxe_menu::Menu::starter().render().unwrap();
    /// let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    /// assert_eq!(paths, ["pxelinux.cfg/default", "boot.txt", "boot.ipxe", "grub/grub.cfg"]);
    /// ```
    pub fn render(&self) -> Result<Vec<RenderedFile>, Error> {
        self.render_with_findings().map(|(files, _)| files)
    }

    /// [`Menu::render`], also giving the lint's warnings and notes on the rendered
    /// `pxelinux.cfg/default`: they are for the admin to read and never stop a render; only
    /// an error-severity finding does.
    pub fn render_with_findings(&self) -> Result<(Vec<RenderedFile>, Vec<Finding>), Error> {
        self.validate()?;
        let pxelinux = self.render_pxelinux();
        let findings = lint(&Config::parse(&pxelinux), &LintOptions::default());
        if let Some(f) = findings.iter().find(|f| f.severity == Severity::Error) {
            let mut message = f.message.clone();
            if let Some(fix) = &f.fix {
                let _ = write!(message, " (fix: {fix})");
            }
            return Err(Error::Lint {
                code: f.code.id(),
                line: f.line,
                message,
            });
        }
        let files = vec![
            RenderedFile {
                path: PXELINUX_DEFAULT.to_string(),
                contents: pxelinux,
            },
            RenderedFile {
                path: self.display_file.clone(),
                contents: self.render_display(),
            },
            RenderedFile {
                path: self.ipxe_script.clone(),
                contents: self.render_ipxe(),
            },
            RenderedFile {
                path: crate::render_grub::GRUB_CFG.to_string(),
                contents: self.render_grub(),
            },
        ];
        Ok((files, findings))
    }
}

/// Display text without pxelinux's `^` hotkey marks.
fn strip_hotkey(s: &str) -> String {
    s.replace('^', "")
}

/// The hotkey a `^` marks in a menu label (menu-syntax.md §2, `MENU LABEL`), lower-cased.
fn hotkey(s: &str) -> Option<char> {
    let (_, after) = s.split_once('^')?;
    after
        .chars()
        .next()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
}

/// `-- ` before text that starts with `-`, so iPXE's option parser (which stops at `--`) does
/// not read it as an option of `menu` or `echo`.
fn end_of_options(text: &str) -> &'static str {
    if text.starts_with('-') { "-- " } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_renders_clean_and_resolves() {
        let m = Menu::starter();
        let files = m.render().unwrap();
        let cfg = Config::parse(&files[0].contents);
        let r = cfg.resolve();
        assert_eq!(r.serial.as_deref(), Some("0 115200"));
        assert_eq!(r.timeout, 100);
        assert_eq!(r.default.as_deref(), Some("local"));
        assert_eq!(r.labels[0].command_line, ".localboot 0");
        assert_eq!(
            r.labels[1].command_line,
            "debian-installer/amd64/linux initrd=debian-installer/amd64/initrd.gz vga=788 --- quiet"
        );
        assert!(files[0].contents.starts_with("SERIAL 0 115200\n"));
        assert!(
            files[2]
                .contents
                .contains("choose --default local --timeout 10000 selected")
        );
    }

    #[test]
    fn left_out_entries_are_commented() {
        let mut m = Menu::starter();
        m.entries[1].boot = Boot::Sanboot {
            image: "http://10.0.0.1/w.iso".into(),
        };
        m.entries[0].passwd = Some("$1$x$y".into());
        let cfg = m.render_pxelinux();
        assert!(
            cfg.contains("\n# entry debian left out: an iPXE-only entry (boot.ipxe)\n"),
            "{cfg}"
        );
        assert!(Config::parse(&cfg).resolve().labels.len() == 1);
        let ipxe = m.render_ipxe();
        assert!(
            ipxe.contains("# entry local left out: has a menu.c32 password"),
            "{ipxe}"
        );
        assert!(!ipxe.contains(":local\n"), "{ipxe}");
    }

    #[test]
    fn output_files_stay_inside_the_root() {
        for (field, bad) in [
            ("display_file", "../escape.txt"),
            ("ipxe_script", "/tmp/x/abs.ipxe"),
            ("display_file", "a/../../b.txt"),
            ("ipxe_script", "./menu.ipxe"),
            ("display_file", "a//b.txt"),
        ] {
            let mut m = Menu::starter();
            match field {
                "display_file" => m.display_file = bad.into(),
                _ => m.ipxe_script = bad.into(),
            }
            match m.validate() {
                Err(Error::InvalidText { field: f, .. }) => assert_eq!(f, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
            assert!(m.render().is_err(), "{bad}");
        }
        let mut m = Menu::starter();
        m.title = "two\nlines".into();
        let msg = m.validate().unwrap_err().to_string();
        assert!(msg.starts_with("menu title contains"), "{msg}");
        m.title = "Lab".into();
        m.entries[0].name = String::new();
        let msg = m.validate().unwrap_err().to_string();
        assert!(msg.contains("of entry \"local\""), "{msg}");
        let mut m = Menu::starter();
        m.display_file = "pxelinux.cfg/boot.txt".into();
        m.ipxe_script = "ipxe/menu.ipxe".into();
        assert!(m.validate().is_ok());
    }

    #[test]
    fn validation_errors() {
        let base = Menu::starter();
        let mut m = base.clone();
        m.entries[0].id = "two words".into();
        assert_eq!(
            m.validate(),
            Err(Error::InvalidId {
                id: "two words".into()
            })
        );
        let mut m = base.clone();
        m.entries[1].id = "local".into();
        assert_eq!(m.validate(), Err(Error::DuplicateId { id: "local".into() }));
        let mut m = base.clone();
        m.default = Some("nope".into());
        assert_eq!(
            m.validate(),
            Err(Error::UnknownDefault { id: "nope".into() })
        );
        let mut m = base.clone();
        m.entries[0].name = "a\nb".into();
        assert!(matches!(
            m.validate(),
            Err(Error::InvalidText { field: "name", .. })
        ));
        let mut m = base.clone();
        m.entries[1].name = "C # dev".into();
        assert!(matches!(
            m.validate(),
            Err(Error::InvalidText { field: "name", .. })
        ));
        let mut m = base.clone();
        m.entries[1].boot = Boot::Linux {
            kernel: "menu.c32".into(),
            initrd: vec![],
            append: String::new(),
        };
        assert!(matches!(
            m.validate(),
            Err(Error::InvalidText {
                field: "kernel",
                ..
            })
        ));
        let mut m = base.clone();
        m.entries[1].boot = Boot::Chain {
            file: String::new(),
        };
        assert!(matches!(
            m.validate(),
            Err(Error::Empty { field: "file", .. })
        ));
        let mut m = base.clone();
        m.entries[1].help = Some("x\nENDTEXT\n".into());
        assert!(matches!(
            m.validate(),
            Err(Error::InvalidText { field: "help", .. })
        ));
        let mut m = base;
        m.entries[1].boot = Boot::Linux {
            kernel: "k".into(),
            initrd: vec![],
            append: "initrd=x".into(),
        };
        assert!(matches!(
            m.validate(),
            Err(Error::InvalidText {
                field: "append",
                ..
            })
        ));
    }

    #[test]
    fn prompt_without_timeout_waits_on_purpose() {
        // FINDING-3 (fuzz/regressions/menu_model/prompt-ui-timeout-0): `timeout = 0` with the
        // prompt UI validated but failed the render's lint (M005).
        let mut m = Menu::starter();
        m.ui = Ui::Prompt;
        m.timeout = 0;
        let files = m.render().unwrap();
        let pxe = &files[0].contents;
        assert!(
            pxe.contains("PROMPT 1\nTIMEOUT 0\nTOTALTIMEOUT 0\nDEFAULT local\n"),
            "{pxe}"
        );
        let r = Config::parse(pxe).resolve();
        assert!(r.prompt);
        assert_eq!((r.timeout, r.total_timeout), (0, 0));
        assert!(
            files[1]
                .contents
                .contains("Type an id at the boot: prompt; Enter boots local.\n")
        );
        assert!(!files[2].contents.contains("--timeout"));
        // The fuzzer's input: one memdisk ISO entry, the default.
        m.entries = vec![Entry {
            id: "iso".into(),
            name: "ISO".into(),
            boot: Boot::MemdiskIso {
                image: "a.iso".into(),
                raw: false,
            },
            help: None,
            hidden: false,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        }];
        m.default = Some("iso".into());
        m.render().unwrap();
        m.timeout = 5;
        m.entries = Menu::starter().entries;
        m.default = Some("local".into());
        let files = m.render().unwrap();
        assert!(!files[0].contents.contains("MENU"));
        assert!(!files[0].contents.contains("TOTALTIMEOUT"));
        assert!(files[1].contents.contains("local boots in 5 s"));
    }

    #[test]
    fn prompt_menu_needs_a_pxelinux_entry() {
        // FINDING-2 (fuzz/regressions/menu_model/prompt-ui-only-http-entries): only iPXE
        // entries left the prompt render with no DEFAULT and no UI (M025).
        let mut m = Menu::starter();
        m.ui = Ui::Prompt;
        m.default = None;
        m.entries.retain(|e| e.id == "debian");
        if let Boot::Linux {
            kernel,
            initrd,
            append,
        } = m.entries[0].boot.clone()
        {
            m.entries[0].boot = Boot::Http {
                kernel,
                initrd,
                append,
            };
        }
        let err = m.validate().unwrap_err();
        assert!(matches!(
            err,
            Error::Unrenderable {
                field: "entries",
                ..
            }
        ));
        assert!(
            err.to_string().starts_with("entries: a prompt menu"),
            "{err}"
        );
        assert_eq!(m.render(), Err(err));
        // A hidden pxelinux entry is enough: it becomes the DEFAULT.
        m.entries.push(Entry {
            id: "local".into(),
            name: "Local".into(),
            boot: Boot::LocalBoot,
            help: None,
            hidden: true,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        });
        let files = m.render().unwrap();
        assert!(files[0].contents.contains("DEFAULT local\n"));
        // A menu module shows its menu, so iPXE-only menus stay possible there.
        m.entries.pop();
        m.ui = Ui::Menu;
        m.render().unwrap();
    }

    #[test]
    fn every_kind_renders() {
        let mut m = Menu::starter();
        m.say = vec!["MARKER-123".into()];
        m.entries.push(Entry {
            id: "winpe".into(),
            name: "Win^PE".into(),
            boot: Boot::MemdiskIso {
                image: "iso/pe.img.iso".into(),
                raw: true,
            },
            help: None,
            hidden: true,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        });
        m.entries.push(Entry {
            id: "ipxe".into(),
            name: "iPXE".into(),
            boot: Boot::Chain {
                file: "undionly.kpxe".into(),
            },
            help: None,
            hidden: false,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        });
        m.entries.push(Entry {
            id: "web".into(),
            name: "Over HTTP".into(),
            boot: Boot::Http {
                kernel: "http://10.0.0.1/vmlinuz".into(),
                initrd: vec!["http://10.0.0.1/initrd".into()],
                append: "console=ttyS0".into(),
            },
            help: None,
            hidden: false,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        });
        m.default = Some("web".into());
        let files = m.render().unwrap();
        let pxe = &files[0].contents;
        assert!(pxe.contains("SAY MARKER-123\n"));
        assert!(
            pxe.contains("DEFAULT local\n"),
            "http default falls back: {pxe}"
        );
        assert!(pxe.contains("  KERNEL memdisk\n  INITRD iso/pe.img.iso\n  APPEND iso raw\n"));
        assert!(pxe.contains("  MENU HIDE\n"));
        assert!(pxe.contains("  PXE undionly.kpxe\n"));
        assert!(!pxe.contains("http://"));
        assert!(!files[1].contents.contains("winpe"));
        let ipxe = &files[2].contents;
        assert!(ipxe.starts_with("#!ipxe\necho MARKER-123\n"));
        assert!(ipxe.contains("item ipxe iPXE\n"));
        assert!(!ipxe.contains("item winpe"));
        assert!(ipxe.contains(":winpe\niseq ${platform} pcbios || goto pxe/bios_only\n"));
        assert!(ipxe.contains(
            ":web\nimgfree\nkernel http://10.0.0.1/vmlinuz initrd=initrd0 console=ttyS0 || goto pxe/failed\n\
             initrd --name initrd0 http://10.0.0.1/initrd || goto pxe/failed\nboot || goto pxe/failed\n"
        ));
        assert!(ipxe.contains(
            ":winpe\niseq ${platform} pcbios || goto pxe/bios_only\nimgfree\n\
             kernel memdisk iso raw || goto pxe/failed\ninitrd iso/pe.img.iso || goto pxe/failed\n"
        ));
        assert!(ipxe.contains("chain undionly.kpxe || goto pxe/failed\n"));
        assert!(ipxe.contains("--default web"));
    }

    #[test]
    fn sanboot_and_wimboot_render_for_ipxe_only() {
        let mut m = Menu::starter();
        m.entries.push(Entry {
            id: "big".into(),
            name: "Big ISO".into(),
            boot: Boot::Sanboot {
                image: "iso/big.iso".into(),
            },
            help: None,
            hidden: false,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        });
        m.entries.push(Entry {
            id: "winpe".into(),
            name: "WinPE".into(),
            boot: Boot::Wimboot {
                wimboot: "wimboot".into(),
                files: vec![
                    "winpe/bootmgr".into(),
                    "winpe/boot/bcd".into(),
                    "winpe/boot/boot.sdi".into(),
                    "winpe/sources/boot.wim".into(),
                ],
            },
            help: None,
            hidden: false,
            passwd: None,
            sysappend: 0,
            submenu: None,
            localboot: None,
        });
        let files = m.render().unwrap();
        let pxe = &files[0].contents;
        // Only the comments saying they are left out.
        assert!(
            !pxe.contains("LABEL big") && !pxe.contains("LABEL winpe"),
            "{pxe}"
        );
        assert!(pxe.contains("# entry big left out") && pxe.contains("# entry winpe left out"));
        let ipxe = &files[2].contents;
        assert!(
            ipxe.contains(":big\nsanboot --no-describe iso/big.iso || goto pxe/failed\n"),
            "{ipxe}"
        );
        assert!(
            ipxe.contains(
                ":winpe\nimgfree\nkernel wimboot || goto pxe/failed\n\
                 initrd --name bootmgr winpe/bootmgr || goto pxe/failed\n\
                 initrd --name bcd winpe/boot/bcd || goto pxe/failed\n\
                 initrd --name boot.sdi winpe/boot/boot.sdi || goto pxe/failed\n\
                 initrd --name boot.wim winpe/sources/boot.wim || goto pxe/failed\n\
                 boot || goto pxe/failed\n"
            ),
            "{ipxe}"
        );
        let grub = &files[3].contents;
        assert!(
            grub.contains("# entry big left out: sanboot is an iPXE command")
                && grub.contains("# entry winpe left out: wimboot runs under iPXE"),
            "{grub}"
        );
        assert_eq!(
            m.entries[3].boot.files(),
            [
                "wimboot",
                "winpe/bootmgr",
                "winpe/boot/bcd",
                "winpe/boot/boot.sdi",
                "winpe/sources/boot.wim"
            ]
        );
        // A wimboot entry lists its files.
        m.entries[3].boot = Boot::Wimboot {
            wimboot: "wimboot".into(),
            files: Vec::new(),
        };
        assert!(matches!(
            m.validate(),
            Err(Error::Empty { field: "files", .. })
        ));
    }

    #[test]
    fn a_hidden_default_is_listed_in_the_ipxe_menu() {
        let mut m = Menu::starter();
        m.entries[0].hidden = true;
        let files = m.render().unwrap();
        assert!(files[0].contents.contains("DEFAULT local\n"));
        assert!(files[0].contents.contains("  MENU HIDE\n"));
        let ipxe = &files[2].contents;
        assert!(
            ipxe.contains("\nitem local Boot from local disk\n"),
            "{ipxe}"
        );
        assert!(ipxe.contains("choose --default local --timeout 10000 selected"));
        m.default = Some("debian".into());
        let ipxe = m.render_ipxe();
        assert!(
            !ipxe.contains("\nitem local "),
            "hidden and not the default"
        );
    }

    #[test]
    fn ipxe_script_words_stay_what_they_are() {
        let mut m = Menu::starter();
        m.title = "-= Lab =-".into();
        m.say = vec!["-n is not an option here".into()];
        m.entries[0].name = "^Local disk".into();
        m.entries[1].name = "De^bian".into();
        let ipxe = m.render().unwrap().remove(2).contents;
        assert!(ipxe.contains("\nmenu -- -= Lab =-\n"), "{ipxe}");
        assert!(ipxe.contains("\necho -- -n is not an option here\n"));
        assert!(ipxe.contains("\nitem --key l local Local disk\n"));
        assert!(ipxe.contains("\nitem --key b debian Debian\n"));
        m.title = "Lab ^menu".into();
        let files = m.render().unwrap();
        assert!(files[1].contents.starts_with("\x0c\x0f0fLab menu\x0f07\n"));
        assert!(files[1].contents.contains("  local   Local disk\n"));
        assert!(files[2].contents.contains("\nmenu Lab menu\n"));

        let base = Menu::starter();
        let mut m = base.clone();
        m.entries[0].id = "-x".into();
        assert_eq!(m.validate(), Err(Error::InvalidId { id: "-x".into() }));
        for (field, text) in [
            ("name", "Linux || rescue"),
            ("name", "#1 choice"),
            ("append", "quiet ; reboot"),
            ("append", "a && b"),
        ] {
            let mut m = base.clone();
            match field {
                "name" => m.entries[1].name = text.into(),
                _ => {
                    m.entries[1].boot = Boot::Linux {
                        kernel: "k".into(),
                        initrd: vec![],
                        append: text.into(),
                    }
                }
            }
            assert!(
                matches!(m.validate(), Err(Error::InvalidText { field: f, .. }) if f == field),
                "{text}"
            );
        }
        let mut m = base;
        m.entries[1].boot = Boot::Chain {
            file: "-undionly.kpxe".into(),
        };
        assert!(matches!(
            m.validate(),
            Err(Error::InvalidText { field: "file", .. })
        ));
    }
}
