//! The error of the HTTP layer. Each error knows its status and API error code;
//! the response body is always API.md's `{error, message}` and never carries
//! internals.
//!
//! A storage failure is logged once, here at the boundary: the response carries
//! the error in its extensions and [`log_failures`], a middleware inside the
//! `TraceLayer` (whose span names the matched route), writes it with its source
//! chain. Refusals (4xx) are answers, not failures, and are not logged.

use std::sync::Arc;

use app::api::{ErrorBody, ErrorCode};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::{error_chain, StoreError};

/// What went wrong while answering an API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request was understood and refused; the client may show `message`.
    #[error("{code}: {message}")]
    Rejected {
        status: StatusCode,
        code: ErrorCode,
        message: String,
        /// Seconds to wait before retrying (`Retry-After`), for 429 and 503.
        retry_after_secs: Option<u64>,
    },
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

impl ApiError {
    /// A refusal with the given status, API code and human message.
    pub fn rejected(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Rejected {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::rejected(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::rejected(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Invalid,
            message,
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::rejected(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    pub fn unauthenticated() -> Self {
        Self::rejected(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "log in first",
        )
    }

    pub fn forbidden(message: &str) -> Self {
        Self::rejected(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// 503 `busy` or 429 `rate_limited` with a `Retry-After`.
    pub fn retry_later(status: StatusCode, code: ErrorCode, message: &str, secs: u64) -> Self {
        ApiError::Rejected {
            status,
            code,
            message: message.into(),
            retry_after_secs: Some(secs.max(1)),
        }
    }

    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Rejected { status, .. } => *status,
            // A storage hiccup is temporary: tell clients to retry, do not blame them.
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable machine-readable code of API.md.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Rejected { code, .. } => *code,
            ApiError::Store(_) => ErrorCode::Unavailable,
        }
    }
}

/// A failure carried from the handler to [`log_failures`] in the response's
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
            ApiError::Store(source) => (
                "the service is temporarily unavailable, please retry".into(),
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

/// Middleware: logs the storage failure behind a response, once, with its
/// source chain; an outage as a warning, anything else (bad data, a bug) as an
/// error.
pub async fn log_failures(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(Failure(error)) = response.extensions().get::<Failure>() {
        let chain = error_chain(error.as_ref());
        if error.is_outage() {
            tracing::warn!(error = %chain, "a dependency is unavailable");
        } else {
            tracing::error!(error = %chain, "request failed");
        }
    }
    response
}

/// Middleware: a request still unanswered after `limit` is answered 503
/// `unavailable` (with `Retry-After`) and its handler dropped, so a stuck
/// dependency cannot hold connections and memory without end. A buy dropped this
/// way is safe to retry: the same ticket returns the same order.
pub async fn time_limit(limit: std::time::Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            // The request's span (TraceLayer, outside) names the route.
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            ApiError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "the service took too long to answer, please retry",
                1,
            )
            .into_response()
        }
    }
}

/// Any other `/api/...` path: a JSON 404, not the HTML page of the shop.
pub async fn api_not_found() -> ApiError {
    ApiError::not_found("API endpoint")
}
