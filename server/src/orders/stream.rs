//! The Redis side of a sale's order stream that the workers share: what happens
//! after an order is in Postgres (acknowledge, drop the queued entry) and the
//! record of why a message failed, which its dead letter will carry.

use crate::redis_connection::RedisConnection;

use super::message::{OrderMessage, CONSUMER_GROUP};
use crate::keys::RedisKeys;
use crate::store::StoreError;

/// Acknowledgements and failure notes on the sales' order streams.
#[derive(Clone)]
pub(crate) struct OrderStream {
    redis: RedisConnection,
    keys: RedisKeys,
}

impl OrderStream {
    pub fn new(redis: RedisConnection, keys: RedisKeys) -> Self {
        Self { redis, keys }
    }

    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    /// After the commit: acknowledge the messages, delete them from the stream
    /// (persisted, they are needed no more: the stream stays as short as the
    /// backlog), drop their queued entries and failure notes (one round trip).
    pub async fn acknowledge(
        &self,
        sale_id: i64,
        messages: &[OrderMessage],
    ) -> Result<(), StoreError> {
        let message_ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        let order_ids: Vec<&str> = messages.iter().map(|m| m.order_id.as_str()).collect();
        let [stream, queued, failures] = self.keys.acknowledge_pipeline(sale_id);
        // The queued entries go first, the messages last. A worker killed while
        // writing this pipeline leaves a prefix done: with this order that is at
        // worst entries dropped while their messages stay pending, so another
        // worker claims them, finds the rows and acknowledges again. The other
        // order could leave a message gone with its queued entry still counted,
        // forever: the books would drift by its units.
        let mut pipe = redis::pipe();
        pipe.cmd("HDEL").arg(queued).arg(&order_ids).ignore();
        pipe.cmd("HDEL").arg(failures).arg(&message_ids).ignore();
        pipe.cmd("XACK")
            .arg(&stream)
            .arg(CONSUMER_GROUP)
            .arg(&message_ids)
            .ignore();
        pipe.cmd("XDEL").arg(&stream).arg(&message_ids).ignore();
        let mut redis = self.redis.clone();
        let () = pipe.query_async(&mut redis).await?;
        Ok(())
    }

    /// Notes why messages failed (the last reason wins), in one round trip.
    pub async fn record_failures(
        &self,
        sale_id: i64,
        message_ids: &[&str],
        reason: &str,
    ) -> Result<(), StoreError> {
        if message_ids.is_empty() {
            return Ok(());
        }
        let mut command = redis::cmd("HSET");
        command.arg(self.keys.failures(sale_id));
        for message_id in message_ids {
            command.arg(message_id).arg(reason);
        }
        let mut redis = self.redis.clone();
        let _added: i64 = command.query_async(&mut redis).await?;
        Ok(())
    }

    /// The last noted failure of a message, if any.
    pub async fn last_failure(
        &self,
        sale_id: i64,
        message_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut redis = self.redis.clone();
        Ok(redis::cmd("HGET")
            .arg(self.keys.failures(sale_id))
            .arg(message_id)
            .query_async(&mut redis)
            .await?)
    }
}
