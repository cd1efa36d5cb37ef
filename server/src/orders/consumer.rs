//! The order consumer: reads the sales' order streams as a member of the
//! `orders` consumer group, inserts the orders into Postgres in batches
//! (idempotently: the stream message id and (sale, user, seq) are unique), and
//! acknowledges them only after the commit. Messages left un-acknowledged by a
//! dead worker are claimed back after `min_idle`; a message delivered
//! `max_deliveries` times goes to the dead-letter stream with its last error.
//!
//! Blocking reads use a connection of their own, so they never stall the shared
//! connection the request handlers use.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{StreamClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::AsyncConnectionConfig;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::catalog::StoreError;
use crate::keys::RedisKeys;
use crate::stock::{SaleStock, CONSUMER_GROUP};

/// Tuning of the consumer; the defaults suit production, tests shorten the waits.
#[derive(Clone, Debug)]
pub struct ConsumerSettings {
    /// Messages read (and inserted in one transaction) at a time.
    pub batch: usize,
    /// How long one blocking read waits for new messages.
    pub block: Duration,
    /// A message un-acknowledged this long is presumed abandoned by its worker.
    pub min_idle: Duration,
    /// Deliveries after which a message is dead-lettered.
    pub max_deliveries: usize,
    /// How often the list of sales to consume is refreshed.
    pub refresh: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            batch: 1_000,
            block: Duration::from_millis(500),
            min_idle: Duration::from_secs(30),
            max_deliveries: 5,
            refresh: Duration::from_secs(1),
        }
    }
}

/// One order message, parsed.
#[derive(Clone, Debug)]
struct OrderMessage {
    message_id: String,
    order_id: String,
    user_id: i64,
    units: i32,
    seq: i32,
    price_cents: i64,
    created_ms: i64,
    pay_before_ms: i64,
}

impl OrderMessage {
    fn parse(entry: &StreamId) -> Result<Self, String> {
        Self::from_fields(&entry.id, &text_fields(entry))
    }

    fn from_fields(message_id: &str, fields: &HashMap<String, String>) -> Result<Self, String> {
        fn field<T: std::str::FromStr>(
            fields: &HashMap<String, String>,
            name: &str,
        ) -> Result<T, String> {
            fields
                .get(name)
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| format!("field `{name}` missing or malformed"))
        }
        Ok(Self {
            message_id: message_id.to_owned(),
            order_id: field(fields, "order_id")?,
            user_id: field(fields, "user_id")?,
            units: field(fields, "units")?,
            seq: field(fields, "seq")?,
            price_cents: field(fields, "price_cents")?,
            created_ms: field(fields, "created_ms")?,
            pay_before_ms: field(fields, "pay_before_ms")?,
        })
    }
}

/// The fields of a stream entry as text.
fn text_fields(entry: &StreamId) -> HashMap<String, String> {
    entry
        .map
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.clone(),
                redis::from_redis_value_ref::<String>(value).ok()?,
            ))
        })
        .collect()
}

/// A message that failed too often, as the admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// The id of the entry in the dead-letter stream.
    pub id: String,
    pub sale_id: i64,
    /// The original message id in the sale's order stream.
    pub message_id: String,
    pub payload: HashMap<String, String>,
    pub deliveries: i64,
    pub last_error: String,
}

impl DeadLetter {
    fn from_entry(entry: &StreamId) -> Self {
        let fields = text_fields(entry);
        let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
        Self {
            id: entry.id.clone(),
            sale_id: text("sale_id").parse().unwrap_or(0),
            message_id: text("message_id"),
            payload: serde_json::from_str(&text("payload")).unwrap_or_default(),
            deliveries: text("deliveries").parse().unwrap_or(0),
            last_error: text("last_error"),
        }
    }
}

/// What happened to a batch of messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsumeOutcome {
    /// Messages whose order is now in Postgres (new rows or already there).
    pub persisted: usize,
    /// Messages that failed and stay pending for a later attempt.
    pub failed: usize,
    /// Messages moved to the dead-letter stream.
    pub dead_lettered: usize,
}

impl std::ops::AddAssign for ConsumeOutcome {
    fn add_assign(&mut self, other: Self) {
        self.persisted += other.persisted;
        self.failed += other.failed;
        self.dead_lettered += other.dead_lettered;
    }
}

/// A worker of the `orders` consumer group.
#[derive(Clone)]
pub struct OrderConsumer {
    db: PgPool,
    redis: ConnectionManager,
    client: redis::Client,
    stock: SaleStock,
    name: String,
    settings: ConsumerSettings,
}

impl OrderConsumer {
    /// `name` must be unique among live workers (host, process and a random part).
    pub fn new(
        db: PgPool,
        redis: ConnectionManager,
        client: redis::Client,
        stock: SaleStock,
        name: String,
        settings: ConsumerSettings,
    ) -> Self {
        Self {
            db,
            redis,
            client,
            stock,
            name,
            settings,
        }
    }

    fn keys(&self) -> &RedisKeys {
        self.stock.keys()
    }

