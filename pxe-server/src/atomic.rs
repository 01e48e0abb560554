//! Replacing a file so that a reader, or the file after a crash or power cut, sees either the
//! old contents or the new, never a torn mix: the one way every file `pxe` writes whole is
//! written (lease files, `pxe init`, rendered menus). TFTP uploads, which arrive block by block,
//! follow the same steps on the root's directory descriptor (`tftp::fs::Upload`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The temporary file [`write_atomic`] writes beside `dest` before renaming it into place:
/// `DEST.tmp`. A leftover one (the writer crashed before the rename) is not the file's state.
#[must_use]
pub fn temp_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Replaces `dest` with `bytes` (mode `mode`, less the umask, for a new file): writes
/// [`temp_path`], `fsync`s it, renames it over `dest` and `fsync`s the directory, since the
/// rename is only durable once the directory entry is. Creates missing parent directories.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = temp_path(dest);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode)))
        .and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, dest)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/file");
        write_atomic(&dest, b"one", 0o644).unwrap();
        write_atomic(&dest, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert!(!temp_path(&dest).exists());
        // A failed write (the destination is a directory) keeps what is there.
        let e = write_atomic(dir.path().join("sub").as_path(), b"x", 0o644).unwrap_err();
        assert!(e.kind() != io::ErrorKind::NotFound, "{e}");
        assert_eq!(fs::read(&dest).unwrap(), b"two");
    }
}
