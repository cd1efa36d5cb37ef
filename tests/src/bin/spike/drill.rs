//! `spike drill`: the faults a flash sale meets, each played against real
//! processes — server instances started as a deployment starts them, a private
//! Redis and a private Postgres cluster this run may kill — while a crowd buys.
//! Afterwards the same books as every spike: every 202 has its order row, no row
//! lacks a 202, no oversell, no undersell, nobody above the limit, Redis stock
//! left = stock − sold, drift 0, and no dead letters.
//!
//! `--long` plays them at the size of a real opening second (scripts/drill);
//! without it they are short enough for the test command.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::{AdmissionMode, Sale};
use redis::AsyncCommands;
use server::redis_connection::RedisTarget;
use server::secret::Secret;
use systests::private_servers::{Persistence, PrivatePostgres, PrivateRedis};

mod cluster;
mod faults;

use crate::args::{Options, Pace};
use crate::check;
use crate::load::{Pacer, Recorder};
use crate::rig::{Infra, Rig, ShopperId};
use crate::shopper::{Context, Outcome};

/// What `spike drill` was asked for.
#[derive(Clone, Debug, Default)]
pub struct DrillOptions {
    pub long: bool,
    /// Only these drills (all when empty).
    pub only: Vec<String>,
    pub server: PathBuf,
}

/// Every drill, by name, with the fault it plays.
pub const DRILLS: [(&str, &str); 9] = [
    (
        "instance-crash",
        "kill -9 one of two instances mid-spike, restart it",
    ),
    (
        "redis-crash",
        "kill -9 Redis (AOF always) mid-spike, restart it",
    ),
    (
        "instance-crash-queue",
        "the same with a waiting room: joining, polling and the line's leader through the crash",
    ),
    (
        "redis-crash-queue",
        "the same with a waiting room: the line, its draw and its board through a Redis crash",
    ),
    (
        "redis-data-loss",
        "Redis loses everything after a wave, the sale goes on",
    ),
    (
        "postgres-outage",
        "Postgres stopped at the opening instant, an instance restarted meanwhile",
    ),
    (
        "duplicate-messages",
        "every order message duplicated while queued, replayed after payment",
    ),
    (
        "lost-answer",
        "Redis frozen under the buys, answers lost, the same tickets retried",
    ),
    (
        "cluster",
        "3 instances behind nginx on a 3-node Redis Cluster, 4 sales at once, one instance killed",
    ),
];

/// How big a drill is.
#[derive(Clone, Copy, Debug)]
struct Scale {
    shoppers: u32,
    stock: i32,
    postgres_outage: Duration,
}

impl Scale {
    fn new(long: bool) -> Self {
        if long {
            Self {
                shoppers: 10_000,
                stock: 1_000,
                postgres_outage: Duration::from_secs(30),
            }
        } else {
            Self {
                shoppers: 600,
                stock: 120,
                postgres_outage: Duration::from_secs(4),
            }
        }
    }
}

/// One drill's line in the table.
#[derive(Debug, Default)]
pub struct DrillReport {
    pub name: String,
    pub shoppers: usize,
    pub stock: i32,
    pub won: usize,
    pub rows: usize,
    pub paid: usize,
    pub dead_letters: usize,
    pub drift: i64,
    pub seconds: f64,
    /// What happened during the fault, in a few words.
    pub detail: String,
    pub broken: Vec<String>,
}

/// Runs the asked-for drills, prints the table; `Ok(false)` when one broke a promise.
pub async fn run(options: DrillOptions) -> Result<bool, String> {
    let scale = Scale::new(options.long);
    let mut reports = Vec::new();
    for (name, fault) in DRILLS {
        if !options.only.is_empty() && !options.only.iter().any(|only| only == name) {
            continue;
        }
        eprintln!("[drill] {name}: {fault}");
        let started = Instant::now();
        let mut report = match play(name, &options, scale).await {
            Ok(report) => report,
            Err(error) => DrillReport {
                broken: vec![format!("could not run: {error}")],
                ..DrillReport::default()
            },
        };
        report.name = name.to_owned();
        report.seconds = started.elapsed().as_secs_f64();
        for line in &report.broken {
            eprintln!("[drill] {name} BROKEN: {line}");
        }
        reports.push(report);
    }
    if reports.is_empty() {
        return Err(format!(
            "no drill is called {:?}; the drills: {}",
            options.only,
            DRILLS.map(|(name, _)| name).join(", ")
        ));
    }
    print!("{}", table(&reports));
    Ok(reports.iter().all(|report| report.broken.is_empty()))
}

