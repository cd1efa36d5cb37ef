//! `spike wrk`: the request rate of each hot endpoint, driven by `wrk` (Debian's
//! package: a lean C client, so the server, not the generator, is what runs
//! out of CPU), next to a bare axum handler measured in the same run as the
//! ceiling. Every row is a ratio to that ceiling.
//!
//! The spike prepares what the requests need up front: shoppers with sessions,
//! one sale per situation (sold out, live, limit reached, plenty of stock) and
//! buy tickets signed with the server's secret, one per request where a buy
//! must be fresh (`fixtures.rs`). `wrk` then cycles through those requests
//! (`wrk.lua`, run by `runner.rs`). The
//! server runs with rate limits out of the way (one client sends everything)
//! on a Redis of the run's own; after the winning buys the queue drains and the
//! books are checked (drift 0).
//!
//! Each row of our server is then driven a second time at half the rate it
//! saturated at (wrk with a 2 ms pause after every answer on each connection,
//! as many connections as that rate needs, found with a 2 s calibration run):
//! the latency a shopper sees when the server is busy but not overrun.
//! `--perf DIR` records a `perf` profile of the server for every saturated row.

use std::path::{Path, PathBuf};
use std::time::Duration;

use app::api::Sale;
use server::redis_connection::RedisTarget;
use server::secret::Secret;
use systests::private_servers::{Persistence, PrivateRedis};

use crate::args::Options;
use crate::rig::{Infra, Rig};

mod cpu;
mod fixtures;
mod runner;

use cpu::{CpuShare, CpuSnapshot};
use fixtures::{Fixtures, Planned};
use runner::{check_answer, measure_row, record_profile, Load, Measured};

/// What `spike wrk` was asked for.
#[derive(Clone, Debug)]
pub struct WrkOptions {
    pub server: PathBuf,
    pub bare: PathBuf,
    pub seconds: u32,
    pub connections: u32,
    pub threads: u32,
    /// Where to write a `perf record` profile of the server per row.
    pub perf: Option<PathBuf>,
}

impl Default for WrkOptions {
    fn default() -> Self {
        Self {
            server: PathBuf::from("target/release/server"),
            bare: PathBuf::from("target/release/bare"),
            seconds: 8,
            connections: 64,
            threads: 1,
            perf: None,
        }
    }
}

/// Shoppers with sessions; the winning buys cycle through them.
const SHOPPERS: u32 = 500;
/// Fresh tickets written for a row that needs one per request: more than a
/// row's three runs send at the rates seen here (the list wraps around
/// otherwise, and a winning ticket sent again is a retry, not a win).
const FRESH_REQUESTS: usize = 400_000;
/// The pause after each answer on a connection in the half-rate runs.
const HALF_RATE_PAUSE_MS: u32 = 2;
/// Requests a run may have sent but not seen answered when it stopped (one
/// per connection at most): the next run of the list starts this much later,
/// so no fresh ticket is sent twice.
const IN_FLIGHT_MARGIN: u64 = 2_000;
/// How long the half-rate calibration runs.
const CALIBRATION_SECS: u32 = 2;

/// One row of the table.
struct Row {
    name: &'static str,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// What one request of the row answers (checked before and after).
    expected: u16,
    /// The run at about half the saturated rate (our server's rows).
    half: Option<Measured>,
    /// Where the CPU went during the saturated run.
    cpu: CpuShare,
}

pub async fn run(options: WrkOptions) -> Result<bool, String> {
    let redis = PrivateRedis::start(Persistence::None)?;
    let generous = "1000000:1000000".to_owned();
    let infra = Infra {
        admin_database_url: systests::admin_database_url(),
        redis: RedisTarget::Node(Secret::new(redis.url())),
        instances: 1,
        extra: vec![
            ("FLASHSALE_RATE_PER_USER".into(), generous.clone()),
            ("FLASHSALE_RATE_PER_IP".into(), generous.clone()),
            ("FLASHSALE_RATE_PER_SALE".into(), generous),
            ("FLASHSALE_MAX_INFLIGHT_BUYS".into(), "65536".into()),
        ],
    };
    let base = Options {
        shoppers: SHOPPERS,
        server: options.server.clone(),
        lead_secs: 1.0,
        ..Options::default()
    };
    let rig = Rig::prepare_on(&base, infra).await?;
    let result = measure(&rig, &options, &base, redis.pid()).await;
    rig.tear_down(false).await;
    drop(redis);
    let rows = result?;
    print!("{}", table(&rows, &options));
    Ok(true)
}

