//! Helpers for black-box system tests: [`spawn_app`] starts the real application on
//! port 0 against the real Redis and Postgres, in a database of its own and under a
//! Redis key prefix of its own, and cleans both up when dropped.

use std::net::SocketAddr;

use app::api::SaleDraft;
use server::clock::{Clock, SystemClock};
use server::config::Config;
use server::http::state::AppState;
use server::redis_connection::{RedisClient, RedisTarget};
use server::sales::catalog::Catalog;
use server::sales::new_sale::NewSale;
use server::secret::Secret;
use server::startup::Application;
use std::sync::Arc;
use tokio::sync::oneshot;

pub mod private_servers;
mod scratch;
mod shopper;

pub use scratch::{log_in_users, Scratch};
pub use shopper::Shopper;

/// The API error code of an error body (`Unknown` when there is none).
pub fn error_code(body: &serde_json::Value) -> app::api::ErrorCode {
    serde_json::from_value(body["error"].clone()).unwrap_or(app::api::ErrorCode::Unknown)
}

/// Where tests may create and drop databases.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the server of [`admin_database_url`].
pub fn database_url(name: &str) -> String {
    database_url_on(&admin_database_url(), name)
}

/// The URL of database `name` on the server of `admin_url`.
pub fn database_url_on(admin_url: &str, name: &str) -> String {
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    format!("{base}/{name}")
}

/// The Redis all tests share; each uses its own key prefix.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// The way to the shared Redis, as the server opens it (for workers a test drives).
pub fn redis_client() -> RedisClient {
    RedisClient::open(&RedisTarget::Node(Secret::new(redis_url()))).expect("REDIS_URL is valid")
}

/// A connection of its own to the shared Redis, for white-box looks at keys.
pub async fn redis_connection() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("REDIS_URL is valid")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers: run scripts/test, which starts it")
}

/// Leading zero bits of a `pow` challenge in tests: quick to solve.
pub const POW_BITS: u32 = 8;

