//! The shopper's read API: the list of sales, one sale (cacheable), and the tiny
//! uncacheable status the client's countdown and buy button run on.

use app::api::{Sale, SaleListing, SaleStatus};
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::state::AppState;
use crate::sales::catalog::Catalog;
use crate::sales::id::SaleId;

/// `/api/sales…` for reading.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sales", get(list))
        .route("/api/sales/{id}", get(show))
        .route("/api/sales/{id}/status", get(status))
}

/// `GET /api/sales`: scheduled, live and recent sales with their state.
async fn list(State(catalog): State<Catalog>) -> Result<Json<Vec<SaleListing>>, ApiError> {
    Ok(Json(catalog.listings().await?))
}

/// `GET /api/sales/{id}`: the sale's definition. It changes only when an admin
/// edits it, so caches may keep it briefly.
async fn show(State(catalog): State<Catalog>, id: SaleId) -> Result<impl IntoResponse, ApiError> {
    let sale: Sale = catalog
        .sale(id.get())
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    Ok(([(CACHE_CONTROL, "public, max-age=5")], Json(sale)))
}

/// `GET /api/sales/{id}/status`: state, server clock and stock left. Never cached:
/// the countdown syncs its clock on it.
async fn status(State(catalog): State<Catalog>, id: SaleId) -> Result<impl IntoResponse, ApiError> {
    let status: SaleStatus = catalog
        .status(id.get())
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    Ok(([(CACHE_CONTROL, "no-store")], Json(status)))
}
