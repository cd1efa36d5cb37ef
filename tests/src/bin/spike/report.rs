//! The human table and the JSON of a run: per round, and medians across rounds.

use std::fmt::Write;

use serde::Serialize;

use crate::args::{Flow, Options, Pace, Target};
use crate::check::Books;
use crate::fleet::CpuUse;
use crate::load::{Step, StepSummary, Summary};
use crate::shopper::Outcome;

#[derive(Clone, Debug, Serialize)]
pub struct Round {
    pub round: usize,
    /// Shoppers brought to an outcome (won, sold out, …) per second of the wave.
    pub shoppers_per_second: f64,
    /// From the opening instant until the last shopper had an outcome.
    pub wave_ms: f64,
    /// The request being measured: buy, healthz or the naive buy.
    pub main: Option<StepSummary>,
    /// Sold-out answers per second after the first one.
    pub sold_out_per_second: Option<f64>,
    pub won: usize,
    pub paid: u32,
    /// From the last 202 until the last order row was in Postgres.
    pub persist_lag_ms: Option<f64>,
    pub memory_peak_mib: Option<f64>,
    pub memory_now_mib: Option<f64>,
    pub books: Books,
    pub broken: Vec<String>,
    pub steps: Vec<StepSummary>,
    /// CPU each part spent from the opening until the last order was persisted
    /// (runs on a fleet of their own only).
    pub cpu: Option<CpuUse>,
    /// A queue sale's waiting room (`--admission queue`).
    pub line: Option<crate::line::LineReport>,
}

impl Round {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        round: usize,
        options: &Options,
        outcomes: &[Outcome],
        summary: Summary,
        books: Books,
        broken: Vec<String>,
        persist_lag_ms: Option<f64>,
        memory: Option<(f64, f64)>,
    ) -> Self {
        let wave_ms = outcomes
            .iter()
            .filter_map(|outcome| outcome.decided_ms)
            .fold(0.0, f64::max);
        let decided = outcomes
            .iter()
            .filter(|outcome| outcome.decided_ms.is_some())
            .count();
        let main_step = match options.target {
            Target::Sale => Step::Buy,
            Target::Healthz => Step::Healthz,
            Target::Naive => Step::NaiveBuy,
        };
        Round {
            round,
            shoppers_per_second: decided as f64 / (wave_ms / 1000.0).max(1e-3),
            wave_ms,
            main: summary.step(main_step).cloned(),
            sold_out_per_second: summary.sold_out_per_second,
            won: outcomes.iter().map(|outcome| outcome.orders.len()).sum(),
            paid: outcomes.iter().map(|outcome| outcome.paid).sum(),
            persist_lag_ms,
            memory_peak_mib: memory.map(|(peak, _)| peak),
            memory_now_mib: memory.map(|(_, now)| now),
            books,
            broken,
            steps: summary.steps,
            cpu: None,
            line: None,
        }
    }

    pub fn headline(&self) -> String {
        let main = self.main.as_ref();
        format!(
            "round {}: {:.0} shoppers/s, {} {:.0}/s p99 {:.1} ms, won {}, {}",
            self.round,
            self.shoppers_per_second,
            main.map_or("-", |step| step.step.name()),
            main.map_or(0.0, |step| step.per_second),
            main.map_or(0.0, |step| step.p99_ms),
            self.won,
            if self.broken.is_empty() {
                "every check passed".to_owned()
            } else {
                format!("{} checks BROKEN", self.broken.len())
            }
        )
    }
}

/// Medians across rounds of the numbers a benchmark compares.
#[derive(Clone, Debug, Serialize)]
pub struct Medians {
    pub shoppers_per_second: f64,
    pub main_per_second: Option<f64>,
    pub main_p50_ms: Option<f64>,
    pub main_p99_ms: Option<f64>,
    pub main_p999_ms: Option<f64>,
    pub sold_out_per_second: Option<f64>,
    pub persist_lag_ms: Option<f64>,
    pub memory_peak_mib: Option<f64>,
}

fn median(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut values: Vec<f64> = values.flatten().collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub target: &'static str,
    pub flow: &'static str,
    pub shoppers: u32,
    pub stock: i32,
    pub limit: i32,
    pub captcha: &'static str,
    pub pow_bits: u32,
    pub pace: String,
    pub cores: usize,
    pub server: String,
    pub medians: Medians,
    pub rounds: Vec<Round>,
}

