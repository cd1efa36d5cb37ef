//! Taking over what a dead worker left: order messages idle in the group longer
//! than `min_idle` are claimed and persisted here, those delivered
//! `max_deliveries` times for reasons retrying cannot fix go to the dead
//! letters, and consumers that left the group for good are removed from it.

use std::collections::HashMap;

use redis::streams::{StreamClaimReply, StreamInfoConsumersReply, StreamPendingCountReply};

use super::{ConsumeOutcome, OrderConsumer};
use crate::orders::message::CONSUMER_GROUP;
use crate::store::StoreError;

impl OrderConsumer {
    /// Claims messages of `sale_id` idle longer than `min_idle` (their worker
    /// died), dead-letters those delivered too often, and persists the rest.
    pub async fn reclaim_once(&self, sale_id: i64) -> Result<ConsumeOutcome, StoreError> {
        let stream = self.keys().stream(sale_id);
        self.remove_departed(&stream).await?;
        let mut redis = self.redis.clone();
        let min_idle = self.settings.min_idle.as_millis() as u64;
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(CONSUMER_GROUP)
            .arg("IDLE")
            .arg(min_idle)
            .arg("-")
            .arg("+")
            .arg(self.settings.batch)
            .query_async(&mut redis)
            .await?;
        if pending.ids.is_empty() {
            return Ok(ConsumeOutcome::default());
        }
        // Past the delivery limit, a message is dead-lettered unless all that
        // failed was Postgres being away (or its worker dying): those retry.
        let mut exhausted = Vec::new();
        let mut retry = Vec::new();
        for entry in pending.ids {
            if entry.times_delivered >= self.settings.max_deliveries
                && !self.failed_transiently(sale_id, &entry.id).await?
            {
                exhausted.push(entry);
            } else {
                retry.push(entry);
            }
        }
        let mut outcome = ConsumeOutcome::default();
        if !exhausted.is_empty() {
            let ids: Vec<String> = exhausted.iter().map(|entry| entry.id.clone()).collect();
            let deliveries: HashMap<String, usize> = exhausted
                .into_iter()
                .map(|entry| (entry.id, entry.times_delivered))
                .collect();
            let claimed = self.claim(&stream, &ids, min_idle).await?;
            for entry in &claimed.ids {
                self.dead_letters
                    .bury(
                        sale_id,
                        entry,
                        deliveries.get(&entry.id).copied().unwrap_or(0),
                    )
                    .await?;
                outcome.dead_lettered += 1;
            }
        }
        if !retry.is_empty() {
            let ids: Vec<String> = retry.into_iter().map(|entry| entry.id).collect();
            let claimed = self.claim(&stream, &ids, min_idle).await?;
            outcome += self.persist(sale_id, &claimed.ids).await?;
        }
        Ok(outcome)
    }

    /// Removes consumers that hold nothing and have not read for
    /// `departed_after`: the names of instances gone (every start takes a new
    /// name) would pile up in the group otherwise. Removing one that is alive
    /// after all loses nothing: it holds no message, and its next read makes it
    /// a member again.
    async fn remove_departed(&self, stream: &str) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let members: StreamInfoConsumersReply = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(stream)
            .arg(CONSUMER_GROUP)
            .query_async(&mut redis)
            .await?;
        let departed = members.consumers.iter().filter(|member| {
            member.pending == 0
                && member.idle as u128 >= self.settings.departed_after.as_millis()
                && member.name != self.name
        });
        for member in departed {
            let _removed: i64 = redis::cmd("XGROUP")
                .arg("DELCONSUMER")
                .arg(stream)
                .arg(CONSUMER_GROUP)
                .arg(&member.name)
                .query_async(&mut redis)
                .await?;
            tracing::info!(consumer = %member.name, %stream, "removed a departed consumer");
        }
        Ok(())
    }

    async fn claim(
        &self,
        stream: &str,
        ids: &[String],
        min_idle: u64,
    ) -> Result<StreamClaimReply, StoreError> {
        let mut redis = self.redis.clone();
        Ok(redis::cmd("XCLAIM")
            .arg(stream)
            .arg(CONSUMER_GROUP)
            .arg(&self.name)
            .arg(min_idle)
            .arg(ids)
            .query_async(&mut redis)
            .await?)
    }
}
