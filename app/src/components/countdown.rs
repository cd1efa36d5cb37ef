//! The countdown to a sale's start (then to its end), on the server's clock.
//!
//! Server-rendered, it shows the start instant in UTC (true for everyone, cacheable).
//! After hydration it samples `GET /api/sales/{id}/status`, estimates the offset of
//! the device clock from the round-trip midpoint, re-syncs now and then, and ticks
//! with gloo-timers on the server's second boundaries.

use leptos::prelude::*;

use crate::api::{SaleState, SaleStatus};
use crate::clock::{format_remaining, format_utc};

/// How often the client re-samples the server clock and the stock.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const RESYNC_MS: f64 = 30_000.0;

/// A ticking countdown for one sale. `server_now` stays `None` until the client
/// has synced with the server clock; until then the start instant is shown.
#[component]
pub fn Countdown(sale_id: i64, starts_at_ms: i64, ends_at_ms: i64) -> impl IntoView {
    let status = RwSignal::new(None::<SaleStatus>);
    let server_now = RwSignal::new(None::<i64>);

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        leptos::task::spawn_local(run(sale_id, status, server_now));
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = sale_id;

    let state = move || {
        let now = server_now.get()?;
        let status = status.get()?;
        Some(if now >= ends_at_ms {
            SaleState::Ended
        } else if now < starts_at_ms {
            SaleState::Scheduled
        } else if status.state == SaleState::Scheduled {
            // The status was sampled before the start; the clock says it has begun.
            SaleState::Live
        } else {
            status.state
        })
    };
    let label = move || match state() {
        None => "Starts".to_string(),
        Some(SaleState::Scheduled) => "Starts in".to_string(),
        Some(SaleState::Live) => "Ends in".to_string(),
        Some(other) => other.label().to_string(),
    };
    let value = move || match (state(), server_now.get()) {
        (None, _) | (_, None) => format_utc(starts_at_ms),
        (Some(SaleState::Scheduled), Some(now)) => format_remaining(starts_at_ms - now),
        (Some(SaleState::Live), Some(now)) => format_remaining(ends_at_ms - now),
        (Some(_), Some(_)) => String::new(),
    };

    view! {
        <p
            class="countdown"
            data-state=move || state().map(SaleState::as_str).unwrap_or("unsynced")
            aria-live="polite"
        >
            <span class="countdown-label">{label}</span>
            " "
            <span class="countdown-value">{value}</span>
        </p>
    }
}

/// The browser side: sample the server clock, then tick until the view is gone
/// (a disposed signal refuses the write and the loop ends).
#[cfg(feature = "hydrate")]
async fn run(
    sale_id: i64,
    status: RwSignal<Option<SaleStatus>>,
    server_now: RwSignal<Option<i64>>,
) {
    use crate::clock::{best_offset_ms, ms_until_next_tick, ClockSample};
    use gloo_timers::future::TimeoutFuture;

    let mut samples: Vec<ClockSample> = Vec::new();
    let mut last_sync = f64::NEG_INFINITY;
    loop {
        if js_sys::Date::now() - last_sync >= RESYNC_MS {
            if let Some((sample, fresh)) = fetch_status(sale_id).await {
                last_sync = sample.received_ms;
                samples.push(sample);
                if samples.len() > 5 {
                    samples.remove(0);
                }
                if status.try_set(Some(fresh)).is_some() {
                    return;
                }
            }
        }
        let Some(offset) = best_offset_ms(&samples) else {
            // The server did not answer: try again shortly, keep the UTC label.
            TimeoutFuture::new(2_000).await;
            continue;
        };
        let now = (js_sys::Date::now() + offset).round() as i64;
        if server_now.try_set(Some(now)).is_some() {
            return;
        }
        let Some(current) = status.get_untracked() else {
            return;
        };
        let target = if now < current.starts_at_ms {
            current.starts_at_ms
        } else {
            current.ends_at_ms
        };
        TimeoutFuture::new(ms_until_next_tick(target - now)).await;
    }
}

/// One clock sample plus the status that carried it; `None` when the server did
/// not answer with a status.
#[cfg(feature = "hydrate")]
async fn fetch_status(sale_id: i64) -> Option<(crate::clock::ClockSample, SaleStatus)> {
    let sent_ms = js_sys::Date::now();
    let response = gloo_net::http::Request::get(&format!("/api/sales/{sale_id}/status"))
        .send()
        .await
        .ok()?;
    let received_ms = js_sys::Date::now();
    if !response.ok() {
        return None;
    }
    let status: SaleStatus = response.json().await.ok()?;
    let sample = crate::clock::ClockSample {
        sent_ms,
        server_time_ms: status.server_time_ms,
        received_ms,
    };
    Some((sample, status))
}
