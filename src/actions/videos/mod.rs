//! Videos: deleting one, commenting on one (uploading is `crate::videos`'s, for its
//! streaming body).

mod comment;
mod delete;

pub use comment::add_comment;
pub use delete::delete_video;
