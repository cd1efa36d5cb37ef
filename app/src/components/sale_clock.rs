//! The server's clock and a sale's status, as seen from the browser.
//!
//! Server-rendered there is nothing (no per-user or per-second data, so the page
//! stays cacheable). After hydration the client samples
//! `GET /api/sales/{id}/status`, estimates the device clock's offset from the
//! round-trip midpoint, re-syncs now and then, and ticks on the server's second
//! boundaries with gloo-timers, so views switch at the server's instant.

use leptos::prelude::*;

use crate::api::{SaleState, SaleStatus};

/// How often the client re-samples the server clock and the stock while the
/// sale is not live (live: as often as the status says).
const RESYNC_MS: f64 = 30_000.0;

/// Milliseconds until the next status read, `random` in `[0, 1)`. While live,
/// every `live_refresh_ms` ± 25 %, so the stock shown keeps up with a sale
/// that sells out in seconds. Before the start, the first read after it is
/// spread over one live interval: the crowd that watched the countdown does
/// not ask all at the opening instant, when the buys arrive.
pub fn next_refresh_ms(status: &SaleStatus, server_now_ms: i64, random: f64) -> f64 {
    let live = f64::from(status.live_refresh_ms.max(500));
    let until_start = (status.starts_at_ms - server_now_ms) as f64;
    let open = server_now_ms < status.ends_at_ms
        && matches!(
            status.state,
            SaleState::Live | SaleState::SoldOut | SaleState::Scheduled
        );
    if !open {
        RESYNC_MS
    } else if until_start > RESYNC_MS {
        RESYNC_MS.min(until_start - RESYNC_MS).max(live)
    } else if until_start > 0.0 {
        until_start + random * live
    } else {
        live * (0.75 + 0.5 * random)
    }
}

/// Signals that follow one sale on the server's clock.
#[derive(Clone, Copy)]
pub struct SaleClock {
    /// The latest status from the server; `None` until the first answer.
    pub status: RwSignal<Option<SaleStatus>>,
    /// The server's clock now, updated every second; `None` until synced.
    pub server_now: RwSignal<Option<i64>>,
    /// Set to ask for a fresh status at once (e.g. after "sold out").
    pub resync: RwSignal<bool>,
}

impl SaleClock {
    /// Where the sale stands on the server's clock: the status as sampled, moved
    /// on by the clock across the start and end instants.
    pub fn state(&self) -> Option<SaleState> {
        let now = self.server_now.get()?;
        let status = self.status.get()?;
        Some(if now >= status.ends_at_ms {
            SaleState::Ended
        } else if now < status.starts_at_ms {
            if status.state == SaleState::Paused {
                SaleState::Paused
            } else {
                SaleState::Scheduled
            }
        } else if status.state == SaleState::Scheduled {
            // Sampled before the start; the clock says it has begun.
            SaleState::Live
        } else {
            status.state
        })
    }
}

/// Starts following `sale_id` (in the browser only) and returns the signals.
pub fn use_sale_clock(sale_id: i64) -> SaleClock {
    let clock = SaleClock {
        status: RwSignal::new(None),
        server_now: RwSignal::new(None),
        resync: RwSignal::new(false),
    };
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        leptos::task::spawn_local(run(sale_id, clock));
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = sale_id;
    clock
}

