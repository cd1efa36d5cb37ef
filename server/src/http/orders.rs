//! A buyer's orders: list, poll, pay (simulated), cancel.

use app::api::{ErrorCode, Order};
use axum::extract::State;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::CurrentUser;
use super::state::AppState;
use crate::guards::rate_limit::{Rate, RateLimiter};
use crate::orders::book::{OrderBook, OrderError};
use crate::orders::id::OrderId;
use crate::sales::catalog::Catalog;

/// `/api/orders…`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(pay))
        .routes(routes!(cancel))
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound => ApiError::not_found("order"),
            OrderError::Expired => ErrorCode::Expired.into(),
            OrderError::NotPayable => ErrorCode::NotPayable.into(),
            OrderError::NotCancellable => ErrorCode::NotCancellable.into(),
            OrderError::Store(error) => error.into(),
        }
    }
}

/// `GET /api/orders`.
#[utoipa::path(
    get,
    path = "/api/orders",
    operation_id = "list_orders",
    tag = "orders",
    security(("session" = [])),
    responses(
        (status = 200, description = "the caller's orders", body = Vec<app::api::Order>),
        refusals::NoSession,
        refusals::Unavailable,
    )
)]
async fn list(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<Order>>, ApiError> {
    Ok(Json(orders.list(user.user_id).await?))
}

/// `GET /api/orders/{id}`: `queued` until persisted; another user's order is a 404.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    operation_id = "show_order",
    tag = "orders",
    params(("id" = String, Path, pattern = "^[1-9][0-9]{0,17}-[0-9a-f]{32}$", description = "the order's id: the sale's id, `-`, 32 hex digits")),
    security(("session" = [])),
    responses(
        (status = 200, description = "the order", body = app::api::Order),
        refusals::Malformed,
        refusals::NoSession,
        refusals::NotFound,
        refusals::Unavailable,
    )
)]
async fn show(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
    id: OrderId,
) -> Result<Json<Order>, ApiError> {
    let order = orders
        .get(&id, user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))?;
    Ok(Json(order))
}

/// `POST /api/orders/{id}/pay`.
#[utoipa::path(
    post,
    path = "/api/orders/{id}/pay",
    operation_id = "pay_order",
    tag = "orders",
    params(("id" = String, Path, pattern = "^[1-9][0-9]{0,17}-[0-9a-f]{32}$", description = "the order's id: the sale's id, `-`, 32 hex digits")),
    security(("session" = [])),
    responses(
        (status = 200, description = "paid", body = app::api::Order),
        refusals::OnOneThing,
        refusals::Conflict,
        refusals::Unavailable,
    )
)]
async fn pay(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
    id: OrderId,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(orders.pay(&id, user.user_id).await?))
}

/// A shopper's cancels of one sale: three at once, then one a minute.
const CANCELS_PER_SALE: Rate = Rate {
    per_second: 1.0 / 60.0,
    burst: 3,
};

/// `POST /api/orders/{id}/cancel`: the unit goes back on sale.
#[utoipa::path(
    post,
    path = "/api/orders/{id}/cancel",
    operation_id = "cancel_order",
    tag = "orders",
    params(("id" = String, Path, pattern = "^[1-9][0-9]{0,17}-[0-9a-f]{32}$", description = "the order's id: the sale's id, `-`, 32 hex digits")),
    security(("session" = [])),
    responses(
        (status = 200, description = "cancelled, the unit returned", body = app::api::Order),
        refusals::OnOneThing,
        refusals::Conflict,
        refusals::RateLimited,
        refusals::Unavailable,
    )
)]
async fn cancel(
    State(orders): State<OrderBook>,
    State(catalog): State<Catalog>,
    State(limiter): State<RateLimiter>,
    CurrentUser(user): CurrentUser,
    id: OrderId,
) -> Result<Json<Order>, ApiError> {
    // Each cancel costs Postgres a write and, on a sold-out sale, every
    // instance a notice: a shopper's cancels of one sale are counted (the
    // bucket carries the sale's hash tag), before any SQL.
    let bucket = limiter
        .keys()
        .rate_bucket(id.sale_id(), &format!("cancel:{}", user.user_id));
    if let Some(wait_secs) = limiter.charge_one(&bucket, CANCELS_PER_SALE).await? {
        return Err(ApiError::retry_later(ErrorCode::RateLimited, wait_secs));
    }
    let cancelled = orders.cancel(&id, user.user_id).await?;
    catalog.stock_changed(cancelled.sale_id).await;
    Ok(Json(cancelled))
}
