//! Settings, read once from the environment at start. Local development needs none
//! of them: every value has a default that matches the README's set-up. In
//! production (`FLASHSALE_ENV=production`) a signing secret is required.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `LEPTOS_SITE_ADDR` | `127.0.0.1:3000` | address to listen on |
//! | `LEPTOS_SITE_ROOT` | `target/site` | folder with the built JS, WASM, CSS |
//! | `DATABASE_URL` | `postgres://postgres:postgres@127.0.0.1:5432/flashsale` | Postgres |
//! | `REDIS_URL` | `redis://127.0.0.1:6379` | Redis (one server) |
//! | `REDIS_CLUSTER_URLS` | unset | a Redis Cluster instead: some of its nodes, comma-separated (`redis://h1:7001,redis://h2:7002`) |
//! | `FLASHSALE_REDIS_PREFIX` | `fs:` | prefix of every Redis key this instance writes |
//! | `FLASHSALE_SECRET` | random per process in development | key for signing tickets and sessions, ≥ 32 bytes |
//! | `FLASHSALE_ENV` | `development` | `production` makes the secret mandatory |
//! | `FLASHSALE_API_EXPLORER` | on in development | serve the API explorer (Swagger UI) at `/api/explorer` |
//! | `FLASHSALE_DEMO` | `false` | create a demo sale when none is scheduled or live (also `--demo`) |
//! | `FLASHSALE_MAX_INFLIGHT_BUYS` | `4096` | buy requests one instance works on at once; more get 503 `busy` (0 drains the instance) |
//! | `FLASHSALE_POW_BITS` | `18` | leading zero bits a proof-of-work answer needs |
//! | `FLASHSALE_WORKERS` | `true` | run the order consumer and expiry sweeper in this process |
//! | `FLASHSALE_RATE_PER_USER` | `2:6` | requests per second `:` burst, per shopper and sale |
//! | `FLASHSALE_RATE_PER_IP` | `50:200` | the same per client address and sale |
//! | `FLASHSALE_RATE_PER_SALE` | `20000:20000` | the same for all shoppers of a sale together |
//! | `FLASHSALE_TRUST_FORWARDED_FOR` | `false` | take the client address from `X-Forwarded-For` (behind a proxy) |
//! | `FLASHSALE_CLAIM_AFTER_MS` | `10000` | an order message un-acknowledged this long is taken over from its (crashed) worker |
//! | `FLASHSALE_REQUEST_TIMEOUT_MS` | `10000` | a request still unanswered after this long gets 503 `unavailable` |

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use leptos::config::{Env, LeptosOptions};

use crate::redis_connection::RedisTarget;

/// Default name of the built JS/WASM/CSS files (`[[workspace.metadata.leptos]] name`),
/// used when the binary was not built by cargo-leptos (e.g. by `cargo test`).
const OUTPUT_NAME: &str = "flashsale";
const MIN_SECRET_LEN: usize = 32;

/// A value that must never reach a log line: `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Development is forgiving (random secret, demo data); production is strict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Everything the application needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    pub leptos: LeptosOptions,
    /// Carries a password in most deployments.
    pub database_url: Secret<String>,
    /// One server or a cluster; URLs may carry a password.
    pub redis: RedisTarget,
    pub redis_prefix: String,
    pub secret_key: Secret<Vec<u8>>,
    pub environment: Environment,
    /// Serve the API explorer at `/api/explorer` (development, or when enabled).
    pub api_explorer: bool,
    pub demo: bool,
    /// Buy requests in flight per instance before answering `busy`.
    pub max_inflight_buys: usize,
    /// Difficulty of the proof-of-work CAPTCHA.
    pub pow_bits: u32,
    /// Whether this process runs the background workers (consumer, sweeper).
    pub workers: bool,
    pub consumer: crate::orders::consumer::ConsumerSettings,
    /// How long a request may take before it is answered 503 `unavailable`.
    pub request_timeout: std::time::Duration,
    /// How often the expiry sweeper wakes.
    pub sweep_every: std::time::Duration,
    pub rate_limits: crate::guards::rate_limit::RateLimits,
    /// Whether `X-Forwarded-For` names the client (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
}

