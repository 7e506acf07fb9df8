//! B4 reference: the smallest honest actix-web page, 12 in-memory rows through askama.
//! Usage: reference-page ADDR WORKERS

use actix_web::{web, App, HttpResponse, HttpServer};
use askama::Template;

struct Row {
    id: String,
    title: String,
    owner: String,
    duration: String,
}

#[derive(Template)]
#[template(path = "reference.html")]
struct Page<'a> {
    rows: &'a [Row],
}

async fn page(rows: web::Data<Vec<Row>>) -> HttpResponse {
    let html = Page { rows: &rows }.render().expect("renders");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let workers: usize = args
        .next()
        .map_or(1, |w| w.parse().expect("WORKERS is a number"));
    let rows = web::Data::new(
        (0..12)
            .map(|i| Row {
                id: uuid::Uuid::new_v4().to_string(),
                title: format!("Benchmark video number {i}"),
                owner: "bench_owner".into(),
                duration: format!("{}:{:02}", i + 1, i * 4),
            })
            .collect::<Vec<_>>(),
    );
    HttpServer::new(move || {
        App::new()
            .app_data(rows.clone())
            .route("/", web::get().to(page))
    })
    .workers(workers)
    .bind(addr)?
    .run()
    .await
}
