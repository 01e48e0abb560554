//! File access for the TFTP server: request names mapped into the root, and confinement.
//!
//! Every open goes through `openat2(root_fd, name, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`:
//! the kernel refuses any resolution (`..`, absolute symlinks, symlinks pointing out, `/proc`
//! magic links) that would leave the root, atomically, with no check-then-open race.
//! Kernels without `openat2` (before 5.6, or a seccomp filter returning `ENOSYS`) get the
//! fallback: the name is walked one component at a time with `O_NOFOLLOW`, so *every* symlink
//! inside the root is refused there (safe, stricter than needed).
//!
//! Name mapping (like tftpd-hpa): `\` becomes `/`; control characters and `..` components are
//! refused; a leading `/` means the root. Without `--secure`, a name that starts with the root's
//! own absolute path (e.g. `/srv/tftp/pxelinux.0`, as ISC dhcpd `filename` lines often say) has
//! that prefix removed first; with `--secure` names are only ever relative to the root, as after
//! hpa's chroot. Either way nothing outside the root is ever served.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Why a request for a file was refused; maps to a TFTP error code and a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such file (TFTP error 1).
    NotFound,
    /// The name is not acceptable or would leave the root (TFTP error 2).
    Escape(String),
    /// The file exists but the server may not read or write it (TFTP error 2).
    Denied {
        /// Why, and how to fix it, for the log.
        why: String,
    },
    /// The name is a directory, device or FIFO (TFTP error 1).
    NotRegular,
    /// Write requests are off (TFTP error 2).
    ReadOnly,
    /// Any other OS error (TFTP error 0).
    Os(String),
}

impl Refusal {
    /// The RFC 1350 error code for this refusal.
    #[must_use]
    pub fn code(&self) -> u16 {
        match self {
            Self::NotFound | Self::NotRegular => 1,
            Self::Escape(_) | Self::Denied { .. } | Self::ReadOnly => 2,
            Self::Os(_) => 0,
        }
    }

    /// The short message sent to the client.
    #[must_use]
    pub fn client_message(&self) -> &'static str {
        match self {
            Self::NotFound => "File not found",
            Self::NotRegular => "Not a regular file",
            Self::Escape(_) => "Access violation",
            Self::Denied { .. } => "Permission denied",
            Self::ReadOnly => "Server is read-only",
            Self::Os(_) => "Server error",
        }
    }

    /// The log line: why, and what to do about it.
    #[must_use]
    pub fn explain(&self) -> String {
        match self {
            Self::NotFound => "no such file under the root".to_owned(),
            Self::NotRegular => "not a regular file (directory, device or FIFO)".to_owned(),
            Self::Escape(why) => format!("refused: {why}"),
            Self::Denied { why } => why.clone(),
            Self::ReadOnly => {
                "write request refused: the server is read-only (start it with --create to accept uploads)"
                    .to_owned()
            }
            Self::Os(e) => e.clone(),
        }
    }
}

/// File bytes for one transfer, read by position so many transfers share the page cache.
#[derive(Debug)]
pub enum Data {
    /// An open file under the root.
    File(File),
    /// Bytes held in memory (the demo root), shared by every transfer of the file.
    Static(std::sync::Arc<[u8]>),
}

impl Data {
    /// Reads at `offset` until `buf` is full or the end of the data; returns the bytes read.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            Self::File(f) => {
                let mut done = 0;
                while done < buf.len() {
                    let at = offset + done as u64;
                    match f.read_at(&mut buf[done..], at) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(done)
            }
            Self::Static(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                Ok(n)
            }
        }
    }
}

/// What the server serves: a directory, or the demo built into the binary.
#[derive(Debug)]
pub enum Root {
    /// A directory on disk.
    Dir(DirRoot),
    /// Files held in memory (the demo built into the binary): (name, bytes).
    Embedded(Vec<(String, std::sync::Arc<[u8]>)>),
}

impl Root {
    /// Opens `name` for reading; returns the data and its size.
    pub fn open_read(&self, name: &[u8]) -> Result<(Data, u64), Refusal> {
        match self {
            Self::Dir(d) => d.open_read(name),
            Self::Embedded(files) => {
                let rel = map_name(name, None)?;
                files
                    .iter()
                    .find(|(n, _)| *n == rel)
                    .map(|(_, b)| (Data::Static(std::sync::Arc::clone(b)), b.len() as u64))
                    .ok_or(Refusal::NotFound)
            }
        }
    }

    /// Opens `name` for a write request (creating or truncating it).
    pub fn open_write(&self, name: &[u8]) -> Result<File, Refusal> {
        match self {
            Self::Dir(d) => d.open_write(name),
            Self::Embedded(_) => Err(Refusal::ReadOnly),
        }
    }

    /// The names of in-memory files (empty for a directory).
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Dir(_) => Vec::new(),
            Self::Embedded(files) => files.iter().map(|(n, _)| n.clone()).collect(),
        }
    }

    /// A description for logs.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Dir(d) => d.path.display().to_string(),
            Self::Embedded(_) => "(built-in demo)".to_owned(),
        }
    }
}

