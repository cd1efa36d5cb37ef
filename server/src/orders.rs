//! Orders: their ids, reading them (queued in Redis or persisted in Postgres),
//! paying and cancelling. The consumer that persists them and the sweeper that
//! expires them live in the submodules.

pub mod consumer;
pub mod expiry;

use std::fmt;
use std::sync::Arc;

use app::api::{Order, OrderStatus};
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::catalog::StoreError;
use crate::clock::Clock;
use crate::stock::SaleStock;

/// An order id: `<sale id>-<32 hex digits>`. Made by the server before the
/// reserve, so the buyer can poll it at once; the sale id in it tells where the
/// queued reservation lives in Redis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderId {
    sale_id: i64,
    text: String,
}

impl OrderId {
    /// A fresh random id for an order of `sale_id`.
    pub fn new(sale_id: i64) -> Self {
        Self {
            sale_id,
            text: format!("{sale_id}-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Parses `<sale id>-<32 hex>`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let (sale, random) = raw.split_once('-')?;
        let sale_id = sale.parse::<i64>().ok().filter(|id| *id > 0)?;
        let valid = random.len() == 32
            && random
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| Self {
            sale_id,
            text: raw.to_owned(),
        })
    }

    pub fn sale_id(&self) -> i64 {
        self.sale_id
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why paying or cancelling was refused.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
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
    created_at: DateTime<Utc>,
    pay_before: DateTime<Utc>,
}

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;

    fn try_from(row: OrderRow) -> Result<Self, Self::Error> {
        Ok(Order {
            status: OrderStatus::parse(&row.status).ok_or_else(|| {
                StoreError::Corrupt(format!("order {} has status {}", row.id, row.status))
            })?,
            order_id: row.id,
            sale_id: row.sale_id,
            units: row.units,
            price_cents: row.price_cents,
            created_at_ms: row.created_at.timestamp_millis(),
            pay_before_ms: row.pay_before.timestamp_millis(),
        })
    }
}

fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The persisted orders of a sale, newest first (the admin's view).
pub async fn for_sale(db: &PgPool, sale_id: i64) -> Result<Vec<Order>, StoreError> {
    let rows = sqlx::query_as!(
        OrderRow,
        "select id, sale_id, status, units, price_cents, created_at, pay_before
         from orders where sale_id = $1 order by created_at desc limit 1000",
        sale_id
    )
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Order::try_from).collect()
}

/// Orders in Postgres and, until persisted, in Redis.
#[derive(Clone)]
pub struct OrderBook {
    db: PgPool,
    redis: ConnectionManager,
    stock: SaleStock,
    clock: Arc<dyn Clock>,
}

impl OrderBook {
    pub fn new(
        db: PgPool,
        redis: ConnectionManager,
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
            "select id, sale_id, status, units, price_cents, created_at, pay_before
             from orders where id = $1 and user_id = $2",
            id.as_str(),
            user_id
        )
        .fetch_optional(&self.db)
        .await?;
        row.map(Order::try_from).transpose()
    }

    async fn queued(&self, id: &OrderId, user_id: i64) -> Result<Option<Order>, StoreError> {
        let mut redis = self.redis.clone();
        let entry: Option<String> = redis::cmd("HGET")
            .arg(self.stock.keys().queued(id.sale_id()))
            .arg(id.as_str())
            .query_async(&mut redis)
            .await?;
        let Some(entry) = entry else {
            return Ok(None);
        };
        let fields: Vec<i64> = entry
            .split(':')
            .filter_map(|part| part.parse().ok())
            .collect();
        let [owner, units, price_cents, created_ms, pay_before_ms] = fields[..] else {
            return Err(StoreError::Corrupt(format!("queued entry `{entry}`")));
        };
        if owner != user_id {
            return Ok(None);
        }
        Ok(Some(Order {
            order_id: id.to_string(),
            sale_id: id.sale_id(),
            status: OrderStatus::Queued,
            units: i32::try_from(units).unwrap_or(i32::MAX),
            price_cents,
            created_at_ms: created_ms,
            pay_before_ms,
        }))
    }

    /// The user's persisted orders, newest first.
    pub async fn list(&self, user_id: i64) -> Result<Vec<Order>, StoreError> {
        let rows = sqlx::query_as!(
            OrderRow,
            "select id, sale_id, status, units, price_cents, created_at, pay_before
             from orders where user_id = $1 order by created_at desc limit 200",
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
            "update orders set status = 'paid', paid_at = $3
             where id = $1 and user_id = $2 and status = 'pending_payment' and pay_before > $3
             returning id, sale_id, status, units, price_cents, created_at, pay_before",
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
            OrderStatus::Expired => OrderError::Expired,
            OrderStatus::PendingPayment if order.pay_before_ms <= now.timestamp_millis() => {
                OrderError::Expired
            }
            _ => OrderError::NotPayable,
        })
    }

    /// Cancels an unpaid order and returns its units (exactly once: should this
    /// process die after the commit, the expiry sweeper finishes the return).
    pub async fn cancel(&self, id: &OrderId, user_id: i64) -> Result<Order, OrderError> {
        let now = instant(self.clock.now_ms());
        let cancelled = sqlx::query_as!(
            OrderRow,
            "update orders set status = 'cancelled', closed_at = $3
             where id = $1 and user_id = $2 and status = 'pending_payment'
             returning id, sale_id, status, units, price_cents, created_at, pay_before",
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
        expiry::return_units(&self.db, &self.stock, 100).await?;
        Ok(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_carry_their_sale_and_parse_back() {
        let id = OrderId::new(42);
        assert!(id.as_str().starts_with("42-"));
        assert_eq!(OrderId::parse(id.as_str()), Some(id));
        assert_eq!(OrderId::parse("42"), None);
        assert_eq!(OrderId::parse("0-0123456789abcdef0123456789abcdef"), None);
        assert_eq!(OrderId::parse("x-0123456789abcdef0123456789abcdef"), None);
        assert_eq!(OrderId::parse("7-0123456789ABCDEF0123456789abcdef"), None);
        assert_eq!(OrderId::parse("7-0123456789abcdef0123456789abcde"), None);
        assert!(OrderId::parse("7-0123456789abcdef0123456789abcdef").is_some());
    }
}
