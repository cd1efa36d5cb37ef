//! Local sold-out flags: once Redis has said "sold out" for a sale, this instance
//! answers 410 without asking again. Returned stock clears the flag on every
//! instance through Redis pub/sub (see [`listen_for_returns`]); the message is
//! written by [`clear_message`] (published by `lua/return_units.lua` itself) and
//! read back by [`parse_clear_message`].
//!
//! A flag also lapses by itself after [`FLAG_TTL_MS`] on the application's
//! clock: a missed notice (a dead subscription, a `sold_out` answer that raced a
//! return) then costs at most that long of undersell, never the rest of the sale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::PushKind;

use crate::redis_connection::RedisClient;
use crate::shutdown::Shutdown;

/// How long a flag holds without Redis confirming it: short enough that a lost
/// clear costs little, long enough that a sold-out crowd asks Redis about once
/// per instance and interval.
pub const FLAG_TTL_MS: i64 = 2_000;

/// Sales this instance knows to be sold out, each with when it learnt so.
#[derive(Clone, Default)]
pub struct SoldOutFlags {
    // A std Mutex: held for a hash lookup only, never across an await.
    sold_out: Arc<Mutex<HashMap<i64, i64>>>,
}

impl SoldOutFlags {
    /// Whether `sale_id` was seen sold out less than [`FLAG_TTL_MS`] before `now_ms`.
    pub fn is_sold_out(&self, sale_id: i64, now_ms: i64) -> bool {
        self.sold_out.lock().is_ok_and(|flags| {
            flags
                .get(&sale_id)
                .is_some_and(|since| now_ms - since < FLAG_TTL_MS)
        })
    }

    /// Redis said "sold out" at `now_ms`.
    pub fn mark_sold_out(&self, sale_id: i64, now_ms: i64) {
        if let Ok(mut flags) = self.sold_out.lock() {
            flags.insert(sale_id, now_ms);
        }
    }

    pub fn clear(&self, sale_id: i64) {
        if let Ok(mut set) = self.sold_out.lock() {
            set.remove(&sale_id);
        }
    }

    /// Forgets every flag (after missing notices while disconnected).
    pub fn clear_all(&self) {
        if let Ok(mut set) = self.sold_out.lock() {
            set.clear();
        }
    }
}

/// The pub/sub message that clears a sale's flag everywhere.
pub fn clear_message(sale_id: i64) -> String {
    format!("clear:{sale_id}")
}

/// The sale a [`clear_message`] is about; `None` for anything else.
pub fn parse_clear_message(payload: &str) -> Option<i64> {
    payload.strip_prefix("clear:")?.parse().ok()
}

/// How often the listener pings its connection: a dropped link is noticed (and
/// re-established, subscription included) within this long.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Listens on the sold-out channel and clears flags until `shutdown`. Whenever
/// the link drops, every flag is cleared, since notices may have been missed.
pub async fn listen_for_returns(
    client: RedisClient,
    channel: String,
    flags: SoldOutFlags,
    mut shutdown: Shutdown,
) {
    while !shutdown.is_requested() {
        let (pushes, mut received) = tokio::sync::mpsc::unbounded_channel();
        let mut connection = match client.subscribe(&channel, pushes).await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(error = %crate::store::error_chain(&error), "cannot subscribe to sold-out notices");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.requested() => return,
                }
            }
        };
        flags.clear_all();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                push = received.recv() => {
                    let Some(push) = push else { break };
                    match push.kind {
                        PushKind::Message => {
                            if let Some(sale_id) = cleared_sale(&push.data) {
                                flags.clear(sale_id);
                            }
                        }
                        PushKind::Disconnection => flags.clear_all(),
                        _ => {}
                    }
                }
                _ = heartbeat.tick() => {
                    let ping: redis::RedisResult<String> =
                        redis::cmd("PING").query_async(&mut connection).await;
                    if ping.is_err() {
                        flags.clear_all();
                    }
                }
                _ = shutdown.requested() => return,
            }
        }
    }
}

/// The sale a pub/sub message (`[channel, payload]`) clears, if it is a clear.
fn cleared_sale(data: &[redis::Value]) -> Option<i64> {
    let payload: String = redis::from_redis_value_ref(data.get(1)?).ok()?;
    parse_clear_message(&payload)
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

    #[test]
    fn flags_clear_one_sale_or_all_and_lapse_by_themselves() {
        let flags = SoldOutFlags::default();
        flags.mark_sold_out(1, 0);
        flags.mark_sold_out(2, 0);
        flags.clear(1);
        assert!(!flags.is_sold_out(1, 1) && flags.is_sold_out(2, 1));
        assert!(!flags.is_sold_out(2, FLAG_TTL_MS), "unconfirmed, it lapses");
        flags.clear_all();
        assert!(!flags.is_sold_out(2, 1));
    }
}
