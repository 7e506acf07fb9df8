//! The layout of `storage.dir`: `videos/` (served files), `thumbs/` (poster frames),
//! `live/` (HLS of live rooms), `tmp/` (uploads in flight) and `tmp/resumable/` (tus uploads).
//!
//! Every file a video owns is named after its id, so cleanup and the orphan sweep can find
//! them from the database alone.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

/// Suffix of a video's upload while it waits to be processed.
const UPLOAD_SUFFIX: &str = "upload";

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates every directory the layout needs.
    pub fn prepare(&self) -> io::Result<()> {
        for dir in [
            self.videos_dir(),
            self.thumbs_dir(),
            self.root.join("live"),
            self.resumable_dir(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| {
                io::Error::new(e.kind(), format!("creating {}: {e}", dir.display()))
            })?;
        }
        Ok(())
    }

    /// Live HLS, one folder per room.
    pub fn live_dir(&self) -> PathBuf {
        self.root.join("live")
    }

    pub fn videos_dir(&self) -> PathBuf {
        self.root.join("videos")
    }

    pub fn thumbs_dir(&self) -> PathBuf {
        self.root.join("thumbs")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn resumable_dir(&self) -> PathBuf {
        self.root.join("tmp").join("resumable")
    }

    /// A fresh name for bytes arriving from a client.
    pub fn new_incoming(&self) -> PathBuf {
        self.tmp_dir()
            .join(format!("{}.part", uuid::Uuid::new_v4()))
    }

    /// A video's upload, kept until processing has put the file in place.
    pub fn upload_input(&self, id: &str) -> PathBuf {
        self.tmp_dir().join(format!("{id}.{UPLOAD_SUFFIX}"))
    }

    /// A scratch file of a video's processing (`{id}.{what}` in `tmp/`).
    pub fn scratch(&self, id: &str, what: &str) -> PathBuf {
        self.tmp_dir().join(format!("{id}.{what}"))
    }

    /// Free and total bytes of the file system that holds the storage.
    pub fn disk_space(&self) -> std::io::Result<DiskSpace> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.root.as_os_str().as_bytes())
            .map_err(std::io::Error::other)?;
        // SAFETY: `path` is NUL-terminated and `stat` is a plain struct the call fills in.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let block = stat.f_frsize as u64;
        Ok(DiskSpace {
            free: stat.f_bavail as u64 * block,
            total: stat.f_blocks as u64 * block,
        })
    }

    /// Every file in `tmp/` that belongs to video `id` (its upload and processing scratch).
    pub fn tmp_files_of(&self, id: &str) -> Vec<PathBuf> {
        let prefix = format!("{id}.");
        std::fs::read_dir(self.tmp_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect()
    }

    /// A served video file; `None` if the stored name is not a plain file name.
    pub fn video_file(&self, file_name: &str) -> Option<PathBuf> {
        is_plain_name(file_name).then(|| self.videos_dir().join(file_name))
    }

    pub fn thumbnail(&self, id: &str) -> PathBuf {
        self.thumbs_dir().join(format!("{id}.jpg"))
    }
}

/// A single path component: no separators, no `..`, nothing hidden.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && Path::new(name).components().count() == 1
}

/// Removes a file; one that is already gone counts as removed.
pub fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("removing {}: {e}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_cannot_leave_the_videos_directory() {
        let s = Storage::new("/srv/data");
        assert_eq!(
            s.video_file("abc.mp4").unwrap(),
            PathBuf::from("/srv/data/videos/abc.mp4")
        );
        for bad in [
            "",
            "../x.mp4",
            "a/b.mp4",
            "..",
            ".hidden",
            "/etc/passwd",
            "a\\b",
        ] {
            assert!(s.video_file(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn removing_a_missing_file_is_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone");
        assert!(!remove_if_exists(&path).unwrap());
        std::fs::write(&path, b"x").unwrap();
        assert!(remove_if_exists(&path).unwrap());
    }
}

/// The storage's file system: bytes free (for this process) and in all.
#[derive(Debug, Clone, Copy)]
pub struct DiskSpace {
    pub free: u64,
    pub total: u64,
}

impl DiskSpace {
    /// Under 5 % or 1 GiB free: uploads and processing will soon fail with a full disk.
    pub fn is_low(&self) -> bool {
        self.free < (1 << 30) || self.free.saturating_mul(20) < self.total
    }
}
