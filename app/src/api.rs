//! The JSON shapes of the HTTP API (`docs/API.md`). Times are milliseconds
//! since the Unix epoch, money is integer cents. These types are the one place the
//! wire format is written down in code, so server, client and tests cannot drift.

use serde::{Deserialize, Serialize};

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
    pub price_cents: i64,
    pub list_price_cents: i64,
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

/// Declares [`ErrorCode`] from one list: each code's variant, wire name (also its
/// metric label), HTTP status and usual sentence, so the enum,
/// [`ErrorCode::ALL`], [`ErrorCode::as_str`], [`ErrorCode::status`] and
/// [`ErrorCode::sentence`] cannot disagree. Adding a refusal is one line here
/// and the place that returns it.
macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $status:literal, $sentence:literal;)+) => {
        /// The machine-readable codes of the API's error bodies (docs/API.md): one
        /// vocabulary for the server that sends them, the client that reacts to
        /// them and the tests. Each code has one HTTP status.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        // The wire name is serde's snake_case of the variant (a name passed
        // through this macro would not reach utoipa's schema); a unit test holds
        // it equal to `as_str`.
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)+
            /// A code this build does not know (a newer server), or no API body at all.
            #[serde(other)]
            Unknown,
        }

        impl ErrorCode {
            /// Every code, for tests and for counting outcomes.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+ ErrorCode::Unknown];

            /// The wire name (`"sold_out"`), also used as a metric label.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                    ErrorCode::Unknown => "unknown",
                }
            }

            /// What a refusal with this code says when the place that refuses has
            /// nothing more precise to say.
            pub fn sentence(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $sentence,)+
                    ErrorCode::Unknown => "something went wrong",
                }
            }

            /// The HTTP status an answer with this code has. The server never
            /// sends `unknown`; it stands for 500 should a client meet it.
            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)+
                    ErrorCode::Unknown => 500,
                }
            }
        }
    };
}

