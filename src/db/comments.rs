//! Queries on `comments`.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::schema::{comments, users};
use super::DbConnection;

/// A comment with its author's username.
#[derive(Debug, Clone, Queryable)]
pub struct CommentRow {
    pub id: String,
    pub author: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// Saves a comment and returns it.
pub fn create(
    conn: &mut DbConnection,
    video_id: &str,
    author_id: &str,
    author: &str,
    body: &str,
) -> QueryResult<CommentRow> {
    let id = uuid::Uuid::new_v4().to_string();
    let created_at = Utc::now().naive_utc();
    diesel::insert_into(comments::table)
        .values((
            comments::id.eq(&id),
            comments::video_id.eq(video_id),
            comments::author_id.eq(author_id),
            comments::body.eq(body),
            comments::created_at.eq(created_at),
        ))
        .execute(conn)?;
    Ok(CommentRow {
        id,
        author: author.to_string(),
        body: body.to_string(),
        created_at,
    })
}

/// A video's comments, newest first.
pub fn list(
    conn: &mut DbConnection,
    video_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<CommentRow>> {
    comments::table
        .inner_join(users::table.on(users::id.eq(comments::author_id)))
        .filter(comments::video_id.eq(video_id))
        .order((comments::created_at.desc(), comments::id.desc()))
        .limit(limit)
        .offset(offset)
        .select((
            comments::id,
            users::username,
            comments::body,
            comments::created_at,
        ))
        .load(conn)
}
