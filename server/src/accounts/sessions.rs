//! Sessions live in Redis so any instance can check one (the buy path does no
//! SQL) and logout revokes it everywhere at once. The cookie carries a random
//! token; Redis stores only its SHA-256, so a copy of Redis holds no usable
//! tokens.
//!
//! Each instance keeps the sessions it has read for [`KEPT_FOR`], so a shopper's
//! CAPTCHA, ticket and buy cost Redis one read, not three. A logout publishes
//! [`ended_message`] and every instance forgets the session at once
//! (`crate::notices`); when that channel drops, every kept session is
//! forgotten, so a Redis that comes back empty logs everyone out as before.
//! (On a cluster the channel rides on one node: a *different* node coming back
//! empty is noticed only as its kept sessions lapse, within [`KEPT_FOR`].)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
pub(crate) const TTL_SECS: u64 = 7 * 24 * 3600;

/// Who a session belongs to; everything the hot path needs without SQL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    /// When the account was made, for sales that refuse fresh accounts.
    pub account_created_ms: i64,
}

/// How long an instance trusts a session it has read without reading it again.
/// Logouts reach every instance sooner, pushed; this bounds only what nobody
/// announces (a session expiring in Redis).
pub(crate) const KEPT_FOR: Duration = Duration::from_secs(30);

/// The SHA-256 of a session token: what Redis and the kept copies know it by.
type TokenHash = [u8; 32];

