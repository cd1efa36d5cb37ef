//! Pacing, timing and counting of the generator's requests.
//!
//! Closed loop: a semaphore caps requests in flight and latency counts from the
//! moment a request is sent. Open loop: arrivals follow a fixed schedule and
//! latency counts from the planned send time, so time spent queueing behind a
//! slow server is not silently dropped (coordinated omission).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::args::Pace;

/// Open-loop arrivals beyond this many requests in flight wait for a slot (and
/// the wait counts in their latency).
const OPEN_LOOP_MAX_IN_FLIGHT: usize = 8_192;

/// The steps a shopper's requests belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Status,
    Captcha,
    Ticket,
    Buy,
    Order,
    Pay,
    Healthz,
    NaiveBuy,
    /// A queue sale's line: joining it, and each poll of one's place.
    Join,
    Poll,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Status => "status",
            Step::Captcha => "captcha",
            Step::Ticket => "ticket",
            Step::Buy => "buy",
            Step::Order => "order",
            Step::Pay => "pay",
            Step::Healthz => "healthz",
            Step::NaiveBuy => "naive buy",
            Step::Join => "join",
            Step::Poll => "poll",
        }
    }
}

/// Decides when a request may go and from when its latency counts.
pub struct Pacer {
    pace: Pace,
    slots: Semaphore,
}

impl Pacer {
    pub fn new(pace: Pace) -> Self {
        let slots = match pace {
            Pace::Closed { concurrency } => concurrency,
            Pace::Open { .. } => OPEN_LOOP_MAX_IN_FLIGHT,
        };
        Self {
            pace,
            slots: Semaphore::new(slots),
        }
    }

    /// When arrival `index` of a wave starting at `start` is due; closed loops
    /// release everyone at once and let the slots do the pacing.
    pub fn arrival(&self, start: Instant, index: u64) -> Instant {
        match self.pace {
            Pace::Closed { .. } => start,
            Pace::Open { per_second } => start + Duration::from_secs_f64(index as f64 / per_second),
        }
    }

    /// Runs `request` in a slot and returns its answer with its latency.
    /// `wanted` is when the caller meant to send it.
    pub async fn send<T>(
        &self,
        wanted: Instant,
        request: impl std::future::Future<Output = T>,
    ) -> (T, Duration) {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the pacer is never closed");
        let sent = Instant::now();
        let answer = request.await;
        let from = match self.pace {
            Pace::Closed { .. } => sent,
            Pace::Open { .. } => wanted.min(sent),
        };
        (answer, from.elapsed())
    }
}

/// Live counters for the progress line.
#[derive(Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub won: AtomicU64,
    pub lost: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Latencies and outcomes per step, and the instants that bound the spike.
pub struct Recorder {
    started: Instant,
    inner: Mutex<Recorded>,
    pub counters: Counters,
}

#[derive(Default)]
struct Recorded {
    latency: BTreeMap<Step, Histogram<u64>>,
    outcomes: BTreeMap<(Step, String), u64>,
    first_sent: BTreeMap<Step, Duration>,
    last_done: BTreeMap<Step, Duration>,
    first_sold_out: Option<Duration>,
    last_won: Option<Duration>,
}

impl Recorder {
    pub fn new(started: Instant) -> Self {
        Self {
            started,
            inner: Mutex::new(Recorded::default()),
            counters: Counters::default(),
        }
    }

    /// One answered request of `step` with its outcome (`200`, `sold_out`, …).
    pub fn record(&self, step: Step, outcome: &str, latency: Duration) {
        Counters::bump(&self.counters.sent);
        let done = self.started.elapsed();
        let sent = done.saturating_sub(latency);
        let mut inner = self.inner.lock().expect("not poisoned");
        let histogram = inner.latency.entry(step).or_insert_with(|| {
            Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")
        });
        histogram.saturating_record(latency.as_micros().max(1) as u64);
        *inner
            .outcomes
            .entry((step, outcome.to_owned()))
            .or_default() += 1;
        let first = inner.first_sent.entry(step).or_insert(sent);
        *first = (*first).min(sent);
        let last = inner.last_done.entry(step).or_insert(done);
        *last = (*last).max(done);
        if matches!(step, Step::Buy | Step::NaiveBuy) {
            match outcome {
                "sold_out" => {
                    inner.first_sold_out = Some(inner.first_sold_out.map_or(done, |t| t.min(done)))
                }
                "won" => inner.last_won = Some(inner.last_won.map_or(done, |t| t.max(done))),
                _ => {}
            }
        }
    }

