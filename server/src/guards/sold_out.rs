//! Local sold-out flags: once Redis has said "sold out" for a sale, this instance
//! answers 410 without asking again. Returned stock clears the flag on every
//! instance through Redis pub/sub (see [`listen_for_returns`]); the message is
//! written by [`clear_message`] and read back by [`parse_clear_message`].

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;

use crate::shutdown::Shutdown;

/// Sales this instance knows to be sold out.
#[derive(Clone, Default)]
pub struct SoldOutFlags {
    // A std Mutex: held for a hash lookup only, never across an await.
    sold_out: Arc<Mutex<HashSet<i64>>>,
}

impl SoldOutFlags {
    pub fn is_sold_out(&self, sale_id: i64) -> bool {
        self.sold_out.lock().is_ok_and(|set| set.contains(&sale_id))
    }

    pub fn mark_sold_out(&self, sale_id: i64) {
        if let Ok(mut set) = self.sold_out.lock() {
            set.insert(sale_id);
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

/// Listens on the sold-out channel and clears flags until `shutdown`; reconnects
/// after a lost connection (and then clears every flag, since messages may have
/// been missed while away).
pub async fn listen_for_returns(
    client: redis::Client,
    channel: String,
    flags: SoldOutFlags,
    mut shutdown: Shutdown,
) {
    while !shutdown.is_requested() {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let mut pubsub = match subscribed.await {
            Ok(pubsub) => pubsub,
            Err(error) => {
                tracing::warn!(error = %crate::store::error_chain(&error), "cannot subscribe to sold-out notices");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.requested() => return,
                }
            }
        };
        flags.clear_all();
        let mut messages = pubsub.on_message();
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break };
                    let payload: String = message.get_payload().unwrap_or_default();
                    if let Some(sale_id) = parse_clear_message(&payload) {
                        flags.clear(sale_id);
                    }
                }
                _ = shutdown.requested() => return,
            }
        }
    }
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
    fn flags_clear_one_sale_or_all() {
        let flags = SoldOutFlags::default();
        flags.mark_sold_out(1);
        flags.mark_sold_out(2);
        flags.clear(1);
        assert!(!flags.is_sold_out(1) && flags.is_sold_out(2));
        flags.clear_all();
        assert!(!flags.is_sold_out(2));
    }
}