/// Why the configuration cannot be used; each message names the variable to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("FLASHSALE_SECRET must be set in production (at least {MIN_SECRET_LEN} bytes of random text)")]
    MissingSecret,
    #[error("FLASHSALE_SECRET is too short: use at least {MIN_SECRET_LEN} bytes of random text")]
    ShortSecret,
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let environment = match get("FLASHSALE_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "FLASHSALE_ENV",
                    reason: format!("`{other}` is neither `development` nor `production`"),
                })
            }
        };
        let secret_key = match (get("FLASHSALE_SECRET"), environment) {
            (Some(secret), _) if secret.len() < MIN_SECRET_LEN => {
                return Err(ConfigError::ShortSecret)
            }
            (Some(secret), _) => secret.into_bytes(),
            (None, Environment::Production) => return Err(ConfigError::MissingSecret),
            (None, Environment::Development) => random_secret()?,
        };
        let site_addr: SocketAddr = get("LEPTOS_SITE_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|error| ConfigError::Invalid {
                name: "LEPTOS_SITE_ADDR",
                reason: format!("{error}"),
            })?;
        let hash_files = match get("LEPTOS_HASH_FILES")
            .or_else(|| option_env!("LEPTOS_HASH_FILES").map(String::from))
        {
            Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                name: "LEPTOS_HASH_FILES",
                reason: "expected `true` or `false`".into(),
            })?,
            None => false,
        };
        let leptos_env = match get("LEPTOS_ENV").as_deref() {
            Some("PROD") | Some("prod") | Some("production") => Env::PROD,
            _ => Env::DEV,
        };
        let output_name = get("LEPTOS_OUTPUT_NAME")
            .or_else(|| option_env!("LEPTOS_OUTPUT_NAME").map(String::from))
            .unwrap_or_else(|| OUTPUT_NAME.into());
        let leptos = LeptosOptions::builder()
            .output_name(Arc::<str>::from(output_name))
            .site_root(Arc::<str>::from(
                get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            ))
            .site_pkg_dir(Arc::<str>::from(
                get("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|| "pkg".into()),
            ))
            .site_addr(site_addr)
            .env(leptos_env)
            .reload_port(parse_or(
                get("LEPTOS_RELOAD_PORT"),
                "LEPTOS_RELOAD_PORT",
                3001,
            )?)
            .hash_files(hash_files)
            .build();
        let api_explorer = match get("FLASHSALE_API_EXPLORER").as_deref() {
            None => environment == Environment::Development,
            Some(value) => matches!(value, "1" | "true" | "yes" | "on"),
        };
        let demo = match get("FLASHSALE_DEMO").as_deref() {
            None => false,
            Some(value) => matches!(value, "1" | "true" | "yes" | "on"),
        };
        let redis = match get("REDIS_CLUSTER_URLS") {
            Some(urls) => RedisTarget::Cluster(Secret::new(
                urls.split(',')
                    .map(str::trim)
                    .filter(|url| !url.is_empty())
                    .map(String::from)
                    .collect(),
            )),
            None => RedisTarget::Node(Secret::new(
                get("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            )),
        };
        let redis_prefix = get("FLASHSALE_REDIS_PREFIX").unwrap_or_else(|| "fs:".into());
        if matches!(redis, RedisTarget::Cluster(_)) && redis_prefix.contains('{') {
            // Redis hashes the first `{…}` of a key: every sale would share one slot.
            return Err(ConfigError::Invalid {
                name: "FLASHSALE_REDIS_PREFIX",
                reason: "must not hold a `{` on a Redis Cluster: the sales' hash tags \
                         would give way to it and every key would share one slot"
                    .into(),
            });
        }
        Ok(Config {
            leptos,
            database_url: Secret::new(
                get("DATABASE_URL").unwrap_or_else(|| {
                    "postgres://postgres:postgres@127.0.0.1:5432/flashsale".into()
                }),
            ),
            redis,
            redis_prefix,
            secret_key: Secret::new(secret_key),
            environment,
            api_explorer,
            demo,
            max_inflight_buys: parse_or(
                get("FLASHSALE_MAX_INFLIGHT_BUYS"),
                "FLASHSALE_MAX_INFLIGHT_BUYS",
                4096,
            )?,
            pow_bits: parse_or(get("FLASHSALE_POW_BITS"), "FLASHSALE_POW_BITS", 18)?,
            workers: parse_or(get("FLASHSALE_WORKERS"), "FLASHSALE_WORKERS", true)?,
            consumer: {
                let defaults = crate::orders::consumer::ConsumerSettings::default();
                crate::orders::consumer::ConsumerSettings {
                    min_idle: std::time::Duration::from_millis(parse_or(
                        get("FLASHSALE_CLAIM_AFTER_MS"),
                        "FLASHSALE_CLAIM_AFTER_MS",
                        defaults.min_idle.as_millis() as u64,
                    )?),
                    ..defaults
                }
            },
            request_timeout: std::time::Duration::from_millis(parse_or(
                get("FLASHSALE_REQUEST_TIMEOUT_MS"),
                "FLASHSALE_REQUEST_TIMEOUT_MS",
                10_000,
            )?),
            sweep_every: std::time::Duration::from_secs(1),
            rate_limits: {
                let defaults = crate::guards::rate_limit::RateLimits::default();
                crate::guards::rate_limit::RateLimits {
                    per_user: parse_rate(
                        get("FLASHSALE_RATE_PER_USER"),
                        "FLASHSALE_RATE_PER_USER",
                        defaults.per_user,
                    )?,
                    per_ip: parse_rate(
                        get("FLASHSALE_RATE_PER_IP"),
                        "FLASHSALE_RATE_PER_IP",
                        defaults.per_ip,
                    )?,
                    per_sale: parse_rate(
                        get("FLASHSALE_RATE_PER_SALE"),
                        "FLASHSALE_RATE_PER_SALE",
                        defaults.per_sale,
                    )?,
                }
            },
            trust_forwarded_for: parse_or(
                get("FLASHSALE_TRUST_FORWARDED_FOR"),
                "FLASHSALE_TRUST_FORWARDED_FOR",
                false,
            )?,
        })
    }

    /// Turns the demo sale on (the `--demo` flag); never turns it off.
    pub fn with_demo(mut self, demo: bool) -> Self {
        self.demo |= demo;
        self
    }

    /// Listens on `addr` instead (tests pass `127.0.0.1:0`).
    pub fn with_site_addr(mut self, addr: SocketAddr) -> Self {
        self.leptos.site_addr = addr;
        self
    }
}

/// `"<per second>:<burst>"`, e.g. `"2:6"`.
fn parse_rate(
    value: Option<String>,
    name: &'static str,
    default: crate::guards::rate_limit::Rate,
) -> Result<crate::guards::rate_limit::Rate, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let parsed = value.split_once(':').and_then(|(rate, burst)| {
        let per_second: f64 = rate.trim().parse().ok().filter(|rate: &f64| *rate > 0.0)?;
        let burst: u32 = burst.trim().parse().ok().filter(|burst| *burst > 0)?;
        Some(crate::guards::rate_limit::Rate { per_second, burst })
    });
    parsed.ok_or_else(|| ConfigError::Invalid {
        name,
        reason: format!("`{value}` is not `<requests per second>:<burst>`"),
    })
}

fn parse_or<T: std::str::FromStr>(
    value: Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("`{value}` is not a number"),
        }),
    }
}

