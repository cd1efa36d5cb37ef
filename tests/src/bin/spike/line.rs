//! A spike shopper in a queue sale's waiting room (`--admission queue`), as
//! the browser client does it: join once, keep the entry cookie, poll no
//! sooner than `poll_after_ms`, and once let in go through the challenge,
//! ticket and buy. A waitlisted shopper leaves (units come back only when
//! orders lapse, long after the wave). What each visit saw becomes the round's
//! fairness figures ([`LineReport`]).

use std::time::{Duration, Instant};

use app::api::{QueueStanding, QueueState};
use serde::Serialize;
use server::keys::LINE_SHARDS;

use crate::load::Step;
use crate::rig::{Rig, ShopperId};
use crate::shopper::{Context, Outcome};

/// What one shopper's visit to the line was.
#[derive(Clone, Debug, Default)]
pub struct LineVisit {
    /// When the server says they joined, and whether before the start.
    pub joined_ms: i64,
    pub before_start: bool,
    /// When the poll first said "admitted", ms after the start; never if none.
    pub admitted_ms: Option<f64>,
    /// The drawn place, once a poll told it (pre-start entrants).
    pub place: Option<u64>,
    pub polls: u32,
}

impl Context {
    /// Joins at `join_at`, waits in line as told, buys once let in.
    pub async fn shop_in_line(&self, shopper: &ShopperId, join_at: Instant) -> Outcome {
        tokio::time::sleep_until(join_at.into()).await;
        let path = format!("/api/sales/{}/queue", self.sale_id);
        let mut outcome = Outcome::default();
        let mut visit = LineVisit::default();
        // Join: once, with retries only for "not yet" and "slow down".
        let (mut standing, shopper) = loop {
            let answer = self
                .call(
                    Step::Join,
                    Instant::now(),
                    shopper,
                    reqwest::Method::POST,
                    &path,
                    None,
                )
                .await;
            match answer.status {
                200 => {
                    let Some(standing) = answer.parsed::<QueueStanding>() else {
                        return self.fail(outcome, "join: not a standing".into());
                    };
                    // The browser keeps the entry cookie; so does this shopper.
                    let mut with_entry = shopper.clone();
                    if let Some(entry) = answer.set_cookie {
                        with_entry.cookie = format!("{}; {entry}", shopper.cookie);
                    }
                    break (standing, with_entry);
                }
                429 | 503 => tokio::time::sleep(answer.cool_down()).await,
                425 => tokio::time::sleep(Duration::from_millis(50)).await,
                410 => return self.finish(shopper, outcome, answer.code).await,
                status => return self.fail(outcome, format!("join: {status} {}", answer.code)),
            }
        };
        visit.joined_ms = standing.joined_at_ms.unwrap_or_default();
        visit.before_start = standing.joined_before_start == Some(true);
        loop {
            visit.place = visit.place.or(standing.place);
            match standing.state {
                QueueState::Admitted => break,
                QueueState::Waiting => {}
                QueueState::NotJoined => {
                    return self.fail(outcome, "joined, then not in line".into());
                }
                other => {
                    outcome.line = Some(visit);
                    return self
                        .finish(&shopper, outcome, other.as_str().to_owned())
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(u64::from(standing.poll_after_ms))).await;
            let answer = self
                .call(
                    Step::Poll,
                    Instant::now(),
                    &shopper,
                    reqwest::Method::GET,
                    &path,
                    None,
                )
                .await;
            visit.polls += 1;
            match answer.parsed::<QueueStanding>() {
                Some(now) if answer.status == 200 => standing = now,
                _ if matches!(answer.status, 429 | 503) => {
                    tokio::time::sleep(answer.cool_down()).await;
                }
                _ => {
                    return self.fail(outcome, format!("poll: {} {}", answer.status, answer.code));
                }
            }
        }
        visit.admitted_ms = Some(self.recorder.elapsed().as_secs_f64() * 1000.0);
        outcome.line = Some(visit);
        self.purchase(&shopper, outcome).await
    }
}

/// The round's waiting-room figures.
#[derive(Clone, Debug, Serialize)]
pub struct LineReport {
    pub joined_before_start: usize,
    pub joined_after_start: usize,
    pub admitted: usize,
    /// Spearman's rank correlation between joining and the drawn place among
    /// pre-start entrants who learnt theirs (0: place independent of joining).
    pub rank_correlation: Option<f64>,
    /// Those it was computed over.
    pub placed: usize,
    /// The same between joining and the moment a poll found them let in,
    /// among those let in (noisier: few, and polls come at intervals).
    pub admitted_rank_correlation: Option<f64>,
    pub polls_per_shopper: f64,
    /// Buy requests per unit sold: what the buy path saw.
    pub buys_per_unit: Option<f64>,
    /// From the start until the last unit was won.
    pub sold_out_ms: Option<f64>,
    /// Redis CPU (user + system, every node) over the round, per shopper, in
    /// microseconds: the line's shards, the board, the draw and the buys.
    pub redis_us_per_shopper: Option<f64>,
    /// Of it, the master holding the sale's slot (the same on one server).
    pub sale_node_us_per_shopper: Option<f64>,
    /// Microseconds Redis commands ran per shopper (`INFO commandstats`):
    /// every master, the sale's, and the mean of the others on a cluster.
    pub command_us_per_shopper: Option<f64>,
    pub sale_node_command_us_per_shopper: Option<f64>,
    pub other_node_command_us_per_shopper: Option<f64>,
    /// The commands that ran longest on the sale's node beyond the other
    /// nodes' mean, in µs per shopper.
    pub sale_node_beyond_others: Vec<(String, f64)>,
}

impl LineReport {
    /// The report of round `number` of sale `sale_id`, with Redis' use since
    /// `redis_before` split by node (and the sale's node's share of the line's
    /// shards, on a cluster); says both on stderr.
    pub async fn measure(
        rig: &Rig,
        (sale_id, number): (i64, usize),
        outcomes: &[Outcome],
        (buys, won): (u64, usize),
        sold_out_ms: Option<f64>,
        redis_before: Option<Vec<(String, NodeUse)>>,
    ) -> Self {
        let mut redis = rig.redis.clone();
        let sale_node = node_of(&mut redis, &rig.keys.stock(sale_id)).await;
        if sale_node.as_deref().is_some_and(|node| !node.is_empty()) {
            let mut shards_there = 0;
            for shard in 0..LINE_SHARDS {
                let key = rig.keys.line_entries(sale_id, shard);
                if node_of(&mut redis, &key).await == sale_node {
                    shards_there += 1;
                }
            }
            eprintln!(
                "[spike {number}] the sale's node holds {shards_there} of the line's {LINE_SHARDS} shards"
            );
        }
        let used = redis_use(&mut redis)
            .await
            .zip(redis_before)
            .map(|(after, before)| round_use(&before, &after, sale_node.as_deref()));
        let report = Self::new(outcomes, (buys, won), sold_out_ms, used);
        eprintln!("[spike {number}] {}", report.line());
        if !report.sale_node_beyond_others.is_empty() {
            eprintln!(
                "[spike {number}] commands on the sale's node beyond the others' mean, µs per shopper: {:?}",
                report.sale_node_beyond_others
            );
        }
        report
    }

