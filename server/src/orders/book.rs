//! The order book: orders as their buyers see them — queued in Redis until the
//! consumer persists them, then rows in Postgres — and paying, cancelling, and
//! the inserts of the consumer. All SQL about orders lives here.

use std::sync::Arc;

use crate::redis_connection::RedisConnection;
use app::api::{Order, OrderStatus, SaleOrder};
use app::money::Currency;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::id::OrderId;
use super::message::{OrderMessage, QueuedEntry};
use crate::clock::Clock;
use crate::sales::stock::{Returned, ReturnedBy, SaleStock};
use crate::store::StoreError;

/// Why paying or cancelling was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OrderError {
    #[error("no such order")]
    NotFound,
    #[error("the payment window has closed")]
    Expired,
    #[error("this order cannot be paid")]
    NotPayable,
    #[error("this order cannot be cancelled")]
    NotCancellable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for OrderError {
    fn from(error: sqlx::Error) -> Self {
        OrderError::Store(error.into())
    }
}

struct OrderRow {
    id: String,
    sale_id: i64,
    status: String,
    units: i32,
    price_cents: i64,
    /// The sale's (a sale's currency is fixed once it has started, so before
    /// it has any order).
    currency: String,
    created_at: DateTime<Utc>,
    pay_before: DateTime<Utc>,
}

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;

    fn try_from(row: OrderRow) -> Result<Self, Self::Error> {
        let currency = Currency::parse(&row.currency).ok_or_else(|| {
            StoreError::Corrupt(format!("order {} has currency {}", row.id, row.currency))
        })?;
        Ok(Order {
            status: OrderStatus::parse(&row.status).ok_or_else(|| {
                StoreError::Corrupt(format!("order {} has status {}", row.id, row.status))
            })?,
            order_id: row.id,
            sale_id: row.sale_id,
            units: row.units,
            price_cents: row.price_cents,
            currency,
            created_at_ms: row.created_at.timestamp_millis(),
            pay_before_ms: row.pay_before.timestamp_millis(),
        })
    }
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Orders in Postgres and, until persisted, in Redis.
#[derive(Clone)]
pub(crate) struct OrderBook {
    db: PgPool,
    redis: RedisConnection,
    stock: SaleStock,
    clock: Arc<dyn Clock>,
}

