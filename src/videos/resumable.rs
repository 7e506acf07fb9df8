//! Resumable uploads (tus 1.0 core with the creation, expiration and termination
//! extensions) stored under `tmp/resumable/`: `{id}.bin` holds the bytes received so far,
//! `{id}.json` what was declared at creation. The offset is the data file's length, so a
//! dropped connection keeps every byte that reached the disk.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::incoming::blocking;
use crate::media::storage::remove_if_exists;
use crate::media::Storage;

/// What the client declared when it created the upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadInfo {
    pub owner_id: String,
    pub length: u64,
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// A resumable upload as found on disk.
#[derive(Debug, Clone)]
pub struct UploadState {
    pub info: UploadInfo,
    pub offset: u64,
    pub expires: SystemTime,
}

#[derive(Clone)]
pub struct ResumableUploads {
    storage: Storage,
    expiry: Duration,
    writing: Arc<Mutex<HashSet<String>>>,
    /// Held from a quota check until the upload it allowed is declared, so that a burst of
    /// creations cannot all pass the same check.
    pub quota: Arc<tokio::sync::Mutex<()>>,
}

/// Held while one request writes to an upload; released on drop.
pub struct WriteLock {
    id: String,
    writing: Arc<Mutex<HashSet<String>>>,
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        self.writing
            .lock()
            .expect("lock set poisoned")
            .remove(&self.id);
    }
}

impl ResumableUploads {
    pub fn new(storage: Storage, expiry: Duration) -> Self {
        Self {
            storage,
            expiry,
            writing: Arc::default(),
            quota: Arc::default(),
        }
    }

    /// Bytes declared by `owner_id`'s unfinished, unexpired uploads.
    pub async fn declared_by(&self, owner_id: &str) -> std::io::Result<u64> {
        let dir = self.storage.resumable_dir();
        let (owner, expiry) = (owner_id.to_string(), self.expiry);
        blocking(move || {
            let mut total = 0;
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let Ok(json) = std::fs::read(&path) else {
                    continue;
                };
                let Ok(info) = serde_json::from_slice::<UploadInfo>(&json) else {
                    continue;
                };
                let fresh = std::fs::metadata(path.with_extension("bin"))
                    .and_then(|m| m.modified())
                    .is_ok_and(|at| at + expiry >= SystemTime::now());
                if info.owner_id == owner && fresh {
                    total += info.length;
                }
            }
            Ok(total)
        })
        .await
    }

    pub fn data_path(&self, id: &str) -> PathBuf {
        self.storage.resumable_dir().join(format!("{id}.bin"))
    }

    fn info_path(&self, id: &str) -> PathBuf {
        self.storage.resumable_dir().join(format!("{id}.json"))
    }

    /// Creates an empty upload and returns its id.
    pub async fn create(&self, info: UploadInfo) -> std::io::Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (data, meta) = (self.data_path(&id), self.info_path(&id));
        let json = serde_json::to_vec(&info).map_err(std::io::Error::other)?;
        blocking(move || {
            std::fs::write(&meta, json)?;
            std::fs::File::create_new(&data).map(drop)
        })
        .await?;
        Ok(id)
    }

    /// The upload's state, or `None` if it does not exist or has expired.
    pub async fn find(&self, id: &str) -> std::io::Result<Option<UploadState>> {
        if !is_upload_id(id) {
            return Ok(None);
        }
        let (data, meta) = (self.data_path(id), self.info_path(id));
        let expiry = self.expiry;
        blocking(move || {
            let Ok(json) = std::fs::read(&meta) else {
                return Ok(None);
            };
            let info: UploadInfo = serde_json::from_slice(&json).map_err(std::io::Error::other)?;
            let Ok(stat) = std::fs::metadata(&data) else {
                return Ok(None);
            };
            let expires = stat.modified()? + expiry;
            if expires < SystemTime::now() {
                return Ok(None);
            }
            Ok(Some(UploadState {
                info,
                offset: stat.len(),
                expires,
            }))
        })
        .await
    }

    /// Claims the upload for writing; `None` while another request writes to it.
    pub fn lock(&self, id: &str) -> Option<WriteLock> {
        let mut writing = self.writing.lock().expect("lock set poisoned");
        writing.insert(id.to_string()).then(|| WriteLock {
            id: id.to_string(),
            writing: Arc::clone(&self.writing),
        })
    }

    /// Forgets the upload's declaration (its data file has been taken or removed).
    pub async fn remove(&self, id: &str) -> std::io::Result<()> {
        let (data, meta) = (self.data_path(id), self.info_path(id));
        blocking(move || {
            remove_if_exists(&data)?;
            remove_if_exists(&meta).map(drop)
        })
        .await
    }

    /// Moves a finished upload's bytes to `to` and forgets the upload.
    pub async fn take(&self, id: &str, to: PathBuf) -> std::io::Result<()> {
        let (data, meta) = (self.data_path(id), self.info_path(id));
        blocking(move || {
            std::fs::rename(&data, &to)?;
            remove_if_exists(&meta).map(drop)
        })
        .await
    }
}

/// Our ids are 32 lower-case hex digits; anything else never touches the disk.
fn is_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses `Upload-Metadata`: comma-separated `key base64(value)` pairs.
pub fn parse_metadata(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match part.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (part, ""),
        };
        if key.is_empty() || !key.is_ascii() || key.contains(' ') {
            return Err(format!("Upload-Metadata: bad key {key:?}"));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| format!("Upload-Metadata: the value of {key:?} is not base64"))?;
        let value = String::from_utf8(bytes)
            .map_err(|_| format!("Upload-Metadata: the value of {key:?} is not UTF-8"))?;
        pairs.push((key.to_string(), value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_are_base64_decoded() {
        let pairs = parse_metadata("title U3Vuc2V0, empty, filename YS5tcDQ=").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("title".to_string(), "Sunset".to_string()),
                ("empty".to_string(), String::new()),
                ("filename".to_string(), "a.mp4".to_string()),
            ]
        );
    }

    #[test]
    fn bad_metadata_is_refused() {
        assert!(parse_metadata("title not*base64").is_err());
        assert!(parse_metadata("title //8=").is_err(), "not UTF-8");
    }

    #[test]
    fn only_our_ids_reach_the_disk() {
        assert!(is_upload_id("0123456789abcdef0123456789abcdef"));
        for bad in [
            "../../etc/passwd",
            "0123456789ABCDEF0123456789ABCDEF",
            "x",
            "",
        ] {
            assert!(!is_upload_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_write_lock_is_exclusive_until_dropped() {
        let uploads = ResumableUploads::new(Storage::new("/nonexistent"), Duration::from_secs(1));
        let held = uploads.lock("a").unwrap();
        assert!(uploads.lock("a").is_none());
        assert!(uploads.lock("b").is_some());
        drop(held);
        assert!(uploads.lock("a").is_some());
    }
}