    fn new(
        outcomes: &[Outcome],
        (buys, won): (u64, usize),
        sold_out_ms: Option<f64>,
        redis_use: Option<RoundUse>,
    ) -> Self {
        let per_shopper = |value: f64| value / outcomes.len().max(1) as f64;
        let all = redis_use.as_ref().map(|used| &used.all);
        let sale = redis_use.as_ref().and_then(|used| used.sale_node.as_ref());
        let others = redis_use
            .as_ref()
            .and_then(|used| used.other_nodes_mean.as_ref());
        let visits: Vec<&LineVisit> = outcomes.iter().filter_map(|o| o.line.as_ref()).collect();
        let early: Vec<&&LineVisit> = visits.iter().filter(|v| v.before_start).collect();
        let admitted_early: Vec<(f64, f64)> = early
            .iter()
            .filter_map(|v| Some((v.joined_ms as f64, v.admitted_ms?)))
            .collect();
        let placed: Vec<(f64, f64)> = early
            .iter()
            .filter_map(|v| Some((v.joined_ms as f64, v.place? as f64)))
            .collect();
        let polls: u64 = visits.iter().map(|v| u64::from(v.polls)).sum();
        Self {
            joined_before_start: early.len(),
            joined_after_start: visits.len() - early.len(),
            admitted: visits.iter().filter(|v| v.admitted_ms.is_some()).count(),
            rank_correlation: (placed.len() >= 3).then(|| systests::spearman(&placed)),
            placed: placed.len(),
            admitted_rank_correlation: (admitted_early.len() >= 3)
                .then(|| systests::spearman(&admitted_early)),
            polls_per_shopper: polls as f64 / visits.len().max(1) as f64,
            buys_per_unit: (won > 0).then(|| buys as f64 / won as f64),
            sold_out_ms,
            redis_us_per_shopper: all.map(|node| per_shopper(node.cpu_secs * 1e6)),
            sale_node_us_per_shopper: sale.map(|node| per_shopper(node.cpu_secs * 1e6)),
            command_us_per_shopper: all.map(|node| per_shopper(node.command_us)),
            sale_node_command_us_per_shopper: sale.map(|node| per_shopper(node.command_us)),
            other_node_command_us_per_shopper: others.map(|node| per_shopper(node.command_us)),
            sale_node_beyond_others: sale
                .zip(others)
                .map(|(sale, others)| sale.most_beyond(others, 6))
                .unwrap_or_default()
                .into_iter()
                .map(|(command, usec)| (command, per_shopper(usec)))
                .collect(),
        }
    }

