//! The error of the HTTP layer. Each error knows its API error code, and the code
//! its status (`app::api::ErrorCode::status`); the response body is always the
//! API's `{error, message}` and never carries internals.
//!
//! A storage failure is logged once, here at the boundary: the response carries
//! the error in its extensions and [`log_failure`], called by
//! [`super::frame`] inside the request's span (which names the matched route),
//! writes it with its source chain. Refusals (4xx) are answers, not failures,
//! and are not logged.

use std::sync::Arc;

use app::api::{ErrorBody, ErrorCode};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::{error_chain, StoreError};

/// What went wrong while answering an API request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// The request was understood and refused; the client may show `message`.
    /// The status is the code's ([`ErrorCode::status`]).
    #[error("{code}: {message}")]
    Rejected {
        code: ErrorCode,
        message: String,
        /// Seconds to wait before retrying (`Retry-After`), for 429 and 503.
        retry_after_secs: Option<u64>,
    },
    /// An upload larger than the route takes: 413 with the code `invalid`, the
    /// one answer whose status is not its code's (the code predates the status).
    #[error("invalid: {0}")]
    TooLarge(String),
    /// Postgres or Redis failed; temporary from the client's point of view.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Store(StoreError::Database(error))
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> Self {
        ApiError::Store(StoreError::Redis(error))
    }
}

/// A refusal saying the code's usual sentence. (429 and 503 tell the client when
/// to come back: build them with [`ApiError::retry_later`].)
impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        debug_assert!(
            !tells_when_to_retry(code.status()),
            "{code} needs a Retry-After: use ApiError::retry_later"
        );
        ApiError::refused(code, code.sentence())
    }
}

impl ApiError {
    /// A refusal with the given code and a sentence more precise than the code's own.
    pub fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Rejected {
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::refused(ErrorCode::BadRequest, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::refused(ErrorCode::Invalid, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::refused(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn unauthenticated() -> Self {
        ErrorCode::Unauthenticated.into()
    }

    pub fn forbidden(message: &str) -> Self {
        Self::refused(ErrorCode::Forbidden, message)
    }

    /// A refusal that tells the client when to come back (`Retry-After`):
    /// 429 `rate_limited`, 503 `busy` or `unavailable`.
    pub fn retry_later(code: ErrorCode, secs: u64) -> Self {
        Self::retry_later_because(code, secs, code.sentence())
    }

    /// [`Self::retry_later`] with a sentence more precise than the code's own.
    pub fn retry_later_because(code: ErrorCode, secs: u64, message: impl Into<String>) -> Self {
        ApiError::Rejected {
            code,
            message: message.into(),
            retry_after_secs: Some(secs.max(1)),
        }
    }

    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Rejected { code, .. } => status_of(*code),
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // A storage hiccup is temporary: tell clients to retry, do not blame them.
            ApiError::Store(_) => status_of(ErrorCode::Unavailable),
        }
    }

    /// The stable machine-readable code of the API.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Rejected { code, .. } => *code,
            ApiError::TooLarge(_) => ErrorCode::Invalid,
            ApiError::Store(_) => ErrorCode::Unavailable,
        }
    }
}

/// Whether an answer with `status` tells the client when to come back
/// (`Retry-After`): 429 and 503, whether built here or described in the document.
pub(crate) fn tells_when_to_retry(status: u16) -> bool {
    matches!(status, 429 | 503)
}

/// The status of `code` as axum's type.
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A failure carried from the handler to [`log_failure`] in the response's
/// extensions (which need `Clone`, hence the `Arc`).
#[derive(Clone, Debug)]
struct Failure(Arc<StoreError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let code = self.code();
        let (message, retry_after, failure) = match self {
            ApiError::Rejected {
                message,
                retry_after_secs,
                ..
            } => (message, retry_after_secs, None),
            ApiError::TooLarge(message) => (message, None, None),
            ApiError::Store(source) => (
                code.sentence().into(),
                Some(1),
                Some(Failure(Arc::new(source))),
            ),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: code,
                message,
            }),
        )
            .into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(failure) = failure {
            response.extensions_mut().insert(failure);
        }
        response
    }
}

/// Logs the storage failure behind a response, once, with its source chain:
/// an outage as a warning, anything else (bad data, a bug) as an error. A 5xx
/// with no failure behind it (a page that failed to render, say) is logged with
/// its status. Called by [`super::frame`] inside the request's span.
pub(crate) fn log_failure(response: &Response) {
    match response.extensions().get::<Failure>() {
        Some(Failure(error)) => {
            let chain = error_chain(error.as_ref());
            if error.is_outage() {
                tracing::warn!(error = %chain, "a dependency is unavailable");
            } else {
                tracing::error!(error = %chain, "request failed");
            }
        }
        None if response.status().is_server_error() => {
            tracing::error!(status = response.status().as_u16(), "request failed");
        }
        None => {}
    }
}

