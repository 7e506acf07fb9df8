//! `ServedVideos`: which ready video is stored in which file, remembered for a moment so
//! that a player's stream of Range requests does not ask the database every time.
//!
//! A deletion on this node forgets the entry at once; on other nodes an entry lives at most
//! `TTL`, and once the cleanup job has removed the file nothing can be served anyway.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::db::{self, videos::ServedFile, DbError, DbPool};

const TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; past this the stale ones are dropped.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct ServedVideos {
    entries: RwLock<HashMap<String, (ServedFile, Instant)>>,
}

impl ServedVideos {
    /// The file of a ready video, or `None`.
    pub async fn find(&self, pool: &DbPool, id: &str) -> Result<Option<ServedFile>, DbError> {
        if let Some((file, at)) = self.entries.read().expect("cache poisoned").get(id) {
            if at.elapsed() < TTL {
                return Ok(Some(file.clone()));
            }
        }
        let key = id.to_string();
        let found = db::blocking(pool, move |c| db::videos::find_served(c, &key)).await?;
        let mut entries = self.entries.write().expect("cache poisoned");
        match &found {
            Some(file) => {
                if entries.len() >= MAX_ENTRIES {
                    entries.retain(|_, (_, at)| at.elapsed() < TTL);
                }
                entries.insert(id.to_string(), (file.clone(), Instant::now()));
            }
            None => {
                entries.remove(id);
            }
        }
        Ok(found)
    }

    /// Forgets a video (it was deleted).
    pub fn forget(&self, id: &str) {
        self.entries.write().expect("cache poisoned").remove(id);
    }
}
