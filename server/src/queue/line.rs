//! A queue sale's line in Redis, as the request handlers use it: joining (one
//! constant-time script on the account's shard), looking an entry up, and the
//! board and draw every poll is answered from (read from Redis at most four
//! times a second per instance and sale, whatever the crowd).

use std::sync::Arc;
use std::time::Duration;

use app::api::SaleDraw;
use moka::future::Cache;
use redis::Script;

use super::board::{Board, Entry};
use super::token::LineSigner;
use crate::keys::{line_shard, RedisKeys};
use crate::redis_connection::RedisConnection;
use crate::store::StoreError;

/// How long an instance answers from a board before reading it again.
const BOARD_FRESH: Duration = Duration::from_millis(250);

/// The draw as its leader stored it (`{s:<id>}:q:draw`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct DrawRecord {
    pub secret: String,
    pub entries_digest: String,
    pub seed: String,
    pub entrants: u64,
    pub drawn_at_ms: i64,
}

/// The lines of every queue sale, as this instance reads them.
#[derive(Clone)]
pub struct Lines {
    redis: RedisConnection,
    keys: RedisKeys,
    signer: LineSigner,
    join: Arc<Script>,
    boards: Cache<i64, Arc<Board>>,
    draws: Cache<i64, Option<Arc<DrawRecord>>>,
    entrants: Cache<i64, Option<Arc<String>>>,
}

impl Lines {
    pub fn new(redis: RedisConnection, keys: RedisKeys, signer: LineSigner) -> Self {
        Self {
            redis,
            keys,
            signer,
            join: Arc::new(Script::new(include_str!("../../lua/line_join.lua"))),
            boards: Cache::builder()
                .time_to_live(BOARD_FRESH)
                .max_capacity(10_000)
                .build(),
            draws: Cache::builder()
                .time_to_live(Duration::from_secs(1))
                .max_capacity(10_000)
                .build(),
            entrants: Cache::builder()
                .time_to_live(Duration::from_secs(60))
                .max_capacity(64)
                .build(),
        }
    }

    pub(crate) fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    pub(crate) fn redis(&self) -> RedisConnection {
        self.redis.clone()
    }

    /// Signs entries, knows the draw secrets.
    pub(crate) fn signer(&self) -> &LineSigner {
        &self.signer
    }

    /// Puts `user_id` in the sale's line once; `(entry, true)` when this call
    /// put it there, `(earlier entry, false)` when it was there already.
    /// `joined_ms`: when a signed entry Redis lost says it joined (its place
    /// among later joins is kept; a pre-start one the draw missed goes first
    /// among the post-start ones).
    pub(crate) async fn join(
        &self,
        sale_id: i64,
        user_id: i64,
        starts_ms: i64,
        keep_until_ms: i64,
        address: &str,
        joined_ms: Option<i64>,
    ) -> Result<(Entry, bool), StoreError> {
        let mut redis = self.redis.clone();
        let reply: (String, String) = self
            .join
            .key(&self.keys.line_join_script(sale_id, line_shard(user_id)))
            .arg(user_id)
            .arg(starts_ms)
            .arg(keep_until_ms)
            .arg(address)
            .arg(joined_ms.map(|ms| ms.to_string()).unwrap_or_default())
            .invoke_async(&mut redis)
            .await?;
        let entry = Entry::parse(user_id, &reply.1)
            .ok_or_else(|| StoreError::Corrupt(format!("line entry `{}`", reply.1)))?;
        Ok((entry, reply.0 == "new"))
    }

