//! `spike`: replays the opening second of a flash sale against the release server
//! on this machine, checks every promise of the sale afterwards, and reports how
//! fast it went. Any broken promise makes it exit non-zero.
//!
//! ```text
//! cargo leptos build --release                       # the server under test
//! cargo run --release -p systests --bin spike -- --shoppers 10000 --stock 100
//! cargo run --release -p systests --bin spike -- --help
//! ```

mod abuse;
mod args;
mod check;
mod drill;
mod fleet;
mod line;
mod load;
mod naive;
mod process;
mod report;
mod rewarm;
mod rig;
mod shopper;
mod wrk;

use std::sync::Arc;
use std::time::{Duration, Instant};

use args::{Command, Flow, Options, Target};
use fleet::Fleet;
use load::{Pacer, Progress, Recorder, Step};
use report::{Report, Round};
use rig::{Rig, ShopperId};
use shopper::{Context, Outcome};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&args) {
        Ok(command) => command,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("spike: {message}\n");
            }
            eprint!("{}", args::USAGE);
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    let result = runtime.block_on(async move {
        match command {
            Command::NaiveServe {
                listen,
                database_url,
                pool,
            } => naive::serve(&listen, &database_url, pool)
                .await
                .map(|()| true),
            Command::Spike(options) => spike(options).await,
            Command::Drill(options) => drill::run(options).await,
            Command::Wrk(options) => wrk::run(options).await,
            Command::Abuse(options) => abuse::run(options).await,
            Command::Rewarm { orders, rounds } => rewarm::run(orders, rounds).await,
        }
    });
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(message) => {
            eprintln!("spike: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs every round; `Ok(false)` when a promise was broken.
async fn spike(options: Options) -> Result<bool, String> {
    let (fleet, mut rig) = if options.runs_a_fleet() {
        let (fleet, rig) = Fleet::prepare(&options).await?;
        (Some(fleet), rig)
    } else {
        (None, Rig::prepare(&options).await?)
    };
    let result = rounds(&mut rig, fleet.as_ref(), &options).await;
    rig.tear_down(options.keep).await;
    drop(fleet);
    let report = result?;
    print!("{}", report.table());
    if let Some(path) = &options.json {
        let json = serde_json::to_string_pretty(&report).map_err(|error| error.to_string())?;
        std::fs::write(path, json)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
        eprintln!("[spike] report written to {}", path.display());
    }
    let broken: Vec<&String> = report
        .rounds
        .iter()
        .flat_map(|round| &round.broken)
        .collect();
    for line in &broken {
        eprintln!("[spike] BROKEN: {line}");
    }
    Ok(broken.is_empty())
}

async fn rounds(rig: &mut Rig, fleet: Option<&Fleet>, options: &Options) -> Result<Report, String> {
    if options.target == Target::Naive {
        // The same pool size as the server's.
        rig.start_naive(32).await?;
    }
    let mut rounds = Vec::with_capacity(options.rounds);
    for number in 1..=options.rounds {
        let round = match options.target {
            Target::Sale => sale_round(rig, fleet, options, number).await?,
            Target::Healthz | Target::Naive => single_round(rig, options, number).await?,
        };
        eprintln!("[spike] {}", round.headline());
        rounds.push(round);
    }
    Ok(Report::new(options, rounds))
}

fn context(
    rig: &Rig,
    options: &Options,
    sale_id: i64,
    base_urls: Vec<String>,
    start: Instant,
) -> Arc<Context> {
    Arc::new(Context {
        client: rig.client.clone(),
        base_urls,
        failover: false,
        sale_id,
        limit: options.limit,
        pay_percent: options.pay_percent,
        pacer: Pacer::new(options.pace),
        recorder: Arc::new(Recorder::new(start)),
    })
}

/// One task per shopper, each given its arrival after `start` as the pacer
/// spaces them, gathered in shopper order.
async fn spawn_crowd<T, Visit, Fut>(
    rig: &Rig,
    context: &Arc<Context>,
    start: Instant,
    visit: Visit,
) -> Result<Vec<T>, String>
where
    Visit: Fn(Arc<Context>, ShopperId, Instant) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks = rig
        .shoppers
        .iter()
        .map(|shopper| {
            let arrival = context.pacer.arrival(start, u64::from(shopper.index));
            tokio::spawn(visit(context.clone(), shopper.clone(), arrival))
        })
        .collect();
    gather(tasks).await
}

/// Waits for every task and keeps their answers in shopper order.
pub(crate) async fn gather<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Result<Vec<T>, String> {
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(
            task.await
                .map_err(|error| format!("a shopper task died: {error}"))?,
        );
    }
    Ok(answers)
}

/// A new sale for round `number`: when it opens, the shoppers' context, and
/// its order rows watched from the opening instant.
async fn open_sale(
    rig: &Rig,
    options: &Options,
    number: usize,
) -> Result<(app::api::Sale, Instant, Arc<Context>, check::RowWatch), String> {
    let sale = rig.create_sale(options, number).await?;
    let until_start =
        Duration::from_millis((sale.starts_at_ms - server::clock::now_ms()).max(0) as u64);
    let start = Instant::now() + until_start;
    let context = context(rig, options, sale.id, vec![rig.base_url.clone()], start);
    let rows = check::RowWatch::start(rig.db.clone(), sale.id, start);
    Ok((sale, start, context, rows))
}

