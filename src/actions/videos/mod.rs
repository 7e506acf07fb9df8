//! Videos: deleting one (uploading is `crate::videos`'s, for its streaming body).

mod delete;

pub use delete::delete_video;
