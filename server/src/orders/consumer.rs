//! The order consumer: reads the sales' order streams as a member of the
//! consumer group, inserts the orders into Postgres in batches (idempotently:
//! the stream message id and (sale, user, seq) are unique), and acknowledges
//! them only after the commit. Messages left un-acknowledged by a dead worker
//! are claimed back after `min_idle`; a message delivered `max_deliveries` times
//! goes to the dead letters with its last error (see [`super::dead_letters`]).
//!
//! Blocking reads use a connection of their own, so they never stall the shared
//! connection the request handlers use.

use std::time::{Duration, Instant};

use redis::streams::{StreamId, StreamReadReply};
use sqlx::PgPool;

mod reclaim;

use super::book::insert_orders;
use super::dead_letters::DeadLetters;
use super::message::{MessageError, OrderMessage, CONSUMER_GROUP};
use super::stream::OrderStream;
use crate::keys::RedisKeys;
use crate::redis_connection::{RedisClient, RedisConnection};
use crate::sales::stock::SaleStock;
use crate::shutdown::Shutdown;
use crate::store::{error_chain, StoreError};

/// On a cluster with several sales to read, the pause after a round of reads
/// that found nothing (see [`OrderConsumer::read_once`]).
const CLUSTER_POLL: Duration = Duration::from_millis(20);

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
    /// A consumer holding no message and silent this long has left the group.
    pub departed_after: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            batch: 1_000,
            block: Duration::from_millis(500),
            min_idle: Duration::from_secs(10),
            max_deliveries: 5,
            refresh: Duration::from_secs(1),
            departed_after: Duration::from_secs(300),
        }
    }
}

