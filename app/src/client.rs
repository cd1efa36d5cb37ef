//! The browser's transport to the JSON API (the hot path is plain routes, not
//! server functions; [`crate::endpoints`] names every route) and the few browser
//! services components need. Under `hydrate` they are the browser's
//! (`client/browser.rs`: `fetch` through gloo-net, timers, pointer capture); in
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
