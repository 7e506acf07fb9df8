//! `/admin/users`: search by name, make admin or user, disable (which deletes every session
//! of theirs and closes their sockets) and enable again. An admin cannot disable or demote
//! themselves, so the panel never locks out the one using it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{gate, gate_post, CsrfOnly};
use crate::auth::{AuthUser, PageUser, SessionService};
use crate::context::AppState;
use crate::db::{self, users::User};
use crate::error::PageError;
use crate::pages::{render, see_other, Layout};

/// Users listed per search.
const LIMIT: i64 = 100;

#[derive(Template)]
#[template(path = "admin_users.html")]
pub struct UsersPage {
    pub layout: Layout,
    pub query: String,
    pub users: Vec<User>,
}

impl UsersPage {
    pub fn when(&self, t: &chrono::NaiveDateTime) -> String {
        super::when(t)
    }

    pub fn is_me(&self, user: &User) -> bool {
        self.layout
            .user
            .as_ref()
            .is_some_and(|me| me.user_id == user.id)
    }
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// `GET /admin/users?q=`
pub async fn page(
    state: web::Data<AppState>,
    PageUser(user): PageUser,
    search: web::Query<Search>,
) -> Result<HttpResponse, PageError> {
    let user = gate(user)?;
    let query = search
        .into_inner()
        .q
        .trim()
        .chars()
        .take(64)
        .collect::<String>();
    let q = query.clone();
    let users = db::blocking(&state.pool, move |c| db::users::search(c, &q, LIMIT)).await?;
    let page = UsersPage {
        layout: Layout::new(Some(user), "Users"),
        query,
        users,
    };
    Ok(render(StatusCode::OK, &page.layout, &page))
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    role: String,
}

/// `POST /admin/users/{id}/role` with `role=admin|user`.
pub async fn set_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    PageUser(user): PageUser,
    id: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, PageError> {
    let admin = gate_post(&req, user, &form.csrf_token)?;
    crate::actions::users::set_role(&state, &sessions, &admin, &id.into_inner(), &form.role)
        .await?;
    Ok(see_other("/admin/users").finish())
}

/// `POST /admin/users/{id}/disable`
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    PageUser(user): PageUser,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_disabled(
        req,
        state,
        sessions,
        user,
        id.into_inner(),
        form.into_inner(),
        true,
    )
    .await
}

/// `POST /admin/users/{id}/enable`
pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    PageUser(user): PageUser,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_disabled(
        req,
        state,
        sessions,
        user,
        id.into_inner(),
        form.into_inner(),
        false,
    )
    .await
}

async fn set_disabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    sessions: web::Data<SessionService>,
    user: Option<AuthUser>,
    id: String,
    form: CsrfOnly,
    disabled: bool,
) -> Result<HttpResponse, PageError> {
    let admin = gate_post(&req, user, &form.csrf_token)?;
    crate::actions::users::set_disabled(&state, &sessions, &admin, &id, disabled).await?;
    Ok(see_other("/admin/users").finish())
}
