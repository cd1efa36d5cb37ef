//! The error body every refusal carries and its codes, each with its status.

use serde::{Deserialize, Serialize};

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
    /// A queue sale's challenge or ticket asked by a shopper not let in (not in
    /// line, not yet their turn, or their turn lapsed).
    NotAdmitted = "not_admitted", 403, "wait for your turn in the line";
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
}
