//! Registers files already in `STORAGE/videos/` as ready videos, for the B1 benchmark.
//! Prints one `FILE_NAME ID` line per file.
//! Usage: seed-videos DATABASE_URL FILE_NAME...

use chrono::Utc;
use roomcast::config::{DatabaseSettings, DatabaseUrl};
use roomcast::db::{self, videos::NewVideo};

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: seed-videos DATABASE_URL FILE_NAME...");
    let settings = DatabaseSettings {
        url: DatabaseUrl(url),
        pool_size: 1,
        ..Default::default()
    };
    let pool = db::connect(&settings).expect("database");
    let mut conn = pool.get().expect("connection");
    db::run_migrations(&mut conn).expect("migrations");
    let owner = db::users::create(
        &mut conn,
        &format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "!",
        "user",
    )
    .expect("owner");
    for file_name in args {
        let id = uuid::Uuid::new_v4().to_string();
        db::videos::insert(
            &mut conn,
            &NewVideo {
                id: &id,
                owner_id: &owner,
                title: &format!("Benchmark file {file_name}"),
                description: "",
                status: "ready",
                file_name: &file_name,
                size_bytes: 0,
                mime: "video/mp4",
                duration_ms: Some(1000),
                width: Some(1),
                height: Some(1),
                video_codec: "h264",
                audio_codec: "",
                created_at: Utc::now().naive_utc(),
            },
        )
        .expect("video");
        println!("{file_name} {id}");
    }
}
