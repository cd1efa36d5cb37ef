//! The browser's transport to the JSON API (the hot path is plain routes, not
//! server functions; [`crate::endpoints`] names every route) and the few browser
//! services components need. Under `hydrate` they are the browser's
//! (`client/browser.rs`: `fetch` with the browser parsing JSON, timers, pointer capture); in
//! the server build the same functions exist and answer "not in a browser"
//! (`client/server.rs`), so components compile once and their event handlers,
//! which only ever run in the browser, need no `cfg` of their own.

#[cfg(feature = "hydrate")]
#[path = "client/browser.rs"]
mod platform;
#[cfg(not(feature = "hydrate"))]
#[path = "client/server.rs"]
mod platform;

pub use platform::*;

use crate::api::ErrorBody;
use crate::api::ErrorCode;

/// Nonces tried between two yields to the browser's event loop.
const POW_SLICE: u64 = 5_000;

/// Searches a proof of work's nonce ([`crate::pow`]) in slices, yielding to the
/// page between them so it stays responsive; after each slice `go_on(tried)`
/// may stop the search (`None`).
pub async fn solve_work(salt: &str, bits: u32, mut go_on: impl FnMut(u64) -> bool) -> Option<u64> {
    let mut start = 0u64;
    loop {
        if let Some(nonce) = crate::pow::search(salt, bits, start, POW_SLICE) {
            return Some(nonce);
        }
        start += POW_SLICE;
        if !go_on(start) {
            return None;
        }
        sleep_ms(0).await;
    }
}

/// An answer of the API: the status, `Retry-After` when given, and the body,
/// parsed as `T` on success or as the error body otherwise.
#[derive(Clone, Debug)]
pub struct Reply<T> {
    pub status: u16,
    pub retry_after_secs: Option<u32>,
    pub body: Result<T, ErrorBody>,
}

impl<T> Reply<T> {
    /// The API error code, if this is an error.
    pub fn code(&self) -> Option<ErrorCode> {
        self.body.as_ref().err().map(|error| error.error)
    }
}

/// The network failed or the answer was not JSON of the expected shape.
pub type Failure = String;

/// What a view loaded from the API knows so far.
#[derive(Clone, Debug, PartialEq)]
pub enum Remote<T> {
    Loading,
    NeedLogin,
    Forbidden,
    Failed(String),
    Ready(T),
}

/// A private page refused before asking the API gets the state the API's 401
/// or 403 would have given it.
impl<T> From<crate::account::Refusal> for Remote<T> {
    fn from(refusal: crate::account::Refusal) -> Self {
        match refusal {
            crate::account::Refusal::LogIn => Remote::NeedLogin,
            crate::account::Refusal::AdminsOnly => Remote::Forbidden,
        }
    }
}

impl<T> Remote<T> {
    /// From an API reply: 401 and 403 get their own states.
    pub fn from_reply(reply: Result<Reply<T>, Failure>) -> Self {
        match reply {
            Ok(reply) if reply.status == 401 => Remote::NeedLogin,
            Ok(reply) if reply.status == 403 => Remote::Forbidden,
            Ok(reply) => match reply.body {
                Ok(value) => Remote::Ready(value),
                Err(error) => Remote::Failed(error.message),
            },
            Err(error) => Remote::Failed(error),
        }
    }
}