error_codes! {
    /// A malformed body, path or query.
    BadRequest = "bad_request", 400, "the request is malformed";
    /// A well-formed body with values the API does not accept (also, with 413,
    /// a picture too large: the one answer whose status is not its code's).
    Invalid = "invalid", 422, "the request has values the API does not accept";
    NotFound = "not_found", 404, "not found";
    Unauthenticated = "unauthenticated", 401, "log in first";
    /// An admin route called by a shopper, or a write from another site.
    Forbidden = "forbidden", 403, "not allowed";
    UsernameTaken = "username_taken", 409, "this username is taken, pick another";
    BadCredentials = "bad_credentials", 401, "wrong username or password";
    /// The sale refuses accounts younger than its minimum age.
    NotEligible = "not_eligible", 403, "this account may not buy in this sale";
    NotStarted = "not_started", 425, "the sale has not started yet";
    SoldOut = "sold_out", 410, "every unit has been sold";
    Ended = "ended", 410, "the sale has ended";
    Paused = "paused", 409, "the sale is paused, try again shortly";
    CaptchaFailed = "captcha_failed", 422, "the CAPTCHA was not solved";
    /// Too many requests; retry after `Retry-After`.
    RateLimited = "rate_limited", 429, "too many requests, slow down";
    BadTicket = "bad_ticket", 403, "this ticket is not valid";
    LimitReached = "limit_reached", 409, "you already hold as many units as this sale allows";
    /// This instance is at its admission limit; retry after `Retry-After`.
    Busy = "busy", 503, "too many shoppers at this instant, try again in a moment";
    Expired = "expired", 409, "the payment window of this order has closed";
    NotPayable = "not_payable", 409, "this order is not waiting for payment";
    NotCancellable = "not_cancellable", 409, "only an unpaid order can be cancelled";
    /// Stock, times or the limit of a sale that has started cannot change.
    AlreadyStarted = "already_started", 409, "stock, times and the limit cannot change once the sale has started";
    /// A dead letter failed again when retried.
    RetryFailed = "retry_failed", 409, "the order could not be saved";
    /// A dead letter's reservation cannot be given up (unreadable, or saved).
    NotReleasable = "not_releasable", 409, "this letter cannot be released";
    /// Redis or Postgres failed; temporary (`Retry-After`).
    Unavailable = "unavailable", 503, "the service is temporarily unavailable, please retry";
    /// `/readyz`: this instance cannot serve the hot path.
    NotReady = "not_ready", 503, "this instance cannot serve the hot path";
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every error body of the API: a stable machine code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
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
    fn error_codes_use_the_api_names_and_unknown_ones_do_not_fail() {
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        let body: ErrorBody =
            serde_json::from_str(r#"{"error": "teapot", "message": "short and stout"}"#).unwrap();
        assert_eq!(body.error, ErrorCode::Unknown);
    }

    #[test]
    fn captcha_kind_round_trips_its_names() {
        for kind in [CaptchaKind::Image, CaptchaKind::Pow, CaptchaKind::None] {
            assert_eq!(CaptchaKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(CaptchaKind::parse("recaptcha"), None);
    }
}

/// `POST /api/auth/register` and `/login`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// 3 to 32 letters, digits, `_`, `.` or `-`.
    #[cfg_attr(
        feature = "ssr",
        schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]+$")
    )]
    pub username: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 8, max_length = 128))]
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Who is logged in (`/api/auth/me`, login and register answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Account {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
}

/// A CAPTCHA challenge (`POST /api/sales/{id}/captcha`). Which optional fields are
/// present depends on `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CaptchaChallenge {
    pub captcha_id: String,
    pub kind: CaptchaKind,
    /// `image`: a data URL (PNG) of the picture with a gap in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `image`: the piece to slide into the gap; the answer is the drag path
    /// (see the ticket request's `answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub puzzle: Option<SlidePuzzle>,
    /// `pow`: find a nonce so that SHA-256 of the salt's text followed by the
    /// nonce in decimal digits has `difficulty_bits` leading zero bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty_bits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    pub expires_at_ms: i64,
}

/// The moving part of an `image` challenge: a piece that slides horizontally
/// over the picture at `piece_top`, starting at its left edge. All sizes are
/// picture pixels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SlidePuzzle {
    /// A data URL (PNG with transparency) of the piece.
    pub piece: String,
    pub piece_top: u32,
    pub piece_width: u32,
    pub piece_height: u32,
    /// The picture's size.
    pub width: u32,
    pub height: u32,
}

/// `POST /api/admin/pictures`: where an uploaded product picture is served; give
/// it to a sale as its `image_url`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PictureUploaded {
    pub url: String,
}

/// `POST /api/sales/{id}/ticket`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TicketRequest {
    /// The challenge's `captcha_id` (empty for a `none` sale).
    #[serde(default)]
    pub captcha_id: String,
    /// `pow`: the nonce in decimal digits. `image` (the sliding puzzle): the drag
    /// path, `at_ms:x` pairs joined by `;` — milliseconds since the first touch
    /// and the piece's left edge in picture pixels, e.g. `0:0;120:35;260:118`;
    /// it passes when it ends within 6 px of the gap and moved like a hand
    /// (several steps, no jump over half the way, not one constant speed, 250 ms
    /// to 60 s). `none`: empty.
    #[serde(default)]
    pub answer: String,
}

/// The dynamic order URL and until when it works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TicketGrant {
    pub buy_path: String,
    pub expires_at_ms: i64,
}

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

/// `202` answer of the buy path: the order id to poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BuyAccepted {
    pub order_id: String,
    pub status: OrderStatus,
}

/// An order as its buyer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Order {
    pub order_id: String,
    pub sale_id: i64,
    pub status: OrderStatus,
    pub units: i32,
    pub price_cents: i64,
    pub created_at_ms: i64,
    pub pay_before_ms: i64,
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
    /// Stock, times and the limit change only before the start (409 `already_started`).
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
