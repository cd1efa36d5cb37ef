//! The admin API: schedule and edit sales, pause and resume them, watch their
//! numbers, list their orders, handle dead letters. Every route takes an
//! [`AdminUser`]: 401 without a session, 403 `forbidden` for shoppers.

use app::api::{
    DeadLetter, DeadLetterReleased, DeadLetterRetried, ErrorCode, Reconciliation, Sale,
    SaleDefaults, SaleDraft, SaleOrder, SalePatch, SaleStats,
};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use sqlx::PgPool;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::{AdminUser, ApiJson};
use super::state::AppState;
use crate::orders::book::OrderBook;
use crate::orders::dead_letters::{DeadLetters, Release, Retry};
use crate::sales::catalog::{Catalog, EditError};
use crate::sales::id::SaleId;
use crate::sales::new_sale::NewSale;
use crate::sales::reconcile::reconcile;
use crate::sales::stock::SaleStock;
use crate::sales::tally::OutcomeTally;

/// `/api/admin/…`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(sale_defaults))
        .routes(routes!(show, edit))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(stats))
        .routes(routes!(reconciliation))
        .routes(routes!(orders))
        .routes(routes!(dead_letters))
        .routes(routes!(retry_dead_letter))
        .routes(routes!(release_dead_letter))
}

/// The sale as stored now, or 404.
async fn stored_sale(catalog: &Catalog, id: SaleId) -> Result<Sale, ApiError> {
    catalog
        .sale(id.get())
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))
}

/// `POST /api/admin/sales`: 201 with the sale, its stock already in Redis.
#[utoipa::path(
    post,
    path = "/api/admin/sales",
    operation_id = "admin_create_sale",
    tag = "admin",
    request_body = app::api::SaleDraft,
    security(("session" = [])),
    responses(
        (status = 201, description = "scheduled, its stock in Redis", body = app::api::Sale),
        refusals::Malformed,
        refusals::NoSession,
        refusals::Forbidden,
        refusals::Invalid,
        refusals::Unavailable,
    )
)]
async fn create(
    State(catalog): State<Catalog>,
    State(defaults): State<SaleDefaults>,
    AdminUser(_admin): AdminUser,
    ApiJson(draft): ApiJson<SaleDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewSale::parse(draft, defaults.currency).map_err(ApiError::invalid)?;
    let sale = catalog.create(&new).await?;
    tracing::info!(sale_id = sale.id, "sale created");
    Ok((StatusCode::CREATED, Json(sale)))
}

/// `GET /api/admin/sale-defaults`: what a draft that leaves a field out gets.
#[utoipa::path(
    get,
    path = "/api/admin/sale-defaults",
    operation_id = "admin_sale_defaults",
    tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "the shop's defaults for a new sale", body = SaleDefaults),
        refusals::NoSession,
        refusals::Forbidden,
        refusals::Unavailable,
    )
)]
async fn sale_defaults(
    State(defaults): State<SaleDefaults>,
    AdminUser(_admin): AdminUser,
) -> Json<SaleDefaults> {
    Json(defaults)
}

/// `GET /api/admin/sales`.
#[utoipa::path(
    get,
    path = "/api/admin/sales",
    operation_id = "admin_list_sales",
    tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "every sale", body = Vec<app::api::Sale>),
        refusals::NoSession,
        refusals::Forbidden,
        refusals::Unavailable,
    )
)]
async fn list(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Vec<Sale>>, ApiError> {
    Ok(Json(catalog.all().await?))
}

/// `GET /api/admin/sales/{id}`: the sale as stored now (not cached), for the
/// live view after a pause or an edit.
#[utoipa::path(
    get,
    path = "/api/admin/sales/{id}",
    operation_id = "admin_show_sale",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "the sale as stored", body = app::api::Sale),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn show(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<Sale>, ApiError> {
    Ok(Json(stored_sale(&catalog, id).await?))
}

/// `PATCH /api/admin/sales/{id}`: stock, times and limit only before the start.
#[utoipa::path(
    patch,
    path = "/api/admin/sales/{id}",
    operation_id = "admin_edit_sale",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    request_body = app::api::SalePatch,
    security(("session" = [])),
    responses(
        (status = 200, description = "edited", body = app::api::Sale),
        refusals::OnOneThing,
        refusals::Conflict,
        refusals::Invalid,
        refusals::Unavailable,
    )
)]
async fn edit(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
    ApiJson(patch): ApiJson<SalePatch>,
) -> Result<Json<Sale>, ApiError> {
    match catalog.edit(id.get(), patch).await {
        Ok(sale) => Ok(Json(sale)),
        Err(EditError::NotFound) => Err(ApiError::not_found("sale")),
        Err(EditError::Invalid(message)) => Err(ApiError::invalid(message)),
        Err(EditError::AlreadyStarted) => Err(ErrorCode::AlreadyStarted.into()),
        Err(EditError::Store(error)) => Err(error.into()),
    }
}

async fn set_paused(catalog: &Catalog, id: SaleId, paused: bool) -> Result<Json<Sale>, ApiError> {
    let sale = catalog
        .set_paused(id.get(), paused)
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    tracing::info!(sale_id = sale.id, paused, "sale pause changed");
    Ok(Json(sale))
}

