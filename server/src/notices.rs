//! Notices every instance must hear at once, over one Redis pub/sub channel
//! (`RedisKeys::notice_channel`): a sale's sold-out flag to clear (its units came
//! back; `lua/return_units.lua` publishes it) and a session that ended (a
//! logout). Each kind's message belongs to its owner
//! ([`crate::sales::stock::clear_message`],
//! `accounts::sessions::ended_message`); this module only listens and hands
//! them over.
//!
//! Pub/sub delivers at most once: whenever the link drops, or a heartbeat
//! fails, every flag and every kept session is forgotten, since notices may
//! have been missed. Both are copies of what Redis holds, so forgetting them
//! costs a read, never a wrong answer.

use std::time::Duration;

use redis::PushKind;

use crate::accounts::sessions::{parse_ended_message, SessionStore};
use crate::guards::sold_out::SoldOutFlags;
use crate::redis_connection::RedisClient;
use crate::sales::stock::parse_clear_message;
use crate::shutdown::Shutdown;

/// How often the listener pings its connection: a dropped link is noticed (and
/// re-established, subscription included) within this long.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// What the notices keep up to date on this instance.
#[derive(Clone)]
pub(crate) struct Listeners {
    pub flags: SoldOutFlags,
    pub sessions: SessionStore,
}

impl Listeners {
    /// Acts on one message's payload; anything unknown is ignored.
    async fn hear(&self, payload: &str) {
        if let Some(sale_id) = parse_clear_message(payload) {
            self.flags.clear(sale_id);
        } else if let Some(session) = parse_ended_message(payload) {
            self.sessions.forget(&session).await;
        }
    }

    /// Forgets every copy notices keep fresh.
    fn forget_all(&self) {
        self.flags.clear_all();
        self.sessions.forget_all();
    }
}

/// Listens on `channel` until `shutdown`, re-subscribing whenever the link drops.
pub(crate) async fn listen(
    client: RedisClient,
    channel: String,
    listeners: Listeners,
    mut shutdown: Shutdown,
) {
    while !shutdown.is_requested() {
        let (pushes, mut received) = tokio::sync::mpsc::unbounded_channel();
        let mut connection = match client.subscribe(&channel, pushes).await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(error = %crate::store::error_chain(&error), "cannot subscribe to notices");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = shutdown.requested() => return,
                }
            }
        };
        listeners.forget_all();
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                push = received.recv() => {
                    let Some(push) = push else { break };
                    match push.kind {
                        PushKind::Message => {
                            if let Some(payload) = payload_of(&push.data) {
                                listeners.hear(&payload).await;
                            }
                        }
                        PushKind::Disconnection => listeners.forget_all(),
                        _ => {}
                    }
                }
                _ = heartbeat.tick() => {
                    let ping: redis::RedisResult<String> =
                        redis::cmd("PING").query_async(&mut connection).await;
                    if ping.is_err() {
                        listeners.forget_all();
                    }
                }
                _ = shutdown.requested() => return,
            }
        }
    }
}

/// The payload of a pub/sub message (`[channel, payload]`).
fn payload_of(data: &[redis::Value]) -> Option<String> {
    redis::from_redis_value_ref(data.get(1)?).ok()
}
