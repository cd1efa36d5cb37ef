//! The expiry sweeper: unpaid orders past their deadline become `expired`, and
//! the units of every expired or cancelled order go back to Redis exactly once.
//! Once a sale is settled (payment window closed, nothing unpaid or owed), its
//! Redis keys are given an expiry, so Redis does not grow with every sale ever
//! held.
//!
//! Two steps, each safe with many instances (`FOR UPDATE SKIP LOCKED`) and with a
//! crash between them: (1) mark orders expired; (2) for closed orders whose units
//! are not yet back, run the idempotent return script, then record
//! `stock_returned`. A crash after the script and before the record only makes the
//! next sweep run the script again, which then does nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::sales::rebuild::SaleRebuild;
use crate::sales::stock::{Returned, ReturnedBy, SaleStock};
use crate::shutdown::Shutdown;
use crate::store::{error_chain, StoreError};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// How many orders one step handles per transaction.
const BATCH: i64 = 500;

/// How often settled sales are looked for (their keys retired).
const RETIRE_EVERY: Duration = Duration::from_secs(60);

/// How long a settled sale's keys stay in Redis (the admin's live numbers),
/// counted from when the sweeper found it settled.
pub const RETIRED_LINGER: Duration = Duration::from_secs(24 * 3600);

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Orders that became expired.
    pub expired: u64,
    /// Orders whose units went back to Redis in this sweep.
    pub returned: u64,
}

/// Expires unpaid orders and returns units.
#[derive(Clone)]
pub struct ExpirySweeper {
    db: PgPool,
    stock: SaleStock,
    rebuild: SaleRebuild,
    clock: Arc<dyn Clock>,
}

impl ExpirySweeper {
    pub fn new(db: PgPool, stock: SaleStock, clock: Arc<dyn Clock>) -> Self {
        Self {
            rebuild: SaleRebuild::new(db.clone(), stock.clone()),
            db,
            stock,
            clock,
        }
    }

    /// One full sweep: expire everything overdue, then return what is owed.
    pub async fn sweep_once(&self) -> Result<SweepOutcome, StoreError> {
        let now = DateTime::<Utc>::from_timestamp_millis(self.clock.now_ms())
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut outcome = SweepOutcome::default();
        loop {
            let expired = sqlx::query!(
                "update orders set status = 'expired', closed_at = $1
                 where id in (
                     select id from orders
                     where status = 'pending_payment' and pay_before <= $1
                     order by pay_before
                     limit $2
                     for update skip locked)",
                now,
                BATCH
            )
            .execute(&self.db)
            .await?
            .rows_affected();
            outcome.expired += expired;
            if expired < BATCH as u64 {
                break;
            }
        }
        outcome.returned = self.return_units().await?;
        Ok(outcome)
    }

    /// Lets the Redis keys of settled sales expire: sales whose payment window
    /// has closed (ended in the last 30 days) with no order unpaid and no unit
    /// owed back. Returns how many sales it looked at and retired.
    pub async fn retire_settled(&self) -> Result<u64, StoreError> {
        let now = DateTime::<Utc>::from_timestamp_millis(self.clock.now_ms())
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let settled = sqlx::query_scalar!(
            "select s.id from sales s
             where s.ends_at + make_interval(secs => s.payment_window_secs) <= $1
               and s.ends_at > $1 - interval '30 days'
               and not exists (
                   select 1 from orders o
                   where o.sale_id = s.id
                     and (o.status = 'pending_payment'
                          or (o.status in ('expired', 'cancelled') and not o.stock_returned)))",
            now
        )
        .fetch_all(&self.db)
        .await?;
        let mut retired = 0;
        for sale_id in settled {
            if self.stock.retire(sale_id, RETIRED_LINGER).await? {
                retired += 1;
            }
        }
        Ok(retired)
    }

    /// Sweeps every `every` until `shutdown` is requested.
    pub async fn run(self, every: Duration, mut shutdown: Shutdown) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut retiring = tokio::time::interval(RETIRE_EVERY);
        retiring.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = retiring.tick() => {
                    if let Err(error) = self.retire_settled().await {
                        tracing::warn!(error = %error_chain(&error), "retiring settled sales failed");
                    }
                }
                _ = ticker.tick() => {
                    match self.sweep_once().await {
                        Ok(outcome) if outcome != SweepOutcome::default() => {
                            tracing::info!(expired = outcome.expired, returned = outcome.returned, "expiry sweep");
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(error = %error_chain(&error), "expiry sweep failed"),
                    }
                }
                () = shutdown.requested() => break,
            }
        }
    }
}

impl ExpirySweeper {
    /// Returns the units of closed orders not yet returned, [`BATCH`] per
    /// transaction; rebuilds a sale Redis has lost first. Returns how many orders
    /// gave their units back now.
    async fn return_units(&self) -> Result<u64, StoreError> {
        let mut returned = 0;
        loop {
            let mut tx = self.db.begin().await?;
            let owed = sqlx::query!(
                "select id, sale_id, user_id, units from orders
                 where status in ('expired', 'cancelled') and not stock_returned
                 limit $1
                 for update skip locked",
                BATCH
            )
            .fetch_all(&mut *tx)
            .await?;
            if owed.is_empty() {
                return Ok(returned);
            }
            let mut ids = Vec::with_capacity(owed.len());
            for order in &owed {
                let give_back = || {
                    self.stock.give_back(
                        order.sale_id,
                        &order.id,
                        order.user_id,
                        order.units,
                        ReturnedBy::Buyer,
                    )
                };
                let mut outcome = give_back().await?;
                if outcome == Returned::SaleMissing {
                    // The rebuild counts this order's units as still held.
                    self.rebuild.rebuild_id(order.sale_id).await?;
                    outcome = give_back().await?;
                }
                match outcome {
                    Returned::Now => returned += 1,
                    Returned::Before => {}
                    Returned::SaleMissing => continue,
                }
                ids.push(order.id.clone());
            }
            sqlx::query!(
                "update orders set stock_returned = true where id = any($1)",
                &ids
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if (owed.len() as i64) < BATCH {
                return Ok(returned);
            }
        }
    }
}
