//! A buyer's orders: list, poll, pay (simulated), cancel.

use app::api::{ErrorCode, Order};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::extract::CurrentUser;
use super::state::AppState;
use crate::orders::book::{OrderBook, OrderError};
use crate::orders::id::OrderId;
use crate::sales::catalog::Catalog;

/// `/api/orders…`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/orders", get(list))
        .route("/api/orders/{id}", get(show))
        .route("/api/orders/{id}/pay", post(pay))
        .route("/api/orders/{id}/cancel", post(cancel))
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound => ApiError::not_found("order"),
            OrderError::Expired => ApiError::rejected(
                StatusCode::CONFLICT,
                ErrorCode::Expired,
                "the payment window of this order has closed",
            ),
            OrderError::NotPayable => ApiError::rejected(
                StatusCode::CONFLICT,
                ErrorCode::NotPayable,
                "this order is not waiting for payment",
            ),
            OrderError::NotCancellable => ApiError::rejected(
                StatusCode::CONFLICT,
                ErrorCode::NotCancellable,
                "only an unpaid order can be cancelled",
            ),
            OrderError::Store(error) => error.into(),
        }
    }
}

/// `GET /api/orders`.
async fn list(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<Order>>, ApiError> {
    Ok(Json(orders.list(user.user_id).await?))
}

/// `GET /api/orders/{id}`: `queued` until persisted; another user's order is a 404.
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
async fn pay(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
    id: OrderId,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(orders.pay(&id, user.user_id).await?))
}

/// `POST /api/orders/{id}/cancel`: the unit goes back on sale.
async fn cancel(
    State(orders): State<OrderBook>,
    State(catalog): State<Catalog>,
    CurrentUser(user): CurrentUser,
    id: OrderId,
) -> Result<Json<Order>, ApiError> {
    let cancelled = orders.cancel(&id, user.user_id).await?;
    catalog.stock_changed(cancelled.sale_id).await;
    Ok(Json(cancelled))
}
