//! Everything a spike needs before the opening second: a database and a key prefix
//! of its own, the release server started the way a deployment starts it, shoppers
//! made by the server's CLI and logged in up front, and an admin to create sales.

use std::process::Stdio;
use std::time::{Duration, Instant};

use app::api::Sale;
use server::accounts::sessions::SessionStore;
use server::keys::RedisKeys;
use server::redis_connection::{RedisClient, RedisConnection, RedisTarget};
use server::sales::stock::SaleStock;
use server::secret::Secret;
use sqlx::PgPool;
use systests::Scratch;
use tokio::process::Command;

use crate::args::Options;
use crate::process::{log_file, log_path, random_secret, wait_until_ready, Process, ServerEnv};
use systests::private_servers::free_port;

const SHOPPER_PASSWORD: &str = "spike-shopper-password";

/// One virtual shopper: who, the cookie, the address it comes from.
#[derive(Clone, Debug)]
pub struct ShopperId {
    pub index: u32,
    pub user_id: i64,
    pub cookie: String,
    pub ip: String,
}

/// Where the servers under test keep their data: the shared Postgres and Redis,
/// or a drill's private ones.
pub struct Infra {
    pub admin_database_url: String,
    pub redis: RedisTarget,
    /// How many server instances share the sale.
    pub instances: usize,
    /// More settings for every instance.
    pub extra: Vec<(String, String)>,
}

impl Infra {
    /// One instance on the shared servers.
    pub fn shared() -> Self {
        Self {
            admin_database_url: systests::admin_database_url(),
            redis: RedisTarget::Node(Secret::new(systests::redis_url())),
            instances: 1,
            extra: Vec::new(),
        }
    }
}

/// One server process and the port it keeps across restarts.
pub struct Instance {
    pub port: u16,
    pub url: String,
    pub process: Option<Process>,
    /// Settings of this instance alone (on top of the rig's).
    pub env: Vec<(String, String)>,
}

impl Instance {
    fn new(env: &[(&str, &str)]) -> Result<Self, String> {
        let port = free_port()?;
        Ok(Self {
            port,
            url: format!("http://127.0.0.1:{port}"),
            process: None,
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        })
    }
}

pub struct Rig {
    pub run_id: String,
    /// The first instance's URL.
    pub base_url: String,
    pub client: reqwest::Client,
    pub db: PgPool,
    pub redis: RedisConnection,
    pub keys: RedisKeys,
    pub instances: Vec<Instance>,
    pub server_env: ServerEnv,
    pub naive: Option<Process>,
    pub naive_url: String,
    pub shoppers: Vec<ShopperId>,
    /// The admin's name and password, and the cookie of its session.
    admin: (String, String),
    admin_cookie: String,
    /// The run's own database and keys; none when attached to a deployment.
    scratch: Option<Scratch>,
}

impl Rig {
    /// Creates the database, starts the server, makes and logs in the shoppers
    /// (or, with `--attach`, makes them on the running deployment).
    pub async fn prepare(options: &Options) -> Result<Rig, String> {
        match &options.attach {
            Some(url) => Self::attach(options, url).await,
            None => Self::prepare_on(options, Infra::shared()).await,
        }
    }