fn hash_of(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Creates, finds and revokes sessions.
#[derive(Clone)]
pub struct SessionStore {
    redis: RedisConnection,
    keys: RedisKeys,
    kept: moka::future::Cache<TokenHash, Session>,
    /// Counts the forgettings: a read that raced one must not keep what it read.
    forgotten: Arc<AtomicU64>,
}

impl SessionStore {
    pub fn new(redis: RedisConnection, keys: RedisKeys) -> Self {
        Self {
            redis,
            keys,
            kept: moka::future::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(KEPT_FOR)
                .build(),
            forgotten: Arc::default(),
        }
    }

    fn key(&self, hash: &TokenHash) -> String {
        self.keys.session(&hex::encode(hash))
    }

    /// Starts a session; returns the token for the cookie.
    pub async fn create(&self, session: &Session) -> Result<String, StoreError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let value = serde_json::to_string(session)?;
        let hash = hash_of(&token);
        let forgotten_before = self.forgotten.load(Ordering::SeqCst);
        let mut redis = self.redis.clone();
        let () = redis::cmd("SET")
            .arg(self.key(&hash))
            .arg(value)
            .arg("EX")
            .arg(TTL_SECS)
            .query_async(&mut redis)
            .await?;
        // The user's list of sessions lives as long as their newest session.
        let list = self.keys.user_sessions(session.user_id);
        let () = redis::pipe()
            .cmd("SADD")
            .arg(&list)
            .arg(hex::encode(hash))
            .ignore()
            .cmd("EXPIRE")
            .arg(&list)
            .arg(TTL_SECS)
            .ignore()
            .query_async(&mut redis)
            .await?;
        self.keep(hash, session.clone(), forgotten_before).await;
        Ok(token)
    }

    /// The session of a token, if it is still valid: this instance's copy, or
    /// Redis' (then kept).
    pub async fn find(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let hash = hash_of(token);
        if let Some(session) = self.kept.get(&hash).await {
            return Ok(Some(session));
        }
        let forgotten_before = self.forgotten.load(Ordering::SeqCst);
        let mut redis = self.redis.clone();
        let value: Option<String> = redis::cmd("GET")
            .arg(self.key(&hash))
            .query_async(&mut redis)
            .await?;
        let session: Option<Session> = value.and_then(|value| serde_json::from_str(&value).ok());
        if let Some(session) = &session {
            self.keep(hash, session.clone(), forgotten_before).await;
        }
        Ok(session)
    }

    /// Keeps a copy of what Redis held when the forgettings counted
    /// `forgotten_before`. A forgetting since (a logout, Redis lost) may have
    /// come before the copy was kept, and missed it: then the copy goes. One
    /// after this check finds the copy and removes it itself.
    async fn keep(&self, hash: TokenHash, session: Session, forgotten_before: u64) {
        self.kept.insert(hash, session).await;
        if self.forgotten.load(Ordering::SeqCst) != forgotten_before {
            self.kept.invalidate(&hash).await;
        }
    }

    /// Ends a session everywhere: gone from Redis, and every instance told to
    /// forget its copy.
    pub async fn revoke(&self, token: &str) -> Result<(), StoreError> {
        let hash = hash_of(token);
        let mut redis = self.redis.clone();
        let deleted: Option<String> = redis::cmd("GETDEL")
            .arg(self.key(&hash))
            .query_async(&mut redis)
            .await?;
        self.forget(&hash).await;
        let Some(deleted) = deleted else {
            // No such session: nothing for the fleet to hear. (Made-up cookies
            // cannot make every instance do work.)
            return Ok(());
        };
        if let Ok(session) = serde_json::from_str::<Session>(&deleted) {
            let _: redis::RedisResult<i64> = redis::cmd("SREM")
                .arg(self.keys.user_sessions(session.user_id))
                .arg(hex::encode(hash))
                .query_async(&mut redis)
                .await;
        }
        self.announce_ended(&hash).await;
        Ok(())
    }

    /// Ends every session of `user_id` everywhere (a stolen account, a
    /// departing admin); returns how many there were.
    pub async fn end_all(&self, user_id: i64) -> Result<usize, StoreError> {
        let mut redis = self.redis.clone();
        let list = self.keys.user_sessions(user_id);
        let hashes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&list)
            .query_async(&mut redis)
            .await?;
        let mut ended = 0;
        for hex_hash in hashes {
            let Some(hash) = hex::decode(&hex_hash)
                .ok()
                .and_then(|bytes| TokenHash::try_from(bytes).ok())
            else {
                continue;
            };
            let deleted: i64 = redis::cmd("DEL")
                .arg(self.key(&hash))
                .query_async(&mut redis)
                .await?;
            self.forget(&hash).await;
            if deleted > 0 {
                ended += 1;
                self.announce_ended(&hash).await;
            }
        }
        let _: i64 = redis::cmd("DEL").arg(&list).query_async(&mut redis).await?;
        Ok(ended)
    }

    /// Tells every instance to forget its copy of a session deleted from
    /// Redis; an instance that misses the notice lets its copy go within `KEPT_FOR`.
    async fn announce_ended(&self, hash: &TokenHash) {
        let mut redis = self.redis.clone();
        let published: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(self.keys.notice_channel())
            .arg(ended_message(hash))
            .query_async(&mut redis)
            .await;
        if let Err(error) = published {
            tracing::warn!(error = %crate::store::error_chain(&error), "the end of a session was not announced to the other instances");
        }
    }

    /// Forgets this instance's copy of one session (it ended elsewhere).
    pub(crate) async fn forget(&self, hash: &TokenHash) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        self.kept.invalidate(hash).await;
    }

    /// Forgets every kept session (after notices may have been missed).
    pub fn forget_all(&self) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        self.kept.invalidate_all();
    }
}

/// The notice that tells every instance a session ended.
fn ended_message(hash: &TokenHash) -> String {
    format!("session-ended:{}", hex::encode(hash))
}

/// The session a [`ended_message`] is about; `None` for anything else.
pub(crate) fn parse_ended_message(payload: &str) -> Option<TokenHash> {
    let hex_hash = payload.strip_prefix("session-ended:")?;
    hex::decode(hex_hash).ok()?.try_into().ok()
}

/// The session token of a request's cookies, if any.
pub(crate) fn token_from(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE).filter(|value| !value.is_empty())
}

/// The value of the cookie `name` a request carries, if any.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.to_owned())
}

/// `Set-Cookie` for a new session. `secure` in production (HTTPS only).
pub(crate) fn set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={TTL_SECS}{secure}")
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie() -> String {
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
    fn an_ended_message_names_its_session() {
        let hash = hash_of("a token");
        assert_eq!(parse_ended_message(&ended_message(&hash)), Some(hash));
        assert_eq!(parse_ended_message("session-ended:abc"), None);
        assert_eq!(parse_ended_message("clear:42"), None);
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
