//! Roomcast: a self-hosted live video platform in one server.
//!
//! It is a video website (accounts, uploads, a library, Range streaming), a live-room
//! platform where viewers exchange danmaku over WebSocket, and a gateway that turns camera
//! and encoder streams into something a browser plays. The actors live in the
//! `roomcast-actors` crate; this crate is the HTTP edge, the database and the CLI.
//!
//! # Layout
//! - [`cli`]: the `roomcast` command line (`serve`, `migrate`, `user add`).
//! - [`config`]: the typed settings tree.
//! - [`startup`]: builds the [`startup::Application`] that `serve` and the tests run;
//!   [`context`]: the [`context::AppState`] it hands to handlers and actions.
//! - [`routes`]: the whole route table, then one module per group of JSON handlers.
//! - [`pages`]: server-rendered pages (askama templates under `templates/`).
//! - [`actions`]: the use-cases both of them call, one per file: who may, the writes, the
//!   audit entry, the actors told. Routes and pages only parse and render.
//! - [`auth`], [`accounts`], [`domain`]: sessions, sign-up and sign-in, validated input.
//! - [`media`]: ffmpeg and ffprobe, storage layout, file serving with ranges.
//! - [`videos`]: uploads (plain and resumable), probing, quotas, serving.
//! - [`jobs`]: every job kind, one per file, their registration list and the queue.
//! - [`db`]: the connection pool, migrations and plain query functions per table.
//! - [`error`], [`metrics`], [`security`]: the HTTP edge's errors, metrics and headers.

pub mod accounts;
pub mod actions;
pub mod allocator;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod conn;
pub mod context;
pub mod db;
pub mod domain;
pub mod egress;
pub mod error;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod live;
pub mod media;
pub mod metrics;
pub mod pages;
pub mod routes;
pub mod rtmp;
pub mod security;
pub mod startup;
pub mod stream_keys;
pub mod videos;