/// A running application and handles on its stores.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub catalog: Catalog,
    pub db: sqlx::PgPool,
    pub redis_prefix: String,
    state: AppState,
    scratch: Scratch,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// Another instance of this one's deployment (the same database, the same
    /// Redis keys), after `customise` adjusted its configuration.
    pub async fn another_instance(&self, customise: impl FnOnce(Config) -> Config) -> TestApp {
        self.another_instance_on(customise, Arc::new(SystemClock))
            .await
    }

    /// As [`TestApp::another_instance`], judging time by `clock`.
    pub async fn another_instance_on(
        &self,
        customise: impl FnOnce(Config) -> Config,
        clock: Arc<dyn Clock>,
    ) -> TestApp {
        let (url, prefix) = (self.scratch.database_url.clone(), self.redis_prefix.clone());
        spawn_app_with_clock(
            move |mut config| {
                config.database_url = Secret::new(url);
                config.redis_prefix = prefix;
                customise(config)
            },
            clock,
        )
        .await
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the test server answers")
    }

    /// `GET /api/sales/{id}/status`, as a visitor.
    pub async fn status(&self, sale_id: i64) -> app::api::SaleStatus {
        self.get(&format!("/api/sales/{sale_id}/status"))
            .await
            .json()
            .await
            .expect("a sale's status")
    }

    /// `GET /api/sales/{id}/draw`, as a visitor.
    pub async fn draw(&self, sale_id: i64) -> app::api::SaleDraw {
        self.get(&format!("/api/sales/{sale_id}/draw"))
            .await
            .json()
            .await
            .expect("a sale's draw")
    }

    /// Sends a GET for every path at once; the statuses, in the paths' order.
    pub async fn get_all(&self, paths: Vec<String>) -> Vec<u16> {
        let tasks: Vec<_> = paths
            .into_iter()
            .map(|path| {
                let (client, url) = (self.client.clone(), self.url(&path));
                tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.expect("a request task"));
        }
        statuses
    }

    /// Creates a sale straight through the catalog (no admin session needed),
    /// priced in US dollars unless the draft says otherwise.
    pub async fn create_sale(&self, sale: &SaleDraft) -> app::api::Sale {
        let sale = NewSale::parse(sale.clone(), app::money::Currency::USD)
            .expect("the test's sale keeps every rule");
        self.catalog.create(&sale).await.expect("sale is created")
    }

    /// Runs a command of the server binary (`end-sessions alice`) against this
    /// deployment's database and Redis; its report, or its error.
    pub async fn run_command(&self, line: &str) -> Result<String, String> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let task = server::cli::parse(&args)?.expect("a command, not `serve`");
        let config = test_config(&self.scratch.database, &self.redis_prefix);
        server::cli::run(task, &config).await
    }

    /// The application's shared state (stores, workers), for white-box steps.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Registers a shopper through the API; the returned client carries its cookie.
    pub async fn register(&self, username: &str) -> Shopper {
        self.session_of("/api/auth/register", username, 201).await
    }

    /// A second session of an account [`TestApp::register`] made: the same
    /// shopper on another device (no cookie but the new session's).
    pub async fn log_in(&self, username: &str) -> Shopper {
        self.session_of("/api/auth/login", username, 200).await
    }

    /// Posts `username` and the tests' password to `path` (register or log
    /// in), which must answer `expected`: the shopper with the session cookie.
    async fn session_of(&self, path: &str, username: &str, expected: u16) -> Shopper {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("a client");
        let response = client
            .post(self.url(path))
            .json(&serde_json::json!({ "username": username, "password": "correct horse battery" }))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), expected, "{path} for {username}");
        let account: app::api::Account = response.json().await.expect("an account");
        Shopper {
            client,
            base: self.url(""),
            user_id: account.user_id,
        }
    }

    /// An admin, made through the same code as `server create-admin`, logged in.
    pub async fn admin(&self) -> Shopper {
        let name = server::accounts::credentials::Username::parse("root-admin").expect("valid");
        let password =
            server::accounts::credentials::Password::parse("correct horse battery").expect("valid");
        let user = self
            .state
            .accounts
            .upsert_admin(&name, password)
            .await
            .expect("admin created");
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("a client");
        let response = client
            .post(self.url("/api/auth/login"))
            .json(&serde_json::json!({ "username": "root-admin", "password": "correct horse battery" }))
            .send()
            .await
            .expect("login answers");
        assert_eq!(response.status(), 200);
        Shopper {
            client,
            base: self.url(""),
            user_id: user.id,
        }
    }

    /// Many shoppers at once: users in Postgres and real sessions in Redis, made
    /// directly (argon2 for thousands of logins would only slow the test down).
    /// Returns `(user id, session cookie)` pairs.
    pub async fn bulk_sessions(&self, prefix: &str, count: u32) -> Vec<(i64, String)> {
        let password =
            server::accounts::credentials::Password::parse("load-test-password").expect("valid");
        self.state
            .accounts
            .bulk_create(prefix, count, password)
            .await
            .expect("users created");
        log_in_users(&self.db, &self.state.sessions, prefix)
            .await
            .expect("shoppers logged in")
    }

    /// `count` logged-in shoppers made at once (see [`TestApp::bulk_sessions`]),
    /// each with its own cookie jar (for the line's entry cookie).
    pub async fn shoppers(&self, prefix: &str, count: u32) -> Vec<Shopper> {
        let url = reqwest::Url::parse(&self.url("/")).expect("the app's URL");
        self.bulk_sessions(prefix, count)
            .await
            .into_iter()
            .map(|(user_id, cookie)| {
                let jar = Arc::new(reqwest::cookie::Jar::default());
                jar.add_cookie_str(&cookie, &url);
                Shopper {
                    client: reqwest::Client::builder()
                        .cookie_provider(jar)
                        .build()
                        .expect("a client"),
                    base: self.url(""),
                    user_id,
                }
            })
            .collect()
    }

    /// Waits (up to 15 s) until no reservation of `sale_id` waits for the consumer.
    pub async fn drain(&self, sale_id: i64) {
        for _ in 0..300 {
            let books = self
                .state
                .stock
                .books(sale_id)
                .await
                .expect("redis answers");
            if books.queued_units == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the order queue of sale {sale_id} did not drain");
    }

    /// Redis against Postgres for a sale.
    pub async fn books(&self, sale_id: i64) -> server::sales::reconcile::Reconciliation {
        let sale = self
            .catalog
            .sale(sale_id)
            .await
            .expect("db")
            .expect("sale exists");
        server::sales::reconcile::reconcile(&self.db, &self.state.stock, &sale)
            .await
            .expect("reconcile runs")
    }

    /// The dead letters, as an admin lists them.
    pub async fn dead_letters(&self) -> Vec<app::api::DeadLetter> {
        self.admin()
            .await
            .get("/api/admin/dead-letters")
            .await
            .json()
            .await
            .expect("dead letters listed")
    }

    /// `(order id, user id, status)` of every order row of a sale.
    pub async fn order_rows(&self, sale_id: i64) -> Vec<(String, i64, String)> {
        sqlx::query_as("select id, user_id, status from orders where sale_id = $1 order by id")
            .bind(sale_id)
            .fetch_all(&self.db)
            .await
            .expect("orders listed")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Clean up on a thread of its own: `Drop` cannot await.
        let scratch = self.scratch.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(scratch.drop_all());
        })
        .join();
    }
}

/// The configuration a test app starts from: the environment's (with local
/// defaults), a fresh database, a fresh key prefix, port 0.
pub fn test_config(database: &str, redis_prefix: &str) -> Config {
    let mut config = Config::from_lookup(|name| match name {
        "FLASHSALE_DEMO" | "FLASHSALE_ENV" | "LEPTOS_SITE_ADDR" => None,
        other => std::env::var(other).ok(),
    })
    .expect("test configuration is valid")
    .with_site_addr("127.0.0.1:0".parse().expect("a valid address"));
    config.database_url = Secret::new(database_url(database));
    config.redis = RedisTarget::Node(Secret::new(redis_url()));
    config.redis_prefix = redis_prefix.to_owned();
    // Tests wait for the consumer; keep its pauses short.
    config.consumer.block = std::time::Duration::from_millis(100);
    config.consumer.refresh = std::time::Duration::from_millis(100);
    config.pow_bits = POW_BITS;
    // Thousands of simulated shoppers share 127.0.0.1: rate limits are tested on
    // their own (tests/rate_limits.rs), not in every test.
    let generous = server::guards::rate_limit::Rate {
        per_second: 100_000.0,
        burst: 100_000,
    };
    config.rate_limits = server::guards::rate_limit::RateLimits {
        per_user: generous,
        per_ip: generous,
        per_sale: generous,
    };
    // Likewise registrations and log-ins (tests/system/sign_in.rs tests them).
    config.sign_in = generous_sign_in();
    config
}

