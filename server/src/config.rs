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
//! | `FLASHSALE_TRUST_FORWARDED_FOR` | `false` | one proxy of ours in front: the client is `X-Forwarded-For`'s right-most entry |
//! | `FLASHSALE_TRUSTED_PROXIES` | `1` with the above, else `0` | proxies of ours in front: the client is that many entries from the right |
//! | `FLASHSALE_CLAIM_AFTER_MS` | `10000` | an order message un-acknowledged this long is taken over from its (crashed) worker |
//! | `FLASHSALE_REQUEST_TIMEOUT_MS` | `10000` | a request still unanswered after this long gets 503 `unavailable` |

use std::net::SocketAddr;
use std::sync::Arc;

use app::api::SaleDefaults;
use app::money::Currency;
use leptos::config::{Env, LeptosOptions};

use crate::guards::rate_limit::{Rate, RateLimits};
use crate::guards::sign_in::SignInLimits;
use crate::orders::consumer::ConsumerSettings;
use crate::redis_connection::RedisTarget;
use crate::sales::stock::Rebuying;
use crate::secret::Secret;

/// Default name of the built JS/WASM/CSS files (`[[workspace.metadata.leptos]] name`),
/// used when the binary was not built by cargo-leptos (e.g. by `cargo test`).
const OUTPUT_NAME: &str = "flashsale";
const MIN_SECRET_LEN: usize = 32;

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
    /// CAPTCHA challenges one account may be given in one sale.
    pub challenges_per_sale: u32,
    /// Whether this process runs the background workers (consumer, sweeper).
    pub workers: bool,
    pub consumer: ConsumerSettings,
    /// How long a request may take before it is answered 503 `unavailable`.
    pub request_timeout: std::time::Duration,
    /// How often the expiry sweeper wakes.
    pub sweep_every: std::time::Duration,
    pub rate_limits: RateLimits,
    /// The cool-down after a lapsed or cancelled order and the reservations one
    /// buyer may make of a sale.
    pub rebuying: Rebuying,
    /// Whether `X-Forwarded-For` names the client (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How many proxies of ours stand in front (each appends to
    /// `X-Forwarded-For`): the client is that many entries from the right.
    pub trusted_proxies: usize,
    /// What a new sale gets when its draft leaves a field out (the currency).
    pub sale_defaults: SaleDefaults,
    /// Registrations and log-ins per address and per username.
    pub sign_in: SignInLimits,
    /// Password hashes computed at once; more are refused with 503 `busy`.
    pub hashing_slots: usize,
    /// The time a client has to send a request's head (and to start the next
    /// one on a kept-alive connection).
    pub header_timeout: std::time::Duration,
    /// Connections served at once; `None`: what the process' file limit allows.
    pub max_connections: Option<usize>,
    /// Where `/metrics` is served instead of the public address (an internal one).
    pub metrics_addr: Option<SocketAddr>,
}