/// Why one message could not become an order.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    /// It does not keep the stream contract: retrying cannot help.
    #[error("the message breaks the stream contract")]
    Malformed(#[from] MessageError),
    /// Postgres refused or failed the insert.
    #[error("the order could not be inserted")]
    Database(#[from] sqlx::Error),
}

impl PersistError {
    /// Whether retrying cannot help: a malformed message, or one Postgres refuses
    /// for its data (SQLSTATE class 22) or a rule (class 23: unique, foreign key,
    /// check, not null). Anything else (connections, timeouts) is transient.
    pub fn is_permanent(&self) -> bool {
        match self {
            PersistError::Malformed(_) => true,
            PersistError::Database(sqlx::Error::Database(error)) => error
                .code()
                .is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
            PersistError::Database(_) => false,
        }
    }
}

/// How a transient failure's note starts, so the reclaim can tell it apart.
const TRANSIENT: &str = "[transient] ";

/// The note kept for a failed message (and shown on its dead letter).
fn failure_note(error: &PersistError) -> String {
    let chain = error_chain(error);
    if error.is_permanent() {
        chain
    } else {
        format!("{TRANSIENT}{chain}")
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
    redis: RedisConnection,
    client: RedisClient,
    stock: SaleStock,
    stream: OrderStream,
    dead_letters: DeadLetters,
    name: String,
    settings: ConsumerSettings,
}

impl OrderConsumer {
    /// `name` must be unique among live workers (host, process and a random part).
    pub fn new(
        db: PgPool,
        redis: RedisConnection,
        client: RedisClient,
        stock: SaleStock,
        name: String,
        settings: ConsumerSettings,
    ) -> Self {
        let stream = OrderStream::new(redis.clone(), stock.keys().clone());
        Self {
            dead_letters: DeadLetters::new(db.clone(), redis.clone(), stock.clone()),
            stream,
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
    pub async fn dedicated_connection(&self) -> Result<RedisConnection, StoreError> {
        Ok(self
            .client
            .dedicated(self.settings.block + Duration::from_secs(5))
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

    /// Reads new messages of `sale_ids` (waiting up to `block` for some) and
    /// persists them.
    ///
    /// One Redis server answers one blocking read over every sale's stream. A
    /// cluster reads several streams at once only within one slot, and a
    /// blocking read per sale would queue behind each other on a node's
    /// connection: there each sale is read without blocking (all at once), and
    /// when none had anything the read pauses [`CLUSTER_POLL`].
    pub async fn read_once(
        &self,
        connection: &mut RedisConnection,
        sale_ids: &[i64],
    ) -> Result<ConsumeOutcome, StoreError> {
        let streams = match (&*connection, sale_ids) {
            (_, []) => Vec::new(),
            (RedisConnection::Node(_), _) | (RedisConnection::Cluster(_), [_]) => {
                self.read(connection.clone(), sale_ids, true).await?
            }
            (RedisConnection::Cluster(_), _) => {
                let reads = sale_ids.iter().map(|sale_id| {
                    self.read(connection.clone(), std::slice::from_ref(sale_id), false)
                });
                let streams: Vec<_> = futures_util::future::try_join_all(reads)
                    .await?
                    .into_iter()
                    .flatten()
                    .collect();
                if streams.iter().all(|(_, entries)| entries.is_empty()) {
                    tokio::time::sleep(CLUSTER_POLL).await;
                }
                streams
            }
        };
        let mut outcome = ConsumeOutcome::default();
        for (sale_id, entries) in streams {
            if !entries.is_empty() {
                outcome += self.persist(sale_id, &entries).await?;
            }
        }
        Ok(outcome)
    }

    /// One `XREADGROUP` over the streams of `sale_ids` (blocking up to `block`
    /// if `wait`): each sale's new entries.
    async fn read(
        &self,
        mut connection: RedisConnection,
        sale_ids: &[i64],
        wait: bool,
    ) -> Result<Vec<(i64, Vec<StreamId>)>, StoreError> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(CONSUMER_GROUP)
            .arg(&self.name)
            .arg("COUNT")
            .arg(self.settings.batch);
        if wait {
            command
                .arg("BLOCK")
                .arg(self.settings.block.as_millis() as u64);
        }
        command.arg("STREAMS");
        for sale_id in sale_ids {
            command.arg(self.keys().stream(*sale_id));
        }
        for _ in sale_ids {
            command.arg(">");
        }
        let reply: Option<StreamReadReply> = match command.query_async(&mut connection).await {
            Ok(reply) => reply,
            Err(error) if error.code() == Some("NOGROUP") => {
                // A stream or group vanished (Redis restarted): recreate and go on.
                for sale_id in sale_ids {
                    self.stock.ensure_group(*sale_id).await?;
                }
                return Ok(Vec::new());
            }
            Err(error) => return Err(error.into()),
        };
        let streams = reply.map(|reply| reply.keys).unwrap_or_default();
        Ok(streams
            .into_iter()
            .filter_map(|stream| {
                let sale_id = sale_ids
                    .iter()
                    .copied()
                    .find(|sale_id| self.keys().stream(*sale_id) == stream.key)?;
                Some((sale_id, stream.ids))
            })
            .collect())
    }

    /// Inserts the orders of `entries` and acknowledges those now in Postgres.
    /// One transaction for the batch. If Postgres is away, the whole batch stays
    /// pending (noted as transient: it is retried, never dead-lettered for it).
    /// If the batch broke a rule, each message is tried alone so one bad message
    /// cannot hold back the others, and what breaks a rule is dead-lettered now.
    pub async fn persist(
        &self,
        sale_id: i64,
        entries: &[StreamId],
    ) -> Result<ConsumeOutcome, StoreError> {
        let mut outcome = ConsumeOutcome::default();
        let mut messages = Vec::with_capacity(entries.len());
        for entry in entries {
            match OrderMessage::from_entry(entry) {
                Ok(message) => messages.push((message, entry)),
                Err(error) => {
                    self.reject(sale_id, entry, &PersistError::from(error))
                        .await?;
                    outcome.dead_lettered += 1;
                }
            }
        }
        if messages.is_empty() {
            return Ok(outcome);
        }
        let batch: Vec<OrderMessage> = messages.iter().map(|(m, _)| m.clone()).collect();
        let batch_error = match insert_orders(&self.db, sale_id, &batch).await {
            Ok(()) => {
                self.stream.acknowledge(sale_id, &batch).await?;
                outcome.persisted += batch.len();
                return Ok(outcome);
            }
            Err(error) => PersistError::from(error),
        };
        if !batch_error.is_permanent() {
            tracing::warn!(
                sale_id,
                messages = batch.len(),
                error = %error_chain(&batch_error),
                "cannot persist orders now; they stay queued and are retried"
            );
            let ids: Vec<&str> = batch.iter().map(|m| m.message_id.as_str()).collect();
            self.stream
                .record_failures(sale_id, &ids, &failure_note(&batch_error))
                .await?;
            outcome.failed += batch.len();
            return Ok(outcome);
        }
        tracing::warn!(
            sale_id,
            error = %error_chain(&batch_error),
            "batch insert broke a rule, trying messages one by one"
        );
        for (message, entry) in messages {
            let one = std::slice::from_ref(&message);
            match insert_orders(&self.db, sale_id, one)
                .await
                .map_err(PersistError::from)
            {
                Ok(()) => {
                    self.stream.acknowledge(sale_id, one).await?;
                    outcome.persisted += 1;
                }
                Err(error) if error.is_permanent() => {
                    self.reject(sale_id, entry, &error).await?;
                    outcome.dead_lettered += 1;
                }
                Err(error) => {
                    self.stream
                        .record_failures(sale_id, &[&message.message_id], &failure_note(&error))
                        .await?;
                    outcome.failed += 1;
                }
            }
        }
        Ok(outcome)
    }

    /// Retrying cannot fix this message: note why and dead-letter it now.
    async fn reject(
        &self,
        sale_id: i64,
        entry: &StreamId,
        error: &PersistError,
    ) -> Result<(), StoreError> {
        self.stream
            .record_failures(sale_id, &[&entry.id], &failure_note(error))
            .await?;
        self.dead_letters.bury(sale_id, entry, 1).await
    }

    /// Whether the last failure of a message was only Postgres being away.
    async fn failed_transiently(&self, sale_id: i64, message_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .stream
            .last_failure(sale_id, message_id)
            .await?
            .is_some_and(|note| note.starts_with(TRANSIENT)))
    }

    /// Consumes until `shutdown` is requested.
    ///
    /// The timers (the sales list, the reclaim, the pauses) are checked between
    /// reads rather than raced against them in a `select!` as `ExpirySweeper::run`
    /// does: a tick would cancel a blocking `XREADGROUP` whose messages Redis may
    /// already have delivered, leaving them pending until another worker reclaims
    /// them `min_idle` later. Only shutdown may cut a read short.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut connection: Option<RedisConnection> = None;
        let mut sales: Vec<i64> = Vec::new();
        let mut refreshed: Option<Instant> = None;
        let mut reclaimed = Instant::now();
        while !shutdown.is_requested() {
            if refreshed.is_none_or(|at| at.elapsed() >= self.settings.refresh) {
                match self.sales_to_consume().await {
                    Ok(ids) => sales = ids,
                    Err(error) => {
                        tracing::warn!(error = %error_chain(&error), "cannot list sales to consume")
                    }
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
                    Err(error) => tracing::warn!(
                        error = %error_chain(&error),
                        "order consumer cannot connect to Redis"
                    ),
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
                () = shutdown.requested() => break,
            };
            if let Err(error) = result {
                tracing::warn!(error = %error_chain(&error), "order consumer read failed");
                connection = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if reclaimed.elapsed() >= self.settings.min_idle.min(Duration::from_secs(5)) {
                for sale_id in &sales {
                    if let Err(error) = self.reclaim_once(*sale_id).await {
                        tracing::warn!(
                            sale_id,
                            error = %error_chain(&error),
                            "reclaiming idle order messages failed"
                        );
                    }
                }
                reclaimed = Instant::now();
            }
        }
        tracing::info!(consumer = %self.name, "order consumer stopped");
    }
}
