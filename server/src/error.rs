//! The error of the HTTP layer. Each error knows its status and API error code;
//! the response body is always API.md's `{error, message}` and never carries
//! internals. Storage failures are logged here, once, with their source.

use app::api::ErrorBody;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::catalog::StoreError;

/// What went wrong while answering an API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request was understood and refused; the client may show `message`.
    #[error("{code}: {message}")]
    Rejected {
        status: StatusCode,
        code: &'static str,
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
    pub fn rejected(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Rejected {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::rejected(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::rejected(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::rejected(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn unauthenticated() -> Self {
        Self::rejected(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first")
    }

    pub fn forbidden() -> Self {
        Self::rejected(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this needs an admin account",
        )
    }

    /// 503 `busy` or 429 `rate_limited` with a `Retry-After`.
    pub fn retry_later(status: StatusCode, code: &'static str, message: &str, secs: u64) -> Self {
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
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Rejected { code, .. } => code,
            ApiError::Store(_) => "unavailable",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let code = self.code();
        let (message, retry_after) = match self {
            ApiError::Rejected {
                message,
                retry_after_secs,
                ..
            } => (message, retry_after_secs),
            ApiError::Store(source) => {
                tracing::error!(error = %source, "storage failure while answering a request");
                (
                    "the service is temporarily unavailable, please retry".into(),
                    Some(1),
                )
            }
        };
        let body = ErrorBody {
            error: code.into(),
            message,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
