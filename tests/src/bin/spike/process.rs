//! The processes a spike starts: the release server (and its CLI tasks) the way
//! a deployment starts it, and the naive baseline; each with a log file of its
//! own and stopped on drop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use server::redis_connection::RedisTarget;
use tokio::process::{Child, Command};

/// A process the spike started, with its log file; stopped on drop.
pub struct Process {
    pub child: Child,
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

    /// SIGKILL: a crash, with no draining and no goodbye to Redis or Postgres.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
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

/// Waits until `url` answers 200.
pub async fn wait_until_ready(
    client: &reqwest::Client,
    url: &str,
    log: &Path,
) -> Result<(), String> {
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

/// How the server process is started and its CLI run.
pub struct ServerEnv {
    pub binary: PathBuf,
    pub database_url: String,
    pub redis: RedisTarget,
    pub prefix: String,
    pub pow_bits: u32,
    /// The signing key every instance shares (a ticket from one is good on all).
    pub secret: String,
    /// More settings (`FLASHSALE_…`) for every process.
    pub extra: Vec<(String, String)>,
}

/// A random signing key.
pub fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl ServerEnv {
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        match &self.redis {
            RedisTarget::Node(url) => command.env("REDIS_URL", url.expose()),
            RedisTarget::Cluster(urls) => {
                command.env("REDIS_CLUSTER_URLS", urls.expose().join(","))
            }
        };
        command
            .env("DATABASE_URL", &self.database_url)
            .env("FLASHSALE_REDIS_PREFIX", &self.prefix)
            .env("FLASHSALE_POW_BITS", self.pow_bits.to_string())
            // The crowd's addresses arrive in X-Forwarded-For, as behind a proxy.
            .env("FLASHSALE_TRUST_FORWARDED_FOR", "true")
            .env("RUST_LOG", "warn")
            .env_remove("FLASHSALE_DEMO")
            .envs(self.extra.iter().map(|(name, value)| (name, value)));
        command
    }

    /// Starts an instance on `port`, with `env` on top of the shared settings.
    pub fn spawn(
        &self,
        port: u16,
        run_id: &str,
        env: &[(String, String)],
    ) -> Result<Process, String> {
        let log = log_path(&format!("server-{run_id}"));
        let child = self
            .command()
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("FLASHSALE_SECRET", &self.secret)
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

    pub async fn cli(&self, args: &[&str]) -> Result<(), String> {
        self.cli_with_env(args, ("FLASHSALE_UNUSED", "")).await
    }

    pub async fn cli_with_env(
        &self,
        args: &[&str],
        (name, value): (&str, &str),
    ) -> Result<(), String> {
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

pub fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("spike-{name}.log"))
}

pub fn log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))
}
