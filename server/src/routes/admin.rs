//! The admin API: schedule and edit sales, pause and resume them, watch their
//! numbers, list their orders, handle dead letters. Every route takes an
//! [`AdminUser`]: 401 without a session, 403 `forbidden` for shoppers.

use std::sync::Arc;

use app::api::{Order, Sale, SaleDraft, SalePatch, SaleStats};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::catalog::{Catalog, EditError, NewSale};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::orders::consumer::OrderConsumer;
use crate::reconcile::reconcile;
use crate::routes::{ApiJson, SaleId};
use crate::sessions::AdminUser;
use crate::stock::SaleStock;

/// `POST /api/admin/sales`: 201 with the sale, its stock already in Redis.
pub async fn create(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    ApiJson(draft): ApiJson<SaleDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewSale::from_draft(draft).map_err(ApiError::invalid)?;
    let sale = catalog.create(&new).await?;
    tracing::info!(sale_id = sale.id, "sale created");
    Ok((StatusCode::CREATED, Json(sale)))
}

/// `GET /api/admin/sales`.
pub async fn list(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Vec<Sale>>, ApiError> {
    Ok(Json(catalog.all().await?))
}

/// `GET /api/admin/sales/{id}`: the sale as stored now (not cached), for the
/// live view after a pause or an edit.
pub async fn show(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    SaleId(id): SaleId,
) -> Result<Json<Sale>, ApiError> {
    Ok(Json(
        catalog
            .sale(id)
            .await?
            .ok_or_else(|| ApiError::not_found("sale"))?,
    ))
}

/// `PATCH /api/admin/sales/{id}`: stock, times and limit only before the start.
pub async fn edit(
    State(catalog): State<Catalog>,
    State(clock): State<Arc<dyn Clock>>,
    AdminUser(_admin): AdminUser,
    SaleId(id): SaleId,
    ApiJson(patch): ApiJson<SalePatch>,
) -> Result<Json<Sale>, ApiError> {
    match catalog.edit(id, patch, clock.now_ms()).await {
        Ok(sale) => Ok(Json(sale)),
        Err(EditError::NotFound) => Err(ApiError::not_found("sale")),
        Err(EditError::Invalid(message)) => Err(ApiError::invalid(message)),
        Err(EditError::AlreadyStarted) => Err(ApiError::rejected(
            StatusCode::CONFLICT,
            "already_started",
            "stock, times and the limit cannot change once the sale has started",
        )),
        Err(EditError::Store(error)) => Err(error.into()),
    }
}

async fn set_paused(catalog: &Catalog, id: i64, paused: bool) -> Result<Json<Sale>, ApiError> {
    let sale = catalog
        .set_paused(id, paused)
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    tracing::info!(sale_id = id, paused, "sale pause changed");
    Ok(Json(sale))
}

/// `POST /api/admin/sales/{id}/pause`.
pub async fn pause(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    SaleId(id): SaleId,
) -> Result<Json<Sale>, ApiError> {
    set_paused(&catalog, id, true).await
}

/// `POST /api/admin/sales/{id}/resume`.
pub async fn resume(
    State(catalog): State<Catalog>,
    AdminUser(_admin): AdminUser,
    SaleId(id): SaleId,
) -> Result<Json<Sale>, ApiError> {
    set_paused(&catalog, id, false).await
}

/// `GET /api/admin/sales/{id}/stats`: the sale's numbers and its drift.
pub async fn stats(
    State(catalog): State<Catalog>,
    State(db): State<PgPool>,
    State(stock): State<SaleStock>,
    State(metrics): State<Arc<Metrics>>,
    State(consumer): State<OrderConsumer>,
    AdminUser(_admin): AdminUser,
    SaleId(id): SaleId,
) -> Result<Json<SaleStats>, ApiError> {
    let sale = catalog
        .sale(id)
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    let books = reconcile(&db, &stock, &sale).await?;
    let counts = sqlx::query!(
        r#"select
             count(*) filter (where status = 'expired') as "expired!",
             count(*) filter (where status = 'cancelled') as "cancelled!",
             count(*) filter (where status = 'pending_payment') as "pending!",
             count(*) filter (where status = 'paid') as "paid!"
           from orders where sale_id = $1"#,
        id
    )
    .fetch_one(&db)
    .await?;
    let mut rejected = metrics.purchase_counts(id);
    let won = rejected.remove("won").unwrap_or(0);
    let attempts = won + rejected.values().sum::<i64>();
    let dead_letters = consumer
        .dead_letters()
        .await?
        .iter()
        .filter(|letter| letter.sale_id == id)
        .count();
    Ok(Json(SaleStats {
        stock: books.stock,
        stock_left: books.stock_left,
        queued: books.queued_units,
        pending_payment: counts.pending,
        paid: counts.paid,
        expired: counts.expired,
        cancelled: counts.cancelled,
        attempts,
        rejected,
        dead_letters: dead_letters as i64,
        drift: books.drift,
    }))
}

/// `GET /api/admin/sales/{id}/reconcile`: both sides of the books in detail.
pub async fn reconciliation(
    State(catalog): State<Catalog>,
    State(db): State<PgPool>,
    State(stock): State<SaleStock>,
    AdminUser(_admin): AdminUser,
    SaleId(id): SaleId,
) -> Result<impl IntoResponse, ApiError> {
    let sale = catalog
        .sale(id)
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    Ok(Json(reconcile(&db, &stock, &sale).await?))
}

/// `GET /api/admin/sales/{id}/orders`: newest first.
pub async fn orders(
    State(db): State<PgPool>,
    AdminUser(_admin): AdminUser,
    SaleId(id): SaleId,
) -> Result<Json<Vec<Order>>, ApiError> {
    Ok(Json(crate::orders::for_sale(&db, id).await?))
}

/// `GET /api/admin/dead-letters`.
pub async fn dead_letters(
    State(consumer): State<OrderConsumer>,
    AdminUser(_admin): AdminUser,
) -> Result<Json<Value>, ApiError> {
    let letters = consumer.dead_letters().await?;
    Ok(Json(json!(letters)))
}

/// `POST /api/admin/dead-letters/{id}/retry`: through the same idempotent insert.
pub async fn retry_dead_letter(
    State(consumer): State<OrderConsumer>,
    AdminUser(_admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match consumer.retry_dead_letter(&id).await? {
        None => Err(ApiError::not_found("dead letter")),
        Some(Ok(())) => Ok(Json(json!({ "retried": id }))),
        Some(Err(reason)) => Err(ApiError::rejected(
            StatusCode::CONFLICT,
            "retry_failed",
            format!("the order could not be saved: {reason}"),
        )),
    }
}
