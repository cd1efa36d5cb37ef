//! Sales as shoppers see them: the sale, its state and status, the CAPTCHA kinds.

use serde::{Deserialize, Serialize};

use super::AdmissionMode;
use crate::money::Currency;

/// How a shopper proves to be a person before getting a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaptchaKind {
    Image,
    Pow,
    None,
}

impl CaptchaKind {
    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptchaKind::Image => "image",
            CaptchaKind::Pow => "pow",
            CaptchaKind::None => "none",
        }
    }

    /// Parses the wire/database name; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "image" => Some(CaptchaKind::Image),
            "pow" => Some(CaptchaKind::Pow),
            "none" => Some(CaptchaKind::None),
            _ => None,
        }
    }
}

/// A scheduled sale of a few units at a fixed start time (docs/API.md `sale`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Sale {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub image_url: String,
    /// In the currency's minor unit (cents, yen: see `currency`).
    pub price_cents: i64,
    pub list_price_cents: i64,
    /// ISO 4217 code of the prices.
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "USD"))]
    pub currency: Currency,
    /// Units on offer in total (not what is left: the status' `stock_left`).
    pub stock: i32,
    pub per_user_limit: i32,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub payment_window_secs: i32,
    pub captcha: CaptchaKind,
    pub min_account_age_days: i32,
    /// Paused by an admin: nothing is sold while set.
    #[serde(default)]
    pub paused: bool,
    /// `race` (first come at the start) or `queue` (a waiting room).
    #[serde(default)]
    pub admission: AdmissionMode,
    /// A `queue` sale's line opens then (at or before the start); `null` for a
    /// `race` sale.
    #[serde(default)]
    pub queue_opens_at_ms: Option<i64>,
    /// A `queue` sale lets in at most this many undecided shoppers (admitted,
    /// neither bought nor lapsed) per unit left.
    #[serde(default = "default_queue_window_per_unit")]
    pub queue_window_per_unit: i32,
    /// A `queue` sale lets in at most this many shoppers a second.
    #[serde(default = "default_queue_pace_per_s")]
    pub queue_pace_per_s: i32,
}

/// [`Sale::queue_window_per_unit`] unless the admin chose another.
pub const QUEUE_WINDOW_PER_UNIT: i32 = 2;
/// [`Sale::queue_pace_per_s`] unless the admin chose another.
pub const QUEUE_PACE_PER_S: i32 = 200;
/// How long before the start a `queue` sale's line opens unless the admin chose.
pub const QUEUE_OPENS_BEFORE_MS: i64 = 10 * 60 * 1000;

fn default_queue_window_per_unit() -> i32 {
    QUEUE_WINDOW_PER_UNIT
}

fn default_queue_pace_per_s() -> i32 {
    QUEUE_PACE_PER_S
}

/// Where a sale stands right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SaleState {
    Scheduled,
    Live,
    SoldOut,
    Ended,
    Paused,
}

impl SaleState {
    /// The wire name, also used as a CSS class.
    pub fn as_str(self) -> &'static str {
        match self {
            SaleState::Scheduled => "scheduled",
            SaleState::Live => "live",
            SaleState::SoldOut => "sold_out",
            SaleState::Ended => "ended",
            SaleState::Paused => "paused",
        }
    }

    /// What a shopper reads on a badge.
    pub fn label(self) -> &'static str {
        match self {
            SaleState::Scheduled => "Starts soon",
            SaleState::Live => "Live now",
            SaleState::SoldOut => "Sold out",
            SaleState::Ended => "Ended",
            SaleState::Paused => "Paused",
        }
    }
}

/// The tiny, uncacheable answer of `GET /api/sales/{id}/status`. The client uses
/// `server_time_ms` to run its countdown on the server's clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SaleStatus {
    pub state: SaleState,
    pub server_time_ms: i64,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub stock_left: i64,
    /// How often a page should read the status again while the sale is live
    /// (before a small random spread); slower otherwise.
    #[serde(default = "default_live_refresh_ms")]
    pub live_refresh_ms: u32,
    /// When the last unit went (server clock, ms), while nothing is left;
    /// `null` otherwise (and for a sale sold out before Redis lost it).
    #[serde(default)]
    pub sold_out_at_ms: Option<i64>,
}

/// [`SaleStatus::live_refresh_ms`] when the server did not say.
pub const LIVE_REFRESH_MS: u32 = 3_000;

fn default_live_refresh_ms() -> u32 {
    LIVE_REFRESH_MS
}

#[cfg(test)]
impl Sale {
    /// A sale for unit tests: five units of a keyboard, one per shopper, a
    /// proof-of-work CAPTCHA, open from `starts_at_ms` to `ends_at_ms`.
    pub(crate) fn example(starts_at_ms: i64, ends_at_ms: i64) -> Self {
        Sale {
            id: 1,
            title: "Keyboard".into(),
            description: String::new(),
            image_url: String::new(),
            price_cents: 100,
            list_price_cents: 200,
            currency: Currency::USD,
            stock: 5,
            per_user_limit: 1,
            starts_at_ms,
            ends_at_ms,
            payment_window_secs: 900,
            captcha: CaptchaKind::Pow,
            min_account_age_days: 0,
            paused: false,
            admission: AdmissionMode::Race,
            queue_opens_at_ms: None,
            queue_window_per_unit: QUEUE_WINDOW_PER_UNIT,
            queue_pace_per_s: QUEUE_PACE_PER_S,
        }
    }
}

/// A sale as the lists show it: the sale plus where it stood when the list was
/// made (`GET /api/sales` answers these; the extra fields are allowed by the API).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SaleListing {
    #[serde(flatten)]
    pub sale: Sale,
    pub state: SaleState,
    pub stock_left: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sale_state_uses_the_api_names() {
        let json = serde_json::to_string(&SaleState::SoldOut).unwrap();
        assert_eq!(json, "\"sold_out\"");
        for state in [
            SaleState::Scheduled,
            SaleState::Live,
            SaleState::SoldOut,
            SaleState::Ended,
            SaleState::Paused,
        ] {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
    }

    #[test]
    fn captcha_kind_round_trips_its_names() {
        for kind in [CaptchaKind::Image, CaptchaKind::Pow, CaptchaKind::None] {
            assert_eq!(CaptchaKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(CaptchaKind::parse("recaptcha"), None);
    }
}
