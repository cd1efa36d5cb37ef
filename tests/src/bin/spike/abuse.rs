//! `spike abuse`: the opening of a sale twice on one server — the ordinary crowd
//! alone, then the same crowd beside one attacker — and what the ordinary
//! shoppers kept (#25).
//!
//! The attacker is one machine behind one address, as our proxy sees it, that
//! writes a made-up address before it in every `X-Forwarded-For`; it registers
//! as many accounts as it can before the sale, buys with every one of them the
//! instant the sale opens (fastest first: they are not paced like the crowd),
//! and floods the log-in with wrong passwords for the shoppers' names the whole
//! time. The run fails when the books do not balance in either round, when the
//! ordinary shoppers won less than [`LEAST_SHARE_KEPT`] of what they won
//! alone, or when the attacker made more accounts than one address may.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::args::Options;
use crate::drill::crowd_with;
use crate::rig::{Rig, ShopperId};
use crate::shopper::Outcome;
use crate::{check, open_sale, spawn_crowd};

/// Where every request of the attacker comes from (what our proxy appends).
const ATTACKER_ADDRESS: &str = "10.250.0.1";
/// What the ordinary shoppers must keep of their wins, with the attacker
/// against without.
const LEAST_SHARE_KEPT: f64 = 0.9;
/// Registrations one address gets at once (`FLASHSALE_RATE_REGISTER_PER_IP`'s
/// default burst), plus one for the minute the run may take.
const MOST_ACCOUNTS_FOR_ONE_ADDRESS: usize = 6;

/// What `spike abuse` is asked for.
#[derive(Debug)]
pub struct AbuseOptions {
    pub sale: Options,
    /// Accounts the attacker tries to register.
    pub accounts: u32,
    /// Log-in requests the attacker keeps in flight.
    pub flooders: usize,
}

/// One round: the sale, what the crowd and the attacker won, the books.
struct Played {
    ordinary_won: usize,
    attacker_won: usize,
    broken: Vec<String>,
}

pub async fn run(options: AbuseOptions) -> Result<bool, String> {
    let rig = Rig::prepare(&options.sale).await?;
    let result = play(&rig, &options).await;
    rig.tear_down(options.sale.keep).await;
    let broken = result?;
    for line in &broken {
        eprintln!("[spike abuse] BROKEN: {line}");
    }
    Ok(broken.is_empty())
}

async fn play(rig: &Rig, options: &AbuseOptions) -> Result<Vec<String>, String> {
    let alone = round(rig, &options.sale, 1, &[]).await?;
    let attacker = Attacker {
        client: rig.client.clone(),
        base_url: rig.base_url.clone(),
        run_id: rig.run_id.clone(),
    };
    let accounts = attacker.register(options.accounts).await;
    let flood = attacker.flood_log_ins(options.flooders, &rig.shoppers);
    let attacked = round(rig, &options.sale, 2, &accounts).await;
    let log_ins = flood.stop().await;
    let attacked = attacked?;

    let shoppers = options.sale.shoppers as f64;
    let kept = if alone.ordinary_won == 0 {
        1.0
    } else {
        attacked.ordinary_won as f64 / alone.ordinary_won as f64
    };
    println!("| | the crowd alone | beside the attacker |");
    println!("| --- | --- | --- |");
    println!(
        "| ordinary shoppers who won | {} of {} ({:.2} %) | {} ({:.2} %; {:.0} % of alone) |",
        alone.ordinary_won,
        options.sale.shoppers,
        100.0 * alone.ordinary_won as f64 / shoppers,
        attacked.ordinary_won,
        100.0 * attacked.ordinary_won as f64 / shoppers,
        100.0 * kept
    );
    println!(
        "| attacker's accounts (tried {}, one address, forged X-Forwarded-For) | — | {} |",
        options.accounts,
        accounts.len()
    );
    println!("| units the attacker won | — | {} |", attacked.attacker_won);
    println!(
        "| log-in flood ({} in flight): wrong password 401 / refused 429 / busy 503 / other | — | {} / {} / {} / {} |",
        options.flooders, log_ins[0], log_ins[1], log_ins[2], log_ins[3]
    );
    let mut broken: Vec<String> = alone
        .broken
        .into_iter()
        .map(|line| format!("alone: {line}"))
        .chain(
            attacked
                .broken
                .into_iter()
                .map(|line| format!("beside the attacker: {line}")),
        )
        .collect();
    if kept < LEAST_SHARE_KEPT {
        broken.push(format!(
            "the ordinary shoppers won {} units beside the attacker, {} alone: under {:.0} %",
            attacked.ordinary_won,
            alone.ordinary_won,
            100.0 * LEAST_SHARE_KEPT
        ));
    }
    if accounts.len() > MOST_ACCOUNTS_FOR_ONE_ADDRESS {
        broken.push(format!(
            "one address registered {} accounts (at most {MOST_ACCOUNTS_FOR_ONE_ADDRESS})",
            accounts.len()
        ));
    }
    Ok(broken)
}

