//! The Redis side of a sale: loading its stock and rules before it starts, the
//! atomic reserve (`lua/reserve.lua`), and the exactly-once return of units
//! (`lua/return_units.lua`).

use std::collections::HashSet;
use std::sync::Arc;

use crate::redis_connection::RedisConnection;
use app::api::Sale;
use redis::Script;

use crate::keys::RedisKeys;
use crate::lua::{charging_script, rules_script};
use crate::orders::message::{QueuedEntry, CONSUMER_GROUP};
use crate::store::StoreError;

/// What the reserve script decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// Units taken; the order message is in the stream.
    Reserved {
        message_id: String,
        created_ms: i64,
        pay_before_ms: i64,
        seq: i64,
    },
    /// This ticket had reserved `order_id` already (a retried buy).
    Again {
        order_id: String,
    },
    /// The buyer's or the sale's rate bucket is empty: retry after `wait_us`.
    RateLimited {
        wait_us: u64,
    },
    /// The buyer's last order of this sale lapsed or was cancelled a moment
    /// ago: they may reserve again after `wait_ms`.
    CoolingDown {
        wait_ms: i64,
    },
    /// The buyer made every reservation they may (`made` of them).
    ReservationsUsed {
        made: i64,
    },
    NotStarted,
    Ended,
    Paused,
    SoldOut,
    LimitReached,
    /// The sale was never loaded into Redis.
    UnknownSale,
}

/// One buyer's part of a sale's books, as Postgres has it (for a rebuild).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holding {
    pub user_id: i64,
    /// Units in active orders plus closed orders whose units are not back yet
    /// (what the `buyers` hash counts until a return).
    pub units: i64,
    /// The buyer's highest order sequence number.
    pub seq: i64,
    /// When the buyer's last order that lapsed or was cancelled closed.
    pub released_ms: Option<i64>,
}

/// Who gave units back: whether the buyer waits before reserving again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnedBy {
    /// The buyer let the order lapse or cancelled it: a cool-down starts.
    Buyer,
    /// An operator released a reservation that was never saved: no cool-down.
    Operator,
}

/// What stops one account from holding a sale's units over and over: each
/// order that lapses unpaid or is cancelled starts a cool-down before that
/// buyer may reserve the sale again, and a buyer makes at most the sale's limit
/// plus `spare_reservations` reservations of one sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rebuying {
    pub cooldown_ms: i64,
    pub spare_reservations: u32,
}

impl Default for Rebuying {
    fn default() -> Self {
        Self {
            cooldown_ms: 5 * 60 * 1000,
            spare_reservations: 2,
        }
    }
}

/// What loading an edit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loaded {
    Loaded,
    /// The sale has started (Redis' clock) or someone reserved: nothing written.
    Started,
    /// Redis does not hold the sale: rebuild it, then try again.
    Missing,
}

/// What returning an order's units did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// The units went back now.
    Now,
    /// This order had returned them before (a retry, or two sweepers racing).
    Before,
    /// Redis has lost the sale: rebuild it first (`sales::rebuild`).
    SaleMissing,
}

/// What Redis holds about a sale's units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RedisBooks {
    pub stock_left: Option<i64>,
    pub queued_units: i64,
    pub buyer_units: i64,
}

/// Stock and rules of sales in Redis.
#[derive(Clone)]
pub struct SaleStock {
    redis: RedisConnection,
    keys: RedisKeys,
    reserve: Arc<Script>,
    give_back: Arc<Script>,
    rebuild: Arc<Script>,
    load: Arc<Script>,
    retire: Arc<Script>,
    holders: Arc<Script>,
    rebuying: Rebuying,
}

impl SaleStock {
    pub fn new(redis: RedisConnection, keys: RedisKeys) -> Self {
        Self {
            redis,
            keys,
            reserve: Arc::new(charging_script(include_str!("../../lua/reserve.lua"))),
            give_back: Arc::new(Script::new(include_str!("../../lua/return_units.lua"))),
            rebuild: Arc::new(rules_script(include_str!("../../lua/rebuild.lua"))),
            load: Arc::new(rules_script(include_str!("../../lua/load.lua"))),
            retire: Arc::new(Script::new(include_str!("../../lua/retire.lua"))),
            holders: Arc::new(Script::new(include_str!("../../lua/holders.lua"))),
            rebuying: Rebuying::default(),
        }
    }