/// The answer to a request still unanswered after `limit`: 503 `unavailable`
/// with `Retry-After` (its handler is dropped, so a stuck dependency cannot
/// hold connections and memory without end). A buy dropped this way is safe to
/// retry: the same ticket returns the same order.
pub(crate) fn timed_out(limit: std::time::Duration) -> Response {
    tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
    ApiError::Rejected {
        code: ErrorCode::Unavailable,
        message: "the service took too long to answer, please retry".into(),
        retry_after_secs: Some(1),
    }
    .into_response()
}

/// Any other `/api/...` path: a JSON 404, not the HTML page of the shop.
pub(crate) async fn api_not_found() -> ApiError {
    ApiError::not_found("API endpoint")
}

/// The error answers of the API for its OpenAPI document: one type per status,
/// named in the operations' `responses(...)`. Each one's description lists the
/// codes that answer with its status, read from [`ErrorCode::ALL`], so a new
/// code appears in the document without a word written here; 429 and 503 also
/// declare their `Retry-After` header. Never built: only their descriptions are used.
#[allow(dead_code)]
pub(crate) mod refusals {
    use std::collections::BTreeMap;

    use app::api::ErrorCode;
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{Ref, RefOr, Response, ResponseBuilder};
    use utoipa::IntoResponses;

    /// The response of `status`: the `{error, message}` body and which codes it carries.
    fn refusal(status: u16, meaning: &str) -> BTreeMap<String, RefOr<Response>> {
        let codes: Vec<String> = ErrorCode::ALL
            .iter()
            .filter(|code| code.status() == status && **code != ErrorCode::Unknown)
            .map(|code| format!("`{}`", code.as_str()))
            .collect();
        let mut description = meaning.to_owned();
        if !codes.is_empty() {
            description.push_str(&format!("; `error` is one of {}", codes.join(", ")));
        }
        let mut response = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        );
        if crate::http::error::tells_when_to_retry(status) {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    )
                    .description(Some("whole seconds to wait before trying again"))
                    .build(),
            );
        }
        BTreeMap::from([(status.to_string(), response.build().into())])
    }

    macro_rules! refusals {
        ($($(#[doc = $doc:literal])* $name:ident = $status:literal, $meaning:literal;)+) => {
            $(
                $(#[doc = $doc])*
                pub(crate) struct $name;

                impl IntoResponses for $name {
                    fn responses() -> BTreeMap<String, RefOr<Response>> {
                        refusal($status, $meaning)
                    }
                }
            )+
        };
    }

    refusals! {
        Malformed = 400, "a malformed path, query or body";
        NoSession = 401, "no session (or it ended), or a wrong password";
        Forbidden = 403, "not allowed: not an admin, a write from another site, or a refused ticket";
        NotFound = 404, "no such thing";
        Conflict = 409, "refused in this state";
        Gone = 410, "sold out or ended";
        /// The one status that is not its code's: `invalid` for a body too large.
        TooLarge = 413, "the body is too large; `error` is `invalid`";
        Invalid = 422, "a well-formed body with values the API does not accept";
        NotStarted = 425, "the sale has not started";
        RateLimited = 429, "rate limited; see Retry-After";
        Unavailable = 503, "busy or a store is away; see Retry-After";
    }

    /// Sets of answers that come together, so an operation names what it may
    /// answer in a few words; each is the union of its parts' answers.
    macro_rules! refusal_sets {
        ($($(#[doc = $doc:literal])* $name:ident = $($part:ident)+;)+) => {
            $(
                $(#[doc = $doc])*
                pub(crate) struct $name;

                impl IntoResponses for $name {
                    fn responses() -> BTreeMap<String, RefOr<Response>> {
                        let mut all = BTreeMap::new();
                        $(all.extend($part::responses());)+
                        all
                    }
                }
            )+
        };
    }

    refusal_sets! {
        /// An operation on one thing its path names, by a logged-in caller: a
        /// malformed id, no session, not allowed (not an admin, or a write from
        /// another site), no such thing.
        OnOneThing = Malformed NoSession Forbidden NotFound;
        /// What a sale refuses in its state: paused, sold out or ended, not started.
        SaleNotOpen = Conflict Gone NotStarted;
    }
}
