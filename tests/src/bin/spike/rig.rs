//! Everything a spike needs before the opening second: a database and a key prefix
//! of its own, the release server started the way a deployment starts it, shoppers
//! made by the server's CLI and logged in up front, and an admin to create sales.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use app::api::Sale;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use server::accounts::sessions::{Session, SessionStore};
use server::keys::RedisKeys;
use server::sales::stock::SaleStock;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::process::{Child, Command};

use crate::args::Options;

const SHOPPER_PASSWORD: &str = "spike-shopper-password";

/// A process the spike started, with its log file; stopped on drop.
pub struct Process {
    child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Peak and current resident memory in MiB, from `/proc`.
    pub fn memory_mib(&self) -> Option<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|line| line.starts_with(name))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
                .map(|kib| kib / 1024.0)
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// SIGTERM, so the server drains and stops its workers as in production.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_err()
            {
                let _ = self.child.kill().await;
            }
        }
    }
}

/// A free port on the loopback interface.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

/// Waits until `url` answers 200.
async fn wait_until_ready(client: &reqwest::Client, url: &str, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(url).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{url} did not answer 200 within 30 s; see {}",
                log.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
    database: String,
    database_url: String,
}

fn admin_url() -> String {
    systests::admin_database_url()
}

impl Rig {
    /// Creates the database, starts the server, makes and logs in the shoppers.
    pub async fn prepare(options: &Options) -> Result<Rig, String> {
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
        let database = format!("spike_{run_id}");
        let database_url = systests::database_url(&database);
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .map_err(|error| format!("cannot reach Postgres: {error}"))?;
        sqlx::query(&format!("create database \"{database}\""))
            .execute(&mut admin)
            .await
            .map_err(|error| format!("cannot create {database}: {error}"))?;
        let prefix = format!("spike{{{run_id}}}:");
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
            .map_err(|error| format!("cannot reach {database}: {error}"))?;
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
            database,
            database_url,
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
                &self.database_url,
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
                self.database,
                self.keys.prefix()
            );
            return;
        }
        if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
            let _ = sqlx::query(&format!(
                "drop database if exists \"{}\" with (force)",
                self.database
            ))
            .execute(&mut admin)
            .await;
        }
        let mut redis = self.redis.clone();
        let mut cursor: u64 = 0;
        loop {
            let Ok((next, found)): Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.keys.prefix()))
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut redis)
                .await
            else {
                break;
            };
            if !found.is_empty() {
                let _: Result<(), _> = redis::cmd("UNLINK")
                    .arg(&found)
                    .query_async(&mut redis)
                    .await;
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
    }
}

/// How the server process is started and its CLI run.
struct ServerEnv {
    binary: PathBuf,
    database_url: String,
    prefix: String,
    pow_bits: u32,
}

impl ServerEnv {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", systests::redis_url())
            .env("FLASHSALE_REDIS_PREFIX", &self.prefix)
            .env("FLASHSALE_POW_BITS", self.pow_bits.to_string())
            // The crowd's addresses arrive in X-Forwarded-For, as behind a proxy.
            .env("FLASHSALE_TRUST_FORWARDED_FOR", "true")
            .env("RUST_LOG", "warn")
            .env_remove("FLASHSALE_DEMO");
        command
    }

    fn spawn(&self, port: u16, run_id: &str) -> Result<Process, String> {
        let log = log_path(&format!("server-{run_id}"));
        let child = self
            .command()
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env(
                "FLASHSALE_SECRET",
                format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                ),
            )
            .stdout(log_file(&log)?)
            .stderr(log_file(&log)?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                format!(
                    "cannot start {}: {error} (build it with `cargo leptos build --release`)",
                    self.binary.display()
                )
            })?;
        Ok(Process { child, log })
    }

    async fn cli(&self, args: &[&str]) -> Result<(), String> {
        self.cli_with_env(args, ("FLASHSALE_UNUSED", "")).await
    }

    async fn cli_with_env(&self, args: &[&str], (name, value): (&str, &str)) -> Result<(), String> {
        let output = self
            .command()
            .env(name, value)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|error| format!("cannot run {}: {error}", self.binary.display()))?;
        if !output.status.success() {
            return Err(format!(
                "`server {}` failed: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }
}

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("spike-{name}.log"))
}

fn log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
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
    let users = sqlx::query_as::<_, (i64, String, chrono::DateTime<chrono::Utc>)>(
        "select id, username, created_at from users where starts_with(username, $1) order by id",
    )
    .bind(user_prefix)
    .fetch_all(db)
    .await
    .map_err(|error| error.to_string())?;
    if users.len() != options.shoppers as usize {
        return Err(format!(
            "the CLI made {} shoppers, {} were asked for",
            users.len(),
            options.shoppers
        ));
    }
    let store = SessionStore::new(redis.clone(), keys.clone());
    let per_ip = options.shoppers_per_ip;
    let shoppers: Vec<Result<ShopperId, String>> =
        futures_util::stream::iter(users.into_iter().enumerate())
            .map(|(index, (user_id, username, created_at))| {
                let store = store.clone();
                async move {
                    let token = store
                        .create(&Session {
                            user_id,
                            username,
                            is_admin: false,
                            account_created_ms: created_at.timestamp_millis(),
                        })
                        .await
                        .map_err(|error| error.to_string())?;
                    let index = index as u32;
                    let host = index / per_ip;
                    Ok(ShopperId {
                        index,
                        user_id,
                        cookie: format!("{}={token}", server::accounts::sessions::COOKIE),
                        ip: format!(
                            "10.{}.{}.{}",
                            (host >> 16) & 255,
                            (host >> 8) & 255,
                            host & 255
                        ),
                    })
                }
            })
            .buffer_unordered(256)
            .collect()
            .await;
    let mut shoppers = shoppers.into_iter().collect::<Result<Vec<_>, _>>()?;
    shoppers.sort_by_key(|shopper| shopper.index);
    Ok(shoppers)
}
