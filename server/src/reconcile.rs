//! Reconciliation: does Redis agree with Postgres about a sale? Once the queues
//! have drained, stock left + units of active orders (queued, pending payment,
//! paid) + units owed back by closed orders = the sale's stock. Anything else is
//! drift, and an admin must look.

use app::api::Sale;
use serde::Serialize;
use sqlx::PgPool;

use crate::catalog::StoreError;
use crate::stock::SaleStock;

/// Both sides of the books of one sale.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub stock: i64,
    /// Redis: units left to sell.
    pub stock_left: i64,
    /// Redis: units reserved, not yet persisted.
    pub queued_units: i64,
    /// Redis: units held per buyer, summed (should equal queued + active + owed).
    pub buyer_units: i64,
    /// Postgres: units in orders waiting for payment.
    pub pending_units: i64,
    /// Postgres: units in paid orders.
    pub paid_units: i64,
    /// Postgres: units of expired/cancelled orders not yet back in Redis.
    pub owed_units: i64,
    /// `stock - stock_left - queued - pending - paid - owed`; 0 when the books agree.
    pub drift: i64,
}

/// Compares Redis and Postgres for `sale`.
pub async fn reconcile(
    db: &PgPool,
    stock: &SaleStock,
    sale: &Sale,
) -> Result<Reconciliation, StoreError> {
    let redis_side = stock.books(sale.id).await?;
    let units = sqlx::query!(
        r#"select
             coalesce(sum(units) filter (where status = 'pending_payment'), 0)::int8 as "pending!",
             coalesce(sum(units) filter (where status = 'paid'), 0)::int8 as "paid!",
             coalesce(sum(units) filter (where status in ('expired', 'cancelled') and not stock_returned), 0)::int8
                 as "owed!"
           from orders where sale_id = $1"#,
        sale.id
    )
    .fetch_one(db)
    .await?;
    let stock_total = i64::from(sale.stock);
    let stock_left = redis_side.stock_left.unwrap_or(stock_total);
    Ok(Reconciliation {
        stock: stock_total,
        stock_left,
        queued_units: redis_side.queued_units,
        buyer_units: redis_side.buyer_units,
        pending_units: units.pending,
        paid_units: units.paid,
        owed_units: units.owed,
        drift: stock_total
            - stock_left
            - redis_side.queued_units
            - units.pending
            - units.paid
            - units.owed,
    })
}