    /// The same, with these rules for buying again (the default otherwise).
    pub fn with_rebuying(mut self, rebuying: Rebuying) -> Self {
        self.rebuying = rebuying;
        self
    }

    /// Lets every key of a settled sale expire after `linger`
    /// (`lua/retire.lua`); `false` while a reservation still waits in the queue.
    pub async fn retire(
        &self,
        sale_id: i64,
        linger: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let mut redis = self.redis.clone();
        let answer: String = self
            .retire
            .key(&self.keys.retire_script(sale_id))
            .arg(linger.as_millis() as u64)
            .invoke_async(&mut redis)
            .await?;
        Ok(answer == "retired")
    }

    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    /// Loads a new sale: its whole stock, its rules, and its order stream's
    /// consumer group. Called before the sale starts (creation, edits).
    pub async fn load(&self, sale: &Sale) -> Result<(), StoreError> {
        self.run_load("new", sale).await?;
        self.ensure_group(sale.id).await
    }

    /// Loads the new stock and rules of an edited sale, unless it has started on
    /// Redis' clock or anyone has reserved (`lua/load.lua`).
    pub async fn load_unstarted(&self, sale: &Sale) -> Result<Loaded, StoreError> {
        Ok(match self.run_load("edit", sale).await?.as_str() {
            "ok" => Loaded::Loaded,
            "started" => Loaded::Started,
            "missing" => Loaded::Missing,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "the load script answered `{other}`"
                )))
            }
        })
    }

    /// Makes Redis agree with `sale` as Postgres holds it (read under the row
    /// lock, so no edit is under way): an edit whose Redis write landed but
    /// whose commit did not (the instance crashed between them) is undone.
    /// Before the start, stock and rules; after it, the pause alone.
    /// `Some(true)` when something was put right, `None` when Redis lacks the sale.
    pub async fn heal(&self, sale: &Sale) -> Result<Option<bool>, StoreError> {
        Ok(match self.run_load("heal", sale).await?.as_str() {
            "same" => Some(false),
            "healed" => Some(true),
            "missing" => None,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "the load script answered `{other}`"
                )))
            }
        })
    }

    async fn run_load(&self, mode: &str, sale: &Sale) -> Result<String, StoreError> {
        let rules = Self::rules(sale);
        let mut invocation = self.load.prepare_invoke();
        invocation
            .key(&self.keys.load_script(sale.id))
            .arg(mode)
            .arg(sale.stock)
            .arg(rules.len());
        for (field, value) in &rules {
            invocation.arg(*field).arg(value);
        }
        let mut redis = self.redis.clone();
        Ok(invocation.invoke_async(&mut redis).await?)
    }

    /// What the reserve script checks, as the fields of the sale's `meta` hash.
    pub fn rules(sale: &Sale) -> Vec<(&'static str, String)> {
        vec![
            ("starts_ms", sale.starts_at_ms.to_string()),
            ("ends_ms", sale.ends_at_ms.to_string()),
            ("paused", if sale.paused { "1" } else { "0" }.to_owned()),
            ("limit", sale.per_user_limit.to_string()),
            (
                "pay_window_ms",
                (i64::from(sale.payment_window_secs) * 1000).to_string(),
            ),
            ("price_cents", sale.price_cents.to_string()),
            ("currency", sale.currency.code().to_owned()),
        ]
    }

    /// Updates what the reserve script checks: window, pause, limit, price.
    pub async fn load_rules(&self, sale: &Sale) -> Result<(), StoreError> {
        let mut command = redis::cmd("HSET");
        command.arg(self.keys.meta(sale.id));
        for (field, value) in Self::rules(sale) {
            command.arg(field).arg(value);
        }
        let mut redis = self.redis.clone();
        let _added: i64 = command.query_async(&mut redis).await?;
        Ok(())
    }

    /// Creates the consumer group (and the stream) unless it exists.
    pub async fn ensure_group(&self, sale_id: i64) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.keys.stream(sale_id))
            .arg(CONSUMER_GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut redis)
            .await;
        match created {
            Err(error) if error.code() != Some("BUSYGROUP") => Err(error.into()),
            _ => Ok(()),
        }
    }

    /// Runs the reserve script for `units` of `sale_id` for `user_id` under
    /// `order_id`, once per buy ticket (`ticket_tag`, living `ticket_ttl_ms`
    /// more), charged to the buyer's and the sale's rate buckets (`rates`, as
    /// [`crate::guards::rate_limit::RateLimiter::buy_rates`] gives them). A
    /// queue sale's buyer names the admission `batch` their ticket came from.
    #[allow(clippy::too_many_arguments)]
    pub async fn reserve(
        &self,
        sale_id: i64,
        user_id: i64,
        order_id: &str,
        units: i32,
        (ticket_tag, ticket_ttl_ms): (&str, i64),
        rates: [(u64, u64); 2],
        batch: Option<i64>,
    ) -> Result<Reservation, StoreError> {
        let mut redis = self.redis.clone();
        let mut invocation = self.reserve.prepare_invoke();
        invocation
            .key(&self.keys.reserve_script(sale_id, ticket_tag, user_id))
            .arg(user_id)
            .arg(order_id)
            .arg(units)
            .arg(ticket_ttl_ms.max(1));
        for (interval, tolerance) in rates {
            invocation.arg(interval).arg(tolerance);
        }
        invocation.arg(self.rebuying.spare_reservations);
        invocation.arg(batch.map(|batch| batch.to_string()).unwrap_or_default());
        let reply: Vec<String> = invocation.invoke_async(&mut redis).await?;
        let number = |index: usize| -> Result<i64, StoreError> {
            reply
                .get(index)
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("reserve script answered {reply:?}")))
        };
        Ok(match reply.first().map(String::as_str) {
            Some("ok") => Reservation::Reserved {
                message_id: reply.get(1).cloned().unwrap_or_default(),
                created_ms: number(2)?,
                pay_before_ms: number(3)?,
                seq: number(4)?,
            },
            Some("again") => Reservation::Again {
                order_id: reply.get(1).cloned().unwrap_or_default(),
            },
            Some("rate_limited") => Reservation::RateLimited {
                wait_us: number(1)?.unsigned_abs(),
            },
            Some("cooling_down") => Reservation::CoolingDown {
                wait_ms: number(1)?,
            },
            Some("reservations_used") => Reservation::ReservationsUsed { made: number(1)? },
            Some("not_started") => Reservation::NotStarted,
            Some("ended") => Reservation::Ended,
            Some("paused") => Reservation::Paused,
            Some("sold_out") => Reservation::SoldOut,
            Some("limit_reached") => Reservation::LimitReached,
            Some("unknown_sale") => Reservation::UnknownSale,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "reserve script answered {reply:?}"
                )))
            }
        })
    }

    /// The order a buy ticket reserved, if it did (while the ticket lives).
    pub async fn ticket_order(
        &self,
        sale_id: i64,
        ticket_tag: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut redis = self.redis.clone();
        Ok(redis::cmd("GET")
            .arg(self.keys.ticket(sale_id, ticket_tag))
            .query_async(&mut redis)
            .await?)
    }

    /// The buyers who hold (or held) units of a sold-out sale, the `buyers`
    /// hash's fields (`lua/holders.lua`); `None` when units are left or there
    /// are more than `at_most` buyers.
    pub async fn holders(
        &self,
        sale_id: i64,
        at_most: usize,
    ) -> Result<Option<HashSet<i64>>, StoreError> {
        let mut redis = self.redis.clone();
        let users: Option<Vec<i64>> = self
            .holders
            .key(&self.keys.holders_script(sale_id))
            .arg(at_most)
            .invoke_async(&mut redis)
            .await?;
        Ok(users.map(|users| users.into_iter().collect()))
    }

    /// Returns the units of a closed order, exactly once; when the buyer let it
    /// go, their cool-down starts with the return.
    pub async fn give_back(
        &self,
        sale_id: i64,
        order_id: &str,
        user_id: i64,
        units: i32,
        by: ReturnedBy,
    ) -> Result<Returned, StoreError> {
        let cooldown_ms = match by {
            ReturnedBy::Buyer => self.rebuying.cooldown_ms,
            ReturnedBy::Operator => 0,
        };
        let mut redis = self.redis.clone();
        let returned: i64 = self
            .give_back
            .key(&self.keys.return_script(sale_id))
            .arg(order_id)
            .arg(user_id)
            .arg(units)
            .arg(self.keys.notice_channel())
            .arg(clear_message(sale_id))
            .arg(cooldown_ms)
            .invoke_async(&mut redis)
            .await?;
        Ok(match returned {
            1 => Returned::Now,
            0 => Returned::Before,
            _ => Returned::SaleMissing,
        })
    }

    /// Writes a lost sale back (`lua/rebuild.lua`): its rules, `stock_left`, its
    /// buyers and their sequence numbers, its consumer group. `false` when the
    /// sale was there (nothing written).
    pub async fn rebuild(
        &self,
        sale: &Sale,
        stock_left: i64,
        holdings: &[Holding],
    ) -> Result<bool, StoreError> {
        let rules = Self::rules(sale);
        let mut invocation = self.rebuild.prepare_invoke();
        invocation
            .key(&self.keys.rebuild_script(sale.id))
            .arg(stock_left)
            .arg(CONSUMER_GROUP)
            .arg(rules.len());
        for (field, value) in &rules {
            invocation.arg(*field).arg(value);
        }
        for holding in holdings {
            let cool_until = holding
                .released_ms
                .filter(|_| self.rebuying.cooldown_ms > 0)
                .map_or(0, |released| released + self.rebuying.cooldown_ms);
            invocation
                .arg(holding.user_id)
                .arg(holding.units)
                .arg(holding.seq)
                .arg(cool_until);
        }
        let mut redis = self.redis.clone();
        let rebuilt: i64 = invocation.invoke_async(&mut redis).await?;
        Ok(rebuilt == 1)
    }

    /// Units left of each sale, `None` where a sale is not loaded. One `GET` per
    /// sale, sent together (the connection pipelines them): sales live in
    /// different cluster slots, where one `MGET` could not reach them all.
    pub async fn stock_left_of(&self, sale_ids: &[i64]) -> Result<Vec<Option<i64>>, StoreError> {
        futures_util::future::try_join_all(sale_ids.iter().map(|id| self.stock_left(*id))).await
    }

    /// Redis' side of the books, read atomically: stock left, units queued for
    /// persistence, and units held by buyers.
    pub async fn books(&self, sale_id: i64) -> Result<RedisBooks, StoreError> {
        let [stock, queued, buyers] = self.keys.books_transaction(sale_id);
        let mut redis = self.redis.clone();
        let (stock_left, queued, held): (Option<i64>, Vec<String>, Vec<i64>) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg(stock)
            .cmd("HVALS")
            .arg(queued)
            .cmd("HVALS")
            .arg(buyers)
            .query_async(&mut redis)
            .await?;
        let queued_units = queued
            .iter()
            .filter_map(|entry| QueuedEntry::parse(entry))
            .map(|entry| entry.units)
            .sum();
        Ok(RedisBooks {
            stock_left,
            queued_units,
            buyer_units: held.iter().sum(),
        })
    }

    /// Units left, `None` if the sale is not loaded.
    /// When the last unit of `sale_id` went (Redis' clock, ms), if it is sold
    /// out now: written by the reserve, removed by a return.
    pub async fn sold_out_at(&self, sale_id: i64) -> Result<Option<i64>, StoreError> {
        let mut redis = self.redis.clone();
        Ok(redis::cmd("HGET")
            .arg(self.keys.meta(sale_id))
            .arg("sold_out_ms")
            .query_async(&mut redis)
            .await?)
    }

    pub async fn stock_left(&self, sale_id: i64) -> Result<Option<i64>, StoreError> {
        let mut redis = self.redis.clone();
        Ok(redis::cmd("GET")
            .arg(self.keys.stock(sale_id))
            .query_async(&mut redis)
            .await?)
    }
}

/// The pub/sub message that clears a sale's sold-out flag on every instance,
/// published by `lua/return_units.lua` as it returns units (`crate::notices`
/// reads it back with [`parse_clear_message`]).
pub(crate) fn clear_message(sale_id: i64) -> String {
    format!("clear:{sale_id}")
}

/// The sale a [`clear_message`] is about; `None` for anything else.
pub(crate) fn parse_clear_message(payload: &str) -> Option<i64> {
    payload.strip_prefix("clear:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_message_names_its_sale() {
        assert_eq!(parse_clear_message(&clear_message(42)), Some(42));
        assert_eq!(parse_clear_message("clear:x"), None);
        assert_eq!(parse_clear_message("set:42"), None);
    }
}
