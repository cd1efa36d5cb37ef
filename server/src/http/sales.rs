//! The shopper's read API: the list of sales, one sale (cacheable), and the tiny
//! uncacheable status the client's countdown and buy button run on.

use app::api::{Sale, SaleListing, SaleStatus};
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::state::AppState;
use crate::sales::catalog::Catalog;
use crate::sales::id::SaleId;

/// `/api/sales…` for reading.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(status))
}

/// `GET /api/sales`: scheduled, live and recent sales with their state.
#[utoipa::path(
    get,
    path = "/api/sales",
    operation_id = "list_sales",
    tag = "sales",
    responses(
        (status = 200, description = "scheduled, live and recent sales", body = Vec<app::api::SaleListing>),
        refusals::Unavailable,
    )
)]
async fn list(State(catalog): State<Catalog>) -> Result<Json<Vec<SaleListing>>, ApiError> {
    Ok(Json(catalog.listings().await?))
}

/// `GET /api/sales/{id}`: the sale's definition. It changes only when an admin
/// edits it, so caches may keep it briefly.
#[utoipa::path(
    get,
    path = "/api/sales/{id}",
    operation_id = "show_sale",
    tag = "sales",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    responses(
        (status = 200, description = "the sale (cacheable)", body = app::api::Sale),
        refusals::Malformed,
        refusals::NotFound,
        refusals::Unavailable,
    )
)]
async fn show(State(catalog): State<Catalog>, id: SaleId) -> Result<impl IntoResponse, ApiError> {
    let sale: Sale = catalog
        .cached_sale(id.get())
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    Ok(([(CACHE_CONTROL, "public, max-age=5")], Json(sale)))
}

/// `GET /api/sales/{id}/status`: state, server clock and stock left. Never cached:
/// the countdown syncs its clock on it.
#[utoipa::path(
    get,
    path = "/api/sales/{id}/status",
    operation_id = "sale_status",
    tag = "sales",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    responses(
        (status = 200, description = "its state on the server's clock (no-store)", body = app::api::SaleStatus),
        refusals::Malformed,
        refusals::NotFound,
        refusals::Unavailable,
    )
)]
async fn status(State(catalog): State<Catalog>, id: SaleId) -> Result<impl IntoResponse, ApiError> {
    let status: SaleStatus = catalog
        .status(id.get())
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    Ok(([(CACHE_CONTROL, "no-store")], Json(status)))
}