impl OrderBook {
    pub fn new(
        db: PgPool,
        redis: RedisConnection,
        stock: SaleStock,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            redis,
            stock,
            clock,
        }
    }

    /// An order of `user_id`; `None` if there is none with this id for this user.
    pub async fn get(&self, id: &OrderId, user_id: i64) -> Result<Option<Order>, StoreError> {
        // Redis first: the consumer deletes the queued entry only after the row
        // is committed, so looking in this order never misses an order.
        if let Some(order) = self.queued(id, user_id).await? {
            return Ok(Some(order));
        }
        let row = sqlx::query_as!(
            OrderRow,
            "select o.id, o.sale_id, o.status, o.units, o.price_cents, s.currency, o.created_at,
                    o.pay_before
             from orders o join sales s on s.id = o.sale_id
             where o.id = $1 and o.user_id = $2",
            id.as_str(),
            user_id
        )
        .fetch_optional(&self.db)
        .await?;
        row.map(Order::try_from).transpose()
    }

    async fn queued(&self, id: &OrderId, user_id: i64) -> Result<Option<Order>, StoreError> {
        let mut redis = self.redis.clone();
        let [queued, meta] = self.stock.keys().queued_order_pipeline(id.sale_id());
        let (entry, currency): (Option<String>, Option<String>) = redis::pipe()
            .hget(queued, id.as_str())
            .hget(meta, "currency")
            .query_async(&mut redis)
            .await?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        // The meta hash names the currency since sales have one; a sale loaded
        // into Redis before that was priced in dollars.
        let currency = currency.as_deref().unwrap_or(Currency::USD.code());
        let currency = Currency::parse(currency)
            .ok_or_else(|| StoreError::Corrupt(format!("sale currency `{currency}`")))?;
        let queued = QueuedEntry::parse(&entry)
            .ok_or_else(|| StoreError::Corrupt(format!("queued entry `{entry}`")))?;
        if queued.user_id != user_id {
            return Ok(None);
        }
        Ok(Some(Order {
            order_id: id.to_string(),
            sale_id: id.sale_id(),
            status: OrderStatus::Queued,
            units: i32::try_from(queued.units).unwrap_or(i32::MAX),
            price_cents: queued.price_cents,
            currency,
            created_at_ms: queued.created_ms,
            pay_before_ms: queued.pay_before_ms,
        }))
    }

    /// The user's persisted orders, newest first.
    pub async fn list(&self, user_id: i64) -> Result<Vec<Order>, StoreError> {
        let rows = sqlx::query_as!(
            OrderRow,
            "select o.id, o.sale_id, o.status, o.units, o.price_cents, s.currency, o.created_at,
                    o.pay_before
             from orders o join sales s on s.id = o.sale_id
             where o.user_id = $1 order by o.created_at desc limit 200",
            user_id
        )
        .fetch_all(&self.db)
        .await?;
        rows.into_iter().map(Order::try_from).collect()
    }

    /// Simulated payment: succeeds only while the order waits for payment and its
    /// window is open.
    pub async fn pay(&self, id: &OrderId, user_id: i64) -> Result<Order, OrderError> {
        let now = instant(self.clock.now_ms());
        let paid = sqlx::query_as!(
            OrderRow,
            "update orders o set status = 'paid', paid_at = $3 from sales s
             where o.id = $1 and o.user_id = $2 and o.status = 'pending_payment'
               and o.pay_before > $3 and s.id = o.sale_id
             returning o.id, o.sale_id, o.status, o.units, o.price_cents, s.currency, o.created_at,
                       o.pay_before",
            id.as_str(),
            user_id,
            now
        )
        .fetch_optional(&self.db)
        .await?;
        if let Some(row) = paid {
            return Ok(Order::try_from(row)?);
        }
        let order = self.get(id, user_id).await?.ok_or(OrderError::NotFound)?;
        Err(match order.status {
            // Paid already: a payment retried after its answer was lost (an
            // instance died on the way back) is told so, not refused.
            OrderStatus::Paid => return Ok(order),
            OrderStatus::Expired => OrderError::Expired,
            OrderStatus::PendingPayment if order.pay_before_ms <= now.timestamp_millis() => {
                OrderError::Expired
            }
            _ => OrderError::NotPayable,
        })
    }

    /// Cancels an unpaid order and returns its units (exactly once: should this
    /// process die after the commit, or Redis fail, the expiry sweeper finishes
    /// the return). Only this order's units: a shopper's request never sweeps.
    pub async fn cancel(&self, id: &OrderId, user_id: i64) -> Result<Order, OrderError> {
        let now = instant(self.clock.now_ms());
        let cancelled = sqlx::query_as!(
            OrderRow,
            "update orders o set status = 'cancelled', closed_at = $3 from sales s
             where o.id = $1 and o.user_id = $2 and o.status = 'pending_payment'
               and s.id = o.sale_id
             returning o.id, o.sale_id, o.status, o.units, o.price_cents, s.currency, o.created_at,
                       o.pay_before",
            id.as_str(),
            user_id,
            now
        )
        .fetch_optional(&self.db)
        .await?;
        let Some(row) = cancelled else {
            return match self.get(id, user_id).await? {
                None => Err(OrderError::NotFound),
                Some(_) => Err(OrderError::NotCancellable),
            };
        };
        let order = Order::try_from(row)?;
        let returned = self
            .stock
            .give_back(
                order.sale_id,
                &order.order_id,
                user_id,
                order.units,
                ReturnedBy::Buyer,
            )
            .await;
        match returned {
            Ok(Returned::SaleMissing) => tracing::warn!(
                order_id = %id,
                "cancelled while Redis has lost the sale; the expiry sweeper rebuilds it and returns the units"
            ),
            Ok(Returned::Now | Returned::Before) => {
                sqlx::query!(
                    "update orders set stock_returned = true where id = $1",
                    id.as_str()
                )
                .execute(&self.db)
                .await?;
            }
            Err(error) => tracing::warn!(
                order_id = %id,
                error = %crate::store::error_chain(&error),
                "cancelled; the expiry sweeper will return the units"
            ),
        }
        Ok(order)
    }

    /// The persisted orders of a sale with their buyers, newest first (the
    /// admin's view).
    pub async fn for_sale(&self, sale_id: i64) -> Result<Vec<SaleOrder>, StoreError> {
        let rows = sqlx::query!(
            "select o.id, o.sale_id, o.status, o.units, o.price_cents, s.currency, o.created_at,
                    o.pay_before, u.username
             from orders o join users u on u.id = o.user_id join sales s on s.id = o.sale_id
             where o.sale_id = $1 order by o.created_at desc limit 1000",
            sale_id
        )
        .fetch_all(&self.db)
        .await?;
        rows.into_iter()
            .map(|row| {
                let order = Order::try_from(OrderRow {
                    id: row.id,
                    sale_id: row.sale_id,
                    status: row.status,
                    units: row.units,
                    price_cents: row.price_cents,
                    currency: row.currency,
                    created_at: row.created_at,
                    pay_before: row.pay_before,
                })?;
                Ok(SaleOrder {
                    order,
                    buyer: row.username,
                })
            })
            .collect()
    }

    /// How many orders of a sale are in each persisted state.
    pub async fn status_counts(&self, sale_id: i64) -> Result<StatusCounts, StoreError> {
        let counts = sqlx::query_as!(
            StatusCounts,
            r#"select
                 count(*) filter (where status = 'pending_payment') as "pending_payment!",
                 count(*) filter (where status = 'paid') as "paid!",
                 count(*) filter (where status = 'expired') as "expired!",
                 count(*) filter (where status = 'cancelled') as "cancelled!"
               from orders where sale_id = $1"#,
            sale_id
        )
        .fetch_one(&self.db)
        .await?;
        Ok(counts)
    }
}

