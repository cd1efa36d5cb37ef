//! The error of the HTTP layer. Each variant knows its status and API error code;
//! the response body is always API.md's `{error, message}` and never carries
//! internals. Storage failures are logged here, once, with their source chain.

use app::api::ErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::catalog::StoreError;

/// What went wrong while answering an API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed (path, query or body).
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(&'static str),
    /// Postgres or Redis failed; temporary from the client's point of view.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            // A storage hiccup is temporary: tell clients to retry, do not blame them.
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable machine-readable code of API.md.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::Store(_) => "unavailable",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            ApiError::BadRequest(message) => message.clone(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::Store(source) => {
                tracing::error!(error = %source, "storage failure while answering a request");
                "the service is temporarily unavailable, please retry".into()
            }
        };
        let body = ErrorBody {
            error: self.code().into(),
            message,
        };
        (self.status_code(), Json(body)).into_response()
    }
}