async fn play(name: &str, options: &DrillOptions, scale: Scale) -> Result<DrillReport, String> {
    use faults::*;
    match name {
        "instance-crash" => instance_crash(options, scale, AdmissionMode::Race).await,
        "redis-crash" => redis_crash(options, scale, AdmissionMode::Race).await,
        "instance-crash-queue" => instance_crash(options, scale, AdmissionMode::Queue).await,
        "redis-crash-queue" => redis_crash(options, scale, AdmissionMode::Queue).await,
        "redis-data-loss" => redis_data_loss(options, scale).await,
        "postgres-outage" => postgres_outage(options, scale).await,
        "duplicate-messages" => duplicate_messages(options, scale).await,
        "cluster" => cluster::cluster(options, scale).await,
        _ => lost_answer(options, scale).await,
    }
}

fn table(reports: &[DrillReport]) -> String {
    let mut out = String::from(
        "\n| drill | shoppers | stock | 202s | rows | paid | dead letters | drift | s | during the fault | books |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
    );
    for report in reports {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} |\n",
            report.name,
            report.shoppers,
            report.stock,
            report.won,
            report.rows,
            report.paid,
            report.dead_letters,
            report.drift,
            report.seconds,
            report.detail,
            if report.broken.is_empty() {
                "balanced"
            } else {
                "BROKEN"
            },
        ));
    }
    out
}

/// The private servers of one drill and the rig on them.
struct Stage {
    // Dropped in this order: the rig's processes first, then the servers.
    rig: Rig,
    options: Options,
    redis: PrivateRedis,
    postgres: PrivatePostgres,
}

impl Stage {
    async fn new(
        drill: &DrillOptions,
        scale: Scale,
        persistence: Persistence,
        instances: usize,
    ) -> Result<Self, String> {
        let redis = PrivateRedis::start(persistence)?;
        let postgres = PrivatePostgres::start()?;
        let (options, infra) = setup(
            drill,
            scale,
            &postgres,
            RedisTarget::Node(Secret::new(redis.url())),
            instances,
        );
        let rig = Rig::prepare_on(&options, infra).await?;
        Ok(Self {
            rig,
            options,
            redis,
            postgres,
        })
    }

    /// A crowd that fails over between the instances and retries what failed.
    fn context(&self, sale: &Sale, start: Instant) -> Arc<Context> {
        Arc::new(Context {
            client: self.rig.client.clone(),
            base_urls: self
                .rig
                .instances
                .iter()
                .map(|instance| instance.url.clone())
                .collect(),
            failover: true,
            sale_id: sale.id,
            limit: sale.per_user_limit,
            pay_percent: self.options.pay_percent,
            pacer: Pacer::new(self.options.pace),
            recorder: Arc::new(Recorder::new(start)),
        })
    }

    /// A sale starting `lead_secs` from now and the instant it opens.
    async fn sale(&self) -> Result<(Sale, Instant), String> {
        self.sale_admitting(AdmissionMode::Race).await
    }

    /// [`Stage::sale`] with its shoppers admitted by `admission` (a queue
    /// sale's line opens at once and its start is 3 s away).
    async fn sale_admitting(&self, admission: AdmissionMode) -> Result<(Sale, Instant), String> {
        let options = Options {
            admission,
            lead_secs: if admission == AdmissionMode::Queue {
                3.0
            } else {
                self.options.lead_secs
            },
            ..self.options.clone()
        };
        let sale = self.rig.create_sale(&options, 1).await?;
        let until =
            Duration::from_millis((sale.starts_at_ms - server::clock::now_ms()).max(0) as u64);
        Ok((sale, Instant::now() + until))
    }

    /// The books after the crowd: each broken promise a line of the report.
    async fn books(
        &self,
        sale: &Sale,
        outcomes: &[Outcome],
        demand: i64,
        detail: String,
    ) -> Result<DrillReport, String> {
        sale_report(&self.rig, sale, outcomes, demand, detail).await
    }
}

