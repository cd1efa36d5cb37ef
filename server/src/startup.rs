//! Building and running the application. [`Application::build`] connects to
//! Postgres (and migrates it), prepares Redis, wires the routes and binds the
//! listener; [`Application::run_until_stopped`] serves until the given signal and
//! then drains in-flight requests. Tests build it on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::ssr::Ports;
use app::{shell, App};
use axum::extract::FromRef;
use axum::http::{header, HeaderValue};
use axum::routing::{any, get, patch, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::accounts::Accounts;
use crate::captcha::Captchas;
use crate::catalog::Catalog;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Environment};
use crate::guards::{Admission, SoldOutFlags};
use crate::keys::RedisKeys;
use crate::metrics::Metrics;
use crate::orders::consumer::OrderConsumer;
use crate::orders::expiry::ExpirySweeper;
use crate::orders::OrderBook;
use crate::ratelimit::RateLimiter;
use crate::routes::{self, accounts, admin, health, orders, purchase, sales};
use crate::sessions::SessionStore;
use crate::stock::SaleStock;
use crate::tickets::TicketSigner;

/// Whether session cookies are marked `Secure` (HTTPS only): yes in production.
#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    pub secure: bool,
}

/// How to find the client's address (for per-address rate limits).
#[derive(Clone, Copy, Debug)]
pub struct ClientIpPolicy {
    /// Use the first `X-Forwarded-For` entry: only behind a proxy that sets it.
    pub trust_forwarded_for: bool,
}

/// Shared by every handler; each takes only the part it needs.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: PgPool,
    pub redis: ConnectionManager,
    pub catalog: Catalog,
    pub stock: SaleStock,
    pub accounts: Accounts,
    pub sessions: SessionStore,
    pub orders: OrderBook,
    pub consumer: OrderConsumer,
    pub sweeper: ExpirySweeper,
    pub captchas: Captchas,
    pub tickets: TicketSigner,
    pub admission: Admission,
    pub sold_out: SoldOutFlags,
    pub clock: Arc<dyn Clock>,
    pub cookies: CookiePolicy,
    pub rate_limiter: RateLimiter,
    pub client_ip: ClientIpPolicy,
    #[from_ref(skip)]
    pub leptos: Arc<LeptosOptions>,
    pub metrics: Arc<Metrics>,
}

/// Leptos's handlers take the options by value: clone them only for those, not
/// with every request's `AppState` (their strings showed up in the buy path's
/// profile).
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        (*state.leptos).clone()
    }
}

/// Why the application could not start; each says which dependency to look at.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach Postgres (check DATABASE_URL and that the server runs): {0}")]
    Postgres(#[source] sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrations(#[from] sqlx::migrate::MigrateError),
    #[error("REDIS_URL is not usable: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A built application, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    state: AppState,
    redis_client: redis::Client,
    workers: bool,
    sweep_every: Duration,
}

impl Application {
    /// Connects, migrates, wires and binds, on the system clock.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with the clock deadlines are judged by (tests
    /// move it). Redis is connected lazily so that an instance starts (and
    /// reports not-ready) while Redis is briefly away.
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let db = PgPoolOptions::new()
            .max_connections(32)
            .acquire_timeout(Duration::from_secs(3))
            .connect(config.database_url.expose())
            .await
            .map_err(StartupError::Postgres)?;
        sqlx::migrate!("../migrations").run(&db).await?;

