//! Stream keys: what a publisher puts after `rtmp://HOST:PORT/live/`. A key is the room's
//! id, `_`, and a secret of 192 random bits (base64url) that the server makes the first
//! time the owner asks and replaces on demand. The id finds the room; the secret is
//! compared in constant time, so a key cannot be found by timing the answers, and nothing
//! else about a room (its id, title or owner) helps guess it.

use base64::Engine;
use subtle::ConstantTimeEq;

use crate::db::{self, DbConnection};

/// A new secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The key a publisher sends.
pub fn compose(room_id: &str, secret: &str) -> String {
    format!("{room_id}_{secret}")
}

/// A key's room id and secret (`None` for anything not shaped like a key).
pub fn split(key: &str) -> Option<(&str, &str)> {
    let (room, secret) = key.split_once('_')?;
    (uuid::Uuid::parse_str(room).is_ok() && !secret.is_empty()).then_some((room, secret))
}

/// Whether `given` is the stored secret, in time that does not depend on where they differ.
pub fn secret_matches(stored: &str, given: &str) -> bool {
    stored.len() == given.len() && bool::from(stored.as_bytes().ct_eq(given.as_bytes()))
}

/// The room's secret, made now if it has none; `None` when there is no such room.
pub fn secret_of(conn: &mut DbConnection, room_id: &str) -> diesel::QueryResult<Option<String>> {
    if let Some(secret) = db::rooms::stream_key(conn, room_id)? {
        return Ok(Some(secret));
    }
    if db::rooms::find(conn, room_id)?.is_none() {
        return Ok(None);
    }
    // Two first requests at once: one secret wins, both read it back.
    db::rooms::set_stream_key_once(conn, room_id, &new_secret())?;
    db::rooms::stream_key(conn, room_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_has_192_random_bits() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn a_key_splits_into_its_room_and_secret() {
        let room = uuid::Uuid::new_v4().to_string();
        let secret = new_secret();
        let key = compose(&room, &secret);
        assert_eq!(split(&key), Some((room.as_str(), secret.as_str())));
        assert_eq!(split("not-a-key"), None);
        assert_eq!(split(&format!("{room}_")), None);
        assert_eq!(split("room_secret"), None, "the room part must be an id");
    }

    #[test]
    fn only_the_same_secret_matches() {
        let secret = new_secret();
        assert!(secret_matches(&secret, &secret.clone()));
        assert!(!secret_matches(&secret, &new_secret()));
        assert!(!secret_matches(&secret, &secret[..31]));
        assert!(!secret_matches(&secret, ""));
    }
}