/// A per-process key for development: tickets signed by an earlier run stop
/// verifying, which is harmless there.
fn random_secret() -> Result<Vec<u8>, ConfigError> {
    let mut bytes = vec![0u8; 64];
    getrandom::fill(&mut bytes).map_err(|error| ConfigError::Invalid {
        name: "FLASHSALE_SECRET",
        reason: format!("unset, and no random source to make one: {error}"),
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn development_needs_no_settings() {
        let config = config(&[]).expect("defaults are valid");
        assert_eq!(config.environment, Environment::Development);
        assert_eq!(config.leptos.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.redis_prefix, "fs:");
        assert!(config.secret_key.expose().len() >= MIN_SECRET_LEN);
        assert!(!config.demo);
    }

    #[test]
    fn production_refuses_to_start_without_a_secret() {
        assert_eq!(
            config(&[("FLASHSALE_ENV", "production")]).unwrap_err(),
            ConfigError::MissingSecret
        );
        assert_eq!(
            config(&[
                ("FLASHSALE_ENV", "production"),
                ("FLASHSALE_SECRET", "short")
            ])
            .unwrap_err(),
            ConfigError::ShortSecret
        );
        let secret = "s".repeat(40);
        let ok = config(&[
            ("FLASHSALE_ENV", "production"),
            ("FLASHSALE_SECRET", &secret),
        ])
        .unwrap();
        assert_eq!(ok.secret_key.expose(), secret.as_bytes());
    }

    #[test]
    fn the_standard_leptos_variables_configure_the_site() {
        let config = config(&[
            ("LEPTOS_SITE_ADDR", "0.0.0.0:8080"),
            ("LEPTOS_SITE_ROOT", "/srv/site"),
        ])
        .unwrap();
        assert_eq!(config.leptos.site_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(&*config.leptos.site_root, "/srv/site");
        let error =
            Config::from_lookup(|name| (name == "LEPTOS_SITE_ADDR").then(|| "nowhere".to_string()))
                .unwrap_err();
        assert!(error.to_string().contains("LEPTOS_SITE_ADDR"));
    }

    #[test]
    fn rate_limits_read_rate_and_burst() {
        let config = config(&[("FLASHSALE_RATE_PER_USER", "0.5:3")]).unwrap();
        assert_eq!(config.rate_limits.per_user.per_second, 0.5);
        assert_eq!(config.rate_limits.per_user.burst, 3);
        for bad in ["5", "0:3", "2:0", "x:y"] {
            let error = config_error(&[("FLASHSALE_RATE_PER_IP", bad)]);
            assert!(error.contains("FLASHSALE_RATE_PER_IP"), "{bad}: {error}");
        }
    }

    fn config_error(vars: &[(&str, &str)]) -> String {
        config(vars).unwrap_err().to_string()
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let secret = "p".repeat(40);
        let config = config(&[
            ("FLASHSALE_SECRET", &secret),
            ("DATABASE_URL", "postgres://shop:hunter2@db/shop"),
            ("REDIS_CLUSTER_URLS", "redis://:swordfish@h1:7001"),
        ])
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains(&secret));
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("swordfish"));
    }

    #[test]
    fn cluster_urls_select_a_cluster_over_the_single_server() {
        let single = config(&[("REDIS_URL", "redis://cache:6380")]).unwrap();
        let RedisTarget::Node(url) = &single.redis else {
            panic!("one server expected: {:?}", single.redis)
        };
        assert_eq!(url.expose(), "redis://cache:6380");
        let cluster = config(&[
            ("REDIS_URL", "redis://cache:6380"),
            ("REDIS_CLUSTER_URLS", "redis://h1:7001, redis://h2:7002,"),
        ])
        .unwrap();
        let RedisTarget::Cluster(seeds) = &cluster.redis else {
            panic!("a cluster expected: {:?}", cluster.redis)
        };
        assert_eq!(seeds.expose(), &["redis://h1:7001", "redis://h2:7002"]);
        let error = config_error(&[
            ("REDIS_CLUSTER_URLS", "redis://h1:7001"),
            ("FLASHSALE_REDIS_PREFIX", "shop{eu}:"),
        ]);
        assert!(error.contains("FLASHSALE_REDIS_PREFIX"), "{error}");
    }
}
