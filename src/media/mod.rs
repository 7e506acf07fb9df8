//! Media helpers: the ffmpeg and ffprobe tools, probing, MP4 box layout, the storage
//! directory's layout, and HTTP file serving with ranges and conditional requests.

pub mod conditional;
pub mod files;
pub mod limiter;
pub mod mp4;
pub mod probe;
pub mod storage;
pub mod tools;

pub use limiter::StreamLimiter;
pub use storage::Storage;
pub use tools::{MediaTools, ToolError};
