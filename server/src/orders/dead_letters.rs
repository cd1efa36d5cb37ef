//! Dead letters: order messages that failed too often (or can never be read)
//! wait in the dead-letter stream with their last error until an admin retries
//! them through the same idempotent insert as the consumer.

use app::api::DeadLetter;
use redis::aio::ConnectionManager;
use redis::streams::StreamId;
use sqlx::PgPool;

use super::book::{insert_orders, order_saved};
use super::message::{text_fields, OrderMessage, CONSUMER_GROUP};
use super::stream::OrderStream;
use crate::sales::stock::SaleStock;
use crate::store::{error_chain, StoreError};

/// What retrying a dead letter did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retry {
    NoSuchLetter,
    /// The order is in Postgres now and the letter is gone.
    Saved,
    /// It failed again (the reason); the letter stays.
    FailedAgain(String),
}

/// What releasing a dead letter did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    NoSuchLetter,
    /// The reservation is given up: its units are back on sale, the letter gone.
    Released,
    /// It cannot be released (the reason); the letter stays.
    Refused(String),
}

/// The dead-letter stream.
#[derive(Clone)]
pub struct DeadLetters {
    db: PgPool,
    redis: ConnectionManager,
    stream: OrderStream,
    stock: SaleStock,
}

/// Reads an entry of the dead-letter stream.
fn letter(entry: &StreamId) -> DeadLetter {
    let fields = text_fields(entry);
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    DeadLetter {
        id: entry.id.clone(),
        sale_id: text("sale_id").parse().unwrap_or(0),
        message_id: text("message_id"),
        payload: serde_json::from_str(&text("payload")).unwrap_or_default(),
        deliveries: text("deliveries").parse().unwrap_or(0),
        last_error: text("last_error"),
    }
}

impl DeadLetters {
    pub fn new(db: PgPool, redis: ConnectionManager, stock: SaleStock) -> Self {
        Self {
            stream: OrderStream::new(redis.clone(), stock.keys().clone()),
            db,
            redis,
            stock,
        }
    }

    /// Moves a message to the dead-letter stream (with its last error) and
    /// acknowledges it in its own stream, in one transaction.
    pub async fn bury(
        &self,
        sale_id: i64,
        entry: &StreamId,
        deliveries: usize,
    ) -> Result<(), StoreError> {
        let keys = self.stream.keys();
        let last_error = self.stream.last_failure(sale_id, &entry.id).await?;
        let payload = serde_json::to_string(&text_fields(entry))?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(keys.dead_letters())
            .arg("*")
            .arg("sale_id")
            .arg(sale_id)
            .arg("message_id")
            .arg(&entry.id)
            .arg("payload")
            .arg(payload)
            .arg("deliveries")
            .arg(deliveries)
            .arg("last_error")
            .arg(last_error.unwrap_or_else(|| "unknown".into()))
            .ignore()
            .cmd("XACK")
            .arg(keys.stream(sale_id))
            .arg(CONSUMER_GROUP)
            .arg(&entry.id)
            .ignore();
        let mut redis = self.redis.clone();
        let () = pipe.query_async(&mut redis).await?;
        tracing::error!(sale_id, message_id = %entry.id, deliveries, "order message dead-lettered");
        Ok(())
    }

    /// The dead letters, oldest first.
    pub async fn list(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let mut redis = self.redis.clone();
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.stream.keys().dead_letters())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1_000)
            .query_async(&mut redis)
            .await?;
        Ok(entries.ids.iter().map(letter).collect())
    }

    /// The letter `id`, if there is one.
    async fn find(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .find(|letter| letter.id == id))
    }

    /// Drops a letter from the dead-letter stream.
    async fn remove(&self, id: &str) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let _deleted: i64 = redis::cmd("XDEL")
            .arg(self.stream.keys().dead_letters())
            .arg(id)
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Tries a dead letter again through the same idempotent insert.
    pub async fn retry(&self, id: &str) -> Result<Retry, StoreError> {
        let Some(letter) = self.find(id).await? else {
            return Ok(Retry::NoSuchLetter);
        };
        let message = match OrderMessage::from_fields(&letter.message_id, &letter.payload) {
            Ok(message) => message,
            Err(error) => return Ok(Retry::FailedAgain(error.to_string())),
        };
        if let Err(error) =
            insert_orders(&self.db, letter.sale_id, std::slice::from_ref(&message)).await
        {
            return Ok(Retry::FailedAgain(error_chain(&error)));
        }
        self.stream
            .acknowledge(letter.sale_id, std::slice::from_ref(&message))
            .await?;
        self.remove(id).await?;
        tracing::info!(dead_letter = id, order_id = %message.order_id, "dead letter retried");
        Ok(Retry::Saved)
    }

    /// Gives up the reservation of a dead letter: its units return to the sale
    /// exactly once (the same return script as an expiry), its queued entry and
    /// the letter go.
    pub async fn release(&self, id: &str) -> Result<Release, StoreError> {
        let Some(letter) = self.find(id).await? else {
            return Ok(Release::NoSuchLetter);
        };
        let message = match OrderMessage::from_fields(&letter.message_id, &letter.payload) {
            Ok(message) => message,
            Err(error) => {
                return Ok(Release::Refused(format!(
                    "its fields cannot be read, so its units cannot be told: {error}"
                )))
            }
        };
        if order_saved(&self.db, &message.order_id).await? {
            return Ok(Release::Refused(
                "its order was saved after all: cancel the order instead".into(),
            ));
        }
        // A sale Redis has lost is rebuilt from Postgres, where this reservation
        // never was: its units are back already.
        self.stock
            .give_back(
                letter.sale_id,
                &message.order_id,
                message.user_id,
                message.units,
            )
            .await?;
        self.stream
            .acknowledge(letter.sale_id, std::slice::from_ref(&message))
            .await?;
        self.remove(id).await?;
        tracing::info!(dead_letter = id, order_id = %message.order_id, "dead letter released");
        Ok(Release::Released)
    }
}