/// Why the configuration cannot be used; each message names the variable to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("FLASHSALE_SECRET must be set in production (at least {MIN_SECRET_LEN} bytes of random text)")]
    MissingSecret,
    #[error("FLASHSALE_SECRET is too short: use at least {MIN_SECRET_LEN} bytes of random text")]
    ShortSecret,
    #[error(
        "FLASHSALE_ENV is not set and the server would listen on {0}, which other machines \
         can reach: set FLASHSALE_ENV=production (with FLASHSALE_SECRET) for a real sale, or \
         FLASHSALE_ENV=development to serve a development server (random secret, demo \
         settings, API explorer) beyond this machine on purpose"
    )]
    UnsetEnvironment(SocketAddr),
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
        let vars = Vars(&lookup);
        let environment = environment(&vars)?;
        let secret_key = secret_key(&vars, environment)?;
        let redis = redis_target(&vars);
        let leptos = leptos_options(&vars)?;
        if vars.get("FLASHSALE_ENV").is_none() && !leptos.site_addr.ip().is_loopback() {
            return Err(ConfigError::UnsetEnvironment(leptos.site_addr));
        }
        Ok(Config {
            leptos,
            database_url: Secret::new(vars.text(
                "DATABASE_URL",
                "postgres://postgres:postgres@127.0.0.1:5432/flashsale",
            )),
            redis_prefix: redis_prefix(&vars, &redis)?,
            redis,
            secret_key: Secret::new(secret_key),
            environment,
            api_explorer: vars.flag(
                "FLASHSALE_API_EXPLORER",
                environment == Environment::Development,
            )?,
            demo: vars.flag("FLASHSALE_DEMO", false)?,
            max_inflight_buys: vars.number("FLASHSALE_MAX_INFLIGHT_BUYS", 4096)?,
            pow_bits: vars.number("FLASHSALE_POW_BITS", 18)?,
            challenges_per_sale: vars.number("FLASHSALE_CHALLENGES_PER_SALE", 20)?,
            workers: vars.flag("FLASHSALE_WORKERS", true)?,
            consumer: ConsumerSettings {
                min_idle: vars.millis(
                    "FLASHSALE_CLAIM_AFTER_MS",
                    ConsumerSettings::default().min_idle,
                )?,
                ..ConsumerSettings::default()
            },
            request_timeout: vars.millis(
                "FLASHSALE_REQUEST_TIMEOUT_MS",
                std::time::Duration::from_secs(10),
            )?,
            sweep_every: std::time::Duration::from_secs(1),
            rate_limits: {
                let defaults = RateLimits::default();
                RateLimits {
                    per_user: vars.rate("FLASHSALE_RATE_PER_USER", defaults.per_user)?,
                    per_ip: vars.rate("FLASHSALE_RATE_PER_IP", defaults.per_ip)?,
                    per_sale: vars.rate("FLASHSALE_RATE_PER_SALE", defaults.per_sale)?,
                }
            },
            rebuying: Rebuying {
                // At most 49 days, and never negative.
                cooldown_ms: i64::from(vars.number::<u32>(
                    "FLASHSALE_REBUY_COOLDOWN_MS",
                    Rebuying::default().cooldown_ms as u32,
                )?),
                spare_reservations: vars.number(
                    "FLASHSALE_SPARE_RESERVATIONS",
                    Rebuying::default().spare_reservations,
                )?,
            },
            trust_forwarded_for: vars.flag("FLASHSALE_TRUST_FORWARDED_FOR", false)?,
            trusted_proxies: vars.number(
                "FLASHSALE_TRUSTED_PROXIES",
                usize::from(vars.flag("FLASHSALE_TRUST_FORWARDED_FOR", false)?),
            )?,
            sale_defaults: SaleDefaults {
                currency: vars.currency("FLASHSALE_CURRENCY", Currency::USD)?,
            },
            sign_in: {
                let defaults = SignInLimits::default();
                SignInLimits {
                    register_per_address: vars.rate(
                        "FLASHSALE_RATE_REGISTER_PER_IP",
                        defaults.register_per_address,
                    )?,
                    login_per_address: vars
                        .rate("FLASHSALE_RATE_LOGIN_PER_IP", defaults.login_per_address)?,
                    quiet_registrations_per_minute: vars.number(
                        "FLASHSALE_QUIET_REGISTRATIONS_PER_MINUTE",
                        defaults.quiet_registrations_per_minute,
                    )?,
                    ..defaults
                }
            },
            hashing_slots: match vars.number(
                "FLASHSALE_HASHING_SLOTS",
                std::thread::available_parallelism().map_or(2, usize::from),
            )? {
                0 => return Err(Vars::invalid("FLASHSALE_HASHING_SLOTS", "0", "at least 1")),
                slots => slots,
            },
            header_timeout: match vars.millis(
                "FLASHSALE_HEADER_TIMEOUT_MS",
                std::time::Duration::from_secs(20),
            )? {
                zero if zero.is_zero() => {
                    return Err(Vars::invalid(
                        "FLASHSALE_HEADER_TIMEOUT_MS",
                        "0",
                        "at least 1",
                    ))
                }
                timeout => timeout,
            },
            max_connections: match vars.get("FLASHSALE_MAX_CONNECTIONS") {
                None => None,
                Some(_) => match vars.number("FLASHSALE_MAX_CONNECTIONS", 0)? {
                    0 => {
                        return Err(Vars::invalid(
                            "FLASHSALE_MAX_CONNECTIONS",
                            "0",
                            "at least 1",
                        ))
                    }
                    open => Some(open),
                },
            },
            metrics_addr: match vars.get("FLASHSALE_METRICS_ADDR") {
                None => None,
                Some(addr) => Some(addr.parse().map_err(|_| {
                    Vars::invalid("FLASHSALE_METRICS_ADDR", &addr, "an address and port")
                })?),
            },
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

/// The variables, read one way per kind of value: empty counts as unset, and a
/// value that cannot be read is an error naming its variable, never a silent default.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn text(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.into())
    }

    fn invalid(name: &'static str, value: &str, expected: &str) -> ConfigError {
        ConfigError::Invalid {
            name,
            reason: format!("`{value}` is not {expected}"),
        }
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.get(name)
            .map_or(Ok(default), |value| parse_flag(name, &value))
    }

    fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|_| Self::invalid(name, &value, "a number")),
        }
    }

    fn millis(
        &self,
        name: &'static str,
        default: std::time::Duration,
    ) -> Result<std::time::Duration, ConfigError> {
        let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        Ok(std::time::Duration::from_millis(
            self.number(name, default)?,
        ))
    }

    /// An ISO 4217 code of a currency in circulation, e.g. `EUR`.
    fn currency(&self, name: &'static str, default: Currency) -> Result<Currency, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => Currency::parse(value.trim())
                .ok_or_else(|| Self::invalid(name, &value, "an ISO 4217 currency code like `EUR`")),
        }
    }

    /// `"<per second>:<burst>"`, e.g. `"2:6"`.
    fn rate(&self, name: &'static str, default: Rate) -> Result<Rate, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        let parsed = value.split_once(':').and_then(|(rate, burst)| {
            let per_second: f64 = rate.trim().parse().ok().filter(|rate: &f64| *rate > 0.0)?;
            let burst: u32 = burst.trim().parse().ok().filter(|burst| *burst > 0)?;
            Some(Rate { per_second, burst })
        });
        parsed.ok_or_else(|| Self::invalid(name, &value, "`<requests per second>:<burst>`"))
    }
}

