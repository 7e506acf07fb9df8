//! CSRF tokens for form posts. A signed-in user's forms carry their session's token; a
//! visitor's forms (login, register) carry a random token that is also set as the
//! `roomcast_csrf` cookie (double submit). A post whose token does not match is refused.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

use super::token::{constant_time_eq, random_token};
use super::AuthUser;

pub const CSRF_COOKIE: &str = "roomcast_csrf";

/// The token to put in a form, and the cookie to set when a visitor has none yet.
pub fn form_token(req: &HttpRequest, user: Option<&AuthUser>) -> (String, Option<Cookie<'static>>) {
    if let Some(user) = user {
        return (user.csrf_token.clone(), None);
    }
    if let Some(existing) = req.cookie(CSRF_COOKIE).filter(|c| c.value().len() == 64) {
        return (existing.value().to_string(), None);
    }
    let token = random_token();
    // Secure behind HTTPS, like the session cookie (the public URL says which it is).
    let https = req
        .app_data::<actix_web::web::Data<crate::context::AppState>>()
        .is_some_and(|s| s.public_url.starts_with("https://"));
    let cookie = Cookie::build(CSRF_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .finish();
    (token, Some(cookie))
}

/// True when `submitted` is the token this request's forms were rendered with.
pub fn verify(req: &HttpRequest, user: Option<&AuthUser>, submitted: &str) -> bool {
    let expected = match user {
        Some(user) => user.csrf_token.clone(),
        None => match req.cookie(CSRF_COOKIE) {
            Some(c) => c.value().to_string(),
            None => return false,
        },
    };
    !submitted.is_empty() && constant_time_eq(&expected, submitted)
}
