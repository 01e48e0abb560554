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
//!
//! Uploads are atomic ([`Upload`]): a write request fills a temporary file beside its target,
//! which replaces the target by `renameat` only when the transfer completed. Until then, and
//! forever if it fails, readers see the old file and nothing is truncated.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};
use nix::unistd::UnlinkatFlags;

/// Start of the names of upload temporary files ([`Upload`]). Requests for names whose last
/// component starts with it are refused, so no client can read or replace another's upload.
pub const UPLOAD_PREFIX: &str = ".pxe-upload.";

/// Bytes of the target's name kept in a temporary file's name (for whoever finds one left by a
/// killed server), so that the whole name stays below `NAME_MAX` (255).
const TEMP_NAME_TARGET_MAX: usize = 200;

/// Mode of uploaded files (before the umask), as tftpd-hpa creates them.
const UPLOAD_MODE: u32 = 0o644;

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
            // The log line and the event say "refused" themselves: no second prefix here.
            Self::Escape(why) => format!("bad name: {why}"),
            Self::Denied { why } => why.clone(),
            Self::ReadOnly => {
                "the server is read-only (start it with --create to accept uploads)".to_owned()
            }
            Self::Os(e) => e.clone(),
        }
    }
}

/// File bytes for one transfer, read by position so many transfers share the page cache.
#[derive(Debug)]
pub enum Data {
    /// An open file under the root, shared by the transfers of one file ([`OpenFiles`]).
    File(std::sync::Arc<File>),
    /// Bytes held in memory (the demo root), shared by every transfer of the file.
    Static(std::sync::Arc<[u8]>),
}

impl Data {
    /// Checks that the file is still the one a transfer of `size` bytes started with: the same
    /// size, and still linked (a file replaced by a rename, or deleted, has no link left; one
    /// rewritten in place by `cp` changes size first). Returns why, when it is not.
    pub fn check_unchanged(&self, size: u64) -> Result<(), String> {
        let Self::File(f) = self else { return Ok(()) };
        let stat = fstat(&**f).map_err(|e| format!("cannot stat the open file: {}", os(e)))?;
        let now = u64::try_from(stat.st_size).unwrap_or(0);
        if stat.st_nlink == 0 {
            return Err("the file was replaced or deleted".to_owned());
        }
        if now != size {
            return Err(format!("its size changed from {size} to {now} bytes"));
        }
        Ok(())
    }

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

/// The files open for reading, by inode: every transfer of one file shares one descriptor, so
/// 10 000 clients of one boot file cost 10 000 sockets but one open file (each request still
/// opens the name, to check it, and closes that descriptor at once when the file is open
/// already). A replaced file is another inode, so it is never confused with the old one.
#[derive(Debug, Default)]
pub struct OpenFiles {
    by_inode: std::sync::Mutex<std::collections::HashMap<(u64, u64), std::sync::Weak<File>>>,
}

impl OpenFiles {
    /// `data`, or the already open descriptor of the same inode.
    pub fn share(&self, data: Data) -> Data {
        let Data::File(file) = data else { return data };
        let Ok(stat) = fstat(&*file) else {
            return Data::File(file);
        };
        let key = (stat.st_dev, stat.st_ino);
        let mut map = self
            .by_inode
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = map.get(&key).and_then(std::sync::Weak::upgrade) {
            return Data::File(open);
        }
        if map.len() >= 256 {
            map.retain(|_, w| w.strong_count() > 0);
        }
        map.insert(key, std::sync::Arc::downgrade(&file));
        Data::File(file)
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

    /// Starts a write request for `name`: a temporary file that replaces `name` on
    /// [`Upload::commit`] (see [`Upload`]).
    pub fn open_write(&self, name: &[u8]) -> Result<Upload, Refusal> {
        match self {
            Self::Dir(d) => d.open_write(name),
            Self::Embedded(_) => Err(Refusal::ReadOnly),
        }
    }

    /// A second handle on the same root (the directory fd duplicated, the demo's bytes shared),
    /// for the HTTP server, which serves what TFTP serves.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::Dir(d) => Self::Dir(DirRoot {
                fd: d.fd.try_clone()?,
                path: d.path.clone(),
                secure: d.secure,
                create: d.create,
                permissive: d.permissive,
                openat2: AtomicBool::new(d.openat2.load(Ordering::Relaxed)),
            }),
            Self::Embedded(files) => Self::Embedded(files.clone()),
        })
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
    permissive: bool,
    openat2: AtomicBool,
}