    /// Since the recorder started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn summary(&self) -> Summary {
        let inner = self.inner.lock().expect("not poisoned");
        let steps = inner
            .latency
            .iter()
            .map(|(step, histogram)| {
                let outcomes: BTreeMap<String, u64> = inner
                    .outcomes
                    .iter()
                    .filter(|((s, _), _)| s == step)
                    .map(|((_, outcome), count)| (outcome.clone(), *count))
                    .collect();
                let span = inner.last_done[step].saturating_sub(inner.first_sent[step]);
                let quantile = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
                StepSummary {
                    step: *step,
                    requests: histogram.len(),
                    per_second: histogram.len() as f64 / span.as_secs_f64().max(1e-3),
                    span_ms: span.as_secs_f64() * 1000.0,
                    p50_ms: quantile(0.5),
                    p90_ms: quantile(0.9),
                    p99_ms: quantile(0.99),
                    p999_ms: quantile(0.999),
                    max_ms: histogram.max() as f64 / 1000.0,
                    outcomes,
                }
            })
            .collect();
        Summary {
            steps,
            first_sold_out_ms: inner.first_sold_out.map(|t| t.as_secs_f64() * 1000.0),
            last_won_ms: inner.last_won.map(|t| t.as_secs_f64() * 1000.0),
            sold_out_per_second: sold_out_rate(&inner),
        }
    }
}

/// Sold-out answers per second once the stock was gone: the rate the local flag
/// turns shoppers away at.
fn sold_out_rate(inner: &Recorded) -> Option<f64> {
    let first = inner.first_sold_out?;
    let step = [Step::Buy, Step::NaiveBuy]
        .into_iter()
        .find(|step| inner.outcomes.contains_key(&(*step, "sold_out".to_owned())))?;
    let count = inner.outcomes[&(step, "sold_out".to_owned())];
    let span = inner.last_done[&step].saturating_sub(first);
    (count >= 100).then(|| count as f64 / span.as_secs_f64().max(1e-3))
}

#[derive(Clone, Debug, Serialize)]
pub struct StepSummary {
    pub step: Step,
    pub requests: u64,
    /// Requests answered per second between the first send and the last answer.
    pub per_second: f64,
    pub span_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub outcomes: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub steps: Vec<StepSummary>,
    /// Since the wave started.
    pub first_sold_out_ms: Option<f64>,
    pub last_won_ms: Option<f64>,
    pub sold_out_per_second: Option<f64>,
}

impl Summary {
    pub fn step(&self, step: Step) -> Option<&StepSummary> {
        self.steps.iter().find(|summary| summary.step == step)
    }
}

/// Prints a progress line every half second until dropped.
pub struct Progress(tokio::task::JoinHandle<()>);

impl Progress {
    pub fn start(label: String, recorder: Arc<Recorder>) -> Self {
        use std::io::IsTerminal;
        let terminal = std::io::stderr().is_terminal();
        Self(tokio::spawn(async move {
            let mut tick =
                tokio::time::interval(Duration::from_millis(if terminal { 500 } else { 2_000 }));
            tick.tick().await;
            loop {
                tick.tick().await;
                let c = &recorder.counters;
                let line = format!(
                    "{label} {:>6.1} s  requests {:>8}  won {:>6}  lost {:>7}  refused {:>6}  failed {:>4}",
                    recorder.elapsed().as_secs_f64(),
                    c.sent.load(Ordering::Relaxed),
                    c.won.load(Ordering::Relaxed),
                    c.lost.load(Ordering::Relaxed),
                    c.refused.load(Ordering::Relaxed),
                    c.failed.load(Ordering::Relaxed),
                );
                if terminal {
                    eprint!("\r{line}");
                } else {
                    eprintln!("{line}");
                }
            }
        }))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.abort();
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
}
