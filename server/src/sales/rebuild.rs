//! Rebuilding a sale in Redis from Postgres after Redis lost its data (restarted
//! empty, or failed over to a replica that missed writes). Postgres has every
//! persisted order; from them follow the units each buyer holds (active orders,
//! and closed ones whose units are not back yet), each buyer's highest sequence
//! number, and so the stock left. One script (`lua/rebuild.lua`) writes the whole
//! sale, or nothing when it is there already, so many instances noticing the
//! loss at once rebuild it once.
//!
//! What Redis alone held — reservations not yet persisted — cannot come back:
//! that is why production runs Redis with `appendfsync always` (OPERATIONS.md).

use app::api::Sale;
use sqlx::PgPool;

use super::records::SaleRecords;
use super::stock::{Holding, SaleStock};
use crate::store::StoreError;

/// Rebuilds lost sales.
#[derive(Clone)]
pub struct SaleRebuild {
    db: PgPool,
    records: SaleRecords,
    stock: SaleStock,
}

impl SaleRebuild {
    pub fn new(db: PgPool, stock: SaleStock) -> Self {
        Self {
            records: SaleRecords::new(db.clone()),
            db,
            stock,
        }
    }

    /// Rebuilds sale `sale_id` if Redis lost it; `true` if this call rebuilt it.
    pub async fn rebuild_id(&self, sale_id: i64) -> Result<bool, StoreError> {
        match self.records.find(sale_id).await? {
            Some(sale) => self.rebuild(&sale).await,
            None => Ok(false),
        }
    }

    /// Rebuilds `sale` if Redis lost it; `true` if this call rebuilt it.
    pub async fn rebuild(&self, sale: &Sale) -> Result<bool, StoreError> {
        let holdings = sqlx::query_as!(
            Holding,
            r#"select user_id,
                      coalesce(sum(units) filter (
                          where status in ('pending_payment', 'paid')
                             or (status in ('expired', 'cancelled') and not stock_returned)
                      ), 0)::int8 as "units!",
                      max(seq)::int8 as "seq!",
                      (extract(epoch from max(closed_at) filter (
                          where status in ('expired', 'cancelled')
                      )) * 1000)::int8 as released_ms
               from orders where sale_id = $1
               group by user_id"#,
            sale.id
        )
        .fetch_all(&self.db)
        .await?;
        let held: i64 = holdings.iter().map(|holding| holding.units).sum();
        let stock_left = i64::from(sale.stock) - held;
        let rebuilt = self.stock.rebuild(sale, stock_left, &holdings).await?;
        if rebuilt {
            tracing::warn!(
                sale_id = sale.id,
                stock_left,
                buyers = holdings.len(),
                "Redis had lost this sale: rebuilt it from Postgres"
            );
        }
        Ok(rebuilt)
    }
}
