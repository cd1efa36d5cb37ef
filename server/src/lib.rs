//! The flash-sale server as a library, so the binary and the system tests start the
//! very same application (tests bind port 0).
//!
//! # Layout
//! Process wiring sits at the root; each folder is one concept of docs/DESIGN.md. To
//! follow a buy, open the files in this order: [`http::purchase`] (the route),
//! [`guards`] (admission, sold-out flag, rate limit, ticket), [`sales::stock`]
//! and `lua/reserve.lua` (the atomic reserve and the order message),
//! [`orders::message`] (the stream contract), [`orders::consumer`] and
//! [`orders::book`] (the insert into Postgres), [`orders::expiry`] (the units
//! coming back).
//!
//! - [`config`]: settings from the environment with local defaults.
//! - [`secret`]: [`secret::Secret`], a value whose `Debug` is redacted (a leaf).
//! - [`telemetry`]: `tracing` subscriber set-up.
//! - [`startup`]: [`startup::Application`]: build the stores, wire the routes,
//!   bind, run until stopped, stop the workers.
//! - [`connections`]: the accept loop: a cap on open connections, the time a
//!   client has to send a request's head (and to start the next), the drain.
//! - [`shutdown`]: SIGTERM / Ctrl-C, and the [`shutdown::Shutdown`] workers hold.
//! - [`cli`]: admin and load-test user creation from the command line.
//! - [`clock`]: "now", injected everywhere, shiftable in tests.
//! - [`durability`]: whether Redis' settings can keep a 202's promise (checked at start).
//! - [`keys`]: Redis key names, prefixed and hash-tagged per sale.
//! - [`lua`]: the Redis scripts' composition with their shared pieces (`lua/shared/`).
//! - [`metrics`]: Prometheus registry and the per-route request middleware.
//! - [`notices`]: the pub/sub channel every instance listens on (sold-out flags
//!   to clear, sessions ended).
//! - [`store`]: the storage error every store returns.
//! - [`redis_connection`]: one Redis server or a Redis Cluster, behind one
//!   connection type; what a cluster asks of the stores.
//! - [`http`]: the router, its layers, the route modules, extractors, `ApiError`,
//!   `AppState`.
//! - [`guards`]: the layers in front of Redis: admission, sold-out flags, rate
//!   limits, tickets, CAPTCHA.
//! - [`sales`]: sale definitions (Postgres, cached), their Redis side (stock and
//!   the reserve), validation, reconciliation, the demo sale.
//! - [`orders`]: order ids, the stream contract, the order book, the consumer,
//!   dead letters, the expiry sweeper.
//! - [`accounts`]: credentials, users, sessions.
//! - [`queue`]: the waiting room of a `queue` sale: the line, its draw, its
//!   leader, and where each shopper stands.

// Modules and items are `pub(crate)` unless the system tests, the load generator or
// the binary use them: the compiler then reports what nothing uses.
pub mod accounts;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub(crate) mod durability;
pub mod guards;
pub mod http;
pub mod keys;
pub(crate) mod lua;
pub(crate) mod metrics;
#[cfg(test)]
mod module_graph;
pub(crate) mod notices;
pub mod orders;
pub mod queue;
pub mod redis_connection;
pub mod sales;
pub mod secret;
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod telemetry;
