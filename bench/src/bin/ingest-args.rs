//! Prints, one per line, the ffmpeg arguments a Roomcast pipeline uses for a source, so the
//! live benchmark (B3) can run the very same command by hand as its reference.
//! Usage: ingest-args SOURCE_URL

use roomcast_actors::ingest::command::{arguments, IngestSpec, Transcode};

fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: ingest-args SOURCE_URL");
    let source = roomcast::domain::SourceUrl::parse(&url, true).expect("a valid source URL");
    let spec = IngestSpec {
        room_id: "bench".into(),
        url: source.expose().to_string(),
        redacted: source.redacted(),
        protocol_whitelist: source.protocol_whitelist().to_string(),
        http_proxy: None,
        max_backoff: std::time::Duration::from_secs(10),
        hls_dir: ".".into(),
        ffmpeg: "ffmpeg".into(),
        on_demand: false,
        timing: Default::default(),
        pushed: false,
    };
    for arg in arguments(&spec, Transcode::default()) {
        println!("{arg}");
    }
}
