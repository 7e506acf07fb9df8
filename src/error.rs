//! Errors at the HTTP edge: `ApiError` for `/api/*` (JSON with a stable `error_code`) and
//! `PageError` for pages (a rendered HTML error page).
//!
//! The codes are listed in `docs/api.md`; `001`-`004` keep the meaning they had in the seed.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 001: the body (or query, or path) could not be parsed.
    #[error("{0}")]
    BadBody(String),
    /// 002: no valid session.
    #[error("not authenticated: sign in first")]
    Unauthenticated,
    /// 002 as well: the credentials given at login are wrong.
    #[error("wrong username or password")]
    WrongCredentials,
    /// 003: the database failed.
    #[error("database failure")]
    Database(#[source] DbError),
    /// 004: anything else unexpected.
    #[error("internal fault")]
    Internal(#[source] anyhow::Error),
    /// 005
    #[error("{0}")]
    InvalidUsername(String),
    /// 006
    #[error("{0}")]
    InvalidPassword(String),
    /// 007
    #[error("that username is taken")]
    UsernameTaken,
    /// 008
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// 009
    #[error("{0}")]
    Forbidden(String),
    /// 010
    #[error("{0}")]
    NotFound(String),
    /// 011
    #[error("the form's CSRF token is missing or wrong; reload the page and try again")]
    CsrfRejected,
    /// 012
    #[error("this account is disabled")]
    AccountDisabled,
    /// 013
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 014
    #[error("{0}")]
    TooLarge(String),
    /// 015
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 016: a field other than a username or password is invalid.
    #[error("{0}")]
    Invalid(String),
    /// 017: the upload is not a video that can be played.
    #[error("not a playable video: {0}")]
    NotPlayable(String),
    /// 018: too many messages; retry after the given time.
    #[error("too many messages; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// 019: muted for flooding.
    #[error("muted for sending too fast; wait before sending again")]
    Muted { retry_after_ms: u64 },
    /// 020: a resumable upload's `Upload-Offset` does not match what the server has.
    #[error("{0}")]
    OffsetMismatch(String),
    /// 021: another request is writing to this resumable upload.
    #[error("another request is writing to this upload; retry shortly")]
    UploadLocked,
    /// 022: the client speaks another tus version.
    #[error("only tus 1.0.0 is supported")]
    TusVersion,
    /// 023: too many media streams at once.
    #[error("too many streams at once; retry shortly")]
    TooManyStreams,
    /// 024: a part the server needs (ffmpeg, ffprobe) is missing; the text says how to fix it.
    #[error("{0}")]
    Unavailable(String),
    /// 025: the request conflicts with the resource's state (e.g. retrying a job that is not dead).
    #[error("{0}")]
    Conflict(String),
    /// 026: the server is at its limit for this kind of work (password hashing); retry soon.
    #[error("the server is busy; retry in a moment")]
    Busy,
    /// 027: the user's storage quota would be exceeded.
    #[error("{0}")]
    QuotaExceeded(String),
    /// 028: too many requests of one kind (sign-ups, comments, rooms, sockets) for now.
    #[error("too many {what}; retry in {retry_after_secs} s")]
    SlowDown {
        what: &'static str,
        retry_after_secs: u64,
    },
    /// 029: the database is out of reach or cannot take writes for now (locked, stopped,
    /// frozen, read-only); nothing was changed, retry soon.
    #[error("the database is unavailable for now; nothing was changed, retry in a moment")]
    DatabaseUnavailable(#[source] DbError),
    /// 030: the server's disk is full; nothing was kept.
    #[error("{0}")]
    InsufficientStorage(String),
    /// 031: a resumable upload's chunk does not match its `Upload-Checksum`.
    #[error("the chunk does not match its Upload-Checksum; nothing of it was kept, send it again")]
    ChecksumMismatch,
    /// 032: the text holds a word of the site's (or a room's) blocked words.
    #[error("your message holds a word this site does not allow")]
    Filtered,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    error_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadBody(_) => "001",
            ApiError::Unauthenticated | ApiError::WrongCredentials => "002",
            ApiError::Database(_) => "003",
            ApiError::Internal(_) => "004",
            ApiError::InvalidUsername(_) => "005",
            ApiError::InvalidPassword(_) => "006",
            ApiError::UsernameTaken => "007",
            ApiError::TooManyAttempts { .. } => "008",
            ApiError::Forbidden(_) => "009",
            ApiError::NotFound(_) => "010",
            ApiError::CsrfRejected => "011",
            ApiError::AccountDisabled => "012",
            ApiError::MethodNotAllowed(_) => "013",
            ApiError::TooLarge(_) => "014",
            ApiError::UnsupportedMediaType(_) => "015",
            ApiError::Invalid(_) => "016",
            ApiError::NotPlayable(_) => "017",
            ApiError::RateLimited { .. } => "018",
            ApiError::Muted { .. } => "019",
            ApiError::OffsetMismatch(_) => "020",
            ApiError::UploadLocked => "021",
            ApiError::TusVersion => "022",
            ApiError::TooManyStreams => "023",
            ApiError::Unavailable(_) => "024",
            ApiError::Conflict(_) => "025",
            ApiError::Busy => "026",
            ApiError::QuotaExceeded(_) => "027",
            ApiError::SlowDown { .. } => "028",
            ApiError::DatabaseUnavailable(_) => "029",
            ApiError::InsufficientStorage(_) => "030",
            ApiError::ChecksumMismatch => "031",
            ApiError::Filtered => "032",
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_outage() {
            ApiError::DatabaseUnavailable(e)
        } else {
            ApiError::Database(e)
        }
    }
}

impl ApiError {
    /// A file operation's failure: a full disk (or quota) is 507 with a message that says
    /// so; anything else is an internal fault with `context` in the log.
    pub fn from_io(context: &'static str) -> impl Fn(std::io::Error) -> ApiError + Copy {
        move |e| {
            if is_disk_full(&e) {
                ApiError::InsufficientStorage(
                    "the server's disk is full, so nothing was kept; try again later".into(),
                )
            } else {
                ApiError::Internal(anyhow::Error::new(e).context(context))
            }
        }
    }
}

/// ENOSPC or EDQUOT, also when wrapped in another I/O error.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    let full = |code: Option<i32>| matches!(code, Some(libc::ENOSPC) | Some(libc::EDQUOT));
    full(e.raw_os_error())
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            .is_some_and(|inner| full(inner.raw_os_error()))
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadBody(_)
            | ApiError::InvalidUsername(_)
            | ApiError::InvalidPassword(_)
            | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated | ApiError::WrongCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Database(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::UsernameTaken => StatusCode::CONFLICT,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden(_) | ApiError::CsrfRejected | ApiError::AccountDisabled => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotPlayable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } | ApiError::TooManyStreams => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Muted { .. } => StatusCode::FORBIDDEN,
            ApiError::OffsetMismatch(_) => StatusCode::CONFLICT,
            ApiError::UploadLocked => StatusCode::LOCKED,
            ApiError::TusVersion => StatusCode::PRECONDITION_FAILED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::SlowDown { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            // tus checksum extension: 460 Checksum Mismatch.
            ApiError::ChecksumMismatch => {
                StatusCode::from_u16(460).expect("460 is a valid status code")
            }
            ApiError::Filtered => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // A busy answer is load shedding, not a fault: logging each would flood the log.
        // An outage is logged once per request as a warning: it is the database's fault
        // and recovers by itself.
        match self {
            ApiError::Busy => {}
            ApiError::DatabaseUnavailable(_) | ApiError::InsufficientStorage(_) => {
                log::warn!("{self}: {:#}", ErrorChain(self))
            }
            _ if self.status_code().is_server_error() => {
                log::error!("{self}: {:#}", ErrorChain(self))
            }
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        let retry_after_ms = match self {
            ApiError::TooManyAttempts { retry_after_secs }
            | ApiError::SlowDown {
                retry_after_secs, ..
            } => Some(retry_after_secs * 1000),
            ApiError::Busy => Some(1000),
            ApiError::DatabaseUnavailable(_) => Some(2000),
            ApiError::RateLimited { retry_after_ms } | ApiError::Muted { retry_after_ms } => {
                Some(*retry_after_ms)
            }
            ApiError::TooManyStreams => Some(1000),
            _ => None,
        };
        if let Some(ms) = retry_after_ms {
            res.insert_header((header::RETRY_AFTER, ms.div_ceil(1000).max(1).to_string()));
        }
        if matches!(self, ApiError::TusVersion) {
            res.insert_header(("Tus-Version", "1.0.0"));
        }
        res.json(ErrorBody {
            error: self.to_string(),
            error_code: self.code(),
            retry_after_ms,
        })
    }
}

/// Formats an error with its sources, for the one log line where it is handled.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut source = self.0.source();
        let mut first = true;
        while let Some(e) = source {
            if !first {
                f.write_str(": ")?;
            }
            write!(f, "{e}")?;
            first = false;
            source = e.source();
        }
        Ok(())
    }
}

