//! `spike wrk`: the request rate of each hot endpoint, driven by `wrk` (Debian's
//! package: a lean C client, so the server, not the generator, is what runs
//! out of CPU), next to a bare axum handler measured in the same run as the
//! ceiling. Every row is a ratio to that ceiling.
//!
//! The spike prepares what the requests need up front: shoppers with sessions,
//! one sale per situation (sold out, live, limit reached, plenty of stock) and
//! buy tickets signed with the server's secret, one per request where a buy
//! must be fresh. `wrk` then cycles through those requests (`wrk.lua`). The
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
use std::process::Stdio;
use std::time::Duration;

use app::api::Sale;
use server::guards::tickets::TicketSigner;
use server::redis_connection::RedisTarget;
use server::secret::Secret;
use systests::private_servers::{free_port, Persistence, PrivateRedis};
use tokio::process::Command;

use crate::args::Options;
use crate::rig::{Infra, Rig};

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

/// Cycles through the requests of the file in `WRK_REQUESTS`, one per line:
/// `METHOD PATH [COOKIE [IF-NONE-MATCH]]`, from line `WRK_FIRST` on (so a
/// later run of the same list sends requests not sent yet), pausing
/// `WRK_DELAY_MS` after each answer when that is set.
const SCRIPT: &str = r#"
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause then
  delay = function() return pause end
end
-- Built in init(): wrk knows the host (for the Host header) only by then.
local requests = {}
init = function()
for line in io.lines(os.getenv("WRK_REQUESTS")) do
  local method, path, cookie, etag = line:match("^(%S+) (%S+) ?(%S*) ?(.*)$")
  local headers = { ["Origin"] = os.getenv("WRK_ORIGIN") }
  if cookie ~= "" then headers["Cookie"] = cookie end
  if etag ~= "" then headers["If-None-Match"] = etag end
  local body = nil
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    body = "{}"
  end
  requests[#requests + 1] = wrk.format(method, path, headers, body)
end
end
local next_request = tonumber(os.getenv("WRK_FIRST") or "0")
request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end
-- Every answer's status, counted, so a row measures the answer it claims.
statuses = {}
response = function(status)
  statuses[status] = (statuses[status] or 0) + 1
end
local threads = {}
setup = function(thread)
  threads[#threads + 1] = thread
end
done = function()
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      io.write(string.format("status %d %d\n", status, count))
    end
  end
end
"#;

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

/// The cores each part kept busy during a run (CPU seconds per second).
#[derive(Clone, Copy, Debug, Default)]
struct CpuShare {
    server: f64,
    redis: f64,
    postgres: f64,
    /// wrk, mostly: the machine's busy time less the parts above.
    rest: f64,
}

/// CPU spent so far, in milliseconds.
struct CpuSnapshot {
    server: f64,
    redis: f64,
    postgres: f64,
    machine: f64,
    at: std::time::Instant,
}

impl CpuSnapshot {
    fn take(server: &[u32], redis: &[u32]) -> Self {
        Self {
            server: crate::fleet::cpu_ms(server),
            redis: crate::fleet::cpu_ms(redis),
            postgres: crate::fleet::cpu_ms(&pids_of("postgres")),
            machine: machine_busy_ms(),
            at: std::time::Instant::now(),
        }
    }

    fn share_since(&self, earlier: &CpuSnapshot) -> CpuShare {
        let elapsed_ms = (self.at - earlier.at).as_secs_f64() * 1000.0;
        let cores = |later: f64, before: f64| (later - before).max(0.0) / elapsed_ms;
        let (server, redis, postgres) = (
            cores(self.server, earlier.server),
            cores(self.redis, earlier.redis),
            cores(self.postgres, earlier.postgres),
        );
        CpuShare {
            server,
            redis,
            postgres,
            rest: (cores(self.machine, earlier.machine) - server - redis - postgres).max(0.0),
        }
    }
}

/// The processes whose command is `name`.
fn pids_of(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == name)
        })
        .collect()
}

/// The machine's busy CPU time so far (`/proc/stat`, all cores, 10 ms ticks).
fn machine_busy_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: f64 = ticks.iter().take(8).sum::<f64>()
        - ticks.get(3).copied().unwrap_or(0.0)
        - ticks.get(4).copied().unwrap_or(0.0);
    busy * 10.0
}

