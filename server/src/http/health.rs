//! `/healthz` (the process runs), `/readyz` (the process can serve the hot path:
//! Redis answers; Postgres is reported beside it) and `/metrics`. A load
//! balancer keeps sending traffic only to ready instances — and an instance
//! sells while Postgres is away, so a Postgres outage must not drain them all;
//! an orchestrator restarts only unhealthy ones.

use std::time::Duration;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::redis_connection::RedisConnection;
use app::api::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sqlx::PgPool;

use super::error::refusals;
use super::state::AppState;
use crate::store::{postgres_answers, redis_answers};

/// How long a dependency may take to answer before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The operational endpoints.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(crate::metrics::export))
}

/// `GET /healthz`: 200 while the process runs.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses(
        (status = 200, description = "the process runs", body = serde_json::Value),
    )
)]
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 while Redis answers, else 503; the body names each
/// dependency that does not answer, Postgres included.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "this instance can serve the hot path", body = serde_json::Value),
        refusals::Unavailable,
    )
)]
async fn readyz(State(db): State<PgPool>, State(redis): State<RedisConnection>) -> Response {
    let (postgres_ok, redis_ok) = tokio::join!(
        postgres_answers(&db, CHECK_TIMEOUT),
        redis_answers(redis, CHECK_TIMEOUT)
    );
    let checks = json!({
        "postgres": if postgres_ok { "ok" } else { "down" },
        "redis": if redis_ok { "ok" } else { "down" },
    });
    if redis_ok {
        if !postgres_ok {
            tracing::warn!("ready, but Postgres is not answering: orders queue in Redis");
        }
        let status = if postgres_ok { "ready" } else { "degraded" };
        return Json(json!({ "status": status, "checks": checks })).into_response();
    }
    let failing: Vec<&str> = [("postgres", postgres_ok), ("redis", redis_ok)]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(name, _)| name)
        .collect();
    let message = format!("not ready: {} not answering", failing.join(" and "));
    tracing::warn!("{message}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": ErrorCode::NotReady, "message": message, "checks": checks })),
    )
        .into_response()
}