    pub fn line(&self) -> String {
        format!(
            "line: {} joined before the start, {} after; {} let in; rank correlation of joining and drawn place {} ({} placed), of joining and admission {}; {:.1} polls a shopper; {} buy requests per unit sold; sold out {} after the start; Redis CPU {} per shopper, {} of it on the sale's node; Redis commands {} per shopper, {} on the sale's node, {} on each other node",
            self.joined_before_start,
            self.joined_after_start,
            self.admitted,
            self.rank_correlation
                .map_or("-".to_owned(), |rho| format!("{rho:+.3}")),
            self.placed,
            self.admitted_rank_correlation
                .map_or("-".to_owned(), |rho| format!("{rho:+.3}")),
            self.polls_per_shopper,
            self.buys_per_unit
                .map_or("-".to_owned(), |per| format!("{per:.2}")),
            self.sold_out_ms
                .map_or("-".to_owned(), |ms| format!("{:.2} s", ms / 1000.0)),
            self.redis_us_per_shopper
                .map_or("-".to_owned(), |us| format!("{us:.1} µs")),
            self.sale_node_us_per_shopper
                .map_or("-".to_owned(), |us| format!("{us:.1} µs")),
            self.command_us_per_shopper
                .map_or("-".to_owned(), |us| format!("{us:.1} µs")),
            self.sale_node_command_us_per_shopper
                .map_or("-".to_owned(), |us| format!("{us:.1} µs")),
            self.other_node_command_us_per_shopper
                .map_or("-".to_owned(), |us| format!("{us:.1} µs")),
        )
    }
}

/// What one Redis master has spent so far: CPU seconds (user + system) and
/// the microseconds its commands ran (`INFO commandstats`: no I/O, no idle).
#[derive(Clone, Debug, Default)]
pub struct NodeUse {
    pub cpu_secs: f64,
    pub command_us: f64,
    /// Of `command_us`, each command's (`hget` → µs).
    pub by_command: std::collections::BTreeMap<String, f64>,
}

/// Each Redis master's [`NodeUse`], by node.
pub async fn redis_use(
    redis: &mut server::redis_connection::RedisConnection,
) -> Option<Vec<(String, NodeUse)>> {
    let infos: Vec<(String, String)> = redis
        .on_every_master(redis::cmd("INFO").arg("cpu").arg("commandstats"))
        .await
        .ok()?;
    let mut nodes = Vec::new();
    for (node, info) in infos {
        let mut spent = NodeUse::default();
        for line in info.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key == "used_cpu_user" || key == "used_cpu_sys" {
                spent.cpu_secs += value.trim().parse::<f64>().ok()?;
            } else if key.starts_with("cmdstat_") {
                let usec = value
                    .split(',')
                    .find_map(|field| field.strip_prefix("usec="))
                    .and_then(|usec| usec.parse::<f64>().ok())
                    .unwrap_or(0.0);
                spent.command_us += usec;
                spent
                    .by_command
                    .insert(key.trim_start_matches("cmdstat_").to_owned(), usec);
            }
        }
        nodes.push((node, spent));
    }
    nodes.sort_by(|a, b| a.0.cmp(&b.0));
    Some(nodes)
}

