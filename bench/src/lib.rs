//! Benchmark harness support. The binaries are the pieces `bench/run` starts:
//! - `reference-page`: the B4 reference, a minimal actix-web page rendering 12 in-memory
//!   rows with askama;
//! - `seed-home`: fills a Roomcast database with 6 rooms and 6 ready videos so the home
//!   page renders 12 rows, as many as the reference.
//!
//! [`text`] makes realistic danmaku text (mixed Chinese and English, every message
//! different) for the load tools.

pub mod text;