/// One sale, the crowd at its opening instant, the books afterwards.
async fn sale_round(
    rig: &Rig,
    fleet: Option<&Fleet>,
    options: &Options,
    number: usize,
) -> Result<Round, String> {
    let (sale, start, context, rows) = open_sale(rig, options, number).await?;
    let progress = Progress::start(format!("[spike {number}]"), context.recorder.clone());
    let cpu_before = fleet.map(|fleet| fleet.cpu(rig));
    let queue = options.admission == app::api::AdmissionMode::Queue;
    let created = Instant::now();
    let redis_before = if queue {
        line::redis_use(&mut rig.redis.clone()).await
    } else {
        None
    };
    let outcomes =
        match options.flow {
            Flow::Full if queue => {
                spawn_crowd(rig, &context, start, move |context, shopper, _| {
                    let join_at = join_moment(created, start, shopper.index);
                    async move { context.shop_in_line(&shopper, join_at).await }
                })
                .await?
            }
            Flow::Full => spawn_crowd(
                rig,
                &context,
                start,
                |context, shopper, arrival| async move { context.shop(&shopper, arrival).await },
            )
            .await?,
            Flow::Burst => burst(rig, &context, start).await?,
        };
    drop(progress);
    let won: usize = outcomes.iter().map(|outcome| outcome.orders.len()).sum();
    let persisted_at = rows.until(won).await?;
    let cpu = fleet
        .zip(cpu_before)
        .map(|(fleet, before)| before.until(&fleet.cpu(rig)));
    let summary = context.recorder.summary();
    let last_won_ms = summary.last_won_ms;
    let demand = i64::from(options.shoppers) * i64::from(options.limit);
    let (books, broken) = check::check_sale(rig, &sale, &outcomes, demand).await?;
    let mut round = Round::new(
        number,
        options,
        &outcomes,
        summary,
        books,
        broken,
        persist_lag(&context.recorder, persisted_at),
        rig.server().and_then(|server| server.memory_mib()),
    );
    round.cpu = cpu;
    if queue {
        let buys = context
            .recorder
            .summary()
            .step(Step::Buy)
            .map_or(0, |step| step.requests);
        let line = line::LineReport::measure(
            rig,
            (sale.id, number),
            &outcomes,
            (buys, won),
            last_won_ms,
            redis_before,
        )
        .await;
        round.line = Some(line);
    }
    Ok(round)
}

/// When shopper `index` joins a queue sale's line: nine in ten at a moment
/// spread evenly over the pre-queue (from set-up to the start, in an order
/// unrelated to their index), the tenth in the 2 s after the start.
pub(crate) fn join_moment(created: Instant, start: Instant, index: u32) -> Instant {
    // A fixed scramble of the index (Knuth's multiplicative hash): spread
    // without a random generator, the same every run.
    let spread = f64::from(index.wrapping_mul(2_654_435_761) >> 8) / f64::from(1u32 << 24);
    if index % 10 == 9 {
        start + Duration::from_secs_f64(2.0 * spread)
    } else {
        created + (start - created).mul_f64(spread * 0.95)
    }
}

/// From the last 202 until its order row was in Postgres, in milliseconds.
fn persist_lag(recorder: &Recorder, persisted_at: Duration) -> Option<f64> {
    let last_won = recorder.summary().last_won_ms?;
    Some((persisted_at.as_secs_f64() * 1000.0 - last_won).max(0.0))
}

/// Tickets for everyone first, then every buy in one wave: the buy path alone.
async fn burst(rig: &Rig, context: &Arc<Context>, start: Instant) -> Result<Vec<Outcome>, String> {
    let paths = spawn_crowd(rig, context, start, |context, shopper, _| async move {
        tokio::time::sleep_until(start.into()).await;
        context.ticket_path(&shopper).await
    })
    .await?;
    let paths = Arc::new(paths);
    let wave = Instant::now() + Duration::from_millis(100);
    spawn_crowd(rig, context, wave, move |context, shopper, arrival| {
        let paths = paths.clone();
        async move {
            let path = paths[shopper.index as usize].clone();
            context.burst_buy(&shopper, path, arrival).await
        }
    })
    .await
}

/// The same crowd and pacing on a trivial endpoint or on the naive baseline.
async fn single_round(rig: &Rig, options: &Options, number: usize) -> Result<Round, String> {
    let (step, base_url) = match options.target {
        Target::Healthz => (Step::Healthz, rig.base_url.clone()),
        _ => (Step::NaiveBuy, rig.naive_url.clone()),
    };
    let sale_id = number as i64;
    if step == Step::NaiveBuy {
        naive::create_sale(&rig.db, sale_id, options.stock).await?;
    }
    let start = Instant::now() + Duration::from_millis(200);
    let context = context(rig, options, sale_id, vec![base_url], start);
    let progress = Progress::start(
        format!("[{} {number}]", step.name()),
        context.recorder.clone(),
    );
    let outcomes =
        spawn_crowd(
            rig,
            &context,
            start,
            move |context, shopper, arrival| async move {
                context.single(step, &shopper, arrival).await
            },
        )
        .await?;
    drop(progress);
    let summary = context.recorder.summary();
    let (books, broken, memory) = if step == Step::NaiveBuy {
        let (books, broken) = check::check_naive(rig, sale_id, options.stock, &outcomes).await?;
        (
            books,
            broken,
            rig.naive.as_ref().and_then(|naive| naive.memory_mib()),
        )
    } else {
        let broken = check::failures(&outcomes);
        (
            check::Books::default(),
            broken,
            rig.server().and_then(|server| server.memory_mib()),
        )
    };
    Ok(Round::new(
        number, options, &outcomes, summary, books, broken, None, memory,
    ))
}
