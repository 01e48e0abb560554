//! The directive table: every keyword syslinux 6 (ldlinux core and menu.c32/vesamenu.c32) reads.
//!
//! One `macro_rules!` table gives each keyword its canonical spelling, where it may appear and
//! how its value is read (menu-syntax.md §2). Everything else (parser, lint, renderer) asks the
//! table instead of repeating keyword lists.

/// Where a directive has effect (menu-syntax.md §2, column "Scope").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Scope {
    /// Global: sets a file-wide value wherever it appears, even after a `LABEL`.
    Global,
    /// Attaches to the open `LABEL`; ignored when no label is open.
    Label,
    /// Global before the first `LABEL`, per-label inside one (e.g. `APPEND`).
    Both,
    /// Structural menu directive that closes the open label (`MENU BEGIN/END/SEPARATOR/INCLUDE`).
    Structure,
}

/// How the value after the keyword is read (menu-syntax.md §2, column "arg").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Arg {
    /// A number read with `atoi`/`strtoul`: text after the digits is ignored.
    Int,
    /// The first whitespace-delimited word; the rest of the line is ignored.
    Word,
    /// The rest of the line, verbatim (an inline `#` is part of it).
    Rest,
    /// No value.
    Flag,
    /// `TEXT ...` opens a block that runs to `ENDTEXT`.
    Block,
}

macro_rules! keywords {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $scope:ident, $arg:ident; )*) => {
        /// A directive keyword, core or `MENU ...` (menu-syntax.md §2.1 and §2.2).
        ///
        /// Keywords match ASCII case-insensitively and must be followed by whitespace or the end
        /// of the line: `label` is `LABEL`, `LABELfoo` and `TIMEOUT=50` are unknown lines.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[non_exhaustive]
        pub enum Keyword {
            $( $(#[$doc])* $variant, )*
        }

        impl Keyword {
            /// Every keyword, in table order.
            pub const ALL: &'static [Keyword] = &[$(Keyword::$variant,)*];

            /// The canonical spelling, upper case, words separated by one space (`MENU TITLE`).
            pub const fn name(self) -> &'static str {
                match self { $(Keyword::$variant => $name,)* }
            }

            /// Where the directive has effect.
            pub const fn scope(self) -> Scope {
                match self { $(Keyword::$variant => Scope::$scope,)* }
            }

            /// How its value is read.
            pub const fn arg(self) -> Arg {
                match self { $(Keyword::$variant => Arg::$arg,)* }
            }
        }
    };
}

