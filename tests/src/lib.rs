//! Helpers for black-box system tests: [`spawn_app`] starts the real application on
//! port 0 against the real Redis and Postgres, in a database of its own and under a
//! Redis key prefix of its own, and cleans both up when dropped.

use std::net::SocketAddr;

use server::catalog::{Catalog, NewSale};
use server::config::{Config, Secret};
use server::startup::Application;
use sqlx::{Connection, PgConnection};
use tokio::sync::oneshot;

/// Where tests may create and drop databases.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

/// The Redis all tests share; each uses its own key prefix.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A running application and handles on its stores.
pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub catalog: Catalog,
    pub db: sqlx::PgPool,
    pub redis_prefix: String,
    database: String,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
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

    /// Creates a sale through the same code path the admin API uses.
    pub async fn create_sale(&self, sale: &NewSale) -> app::api::Sale {
        self.catalog.create(sale).await.expect("sale is created")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Clean up on a thread of its own: `Drop` cannot await.
        let database = self.database.clone();
        let prefix = self.redis_prefix.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_database_url()).await {
                    let _ = sqlx::query(&format!(
                        "drop database if exists \"{database}\" with (force)"
                    ))
                    .execute(&mut admin)
                    .await;
                }
                delete_keys(&prefix).await;
            });
        })
        .join();
    }
}

async fn delete_keys(prefix: &str) {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return;
    };
    let Ok(mut redis) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut redis)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query_async(&mut redis).await;
    }
}

/// The configuration a test app starts from: the environment's (with local
/// defaults), a fresh database, a fresh key prefix, port 0.
pub fn test_config(database: &str, redis_prefix: &str) -> Config {
    let admin = admin_database_url();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    let mut config = Config::from_lookup(|name| match name {
        "FLASHSALE_DEMO" | "FLASHSALE_ENV" | "LEPTOS_SITE_ADDR" => None,
        other => std::env::var(other).ok(),
    })
    .expect("test configuration is valid")
    .with_site_addr("127.0.0.1:0".parse().expect("a valid address"));
    config.database_url = Secret::new(format!("{base}/{database}"));
    config.redis_url = Secret::new(redis_url());
    config.redis_prefix = redis_prefix.to_owned();
    config
}

/// Starts the application with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|config| config).await
}

/// Starts the application after `customise` has adjusted its configuration.
pub async fn spawn_app_with(customise: impl FnOnce(Config) -> Config) -> TestApp {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("fs_test_{id}");
    // The hash tag keeps a test's keys in one slot even on a Redis Cluster.
    let redis_prefix = format!("t{{{}}}:", &id[..12]);
    let mut admin = PgConnection::connect(&admin_database_url())
        .await
        .expect("Postgres answers: run scripts/test, which starts it");
    sqlx::query(&format!("create database \"{database}\""))
        .execute(&mut admin)
        .await
        .expect("the test database is created");
    let config = customise(test_config(&database, &redis_prefix));
    let application = Application::build(config)
        .await
        .expect("the application starts");
    let address = application.address();
    let catalog = application.state().catalog.clone();
    let db = application.state().db.clone();
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
        redis_prefix,
        database,
        stop: Some(stop),
    }
}

/// A sale starting `starts_in_ms` from now and lasting an hour.
pub fn sale_starting_in(starts_in_ms: i64, stock: i32) -> NewSale {
    let starts_at_ms = server::now_ms() + starts_in_ms;
    NewSale {
        title: format!("Test sale of {stock}"),
        description: "A test product".into(),
        image_url: String::new(),
        price_cents: 1_000,
        list_price_cents: 2_500,
        stock,
        per_user_limit: 1,
        starts_at_ms,
        ends_at_ms: starts_at_ms + 3_600_000,
        payment_window_secs: 900,
        captcha: app::api::CaptchaKind::None,
        min_account_age_days: 0,
    }
}
