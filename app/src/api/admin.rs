//! What admins send and read: drafts and edits of sales, statistics, the
//! books, dead letters and uploaded pictures.

use serde::{Deserialize, Serialize};

use super::{AdmissionMode, CaptchaKind};
use crate::money::Currency;

/// `POST /api/admin/pictures`: where an uploaded product picture is served; give
/// it to a sale as its `image_url`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PictureUploaded {
    pub url: String,
}

/// `POST /api/admin/sales`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SaleDraft {
    /// 1 to 200 characters once surrounding spaces are trimmed.
    pub title: String,
    /// At most 10,000 characters.
    #[serde(default)]
    pub description: String,
    /// Empty, an `http://` or `https://` URL, or a path starting with `/` (an
    /// uploaded picture's `url`), once surrounding spaces are trimmed.
    #[serde(default)]
    pub image_url: String,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub price_cents: i64,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub list_price_cents: i64,
    /// ISO 4217 code of the prices (a currency in circulation); left out, the
    /// shop's default (`FLASHSALE_CURRENCY`). Prices are in its minor unit.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, example = "USD"))]
    pub currency: Option<Currency>,
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub stock: i32,
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub per_user_limit: i32,
    pub starts_at_ms: i64,
    /// After `starts_at_ms`.
    pub ends_at_ms: i64,
    /// 1 second to 7 days.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 604800))]
    pub payment_window_secs: i32,
    pub captcha: CaptchaKind,
    /// Accounts younger than this many days may not buy (0: anyone).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub min_account_age_days: i32,
    /// `race` or `queue`; left out, `race` (as before the waiting room).
    #[serde(default)]
    pub admission: Option<AdmissionMode>,
    /// A `queue` sale's line opens then: at or before the start; left out, 10
    /// minutes before it. Ignored for a `race` sale.
    #[serde(default)]
    pub queue_opens_at_ms: Option<i64>,
    /// Undecided admitted shoppers per unit left (1 to 100; left out, 2).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub queue_window_per_unit: Option<i32>,
    /// Shoppers let in per second at most (1 to 100,000; left out, 200).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100000))]
    pub queue_pace_per_s: Option<i32>,
}

/// `GET /api/admin/sale-defaults`: what a new sale gets where its draft is
/// silent (`FLASHSALE_CURRENCY`), so the admin's form can propose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SaleDefaults {
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "USD"))]
    pub currency: Currency,
}

/// `PATCH /api/admin/sales/{id}`: any subset of the fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SalePatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub price_cents: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub list_price_cents: Option<i64>,
    /// Before the start only, like stock, times and the limit.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, example = "USD"))]
    pub currency: Option<Currency>,
    /// Stock, times, the limit and the currency change only before the start (409 `already_started`).
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub stock: Option<i32>,
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub per_user_limit: Option<i32>,
    pub starts_at_ms: Option<i64>,
    pub ends_at_ms: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 604800))]
    pub payment_window_secs: Option<i32>,
    pub captcha: Option<CaptchaKind>,
    #[cfg_attr(feature = "ssr", schema(minimum = 0))]
    pub min_account_age_days: Option<i32>,
    /// Before the start only.
    pub admission: Option<AdmissionMode>,
    /// Before the start only; at or before the start.
    pub queue_opens_at_ms: Option<i64>,
    /// May change while the sale runs (the pace of the line).
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub queue_window_per_unit: Option<i32>,
    /// May change while the sale runs.
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100000))]
    pub queue_pace_per_s: Option<i32>,
}

/// `GET /api/admin/sales/{id}/stats`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SaleStats {
    pub stock: i64,
    pub stock_left: i64,
    pub queued: i64,
    pub pending_payment: i64,
    pub paid: i64,
    pub expired: i64,
    pub cancelled: i64,
    pub attempts: i64,
    pub rejected: std::collections::BTreeMap<String, i64>,
    pub dead_letters: i64,
    pub drift: i64,
}

/// Redis against Postgres for one sale (`GET /api/admin/sales/{id}/reconcile`).
/// Once queues drain: stock = stock left + queued + pending + paid + owed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Reconciliation {
    pub stock: i64,
    /// Redis: units left to sell.
    pub stock_left: i64,
    /// Redis: units reserved, not yet persisted.
    pub queued_units: i64,
    /// Redis: units held per buyer, summed (should equal queued + pending + paid).
    pub buyer_units: i64,
    /// Postgres: units in orders waiting for payment.
    pub pending_units: i64,
    /// Postgres: units in paid orders.
    pub paid_units: i64,
    /// Postgres: units of expired/cancelled orders not yet back in Redis.
    pub owed_units: i64,
    /// `stock - stock_left - queued - pending - paid - owed`; 0 when the books agree.
    pub drift: i64,
}

/// An order message that failed too often and waits for an admin
/// (`GET /api/admin/dead-letters`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// The id of the entry in the dead-letter stream.
    pub id: String,
    pub sale_id: i64,
    /// The original message id in the sale's order stream.
    pub message_id: String,
    /// The message's fields as they were in the stream.
    pub payload: std::collections::BTreeMap<String, String>,
    pub deliveries: i64,
    pub last_error: String,
}

/// `POST /api/admin/dead-letters/{id}/retry`: the letter that is now an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeadLetterRetried {
    pub retried: String,
}

/// `POST /api/admin/dead-letters/{id}/release`: the letter whose reservation
/// was given up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeadLetterReleased {
    pub released: String,
}