/// The master that holds `key` ("" on a single server): the one whose
/// `CLUSTER COUNTKEYSINSLOT` of the key's slot is not zero.
pub async fn node_of(
    redis: &mut server::redis_connection::RedisConnection,
    key: &str,
) -> Option<String> {
    if matches!(redis, server::redis_connection::RedisConnection::Node(_)) {
        return Some(String::new());
    }
    let slot: i64 = redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query_async(redis)
        .await
        .ok()?;
    let counts: Vec<(String, i64)> = redis
        .on_every_master(redis::cmd("CLUSTER").arg("COUNTKEYSINSLOT").arg(slot))
        .await
        .ok()?;
    counts
        .into_iter()
        .find(|(_, count)| *count > 0)
        .map(|(node, _)| node)
}

/// What Redis spent over a round: every master's together, the sale's
/// master, and the mean of the others (`None` on one server).
#[derive(Clone, Debug, Default)]
pub struct RoundUse {
    pub all: NodeUse,
    pub sale_node: Option<NodeUse>,
    pub other_nodes_mean: Option<NodeUse>,
}

impl NodeUse {
    /// `self` + `weight` × `other`, command by command (−1: what was spent
    /// since `other`; 1 / n of a sum: the mean).
    fn add(&self, other: &NodeUse, weight: f64) -> NodeUse {
        let mut by_command = self.by_command.clone();
        for (command, usec) in &other.by_command {
            *by_command.entry(command.clone()).or_default() += weight * usec;
        }
        NodeUse {
            cpu_secs: self.cpu_secs + weight * other.cpu_secs,
            command_us: self.command_us + weight * other.command_us,
            by_command,
        }
    }

    /// The commands that took the most more time here than in `other`.
    pub fn most_beyond(&self, other: &NodeUse, count: usize) -> Vec<(String, f64)> {
        let mut beyond: Vec<(String, f64)> = self
            .by_command
            .iter()
            .map(|(command, usec)| {
                let there = other.by_command.get(command).copied().unwrap_or(0.0);
                (command.clone(), usec - there)
            })
            .collect();
        beyond.sort_by(|a, b| b.1.total_cmp(&a.1));
        beyond.truncate(count);
        beyond
    }
}

/// [`RoundUse`] from readings of [`redis_use`] before and after.
pub fn round_use(
    before: &[(String, NodeUse)],
    after: &[(String, NodeUse)],
    sale_node: Option<&str>,
) -> RoundUse {
    let spent: Vec<(&str, NodeUse)> = after
        .iter()
        .map(|(node, now)| {
            let was = before
                .iter()
                .find(|(name, _)| name == node)
                .map(|(_, was)| was.clone())
                .unwrap_or_default();
            (node.as_str(), now.add(&was, -1.0))
        })
        .collect();
    let all = spent
        .iter()
        .fold(NodeUse::default(), |total, (_, node)| total.add(node, 1.0));
    let others: Vec<&NodeUse> = spent
        .iter()
        .filter(|(node, _)| Some(*node) != sale_node)
        .map(|(_, spent)| spent)
        .collect();
    let other_nodes_mean = (spent.len() > 1 && !others.is_empty()).then(|| {
        let total = others
            .iter()
            .fold(NodeUse::default(), |total, node| total.add(node, 1.0));
        NodeUse::default().add(&total, 1.0 / others.len() as f64)
    });
    RoundUse {
        all,
        sale_node: sale_node.and_then(|sale_node| {
            spent
                .iter()
                .find(|(node, _)| *node == sale_node)
                .map(|(_, spent)| spent.clone())
        }),
        other_nodes_mean,
    }
}
