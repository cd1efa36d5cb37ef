//! Extractors that turn requests into typed values with docs/API.md's error bodies
//! (never axum's plain-text rejections): path ids, the client's address, JSON
//! bodies, and the logged-in user.

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::ClientIpPolicy;
use crate::accounts::sessions::{token_from, Session, SessionStore};
use crate::orders::id::OrderId;
use crate::sales::id::SaleId;

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

/// A sale id taken from the path (`{id}`); anything but a positive integer is a 400.
impl<S: Send + Sync> FromRequestParts<S> for SaleId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, state, "id").await?;
        SaleId::parse(&raw).map_err(ApiError::bad_request)
    }
}

/// An order id taken from the path (`{id}`); malformed ids are a 400.
impl<S: Send + Sync> FromRequestParts<S> for OrderId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_param(parts, state, "id").await?;
        OrderId::parse(&raw)
            .ok_or_else(|| ApiError::bad_request(format!("`{raw}` is not an order id")))
    }
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` entry
/// when the deployment says a trusted proxy sets it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientIp(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp
where
    ClientIpPolicy: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let policy = ClientIpPolicy::from_ref(state);
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
/// well-formed JSON of the wrong shape, or with text Postgres cannot store (a
/// NUL character), is 422 `invalid` — refused here, before it can reach SQL and
/// come back looking like an outage.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => value,
            Err(JsonRejection::JsonDataError(error)) => {
                return Err(ApiError::invalid(error.body_text()))
            }
            Err(error) => return Err(ApiError::bad_request(error.body_text())),
        };
        if holds_nul(&value) {
            return Err(ApiError::invalid("text may not contain NUL characters"));
        }
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|error| ApiError::invalid(error.to_string()))
    }
}

/// Whether any string (or key) of `value` has a NUL character.
fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// The logged-in user of a request; 401 `unauthenticated` without a valid session.
#[derive(Clone, Debug)]
pub(crate) struct CurrentUser(pub Session);

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    SessionStore: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = token_from(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        let sessions = SessionStore::from_ref(state);
        let session = sessions
            .find(&token)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        Ok(CurrentUser(session))
    }
}

/// An admin's session; 401 without a session, 403 `forbidden` for shoppers.
#[derive(Clone, Debug)]
pub(crate) struct AdminUser(pub Session);

impl<S> FromRequestParts<S> for AdminUser
where
    S: Send + Sync,
    SessionStore: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentUser(session) = CurrentUser::from_request_parts(parts, state).await?;
        if !session.is_admin {
            return Err(ApiError::forbidden("this needs an admin account"));
        }
        Ok(AdminUser(session))
    }
}

#[cfg(test)]
mod tests {
    use super::holds_nul;
    use serde_json::json;

    #[test]
    fn a_nul_anywhere_in_the_text_is_found() {
        assert!(!holds_nul(&json!({"username": "alice", "n": [1, "two"]})));
        assert!(holds_nul(&json!({"username": "al\u{0}ice"})));
        assert!(holds_nul(&json!({"tags": ["ok", {"deep": "\u{0}"}]})));
        assert!(holds_nul(&json!({"key\u{0}": 1})));
    }
}
