//! Accounts and sessions: password hashing, session tokens with a sliding lifetime, the
//! request extractors that say who is calling, CSRF tokens for forms, and login throttling.

pub mod csrf;
mod extract;
pub mod password;
mod sessions;
mod throttle;
pub mod token;

pub use extract::{CurrentUser, MaybeUser, PageUser, SessionToken, CSRF_HEADER};
pub use sessions::{AuthUser, SessionService};
pub use throttle::LoginThrottle;

/// The cookie that carries a browser's session token.
pub const SESSION_COOKIE: &str = "roomcast_session";

use actix_web::cookie::{Cookie, SameSite};

/// The session cookie: HttpOnly, SameSite=Lax, Secure when the site is served over TLS.
/// It lives as long as the browser session; the server enforces the sliding lifetime.
pub fn session_cookie(public_url: &str, token: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(public_url.starts_with("https://"))
        .finish()
}

/// A cookie that makes the browser forget its session.
pub fn removal_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .finish();
    cookie.make_removal();
    cookie
}
