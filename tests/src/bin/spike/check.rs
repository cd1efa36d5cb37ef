//! After the spike: wait for the queue to drain, then check from Postgres and
//! Redis directly what a merchant and the shoppers were promised.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::api::Sale;
use serde::Serialize;
use sqlx::PgPool;

use crate::rig::Rig;
use crate::shopper::Outcome;

/// Counts a sale's order rows every few milliseconds from the opening instant,
/// so the moment the last row appeared is known, not guessed afterwards.
pub struct RowWatch {
    stop: Arc<AtomicBool>,
    /// Each change of the count, with when it was seen since the opening instant.
    samples: Arc<Mutex<Vec<(Duration, i64)>>>,
}

impl RowWatch {
    pub fn start(db: PgPool, sale_id: i64, start: Instant) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stopped, seen) = (stop.clone(), samples.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(start.into()).await;
            let mut last = -1;
            while !stopped.load(Ordering::Relaxed) {
                let counted: Result<(i64,), _> =
                    sqlx::query_as("select count(*) from orders where sale_id = $1")
                        .bind(sale_id)
                        .fetch_one(&db)
                        .await;
                if let Ok((rows,)) = counted {
                    if rows != last {
                        seen.lock()
                            .expect("not poisoned")
                            .push((start.elapsed(), rows));
                        last = rows;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        Self { stop, samples }
    }

    /// Waits until `expected` rows exist; returns when they first did, since the
    /// opening instant.
    pub async fn until(self, expected: usize) -> Result<Duration, String> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let reached = loop {
            let (reached, rows) = {
                let samples = self.samples.lock().expect("not poisoned");
                (
                    samples
                        .iter()
                        .find(|(_, rows)| *rows as usize >= expected)
                        .map(|(at, _)| *at),
                    samples.last().map_or(0, |(_, rows)| *rows),
                )
            };
            if let Some(at) = reached {
                break Ok(at);
            }
            if Instant::now() > deadline {
                break Err(format!(
                    "only {rows} of {expected} orders were persisted within 120 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.stop.store(true, Ordering::Relaxed);
        reached
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Books {
    pub order_rows: usize,
    pub units_sold: i64,
    pub stock_left_in_redis: Option<i64>,
    pub paid_rows: usize,
    pub most_units_one_shopper: i64,
    pub drift: i64,
}

/// Every promise of the sale, checked; each broken one is a line in the answer.
pub async fn check_sale(
    rig: &Rig,
    sale: &Sale,
    outcomes: &[Outcome],
    demand_units: i64,
) -> Result<(Books, Vec<String>), String> {
    let rows: Vec<(String, i64, i32, String)> =
        sqlx::query_as("select id, user_id, units, status from orders where sale_id = $1")
            .bind(sale.id)
            .fetch_all(&rig.db)
            .await
            .map_err(|error| error.to_string())?;
    let reconciliation = server::sales::reconcile::reconcile(&rig.db, &rig.stock(), sale)
        .await
        .map_err(|error| error.to_string())?;
    let mut per_user: HashMap<i64, i64> = HashMap::new();
    for (_, user_id, units, _) in &rows {
        *per_user.entry(*user_id).or_default() += i64::from(*units);
    }
    let books = Books {
        order_rows: rows.len(),
        units_sold: rows.iter().map(|row| i64::from(row.2)).sum(),
        stock_left_in_redis: Some(reconciliation.stock_left),
        paid_rows: rows.iter().filter(|row| row.3 == "paid").count(),
        most_units_one_shopper: per_user.values().copied().max().unwrap_or(0),
        drift: reconciliation.drift,
    };
    let stock = i64::from(sale.stock);
    let mut broken = Vec::new();
    let answered: HashSet<&str> = outcomes
        .iter()
        .flat_map(|outcome| outcome.orders.iter().map(String::as_str))
        .collect();
    let stored: HashSet<&str> = rows.iter().map(|row| row.0.as_str()).collect();
    let lost = answered.difference(&stored).count();
    if lost > 0 {
        broken.push(format!(
            "{lost} orders answered 202 have no row in Postgres"
        ));
    }
    let unknown = stored.difference(&answered).count();
    if unknown > 0 {
        broken.push(format!(
            "{unknown} order rows were never answered 202 to anyone"
        ));
    }
    if books.units_sold > stock {
        broken.push(format!("oversold: {} units of {stock}", books.units_sold));
    }
    if demand_units >= stock && books.units_sold < stock {
        broken.push(format!(
            "undersold: {} units of {stock} with demand for {demand_units}",
            books.units_sold
        ));
    }
    if books.most_units_one_shopper > i64::from(sale.per_user_limit) {
        broken.push(format!(
            "a shopper holds {} units, the limit is {}",
            books.most_units_one_shopper, sale.per_user_limit
        ));
    }
    if reconciliation.stock_left != stock - books.units_sold {
        broken.push(format!(
            "Redis says {} left, Postgres says {} sold of {stock}",
            reconciliation.stock_left, books.units_sold
        ));
    }
    if books.drift != 0 {
        broken.push(format!("drift {} between Redis and Postgres", books.drift));
    }
    let paid: u32 = outcomes.iter().map(|outcome| outcome.paid).sum();
    if paid as usize != books.paid_rows {
        broken.push(format!(
            "{paid} payments answered 200, {} rows are paid",
            books.paid_rows
        ));
    }
    broken.extend(failures(outcomes));
    Ok((books, broken))
}

/// The baseline's books: correct, only slow.
pub async fn check_naive(
    rig: &Rig,
    sale_id: i64,
    stock: i32,
    outcomes: &[Outcome],
) -> Result<(Books, Vec<String>), String> {
    let (rows, left) = crate::naive::books(&rig.db, sale_id).await?;
    let won = outcomes
        .iter()
        .map(|outcome| outcome.orders.len())
        .sum::<usize>() as i64;
    let mut broken = Vec::new();
    if rows != won || rows + left != i64::from(stock) || rows > i64::from(stock) {
        broken.push(format!(
            "naive books: {won} answered 202, {rows} rows, {left} left of {stock}"
        ));
    }
    broken.extend(failures(outcomes));
    Ok((
        Books {
            order_rows: rows as usize,
            units_sold: rows,
            ..Books::default()
        },
        broken,
    ))
}

/// Shoppers who saw an answer no shopper should see.
pub fn failures(outcomes: &[Outcome]) -> Vec<String> {
    let failed: Vec<&String> = outcomes
        .iter()
        .filter_map(|outcome| outcome.failure.as_ref())
        .collect();
    match failed.first() {
        None => Vec::new(),
        Some(first) => vec![format!(
            "{} shoppers saw failures, the first: {first}",
            failed.len()
        )],
    }
}
