//! Dead letters: order messages that failed too often (or can never be read)
//! wait in their sale's dead-letter stream with their last error until an admin
//! retries them through the same idempotent insert as the consumer, or releases
//! their units.
//!
//! Each sale has its own dead-letter stream beside its order stream (the same
//! hash slot, so burying is one transaction on a Redis Cluster too); a set of
//! the sales that ever had one lets the admin list them all. A letter's public
//! id is its sale and its entry: `42-1700000000000-0`.

use crate::redis_connection::RedisConnection;
use app::api::DeadLetter;
use redis::streams::StreamId;
use sqlx::PgPool;

use super::book::{insert_orders, order_saved};
use super::message::{text_fields, OrderMessage, CONSUMER_GROUP};
use super::stream::OrderStream;
use crate::sales::stock::{ReturnedBy, SaleStock};
use crate::store::{error_chain, StoreError};

/// What retrying a dead letter did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    NoSuchLetter,
    /// The order is in Postgres now and the letter is gone.
    Saved,
    /// It failed again (the reason); the letter stays.
    FailedAgain(String),
}

/// What releasing a dead letter did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    NoSuchLetter,
    /// The reservation is given up: its units are back on sale, the letter gone.
    Released,
    /// It cannot be released (the reason); the letter stays.
    Refused(String),
}

/// The dead-letter stream.
#[derive(Clone)]
pub(crate) struct DeadLetters {
    db: PgPool,
    redis: RedisConnection,
    stream: OrderStream,
    stock: SaleStock,
}

/// The most letters one listing shows.
const LISTED: usize = 1_000;

/// Where a letter is: its sale, and its entry in that sale's dead-letter stream.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LetterId {
    sale_id: i64,
    entry: String,
}

impl LetterId {
    /// `None` for anything but `<sale id>-<milliseconds>-<sequence>`.
    fn parse(id: &str) -> Option<Self> {
        let (sale, entry) = id.split_once('-')?;
        let sale_id = sale.parse().ok().filter(|sale_id| *sale_id > 0)?;
        let (ms, seq) = entry.split_once('-')?;
        let number = |text: &str| text.parse::<u64>().is_ok() && !text.starts_with('+');
        (number(ms) && number(seq)).then(|| Self {
            sale_id,
            entry: entry.to_owned(),
        })
    }
}

