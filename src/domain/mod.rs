//! Validated input: one newtype per kind of value a user sends us.

mod password;
mod room_title;
pub mod source_host;
mod source_url;
mod username;
mod video_text;

pub use password::Password;
pub use room_title::RoomTitle;
pub use source_url::SourceUrl;
pub use username::Username;
pub use video_text::{CommentBody, VideoDescription, VideoTitle};
