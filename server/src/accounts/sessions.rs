//! Sessions live in Redis so any instance can check one with a single `GET` (the
//! buy path does no SQL) and logout revokes it everywhere at once. The cookie
//! carries a random token; Redis stores only its SHA-256, so a copy of Redis holds
//! no usable tokens.

use crate::redis_connection::RedisConnection;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::RedisKeys;
use crate::store::StoreError;

/// The cookie's name.
pub const COOKIE: &str = "fs_session";
/// How long a session lasts without logging in again.
pub const TTL_SECS: u64 = 7 * 24 * 3600;

/// Who a session belongs to; everything the hot path needs without SQL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    /// When the account was made, for sales that refuse fresh accounts.
    pub account_created_ms: i64,
}

/// Creates, finds and revokes sessions.
#[derive(Clone)]
pub struct SessionStore {
    redis: RedisConnection,
    keys: RedisKeys,
}

impl SessionStore {
    pub fn new(redis: RedisConnection, keys: RedisKeys) -> Self {
        Self { redis, keys }
    }

    fn key(&self, token: &str) -> String {
        self.keys
            .session(&hex::encode(Sha256::digest(token.as_bytes())))
    }

    /// Starts a session; returns the token for the cookie.
    pub async fn create(&self, session: &Session) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let value = serde_json::to_string(session)?;
        let mut redis = self.redis.clone();
        let () = redis::cmd("SET")
            .arg(self.key(&token))
            .arg(value)
            .arg("EX")
            .arg(TTL_SECS)
            .query_async(&mut redis)
            .await?;
        Ok(token)
    }

    /// The session of a token, if it is still valid.
    pub async fn find(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let mut redis = self.redis.clone();
        let value: Option<String> = redis::cmd("GET")
            .arg(self.key(token))
            .query_async(&mut redis)
            .await?;
        Ok(value.and_then(|value| serde_json::from_str(&value).ok()))
    }

    /// Ends a session everywhere.
    pub async fn revoke(&self, token: &str) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let () = redis::cmd("DEL")
            .arg(self.key(token))
            .query_async(&mut redis)
            .await?;
        Ok(())
    }
}

/// The session token of a request's cookies, if any.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` for a new session. `secure` in production (HTTPS only).
pub fn set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={TTL_SECS}{secure}")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; fs_session=abc123; x=y"),
        );
        assert_eq!(token_from(&headers).as_deref(), Some("abc123"));
        headers.clear();
        headers.append(header::COOKIE, HeaderValue::from_static("fs_session="));
        assert_eq!(token_from(&headers), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site() {
        let cookie = set_cookie("t", false);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && !cookie.contains("Secure")
        );
        assert!(set_cookie("t", true).ends_with("; Secure"));
    }
}
