//! Register, log in and log out as pages. Every post carries a CSRF token; a post without a
//! matching one is refused before anything else happens.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{render, see_other, Layout};
use crate::accounts;
use crate::auth::{self, csrf, LoginThrottle, PageUser, SessionService, SessionToken};
use crate::context::AppState;
use crate::error::{ApiError, PageError};

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage {
    pub layout: Layout,
    pub username: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub username: String,
    pub error: String,
}

/// The fields of both forms; missing fields are empty so a post without a token is
/// refused with the CSRF message rather than a parse error.
#[derive(Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf_token: String,
}

pub async fn register_form(req: HttpRequest, PageUser(user): PageUser) -> HttpResponse {
    let page = RegisterPage {
        layout: Layout::with_form(&req, user, "Create an account"),
        username: String::new(),
        error: String::new(),
    };
    render(StatusCode::OK, &page.layout, &page)
}

pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    PageUser(user): PageUser,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    check_csrf(&req, user.as_ref(), &form.csrf_token)?;
    let client = state.limits.clients.of(&req);
    let created = accounts::register(
        &state.pool,
        &state.limits,
        client,
        &form.username,
        form.password,
    )
    .await;
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            let page = RegisterPage {
                layout: Layout::with_form(&req, user, "Create an account"),
                username: form.username,
                error: form_message(&e)?,
            };
            let mut res = render(e.status(), &page.layout, &page);
            if let Some(secs) = retry_after(&e) {
                res.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            return Ok(res);
        }
    };
    let session = sessions.create(created.id).await?;
    Ok(see_other("/")
        .cookie(auth::session_cookie(&state.public_url, session.token))
        .finish())
}

pub async fn login_form(req: HttpRequest, PageUser(user): PageUser) -> HttpResponse {
    let page = LoginPage {
        layout: Layout::with_form(&req, user, "Log in"),
        username: String::new(),
        error: String::new(),
    };
    render(StatusCode::OK, &page.layout, &page)
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    throttle: web::Data<LoginThrottle>,
    PageUser(user): PageUser,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    check_csrf(&req, user.as_ref(), &form.csrf_token)?;
    let client = state.limits.clients.of(&req);
    let result = accounts::login(
        &state.pool,
        &sessions,
        &throttle,
        &state.limits,
        client,
        &form.username,
        form.password,
    )
    .await;
    match result {
        Ok(session) => Ok(see_other("/")
            .cookie(auth::session_cookie(&state.public_url, session.token))
            .finish()),
        Err(e) => {
            let page = LoginPage {
                layout: Layout::with_form(&req, user, "Log in"),
                username: form.username,
                error: form_message(&e)?,
            };
            let mut res = render(e.status(), &page.layout, &page);
            if let Some(secs) = retry_after(&e) {
                res.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            Ok(res)
        }
    }
}

pub async fn logout(
    req: HttpRequest,
    sessions: web::Data<SessionService>,
    PageUser(user): PageUser,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    check_csrf(&req, user.as_ref(), &form.csrf_token)?;
    if let SessionToken(Some(token)) = SessionToken::from_request(&req) {
        sessions.revoke(&token).await?;
    }
    Ok(see_other("/").cookie(auth::removal_cookie()).finish())
}

/// The `Retry-After` seconds of an error that asks the client to come back later.
fn retry_after(e: &ApiError) -> Option<u64> {
    match e {
        ApiError::TooManyAttempts { retry_after_secs }
        | ApiError::SlowDown {
            retry_after_secs, ..
        } => Some(*retry_after_secs),
        ApiError::Busy => Some(1),
        _ => None,
    }
}

fn check_csrf(
    req: &HttpRequest,
    user: Option<&auth::AuthUser>,
    submitted: &str,
) -> Result<(), PageError> {
    if csrf::verify(req, user, submitted) {
        Ok(())
    } else {
        Err(PageError::forbidden(&ApiError::CsrfRejected.to_string()))
    }
}

/// The message shown above a form for a user's mistake; faults become error pages.
fn form_message(e: &ApiError) -> Result<String, PageError> {
    match e {
        ApiError::Database(inner) => Err(PageError::internal("account form", inner)),
        ApiError::Internal(inner) => Err(PageError::internal("account form", inner.as_ref())),
        other => Ok(other.to_string()),
    }
}

trait Status {
    fn status(&self) -> StatusCode;
}

impl Status for ApiError {
    fn status(&self) -> StatusCode {
        actix_web::ResponseError::status_code(self)
    }
}
