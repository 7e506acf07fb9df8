//! Liveness, readiness and metrics.

use actix_web::{http::header, web, HttpResponse};
use roomcast_actors::ingest::supervisor::SourcesKnown;

use crate::context::AppState;
use crate::db;

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The node can do useful work: its database answers and it knows its live sources (with
/// many nodes, after its first lease round). The bus's state is reported but does
/// not make a node unready: without NATS a node still serves its own viewers, and taking
/// every node out of the load balancer during a NATS outage would serve nobody.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let bus = match (state.bus.is_shared(), state.bus.is_connected()) {
        (false, _) => "local",
        (true, true) => "connected",
        (true, false) => "disconnected",
    };
    let node = state.bus.node();
    // With many nodes, a node that has not yet learnt which sources exist (its first lease
    // round) would answer video sockets with 404: the load balancer waits for it.
    let known = matches!(state.ingest.send(SourcesKnown).await, Ok(true));
    let sources = if known {
        "ok"
    } else {
        "waiting for the first lease round"
    };
    // Writable, not merely reachable: a node whose database takes no writes loses what
    // its users send, so the load balancer should prefer another.
    let writable = db::blocking(&state.pool, |conn| {
        Ok(db::check_writable(conn).map_err(|e| e.to_string()))
    })
    .await
    .and_then(|checked| checked.map_err(db::DbError::ReadOnly));
    match writable {
        Ok(()) if known => HttpResponse::Ok().json(serde_json::json!({
            "status": "ready", "database": "ok", "bus": bus, "node": node, "sources": sources,
        })),
        Ok(()) => HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "not ready", "database": "ok", "bus": bus, "node": node,
            "sources": sources,
        })),
        Err(e) => {
            log::warn!("readiness: database unreachable: {e}");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({
                "status": "not ready", "database": e.to_string(), "bus": bus, "node": node,
                "sources": sources,
            }))
        }
    }
}

/// Every metric in the Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.uptime.set(state.started_at.elapsed().as_secs_f64());
    if let Ok(space) = state.storage.disk_space() {
        state.storage_free.set(space.free as i64);
    }
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        .body(state.metrics.render())
}
