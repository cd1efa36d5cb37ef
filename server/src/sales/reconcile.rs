//! Reconciliation: does Redis agree with Postgres about a sale? Once the queues
//! have drained, stock left + units of active orders (queued, pending payment,
//! paid) + units owed back by closed orders = the sale's stock. Anything else is
//! drift, and an admin must look.

use app::api::Sale;
use sqlx::PgPool;

use super::stock::SaleStock;
use crate::store::StoreError;

/// Both sides of the books of one sale (the wire type lives in `app`).
pub use app::api::Reconciliation;

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