/// The crowd and the servers' settings every drill starts from: `scale`'s
/// shoppers and units, a closed loop of 256, Postgres `postgres`, Redis `redis`.
fn setup(
    drill: &DrillOptions,
    scale: Scale,
    postgres: &PrivatePostgres,
    redis: RedisTarget,
    instances: usize,
) -> (Options, Infra) {
    let options = Options {
        shoppers: scale.shoppers,
        stock: scale.stock,
        lead_secs: 2.0,
        server: drill.server.clone(),
        pace: Pace::Closed { concurrency: 256 },
        ..Options::default()
    };
    let infra = Infra {
        admin_database_url: postgres.admin_url(),
        redis,
        instances,
        // A crashed instance's messages are claimed by another within 2 s.
        extra: vec![("FLASHSALE_CLAIM_AFTER_MS".into(), "2000".into())],
    };
    (options, infra)
}

/// One sale's books after its crowd, once every 202 has its row: each broken
/// promise (dead letters included) a line of the report.
async fn sale_report(
    rig: &Rig,
    sale: &Sale,
    outcomes: &[Outcome],
    demand: i64,
    detail: String,
) -> Result<DrillReport, String> {
    let won: usize = outcomes.iter().map(|outcome| outcome.orders.len()).sum();
    rig.wait_for_redis().await?;
    check::RowWatch::start(rig.db.clone(), sale.id, Instant::now())
        .until(won)
        .await?;
    let (books, mut broken) = check::check_sale(rig, sale, outcomes, demand).await?;
    let mut redis = rig.redis.clone();
    let dead_letters: usize = redis
        .xlen(rig.keys.dead_letters(sale.id))
        .await
        .map_err(|error| error.to_string())?;
    if dead_letters > 0 {
        broken.push(format!("{dead_letters} dead letters"));
    }
    Ok(DrillReport {
        shoppers: outcomes.len(),
        stock: sale.stock,
        won,
        rows: books.order_rows,
        paid: books.paid_rows,
        dead_letters,
        drift: books.drift,
        detail,
        broken,
        ..DrillReport::default()
    })
}

/// Every shopper of `shoppers` shops from `start`, while `fault` runs beside them.
pub(crate) async fn crowd_with<T, F: Future<Output = Result<T, String>>>(
    context: &Arc<Context>,
    shoppers: &[ShopperId],
    start: Instant,
    fault: F,
) -> Result<(Vec<Outcome>, T), String> {
    crowd_admitted(
        context,
        shoppers,
        (start, start),
        AdmissionMode::Race,
        fault,
    )
    .await
}

/// [`crowd_with`] for a sale of either admission: a race sale's crowd shops
/// from `start`; a queue sale's joins its line at moments between `created`
/// and a little after `start` (as `spike --admission queue` spreads them),
/// waits as told and buys when let in.
pub(crate) async fn crowd_admitted<T, F: Future<Output = Result<T, String>>>(
    context: &Arc<Context>,
    shoppers: &[ShopperId],
    (created, start): (Instant, Instant),
    admission: AdmissionMode,
    fault: F,
) -> Result<(Vec<Outcome>, T), String> {
    let tasks = shoppers
        .iter()
        .map(|shopper| {
            let (context, shopper) = (context.clone(), shopper.clone());
            tokio::spawn(async move {
                match admission {
                    AdmissionMode::Race => context.shop(&shopper, start).await,
                    AdmissionMode::Queue => {
                        let join_at = crate::join_moment(created, start, shopper.index);
                        context.shop_in_line(&shopper, join_at).await
                    }
                }
            })
        })
        .collect();
    let (outcomes, detail) = tokio::join!(crate::gather(tasks), fault);
    Ok((outcomes?, detail?))
}

/// Waits until the crowd has won `units`.
async fn once_won(recorder: &Recorder, units: u64) {
    while recorder.counters.won.load(Ordering::Relaxed) < units {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn won_so_far(recorder: &Recorder) -> u64 {
    recorder.counters.won.load(Ordering::Relaxed)
}

fn demand(shoppers: usize, sale: &Sale) -> i64 {
    shoppers as i64 * i64::from(sale.per_user_limit)
}
