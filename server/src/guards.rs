//! Cheap guards in front of the buy path, all in this process's memory:
//! - [`Admission`]: a cap on buy requests in flight; beyond it the answer is an
//!   immediate 503 `busy` instead of a queue that would time out anyway.
//! - [`SoldOutFlags`]: once Redis has said "sold out" for a sale, this instance
//!   answers 410 without asking again. Returned stock clears the flag on every
//!   instance through Redis pub/sub (see [`listen_for_returns`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// Buy requests this instance works on at once.
#[derive(Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
}

impl Admission {
    /// `max_in_flight` of 0 drains the instance: it answers every buy `busy`
    /// (the load balancer's retries go to the other instances).
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
        }
    }

    /// A slot, or `None` when all are taken (answer `busy`).
    pub fn try_admit(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}

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
}

/// The pub/sub message that clears a sale's flag everywhere.
pub fn clear_message(sale_id: i64) -> String {
    format!("clear:{sale_id}")
}

/// Listens on the sold-out channel and clears flags until `shutdown`; reconnects
/// after a lost connection (and then clears every flag, since messages may have
/// been missed while away).
pub async fn listen_for_returns(
    client: redis::Client,
    channel: String,
    flags: SoldOutFlags,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let mut pubsub = match subscribed.await {
            Ok(pubsub) => pubsub,
            Err(error) => {
                tracing::warn!("cannot subscribe to sold-out notices: {error}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.changed() => return,
                }
            }
        };
        if let Ok(mut set) = flags.sold_out.lock() {
            set.clear();
        }
        let mut messages = pubsub.on_message();
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break };
                    let payload: String = message.get_payload().unwrap_or_default();
                    if let Some(sale_id) = payload.strip_prefix("clear:").and_then(|id| id.parse().ok()) {
                        flags.clear(sale_id);
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}
