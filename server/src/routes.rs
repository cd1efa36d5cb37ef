//! The HTTP routes of the JSON API and of operations, one module per area, plus
//! the extractors that turn paths and bodies into typed values with API.md's
//! error bodies (never axum's plain-text rejections).

pub mod accounts;
pub mod admin;
pub mod health;
pub mod orders;
pub mod purchase;
pub mod sales;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The raw value of the path parameter `name`.
async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::bad_request("the path is not valid"))?;
    params
        .iter()
        .find(|(param, _)| *param == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::bad_request(format!("the path has no `{name}`")))
}

/// A sale id taken from the path; anything but a positive integer is a 400.
#[derive(Clone, Copy, Debug)]
pub struct SaleId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for SaleId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, state, "id").await?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(SaleId)
            .ok_or_else(|| ApiError::bad_request(format!("`{raw}` is not a sale id")))
    }
}

/// An order id taken from the path (`{id}`); malformed ids are a 400.
#[derive(Clone, Debug)]
pub struct OrderIdParam(pub crate::orders::OrderId);

impl<S: Send + Sync> FromRequestParts<S> for OrderIdParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, state, "id").await?;
        crate::orders::OrderId::parse(&raw)
            .map(OrderIdParam)
            .ok_or_else(|| ApiError::bad_request(format!("`{raw}` is not an order id")))
    }
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` entry
/// when the deployment says a trusted proxy sets it.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    crate::startup::ClientIpPolicy: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::{ConnectInfo, FromRef};
        let policy = crate::startup::ClientIpPolicy::from_ref(state);
        let forwarded = policy
            .trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get("x-forwarded-for")?
                    .to_str()
                    .ok()?
                    .split(',')
                    .next()?
                    .trim()
                    .parse()
                    .ok()
            })
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(forwarded.or(peer).unwrap_or(
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        )))
    }
}

/// A JSON body. Unparseable JSON or a wrong content type is 400 `bad_request`;
/// well-formed JSON of the wrong shape is 422 `invalid`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(error)) => Err(ApiError::invalid(error.body_text())),
            Err(error) => Err(ApiError::bad_request(error.body_text())),
        }
    }
}

/// Any other `/api/...` path: a JSON 404, not the HTML page of the shop.
pub async fn api_not_found() -> ApiError {
    ApiError::not_found("API endpoint")
}