    /// Shoppers and an admin on the deployment serving at `url`, whose stores
    /// the environment names as the server's own configuration does.
    async fn attach(options: &Options, url: &str) -> Result<Rig, String> {
        let config = server::config::Config::from_env().map_err(|error| error.to_string())?;
        let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let database_url = config.database_url.expose().clone();
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&database_url)
            .await
            .map_err(|error| format!("cannot reach the deployment's Postgres: {error}"))?;
        let redis = RedisClient::open(&config.redis)
            .and_then(|client| client.shared())
            .map_err(|error| format!("cannot reach the deployment's Redis: {error}"))?;
        let mut rig = Rig {
            run_id,
            base_url: url.to_owned(),
            client: http_client()?,
            db,
            redis,
            keys: RedisKeys::new(config.redis_prefix.clone()),
            instances: Vec::new(),
            server_env: ServerEnv {
                binary: options.server.clone(),
                database_url,
                redis: config.redis,
                prefix: config.redis_prefix,
                pow_bits: options.pow_bits,
                secret: random_secret(),
                extra: Vec::new(),
            },
            naive: None,
            naive_url: String::new(),
            shoppers: Vec::new(),
            admin: (String::new(), String::new()),
            admin_cookie: String::new(),
            scratch: None,
        };
        rig.make_shoppers(options).await?;
        Ok(rig)
    }

    /// As [`Rig::prepare`], on `infra`'s servers with its instances.
    pub async fn prepare_on(options: &Options, infra: Infra) -> Result<Rig, String> {
        let cleanup_url = match &infra.redis {
            RedisTarget::Node(url) => url.expose().clone(),
            // A private cluster is thrown away whole.
            RedisTarget::Cluster(urls) => urls.expose()[0].clone(),
        };
        let scratch = Scratch::create_on("spike", &infra.admin_database_url, &cleanup_url).await?;
        let run_id = scratch.database["spike_".len()..].to_owned();
        let database_url = scratch.database_url.clone();
        let prefix = match &infra.redis {
            RedisTarget::Node(_) => scratch.redis_prefix.clone(),
            // On a cluster each sale's own tag must place its keys: a tag in the
            // prefix would put the whole run in one slot.
            RedisTarget::Cluster(_) => scratch.redis_prefix.replace(['{', '}'], ""),
        };
        let keys = RedisKeys::new(prefix.clone());
        let client = http_client()?;
        let server_env = ServerEnv {
            binary: options.server.clone(),
            database_url: database_url.clone(),
            redis: infra.redis.clone(),
            prefix: prefix.clone(),
            pow_bits: options.pow_bits,
            secret: random_secret(),
            extra: infra.extra,
        };
        let mut instances = Vec::with_capacity(infra.instances);
        for _ in 0..infra.instances.max(1) {
            instances.push(Instance::new(&[])?);
        }
        let base_url = instances[0].url.clone();

        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&database_url)
            .await
            .map_err(|error| format!("cannot reach {}: {error}", scratch.database))?;
        let redis = RedisClient::open(&infra.redis)
            .and_then(|client| client.shared())
            .map_err(|error| format!("cannot reach Redis: {error}"))?;

        let mut rig = Rig {
            run_id,
            base_url,
            client,
            db,
            redis,
            keys,
            instances,
            server_env,
            naive: None,
            naive_url: String::new(),
            shoppers: Vec::new(),
            admin: (String::new(), String::new()),
            admin_cookie: String::new(),
            scratch: Some(scratch),
        };
        for index in 0..rig.instances.len() {
            rig.start_instance(index).await?;
        }
        rig.make_shoppers(options).await?;
        Ok(rig)
    }

    /// The first instance's process, for its memory.
    pub fn server(&self) -> Option<&Process> {
        self.instances.first()?.process.as_ref()
    }

    /// Starts instance `index` (again) on its port and waits until it is ready.
    pub async fn start_instance(&mut self, index: usize) -> Result<(), String> {
        let instance = &self.instances[index];
        let process = self.server_env.spawn(
            instance.port,
            &format!("{}-{index}", self.run_id),
            &instance.env,
        )?;
        wait_until_ready(
            &self.client,
            &format!("{}/readyz", instance.url),
            &process.log,
        )
        .await?;
        self.instances[index].process = Some(process);
        Ok(())
    }

    /// Stops instance `index` (SIGTERM) and starts it with `env` as its own settings.
    pub async fn restart_instance_with(
        &mut self,
        index: usize,
        env: &[(&str, &str)],
    ) -> Result<(), String> {
        if let Some(process) = self.instances[index].process.take() {
            process.stop().await;
        }
        let port = self.instances[index].port;
        self.instances[index] = Instance {
            port,
            url: format!("http://127.0.0.1:{port}"),
            ..Instance::new(env)?
        };
        self.start_instance(index).await
    }

    /// One more instance, with `env` as its own settings; its index.
    pub async fn add_instance(&mut self, env: &[(&str, &str)]) -> Result<usize, String> {
        self.instances.push(Instance::new(env)?);
        let index = self.instances.len() - 1;
        self.start_instance(index).await?;
        Ok(index)
    }

    /// SIGKILL to instance `index`.
    pub async fn kill_instance(&mut self, index: usize) {
        if let Some(process) = self.instances[index].process.take() {
            process.kill().await;
        }
    }

    /// Makes the shoppers with the CLI and logs them in (again, after Redis lost
    /// the sessions), and the admin.
    pub async fn make_shoppers(&mut self, options: &Options) -> Result<(), String> {
        let started = Instant::now();
        let (run_id, server_env) = (&self.run_id, &self.server_env);
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
        self.admin = (admin_name, admin_password);
        self.log_in(options).await?;
        eprintln!(
            "[spike] {} shoppers created by the CLI and logged in in {:.1} s",
            self.shoppers.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Logs the admin and every shopper in (again, after Redis lost the sessions).
    pub async fn log_in(&mut self, options: &Options) -> Result<(), String> {
        self.wait_for_redis().await?;
        let (name, password) = &self.admin;
        // An instance whose Redis connection just broke answers 503 until it reconnected.
        let deadline = Instant::now() + Duration::from_secs(10);
        self.admin_cookie = loop {
            match login(&self.client, &self.base_url, name, password).await {
                Err(error)
                    if error.ends_with("503 Service Unavailable") && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                answer => break answer?,
            }
        };
        let user_prefix = format!("s{}-", self.run_id);
        self.shoppers =
            log_in_shoppers(&self.db, &self.redis, &self.keys, &user_prefix, options).await?;
        Ok(())
    }

    /// Waits until this rig's own Redis connection answers again (its first
    /// command after a Redis restart fails while it reconnects).
    pub async fn wait_for_redis(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut redis = self.redis.clone();
            match redis::cmd("PING").query_async::<String>(&mut redis).await {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() > deadline => {
                    return Err(format!("Redis did not answer within 10 s: {error}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
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
            currency: None,
            stock: options.stock,
            per_user_limit: options.limit,
            starts_at_ms,
            ends_at_ms: starts_at_ms + 3_600_000,
            payment_window_secs: 3_600,
            captcha: options.captcha,
            min_account_age_days: 0,
            admission: Some(options.admission),
            queue_opens_at_ms: (options.admission == app::api::AdmissionMode::Queue)
                .then(|| server::clock::now_ms() - 1_000),
            queue_window_per_unit: None,
            // The first window (2 per unit) fills in about a second.
            queue_pace_per_s: Some((options.stock.saturating_mul(2)).clamp(200, 100_000)),
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
                &self.server_env.database_url,
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
        for instance in &mut self.instances {
            if let Some(server) = instance.process.take() {
                server.stop().await;
            }
        }
        self.db.close().await;
        let Some(scratch) = &self.scratch else {
            eprintln!(
                "[spike] the deployment keeps this run's shoppers (s{}-*) and sale",
                self.run_id
            );
            return;
        };
        if keep {
            eprintln!(
                "[spike] kept database {} and Redis keys {}*",
                scratch.database, scratch.redis_prefix
            );
            return;
        }
        scratch.drop_all().await;
    }
}

/// The crowd's HTTP client: no redirects followed, a connection per shopper kept.
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(16_384)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| error.to_string())
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
    redis: &RedisConnection,
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