/// Sign-in limits no test's own shoppers reach.
pub fn generous_sign_in() -> server::guards::sign_in::SignInLimits {
    let generous = server::guards::rate_limit::Rate {
        per_second: 100_000.0,
        burst: 100_000,
    };
    server::guards::sign_in::SignInLimits {
        register_per_address: generous,
        login_per_address: generous,
        free_attempts_per_username: 100_000,
        free_failures_per_address: 100_000,
        quiet_registrations_per_minute: u64::MAX,
        ..server::guards::sign_in::SignInLimits::default()
    }
}

/// Adjusts a configuration to use the Redis server at `url` (a private one,
/// which the test may stop or restart) instead of the shared one.
pub fn on_redis(url: String) -> impl Fn(Config) -> Config + Clone {
    move |mut config| {
        config.redis = RedisTarget::Node(Secret::new(url.clone()));
        config
    }
}

/// Starts the application with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|config| config).await
}

/// Starts the application after `customise` has adjusted its configuration.
pub async fn spawn_app_with(customise: impl FnOnce(Config) -> Config) -> TestApp {
    spawn_app_with_clock(customise, Arc::new(SystemClock)).await
}

/// Starts the application on `clock` after `customise` has adjusted its configuration.
pub async fn spawn_app_with_clock(
    customise: impl FnOnce(Config) -> Config,
    clock: Arc<dyn Clock>,
) -> TestApp {
    let scratch = Scratch::create("fs_test")
        .await
        .expect("a scratch database (Postgres answers: run scripts/test, which starts it)");
    let config = customise(test_config(&scratch.database, &scratch.redis_prefix));
    let application = Application::build_with_clock(config, clock)
        .await
        .expect("the application starts");
    let address = application.address();
    let catalog = application.state().catalog.clone();
    let db = application.state().db.clone();
    let state = application.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        catalog,
        db,
        redis_prefix: scratch.redis_prefix.clone(),
        state,
        scratch,
        stop: Some(stop),
    }
}

/// A sale starting `starts_in_ms` from now and lasting an hour.
pub fn sale_starting_in(starts_in_ms: i64, stock: i32) -> SaleDraft {
    let starts_at_ms = server::clock::now_ms() + starts_in_ms;
    SaleDraft {
        title: format!("Test sale of {stock}"),
        description: "A test product".into(),
        image_url: String::new(),
        price_cents: 1_000,
        list_price_cents: 2_500,
        currency: None,
        stock,
        per_user_limit: 1,
        starts_at_ms,
        ends_at_ms: starts_at_ms + 3_600_000,
        payment_window_secs: 900,
        captcha: app::api::CaptchaKind::None,
        min_account_age_days: 0,
        admission: None,
        queue_opens_at_ms: None,
        queue_window_per_unit: None,
        queue_pace_per_s: None,
    }
}

/// A `queue` sale starting `starts_in_ms` from now, its line open already:
/// `window` undecided admitted shoppers per unit left, 1,000 admissions a second.
pub fn queue_sale_starting_in(starts_in_ms: i64, stock: i32, window: i32) -> SaleDraft {
    SaleDraft {
        admission: Some(app::api::AdmissionMode::Queue),
        queue_opens_at_ms: Some(server::clock::now_ms() - 1_000),
        queue_window_per_unit: Some(window),
        queue_pace_per_s: Some(1_000),
        ..sale_starting_in(starts_in_ms, stock)
    }
}

/// Spearman's rank correlation of pairs of values (ties ranked by their
/// order): 1 when the second follows the first, 0 when unrelated.
pub fn spearman(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let ranks = |values: Vec<f64>| -> Vec<f64> {
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
        let mut ranks = vec![0.0; values.len()];
        for (rank, index) in order.into_iter().enumerate() {
            ranks[index] = rank as f64;
        }
        ranks
    };
    let a = ranks(pairs.iter().map(|pair| pair.0).collect());
    let b = ranks(pairs.iter().map(|pair| pair.1).collect());
    let d2: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

/// A 1×1 red PNG.
pub const RED_DOT: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[cfg(test)]
mod tests {
    #[test]
    fn spearman_sees_order_and_its_absence() {
        let same: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), f64::from(i))).collect();
        assert!((super::spearman(&same) - 1.0).abs() < 1e-9);
        let reversed: Vec<(f64, f64)> = (0..10).map(|i| (f64::from(i), f64::from(-i))).collect();
        assert!((super::spearman(&reversed) + 1.0).abs() < 1e-9);
    }
}
