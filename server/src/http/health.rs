//! `/healthz` (the process runs), `/readyz` (the process can serve the hot path:
//! Redis answers; Postgres is reported beside it) and `/metrics`. A load
//! balancer keeps sending traffic only to ready instances — and an instance
//! sells while Postgres is away, so a Postgres outage must not drain them all;
//! an orchestrator restarts only unhealthy ones.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt, Shared};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::redis_connection::RedisConnection;
use app::api::ErrorCode;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use serde_json::json;
use sqlx::PgPool;

use super::error::refusals;
use super::state::AppState;
use crate::store::{postgres_answers, redis_answers};

/// How long a dependency may take to answer before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The operational endpoints; `/metrics` only when it is not served on an
/// internal address of its own ([`metrics_router`]).
pub(crate) fn router(metrics_public: bool) -> OpenApiRouter<AppState> {
    let router = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz));
    let router = match metrics_public {
        true => router.routes(routes!(crate::metrics::export)),
        false => router,
    };
    router.layer(Extension(Readiness::default()))
}

/// `/metrics` alone, for `FLASHSALE_METRICS_ADDR`.
pub(crate) fn metrics_router(metrics: Arc<crate::metrics::Metrics>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(crate::metrics::export))
        .with_state(metrics)
}

/// Whether Postgres and Redis answer.
#[derive(Clone, Copy)]
struct Checks {
    postgres: bool,
    redis: bool,
}

/// The readiness check in flight, shared: however many ask at once, one check
/// runs (one Postgres connection, one Redis round trip) and all get its answer.
/// A request arriving after it ended starts a new one, so the answer is never
/// older than the request.
#[derive(Clone, Default)]
struct Readiness {
    in_flight: Arc<Mutex<Option<Shared<BoxFuture<'static, Checks>>>>>,
}

impl Readiness {
    async fn check(&self, db: PgPool, redis: RedisConnection) -> Checks {
        let check = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            in_flight
                .get_or_insert_with(|| {
                    async move {
                        let (postgres, redis) = tokio::join!(
                            postgres_answers(&db, CHECK_TIMEOUT),
                            redis_answers(redis, CHECK_TIMEOUT)
                        );
                        Checks { postgres, redis }
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        let checks = check.clone().await;
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if in_flight
            .as_ref()
            .is_some_and(|current| current.ptr_eq(&check))
        {
            *in_flight = None;
        }
        checks
    }
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
async fn readyz(
    Extension(readiness): Extension<Readiness>,
    State(db): State<PgPool>,
    State(redis): State<RedisConnection>,
) -> Response {
    let Checks {
        postgres: postgres_ok,
        redis: redis_ok,
    } = readiness.check(db, redis).await;
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