/// A stream entry id's position in time (`<ms>-<seq>`), for listing oldest first.
fn position(entry_id: &str) -> (u64, u64) {
    let (ms, seq) = entry_id.split_once('-').unwrap_or_default();
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// Reads an entry of `sale_id`'s dead-letter stream.
fn letter(sale_id: i64, entry: &StreamId) -> DeadLetter {
    let fields = text_fields(entry);
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    DeadLetter {
        id: format!("{sale_id}-{}", entry.id),
        sale_id,
        message_id: text("message_id"),
        payload: serde_json::from_str(&text("payload")).unwrap_or_default(),
        deliveries: text("deliveries").parse().unwrap_or(0),
        last_error: text("last_error"),
    }
}

impl DeadLetters {
    pub fn new(db: PgPool, redis: RedisConnection, stock: SaleStock) -> Self {
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
        let mut redis = self.redis.clone();
        // Listed first: a sale listed with no letter shows nothing, a letter of a
        // sale not listed would be lost to the admin.
        let _added: i64 = redis::cmd("SADD")
            .arg(keys.dead_letter_sales())
            .arg(sale_id)
            .query_async(&mut redis)
            .await?;
        let [letters, stream] = keys.bury_transaction(sale_id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(letters)
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
            .arg(stream)
            .arg(CONSUMER_GROUP)
            .arg(&entry.id)
            .ignore();
        let () = pipe.query_async(&mut redis).await?;
        tracing::error!(sale_id, message_id = %entry.id, deliveries, "order message dead-lettered");
        Ok(())
    }

    /// The dead letters of every sale, oldest first (at most [`LISTED`]).
    pub async fn list(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let keys = self.stream.keys();
        let mut redis = self.redis.clone();
        let sales: Vec<i64> = redis::cmd("SMEMBERS")
            .arg(keys.dead_letter_sales())
            .query_async(&mut redis)
            .await?;
        // One read per sale: each sale's letters live in its own cluster slot.
        let reads = sales.iter().map(|sale_id| {
            let mut redis = self.redis.clone();
            let key = keys.dead_letters(*sale_id);
            async move {
                redis::cmd("XRANGE")
                    .arg(key)
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(LISTED)
                    .query_async::<redis::streams::StreamRangeReply>(&mut redis)
                    .await
            }
        });
        let replies = futures_util::future::try_join_all(reads).await?;
        let mut letters: Vec<((u64, u64), DeadLetter)> = sales
            .iter()
            .zip(replies)
            .flat_map(|(sale_id, reply)| {
                reply
                    .ids
                    .into_iter()
                    .map(move |entry| (position(&entry.id), letter(*sale_id, &entry)))
            })
            .collect();
        letters.sort_by_key(|(at, _)| *at);
        letters.truncate(LISTED);
        Ok(letters.into_iter().map(|(_, letter)| letter).collect())
    }

    /// How many dead letters `sale_id` has.
    pub async fn count(&self, sale_id: i64) -> Result<i64, StoreError> {
        let mut redis = self.redis.clone();
        Ok(redis::cmd("XLEN")
            .arg(self.stream.keys().dead_letters(sale_id))
            .query_async(&mut redis)
            .await?)
    }

    /// The letter `id`, if there is one.
    async fn find(&self, id: &LetterId) -> Result<Option<DeadLetter>, StoreError> {
        let mut redis = self.redis.clone();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.stream.keys().dead_letters(id.sale_id))
            .arg(&id.entry)
            .arg(&id.entry)
            .query_async(&mut redis)
            .await?;
        Ok(reply.ids.first().map(|entry| letter(id.sale_id, entry)))
    }

    /// Drops a letter from its sale's dead-letter stream.
    async fn remove(&self, id: &LetterId) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let _deleted: i64 = redis::cmd("XDEL")
            .arg(self.stream.keys().dead_letters(id.sale_id))
            .arg(&id.entry)
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Tries a dead letter again through the same idempotent insert.
    pub async fn retry(&self, id: &str) -> Result<Retry, StoreError> {
        let Some(at) = LetterId::parse(id) else {
            return Ok(Retry::NoSuchLetter);
        };
        let Some(letter) = self.find(&at).await? else {
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
        self.remove(&at).await?;
        tracing::info!(dead_letter = id, order_id = %message.order_id, "dead letter retried");
        Ok(Retry::Saved)
    }

    /// Gives up the reservation of a dead letter: its units return to the sale
    /// exactly once (the same return script as an expiry), its queued entry and
    /// the letter go.
    pub async fn release(&self, id: &str) -> Result<Release, StoreError> {
        let Some(at) = LetterId::parse(id) else {
            return Ok(Release::NoSuchLetter);
        };
        let Some(letter) = self.find(&at).await? else {
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
                ReturnedBy::Operator,
            )
            .await?;
        self.stream
            .acknowledge(letter.sale_id, std::slice::from_ref(&message))
            .await?;
        self.remove(&at).await?;
        tracing::info!(dead_letter = id, order_id = %message.order_id, "dead letter released");
        Ok(Release::Released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_id_is_a_sale_and_a_stream_entry() {
        assert_eq!(
            LetterId::parse("42-1700000000000-3"),
            Some(LetterId {
                sale_id: 42,
                entry: "1700000000000-3".into()
            })
        );
        for bad in [
            "", "42", "42-", "42-17", "0-1-1", "-1-1-1", "x-1-1", "42-1-x", "42-+1-1", "42-1-1-1",
        ] {
            assert_eq!(LetterId::parse(bad), None, "{bad}");
        }
    }
}