/// `POST /api/admin/sales/{id}/pause`.
#[utoipa::path(
    post,
    path = "/api/admin/sales/{id}/pause",
    operation_id = "admin_pause_sale",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "paused", body = app::api::Sale),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn pause(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<Sale>, ApiError> {
    set_paused(&catalog, id, true).await
}

/// `POST /api/admin/sales/{id}/resume`.
#[utoipa::path(
    post,
    path = "/api/admin/sales/{id}/resume",
    operation_id = "admin_resume_sale",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "resumed", body = app::api::Sale),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn resume(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<Sale>, ApiError> {
    set_paused(&catalog, id, false).await
}

/// `GET /api/admin/sales/{id}/stats`: the sale's numbers and its drift.
#[allow(clippy::too_many_arguments)] // one small sub-state per store it reads
#[utoipa::path(
    get,
    path = "/api/admin/sales/{id}/stats",
    operation_id = "admin_sale_stats",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "live numbers", body = app::api::SaleStats),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn stats(
    State(catalog): State<Catalog>,
    State(db): State<PgPool>,
    State(stock): State<SaleStock>,
    State(orders): State<OrderBook>,
    State(tally): State<OutcomeTally>,
    State(letters): State<DeadLetters>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<SaleStats>, ApiError> {
    let sale = stored_sale(&catalog, id).await?;
    let books = reconcile(&db, &stock, &sale).await?;
    let counts = orders.status_counts(sale.id).await?;
    // Every instance's attempts, not only this one's.
    let mut rejected = tally.counts(sale.id).await?;
    let won = rejected.remove("won").unwrap_or(0);
    let attempts = won + rejected.values().sum::<i64>();
    let dead_letters = letters.count(sale.id).await?;
    Ok(Json(SaleStats {
        stock: books.stock,
        stock_left: books.stock_left,
        queued: books.queued_units,
        pending_payment: counts.pending_payment,
        paid: counts.paid,
        expired: counts.expired,
        cancelled: counts.cancelled,
        attempts,
        rejected,
        dead_letters,
        drift: books.drift,
    }))
}

/// `GET /api/admin/sales/{id}/reconcile`: both sides of the books in detail.
#[utoipa::path(
    get,
    path = "/api/admin/sales/{id}/reconcile",
    operation_id = "admin_reconcile_sale",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "Redis against Postgres", body = app::api::Reconciliation),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn reconciliation(
    State(catalog): State<Catalog>,
    State(db): State<PgPool>,
    State(stock): State<SaleStock>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<Reconciliation>, ApiError> {
    let sale = stored_sale(&catalog, id).await?;
    Ok(Json(reconcile(&db, &stock, &sale).await?))
}

/// `GET /api/admin/sales/{id}/orders`: newest first.
#[utoipa::path(
    get,
    path = "/api/admin/sales/{id}/orders",
    operation_id = "admin_sale_orders",
    tag = "admin",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "the sale's orders with their buyers; an id with no sale has none", body = Vec<app::api::SaleOrder>),
        // No 404: an id with no sale simply has no orders.
        refusals::Malformed,
        refusals::NoSession,
        refusals::Forbidden,
        refusals::Unavailable,
    )
)]
async fn orders(
    State(orders): State<OrderBook>,
    AdminUser(_admin): AdminUser,
    id: SaleId,
) -> Result<Json<Vec<SaleOrder>>, ApiError> {
    Ok(Json(orders.for_sale(id.get()).await?))
}

/// `GET /api/admin/dead-letters`.
#[utoipa::path(
    get,
    path = "/api/admin/dead-letters",
    operation_id = "admin_list_dead_letters",
    tag = "admin",
    security(("session" = [])),
    responses(
        (status = 200, description = "messages that could not be saved", body = Vec<app::api::DeadLetter>),
        refusals::NoSession,
        refusals::Forbidden,
        refusals::Unavailable,
    )
)]
async fn dead_letters(
    State(letters): State<DeadLetters>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    Ok(Json(letters.list().await?))
}

/// `POST /api/admin/dead-letters/{id}/retry`: through the same idempotent insert.
#[utoipa::path(
    post,
    path = "/api/admin/dead-letters/{id}/retry",
    operation_id = "admin_retry_dead_letter",
    tag = "admin",
    params(("id" = String, Path, pattern = "^[1-9][0-9]{0,17}-[0-9]{1,19}-[0-9]{1,19}$", description = "the dead letter's id: its sale's id, `-`, its stream entry id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "saved this time", body = app::api::DeadLetterRetried),
        refusals::OnOneThing,
        refusals::Conflict,
        refusals::Unavailable,
    )
)]
async fn retry_dead_letter(
    State(letters): State<DeadLetters>,
    AdminUser(_admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<DeadLetterRetried>, ApiError> {
    match letters.retry(&id).await? {
        Retry::NoSuchLetter => Err(ApiError::not_found("dead letter")),
        Retry::Saved => Ok(Json(DeadLetterRetried { retried: id })),
        Retry::FailedAgain(reason) => Err(ApiError::refused(
            ErrorCode::RetryFailed,
            format!("the order could not be saved: {reason}"),
        )),
    }
}

/// `POST /api/admin/dead-letters/{id}/release`: the reservation is given up and
/// its units return to the sale, exactly once.
#[utoipa::path(
    post,
    path = "/api/admin/dead-letters/{id}/release",
    operation_id = "admin_release_dead_letter",
    tag = "admin",
    params(("id" = String, Path, pattern = "^[1-9][0-9]{0,17}-[0-9]{1,19}-[0-9]{1,19}$", description = "the dead letter's id: its sale's id, `-`, its stream entry id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "given up; its units returned once", body = app::api::DeadLetterReleased),
        refusals::OnOneThing,
        refusals::Conflict,
        refusals::Unavailable,
    )
)]
async fn release_dead_letter(
    State(letters): State<DeadLetters>,
    AdminUser(_admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<DeadLetterReleased>, ApiError> {
    match letters.release(&id).await? {
        Release::NoSuchLetter => Err(ApiError::not_found("dead letter")),
        Release::Released => Ok(Json(DeadLetterReleased { released: id })),
        Release::Refused(reason) => Err(ApiError::refused(
            ErrorCode::NotReleasable,
            format!("this letter cannot be released: {reason}"),
        )),
    }
}