/// The browser side: sample the server clock, then tick until the view is gone
/// (a disposed signal refuses the write and the loop ends).
#[cfg(feature = "hydrate")]
async fn run(sale_id: i64, clock: SaleClock) {
    use crate::clock::{best_offset_ms, ms_until_next_tick, ClockSample};
    use gloo_timers::future::TimeoutFuture;

    let mut samples: Vec<ClockSample> = Vec::new();
    let mut next_sync = f64::NEG_INFINITY;
    loop {
        let forced = clock.resync.try_get_untracked() == Some(true);
        if forced || js_sys::Date::now() >= next_sync {
            if forced && clock.resync.try_set(false).is_some() {
                return;
            }
            if let Some((sample, fresh)) = fetch_status(sale_id).await {
                let wait = next_refresh_ms(&fresh, fresh.server_time_ms, js_sys::Math::random());
                next_sync = sample.received_ms + wait;
                samples.push(sample);
                if samples.len() > 5 {
                    samples.remove(0);
                }
                if clock.status.try_set(Some(fresh)).is_some() {
                    return;
                }
            }
        }
        let Some(offset) = best_offset_ms(&samples) else {
            // The server did not answer: try again shortly.
            TimeoutFuture::new(2_000).await;
            continue;
        };
        let now = (js_sys::Date::now() + offset).round() as i64;
        if clock.server_now.try_set(Some(now)).is_some() {
            return;
        }
        let Some(Some(current)) = clock.status.try_get_untracked() else {
            return;
        };
        let target = if now < current.starts_at_ms {
            current.starts_at_ms
        } else {
            current.ends_at_ms
        };
        // Never sleep past a second: the view shows seconds (and cool-downs).
        TimeoutFuture::new(ms_until_next_tick(target - now).min(1_000)).await;
    }
}

/// One clock sample plus the status that carried it; `None` when the server did
/// not answer with a status.
#[cfg(feature = "hydrate")]
async fn fetch_status(sale_id: i64) -> Option<(crate::clock::ClockSample, SaleStatus)> {
    let sent_ms = js_sys::Date::now();
    let reply = crate::client::get::<SaleStatus>(&crate::endpoints::status_path(sale_id))
        .await
        .ok()?;
    // The answer is a few hundred bytes: reading it adds nothing worth
    // separating from the round trip.
    let received_ms = js_sys::Date::now();
    let status = reply.body.ok()?;
    let sample = crate::clock::ClockSample {
        sent_ms,
        server_time_ms: status.server_time_ms,
        received_ms,
    };
    Some((sample, status))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: SaleState, starts_at_ms: i64) -> SaleStatus {
        SaleStatus {
            state,
            server_time_ms: 0,
            starts_at_ms,
            ends_at_ms: starts_at_ms + 3_600_000,
            stock_left: 5,
            live_refresh_ms: 3_000,
            sold_out_at_ms: None,
        }
    }

    #[test]
    fn a_live_sale_is_read_every_few_seconds_not_all_at_once() {
        let live = status(SaleState::Live, -10_000);
        assert_eq!(next_refresh_ms(&live, 0, 0.0), 2_250.0);
        assert_eq!(next_refresh_ms(&live, 0, 0.999_999).round(), 3_750.0);
        // Sold out: units may come back from unpaid orders; keep reading.
        let sold_out = status(SaleState::SoldOut, -10_000);
        assert!(next_refresh_ms(&sold_out, 0, 0.5) <= 3_750.0);
    }

    #[test]
    fn the_first_read_after_the_start_is_spread_over_one_interval() {
        let soon = status(SaleState::Scheduled, 20_000);
        assert_eq!(next_refresh_ms(&soon, 0, 0.0), 20_000.0);
        assert_eq!(next_refresh_ms(&soon, 0, 0.5), 21_500.0);
        // Far off: the slow pace, waking in time to spread the first read.
        let later = status(SaleState::Scheduled, 45_000);
        assert_eq!(next_refresh_ms(&later, 0, 0.5), 15_000.0);
        let much_later = status(SaleState::Scheduled, 3_600_000);
        assert_eq!(next_refresh_ms(&much_later, 0, 0.5), RESYNC_MS);
    }

    #[test]
    fn an_ended_or_paused_sale_is_read_slowly() {
        let ended = status(SaleState::Ended, -7_200_000);
        assert_eq!(next_refresh_ms(&ended, 0, 0.5), RESYNC_MS);
        let paused = status(SaleState::Paused, -10_000);
        assert_eq!(next_refresh_ms(&paused, 0, 0.5), RESYNC_MS);
    }
}
