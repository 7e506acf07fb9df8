//! `IncomingFile`: bytes from a client written to disk as they arrive, never held in memory,
//! and removed again unless someone keeps them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::web::{self, Bytes};

use crate::media::storage::remove_if_exists;

pub struct IncomingFile {
    path: PathBuf,
    file: Arc<File>,
    len: u64,
    /// Removed on drop unless kept.
    remove_on_drop: bool,
}

impl IncomingFile {
    /// Creates a new file at `path`; it is removed on drop unless `keep` is called.
    pub async fn create(path: PathBuf) -> io::Result<Self> {
        let target = path.clone();
        let file = blocking(move || File::create_new(&target)).await?;
        Ok(Self {
            path,
            file: Arc::new(file),
            len: 0,
            remove_on_drop: true,
        })
    }

    /// Opens an existing file to append to it; it is kept on drop (a resumable upload keeps
    /// what arrived before a dropped connection).
    pub async fn append(path: PathBuf) -> io::Result<Self> {
        let target = path.clone();
        let (file, len) = blocking(move || {
            let file = OpenOptions::new().append(true).open(&target)?;
            let len = file.metadata()?.len();
            Ok((file, len))
        })
        .await?;
        Ok(Self {
            path,
            file: Arc::new(file),
            len,
            remove_on_drop: false,
        })
    }

    /// Appends one chunk (on the blocking pool). A chunk that cannot be written whole (a
    /// full disk) leaves none of its bytes: the file is cut back to what it held before.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        let file = Arc::clone(&self.file);
        let n = chunk.len() as u64;
        let before = self.len;
        blocking(move || {
            (&*file).write_all(&chunk).inspect_err(|_| {
                let _ = file.set_len(before);
            })
        })
        .await?;
        self.len += n;
        Ok(())
    }

    /// Cuts the file back to its first `len` bytes (what arrived after is dropped).
    pub async fn cut_back(&mut self, len: u64) -> io::Result<()> {
        let file = Arc::clone(&self.file);
        blocking(move || file.set_len(len)).await?;
        self.len = self.len.min(len);
        Ok(())
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the file on disk and returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.remove_on_drop = false;
        std::mem::take(&mut self.path)
    }
}

impl Drop for IncomingFile {
    fn drop(&mut self) {
        if !self.remove_on_drop {
            return;
        }
        let path = std::mem::take(&mut self.path);
        let remove = move || {
            if let Err(e) = remove_if_exists(&path) {
                log::warn!("upload: {e}");
            }
        };
        // Dropped on a worker thread when a request fails or the client goes away: the
        // removal goes to the blocking pool.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// Runs file work on the blocking pool.
pub async fn blocking<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    web::block(f).await.map_err(io::Error::other)?
}
