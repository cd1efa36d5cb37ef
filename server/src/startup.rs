//! Building and running the application. [`Application::build`] connects to
//! Postgres (and migrates it), prepares Redis, makes the stores, wires the routes
//! (`http::router`) and binds the listener; [`Application::run_until_stopped`]
//! serves until the given signal, then drains in-flight requests and stops the
//! workers. Tests build it on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sqlx::migrate::MigrateError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::accounts::credentials::Hasher;
use crate::accounts::sessions::SessionStore;
use crate::accounts::users::Accounts;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, Environment};
use crate::connections::{self, ConnectionLimits};
use crate::guards::admission::Admission;
use crate::guards::captcha::Captchas;
use crate::guards::rate_limit::RateLimiter;
use crate::guards::registration_work::RegistrationWork;
use crate::guards::sign_in::SignInGuard;
use crate::guards::sold_out::SoldOutFlags;
use crate::guards::tickets::TicketSigner;
use crate::http::state::{AppState, ClientIpPolicy, CookiePolicy, Services};
use crate::keys::RedisKeys;
use crate::metrics::Metrics;
use crate::notices;
use crate::orders::book::OrderBook;
use crate::orders::consumer::OrderConsumer;
use crate::orders::dead_letters::DeadLetters;
use crate::orders::expiry::ExpirySweeper;
use crate::queue::leader::LineLeader;
use crate::queue::line::Lines;
use crate::queue::token::LineSigner;
use crate::redis_connection::RedisClient;
use crate::sales::catalog::Catalog;
use crate::sales::pictures::Pictures;
use crate::sales::stock::SaleStock;
use crate::sales::tally::OutcomeTally;
use crate::shutdown::ShutdownTrigger;

/// The longest any SQL statement may run (Postgres `statement_timeout`).
const STATEMENT_TIMEOUT: &str = "5s";
/// The longest a statement may wait for a row or table lock (`lock_timeout`).
const LOCK_TIMEOUT: &str = "2s";

/// Why the application could not start; each says which dependency to look at.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach Postgres (check DATABASE_URL and that the server runs): {0}")]
    Postgres(#[source] sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrations(#[from] MigrateError),
    #[error("REDIS_URL or REDIS_CLUSTER_URLS is not usable: {0}")]
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
    redis_client: RedisClient,
    workers: bool,
    sweep_every: Duration,
    connections: ConnectionLimits,
    /// `/metrics` on an internal address of its own (`FLASHSALE_METRICS_ADDR`).
    metrics_listener: Option<TcpListener>,
    /// Turns true once the migrations have run; the workers wait for it.
    schema: tokio::sync::watch::Receiver<bool>,
}

/// The Postgres pool, lazy so an instance starts while Postgres is away (the
/// buy path needs no SQL), and whether the schema is migrated: at once when
/// Postgres answers, else as soon as it does (the workers wait for it).
async fn postgres(config: &Config) -> Result<(PgPool, watch::Receiver<bool>), StartupError> {
    let options: PgConnectOptions = config
        .database_url
        .expose()
        .parse()
        .map_err(StartupError::Postgres)?;
    // No statement may hold a connection (or wait on a lock) for long: under a
    // spike a stuck query would take the pool with it.
    let options = options.options([
        ("statement_timeout", STATEMENT_TIMEOUT),
        ("lock_timeout", LOCK_TIMEOUT),
    ]);
    // Lazy: an instance starts while Postgres is away (the buy path needs no
    // SQL) and connects when it returns.
    let db = PgPoolOptions::new()
        .max_connections(32)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options);
    let (schema_ready, schema) = tokio::sync::watch::channel(false);
    match migrate(&db).await {
        Ok(()) => {
            let _ = schema_ready.send(true);
        }
        Err(MigrateError::Execute(error)) if is_unreachable(&error) => {
            tracing::warn!(
                error = %crate::store::error_chain(&error),
                "Postgres is unreachable: serving what Redis can; migrations and \
                 workers start when it answers"
            );
            tokio::spawn(migrate_when_reachable(db.clone(), schema_ready));
        }
        Err(error) => return Err(error.into()),
    }
    Ok((db, schema))
}

