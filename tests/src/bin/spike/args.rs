//! The command line of `spike`: `--name value` pairs, every one optional.

use std::path::PathBuf;

use app::api::CaptchaKind;

pub const USAGE: &str = "\
usage: spike [options]              replay the opening second of a sale
       spike naive-serve --listen <addr> --database-url <url> [--pool <n>]
       spike rewarm [--orders <n>] [--rounds <n>]
                                    time the rebuild of a sale Redis lost
       spike wrk [--seconds <n>] [--connections <n>] [--threads <n>] [--perf <dir>]
                 [--server <path>] [--bare <path>]
                                    request rates of the hot endpoints with
                                    wrk, against a bare axum handler
       spike drill [--long] [--server <path>] [<drill> ...]
                                    play faults against private Redis and
                                    Postgres processes, check the books
       spike abuse [--accounts <n>] [--flooders <n>] [options]
                                    a sale with the crowd alone, then beside
                                    one attacker (many accounts, forged
                                    X-Forwarded-For, a log-in flood): the
                                    crowd keeps its share, the books balance

what runs
  --target sale|healthz|naive   sale: the real purchase path (default);
                                healthz: the same load on GET /healthz;
                                naive: the same load on a Postgres-only buy
  --flow full|burst             full: every shopper does status, CAPTCHA, ticket,
                                buy like the browser (default); burst: tickets
                                first, then every shopper's buy at once
  --rounds <n>                  rounds on one server, medians reported (1)

the crowd and the sale
  --shoppers <n>                virtual shoppers, each a real account (2000)
  --stock <n>                   units on sale (100)
  --limit <n>                   units one shopper may hold (1)
  --captcha none|pow            CAPTCHA kind of the sale (none); pow is solved
  --pow-bits <n>                proof-of-work difficulty the server sets (12)
  --lead <secs>                 the sale starts this long after set-up (3)
  --pay <percent>               share of winners who pay (50)
  --admission race|queue        race: the crowd meets the buy at the start
                                (default); queue: a waiting room whose line
                                opens at set-up: the shoppers join at random
                                moments of the --lead before the start (10 %
                                in the 2 s after it), poll as told, and buy
                                when let in
  --shoppers-per-ip <n>         shoppers behind one address (4)

how they arrive
  --concurrency <n>             closed loop: requests in flight at most (256)
  --rate <per second>           open loop: shoppers (or requests) arriving at a
                                fixed rate; latency counts from the planned send
                                time, so a slow server cannot hide its queue

where it runs
  --instances <n>               server instances sharing the sale (1)
  --nginx                       nginx in front of the instances, one address
  --redis shared|own|cluster    shared: the Redis on 127.0.0.1:6379 (default);
                                own: a redis-server of the run's own; cluster: a
                                3-master Redis Cluster of the run's own. With any
                                of these three options each round also reports
                                the CPU time the servers, Redis, nginx and the
                                generator spent, per shopper

the rest
  --attach <url>                run against a deployment already serving at <url>
                                (scripts/cluster's nginx) instead of starting a
                                server: its DATABASE_URL, REDIS_URL or
                                REDIS_CLUSTER_URLS and FLASHSALE_REDIS_PREFIX come
                                from the environment, its shoppers and admin are
                                made with --server's CLI and stay afterwards
  --server <path>               server binary (target/release/server)
  --json <path>                 also write the report as JSON
  --keep                        keep the database and Redis keys afterwards
";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Sale,
    Healthz,
    Naive,
}

/// Which Redis the instances share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisChoice {
    /// The machine's Redis (scripts/test starts it).
    Shared,
    /// A `redis-server` of the run's own.
    Own,
    /// A Redis Cluster of the run's own, with this many masters.
    Cluster(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Full,
    Burst,
}

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// At most this many requests in flight; the next goes when one returns.
    Closed { concurrency: usize },
    /// Arrivals at a fixed rate whatever the answers take.
    Open { per_second: f64 },
}

#[derive(Clone, Debug)]
pub struct Options {
    pub target: Target,
    pub flow: Flow,
    pub rounds: usize,
    pub shoppers: u32,
    pub stock: i32,
    pub limit: i32,
    pub captcha: CaptchaKind,
    pub pow_bits: u32,
    pub lead_secs: f64,
    pub pay_percent: u32,
    pub shoppers_per_ip: u32,
    pub pace: Pace,
    pub server: PathBuf,
    /// A running deployment to shop at, instead of a server of the spike's own.
    pub attach: Option<String>,
    pub instances: usize,
    pub nginx: bool,
    pub redis: RedisChoice,
    pub json: Option<PathBuf>,
    pub keep: bool,
    /// How the spike's sales admit shoppers (a `queue` sale's line opens at once).
    pub admission: app::api::AdmissionMode,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            target: Target::Sale,
            flow: Flow::Full,
            rounds: 1,
            shoppers: 2_000,
            stock: 100,
            limit: 1,
            captcha: CaptchaKind::None,
            pow_bits: 12,
            lead_secs: 3.0,
            pay_percent: 50,
            shoppers_per_ip: 4,
            pace: Pace::Closed { concurrency: 256 },
            server: PathBuf::from("target/release/server"),
            attach: None,
            instances: 1,
            nginx: false,
            redis: RedisChoice::Shared,
            json: None,
            keep: false,
            admission: app::api::AdmissionMode::Race,
        }
    }
}

