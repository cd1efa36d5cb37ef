//! The countdown to a sale's start (then to its end), on the server's clock.
//! Server-rendered it shows the start instant (see [`super::LocalTime`]: UTC,
//! true for everyone and cacheable, shown in the reader's zone before the first
//! paint); after hydration it ticks (see [`super::sale_clock`]).

use leptos::prelude::*;

use crate::api::SaleState;
use crate::client;
use crate::clock::{format_remaining, format_utc_seconds};
use crate::components::local_time::iso_utc;
use crate::components::sale_clock::SaleClock;
use crate::components::LocalTime;

/// A ticking countdown driven by `clock`.
#[component]
pub fn Countdown(clock: SaleClock, starts_at_ms: i64, ends_at_ms: i64) -> impl IntoView {
    let state = move || clock.state();
    let sold_out_at = move || clock.status.with(|status| status.as_ref()?.sold_out_at_ms);
    let label = move || match state() {
        None => "Starts".to_string(),
        Some(SaleState::Scheduled) => "Starts in".to_string(),
        Some(SaleState::Live) => "Ends in".to_string(),
        Some(SaleState::SoldOut) if sold_out_at().is_some() => "Sold out at".to_string(),
        Some(other) => other.label().to_string(),
    };
    let value = move || {
        match (state(), clock.server_now.get()) {
        (None, _) | (_, None) => view! { <LocalTime ms=starts_at_ms/> }.into_any(),
        (Some(SaleState::Scheduled), Some(now)) => format_remaining(starts_at_ms - now).into_any(),
        (Some(SaleState::Live), Some(now)) => format_remaining(ends_at_ms - now).into_any(),
        (Some(SaleState::SoldOut), Some(_)) => match sold_out_at() {
            Some(at) => view! { <time class="sold-out-at" datetime=iso_utc(&format_utc_seconds(at)) title=format_utc_seconds(at)>{client::local_clock(at)}</time> }.into_any(),
            None => ().into_any(),
        },
        (Some(_), Some(_)) => ().into_any(),
    }
    };
    view! {
        <p
            class="countdown"
            data-state=move || state().map(SaleState::as_str).unwrap_or("unsynced")
            // A timer is not read out on every tick; the buy panel announces
            // the moments that matter (see `buy_panel::announcement`).
            role="timer"
        >
            <span class="countdown-label">{label}</span>
            " "
            <span class="countdown-value">{value}</span>
        </p>
    }
}
