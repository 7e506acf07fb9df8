//! Job types, one per file, each named as an imperative.

mod delete_expired_sessions;

pub use delete_expired_sessions::{DeleteExpiredSessions, SessionStore};