impl Options {
    /// Whether the run starts more than one server on the shared Redis.
    pub fn runs_a_fleet(&self) -> bool {
        self.instances > 1 || self.nginx || self.redis != RedisChoice::Shared
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Spike(Options),
    Drill(crate::drill::DrillOptions),
    Wrk(crate::wrk::WrkOptions),
    Abuse(crate::abuse::AbuseOptions),
    Rewarm {
        orders: u32,
        rounds: usize,
    },
    NaiveServe {
        listen: String,
        database_url: String,
        pool: u32,
    },
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} wants a number, not `{value}`"))
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        Some("naive-serve") => return parse_naive(&args[1..]),
        Some("drill") => return parse_drill(&args[1..]),
        Some("rewarm") => return parse_rewarm(&args[1..]),
        Some("wrk") => return parse_wrk(&args[1..]),
        Some("abuse") => return parse_abuse(&args[1..]),
        _ => {}
    }
    let mut options = Options::default();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        if flag == "--keep" {
            options.keep = true;
            continue;
        }
        if flag == "--nginx" {
            options.nginx = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--target" => {
                options.target = match value.as_str() {
                    "sale" => Target::Sale,
                    "healthz" => Target::Healthz,
                    "naive" => Target::Naive,
                    _ => return Err(format!("unknown target `{value}`")),
                }
            }
            "--flow" => {
                options.flow = match value.as_str() {
                    "full" => Flow::Full,
                    "burst" => Flow::Burst,
                    _ => return Err(format!("unknown flow `{value}`")),
                }
            }
            "--rounds" => options.rounds = number(flag, value)?,
            "--shoppers" => options.shoppers = number(flag, value)?,
            "--stock" => options.stock = number(flag, value)?,
            "--limit" => options.limit = number(flag, value)?,
            "--captcha" => {
                options.captcha = match value.as_str() {
                    "none" => CaptchaKind::None,
                    "pow" => CaptchaKind::Pow,
                    _ => {
                        return Err(format!(
                            "the generator solves `none` or `pow`, not `{value}`"
                        ))
                    }
                }
            }
            "--pow-bits" => options.pow_bits = number(flag, value)?,
            "--lead" => options.lead_secs = number(flag, value)?,
            "--pay" => options.pay_percent = number(flag, value)?,
            "--admission" => {
                options.admission = app::api::AdmissionMode::parse(value)
                    .ok_or_else(|| format!("unknown admission `{value}`"))?
            }
            "--shoppers-per-ip" => options.shoppers_per_ip = number(flag, value)?,
            "--concurrency" => {
                options.pace = Pace::Closed {
                    concurrency: number(flag, value)?,
                }
            }
            "--rate" => {
                options.pace = Pace::Open {
                    per_second: number(flag, value)?,
                }
            }
            "--server" => options.server = PathBuf::from(value),
            "--attach" => options.attach = Some(value.trim_end_matches('/').to_owned()),
            "--instances" => options.instances = number(flag, value)?,
            "--redis" => {
                options.redis = match value.as_str() {
                    "shared" => RedisChoice::Shared,
                    "own" => RedisChoice::Own,
                    "cluster" => RedisChoice::Cluster(3),
                    _ => return Err(format!("unknown Redis `{value}`")),
                }
            }
            "--json" => options.json = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    check(&options)?;
    Ok(Command::Spike(options))
}

