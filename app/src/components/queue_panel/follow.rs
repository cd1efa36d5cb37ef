//! Following a shopper's place in the line: joining it and polling no sooner
//! than the server says. Its own WASM chunk (`#[leptos::lazy]`), so the page of
//! a race sale carries none of it.

use leptos::prelude::*;

use crate::api::{QueueStanding, QueueState};
use crate::client::{self, Reply};
use crate::endpoints;

/// What the panel shows, as the poll and the join write it.
#[derive(Clone, Copy)]
pub(super) struct LineSignals {
    pub standing: RwSignal<Option<QueueStanding>>,
    /// How far back the shopper stood when first seen waiting: the bar's 0 %.
    pub first_ahead: RwSignal<Option<u64>>,
    pub refusal: RwSignal<Option<String>>,
    pub joining: RwSignal<bool>,
    /// The current poll loop's number: a newer loop ends the older.
    pub generation: StoredValue<u32>,
}

/// Polls the shopper's standing, first after `first_wait_ms`, then as the
/// server says, until the panel goes away, a newer loop starts, or the line
/// is over for this shopper (or they are not in it).
#[leptos::lazy]
pub(super) async fn follow(sale_id: i64, first_wait_ms: u32, signals: LineSignals) {
    let Some(mine) = signals.generation.try_update_value(|current| {
        *current += 1;
        *current
    }) else {
        return;
    };
    let mut wait = first_wait_ms;
    loop {
        if wait > 0 {
            client::sleep_ms(wait.max(1_000)).await;
        }
        if signals.generation.try_get_value() != Some(mine) {
            return;
        }
        wait = match endpoints::queue_standing(sale_id).await {
            Ok(Reply { body: Ok(now), .. }) => {
                let wait = now.poll_after_ms;
                let over = matches!(
                    now.state,
                    QueueState::NotJoined
                        | QueueState::SoldOut
                        | QueueState::Ended
                        | QueueState::Lapsed
                );
                // The bar starts where the shopper first stood with a known place.
                if now.state == QueueState::Waiting
                    && (now.place.is_some() || now.joined_before_start == Some(false))
                    && signals.first_ahead.try_get_untracked().flatten().is_none()
                {
                    let _ = signals.first_ahead.try_set(Some(now.ahead.max(1)));
                }
                if signals.standing.try_set(Some(now)).is_some() || over {
                    return;
                }
                wait
            }
            Ok(reply) => reply.retry_after_secs.unwrap_or(5) * 1000,
            Err(_) => 5_000,
        };
    }
}

/// Joins the line, then follows the place from there.
#[leptos::lazy]
pub(super) async fn join(sale_id: i64, signals: LineSignals) {
    match endpoints::join_queue(sale_id).await {
        Ok(Reply { body: Ok(now), .. }) => {
            let _ = signals.refusal.try_set(None);
            if now.joined_before_start == Some(false) {
                let _ = signals.first_ahead.try_set(Some(now.ahead.max(1)));
            }
            let wait = now.poll_after_ms;
            let _ = signals.standing.try_set(Some(now));
            let _ = signals.joining.try_set(false);
            follow_after(sale_id, wait, signals).await;
            return;
        }
        Ok(Reply {
            body: Err(error), ..
        }) => {
            let _ = signals.refusal.try_set(Some(error.message));
        }
        Err(_) => {
            let _ = signals
                .refusal
                .try_set(Some("No answer from the shop: try again.".into()));
        }
    }
    let _ = signals.joining.try_set(false);
}

/// [`follow`] from within this chunk.
async fn follow_after(sale_id: i64, wait: u32, signals: LineSignals) {
    follow(sale_id, wait, signals).await;
}