/// A sale opened to the crowd and, at its first instant, to `scripts`.
async fn round(
    rig: &Rig,
    options: &Options,
    number: usize,
    scripts: &[ShopperId],
) -> Result<Played, String> {
    let (sale, start, context, rows) = open_sale(rig, options, number).await?;
    // The scripts all at the opening instant, the crowd paced beside them.
    let crowd = spawn_crowd(
        rig,
        &context,
        start,
        |context, shopper, arrival| async move { context.shop(&shopper, arrival).await },
    );
    let (attacks, crowd) = crowd_with(&context, scripts, start, crowd).await?;
    let won = |outcomes: &[Outcome]| outcomes.iter().map(|o| o.orders.len()).sum::<usize>();
    let mut endings: std::collections::BTreeMap<&str, usize> = Default::default();
    for attack in &attacks {
        *endings.entry(attack.last.as_str()).or_default() += 1;
    }
    if !attacks.is_empty() {
        eprintln!("[spike abuse {number}] the attacker's accounts ended with {endings:?}");
    }
    let (ordinary_won, attacker_won) = (won(&crowd), won(&attacks));
    rows.until(ordinary_won + attacker_won).await?;
    let everyone: Vec<Outcome> = crowd.into_iter().chain(attacks).collect();
    let demand = (i64::from(options.shoppers) + scripts.len() as i64) * i64::from(options.limit);
    let (books, broken) = check::check_sale(rig, &sale, &everyone, demand).await?;
    eprintln!(
        "[spike abuse {number}] sale {}: {ordinary_won} units to the crowd, {attacker_won} to the attacker, {} rows, drift {}",
        sale.id, books.order_rows, books.drift
    );
    Ok(Played {
        ordinary_won,
        attacker_won,
        broken,
    })
}

/// The one machine.
struct Attacker {
    client: reqwest::Client,
    base_url: String,
    run_id: String,
}

/// A made-up address for the left of `X-Forwarded-For`, then the real one.
fn forged_forwarded_for(n: u64) -> String {
    format!(
        "{}.{}.{}.{}, {ATTACKER_ADDRESS}",
        1 + n % 223,
        (n / 223) % 256,
        (n / 57_089) % 256,
        1 + n % 254
    )
}

impl Attacker {
    /// Registers up to `accounts` accounts, 16 requests in flight; the ones it
    /// got, as shoppers behind the attacker's address.
    async fn register(&self, accounts: u32) -> Vec<ShopperId> {
        let next = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..16)
            .map(|_| {
                let (client, base_url, run_id, next) = (
                    self.client.clone(),
                    self.base_url.clone(),
                    self.run_id.clone(),
                    next.clone(),
                );
                tokio::spawn(async move {
                    let mut made = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= u64::from(accounts) {
                            return made;
                        }
                        let forwarded = forged_forwarded_for(n);
                        let answer = client
                            .post(format!("{base_url}/api/auth/register"))
                            .header("origin", &base_url)
                            .header("x-forwarded-for", &forwarded)
                            .json(&serde_json::json!({
                                "username": format!("x{run_id}-{n}"),
                                "password": "attacker-password-1",
                            }))
                            .send()
                            .await;
                        let Ok(response) = answer else { continue };
                        if response.status() != 201 {
                            continue;
                        }
                        let cookie = response
                            .headers()
                            .get("set-cookie")
                            .and_then(|value| value.to_str().ok())
                            .and_then(|value| value.split(';').next())
                            .map(str::to_owned);
                        let account = response.json::<app::api::Account>().await;
                        if let (Some(cookie), Ok(account)) = (cookie, account) {
                            made.push(ShopperId {
                                index: 1_000_000 + n as u32,
                                user_id: account.user_id,
                                cookie,
                                ip: forwarded,
                            });
                        }
                    }
                })
            })
            .collect();
        let mut made = Vec::new();
        for worker in workers {
            made.extend(worker.await.unwrap_or_default());
        }
        made
    }

    /// Keeps `flooders` wrong-password log-ins in flight for the shoppers' names
    /// until stopped.
    fn flood_log_ins(&self, flooders: usize, shoppers: &[ShopperId]) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
        let names: Arc<Vec<String>> = Arc::new(
            shoppers
                .iter()
                .map(|shopper| format!("s{}-{}", self.run_id, shopper.index + 1))
                .collect(),
        );
        let next = Arc::new(AtomicU64::new(0));
        let workers = (0..flooders)
            .map(|_| {
                let (client, base_url) = (self.client.clone(), self.base_url.clone());
                let (stop, counts, names, next) =
                    (stop.clone(), counts.clone(), names.clone(), next.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let name = &names[n as usize % names.len().max(1)];
                        let answer = client
                            .post(format!("{base_url}/api/auth/login"))
                            .header("origin", &base_url)
                            .header("x-forwarded-for", forged_forwarded_for(n))
                            .json(&serde_json::json!({ "username": name, "password": "guess-123456" }))
                            .send()
                            .await;
                        let slot = match answer.map(|response| response.status().as_u16()) {
                            Ok(401) => 0,
                            Ok(429) => 1,
                            Ok(503) => 2,
                            _ => 3,
                        };
                        counts[slot].fetch_add(1, Ordering::Relaxed);
                        if slot != 0 {
                            // A refused flooder comes back at once: that is the attack.
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        Flood {
            stop,
            counts,
            workers,
        }
    }
}

/// The log-in flood, running.
struct Flood {
    stop: Arc<AtomicBool>,
    counts: Arc<[AtomicU64; 4]>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Flood {
    /// Stops it; the answers it got: 401, 429, 503, anything else.
    async fn stop(self) -> [u64; 4] {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            let _ = worker.await;
        }
        [0, 1, 2, 3].map(|slot| self.counts[slot].load(Ordering::Relaxed))
    }
}
