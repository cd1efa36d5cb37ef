//! The state every handler shares, and the small policies read from the
//! configuration. Each handler takes only the part it needs (`State<Catalog>`,
//! `State<SessionStore>`, …) through `FromRef`.
//!
//! axum clones the router's state for every request, so [`AppState`] is one
//! `Arc` around the [`Services`]: a request costs one reference count, not a
//! clone of every store (that showed as about 40 % of the CPU of `/healthz`).

use std::sync::Arc;

use crate::redis_connection::RedisConnection;
use app::api::SaleDefaults;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::PgPool;

use crate::accounts::credentials::Hasher;
use crate::accounts::sessions::SessionStore;
use crate::accounts::users::Accounts;
use crate::clock::Clock;
use crate::guards::admission::Admission;
use crate::guards::captcha::Captchas;
use crate::guards::rate_limit::RateLimiter;
use crate::guards::sign_in::SignInGuard;
use crate::guards::sold_out::SoldOutFlags;
use crate::guards::tickets::TicketSigner;
use crate::metrics::Metrics;
use crate::orders::book::OrderBook;
use crate::orders::consumer::OrderConsumer;
use crate::orders::dead_letters::DeadLetters;
use crate::orders::expiry::ExpirySweeper;
use crate::queue::leader::LineLeader;
use crate::queue::line::Lines;
use crate::sales::catalog::Catalog;
use crate::sales::pictures::Pictures;
use crate::sales::stock::SaleStock;
use crate::sales::tally::OutcomeTally;

/// Whether session cookies are marked `Secure` (HTTPS only): yes in production.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CookiePolicy {
    pub secure: bool,
}

/// How to find the client's address (for per-address rate limits).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientIpPolicy {
    /// Proxies of ours in front, each appending its peer to `X-Forwarded-For`:
    /// the client is that many entries from the right (0: the connection's peer).
    pub trusted_proxies: usize,
}

/// Shared by every handler; each takes only the part it needs. Reads as the
/// [`Services`] it holds (`state.catalog`).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The stores, guards and policies of one instance.
pub struct Services {
    pub db: PgPool,
    pub redis: RedisConnection,
    pub catalog: Catalog,
    pub stock: SaleStock,
    pub accounts: Accounts,
    pub sessions: SessionStore,
    pub(crate) orders: OrderBook,
    pub consumer: OrderConsumer,
    pub(crate) dead_letters: DeadLetters,
    pub sweeper: ExpirySweeper,
    pub(crate) captchas: Captchas,
    pub tickets: TicketSigner,
    pub(crate) admission: Admission,
    pub(crate) sold_out: SoldOutFlags,
    pub clock: Arc<dyn Clock>,
    pub(crate) cookies: CookiePolicy,
    pub(crate) rate_limiter: RateLimiter,
    pub(crate) client_ip: ClientIpPolicy,
    pub leptos: Arc<LeptosOptions>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) tally: OutcomeTally,
    pub(crate) pictures: Pictures,
    pub(crate) sale_defaults: SaleDefaults,
    pub(crate) sign_in: SignInGuard,
    pub(crate) hasher: Hasher,
    /// The lines of queue sales, as the handlers read them.
    pub lines: Lines,
    /// Leads lines (in instances with workers); tests tick it by hand.
    pub line_leader: LineLeader,
}

/// `State<T>` for each part a handler takes on its own: a clone of that part only.
macro_rules! parts {
    ($($field:ident: $part:ty),* $(,)?) => {
        $(impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                state.$field.clone()
            }
        })*
    };
}

parts! {
    db: PgPool,
    redis: RedisConnection,
    catalog: Catalog,
    stock: SaleStock,
    accounts: Accounts,
    sessions: SessionStore,
    orders: OrderBook,
    consumer: OrderConsumer,
    dead_letters: DeadLetters,
    sweeper: ExpirySweeper,
    captchas: Captchas,
    tickets: TicketSigner,
    admission: Admission,
    sold_out: SoldOutFlags,
    clock: Arc<dyn Clock>,
    cookies: CookiePolicy,
    rate_limiter: RateLimiter,
    client_ip: ClientIpPolicy,
    metrics: Arc<Metrics>,
    tally: OutcomeTally,
    pictures: Pictures,
    sale_defaults: SaleDefaults,
    sign_in: SignInGuard,
    hasher: Hasher,
    lines: Lines,
    line_leader: LineLeader,
}

/// Leptos's handlers take the options by value: clone them only for those, not
/// with every request's `AppState` (their strings showed up in the buy path's
/// profile).
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        (*state.leptos).clone()
    }
}
