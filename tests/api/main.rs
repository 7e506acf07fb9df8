//! The integration suite: every test starts the real server on port 0.

mod helpers;
mod process;

mod accounts;
mod admin;
mod browser;
mod cli;
mod cluster;
mod deploy;
pub(crate) mod faults;
pub(crate) mod hardening;
mod health;
mod ingest;
mod jobs;
pub(crate) mod live_sources;
mod media;
mod moderation;
mod pages;
pub(crate) mod push;
mod push_nodes;
mod rooms;
mod sessions;
mod slow_viewers;
mod uploads;
mod videos;