        let redis_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_millis(500));
        let redis_client = redis::Client::open(config.redis_url.expose().as_str())?;
        let redis = ConnectionManager::new_lazy_with_config(redis_client.clone(), redis_config)?;
        let keys = RedisKeys::new(config.redis_prefix.clone());
        let stock = SaleStock::new(redis.clone(), keys.clone());
        let catalog = Catalog::new(db.clone(), redis.clone(), stock.clone());
        let consumer = OrderConsumer::new(
            db.clone(),
            redis.clone(),
            redis_client.clone(),
            stock.clone(),
            worker_name(),
            config.consumer.clone(),
        );

        if config.demo {
            // A demo is a convenience: a failure is worth a warning, not a refusal to start.
            if let Err(error) = crate::demo::ensure_demo_sale(&catalog).await {
                tracing::warn!("could not create the demo sale: {error}");
            }
        }

        let state = AppState {
            accounts: Accounts::new(db.clone()),
            sessions: SessionStore::new(redis.clone(), keys.clone()),
            orders: OrderBook::new(db.clone(), redis.clone(), stock.clone(), clock.clone()),
            sweeper: ExpirySweeper::new(db.clone(), stock.clone(), clock.clone()),
            captchas: Captchas::new(redis.clone(), keys.clone(), config.pow_bits),
            tickets: TicketSigner::new(config.secret_key.clone()),
            admission: Admission::new(config.max_inflight_buys),
            sold_out: SoldOutFlags::default(),
            cookies: CookiePolicy {
                secure: config.environment == Environment::Production,
            },
            rate_limiter: RateLimiter::new(redis.clone(), keys.clone(), config.rate_limits),
            client_ip: ClientIpPolicy {
                trust_forwarded_for: config.trust_forwarded_for,
            },
            clock,
            consumer,
            stock,
            db,
            redis,
            catalog,
            leptos: Arc::new(config.leptos.clone()),
            metrics: Arc::new(Metrics::new()),
        };
        let router = router(state.clone());
        let addr = config.leptos.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        tracing::info!(%address, "flash-sale server ready to serve");
        Ok(Self {
            listener,
            address,
            router,
            state,
            redis_client,
            workers: config.workers,
            sweep_every: config.sweep_every,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The state the routes share, for tests that inspect the stores directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting and lets in-flight
    /// requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_workers, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(crate::guards::listen_for_returns(
            self.redis_client.clone(),
            self.state.stock.keys().sold_out_channel(),
            self.state.sold_out.clone(),
            stopped.clone(),
        )));
        if self.workers {
            tasks.push(tokio::spawn(
                self.state.consumer.clone().run(stopped.clone()),
            ));
            tasks.push(tokio::spawn(
                self.state
                    .sweeper
                    .clone()
                    .run(self.sweep_every, stopped.clone()),
            ));
        }
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        let _ = stop_workers.send(true);
        for task in tasks {
            let _ = task.await;
        }
        served
    }
}

/// A consumer name unique among live workers: host, process, random part.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..8])
}

/// All routes: the JSON API, operations, static assets and the Leptos pages.
fn router(state: AppState) -> Router {
    let leptos_options = (*state.leptos).clone();
    let pages = generate_route_list(App);
    let ports = Ports {
        catalog: Arc::new(state.catalog.clone()),
    };
    // Leptos stamps a fresh CSP nonce into every page by default, which would make
    // each render of a sale page unique and defeat its `ETag`. We send no CSP, so
    // one nonce per process costs nothing and keeps the pages identical.
    let nonce = leptos::nonce::Nonce::new();
    let assets = ServeDir::new(format!(
        "{}/{}",
        leptos_options.site_root, leptos_options.site_pkg_dir
    ));
    // Hashed file names change with their content, so browsers and CDNs may keep them forever.
    let asset_caching = if leptos_options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::export))
        .route("/api/sales", get(sales::list))
        .route("/api/sales/{id}", get(sales::get))
        .route("/api/sales/{id}/status", get(sales::status))
        .route("/api/sales/{id}/captcha", post(purchase::captcha))
        .route("/api/sales/{id}/ticket", post(purchase::ticket))
        .route("/api/sales/{id}/buy/{ticket}", post(purchase::buy))
        .route("/api/auth/register", post(accounts::register))
        .route("/api/auth/login", post(accounts::login))
        .route("/api/auth/logout", post(accounts::logout))
        .route("/api/auth/me", get(accounts::me))
        .route("/api/orders", get(orders::list))
        .route("/api/orders/{id}", get(orders::get))
        .route("/api/orders/{id}/pay", post(orders::pay))
        .route("/api/orders/{id}/cancel", post(orders::cancel))
        .route("/api/admin/sales", post(admin::create).get(admin::list))
        .route("/api/admin/sales/{id}", patch(admin::edit).get(admin::show))
        .route("/api/admin/sales/{id}/pause", post(admin::pause))
        .route("/api/admin/sales/{id}/resume", post(admin::resume))
        .route("/api/admin/sales/{id}/stats", get(admin::stats))
        .route(
            "/api/admin/sales/{id}/reconcile",
            get(admin::reconciliation),
        )
        .route("/api/admin/sales/{id}/orders", get(admin::orders))
        .route("/api/admin/dead-letters", get(admin::dead_letters))
        .route(
            "/api/admin/dead-letters/{id}/retry",
            post(admin::retry_dead_letter),
        )
        .route("/api/{*rest}", any(routes::api_not_found))
        .leptos_routes_with_context(
            &state,
            pages,
            move || {
                provide_context(ports.clone());
                provide_context(nonce.clone());
            },
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .nest_service(
            &format!("/{}", leptos_options.site_pkg_dir),
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(asset_caching),
                ))
                .service(assets),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(
            crate::page_cache::cacheable_sale_pages,
        ))
        .layer(axum::middleware::from_fn(crate::csrf::same_site_writes))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