impl Report {
    pub fn new(options: &Options, rounds: Vec<Round>) -> Self {
        let pick = |f: fn(&Round) -> Option<f64>| median(rounds.iter().map(f));
        let medians = Medians {
            shoppers_per_second: pick(|round| Some(round.shoppers_per_second)).unwrap_or(0.0),
            main_per_second: pick(|round| round.main.as_ref().map(|step| step.per_second)),
            main_p50_ms: pick(|round| round.main.as_ref().map(|step| step.p50_ms)),
            main_p99_ms: pick(|round| round.main.as_ref().map(|step| step.p99_ms)),
            main_p999_ms: pick(|round| round.main.as_ref().map(|step| step.p999_ms)),
            sold_out_per_second: pick(|round| round.sold_out_per_second),
            persist_lag_ms: pick(|round| round.persist_lag_ms),
            memory_peak_mib: pick(|round| round.memory_peak_mib),
        };
        Report {
            target: match options.target {
                Target::Sale => "sale",
                Target::Healthz => "healthz",
                Target::Naive => "naive",
            },
            flow: match options.flow {
                Flow::Full => "full",
                Flow::Burst => "burst",
            },
            shoppers: options.shoppers,
            stock: options.stock,
            limit: options.limit,
            captcha: options.captcha.as_str(),
            pow_bits: options.pow_bits,
            pace: match options.pace {
                Pace::Closed { concurrency } => format!("closed loop, {concurrency} in flight"),
                Pace::Open { per_second } => format!("open loop, {per_second} arrivals/s"),
            },
            cores: std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            server: options.server.display().to_string(),
            medians,
            rounds,
        }
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nspike: target {}, flow {}, {} shoppers, {} units, limit {}, captcha {}{}, {}, {} cores",
            self.target,
            self.flow,
            self.shoppers,
            self.stock,
            self.limit,
            self.captcha,
            if self.captcha == "pow" {
                format!(" ({} bits)", self.pow_bits)
            } else {
                String::new()
            },
            self.pace,
            self.cores
        );
        let _ = writeln!(
            out,
            "{:>5} {:>11} {:>10} {:>9} {:>9} {:>10} {:>11} {:>7} {:>6} {:>12} {:>9}  checks",
            "round",
            "shoppers/s",
            "main/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "sold-out/s",
            "won",
            "paid",
            "persist lag",
            "RSS MiB"
        );
        let number = |value: Option<f64>, digits: usize| {
            value.map_or("-".to_owned(), |value| format!("{value:.digits$}"))
        };
        for round in &self.rounds {
            let main = round.main.as_ref();
            let _ = writeln!(
                out,
                "{:>5} {:>11.0} {:>10} {:>9} {:>9} {:>10} {:>11} {:>7} {:>6} {:>12} {:>9}  {}",
                round.round,
                round.shoppers_per_second,
                number(main.map(|step| step.per_second), 0),
                number(main.map(|step| step.p50_ms), 1),
                number(main.map(|step| step.p99_ms), 1),
                number(main.map(|step| step.p999_ms), 1),
                number(round.sold_out_per_second, 0),
                round.won,
                round.paid,
                number(round.persist_lag_ms, 0),
                number(round.memory_peak_mib, 0),
                if round.broken.is_empty() {
                    "ok"
                } else {
                    "BROKEN"
                }
            );
        }
        let m = &self.medians;
        let _ = writeln!(
            out,
            "{:>5} {:>11.0} {:>10} {:>9} {:>9} {:>10} {:>11} {:>7} {:>6} {:>12} {:>9}",
            "med",
            m.shoppers_per_second,
            number(m.main_per_second, 0),
            number(m.main_p50_ms, 1),
            number(m.main_p99_ms, 1),
            number(m.main_p999_ms, 1),
            number(m.sold_out_per_second, 0),
            "",
            "",
            number(m.persist_lag_ms, 0),
            number(m.memory_peak_mib, 0),
        );
        if let Some(last) = self.rounds.last() {
            let _ = writeln!(out, "\nrequests of round {}:", last.round);
            let _ = writeln!(
                out,
                "{:<10} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9} {:>8}  outcomes",
                "step", "requests", "per s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
            );
            for step in &last.steps {
                let outcomes: Vec<String> = step
                    .outcomes
                    .iter()
                    .map(|(outcome, count)| format!("{outcome} {count}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "{:<10} {:>8} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>8.1}  {}",
                    step.step.name(),
                    step.requests,
                    step.per_second,
                    step.p50_ms,
                    step.p90_ms,
                    step.p99_ms,
                    step.p999_ms,
                    step.max_ms,
                    outcomes.join(", ")
                );
            }
            if let Some(cpu) = &last.cpu {
                let decided = (last.shoppers_per_second * last.wave_ms / 1000.0).max(1.0);
                let part = |name: &str, ms: Option<f64>| {
                    ms.map(|ms| {
                        format!(
                            "{name} {ms:.0} ms ({:.0} µs/shopper)",
                            ms * 1000.0 / decided
                        )
                    })
                };
                let busiest = (cpu.redis_nodes_ms.len() > 1)
                    .then(|| cpu.redis_nodes_ms.iter().copied().fold(0.0, f64::max));
                let parts: Vec<String> = [
                    part("servers", Some(cpu.servers_ms)),
                    part("Redis", cpu.redis_ms),
                    part("busiest Redis node", busiest),
                    part("nginx", cpu.nginx_ms),
                    part("generator", Some(cpu.generator_ms)),
                ]
                .into_iter()
                .flatten()
                .collect();
                let _ = writeln!(
                    out,
                    "\nCPU of round {} ({decided:.0} shoppers): {}",
                    last.round,
                    parts.join(", ")
                );
            }
            let b = &last.books;
            if self.target != "healthz" {
                let _ = writeln!(
                    out,
                    "\nbooks of round {}: {} order rows, {} units sold of {}, {} paid, most one shopper holds {}, drift {}",
                    last.round, b.order_rows, b.units_sold, self.stock, b.paid_rows, b.most_units_one_shopper, b.drift
                );
            }
        }
        out
    }
}