impl DirRoot {
    /// Opens `path` as the root. `secure` and `create` are the `pxe tftp` flags.
    pub fn open(path: &Path, secure: bool, create: bool) -> io::Result<Self> {
        let path = path.canonicalize()?;
        let fd = nix::fcntl::open(
            &path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            fd,
            path,
            secure,
            create,
            permissive: false,
            openat2: AtomicBool::new(true),
        })
    }

    /// With `permissive`, files without the world-read bit are served too (tftpd-hpa
    /// `--permissive`); without it (the default) they are refused, as tftpd-hpa does
    /// (tftpd-hpa `tftpd/tftpd.c` `validate_access`: `S_IROTH` required for reads).
    #[must_use]
    pub fn permissive(mut self, permissive: bool) -> Self {
        self.permissive = permissive;
        self
    }

    fn relative(&self, name: &[u8]) -> Result<String, Refusal> {
        let prefix = if self.secure {
            None
        } else {
            self.path.to_str()
        };
        let rel = map_name(name, prefix)?;
        let last = rel.rsplit('/').next().unwrap_or(&rel);
        if last.starts_with(UPLOAD_PREFIX) {
            return Err(Refusal::Escape(format!(
                "names starting with {UPLOAD_PREFIX} are the server's temporary upload files"
            )));
        }
        Ok(rel)
    }

    fn open_read(&self, name: &[u8]) -> Result<(Data, u64), Refusal> {
        let rel = self.relative(name)?;
        let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK;
        let fd = self
            .open_beneath(&rel, flags, Mode::empty())
            .map_err(|e| self.refusal(&rel, e))?;
        let stat = fstat(&fd).map_err(|e| Refusal::Os(os(e)))?;
        if file_type(&stat) != SFlag::S_IFREG {
            return Err(Refusal::NotRegular);
        }
        if !self.permissive && stat.st_mode & 0o004 == 0 {
            return Err(Refusal::Denied {
                why: private_message(&self.path.join(&rel), stat.st_mode),
            });
        }
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        Ok((Data::File(std::sync::Arc::new(File::from(fd))), size))
    }

    fn open_write(&self, name: &[u8]) -> Result<Upload, Refusal> {
        if !self.create {
            return Err(Refusal::ReadOnly);
        }
        let rel = self.relative(name)?;
        // `rel` is normalised (no empty, `.` or `..` component), so `target` is one plain name:
        // every later call names it or the temp relative to `dir`, with nothing left to resolve.
        let (parent, target) = rel.rsplit_once('/').unwrap_or((".", rel.as_str()));
        // O_PATH: a write-only drop box (mode 0333) must work as it did with O_CREAT.
        let dir = self
            .open_beneath(
                parent,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.refusal(&rel, e))?;
        self.check_replaceable(&dir, target, &rel)?;
        let flags = OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_EXCL
            | OFlag::O_CLOEXEC
            | OFlag::O_NOFOLLOW
            | OFlag::O_NOCTTY;
        let mut last = Errno::EEXIST;
        // O_EXCL never reuses a name; a collision of 64 random bits is only retried.
        for _ in 0..8 {
            let temp = temp_name(target);
            match nix::fcntl::openat(
                &dir,
                temp.as_str(),
                flags,
                Mode::from_bits_truncate(UPLOAD_MODE),
            ) {
                Ok(fd) => {
                    return Ok(Upload {
                        file: File::from(fd),
                        dir,
                        temp,
                        target: target.to_owned(),
                        committed: false,
                    });
                }
                Err(Errno::EEXIST) => {}
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        Err(self.write_refusal(&rel, parent, last))
    }

    /// Keeps the refusals of the former in-place open (`O_TRUNC`): a symlink (neither followed
    /// nor replaced), a directory, device or FIFO, or a file the server may not write (a
    /// `chmod a-w` still protects a file, although a rename only needs the directory).
    fn check_replaceable(&self, dir: &OwnedFd, target: &str, rel: &str) -> Result<(), Refusal> {
        // O_PATH first: a device or FIFO is never opened for real.
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::openat(dir, target, flags, Mode::empty()) {
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(self.refusal(rel, e)),
            Ok(fd) => fd,
        };
        let stat = fstat(&fd).map_err(|e| Refusal::Os(os(e)))?;
        match file_type(&stat) {
            SFlag::S_IFREG => {}
            SFlag::S_IFLNK => return Err(self.refusal(rel, Errno::ELOOP)),
            _ => return Err(Refusal::NotRegular),
        }
        let flags = OFlag::O_WRONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | OFlag::O_NOCTTY
            | OFlag::O_NONBLOCK;
        nix::fcntl::openat(dir, target, flags, Mode::empty())
            .map(drop)
            .map_err(|e| self.write_refusal(rel, rel, e))
    }

    /// A refused upload step on `what` (the target, or the directory its temporary file goes
    /// into): permission errors say that write access is missing, not read access as
    /// [`Self::refusal`] would (the server user may well read both).
    fn write_refusal(&self, rel: &str, what: &str, e: Errno) -> Refusal {
        if !matches!(e, Errno::EACCES | Errno::EPERM) {
            return self.refusal(rel, e);
        }
        let full = self.path.join(what);
        let uid = nix::unistd::geteuid().as_raw();
        Refusal::Denied {
            why: format!(
                "{} is not writable by the server (running as uid {uid}); an upload writes a temporary file in the target's directory and renames it over the target, so both must be writable; fix: chmod/chown them for that user, or run with --user set to one that can write them",
                full.display()
            ),
        }
    }

    /// openat2 beneath the root, or the component walk where openat2 does not exist.
    fn open_beneath(&self, rel: &str, flags: OFlag, mode: Mode) -> nix::Result<OwnedFd> {
        if self.openat2.load(Ordering::Relaxed) {
            let how = OpenHow::new().flags(flags).mode(mode).resolve(BENEATH);
            match nix::fcntl::openat2(&self.fd, rel, how) {
                Err(Errno::ENOSYS) => {
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

    fn open_walk(&self, rel: &str, flags: OFlag, mode: Mode) -> nix::Result<OwnedFd> {
        let mut parts = rel.split('/').peekable();
        let mut dir: Option<OwnedFd> = None;
        while let Some(part) = parts.next() {
            let base = dir.as_ref().unwrap_or(&self.fd);
            if parts.peek().is_none() {
                return nix::fcntl::openat(base, part, flags | OFlag::O_NOFOLLOW, mode);
            }
            let next = nix::fcntl::openat(
                base,
                part,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            dir = Some(next);
        }
        Err(Errno::ENOENT)
    }

    fn refusal(&self, rel: &str, e: Errno) -> Refusal {
        match e {
            // A component longer than NAME_MAX names no file (and is the client's doing).
            Errno::ENOENT | Errno::ENOTDIR | Errno::ENAMETOOLONG => Refusal::NotFound,
            Errno::EXDEV => {
                Refusal::Escape("the name resolves outside the root (symlink or ..)".into())
            }
            Errno::ELOOP => Refusal::Escape(
                "a symlink the server does not follow (loop, magic link or O_NOFOLLOW fallback)"
                    .into(),
            ),
            Errno::EACCES | Errno::EPERM => Refusal::Denied {
                why: self.why_denied(rel),
            },
            Errno::EISDIR => Refusal::NotRegular,
            other => Refusal::Os(format!("open {rel}: {}", os(other))),
        }
    }

    /// Explains a permission error with the file's mode and owner and the fix.
    fn why_denied(&self, rel: &str) -> String {
        let full = self.path.join(rel);
        let uid = nix::unistd::geteuid().as_raw();
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(BENEATH);
        let stat = nix::fcntl::openat2(&self.fd, rel, how).and_then(fstat);
        match stat {
            Ok(st) => denied_message(&full, uid, st.st_mode, st.st_uid),
            Err(_) => format!(
                "{} or one of its directories is not accessible to uid {uid}; fix: chmod o+x on each directory and o+r on the file",
                full.display()
            ),
        }
    }
}

/// An upload in progress: the bytes of a write request go into a temporary file in the target's
/// directory, which [`Upload::commit`] renames over the target; dropped uncommitted (failure,
/// abort, shutdown), the temporary file is removed. The target is never opened for writing, so
/// a failed upload leaves it untouched and readers, during the upload too, get the old bytes;
/// two uploads of one name each have their own file, and the last to complete wins.
///
/// The temporary file is `.pxe-upload.<16 hex digits>.<target name>`, created with `O_EXCL` and
/// `O_NOFOLLOW` through a directory fd opened beneath the root (the same `openat2` or walk as
/// every open), so it cannot land outside the root nor open an existing file. The digits are a
/// per-process secret hash (unguessable from the network) and the prefix is refused in requests
/// ([`UPLOAD_PREFIX`]): no client can read, overwrite or rename over another's upload. A server
/// killed with SIGKILL leaves the file behind; its name says what it was.
///
/// Not `O_TMPFILE` + `linkat`: `linkat` cannot replace an existing name (so a named step is
/// needed anyway), linking an fd with `AT_EMPTY_PATH` needs `CAP_DAC_READ_SEARCH`, which
/// `--user` drops (or a mounted `/proc`), and not every file system supports `O_TMPFILE`.
#[derive(Debug)]
pub struct Upload {
    file: File,
    /// The target's directory (`O_PATH`, beneath the root): temp and target are names in it.
    dir: OwnedFd,
    temp: String,
    target: String,
    committed: bool,
}

impl Upload {
    /// The temporary file, written by position.
    #[must_use]
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Bytes free for an unprivileged writer on the upload's file system (`fstatvfs`), if known.
    #[must_use]
    pub fn free_space(&self) -> Option<u64> {
        let st = nix::sys::statvfs::fstatvfs(&self.file).ok()?;
        Some(st.blocks_available().saturating_mul(st.fragment_size()))
    }

    /// Whether [`Upload::commit`] has replaced the target.
    #[must_use]
    pub fn is_committed(&self) -> bool {
        self.committed
    }

    /// Makes the upload the target: flushes the data to disk, renames the temporary file over
    /// the target within its directory (atomic: a reader opens either the old or the new file)
    /// and syncs the directory so the rename survives a crash. On error the target is as it was
    /// and the temporary file is removed on drop. A failed directory sync after the rename is
    /// only logged: the new file is complete and already in place.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.committed {
            return Ok(());
        }
        // Data before rename: otherwise a crash could leave the new name on an empty inode.
        self.file.sync_all()?;
        nix::fcntl::renameat(
            &self.dir,
            self.temp.as_str(),
            &self.dir,
            self.target.as_str(),
        )?;
        self.committed = true;
        let synced = nix::fcntl::openat(
            &self.dir,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .and_then(nix::unistd::fsync);
        match synced {
            Ok(()) => {}
            // A write-only drop box cannot be opened to sync; the rename stands regardless.
            Err(Errno::EACCES) => {
                tracing::debug!(file = %self.target, "directory not readable: rename not synced");
            }
            Err(e) => {
                tracing::warn!(file = %self.target, error = %e, "directory sync after the rename failed");
            }
        }
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Err(e) =
            nix::unistd::unlinkat(&self.dir, self.temp.as_str(), UnlinkatFlags::NoRemoveDir)
        {
            tracing::warn!(file = %self.temp, error = %e, "cannot remove the temporary file of a failed upload");
        }
    }
}

/// How every open resolves a request's name: beneath the root, no `/proc` magic links.
const BENEATH: ResolveFlag = ResolveFlag::RESOLVE_BENEATH.union(ResolveFlag::RESOLVE_NO_MAGICLINKS);

/// The file type bits of a `stat`.
fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits())
}

/// An OS error as the log says it (`Permission denied (os error 13)`, std's wording).
fn os(e: Errno) -> String {
    io::Error::from(e).to_string()
}

/// A fresh temporary name for an upload of `target` (see [`Upload`]).
fn temp_name(target: &str) -> String {
    let mut end = target.len().min(TEMP_NAME_TARGET_MAX);
    while !target.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{UPLOAD_PREFIX}{:016x}.{}",
        unguessable_u64(),
        &target[..end]
    )
}

/// 64 bits no network client can predict: a counter hashed by std's `RandomState`, whose
/// SipHash keys come from the OS random source (getrandom) once per thread.
fn unguessable_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}

fn private_message(full: &Path, mode: u32) -> String {
    format!(
        "{} is not world-readable (mode {:04o}), so it is not served; fix: chmod o+r {} if it is meant for the network, or set [tftp] permissive = true (pxe tftp --permissive) to serve such files",
        full.display(),
        mode & 0o7777,
        full.display()
    )
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
    use std::os::unix::fs::{PermissionsExt, symlink};

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
        // A component over NAME_MAX cannot exist: not found, not a server error (HTTP 500).
        assert_eq!(read(&r, &"x".repeat(300)), Err(Refusal::NotFound));
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

    fn writable(d: &tempfile::TempDir) -> DirRoot {
        DirRoot::open(d.path(), true, true).unwrap()
    }

    /// Names of upload temporary files left in `dir`.
    fn temps(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(UPLOAD_PREFIX))
            .collect()
    }

    #[test]
    fn writes_need_create_and_stay_inside() {
        let (d, r) = root(true);
        assert_eq!(r.open_write(b"new.bin").unwrap_err(), Refusal::ReadOnly);
        let w = writable(&d);
        let mut up = w.open_write(b"new.bin").unwrap();
        assert!(
            !d.path().join("new.bin").exists(),
            "target created before commit"
        );
        up.commit().unwrap();
        assert_eq!(std::fs::read(d.path().join("new.bin")).unwrap(), b"");
        assert!(matches!(w.open_write(b"../x"), Err(Refusal::Escape(_))));
        for link in ["abs-link", "rel-link", "inside-link", "magic-link"] {
            assert!(
                matches!(w.open_write(link.as_bytes()), Err(Refusal::Escape(_))),
                "{link}"
            );
        }
        assert_eq!(w.open_write(b"sub").unwrap_err(), Refusal::NotRegular);
        assert_eq!(w.open_write(b"nodir/x").unwrap_err(), Refusal::NotFound);
        assert_eq!(w.open_write(b"a.txt/x").unwrap_err(), Refusal::NotFound);
        assert!(temps(d.path()).is_empty());
        assert!(temps(&d.path().join("sub")).is_empty());
    }

    #[test]
    fn upload_goes_to_a_hidden_temp_beside_the_target() {
        let (d, _) = root(true);
        let w = writable(&d);
        let up = w.open_write(b"sub/b.txt").unwrap();
        up.file().write_all_at(b"partial", 0).unwrap();
        let t = temps(&d.path().join("sub"));
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].ends_with(".b.txt"), "{t:?}");
        assert!(temps(d.path()).is_empty());
        // The target still has the old bytes, and no client can name the temp.
        assert_eq!(read(&w, "sub/b.txt").unwrap(), b"bee");
        let temp = format!("sub/{}", t[0]);
        assert!(matches!(read(&w, &temp), Err(Refusal::Escape(_))));
        assert!(matches!(
            w.open_write(temp.as_bytes()),
            Err(Refusal::Escape(_))
        ));
        // Two uploads never share a temporary file.
        let other = w.open_write(b"sub/b.txt").unwrap();
        assert_eq!(temps(&d.path().join("sub")).len(), 2);
        drop((up, other));
    }

    #[test]
    fn commit_renames_over_the_target() {
        let (d, _) = root(true);
        let w = writable(&d);
        let (before, _) = w.open_read(b"a.txt").unwrap();
        let mut up = w.open_write(b"a.txt").unwrap();
        up.file().write_all_at(b"brand new", 0).unwrap();
        up.commit().unwrap();
        assert!(up.is_committed());
        drop(up);
        assert_eq!(read(&w, "a.txt").unwrap(), b"brand new");
        // A transfer that opened the file before the rename keeps reading the old bytes.
        let mut buf = [0u8; 16];
        let n = before.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf[..n], b"hello");
        let mode = std::fs::metadata(d.path().join("a.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7711, 0o600, "mode {mode:o}");
        assert!(temps(d.path()).is_empty());
    }

    #[test]
    fn abandoned_upload_is_removed_and_the_target_kept() {
        let (d, _) = root(true);
        let w = writable(&d);
        let up = w.open_write(b"a.txt").unwrap();
        up.file().write_all_at(&[0u8; 4096], 0).unwrap();
        drop(up);
        assert_eq!(read(&w, "a.txt").unwrap(), b"hello");
        assert!(temps(d.path()).is_empty());
        let up = w.open_write(b"fresh.bin").unwrap();
        drop(up);
        assert!(!d.path().join("fresh.bin").exists());
        assert!(temps(d.path()).is_empty());
    }

    #[test]
    fn failed_commit_keeps_what_is_there_and_cleans_up() {
        let (d, _) = root(true);
        let w = writable(&d);
        let mut up = w.open_write(b"later-a-dir").unwrap();
        up.file().write_all_at(b"data", 0).unwrap();
        // Someone puts a directory there during the upload: the rename must fail, not nest.
        std::fs::create_dir(d.path().join("later-a-dir")).unwrap();
        std::fs::write(d.path().join("later-a-dir/keep"), b"k").unwrap();
        assert!(up.commit().is_err());
        assert!(!up.is_committed());
        drop(up);
        assert_eq!(
            std::fs::read(d.path().join("later-a-dir/keep")).unwrap(),
            b"k"
        );
        assert!(temps(d.path()).is_empty());
    }

    #[test]
    fn last_completed_upload_wins() {
        let (d, _) = root(true);
        let w = writable(&d);
        let mut first = w.open_write(b"a.txt").unwrap();
        let mut second = w.open_write(b"a.txt").unwrap();
        second.file().write_all_at(b"second", 0).unwrap();
        first.file().write_all_at(b"first, longer", 0).unwrap();
        second.commit().unwrap();
        assert_eq!(read(&w, "a.txt").unwrap(), b"second");
        first.commit().unwrap();
        assert_eq!(read(&w, "a.txt").unwrap(), b"first, longer");
        drop((first, second));
        assert!(temps(d.path()).is_empty());
    }

    #[test]
    fn no_upload_escapes_through_a_parent_symlink() {
        let outside = tempfile::tempdir().unwrap();
        let (d, _) = root(true);
        symlink(outside.path(), d.path().join("out")).unwrap();
        symlink("../../../../../../../..", d.path().join("up")).unwrap();
        let w = writable(&d);
        for fallback in [false, true] {
            w.openat2.store(!fallback, Ordering::Relaxed);
            // openat2 says EXDEV (Escape); the walk meets the symlink where it wants a
            // directory (ENOTDIR: NotFound), as it does for reads.
            for name in ["out/x", "up/tmp/x", "out/../x"] {
                let r = w.open_write(name.as_bytes());
                assert!(
                    matches!(r, Err(Refusal::Escape(_) | Refusal::NotFound)),
                    "{name} (fallback {fallback}): {r:?}"
                );
            }
            assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        }
        // The walk fallback refuses symlinked directories inside the root too; openat2
        // follows them while they stay beneath.
        symlink("sub", d.path().join("sub-link")).unwrap();
        w.openat2.store(true, Ordering::Relaxed);
        let mut up = w.open_write(b"sub-link/c.txt").unwrap();
        up.commit().unwrap();
        assert!(d.path().join("sub/c.txt").exists());
        w.openat2.store(false, Ordering::Relaxed);
        assert!(w.open_write(b"sub-link/c.txt").is_err());
        let mut up = w.open_write(b"sub/d.txt").unwrap();
        up.commit().unwrap();
        assert!(d.path().join("sub/d.txt").exists());
    }

    #[test]
    fn temp_names_are_unique_and_bounded() {
        let long = "x".repeat(255);
        let a = temp_name(&long);
        assert!(a.len() <= 255 && a.starts_with(UPLOAD_PREFIX), "{a}");
        assert_ne!(temp_name("f"), temp_name("f"));
        let multibyte = "é".repeat(120);
        assert!(temp_name(&multibyte).len() <= 255);
    }

    #[test]
    fn private_files_are_refused_unless_permissive() {
        let (d, r) = root(true);
        let secret = d.path().join("secret.key");
        std::fs::write(&secret, b"key").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).unwrap();
        match read(&r, "secret.key") {
            Err(Refusal::Denied { why }) => {
                assert!(why.contains("not world-readable (mode 0640)"), "{why}");
                assert!(why.contains("fix: chmod o+r"), "{why}");
                assert!(why.contains("permissive = true"), "{why}");
            }
            other => panic!("served a private file: {other:?}"),
        }
        let r = r.permissive(true);
        assert_eq!(read(&r, "secret.key").unwrap(), b"key");
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
