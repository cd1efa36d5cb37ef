//! A buyer's orders: list, poll, pay (simulated), cancel.

use app::api::Order;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::error::ApiError;
use crate::orders::{OrderBook, OrderError};
use crate::routes::OrderIdParam;
use crate::sessions::CurrentUser;

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound => ApiError::not_found("order"),
            OrderError::Expired => ApiError::rejected(
                StatusCode::CONFLICT,
                "expired",
                "the payment window of this order has closed",
            ),
            OrderError::NotPayable => ApiError::rejected(
                StatusCode::CONFLICT,
                "not_payable",
                "this order is not waiting for payment",
            ),
            OrderError::NotCancellable => ApiError::rejected(
                StatusCode::CONFLICT,
                "not_cancellable",
                "only an unpaid order can be cancelled",
            ),
            OrderError::Store(error) => error.into(),
        }
    }
}

/// `GET /api/orders`.
pub async fn list(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<Order>>, ApiError> {
    Ok(Json(orders.list(user.user_id).await?))
}

/// `GET /api/orders/{id}`: `queued` until persisted; another user's order is a 404.
pub async fn get(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
    OrderIdParam(id): OrderIdParam,
) -> Result<Json<Order>, ApiError> {
    let order = orders
        .get(&id, user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("order"))?;
    Ok(Json(order))
}

/// `POST /api/orders/{id}/pay`.
pub async fn pay(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
    OrderIdParam(id): OrderIdParam,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(orders.pay(&id, user.user_id).await?))
}

/// `POST /api/orders/{id}/cancel`: the unit goes back on sale.
pub async fn cancel(
    State(orders): State<OrderBook>,
    CurrentUser(user): CurrentUser,
    OrderIdParam(id): OrderIdParam,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(orders.cancel(&id, user.user_id).await?))
}