/// `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off` (any case).
fn parse_flag(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Vars::invalid(
            name,
            value,
            "a switch: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`",
        )),
    }
}

fn environment(vars: &Vars) -> Result<Environment, ConfigError> {
    match vars.get("FLASHSALE_ENV").as_deref() {
        None | Some("development") | Some("dev") => Ok(Environment::Development),
        Some("production") | Some("prod") => Ok(Environment::Production),
        Some(other) => Err(ConfigError::Invalid {
            name: "FLASHSALE_ENV",
            reason: format!("`{other}` is neither `development` nor `production`"),
        }),
    }
}

/// The signing key: required (and long enough) in production, random per
/// process in development.
fn secret_key(vars: &Vars, environment: Environment) -> Result<Vec<u8>, ConfigError> {
    match (vars.get("FLASHSALE_SECRET"), environment) {
        (Some(secret), _) if secret.len() < MIN_SECRET_LEN => Err(ConfigError::ShortSecret),
        (Some(secret), _) => Ok(secret.into_bytes()),
        (None, Environment::Production) => Err(ConfigError::MissingSecret),
        (None, Environment::Development) => random_secret(),
    }
}

/// Leptos' own variables (those cargo-leptos sets), with the defaults of a
/// binary built by plain cargo.
fn leptos_options(vars: &Vars) -> Result<LeptosOptions, ConfigError> {
    let site_addr: SocketAddr = vars
        .text("LEPTOS_SITE_ADDR", "127.0.0.1:3000")
        .parse()
        .map_err(|error| ConfigError::Invalid {
            name: "LEPTOS_SITE_ADDR",
            reason: format!("{error}"),
        })?;
    // cargo-leptos also sets these two at build time; the run time's value wins.
    let hash_files = match vars
        .get("LEPTOS_HASH_FILES")
        .or_else(|| option_env!("LEPTOS_HASH_FILES").map(String::from))
    {
        Some(value) => parse_flag("LEPTOS_HASH_FILES", &value)?,
        None => false,
    };
    let leptos_env = match vars.get("LEPTOS_ENV").as_deref() {
        Some("PROD") | Some("prod") | Some("production") => Env::PROD,
        _ => Env::DEV,
    };
    let output_name = vars
        .get("LEPTOS_OUTPUT_NAME")
        .or_else(|| option_env!("LEPTOS_OUTPUT_NAME").map(String::from))
        .unwrap_or_else(|| OUTPUT_NAME.into());
    Ok(LeptosOptions::builder()
        .output_name(Arc::<str>::from(output_name))
        .site_root(Arc::<str>::from(
            vars.text("LEPTOS_SITE_ROOT", "target/site"),
        ))
        .site_pkg_dir(Arc::<str>::from(vars.text("LEPTOS_SITE_PKG_DIR", "pkg")))
        .site_addr(site_addr)
        .env(leptos_env)
        .reload_port(vars.number("LEPTOS_RELOAD_PORT", 3001)?)
        .hash_files(hash_files)
        .build())
}

