//! The HTTP routes of the JSON API and of operations, one module per area.

pub mod health;
pub mod sales;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

/// A sale id taken from the path; anything but a positive integer is a 400
/// `bad_request` with the API's error body (never axum's plain-text rejection).
#[derive(Clone, Copy, Debug)]
pub struct SaleId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for SaleId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::BadRequest("the path is not valid".into()))?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| ApiError::BadRequest("the path names no sale".into()))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(SaleId)
            .ok_or_else(|| ApiError::BadRequest(format!("`{raw}` is not a sale id")))
    }
}

/// Any other `/api/...` path: a JSON 404, not the HTML page of the shop.
pub async fn api_not_found() -> ApiError {
    ApiError::NotFound("API endpoint")
}
