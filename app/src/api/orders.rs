//! Orders as their buyer sees them.

use serde::{Deserialize, Serialize};

use crate::money::Currency;

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Reserved in Redis, not yet persisted.
    Queued,
    PendingPayment,
    Paid,
    Expired,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Queued => "queued",
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(OrderStatus::Queued),
            "pending_payment" => Some(OrderStatus::PendingPayment),
            "paid" => Some(OrderStatus::Paid),
            "expired" => Some(OrderStatus::Expired),
            "cancelled" => Some(OrderStatus::Cancelled),
            _ => None,
        }
    }
}

/// An order as its buyer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Order {
    pub order_id: String,
    pub sale_id: i64,
    pub status: OrderStatus,
    pub units: i32,
    /// The total, in the minor unit of `currency`.
    pub price_cents: i64,
    /// The sale's currency (ISO 4217).
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "USD"))]
    pub currency: Currency,
    pub created_at_ms: i64,
    pub pay_before_ms: i64,
}

/// An order as the admin's list of a sale shows it: the order and who placed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SaleOrder {
    #[serde(flatten)]
    pub order: Order,
    /// The buyer's username.
    pub buyer: String,
}