/// The listener on `addr`, and the address it got (the real port for port 0).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })?;
    let address = listener
        .local_addr()
        .map_err(|source| StartupError::Bind { addr, source })?;
    Ok((listener, address))
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
        let (db, schema) = postgres(&config).await?;
        let redis_client = RedisClient::open(&config.redis)?;
        let redis = redis_client.shared()?;
        tokio::spawn(crate::durability::check(redis.clone()));
        let keys = RedisKeys::new(config.redis_prefix.clone());
        let stock = SaleStock::new(redis.clone(), keys.clone()).with_rebuying(config.rebuying);
        let rate_limiter = RateLimiter::new(redis.clone(), keys.clone(), config.rate_limits);
        let catalog = Catalog::new(db.clone(), redis.clone(), stock.clone(), clock.clone());
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
            if let Err(error) =
                crate::sales::demo::ensure_demo_sale(&catalog, config.sale_defaults.currency).await
            {
                tracing::warn!(
                    error = %crate::store::error_chain(&error),
                    "could not create the demo sale"
                );
            }
        }

        let tally = OutcomeTally::new(redis.clone(), keys.clone());
        let lines = Lines::new(
            redis.clone(),
            keys.clone(),
            LineSigner::new(config.secret_key.clone()),
        );
        let line_leader = LineLeader::new(
            lines.clone(),
            catalog.clone(),
            db.clone(),
            clock.clone(),
            worker_name(),
        );
        let state = AppState::new(Services {
            lines,
            line_leader,
            accounts: Accounts::new(db.clone()),
            pictures: Pictures::new(db.clone()),
            sessions: SessionStore::new(redis.clone(), keys.clone()),
            orders: OrderBook::new(db.clone(), redis.clone(), stock.clone(), clock.clone()),
            sweeper: ExpirySweeper::new(db.clone(), stock.clone(), clock.clone()),
            dead_letters: DeadLetters::new(db.clone(), redis.clone(), stock.clone()),
            captchas: Captchas::new(
                redis.clone(),
                keys.clone(),
                config.pow_bits,
                config.challenges_per_sale,
            ),
            tickets: TicketSigner::new(config.secret_key.clone()),

            admission: Admission::new(config.max_inflight_buys),
            sold_out: SoldOutFlags::default(),
            cookies: CookiePolicy {
                secure: config.environment == Environment::Production,
            },
            rate_limiter: rate_limiter.clone(),
            sign_in: SignInGuard::new(
                redis.clone(),
                keys.clone(),
                config.sign_in,
                rate_limiter,
                RegistrationWork::new(
                    redis.clone(),
                    keys.clone(),
                    config.secret_key.clone(),
                    config.sign_in.quiet_registrations_per_minute,
                    clock.clone(),
                ),
            ),
            hasher: Hasher::new(config.hashing_slots, config.hashing_slots * 16),
            client_ip: ClientIpPolicy {
                trusted_proxies: config.trusted_proxies,
            },
            sale_defaults: config.sale_defaults,
            clock,
            consumer,
            stock,
            db,
            redis,
            catalog,
            leptos: Arc::new(config.leptos.clone()),
            metrics: Arc::new(Metrics::new()),
            tally,
        });
        let router = crate::http::router(
            state.clone(),
            config.request_timeout,
            config.api_explorer,
            config.metrics_addr.is_none(),
        );
        let (listener, address) = bind(config.leptos.site_addr).await?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => {
                let (listener, address) = bind(addr).await?;
                tracing::info!(%address, "metrics served here only");
                Some(listener)
            }
            None => None,
        };
        if config.environment == Environment::Development && !address.ip().is_loopback() {
            tracing::warn!(
                %address,
                "DEVELOPMENT server reachable from other machines: a random secret per \
                 process, the API explorer on; set FLASHSALE_ENV=production for a real sale"
            );
        }
        tracing::info!(%address, "flash-sale server ready to serve");
        Ok(Self {
            listener,
            address,
            router,
            state,
            redis_client,
            workers: config.workers,
            sweep_every: config.sweep_every,
            connections: ConnectionLimits {
                header_timeout: config.header_timeout,
                max_open: config
                    .max_connections
                    .unwrap_or_else(connections::default_max_open),
            },
            metrics_listener,
            schema,
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
        let (stop_workers, stopped) = ShutdownTrigger::new();
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(self.state.tally.clone().run(stopped.clone())));
        tasks.push(tokio::spawn(notices::listen(
            self.redis_client.clone(),
            self.state.stock.keys().notice_channel(),
            notices::Listeners {
                flags: self.state.sold_out.clone(),
                sessions: self.state.sessions.clone(),
            },
            stopped.clone(),
        )));
        if self.workers {
            let (consumer, sweeper) = (self.state.consumer.clone(), self.state.sweeper.clone());
            let catalog = self.state.catalog.clone();
            let line_leader = self.state.line_leader.clone();
            let (mut schema, mut stopping) = (self.schema.clone(), stopped.clone());
            let sweep_every = self.sweep_every;
            tasks.push(tokio::spawn(async move {
                tokio::select! {
                    ready = schema.wait_for(|ready| *ready) => if ready.is_err() { return },
                    () = stopping.requested() => return,
                }
                let consuming = tokio::spawn(consumer.run(stopping.clone()));
                let upkeep = tokio::spawn(catalog.run_upkeep(stopping.clone()));
                let leading = tokio::spawn(line_leader.run(stopping.clone()));
                sweeper.run(sweep_every, stopping).await;
                let _ = tokio::join!(consuming, upkeep, leading);
            }));
        }
        if let Some(listener) = self.metrics_listener {
            let mut stopping = stopped.clone();
            tasks.push(tokio::spawn(connections::serve(
                listener,
                crate::http::health::metrics_router(self.state.metrics.clone()),
                ConnectionLimits {
                    max_open: 64,
                    ..self.connections
                },
                |_| {},
                async move { stopping.requested().await },
            )));
        }
        let metrics = self.state.metrics.clone();
        connections::serve(
            self.listener,
            self.router,
            self.connections,
            move |open| metrics.set_open_connections(open),
            shutdown,
        )
        .await;
        stop_workers.stop();
        for task in tasks {
            let _ = task.await;
        }
        Ok(())
    }
}

async fn migrate(db: &sqlx::PgPool) -> Result<(), MigrateError> {
    sqlx::migrate!("../migrations").run(db).await
}

/// Whether a database error means Postgres could not be reached at all (as
/// opposed to a migration it refused, or a wrong password).
fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
        // 08: connection exceptions; 53: out of resources (too many
        // connections); 57: shut down, crashed or starting up; 55000: the
        // database is closed to connections (maintenance).
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "55000"
        }),
        _ => false,
    }
}

/// Retries the migrations every second until Postgres answers, then opens the
/// gate the workers wait at.
async fn migrate_when_reachable(db: sqlx::PgPool, ready: tokio::sync::watch::Sender<bool>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match migrate(&db).await {
            Ok(()) => {
                tracing::info!("Postgres answers: migrations applied, workers starting");
                let _ = ready.send(true);
                return;
            }
            Err(MigrateError::Execute(error)) if is_unreachable(&error) => {}
            Err(error) => {
                // Not an outage: say so loudly and keep trying (an operator may fix it).
                tracing::error!(
                    error = %crate::store::error_chain(&error),
                    "cannot apply the database migrations"
                );
            }
        }
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
