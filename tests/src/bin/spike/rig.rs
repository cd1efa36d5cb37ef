//! Everything a spike needs before the opening second: a database and a key prefix
//! of its own, the release server started the way a deployment starts it, shoppers
//! made by the server's CLI and logged in up front, and an admin to create sales.

use std::process::Stdio;
use std::time::{Duration, Instant};

use app::api::Sale;
use redis::aio::ConnectionManager;
use server::accounts::sessions::SessionStore;
use server::keys::RedisKeys;
use server::sales::stock::SaleStock;
use sqlx::PgPool;
use systests::Scratch;
use tokio::process::Command;

use crate::args::Options;
use crate::process::{free_port, log_file, log_path, wait_until_ready, Process, ServerEnv};

const SHOPPER_PASSWORD: &str = "spike-shopper-password";

/// One virtual shopper: who, the cookie, the address it comes from.
#[derive(Clone, Debug)]
pub struct ShopperId {
    pub index: u32,
    pub user_id: i64,
    pub cookie: String,
    pub ip: String,
}

pub struct Rig {
    pub run_id: String,
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: PgPool,
    pub redis: ConnectionManager,
    pub keys: RedisKeys,
    pub server: Option<Process>,
    pub naive: Option<Process>,
    pub naive_url: String,
    pub shoppers: Vec<ShopperId>,
    admin_cookie: String,
    scratch: Scratch,
}

impl Rig {
    /// Creates the database, starts the server, makes and logs in the shoppers.
    pub async fn prepare(options: &Options) -> Result<Rig, String> {
        let scratch = Scratch::create("spike").await?;
        let run_id = scratch.database["spike_".len()..].to_owned();
        let database_url = scratch.database_url.clone();
        let prefix = scratch.redis_prefix.clone();
        let keys = RedisKeys::new(prefix.clone());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(16_384)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| error.to_string())?;
        let server_env = ServerEnv {
            binary: options.server.clone(),
            database_url: database_url.clone(),
            prefix: prefix.clone(),
            pow_bits: options.pow_bits,
        };
        let port = free_port()?;
        let server = server_env.spawn(port, &run_id)?;
        let base_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&client, &format!("{base_url}/readyz"), &server.log).await?;

        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&database_url)
            .await
            .map_err(|error| format!("cannot reach {}: {error}", scratch.database))?;
        let redis = redis::Client::open(systests::redis_url())
            .map(ConnectionManager::new)
            .map_err(|error| error.to_string())?
            .await
            .map_err(|error| format!("cannot reach Redis: {error}"))?;

        let started = Instant::now();
        let user_prefix = format!("s{run_id}-");
        server_env
            .cli(&[
                "create-users",
                &options.shoppers.to_string(),
                "--prefix",
                &user_prefix,
                "--password",
                SHOPPER_PASSWORD,
            ])
            .await?;
        let admin_name = format!("a{run_id}");
        let admin_password = uuid::Uuid::new_v4().simple().to_string();
        server_env
            .cli_with_env(
                &["create-admin", &admin_name],
                ("FLASHSALE_ADMIN_PASSWORD", &admin_password),
            )
            .await?;
        let admin_cookie = login(&client, &base_url, &admin_name, &admin_password).await?;
        let shoppers = log_in_shoppers(&db, &redis, &keys, &user_prefix, options).await?;
        eprintln!(
            "[spike] {} shoppers created by the CLI and logged in in {:.1} s",
            shoppers.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(Rig {
            run_id,
            base_url,
            client,
            db,
            redis,
            keys,
            server: Some(server),
            naive: None,
            naive_url: String::new(),
            shoppers,
            admin_cookie,
            scratch,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn stock(&self) -> SaleStock {
        SaleStock::new(self.redis.clone(), self.keys.clone())
    }

    /// A sale created through the admin API, starting `lead` from now.
    pub async fn create_sale(&self, options: &Options, round: usize) -> Result<Sale, String> {
        let starts_at_ms = server::clock::now_ms() + (options.lead_secs * 1000.0) as i64;
        let draft = app::api::SaleDraft {
            title: format!("Spike round {round}: {} units", options.stock),
            description: "Load generator".into(),
            image_url: String::new(),
            price_cents: 1_000,
            list_price_cents: 2_000,
            stock: options.stock,
            per_user_limit: options.limit,
            starts_at_ms,
            ends_at_ms: starts_at_ms + 3_600_000,
            payment_window_secs: 3_600,
            captcha: options.captcha,
            min_account_age_days: 0,
        };
        let response = self
            .client
            .post(self.url("/api/admin/sales"))
            .header("cookie", &self.admin_cookie)
            .header("origin", &self.base_url)
            .json(&draft)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(format!(
                "creating the sale answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            ));
        }
        response.json().await.map_err(|error| error.to_string())
    }

    /// Starts the naive Postgres-only buy server on this run's database.
    pub async fn start_naive(&mut self, pool: u32) -> Result<(), String> {
        crate::naive::create_tables(&self.db).await?;
        let port = free_port()?;
        let log = log_path(&format!("naive-{}", self.run_id));
        let exe = std::env::current_exe().map_err(|error| error.to_string())?;
        let child = Command::new(exe)
            .args([
                "naive-serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                &self.scratch.database_url,
                "--pool",
                &pool.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(log_file(&log)?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start the naive server: {error}"))?;
        let process = Process { child, log };
        self.naive_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(
            &self.client,
            &format!("{}/healthz", self.naive_url),
            &process.log,
        )
        .await?;
        self.naive = Some(process);
        Ok(())
    }

    /// Stops the processes and, unless kept, drops the database and keys.
    pub async fn tear_down(mut self, keep: bool) {
        if let Some(naive) = self.naive.take() {
            naive.stop().await;
        }
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.db.close().await;
        if keep {
            eprintln!(
                "[spike] kept database {} and Redis keys {}*",
                self.scratch.database, self.scratch.redis_prefix
            );
            return;
        }
        self.scratch.drop_all().await;
    }
}

async fn login(
    client: &reqwest::Client,
    base_url: &str,
    username: &str,
    password: &str,
) -> Result<String, String> {
    let response = client
        .post(format!("{base_url}/api/auth/login"))
        .header("origin", base_url)
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    if !response.status().is_success() {
        return Err(format!("admin login answered {}", response.status()));
    }
    response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| "admin login set no cookie".to_owned())
}

/// Sessions for every shopper, written where the server keeps them (logging in
/// 50,000 shoppers through argon2 would take minutes and is not what is measured).
async fn log_in_shoppers(
    db: &PgPool,
    redis: &ConnectionManager,
    keys: &RedisKeys,
    user_prefix: &str,
    options: &Options,
) -> Result<Vec<ShopperId>, String> {
    let store = SessionStore::new(redis.clone(), keys.clone());
    let sessions = systests::log_in_users(db, &store, user_prefix).await?;
    if sessions.len() != options.shoppers as usize {
        return Err(format!(
            "the CLI made {} shoppers, {} were asked for",
            sessions.len(),
            options.shoppers
        ));
    }
    let per_ip = options.shoppers_per_ip;
    Ok(sessions
        .into_iter()
        .enumerate()
        .map(|(index, (user_id, cookie))| {
            let index = index as u32;
            let host = index / per_ip;
            ShopperId {
                index,
                user_id,
                cookie,
                ip: format!(
                    "10.{}.{}.{}",
                    (host >> 16) & 255,
                    (host >> 8) & 255,
                    host & 255
                ),
            }
        })
        .collect())
}
