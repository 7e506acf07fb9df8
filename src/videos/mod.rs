//! The video website's moving parts: receiving uploads (plain and resumable), accepting
//! them after probing, quotas and serving. Processing and the storage jobs are job kinds in
//! `crate::jobs`. Their errors are [`error::VideoError`]; the HTTP edge maps them.

pub mod density;
pub mod error;
pub mod flood;
pub mod incoming;
pub mod intake;
pub mod json;
pub mod quota;
pub mod resumable;
pub mod served;
pub mod upload;
