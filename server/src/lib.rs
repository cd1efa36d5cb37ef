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
//! - [`accounts`] and [`sessions`]: users (argon2) in Postgres, sessions in Redis,
//!   and the `CurrentUser` / `AdminUser` extractors.
//! - [`stock`]: the Redis side of a sale: loading it, the Lua reserve, the
//!   exactly-once return of units.
//! - [`captcha`], [`captcha_image`] and [`tickets`]: the challenge (proof of work
//!   or picture) and the signed dynamic buy URL.
//! - [`guards`]: admission limit and local sold-out flags on the buy path.
//! - [`ratelimit`]: per user / address / sale limits shared through Redis.
//! - [`orders`]: order ids, reading, paying, cancelling; the stream consumer and
//!   the expiry sweeper.
//! - [`reconcile`]: Redis against Postgres, per sale.
//! - [`clock`]: "now" for deadlines, shiftable in tests.
//! - [`csrf`]: state-changing API calls must come from this site.
//! - [`page_cache`]: `Cache-Control` and `ETag` for the shared sale pages.
//! - [`cli`]: admin and load-test user creation from the command line.

pub mod accounts;
pub mod captcha;
pub mod captcha_image;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod csrf;
pub mod demo;
pub mod error;
pub mod guards;
pub mod keys;
pub mod metrics;
pub mod orders;
pub mod page_cache;
pub mod ratelimit;
pub mod reconcile;
pub mod routes;
pub mod sessions;
pub mod shutdown;
pub mod startup;
pub mod stock;
pub mod telemetry;
pub mod tickets;

/// Milliseconds since the Unix epoch on this server's clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