fn check(options: &Options) -> Result<(), String> {
    if options.rounds == 0 || options.shoppers == 0 {
        return Err("--rounds and --shoppers must be at least 1".into());
    }
    if options.stock < 1 || options.limit < 1 {
        return Err("--stock and --limit must be at least 1".into());
    }
    if options.pay_percent > 100 {
        return Err("--pay is a percentage, 0 to 100".into());
    }
    if options.instances == 0 {
        return Err("--instances must be at least 1".into());
    }
    if options.attach.is_some() && options.runs_a_fleet() {
        return Err(
            "--attach shops at a running deployment: no --instances, --nginx or --redis".into(),
        );
    }
    if options.shoppers_per_ip == 0 {
        return Err("--shoppers-per-ip must be at least 1".into());
    }
    if !(0.5..=600.0).contains(&options.lead_secs) {
        return Err("--lead is 0.5 to 600 seconds".into());
    }
    match options.pace {
        Pace::Closed { concurrency: 0 } => Err("--concurrency must be at least 1".into()),
        Pace::Open { per_second } if !(per_second > 0.0 && per_second.is_finite()) => {
            Err("--rate must be a positive number".into())
        }
        _ => Ok(()),
    }
}

fn parse_wrk(args: &[String]) -> Result<Command, String> {
    let mut options = crate::wrk::WrkOptions::default();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => options.seconds = number(flag, value)?,
            "--connections" => options.connections = number(flag, value)?,
            "--threads" => options.threads = number(flag, value)?,
            "--server" => options.server = PathBuf::from(value),
            "--bare" => options.bare = PathBuf::from(value),
            "--perf" => options.perf = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.seconds == 0 || options.connections == 0 || options.threads == 0 {
        return Err("--seconds, --connections and --threads must be at least 1".into());
    }
    Ok(Command::Wrk(options))
}

/// `--accounts` and `--flooders`; the rest are the sale's options.
fn parse_abuse(args: &[String]) -> Result<Command, String> {
    let (mut accounts, mut flooders) = (300, 32);
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--accounts" | "--flooders" => {
                let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
                if flag == "--accounts" {
                    accounts = number(flag, value)?;
                } else {
                    flooders = number(flag, value)?;
                }
            }
            _ => rest.push(flag.clone()),
        }
    }
    match parse(&rest)? {
        Command::Spike(sale) if !sale.runs_a_fleet() && sale.attach.is_none() => {
            Ok(Command::Abuse(crate::abuse::AbuseOptions {
                sale,
                accounts,
                flooders,
            }))
        }
        Command::Spike(_) => Err("spike abuse runs on one server of its own".into()),
        _ => Err("spike abuse takes the sale's options".into()),
    }
}

fn parse_rewarm(args: &[String]) -> Result<Command, String> {
    let (mut orders, mut rounds) = (100_000, 3);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--orders" => orders = number(flag, value)?,
            "--rounds" => rounds = number(flag, value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if orders == 0 || rounds == 0 {
        return Err("--orders and --rounds must be at least 1".into());
    }
    Ok(Command::Rewarm { orders, rounds })
}

fn parse_drill(args: &[String]) -> Result<Command, String> {
    let mut options = crate::drill::DrillOptions {
        server: Options::default().server,
        ..Default::default()
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--long" => options.long = true,
            "--server" => {
                let value = rest.next().ok_or("--server needs a value")?;
                options.server = PathBuf::from(value);
            }
            "--help" | "-h" => return Err(String::new()),
            name if crate::drill::DRILLS.iter().any(|(drill, _)| *drill == name) => {
                options.only.push(name.to_owned())
            }
            other => {
                return Err(format!(
                    "unknown drill `{other}`; the drills: {}",
                    crate::drill::DRILLS.map(|(name, _)| name).join(", ")
                ))
            }
        }
    }
    Ok(Command::Drill(options))
}

fn parse_naive(args: &[String]) -> Result<Command, String> {
    let mut listen = None;
    let mut database_url = None;
    let mut pool = 32;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value.clone()),
            "--database-url" => database_url = Some(value.clone()),
            "--pool" => pool = number(flag, value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(Command::NaiveServe {
        listen: listen.ok_or("naive-serve needs --listen")?,
        database_url: database_url.ok_or("naive-serve needs --database-url")?,
        pool,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Command, String> {
        parse(
            &line
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn defaults_and_flags() {
        let Ok(Command::Spike(options)) =
            parse_line("--shoppers 50000 --stock 10000 --rate 8000 --flow burst --keep")
        else {
            panic!("a valid line");
        };
        assert_eq!(options.shoppers, 50_000);
        assert_eq!(options.stock, 10_000);
        assert_eq!(options.flow, Flow::Burst);
        assert_eq!(options.pace, Pace::Open { per_second: 8000.0 });
        assert!(options.keep);
        assert_eq!(options.target, Target::Sale);
    }

    #[test]
    fn refuses_nonsense() {
        for line in [
            "--shoppers 0",
            "--stock ten",
            "--captcha image",
            "--rate -5",
            "--concurrency 0",
            "--pay 150",
            "--frobnicate 1",
            "--stock",
        ] {
            assert!(parse_line(line).is_err(), "{line} was accepted");
        }
    }
}
