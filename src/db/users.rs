//! Queries on `users`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::users;
use super::DbConnection;

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
}

/// Values for a new user.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, user: &NewUser<'_>) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(drop)
}

/// Inserts a user with a fresh id and returns the id.
pub fn create(
    conn: &mut DbConnection,
    username: &str,
    password_hash: &str,
    role: &str,
) -> QueryResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    insert(
        conn,
        &NewUser {
            id: &id,
            username,
            password_hash,
            role,
            created_at: chrono::Utc::now().naive_utc(),
        },
    )?;
    Ok(id)
}

pub fn find_by_username(conn: &mut DbConnection, name: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(name))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Sets the role of an existing user; returns false when there is no such user.
pub fn set_role(conn: &mut DbConnection, name: &str, role: &str) -> QueryResult<bool> {
    diesel::update(users::table.filter(users::username.eq(name)))
        .set(users::role.eq(role))
        .execute(conn)
        .map(|n| n > 0)
}

/// Sets a user's role by id; false when there is no such user.
pub fn set_role_by_id(conn: &mut DbConnection, id: &str, role: &str) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set(users::role.eq(role))
        .execute(conn)
        .map(|n| n > 0)
}

/// Disables a user (from `at`) or enables them again (`None`); false when there is none.
pub fn set_disabled(
    conn: &mut DbConnection,
    id: &str,
    at: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set(users::disabled_at.eq(at))
        .execute(conn)
        .map(|n| n > 0)
}

/// Users whose name contains `query` (all when empty), by name.
pub fn search(conn: &mut DbConnection, query: &str, limit: i64) -> QueryResult<Vec<User>> {
    let pattern = format!(
        "%{}%",
        query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    users::table
        .filter(users::username.like(pattern).escape('\\'))
        .order(users::username.asc())
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}
