//! `/healthz` (the process runs) and `/readyz` (the process can serve: Redis and
//! Postgres both answer). A load balancer keeps sending traffic only to ready
//! instances; an orchestrator restarts only unhealthy ones.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use redis::aio::ConnectionManager;
use serde_json::json;
use sqlx::PgPool;

/// How long a dependency may take to answer before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when Redis and Postgres answer, else 503 naming each
/// dependency that does not.
pub async fn readyz(State(db): State<PgPool>, State(redis): State<ConnectionManager>) -> Response {
    let (postgres_ok, redis_ok) = tokio::join!(postgres_answers(&db), redis_answers(redis));
    let checks = json!({
        "postgres": if postgres_ok { "ok" } else { "down" },
        "redis": if redis_ok { "ok" } else { "down" },
    });
    let failing: Vec<&str> = [("postgres", postgres_ok), ("redis", redis_ok)]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
    if failing.is_empty() {
        return Json(json!({ "status": "ready", "checks": checks })).into_response();
    }
    let message = format!("not ready: {} not answering", failing.join(" and "));
    tracing::warn!("{message}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": "not_ready", "message": message, "checks": checks })),
    )
        .into_response()
}

async fn postgres_answers(db: &PgPool) -> bool {
    let ping = sqlx::query_scalar::<_, i32>("select 1").fetch_one(db);
    matches!(tokio::time::timeout(CHECK_TIMEOUT, ping).await, Ok(Ok(1)))
}

async fn redis_answers(mut redis: ConnectionManager) -> bool {
    let command = redis::cmd("PING");
    let ping = command.query_async::<String>(&mut redis);
    matches!(tokio::time::timeout(CHECK_TIMEOUT, ping).await, Ok(Ok(pong)) if pong == "PONG")
}