/// A directory root, held open so renames of its path do not move what is served.
#[derive(Debug)]
pub struct DirRoot {
    fd: OwnedFd,
    path: PathBuf,
    secure: bool,
    create: bool,
    openat2: AtomicBool,
}

impl DirRoot {
    /// Opens `path` as the root. `secure` and `create` are the `pxe tftp` flags.
    pub fn open(path: &Path, secure: bool, create: bool) -> io::Result<Self> {
        let path = path.canonicalize()?;
        let fd = rustix::fs::open(
            &path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            fd,
            path,
            secure,
            create,
            openat2: AtomicBool::new(true),
        })
    }

    fn relative(&self, name: &[u8]) -> Result<String, Refusal> {
        let prefix = if self.secure {
            None
        } else {
            self.path.to_str()
        };
        map_name(name, prefix)
    }

    fn open_read(&self, name: &[u8]) -> Result<(Data, u64), Refusal> {
        let rel = self.relative(name)?;
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
        let fd = self
            .open_beneath(&rel, flags, Mode::empty())
            .map_err(|e| self.refusal(&rel, e))?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| Refusal::Os(e.to_string()))?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(Refusal::NotRegular);
        }
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        Ok((Data::File(File::from(fd)), size))
    }

    fn open_write(&self, name: &[u8]) -> Result<File, Refusal> {
        if !self.create {
            return Err(Refusal::ReadOnly);
        }
        let rel = self.relative(name)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let mode = Mode::from_raw_mode(0o644);
        let fd = self
            .open_beneath(&rel, flags, mode)
            .map_err(|e| self.refusal(&rel, e))?;
        Ok(File::from(fd))
    }

    /// openat2 beneath the root, or the component walk where openat2 does not exist.
    fn open_beneath(&self, rel: &str, flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
        if self.openat2.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(&self.fd, rel, flags, mode, resolve) {
                Err(rustix::io::Errno::NOSYS) => {
                    tracing::warn!(
                        "openat2 unavailable: falling back to O_NOFOLLOW walks (symlinks refused)"
                    );
                    self.openat2.store(false, Ordering::Relaxed);
                }
                r => return r,
            }
        }
        self.open_walk(rel, flags, mode)
    }

    fn open_walk(&self, rel: &str, flags: OFlags, mode: Mode) -> rustix::io::Result<OwnedFd> {
        let mut parts = rel.split('/').peekable();
        let mut dir: Option<OwnedFd> = None;
        while let Some(part) = parts.next() {
            let base = dir.as_ref().unwrap_or(&self.fd);
            if parts.peek().is_none() {
                return rustix::fs::openat(base, part, flags | OFlags::NOFOLLOW, mode);
            }
            let next = rustix::fs::openat(
                base,
                part,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            dir = Some(next);
        }
        Err(rustix::io::Errno::NOENT)
    }

    fn refusal(&self, rel: &str, e: rustix::io::Errno) -> Refusal {
        use rustix::io::Errno;
        match e {
            Errno::NOENT | Errno::NOTDIR => Refusal::NotFound,
            Errno::XDEV => {
                Refusal::Escape("the name resolves outside the root (symlink or ..)".into())
            }
            Errno::LOOP => Refusal::Escape(
                "a symlink the server does not follow (loop, magic link or O_NOFOLLOW fallback)"
                    .into(),
            ),
            Errno::ACCESS | Errno::PERM => Refusal::Denied {
                why: self.why_denied(rel),
            },
            Errno::ISDIR => Refusal::NotRegular,
            other => Refusal::Os(format!("open {rel}: {other}")),
        }
    }

    /// Explains a permission error with the file's mode and owner and the fix.
    fn why_denied(&self, rel: &str) -> String {
        let full = self.path.join(rel);
        let uid = rustix::process::geteuid().as_raw();
        let stat = rustix::fs::openat2(
            &self.fd,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .and_then(|fd| rustix::fs::fstat(&fd));
        match stat {
            Ok(st) => denied_message(&full, uid, st.st_mode, st.st_uid),
            Err(_) => format!(
                "{} or one of its directories is not accessible to uid {uid}; fix: chmod o+x on each directory and o+r on the file",
                full.display()
            ),
        }
    }
}

fn denied_message(full: &Path, uid: u32, mode: u32, owner: u32) -> String {
    format!(
        "{} is not readable by the server (running as uid {uid}; file mode {:04o}, owner uid {owner}); fix: chmod o+r {} (and o+x on its directories), or run with --user set to a user that can read it",
        full.display(),
        mode & 0o7777,
        full.display()
    )
}

/// Maps a request name to a path relative to the root, or refuses it. The lexical rules are
/// the core's ([`pxe_tftp::sanitize`]); `strip_prefix` is the root's own absolute path, removed
/// when the name starts with it (non-`--secure` mode).
fn map_name(raw: &[u8], strip_prefix: Option<&str>) -> Result<String, Refusal> {
    let root_prefix = strip_prefix.filter(|p| {
        raw.strip_prefix(p.as_bytes())
            .is_some_and(|t| t.first() == Some(&b'/'))
    });
    let opts = pxe_tftp::SanitizeOptions {
        root_prefix,
        ..pxe_tftp::SanitizeOptions::default()
    };
    pxe_tftp::sanitize(raw, &opts).map_err(|e| Refusal::Escape(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root(secure: bool) -> (tempfile::TempDir, DirRoot) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
        std::fs::write(dir.path().join("sub/b.txt"), b"bee").unwrap();
        symlink("/etc/passwd", dir.path().join("abs-link")).unwrap();
        symlink("../../../../../../etc/passwd", dir.path().join("rel-link")).unwrap();
        symlink("sub/b.txt", dir.path().join("inside-link")).unwrap();
        symlink("/proc/self/root/etc/passwd", dir.path().join("magic-link")).unwrap();
        let r = DirRoot::open(dir.path(), secure, false).unwrap();
        (dir, r)
    }

    fn read(r: &DirRoot, name: &str) -> Result<Vec<u8>, Refusal> {
        let (data, size) = r.open_read(name.as_bytes())?;
        let mut buf = vec![0; usize::try_from(size).unwrap()];
        let n = data.read_at(&mut buf, 0).unwrap();
        buf.truncate(n);
        Ok(buf)
    }

    #[test]
    fn plain_names_and_leading_slash() {
        let (_d, r) = root(true);
        assert_eq!(read(&r, "a.txt").unwrap(), b"hello");
        assert_eq!(read(&r, "/a.txt").unwrap(), b"hello");
        assert_eq!(read(&r, "sub\\b.txt").unwrap(), b"bee");
        assert_eq!(read(&r, "./sub//b.txt").unwrap(), b"bee");
        assert_eq!(read(&r, "inside-link").unwrap(), b"bee");
        assert_eq!(read(&r, "nope"), Err(Refusal::NotFound));
        assert_eq!(read(&r, "sub"), Err(Refusal::NotRegular));
    }

    #[test]
    fn escapes_are_refused() {
        let (_d, r) = root(true);
        for name in [
            "../etc/passwd",
            "sub/../../etc/passwd",
            "/../etc/passwd",
            "a.txt\n",
        ] {
            assert!(matches!(read(&r, name), Err(Refusal::Escape(_))), "{name}");
        }
        for name in ["abs-link", "rel-link", "magic-link"] {
            assert!(
                matches!(read(&r, name), Err(Refusal::Escape(_))),
                "{name}: {:?}",
                read(&r, name)
            );
        }
        // Absolute names are relative to the root: /etc/passwd is ROOT/etc/passwd.
        assert_eq!(read(&r, "/etc/passwd"), Err(Refusal::NotFound));
    }

    #[test]
    fn fallback_walk_refuses_every_symlink() {
        let (_d, r) = root(true);
        r.openat2.store(false, Ordering::Relaxed);
        assert_eq!(read(&r, "sub/b.txt").unwrap(), b"bee");
        for name in ["abs-link", "rel-link", "inside-link", "magic-link"] {
            assert!(matches!(read(&r, name), Err(Refusal::Escape(_))), "{name}");
        }
    }

    #[test]
    fn root_prefix_is_stripped_only_without_secure() {
        let (d, r) = root(false);
        let full = format!("{}/sub/b.txt", d.path().canonicalize().unwrap().display());
        assert_eq!(read(&r, &full).unwrap(), b"bee");
        let (d2, r2) = root(true);
        let full2 = format!("{}/sub/b.txt", d2.path().canonicalize().unwrap().display());
        assert_eq!(read(&r2, &full2), Err(Refusal::NotFound));
    }

    #[test]
    fn writes_need_create_and_stay_inside() {
        let (d, r) = root(true);
        assert_eq!(r.open_write(b"new.bin").unwrap_err(), Refusal::ReadOnly);
        let w = DirRoot::open(d.path(), true, true).unwrap();
        w.open_write(b"new.bin").unwrap();
        assert!(d.path().join("new.bin").exists());
        assert!(matches!(w.open_write(b"../x"), Err(Refusal::Escape(_))));
        assert!(matches!(w.open_write(b"abs-link"), Err(Refusal::Escape(_))));
    }

    #[test]
    fn denied_message_says_how_to_fix() {
        let m = denied_message(Path::new("/srv/tftp/iso/debian.iso"), 65534, 0o100600, 0);
        assert!(m.contains("chmod o+r /srv/tftp/iso/debian.iso"), "{m}");
        assert!(m.contains("0600"), "{m}");
    }

    #[test]
    fn static_data_reads_by_offset() {
        let d = Data::Static(std::sync::Arc::from(&b"0123456789"[..]));
        let mut buf = [0; 4];
        assert_eq!(d.read_at(&mut buf, 8).unwrap(), 2);
        assert_eq!(&buf[..2], b"89");
        assert_eq!(d.read_at(&mut buf, 20).unwrap(), 0);
    }
}