keywords! {
    /// `DEFAULT cmd...`: the default command line (a label id plus options).
    Default = "DEFAULT", Global, Rest;
    /// `UI module args`: the UI module run at start and on timeout (menu.c32).
    Ui = "UI", Global, Rest;
    /// `LABEL id`: opens a label; the core keeps only the first word.
    Label = "LABEL", Structure, Rest;
    /// `KERNEL file [args]`: type chosen by the file extension (menu-syntax.md §4).
    Kernel = "KERNEL", Label, Rest;
    /// `LINUX file`: a Linux boot-protocol image (memdisk is one).
    Linux = "LINUX", Label, Rest;
    /// `BOOT file`: a boot sector.
    Boot = "BOOT", Label, Rest;
    /// `BSS file`: a boot sector with the DOS superblock patched in.
    Bss = "BSS", Label, Rest;
    /// `PXE file`: a PXE network bootstrap program (`.0`).
    Pxe = "PXE", Label, Rest;
    /// `FDIMAGE file`: removed in 4.05; 6.x falls through to the Linux loader.
    Fdimage = "FDIMAGE", Label, Rest;
    /// `COMBOOT file`: removed in 5.00.
    Comboot = "COMBOOT", Label, Rest;
    /// `COM32 file`: a COM32 module.
    Com32 = "COM32", Label, Rest;
    /// `CONFIG file [dir]`: restart with another config file.
    Config = "CONFIG", Label, Rest;
    /// `LOCALBOOT n`: boot locally (menu-syntax.md §5).
    Localboot = "LOCALBOOT", Label, Int;
    /// `INITRD f1[,f2...]`: appended as `initrd=` after APPEND.
    Initrd = "INITRD", Label, Rest;
    /// `APPEND opts`: kernel options; global default or per label (`-` = none).
    Append = "APPEND", Both, Rest;
    /// `IPAPPEND n`: bitmask of auto-appended options (alias of SYSAPPEND).
    Ipappend = "IPAPPEND", Both, Int;
    /// `SYSAPPEND n`: bitmask of auto-appended options.
    Sysappend = "SYSAPPEND", Both, Int;
    /// `INCLUDE file`: read another file in place.
    Include = "INCLUDE", Global, Word;
    /// `PROMPT n`: a boolean; non-zero always shows `boot:`. Not a time.
    Prompt = "PROMPT", Global, Int;
    /// `TIMEOUT n`: tenths of a second before autoboot; 0 waits forever.
    Timeout = "TIMEOUT", Global, Int;
    /// `TOTALTIMEOUT n`: tenths of a second, not cancelled by input; 0 is off.
    Totaltimeout = "TOTALTIMEOUT", Global, Int;
    /// `ONTIMEOUT cmd`: command line run on timeout.
    Ontimeout = "ONTIMEOUT", Global, Rest;
    /// `ONERROR cmd`: command line run when a kernel is not found.
    Onerror = "ONERROR", Global, Rest;
    /// `ALLOWOPTIONS 0|1`: whether the user may add options at `boot:`.
    Allowoptions = "ALLOWOPTIONS", Global, Int;
    /// `IMPLICIT 0|1`: whether non-label file names may be booted.
    Implicit = "IMPLICIT", Global, Int;
    /// `NOESCAPE 0|1`: ignore the Shift/Alt/Caps/Scroll escapes.
    Noescape = "NOESCAPE", Global, Int;
    /// `NOCOMPLETE 0|1`: Tab does not list labels.
    Nocomplete = "NOCOMPLETE", Global, Int;
    /// `NOHALT 0|1`: do not HLT while idle.
    Nohalt = "NOHALT", Global, Int;
    /// `CONSOLE 0|1`: 0 disables the video console.
    Console = "CONSOLE", Global, Int;
    /// `SERIAL port [baud [flow]]`: serial console; should be the first directive.
    Serial = "SERIAL", Global, Rest;
    /// `FONT file.psf`: load a VGA font.
    Font = "FONT", Global, Word;
    /// `KBDMAP file`: load a keymap.
    Kbdmap = "KBDMAP", Global, Rest;
    /// `DISPLAY file`: show a text file with control codes at parse time.
    Display = "DISPLAY", Global, Word;
    /// `SAY text`: print text at parse time.
    Say = "SAY", Global, Rest;
    /// `F0 file`: 6.x maps it to F11's slot; write `F10`.
    F0 = "F0", Global, Rest;
    /// `F1 file [background]`: help screen for F1.
    F1 = "F1", Global, Rest;
    /// `F2 file [background]`.
    F2 = "F2", Global, Rest;
    /// `F3 file [background]`.
    F3 = "F3", Global, Rest;
    /// `F4 file [background]`.
    F4 = "F4", Global, Rest;
    /// `F5 file [background]`.
    F5 = "F5", Global, Rest;
    /// `F6 file [background]`.
    F6 = "F6", Global, Rest;
    /// `F7 file [background]`.
    F7 = "F7", Global, Rest;
    /// `F8 file [background]`.
    F8 = "F8", Global, Rest;
    /// `F9 file [background]`.
    F9 = "F9", Global, Rest;
    /// `F10 file [background]`.
    F10 = "F10", Global, Rest;
    /// `F11 file [background]`.
    F11 = "F11", Global, Rest;
    /// `F12 file [background]`.
    F12 = "F12", Global, Rest;
    /// `PATH dirs`: module search path; one directory per line is portable.
    Path = "PATH", Global, Rest;
    /// `PXERETRY n`: PXE retry count.
    Pxeretry = "PXERETRY", Global, Int;
    /// `SENDCOOKIES n`: SYSAPPEND bits sent as HTTP cookies.
    Sendcookies = "SENDCOOKIES", Global, Int;
    /// `TEXT HELP` ... `ENDTEXT`: a multi-line help block for the open label.
    Text = "TEXT", Label, Block;
    /// `MENU TITLE text`: title of the (sub)menu.
    MenuTitle = "MENU TITLE", Global, Rest;
    /// `MENU LABEL text`: display text of the entry (`^` marks the hotkey).
    MenuLabel = "MENU LABEL", Label, Rest;
    /// `MENU DEFAULT`: the default entry of the menu.
    MenuDefault = "MENU DEFAULT", Label, Flag;
    /// `MENU HIDE`: not shown, still bootable by name.
    MenuHide = "MENU HIDE", Label, Flag;
    /// `MENU DISABLE`: unselectable line.
    MenuDisable = "MENU DISABLE", Label, Flag;
    /// `MENU DISABLED`: same as `MENU DISABLE`.
    MenuDisabled = "MENU DISABLED", Label, Flag;
    /// `MENU INDENT n`: indent the display text.
    MenuIndent = "MENU INDENT", Label, Int;
    /// `MENU SEPARATOR`: a blank line; closes the open label.
    MenuSeparator = "MENU SEPARATOR", Structure, Flag;
    /// `MENU PASSWD pw`: password for the entry or submenu.
    MenuPasswd = "MENU PASSWD", Label, Rest;
    /// `MENU MASTER PASSWD pw`: master password.
    MenuMasterPasswd = "MENU MASTER PASSWD", Global, Rest;
    /// `MENU BEGIN [tag]`: opens a submenu.
    MenuBegin = "MENU BEGIN", Structure, Word;
    /// `MENU END`: closes a submenu.
    MenuEnd = "MENU END", Structure, Flag;
    /// `MENU GOTO tag`: the entry opens another menu.
    MenuGoto = "MENU GOTO", Label, Word;
    /// `MENU EXIT [tag]`: the entry leaves the submenu.
    MenuExit = "MENU EXIT", Label, Word;
    /// `MENU QUIT`: the entry leaves the menu system.
    MenuQuit = "MENU QUIT", Label, Flag;
    /// `MENU START`: start the menu system in this submenu.
    MenuStart = "MENU START", Global, Flag;
    /// `MENU INCLUDE file [tag]`: include seen by the menu; closes the open label.
    MenuInclude = "MENU INCLUDE", Structure, Rest;
    /// `MENU HELP file [bg]`: the entry shows a help file.
    MenuHelp = "MENU HELP", Label, Rest;
    /// `MENU HIDDEN`: show only the timeout message until a key is pressed.
    MenuHidden = "MENU HIDDEN", Global, Flag;
    /// `MENU HIDDENKEY key[,key] cmd`: keys bound while hidden.
    MenuHiddenkey = "MENU HIDDENKEY", Global, Rest;
    /// `MENU SHIFTKEY`: leave the menu unless Shift/Alt/Caps/Scroll is active.
    MenuShiftkey = "MENU SHIFTKEY", Global, Flag;
    /// `MENU CLEAR`: clear the screen on exit.
    MenuClear = "MENU CLEAR", Global, Flag;
    /// `MENU SAVE`: remember the last choice (ignored by PXELINUX).
    MenuSave = "MENU SAVE", Both, Flag;
    /// `MENU NOSAVE`.
    MenuNosave = "MENU NOSAVE", Both, Flag;
    /// `MENU IMMEDIATE`: a hotkey boots at once.
    MenuImmediate = "MENU IMMEDIATE", Both, Flag;
    /// `MENU NOIMMEDIATE`.
    MenuNoimmediate = "MENU NOIMMEDIATE", Both, Flag;
    /// `MENU BACKGROUND file|color`: vesamenu background.
    MenuBackground = "MENU BACKGROUND", Global, Rest;
    /// `MENU RESOLUTION w h`: vesamenu resolution.
    MenuResolution = "MENU RESOLUTION", Global, Rest;
    /// `MENU COLOR elem ansi fg bg shadow`.
    MenuColor = "MENU COLOR", Global, Rest;
    /// `MENU COLOUR`: same as `MENU COLOR`.
    MenuColour = "MENU COLOUR", Global, Rest;
    /// `MENU MSGCOLOR fg bg shadow`.
    MenuMsgcolor = "MENU MSGCOLOR", Global, Rest;
    /// `MENU MSGCOLOUR`: same as `MENU MSGCOLOR`.
    MenuMsgcolour = "MENU MSGCOLOUR", Global, Rest;
    /// `MENU AUTOBOOT msg`: `#` is replaced by the seconds left.
    MenuAutoboot = "MENU AUTOBOOT", Global, Rest;
    /// `MENU TABMSG msg`.
    MenuTabmsg = "MENU TABMSG", Global, Rest;
    /// `MENU NOTABMSG msg`.
    MenuNotabmsg = "MENU NOTABMSG", Global, Rest;
    /// `MENU PASSPROMPT msg`.
    MenuPassprompt = "MENU PASSPROMPT", Global, Rest;
    /// `MENU WIDTH n`.
    MenuWidth = "MENU WIDTH", Global, Int;
    /// `MENU MARGIN n`.
    MenuMargin = "MENU MARGIN", Global, Int;
    /// `MENU PASSWORDMARGIN n`.
    MenuPasswordmargin = "MENU PASSWORDMARGIN", Global, Int;
    /// `MENU ROWS n`.
    MenuRows = "MENU ROWS", Global, Int;
    /// `MENU TABMSGROW n`.
    MenuTabmsgrow = "MENU TABMSGROW", Global, Int;
    /// `MENU CMDLINEROW n`.
    MenuCmdlinerow = "MENU CMDLINEROW", Global, Int;
    /// `MENU ENDROW n`.
    MenuEndrow = "MENU ENDROW", Global, Int;
    /// `MENU PASSWORDROW n`.
    MenuPasswordrow = "MENU PASSWORDROW", Global, Int;
    /// `MENU TIMEOUTROW n`.
    MenuTimeoutrow = "MENU TIMEOUTROW", Global, Int;
    /// `MENU HELPMSGROW n`.
    MenuHelpmsgrow = "MENU HELPMSGROW", Global, Int;
    /// `MENU HELPMSGENDROW n`.
    MenuHelpmsgendrow = "MENU HELPMSGENDROW", Global, Int;
    /// `MENU HIDDENROW n`.
    MenuHiddenrow = "MENU HIDDENROW", Global, Int;
    /// `MENU HSHIFT n`.
    MenuHshift = "MENU HSHIFT", Global, Int;
    /// `MENU VSHIFT n`.
    MenuVshift = "MENU VSHIFT", Global, Int;
}