/// An error on a page route: rendered as an HTML page with the right status.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    /// Where the visitor is sent instead of an error page (303), e.g. the login page.
    pub location: Option<&'static str>,
}

impl PageError {
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: "There is nothing at this address.".into(),
            location: None,
        }
    }

    pub fn internal(context: &str, e: &dyn std::error::Error) -> Self {
        log::error!("{context}: {e}: {}", ErrorChain(e));
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "Something went wrong on our side. Please try again.".into(),
            location: None,
        }
    }

    pub fn forbidden(message: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
            location: None,
        }
    }

    /// A visitor who must sign in first: sent to the login page.
    pub fn sign_in() -> Self {
        Self {
            status: StatusCode::SEE_OTHER,
            message: "Please sign in.".into(),
            location: Some("/login"),
        }
    }
}

/// An API error from shared logic, shown as an error page (server errors logged, their
/// detail kept from the page).
impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        let status = e.status_code();
        if matches!(e, ApiError::DatabaseUnavailable(_)) {
            log::warn!("a page's action: {e}: {:#}", ErrorChain(&e));
            return Self {
                status,
                message: "The site's database is unavailable for a moment. Please try again."
                    .into(),
                location: None,
            };
        }
        if status.is_server_error() && !matches!(e, ApiError::InsufficientStorage(_)) {
            return PageError::internal("a page's action", &e);
        }
        Self {
            status,
            message: e.to_string(),
            location: None,
        }
    }
}

impl From<DbError> for PageError {
    fn from(e: DbError) -> Self {
        if e.is_outage() {
            return PageError::from(ApiError::from(e));
        }
        PageError::internal("database", &e)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        match self.location {
            Some(to) => crate::pages::see_other(to).finish(),
            None => crate::pages::error_page(self.status, &self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_codes_keep_their_meaning() {
        assert_eq!(ApiError::BadBody("x".into()).code(), "001");
        assert_eq!(ApiError::Unauthenticated.code(), "002");
        assert_eq!(ApiError::Database(DbError::Cancelled).code(), "003");
        assert_eq!(ApiError::Internal(anyhow::anyhow!("x")).code(), "004");
    }

    #[test]
    fn throttling_sets_retry_after() {
        let res = ApiError::TooManyAttempts {
            retry_after_secs: 42,
        }
        .error_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "42");
    }
}