/// Every row in turn, then the books of the winning sale.
async fn measure(
    rig: &Rig,
    options: &WrkOptions,
    base: &Options,
    redis_pid: Option<u32>,
) -> Result<Vec<Row>, String> {
    let processes = Processes {
        server: rig
            .instances
            .iter()
            .filter_map(|instance| instance.process.as_ref()?.pid())
            .collect(),
        redis: redis_pid.into_iter().collect(),
    };
    let fixtures = Fixtures::prepare(rig, base).await?;
    let (mut bare, bare_url) = fixtures::start_bare(rig, &options.bare).await?;
    let dir = std::env::temp_dir().join(format!("spike-wrk-{}", rig.run_id));
    std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
    let script = dir.join("wrk.lua");
    std::fs::write(&script, runner::SCRIPT).map_err(|error| error.to_string())?;
    let mut rows = Vec::new();
    for planned in fixtures.plan(&bare_url) {
        let driver = Driver::write(options, &script, &dir, rows.len(), planned)?;
        check_answer(rig, &driver.url, &driver.requests_first, driver.expected).await?;
        // The first row is the bare handler: measured once, at full speed.
        let ours = !rows.is_empty();
        rows.push(measure_row_of(rig, &driver, &processes, rows.len(), ours).await?);
    }
    let _ = bare.kill().await;
    // The winning buys were persisted as they came: the books balance.
    let settled = settle(rig, &fixtures.plenty).await?;
    eprintln!("[wrk] winning sale: {settled}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

/// The processes whose CPU time a row reports.
struct Processes {
    server: Vec<u32>,
    redis: Vec<u32>,
}

/// One row's request list on disk, and how to run wrk on it.
struct Driver<'a> {
    options: &'a WrkOptions,
    script: &'a Path,
    file: PathBuf,
    name: &'static str,
    url: String,
    /// The first request line, checked by hand before wrk sends it.
    requests_first: String,
    expected: u16,
}

impl<'a> Driver<'a> {
    fn write(
        options: &'a WrkOptions,
        script: &'a Path,
        dir: &Path,
        index: usize,
        planned: Planned,
    ) -> Result<Self, String> {
        let file = dir.join(format!("requests-{index}.txt"));
        let mut text = planned.requests.join("\n");
        text.push('\n');
        // A GET with an ETag but no cookie has a `-` for the cookie.
        let text = text.replace(" - ", "  ");
        std::fs::write(&file, text).map_err(|error| error.to_string())?;
        Ok(Self {
            options,
            script,
            file,
            name: planned.name,
            url: planned.url,
            requests_first: planned.requests.into_iter().next().unwrap_or_default(),
            expected: planned.expected,
        })
    }

    async fn run(&self, load: Load) -> Result<Measured, String> {
        eprintln!(
            "[wrk] {}: wrk -t{} -c{} -d{}s{}",
            self.name,
            self.options.threads,
            load.connections,
            load.seconds,
            load.pause_ms
                .map_or(String::new(), |pause| format!(", {pause} ms pause"))
        );
        let (options, name, expected) = (self.options, self.name, self.expected);
        measure_row(
            options,
            self.script,
            &self.file,
            &self.url,
            load,
            name,
            expected,
        )
        .await
    }
}

/// A row saturated (with its CPU shares and, if asked, a profile), then, for
/// our server's rows, at half that rate.
async fn measure_row_of(
    rig: &Rig,
    driver: &Driver<'_>,
    processes: &Processes,
    index: usize,
    ours: bool,
) -> Result<Row, String> {
    let options = driver.options;
    let profile = match (&options.perf, ours) {
        (Some(dir), true) => Some(record_profile(rig, dir, index, options.seconds)?),
        _ => None,
    };
    let before = CpuSnapshot::take(&processes.server, &processes.redis);
    let saturated = driver
        .run(Load {
            connections: options.connections,
            seconds: options.seconds,
            pause_ms: None,
            first: 0,
        })
        .await?;
    let cpu = CpuSnapshot::take(&processes.server, &processes.redis).share_since(&before);
    if let Some(mut perf) = profile {
        let _ = perf.wait().await;
    }
    let half = if ours {
        Some(at_half_rate(driver, &saturated).await?)
    } else {
        None
    };
    Ok(Row {
        name: driver.name,
        per_second: saturated.per_second,
        p50_ms: saturated.p50_ms,
        p99_ms: saturated.p99_ms,
        expected: driver.expected,
        half,
        cpu,
    })
}

/// Half the saturated rate: connections that each pause after every answer,
/// as many as a first guess says, corrected by what a short run achieved.
/// Each run starts past what the runs before it may have sent.
async fn at_half_rate(driver: &Driver<'_>, saturated: &Measured) -> Result<Measured, String> {
    let mut sent = saturated.answered() + IN_FLIGHT_MARGIN;
    let target = saturated.per_second / 2.0;
    let pause_s = f64::from(HALF_RATE_PAUSE_MS) / 1000.0;
    let guess = (target * pause_s).ceil().max(1.0);
    let calibration = driver
        .run(Load {
            connections: guess as u32,
            seconds: CALIBRATION_SECS,
            pause_ms: Some(HALF_RATE_PAUSE_MS),
            first: sent,
        })
        .await?;
    sent += calibration.answered() + IN_FLIGHT_MARGIN;
    let connections = (guess * target / calibration.per_second.max(1.0))
        .round()
        .clamp(1.0, 2000.0);
    driver
        .run(Load {
            connections: connections as u32,
            seconds: driver.options.seconds,
            pause_ms: Some(HALF_RATE_PAUSE_MS),
            first: sent,
        })
        .await
}

/// Waits until the sale's queue is empty and says what the books say.
async fn settle(rig: &Rig, sale: &Sale) -> Result<String, String> {
    let stock = rig.stock();
    for _ in 0..600 {
        let books = stock
            .books(sale.id)
            .await
            .map_err(|error| error.to_string())?;
        if books.queued_units == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reconciliation = server::sales::reconcile::reconcile(&rig.db, &stock, sale)
        .await
        .map_err(|error| error.to_string())?;
    if reconciliation.drift != 0 {
        return Err(format!("the books drifted: {reconciliation:?}"));
    }
    Ok(format!("drift 0 ({reconciliation:?})"))
}

fn table(rows: &[Row], options: &WrkOptions) -> String {
    let ceiling = rows.first().map_or(1.0, |row| row.per_second);
    let mut out = format!(
        "\nwrk -t{} -c{} -d{}s, one run, the server and wrk on the same {} cores\n\n\
         | endpoint | answer | req/s | vs bare axum | p50 | p99 | at half rate: req/s | p50 | p99 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        options.threads,
        options.connections,
        options.seconds,
        std::thread::available_parallelism().map_or(1, |cores| cores.get())
    );
    for row in rows {
        let half = row.half.as_ref().map_or("| — | — | —".to_owned(), |half| {
            format!(
                "| {:.0} ({:.0} %) | {:.2} ms | {:.2} ms",
                half.per_second,
                100.0 * half.per_second / row.per_second,
                half.p50_ms,
                half.p99_ms
            )
        });
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2}× | {:.2} ms | {:.2} ms {half} |\n",
            row.name,
            row.expected,
            row.per_second,
            row.per_second / ceiling,
            row.p50_ms,
            row.p99_ms
        ));
    }
    out.push_str(
        "\nCPU during the saturated runs, in cores\n\n\
         | endpoint | server | Redis | Postgres | wrk and the rest |\n|---|---:|---:|---:|---:|\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            row.name, row.cpu.server, row.cpu.redis, row.cpu.postgres, row.cpu.rest
        ));
    }
    out
}