    /// A connection for blocking reads only; it waits longer than a read blocks.
    pub async fn dedicated_connection(&self) -> Result<MultiplexedConnection, StoreError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(self.settings.block + Duration::from_secs(5)));
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?)
    }

    /// Sales whose streams may hold messages: not ended more than a day ago.
    pub async fn sales_to_consume(&self) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar!(
            "select id from sales where ends_at > now() - interval '1 day' order by id"
        )
        .fetch_all(&self.db)
        .await?)
    }

    /// Reads new messages of `sale_ids` (blocking up to `block`) and persists them.
    pub async fn read_once(
        &self,
        connection: &mut MultiplexedConnection,
        sale_ids: &[i64],
    ) -> Result<ConsumeOutcome, StoreError> {
        if sale_ids.is_empty() {
            return Ok(ConsumeOutcome::default());
        }
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(CONSUMER_GROUP)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.settings.batch)
            .arg("BLOCK")
            .arg(self.settings.block.as_millis() as u64)
            .arg("STREAMS");
        for sale_id in sale_ids {
            command.arg(self.keys().stream(*sale_id));
        }
        for _ in sale_ids {
            command.arg(">");
        }
        let reply: Option<StreamReadReply> = match command.query_async(connection).await {
            Ok(reply) => reply,
            Err(error) if error.code() == Some("NOGROUP") => {
                // A stream or group vanished (Redis restarted): recreate and go on.
                for sale_id in sale_ids {
                    self.stock.ensure_group(*sale_id).await?;
                }
                return Ok(ConsumeOutcome::default());
            }
            Err(error) => return Err(error.into()),
        };
        let mut outcome = ConsumeOutcome::default();
        for stream in reply.map(|reply| reply.keys).unwrap_or_default() {
            let Some(sale_id) = sale_ids
                .iter()
                .copied()
                .find(|sale_id| self.keys().stream(*sale_id) == stream.key)
            else {
                continue;
            };
            outcome += self.persist(sale_id, &stream.ids).await?;
        }
        Ok(outcome)
    }

    /// Claims messages of `sale_id` idle longer than `min_idle` (their worker
    /// died), dead-letters those delivered too often, and persists the rest.
    pub async fn reclaim_once(&self, sale_id: i64) -> Result<ConsumeOutcome, StoreError> {
        let stream = self.keys().stream(sale_id);
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
        let (exhausted, retry): (Vec<_>, Vec<_>) = pending
            .ids
            .into_iter()
            .partition(|entry| entry.times_delivered >= self.settings.max_deliveries);
        let mut outcome = ConsumeOutcome::default();
        if !exhausted.is_empty() {
            let ids: Vec<String> = exhausted.iter().map(|entry| entry.id.clone()).collect();
            let deliveries: HashMap<String, usize> = exhausted
                .into_iter()
                .map(|entry| (entry.id, entry.times_delivered))
                .collect();
            let claimed = self.claim(&stream, &ids, min_idle).await?;
            for entry in &claimed.ids {
                self.dead_letter(
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

    /// Inserts the orders of `entries` and acknowledges those now in Postgres.
    /// One transaction for the batch; if it fails, each message is tried alone so
    /// one bad message cannot hold back the others.
    pub async fn persist(
        &self,
        sale_id: i64,
        entries: &[StreamId],
    ) -> Result<ConsumeOutcome, StoreError> {
        let mut outcome = ConsumeOutcome::default();
        let mut messages = Vec::with_capacity(entries.len());
        for entry in entries {
            match OrderMessage::parse(entry) {
                Ok(message) => messages.push(message),
                Err(error) => {
                    // Retrying cannot fix a malformed message: dead-letter it now.
                    self.record_failure(sale_id, &entry.id, &error).await?;
                    self.dead_letter(sale_id, entry, 1).await?;
                    outcome.dead_lettered += 1;
                }
            }
        }
        if messages.is_empty() {
            return Ok(outcome);
        }
        match insert_orders(&self.db, sale_id, &messages).await {
            Ok(()) => {
                self.acknowledge(sale_id, &messages).await?;
                outcome.persisted += messages.len();
            }
            Err(batch_error) => {
                tracing::warn!(
                    sale_id,
                    "batch insert failed, trying messages one by one: {batch_error}"
                );
                for message in messages {
                    match insert_orders(&self.db, sale_id, std::slice::from_ref(&message)).await {
                        Ok(()) => {
                            self.acknowledge(sale_id, std::slice::from_ref(&message))
                                .await?;
                            outcome.persisted += 1;
                        }
                        Err(error) => {
                            self.record_failure(sale_id, &message.message_id, &error.to_string())
                                .await?;
                            outcome.failed += 1;
                        }
                    }
                }
            }
        }
        Ok(outcome)
    }

    /// After the commit: acknowledge the messages and drop their queued entries.
    async fn acknowledge(&self, sale_id: i64, messages: &[OrderMessage]) -> Result<(), StoreError> {
        let keys = self.keys();
        let message_ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        let order_ids: Vec<&str> = messages.iter().map(|m| m.order_id.as_str()).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("XACK")
            .arg(keys.stream(sale_id))
            .arg(CONSUMER_GROUP)
            .arg(&message_ids)
            .ignore();
        pipe.cmd("HDEL")
            .arg(keys.queued(sale_id))
            .arg(&order_ids)
            .ignore();
        pipe.cmd("HDEL")
            .arg(keys.failures(sale_id))
            .arg(&message_ids)
            .ignore();
        let mut redis = self.redis.clone();
        let () = pipe.query_async(&mut redis).await?;
        Ok(())
    }

    async fn record_failure(
        &self,
        sale_id: i64,
        message_id: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let () = redis::cmd("HSET")
            .arg(self.keys().failures(sale_id))
            .arg(message_id)
            .arg(error)
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    /// Moves a message to the dead-letter stream (with its last error) and
    /// acknowledges it in its own stream.
    async fn dead_letter(
        &self,
        sale_id: i64,
        entry: &StreamId,
        deliveries: usize,
    ) -> Result<(), StoreError> {
        let keys = self.keys();
        let mut redis = self.redis.clone();
        let last_error: Option<String> = redis::cmd("HGET")
            .arg(keys.failures(sale_id))
            .arg(&entry.id)
            .query_async(&mut redis)
            .await?;
        let payload = serde_json::to_string(&text_fields(entry)).unwrap_or_default();
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
        let () = pipe.query_async(&mut redis).await?;
        tracing::error!(sale_id, message_id = %entry.id, deliveries, "order message dead-lettered");
        Ok(())
    }

    /// The dead letters, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let mut redis = self.redis.clone();
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.keys().dead_letters())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1_000)
            .query_async(&mut redis)
            .await?;
        Ok(entries.ids.iter().map(DeadLetter::from_entry).collect())
    }

    /// Tries a dead letter again through the same idempotent insert. `None` if
    /// there is no such letter; `Some(Err(reason))` if it failed again (it stays).
    pub async fn retry_dead_letter(
        &self,
        id: &str,
    ) -> Result<Option<Result<(), String>>, StoreError> {
        let Some(letter) = self
            .dead_letters()
            .await?
            .into_iter()
            .find(|letter| letter.id == id)
        else {
            return Ok(None);
        };
        let message = match OrderMessage::from_fields(&letter.message_id, &letter.payload) {
            Ok(message) => message,
            Err(reason) => return Ok(Some(Err(reason))),
        };
        if let Err(error) =
            insert_orders(&self.db, letter.sale_id, std::slice::from_ref(&message)).await
        {
            return Ok(Some(Err(error.to_string())));
        }
        self.acknowledge(letter.sale_id, std::slice::from_ref(&message))
            .await?;
        let mut redis = self.redis.clone();
        let _deleted: i64 = redis::cmd("XDEL")
            .arg(self.keys().dead_letters())
            .arg(id)
            .query_async(&mut redis)
            .await?;
        tracing::info!(dead_letter = id, order_id = %message.order_id, "dead letter retried");
        Ok(Some(Ok(())))
    }

    /// Consumes until `shutdown` flips to true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut connection: Option<MultiplexedConnection> = None;
        let mut sales: Vec<i64> = Vec::new();
        let mut refreshed: Option<Instant> = None;
        let mut reclaimed = Instant::now();
        while !*shutdown.borrow() {
            if refreshed.is_none_or(|at| at.elapsed() >= self.settings.refresh) {
                match self.sales_to_consume().await {
                    Ok(ids) => sales = ids,
                    Err(error) => tracing::warn!("cannot list sales to consume: {error}"),
                }
                refreshed = Some(Instant::now());
            }
            let pause = if sales.is_empty() {
                Some(self.settings.refresh)
            } else {
                None
            };
            if connection.is_none() && pause.is_none() {
                match self.dedicated_connection().await {
                    Ok(fresh) => connection = Some(fresh),
                    Err(error) => tracing::warn!("order consumer cannot connect to Redis: {error}"),
                }
            }
            let work = async {
                match (pause, connection.as_mut()) {
                    (None, Some(connection)) => self.read_once(connection, &sales).await.map(Some),
                    _ => {
                        tokio::time::sleep(pause.unwrap_or(Duration::from_millis(500))).await;
                        Ok(None)
                    }
                }
            };
            let result = tokio::select! {
                result = work => result,
                _ = shutdown.changed() => break,
            };
            if let Err(error) = result {
                tracing::warn!("order consumer read failed: {error}");
                connection = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if reclaimed.elapsed() >= self.settings.min_idle.min(Duration::from_secs(5)) {
                for sale_id in &sales {
                    if let Err(error) = self.reclaim_once(*sale_id).await {
                        tracing::warn!(sale_id, "reclaiming idle order messages failed: {error}");
                    }
                }
                reclaimed = Instant::now();
            }
        }
        tracing::info!(consumer = %self.name, "order consumer stopped");
    }
}

/// Inserts the orders of `messages` in one transaction. Rows that exist already
/// (a redelivered message) are skipped by the unique constraints.
async fn insert_orders(
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
         on conflict do nothing",
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