impl Keyword {
    /// Looks up a keyword by its words (already split on whitespace), ASCII case-insensitively.
    ///
    /// Returns the keyword and how many words it used (1 for `KERNEL`, 2 for `MENU TITLE`,
    /// 3 for `MENU MASTER PASSWD`).
    pub fn lookup<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<(Keyword, usize)> {
        let mut it = words.into_iter();
        let first = it.next()?;
        if !first.eq_ignore_ascii_case("MENU") {
            return Keyword::ALL
                .iter()
                .find(|k| !k.is_menu() && k.name().eq_ignore_ascii_case(first))
                .map(|k| (*k, 1));
        }
        let second = it.next()?;
        if second.eq_ignore_ascii_case("MASTER") {
            let third = it.next()?;
            return third
                .eq_ignore_ascii_case("PASSWD")
                .then_some((Keyword::MenuMasterPasswd, 3));
        }
        Keyword::ALL
            .iter()
            .filter(|k| k.is_menu() && **k != Keyword::MenuMasterPasswd)
            .find(|k| {
                k.name()
                    .get(5..)
                    .is_some_and(|n| n.eq_ignore_ascii_case(second))
            })
            .map(|k| (*k, 2))
    }

    /// Whether this is a `MENU ...` directive (read by menu.c32/vesamenu.c32).
    pub fn is_menu(self) -> bool {
        self.name().starts_with("MENU ")
    }