/// How wrk drives one run.
#[derive(Clone, Copy, Debug)]
struct Load {
    connections: u32,
    seconds: u32,
    /// The pause after each answer on a connection (`None`: none, saturate).
    pause_ms: Option<u32>,
    /// The first line of the request list to send.
    first: u64,
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

async fn measure(
    rig: &Rig,
    options: &WrkOptions,
    base: &Options,
    redis_pid: Option<u32>,
) -> Result<Vec<Row>, String> {
    let server_pids: Vec<u32> = rig
        .instances
        .iter()
        .filter_map(|instance| instance.process.as_ref()?.pid())
        .collect();
    let redis_pids: Vec<u32> = redis_pid.into_iter().collect();
    let signer = TicketSigner::new(Secret::new(rig.server_env.secret.clone().into_bytes()));
    let expires = server::clock::now_ms() + 3_600_000;
    let sale = |stock: i32, limit: i32, round: usize| {
        let options = Options {
            stock,
            limit,
            ..base.clone()
        };
        async move { rig.create_sale(&options, round).await }
    };
    let sold_out = sale(1, 1, 1).await?;
    let live = sale(1_000_000, 1, 2).await?;
    let limited = sale(1_000_000, 1, 3).await?;
    let plenty = sale(10_000_000, 1_000_000, 4).await?;
    tokio::time::sleep(Duration::from_millis(
        (plenty.starts_at_ms - server::clock::now_ms()).max(0) as u64 + 100,
    ))
    .await;

    let shopper = &rig.shoppers[0];
    // A ticket is its sale, buyer and expiry signed: each `n` makes another one.
    let buy_path = |sale: &Sale, user_id: i64, n: usize| {
        let ticket = signer.issue(sale.id, user_id, expires + n as i64);
        format!("/api/sales/{}/buy/{ticket}", sale.id)
    };
    // The sold-out sale's one unit goes; the limited sale's shopper holds one.
    for sale in [&sold_out, &limited] {
        let status = send(
            rig,
            "POST",
            &buy_path(sale, shopper.user_id, 0),
            &shopper.cookie,
        )
        .await?;
        if status != 202 {
            return Err(format!(
                "setting up sale {}: the first buy answered {status}",
                sale.id
            ));
        }
    }
    let page = rig
        .client
        .get(rig.url(&format!("/sales/{}", live.id)))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let etag = page
        .headers()
        .get("etag")
        .and_then(|value| value.to_str().ok())
        .ok_or("the sale page has no ETag")?
        .to_owned();

    let bare_port = free_port()?;
    let mut bare = Command::new(&options.bare)
        .arg(format!("127.0.0.1:{bare_port}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            format!(
                "cannot start {} (cargo build --release -p systests --bin bare): {error}",
                options.bare.display()
            )
        })?;
    crate::process::wait_until_ready(
        &rig.client,
        &format!("http://127.0.0.1:{bare_port}/"),
        Path::new("/dev/null"),
    )
    .await?;

