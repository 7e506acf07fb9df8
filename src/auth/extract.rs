//! Extractors that say who is calling. The session token is taken from the
//! `roomcast_session` cookie, `Authorization: Bearer`, or the seed's `X-Session-Id`.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use futures_util::future::{Either, LocalBoxFuture};

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::token::constant_time_eq;
use super::{AuthUser, SessionService, SESSION_COOKIE};

/// The header that carries the CSRF token on cookie-authenticated API calls.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
use crate::error::{ApiError, PageError};

/// The raw session token of a request, if it carries one.
pub struct SessionToken(pub Option<String>);

impl SessionToken {
    pub fn from_request(req: &HttpRequest) -> Self {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let seed_header = req
            .headers()
            .get("X-Session-Id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let token = bearer
            .or(seed_header)
            .map(str::to_string)
            .or_else(|| req.cookie(SESSION_COOKIE).map(|c| c.value().to_string()))
            .filter(|t| !t.is_empty() && t.len() <= 128);
        SessionToken(token)
    }
}

/// True when the request's credentials are the browser's cookie (not a header a script
/// had to set on purpose): what a cross-site page can make a browser send.
fn by_cookie(req: &HttpRequest) -> bool {
    let headers = req.headers();
    !headers.contains_key(header::AUTHORIZATION)
        && !headers.contains_key("X-Session-Id")
        && req.cookie(SESSION_COOKIE).is_some()
}

/// A state-changing `/api` call authenticated by the cookie must carry the session's CSRF
/// token in `X-CSRF-Token`, exactly as a form carries it in a field. Pages check their
/// forms' field themselves.
fn check_api_csrf(req: &HttpRequest, user: &AuthUser) -> Result<(), ApiError> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || !req.path().starts_with("/api/") || !by_cookie(req) {
        return Ok(());
    }
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !sent.is_empty() && constant_time_eq(sent, &user.csrf_token) {
        Ok(())
    } else {
        Err(ApiError::CsrfRejected)
    }
}

/// Resolves the request's user once and remembers it in the request's extensions.
async fn resolve(req: HttpRequest) -> Result<Option<AuthUser>, ApiError> {
    if let Some(found) = req.extensions().get::<Option<AuthUser>>() {
        return Ok(found.clone());
    }
    let SessionToken(token) = SessionToken::from_request(&req);
    let Some(token) = token else {
        // A visitor: nothing to look up, nothing worth remembering.
        return Ok(None);
    };
    let sessions = req
        .app_data::<web::Data<SessionService>>()
        .expect("SessionService is registered as app data");
    let user = sessions.authenticate(&token).await?;
    if let Some(user) = &user {
        check_api_csrf(&req, user)?;
    }
    req.extensions_mut().insert(user.clone());
    Ok(user)
}

/// The signed-in user, or a 401 `002`.
pub struct CurrentUser(pub AuthUser);

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve(req)
                .await?
                .map(CurrentUser)
                .ok_or(ApiError::Unauthenticated)
        })
    }
}

/// The signed-in user if there is one; pages render for visitors too.
pub struct MaybeUser(pub Option<AuthUser>);

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve(req).await.map(MaybeUser) })
    }
}

/// The signed-in user if there is one, for page handlers: a failure renders an error page.
pub struct PageUser(pub Option<AuthUser>);

impl FromRequest for PageUser {
    type Error = PageError;
    type Future =
        Either<Ready<Result<Self, PageError>>, LocalBoxFuture<'static, Result<Self, PageError>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // A visitor without a token is the common case on public pages: answer at once.
        if SessionToken::from_request(req).0.is_none() {
            return Either::Left(ready(Ok(PageUser(None))));
        }
        let req = req.clone();
        Either::Right(Box::pin(async move {
            resolve(req)
                .await
                .map(PageUser)
                .map_err(|e| PageError::internal("resolving the session", &e))
        }))
    }
}
