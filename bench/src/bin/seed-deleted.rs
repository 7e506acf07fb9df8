//! Seeds a deletion backlog for the B5 benchmark: ROWS deleted videos, each with its
//! `video_del_rec` row, the first FILES of them with a 4 KiB file in `STORAGE/videos/` and a
//! poster frame in `STORAGE/thumbs/`, as a burst of deletions would leave them.
//! Usage: seed-deleted DATABASE_URL STORAGE_DIR ROWS FILES

use std::path::PathBuf;

use chrono::Utc;
use diesel::Connection;
use roomcast::config::{DatabaseSettings, DatabaseUrl};
use roomcast::db::{self, videos::NewVideo};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, storage, rows, files] = args.as_slice() else {
        panic!("usage: seed-deleted DATABASE_URL STORAGE_DIR ROWS FILES");
    };
    let rows: usize = rows.parse().expect("ROWS is a number");
    let files: usize = files.parse().expect("FILES is a number");
    let storage = PathBuf::from(storage);
    std::fs::create_dir_all(storage.join("videos")).unwrap();
    std::fs::create_dir_all(storage.join("thumbs")).unwrap();
    let pool = db::connect(&DatabaseSettings {
        url: DatabaseUrl(url.clone()),
        pool_size: 1,
        ..Default::default()
    })
    .expect("database");
    let mut conn = pool.get().expect("connection");
    db::run_migrations(&mut conn).expect("migrations");
    let owner = db::users::create(
        &mut conn,
        &format!("seed_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "!",
        "user",
    )
    .expect("owner");
    let block = vec![0u8; 4096];
    conn.transaction(|conn| {
        for i in 0..rows {
            let id = uuid::Uuid::new_v4().to_string();
            let file_name = format!("{id}.mp4");
            db::videos::insert(
                conn,
                &NewVideo {
                    id: &id,
                    owner_id: &owner,
                    title: &format!("Deleted video {i}"),
                    description: "",
                    status: "ready",
                    file_name: &file_name,
                    size_bytes: block.len() as i64,
                    mime: "video/mp4",
                    duration_ms: Some(1000),
                    width: Some(1),
                    height: Some(1),
                    video_codec: "h264",
                    audio_codec: "",
                    created_at: Utc::now().naive_utc(),
                },
            )?;
            db::videos::mark_deleted(conn, &id)?;
            if i < files {
                std::fs::write(storage.join("videos").join(&file_name), &block).unwrap();
                std::fs::write(
                    storage.join("thumbs").join(format!("{id}.jpg")),
                    &block[..512],
                )
                .unwrap();
            }
        }
        diesel::QueryResult::Ok(())
    })
    .expect("seeding");
    println!("seeded {rows} deleted videos, {files} with files");
}