    /// Whether this directive names what a label boots (`KERNEL`, `LINUX`, `COM32`, ...).
    pub fn is_kernel_like(self) -> bool {
        matches!(
            self,
            Keyword::Kernel
                | Keyword::Linux
                | Keyword::Boot
                | Keyword::Bss
                | Keyword::Pxe
                | Keyword::Fdimage
                | Keyword::Comboot
                | Keyword::Com32
                | Keyword::Config
                | Keyword::Localboot
        )
    }

    /// Whether this directive gives a label something to do instead of booting a file
    /// (`MENU GOTO/EXIT/QUIT/HELP`, or a `MENU DISABLE` heading).
    pub fn is_menu_action(self) -> bool {
        matches!(
            self,
            Keyword::MenuGoto
                | Keyword::MenuExit
                | Keyword::MenuQuit
                | Keyword::MenuHelp
                | Keyword::MenuDisable
                | Keyword::MenuDisabled
        )
    }

    /// The command-line type specifier the core puts before the file (menu-syntax.md §4):
    /// `KERNEL` has none, `LINUX` gives `.linux`, `LOCALBOOT` gives `.localboot`, ...
    pub fn type_specifier(self) -> Option<&'static str> {
        match self {
            Keyword::Linux => Some(".linux"),
            Keyword::Boot => Some(".boot"),
            Keyword::Bss => Some(".bss"),
            Keyword::Pxe => Some(".pxe"),
            Keyword::Fdimage => Some(".fdimage"),
            Keyword::Comboot => Some(".comboot"),
            Keyword::Com32 => Some(".com32"),
            Keyword::Config => Some(".config"),
            Keyword::Localboot => Some(".localboot"),
            _ => None,
        }
    }

    /// The function key number of `F0`..`F12`.
    pub fn function_key(self) -> Option<u8> {
        let n = self.name().strip_prefix('F')?;
        n.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_looks_itself_up() {
        for k in Keyword::ALL {
            let lower = k.name().to_ascii_lowercase();
            assert_eq!(
                Keyword::lookup(lower.split(' ')),
                Some((*k, k.name().split(' ').count()))
            );
        }
    }

    #[test]
    fn unknown_words_are_not_keywords() {
        for w in [
            ["TIMEOUTS", "x"],
            ["APPPEND", "x"],
            ["MENU", "FOO"],
            ["MENU", "MASTER"],
        ] {
            assert_eq!(Keyword::lookup(w), None, "{w:?}");
        }
        assert_eq!(Keyword::lookup(["MENU"]), None);
        assert_eq!(Keyword::lookup([]), None);
    }

    #[test]
    fn function_keys() {
        assert_eq!(Keyword::F0.function_key(), Some(0));
        assert_eq!(Keyword::F12.function_key(), Some(12));
        assert_eq!(Keyword::Font.function_key(), None);
    }
}
