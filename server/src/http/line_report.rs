//! The admin's view of a queue sale's line: `GET /api/admin/sales/{id}/line`
//! (live counts and admissions by the second) and `…/fairness` (who got the
//! units by when they joined, the draw, the addresses the crowd came from).

use app::api::{FairnessReport, LineLive};
use axum::extract::State;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::AdminUser;
use super::queue::queue_sale;
use super::state::AppState;
use crate::queue::report;
use crate::sales::id::SaleId;

/// `/api/admin/sales/{id}/line` and `/api/admin/sales/{id}/fairness`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(line))
        .routes(routes!(fairness))
}

/// `GET /api/admin/sales/{id}/line`: the line now.
#[utoipa::path(
    get,
    path = "/api/admin/sales/{id}/line",
    operation_id = "admin_sale_line",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "the line's live numbers", body = app::api::LineLive),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn line(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<LineLive>, ApiError> {
    let sale = queue_sale(&state, id.get()).await?;
    let now = state.clock.now_ms();
    Ok(Json(report::live(&state.lines, &sale, now).await?))
}

/// `GET /api/admin/sales/{id}/fairness`: the fairness report (complete once
/// the draw is made; before it, the entrants so far).
#[utoipa::path(
    get,
    path = "/api/admin/sales/{id}/fairness",
    operation_id = "admin_sale_fairness",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "the fairness report", body = app::api::FairnessReport),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn fairness(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<FairnessReport>, ApiError> {
    let sale = queue_sale(&state, id.get()).await?;
    Ok(Json(report::fairness(&state.lines, &sale).await?))
}