    /// The account's entry and its drawn place, if it joined (one round trip
    /// to its shard).
    pub(crate) async fn entry(
        &self,
        sale_id: i64,
        user_id: i64,
    ) -> Result<Option<Entry>, StoreError> {
        let [entries, places] = self.keys.line_entry_pipeline(sale_id, line_shard(user_id));
        let mut redis = self.redis.clone();
        let (value, place): (Option<String>, Option<u64>) = redis::pipe()
            .hget(entries, user_id)
            .hget(places, user_id)
            .query_async(&mut redis)
            .await?;
        let Some(value) = value else {
            return Ok(None);
        };
        let mut entry = Entry::parse(user_id, &value)
            .ok_or_else(|| StoreError::Corrupt(format!("line entry `{value}`")))?;
        if entry.before_start {
            entry.drawn = place;
        }
        Ok(Some(entry))
    }

    /// The line's board, at most [`BOARD_FRESH`] old (one reader per sale).
    pub(crate) async fn board(&self, sale_id: i64) -> Result<Arc<Board>, StoreError> {
        let key = self.keys.line_board(sale_id);
        let redis = self.redis.clone();
        self.boards
            .try_get_with(sale_id, async move {
                let mut redis = redis;
                let json: Option<String> =
                    redis::cmd("GET").arg(key).query_async(&mut redis).await?;
                let board = match json {
                    Some(json) => serde_json::from_str(&json)
                        .map_err(|error| StoreError::Corrupt(format!("line board: {error}")))?,
                    None => Board::default(),
                };
                Ok::<_, StoreError>(Arc::new(board))
            })
            .await
            .map_err(StoreError::from)
    }

    /// The draw, once made.
    pub(crate) async fn draw_record(
        &self,
        sale_id: i64,
    ) -> Result<Option<Arc<DrawRecord>>, StoreError> {
        let key = self.keys.line_draw(sale_id);
        let redis = self.redis.clone();
        self.draws
            .try_get_with(sale_id, async move {
                let mut redis = redis;
                let json: Option<String> =
                    redis::cmd("GET").arg(key).query_async(&mut redis).await?;
                json.map(|json| {
                    serde_json::from_str(&json)
                        .map(Arc::new)
                        .map_err(|error| StoreError::Corrupt(format!("line draw: {error}")))
                })
                .transpose()
            })
            .await
            .map_err(StoreError::from)
    }

    /// What `GET /api/sales/{id}/draw` answers: the commitment always, the
    /// values once drawn; `counted` is the pre-start entrants so far.
    pub async fn published_draw(&self, sale_id: i64, counted: u64) -> Result<SaleDraw, StoreError> {
        let secret = self.signer.draw_secret(sale_id);
        let record = self.draw_record(sale_id).await?;
        Ok(SaleDraw {
            method: app::draw::METHOD.to_owned(),
            commitment: app::draw::hex(&app::draw::sha256(&secret)),
            revealed: record
                .as_ref()
                .map(|r| r.secret.clone())
                .unwrap_or_default(),
            entries_digest: record
                .as_ref()
                .map(|r| r.entries_digest.clone())
                .unwrap_or_default(),
            seed: record.as_ref().map(|r| r.seed.clone()).unwrap_or_default(),
            pre_start_entrants: record.as_ref().map_or(counted, |r| r.entrants),
            drawn_at_ms: record.as_ref().map(|r| r.drawn_at_ms),
            entrants_url: format!("/api/sales/{sale_id}/draw/entrants"),
        })
    }

    /// The pre-start entrants as the draw hashed them, once drawn.
    pub async fn entrants(&self, sale_id: i64) -> Result<Option<Arc<String>>, StoreError> {
        let key = self.keys.line_entrants(sale_id);
        let redis = self.redis.clone();
        let found = self
            .entrants
            .try_get_with(sale_id, async move {
                let mut redis = redis;
                let text: Option<String> =
                    redis::cmd("GET").arg(key).query_async(&mut redis).await?;
                Ok::<_, StoreError>(text.map(Arc::new))
            })
            .await
            .map_err(StoreError::from)?;
        if found.is_none() {
            // Not drawn yet: look again next time.
            self.entrants.invalidate(&sale_id).await;
        }
        Ok(found)
    }
}
