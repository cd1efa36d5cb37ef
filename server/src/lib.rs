//! The flash-sale server as a library, so the binary and the system tests start the
//! very same application (tests bind port 0).
//!
//! # Layout
//! - [`config`]: settings from the environment with local defaults; secrets redacted.
//! - [`telemetry`]: `tracing` subscriber set-up.
//! - [`startup`]: [`startup::Application`] (build, port, run until stopped) and the
//!   shared [`startup::AppState`].
//! - [`shutdown`]: SIGTERM / Ctrl-C as a future.
//! - [`error`]: the HTTP error type, rendering API.md's `{error, message}` bodies.
//! - [`keys`]: Redis key names, prefixed and hash-tagged per sale.
//! - [`catalog`]: sales in Postgres plus stock left in Redis; implements the
//!   `app::ssr::SaleCatalog` port for the pages.
//! - [`metrics`]: Prometheus registry and the per-route request middleware.
//! - [`routes`]: the JSON API and operational endpoints.
//! - [`demo`]: the demo sale created on a first run, so there is something to see.

pub mod catalog;
pub mod config;
pub mod demo;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod routes;
pub mod shutdown;
pub mod startup;
pub mod telemetry;

/// Milliseconds since the Unix epoch on this server's clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
