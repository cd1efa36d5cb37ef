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
use crate::accounts::users::Accounts;
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
        let hops = ClientIpPolicy::from_ref(state).trusted_proxies;
        let peer = parts
            .extensions
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        if hops == 0 {
            warn_if_behind_a_proxy(peer);
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok());
        Ok(ClientIp(client_address(forwarded, peer, hops).unwrap_or(
            std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        )))
    }
}

/// The client behind `hops` proxies of ours: the `hops`-th `X-Forwarded-For`
/// entry from the right (each of our proxies appended its peer; whatever is
/// further left the client wrote itself and proves nothing). Without proxies,
/// or with fewer entries than proxies (a request that did not come through
/// them), the connection's peer.
fn client_address<'a>(
    forwarded: impl Iterator<Item = &'a str>,
    peer: Option<std::net::IpAddr>,
    hops: usize,
) -> Option<std::net::IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = forwarded.flat_map(|value| value.split(',')).collect();
    let Some(index) = entries.len().checked_sub(hops) else {
        return peer;
    };
    entries[index].trim().parse().ok().or(peer)
}

/// Says once when requests come from a private address while no proxy is
/// trusted: every shopper then shares the proxy's rate buckets.
fn warn_if_behind_a_proxy(peer: Option<std::net::IpAddr>) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let private = match peer {
        Some(std::net::IpAddr::V4(v4)) => v4.is_private(),
        Some(std::net::IpAddr::V6(v6)) => (v6.segments()[0] & 0xfe00) == 0xfc00,
        None => false,
    };
    if private && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            peer = ?peer,
            "requests come from a private address and no proxy is trusted: if a proxy \
             stands in front, every shopper shares its rate buckets; set \
             FLASHSALE_TRUSTED_PROXIES to the number of proxies (OPERATIONS.md)"
        );
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
/// The right is read from Postgres at every request, not from the session (a
/// week-long copy): an admin demoted in the database loses it at once.
#[derive(Clone, Debug)]
pub(crate) struct AdminUser(pub Session);

impl<S> FromRequestParts<S> for AdminUser
where
    S: Send + Sync,
    SessionStore: FromRef<S>,
    Accounts: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let CurrentUser(session) = CurrentUser::from_request_parts(parts, state).await?;
        if !session.is_admin || !Accounts::from_ref(state).is_admin(session.user_id).await? {
            return Err(ApiError::forbidden("this needs an admin account"));
        }
        Ok(AdminUser(session))
    }
}

#[cfg(test)]
mod tests {
    use super::{client_address, holds_nul};

    fn address(header: &[&str], hops: usize) -> Option<std::net::IpAddr> {
        client_address(header.iter().copied(), "10.0.0.9".parse().ok(), hops)
    }

    #[test]
    fn the_client_is_the_entry_our_proxies_added_never_what_it_wrote() {
        let ip = |text: &str| text.parse().ok();
        // nginx appends: `forged, real`.
        assert_eq!(address(&["6.6.6.6, 203.0.113.7"], 1), ip("203.0.113.7"));
        assert_eq!(address(&["6.6.6.6", "203.0.113.7"], 1), ip("203.0.113.7"));
        assert_eq!(address(&["203.0.113.7"], 1), ip("203.0.113.7"));
        // Two proxies: the edge's entry, then the first proxy's address.
        assert_eq!(
            address(&["6.6.6.6, 203.0.113.7, 10.0.0.2"], 2),
            ip("203.0.113.7")
        );
        // No proxies trusted, too few entries, or nonsense: the peer.
        assert_eq!(address(&["203.0.113.7"], 0), ip("10.0.0.9"));
        assert_eq!(address(&[], 1), ip("10.0.0.9"));
        assert_eq!(address(&["203.0.113.7"], 2), ip("10.0.0.9"));
        assert_eq!(address(&["not an address"], 1), ip("10.0.0.9"));
    }
    use serde_json::json;

    #[test]
    fn a_nul_anywhere_in_the_text_is_found() {
        assert!(!holds_nul(&json!({"username": "alice", "n": [1, "two"]})));
        assert!(holds_nul(&json!({"username": "al\u{0}ice"})));
        assert!(holds_nul(&json!({"tags": ["ok", {"deep": "\u{0}"}]})));
        assert!(holds_nul(&json!({"key\u{0}": 1})));
    }
}
