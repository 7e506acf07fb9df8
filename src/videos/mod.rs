//! The video website's moving parts: receiving uploads (plain and resumable), accepting
//! them after probing, processing them into served files, and the storage jobs.

pub mod cleanup;
pub mod flood;
pub mod incoming;
pub mod intake;
pub mod json;
pub mod processor;
pub mod quota;
pub mod resumable;
pub mod served;
pub mod upload;
