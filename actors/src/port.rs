//! What can go wrong behind a port: the traits through which actors reach the app's storage
//! ([`DanmakuStore`](crate::store::DanmakuStore), [`JobQueue`](crate::queue::JobQueue),
//! [`SourceStore`](crate::ingest::supervisor::SourceStore)). Callers tell a store that is
//! out of reach for now (try again later, say so quietly) from one that failed the request
//! (trying again will not help; worth an error in the log).

/// A storage failure, as a port reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Out of reach for now: the pool timed out, the database is stopped, locked or
    /// read-only. The same request may succeed later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The request failed for a reason trying again will not change (a constraint, a row
    /// that cannot be read).
    #[error("{0}")]
    Failed(String),
}

impl PortError {
    /// Trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PortError::Unavailable(_))
    }
}

pub type PortResult<T> = Result<T, PortError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unavailable_store_is_worth_retrying() {
        assert!(PortError::Unavailable("locked".into()).is_transient());
        assert!(!PortError::Failed("constraint".into()).is_transient());
    }

    #[test]
    fn the_message_says_which_kind_it_is() {
        assert_eq!(
            PortError::Unavailable("pool timed out".into()).to_string(),
            "storage unavailable: pool timed out"
        );
        assert_eq!(PortError::Failed("bad row".into()).to_string(), "bad row");
    }
}
