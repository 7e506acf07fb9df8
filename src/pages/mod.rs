//! Server-rendered pages. Each page is an askama template struct that carries a `Layout`
//! (the signed-in user and the CSRF token for the navigation's logout form).

pub mod account;
pub mod admin;
pub mod home;
pub mod live;
pub mod videos;

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::{csrf, AuthUser};

/// What every page's frame needs.
pub struct Layout {
    pub title: String,
    pub user: Option<AuthUser>,
    pub csrf_token: String,
    /// Set on a visitor's first page so their forms can be checked (double submit).
    csrf_cookie: Option<Cookie<'static>>,
}

impl Layout {
    /// A page whose only form, if any, is the signed-in user's logout button.
    pub fn new(user: Option<AuthUser>, title: impl Into<String>) -> Self {
        let csrf_token = user
            .as_ref()
            .map_or_else(String::new, |u| u.csrf_token.clone());
        Self {
            title: title.into(),
            user,
            csrf_token,
            csrf_cookie: None,
        }
    }

    /// A page with a form that visitors may post (login, register): a visitor without a
    /// CSRF cookie gets one.
    pub fn with_form(req: &HttpRequest, user: Option<AuthUser>, title: impl Into<String>) -> Self {
        let (csrf_token, csrf_cookie) = csrf::form_token(req, user.as_ref());
        Self {
            title: title.into(),
            user,
            csrf_token,
            csrf_cookie,
        }
    }

    /// A frame for pages rendered without a request (error pages).
    fn bare(title: &str) -> Self {
        Self {
            title: title.into(),
            user: None,
            csrf_token: String::new(),
            csrf_cookie: None,
        }
    }

    pub fn username(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.username.as_str())
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(AuthUser::is_admin)
    }
}

const TEXT_HTML: header::HeaderValue = header::HeaderValue::from_static("text/html; charset=utf-8");
/// Pages show who is signed in; no shared cache may keep them.
const NO_STORE: header::HeaderValue = header::HeaderValue::from_static("no-store");

/// Starting capacity of a page's buffer: most pages fit, so rendering does not regrow it.
const PAGE_BUFFER: usize = 8 * 1024;

/// Renders a page with a status; a template failure becomes a plain 500.
pub fn render<T: Template>(status: StatusCode, layout: &Layout, page: &T) -> HttpResponse {
    let mut html = String::with_capacity(PAGE_BUFFER.max(T::SIZE_HINT));
    match page.render_into(&mut html) {
        Ok(()) => {
            let mut res = HttpResponse::build(status);
            res.insert_header((header::CONTENT_TYPE, TEXT_HTML))
                .insert_header((header::CACHE_CONTROL, NO_STORE));
            if let Some(cookie) = &layout.csrf_cookie {
                res.cookie(cookie.clone());
            }
            res.body(html)
        }
        Err(e) => {
            log::error!("rendering {}: {e}", std::any::type_name::<T>());
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error while rendering the page")
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// The HTML error page for a status.
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    let reason = status.canonical_reason().unwrap_or("Error");
    let page = ErrorPage {
        layout: Layout::bare(reason),
        status: status.as_u16(),
        reason,
        message,
    };
    render(status, &page.layout, &page)
}

/// A 303 redirect after a successful form post.
pub fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, location.to_string()));
    res
}
