//! The countdown to a sale's start (then to its end), on the server's clock.
//! Server-rendered it shows the start instant in UTC (true for everyone,
//! cacheable); after hydration it ticks (see [`super::sale_clock`]).

use leptos::prelude::*;

use crate::api::SaleState;
use crate::clock::{format_remaining, format_utc};
use crate::components::sale_clock::SaleClock;

/// A ticking countdown driven by `clock`.
#[component]
pub fn Countdown(clock: SaleClock, starts_at_ms: i64, ends_at_ms: i64) -> impl IntoView {
    let state = move || clock.state();
    let label = move || match state() {
        None => "Starts".to_string(),
        Some(SaleState::Scheduled) => "Starts in".to_string(),
        Some(SaleState::Live) => "Ends in".to_string(),
        Some(other) => other.label().to_string(),
    };
    let value = move || match (state(), clock.server_now.get()) {
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