/// One server (`REDIS_URL`) or a cluster (`REDIS_CLUSTER_URLS`, which wins).
fn redis_target(vars: &Vars) -> RedisTarget {
    match vars.get("REDIS_CLUSTER_URLS") {
        Some(urls) => RedisTarget::Cluster(Secret::new(
            urls.split(',')
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(String::from)
                .collect(),
        )),
        None => RedisTarget::Node(Secret::new(
            vars.text("REDIS_URL", "redis://127.0.0.1:6379"),
        )),
    }
}

fn redis_prefix(vars: &Vars, redis: &RedisTarget) -> Result<String, ConfigError> {
    let prefix = vars.text("FLASHSALE_REDIS_PREFIX", "fs:");
    if matches!(redis, RedisTarget::Cluster(_)) && prefix.contains('{') {
        // Redis hashes the first `{…}` of a key: every sale would share one slot.
        return Err(ConfigError::Invalid {
            name: "FLASHSALE_REDIS_PREFIX",
            reason: "must not hold a `{` on a Redis Cluster: the sales' hash tags \
                     would give way to it and every key would share one slot"
                .into(),
        });
    }
    Ok(prefix)
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
            ("FLASHSALE_ENV", "development"),
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
    fn a_server_other_machines_can_reach_must_say_which_environment_it_is() {
        for addr in ["0.0.0.0:3000", "10.1.2.3:80", "[::]:3000"] {
            assert_eq!(
                config(&[("LEPTOS_SITE_ADDR", addr)]).unwrap_err(),
                ConfigError::UnsetEnvironment(addr.parse().unwrap()),
                "{addr}"
            );
            let chosen = config(&[("LEPTOS_SITE_ADDR", addr), ("FLASHSALE_ENV", "development")]);
            assert_eq!(chosen.unwrap().environment, Environment::Development);
        }
        for addr in ["127.0.0.1:3000", "[::1]:3000"] {
            assert!(config(&[("LEPTOS_SITE_ADDR", addr)]).is_ok(), "{addr}");
        }
    }

    #[test]
    fn the_edge_settings_read_their_variables() {
        let config = config(&[
            ("FLASHSALE_HEADER_TIMEOUT_MS", "5000"),
            ("FLASHSALE_MAX_CONNECTIONS", "900"),
            ("FLASHSALE_METRICS_ADDR", "10.0.0.5:9100"),
        ])
        .unwrap();
        assert_eq!(config.header_timeout, std::time::Duration::from_secs(5));
        assert_eq!(config.max_connections, Some(900));
        assert_eq!(config.metrics_addr, Some("10.0.0.5:9100".parse().unwrap()));
        for (name, bad) in [
            ("FLASHSALE_HEADER_TIMEOUT_MS", "0"),
            ("FLASHSALE_MAX_CONNECTIONS", "0"),
            ("FLASHSALE_METRICS_ADDR", "internal"),
        ] {
            assert!(config_error(&[(name, bad)]).contains(name), "{name}={bad}");
        }
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

    #[test]
    fn every_switch_reads_the_same_words() {
        for (value, on) in [
            ("1", true),
            ("true", true),
            ("YES", true),
            ("on", true),
            ("0", false),
            ("false", false),
            ("No", false),
            ("off", false),
        ] {
            let config = config(&[
                ("FLASHSALE_WORKERS", value),
                ("FLASHSALE_DEMO", value),
                ("FLASHSALE_API_EXPLORER", value),
                ("FLASHSALE_TRUST_FORWARDED_FOR", value),
            ])
            .unwrap_or_else(|error| panic!("{value}: {error}"));
            assert_eq!(
                (
                    config.workers,
                    config.demo,
                    config.api_explorer,
                    config.trust_forwarded_for
                ),
                (on, on, on, on),
                "{value}"
            );
        }
        for name in [
            "FLASHSALE_WORKERS",
            "FLASHSALE_DEMO",
            "FLASHSALE_API_EXPLORER",
        ] {
            let error = config_error(&[(name, "maybe")]);
            assert!(error.contains(name) && error.contains("maybe"), "{error}");
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