    let dir = std::env::temp_dir().join(format!("spike-wrk-{}", rig.run_id));
    std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
    let script = dir.join("wrk.lua");
    std::fs::write(&script, SCRIPT).map_err(|error| error.to_string())?;
    // The sold-out row is another shopper's: the first shopper's ticket would
    // find the order it already has.
    let latecomer = &rig.shoppers[1];
    let late_cookie = latecomer.cookie.replace(' ', "");
    let fresh_buys = |sale: &Sale, cycle_shoppers: bool| -> Vec<String> {
        (0..FRESH_REQUESTS)
            .map(|n| {
                let buyer = if cycle_shoppers {
                    &rig.shoppers[n % rig.shoppers.len()]
                } else {
                    shopper
                };
                format!(
                    "POST {} {}",
                    buy_path(sale, buyer.user_id, n + 1),
                    buyer.cookie.replace(' ', "")
                )
            })
            .collect()
    };
    // Every row but the first goes to our server.
    let ours = |name: &'static str, requests: Vec<String>, expected: u16| {
        (name, rig.base_url.clone(), requests, expected)
    };
    let plan: Vec<(&'static str, String, Vec<String>, u16)> = vec![
        (
            "bare axum handler",
            format!("http://127.0.0.1:{bare_port}"),
            vec!["GET /".into()],
            200,
        ),
        ours("GET /healthz", vec!["GET /healthz".into()], 200),
        ours(
            "buy, sold out (local flag)",
            vec![format!(
                "POST {} {late_cookie}",
                buy_path(&sold_out, latecomer.user_id, 0)
            )],
            410,
        ),
        ours(
            "GET /api/sales/{id}/status",
            vec![format!("GET /api/sales/{}/status", live.id)],
            200,
        ),
        ours(
            "GET /sales/{id} (200)",
            vec![format!("GET /sales/{}", live.id)],
            200,
        ),
        ours(
            "GET /sales/{id} (304)",
            vec![format!("GET /sales/{} - {etag}", live.id)],
            304,
        ),
        ours("buy, limit reached", fresh_buys(&limited, false), 409),
        ours("buy, winning", fresh_buys(&plenty, true), 202),
    ];
    let mut rows = Vec::new();
    for (name, url, requests, expected) in plan {
        let file = dir.join(format!("requests-{}.txt", rows.len()));
        let mut text = requests.join("\n");
        text.push('\n');
        // A GET with an ETag but no cookie has a `-` for the cookie.
        let text = text.replace(" - ", "  ");
        std::fs::write(&file, text).map_err(|error| error.to_string())?;
        let first = requests[0].clone();
        check_answer(rig, &url, &first, expected).await?;
        let run = |load: Load| {
            eprintln!(
                "[wrk] {name}: wrk -t{} -c{} -d{}s{}",
                options.threads,
                load.connections,
                load.seconds,
                load.pause_ms
                    .map_or(String::new(), |pause| format!(", {pause} ms pause"))
            );
            measure_row(options, &script, &file, &url, load, name, expected)
        };
        let saturating = Load {
            connections: options.connections,
            seconds: options.seconds,
            pause_ms: None,
            first: 0,
        };
        // The first row is the bare handler.
        let ours = !rows.is_empty();
        let profile = match (&options.perf, ours) {
            (Some(dir), true) => Some(record_profile(rig, dir, rows.len(), options.seconds)?),
            _ => None,
        };
        let before = CpuSnapshot::take(&server_pids, &redis_pids);
        let saturated = run(saturating).await?;
        let cpu = CpuSnapshot::take(&server_pids, &redis_pids).share_since(&before);
        if let Some(mut perf) = profile {
            let _ = perf.wait().await;
        }
        let mut sent = saturated.answered() + IN_FLIGHT_MARGIN;
        let half = if ours {
            // Connections for half the rate, each pausing after every answer:
            // a first guess, corrected by what a short run achieved.
            let target = saturated.per_second / 2.0;
            let pause_s = f64::from(HALF_RATE_PAUSE_MS) / 1000.0;
            let guess = (target * pause_s).ceil().max(1.0);
            let calibration = run(Load {
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
            let half = run(Load {
                connections: connections as u32,
                seconds: options.seconds,
                pause_ms: Some(HALF_RATE_PAUSE_MS),
                first: sent,
            })
            .await?;
            Some(half)
        } else {
            None
        };
        rows.push(Row {
            name,
            per_second: saturated.per_second,
            p50_ms: saturated.p50_ms,
            p99_ms: saturated.p99_ms,
            expected,
            half,
            cpu,
        });
    }
    let _ = bare.kill().await;
    // The winning buys were persisted as they came: the books balance.
    let settled = settle(rig, &plenty).await?;
    eprintln!("[wrk] winning sale: {settled}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rows)
}

/// Runs wrk once and checks that every answer was the row's.
async fn measure_row(
    options: &WrkOptions,
    script: &Path,
    requests: &Path,
    url: &str,
    load: Load,
    name: &str,
    expected: u16,
) -> Result<Measured, String> {
    let measured = wrk(options, script, requests, url, load).await?;
    let answered = measured.answered();
    let other: Vec<String> = measured
        .statuses
        .iter()
        .filter(|(status, _)| *status != expected)
        .map(|(status, count)| format!("{count} × {status}"))
        .collect();
    if answered == 0 || !other.is_empty() {
        return Err(format!(
            "{name}: expected only {expected}, wrk saw {} of {answered} answers other: {}",
            other.len(),
            other.join(", ")
        ));
    }
    Ok(measured)
}

/// Starts `perf record` (with call graphs) on the server for the next `seconds`, into
/// `dir/row-<index>.data` (read it with `perf report -i`).
fn record_profile(
    rig: &Rig,
    dir: &Path,
    index: usize,
    seconds: u32,
) -> Result<tokio::process::Child, String> {
    let pid = rig
        .instances
        .first()
        .and_then(|instance| instance.process.as_ref()?.pid())
        .ok_or("no server process to profile")?;
    std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
    Command::new("perf")
        // DWARF call graphs: the release build keeps no frame pointers.
        .args(["record", "-F", "199", "--call-graph", "dwarf,32768"])
        .args(["-p", &pid.to_string(), "-o"])
        .arg(dir.join(format!("row-{index}.data")))
        .args(["--", "sleep", &seconds.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot run perf (apt install linux-perf): {error}"))
}

/// One request as wrk would send it (line of the request file), its status.
async fn check_answer(rig: &Rig, url: &str, line: &str, expected: u16) -> Result<(), String> {
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
    let cookie = parts
        .next()
        .filter(|cookie| !cookie.is_empty() && *cookie != "-");
    let etag = parts.next();
    let mut request = rig
        .client
        .request(
            method.parse().map_err(|_| "bad method")?,
            format!("{url}{path}"),
        )
        .header("origin", url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    if method == "POST" {
        request = request.json(&serde_json::json!({}));
    }
    let status = request
        .send()
        .await
        .map_err(|error| error.to_string())?
        .status()
        .as_u16();
    if status != expected {
        return Err(format!("{method} {path} answered {status}, not {expected}"));
    }
    Ok(())
}

async fn send(rig: &Rig, method: &str, path: &str, cookie: &str) -> Result<u16, String> {
    let response = rig
        .client
        .request(method.parse().map_err(|_| "bad method")?, rig.url(path))
        .header("cookie", cookie)
        .header("origin", &rig.base_url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    Ok(response.status().as_u16())
}

/// Runs wrk and reads requests per second and the 50th and 99th percentiles.
async fn wrk(
    options: &WrkOptions,
    script: &Path,
    requests: &Path,
    url: &str,
    load: Load,
) -> Result<Measured, String> {
    let mut command = Command::new("wrk");
    command
        .args([
            format!("-t{}", options.threads.min(load.connections)),
            format!("-c{}", load.connections),
            format!("-d{}s", load.seconds),
            "--latency".into(),
            "-s".into(),
        ])
        .arg(script)
        .arg(url)
        .env("WRK_REQUESTS", requests)
        .env("WRK_ORIGIN", url)
        .env("WRK_FIRST", load.first.to_string());
    if let Some(pause) = load.pause_ms {
        command.env("WRK_DELAY_MS", pause.to_string());
    }
    let output = command
        .output()
        .await
        .map_err(|error| format!("cannot run wrk (apt install wrk): {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk failed: {text}"));
    }
    let number_after = |label: &str| -> Option<&str> {
        text.lines()
            .find(|line| line.trim_start().starts_with(label))?
            .trim_start()[label.len()..]
            .split_whitespace()
            .next()
    };
    let per_second: f64 = number_after("Requests/sec:")
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output: {text}"))?;
    let millis = |label: &str| number_after(label).and_then(parse_duration_ms);
    let statuses: Vec<(u16, u64)> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("status ")?.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
        })
        .collect();
    Ok(Measured {
        per_second,
        p50_ms: millis("50%").unwrap_or(f64::NAN),
        p99_ms: millis("99%").unwrap_or(f64::NAN),
        statuses,
    })
}

/// What wrk reported of one run.
struct Measured {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Answers by status.
    statuses: Vec<(u16, u64)>,
}

impl Measured {
    fn answered(&self) -> u64 {
        self.statuses.iter().map(|(_, count)| count).sum()
    }
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.01s`.
fn parse_duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
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

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn wrk_durations_read_in_milliseconds() {
        assert_eq!(parse_duration_ms("812.00us"), Some(0.812));
        assert_eq!(parse_duration_ms("1.50ms"), Some(1.5));
        assert_eq!(parse_duration_ms("2.00s"), Some(2000.0));
        assert_eq!(parse_duration_ms("fast"), None);
    }
}