/// Orders of a sale per persisted state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StatusCounts {
    pub pending_payment: i64,
    pub paid: i64,
    pub expired: i64,
    pub cancelled: i64,
}

/// Whether order `order_id` is a row in Postgres.
pub(crate) async fn order_saved(db: &PgPool, order_id: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar!(
        r#"select exists(select 1 from orders where id = $1) as "saved!""#,
        order_id
    )
    .fetch_one(db)
    .await?)
}

/// Inserts the orders of `messages` in one transaction. The order id is the
/// message's identity: a row that exists under it (a redelivered message) is
/// skipped; any other conflict — another order under the same (sale, user, seq)
/// or stream message id — is an error the consumer keeps, never acknowledges.
pub(crate) async fn insert_orders(
    db: &PgPool,
    sale_id: i64,
    messages: &[OrderMessage],
) -> Result<(), sqlx::Error> {
    let ids: Vec<String> = messages.iter().map(|m| m.order_id.clone()).collect();
    let users: Vec<i64> = messages.iter().map(|m| m.user_id).collect();
    let seqs: Vec<i32> = messages.iter().map(|m| m.seq).collect();
    let units: Vec<i32> = messages.iter().map(|m| m.units).collect();
    let prices: Vec<i64> = messages.iter().map(|m| m.price_cents).collect();
    let message_ids: Vec<String> = messages.iter().map(|m| m.message_id.clone()).collect();
    let created: Vec<i64> = messages.iter().map(|m| m.created_ms).collect();
    let pay_before: Vec<i64> = messages.iter().map(|m| m.pay_before_ms).collect();
    sqlx::query!(
        "insert into orders (id, sale_id, user_id, seq, units, price_cents, status, stream_message_id,
                             created_at, pay_before)
         select m.id, $1, m.user_id, m.seq, m.units, m.price_cents, 'pending_payment', m.message_id,
                to_timestamp(m.created_ms / 1000.0), to_timestamp(m.pay_before_ms / 1000.0)
         from unnest($2::text[], $3::int8[], $4::int4[], $5::int4[], $6::int8[], $7::text[], $8::int8[], $9::int8[])
              as m(id, user_id, seq, units, price_cents, message_id, created_ms, pay_before_ms)
         on conflict on constraint orders_pkey do nothing",
        sale_id,
        &ids,
        &users,
        &seqs,
        &units,
        &prices,
        &message_ids,
        &created,
        &pay_before
    )
    .execute(db)
    .await?;
    Ok(())
}
