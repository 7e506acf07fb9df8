//! Fills a Roomcast database with 6 rooms and 6 ready videos for the B4 benchmark: the home
//! page then lists 12 rows, as the reference page does.
//! Usage: seed-home DATABASE_URL

use chrono::Utc;
use diesel::prelude::*;
use roomcast::config::{DatabaseSettings, DatabaseUrl};
use roomcast::db::{
    self,
    schema::{rooms, users, videos},
};

fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: seed-home DATABASE_URL");
    let settings = DatabaseSettings {
        url: DatabaseUrl(url),
        pool_size: 1,
        ..Default::default()
    };
    let pool = db::connect(&settings).expect("database");
    let mut conn = pool.get().expect("connection");
    db::run_migrations(&mut conn).expect("migrations");
    let owner = uuid::Uuid::new_v4().to_string();
    let now = Utc::now().naive_utc();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&owner),
            users::username.eq(format!("bench_{}", &owner[..8])),
            users::password_hash.eq("!"),
            users::role.eq("user"),
            users::created_at.eq(now),
        ))
        .execute(&mut conn)
        .expect("owner");
    for i in 0..6i64 {
        diesel::insert_into(rooms::table)
            .values((
                rooms::id.eq(uuid::Uuid::new_v4().to_string()),
                rooms::owner_id.eq(&owner),
                rooms::title.eq(format!("Benchmark room number {i}")),
                rooms::on_demand.eq(false),
                rooms::created_at.eq(now),
            ))
            .execute(&mut conn)
            .expect("room");
        diesel::insert_into(videos::table)
            .values((
                videos::id.eq(uuid::Uuid::new_v4().to_string()),
                videos::owner_id.eq(&owner),
                videos::title.eq(format!("Benchmark video number {i}")),
                videos::description.eq(""),
                videos::status.eq("ready"),
                videos::file_name.eq("bench.mp4"),
                videos::size_bytes.eq(1_000_000i64),
                videos::mime.eq("video/mp4"),
                videos::duration_ms.eq(Some(60_000 * (i + 1))),
                videos::created_at.eq(now),
            ))
            .execute(&mut conn)
            .expect("video");
    }
    println!("seeded 6 rooms and 6 videos");
}
