//! Live ingest: turning a camera's or encoder's stream into what browsers play.

pub mod fmp4;
