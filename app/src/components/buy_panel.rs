//! The buy button and everything it goes through at the busiest second: waiting
//! for the start on the server's clock, the CAPTCHA (proof of work solved here in
//! WASM, in slices so the page stays responsive; or a picture to read), the
//! ticket, the buy — with one request in flight at a time and a cool-down after
//! every refusal (at least `Retry-After`). The button always says what is going on.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::account::use_account;
use crate::api::{Sale, SaleState};
use crate::client;
use crate::components::sale_clock::use_sale_clock;
use crate::components::{Countdown, StockBar};

mod flow;
use flow::{attempt, ticket_and_buy};

/// Where the shopper's attempt stands.
#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Idle,
    Challenge,
    /// Proof of work: nonces tried so far, out of about `expected`.
    Solving {
        tried: u64,
        expected: u64,
    },
    /// A picture to read and type.
    Reading {
        captcha_id: String,
        image: String,
    },
    Buying,
    /// Refused for now; the button wakes up at `until_ms` (device clock).
    CoolingDown {
        until_ms: f64,
        message: String,
    },
    SoldOut,
    LimitReached,
    Ended,
    NotEligible(String),
    NeedLogin,
    Won(String),
}

/// The buy panel of a sale page.
#[component]
pub fn BuyPanel(sale: Sale) -> impl IntoView {
    let clock = use_sale_clock(sale.id);
    let account = use_account();
    let phase = RwSignal::new(Phase::Idle);
    let typed = RwSignal::new(String::new());
    let navigate = use_navigate();
    let sale_id = sale.id;
    let captcha = sale.captcha;

    // One attempt at a time: the handler only starts from a quiet phase.
    let start = {
        let navigate = navigate.clone();
        move || {
            let ready = matches!(phase.get_untracked(), Phase::Idle)
                || matches!(phase.get_untracked(), Phase::CoolingDown { until_ms, .. } if client::device_now_ms() >= until_ms);
            if !ready || clock.state() != Some(SaleState::Live) {
                return;
            }
            let navigate = navigate.clone();
            client::spawn(async move {
                attempt(sale_id, captcha, phase, clock, move |path: &str| {
                    navigate(path, NavigateOptions::default())
                })
                .await;
            });
        }
    };
    let submit_typed = move || {
        let Phase::Reading { captcha_id, .. } = phase.get_untracked() else {
            return;
        };
        let answer = typed.get_untracked();
        let navigate = navigate.clone();
        client::spawn(async move {
            ticket_and_buy(
                sale_id,
                captcha_id,
                answer,
                phase,
                clock,
                move |path: &str| navigate(path, NavigateOptions::default()),
            )
            .await;
        });
    };

    // Re-evaluated every tick of the clock, so cool-downs count down and the
    // button wakes at the start instant.
    let view_state = move || {
        let _tick = clock.server_now.get();
        let sale_state = clock.state();
        let phase = phase.get();
        let now = client::device_now_ms();
        button_state(&phase, sale_state, account.is_visitor(), now)
    };
    let label = move || view_state().0;
    let disabled = move || !view_state().1;
    let note = move || match phase.get() {
        Phase::NotEligible(message) => message,
        Phase::CoolingDown { message, .. } => message,
        Phase::LimitReached => "You already hold as many units as this sale allows.".into(),
        Phase::SoldOut => {
            "Every unit has been sold. Unpaid orders expire and return units, so look again later."
                .into()
        }
        _ => String::new(),
    };
    let reading = move || match phase.get() {
        Phase::Reading { image, .. } => Some(image),
        _ => None,
    };

    view! {
        <section class="buy-panel" aria-label="Buy">
            <Countdown clock starts_at_ms=sale.starts_at_ms ends_at_ms=sale.ends_at_ms/>
            <Show when=move || clock.status.with(Option::is_some)>
                <StockBar
                    left=Signal::derive(move || clock.status.with(|status| status.as_ref().map_or(0, |status| status.stock_left)))
                    stock=i64::from(sale.stock)
                />
            </Show>
            <p class="stock-left">
                {move || clock.status.get().map(|status| format!("{} of {} left", status.stock_left, sale.stock))}
            </p>
            {move || account.is_visitor().then(|| view! {
                <p class="login-hint">
                    <a href=format!("/login?next=/sales/{sale_id}")>"Log in"</a>
                    " or "
                    <a href=format!("/register?next=/sales/{sale_id}")>"create an account"</a>
                    " to buy."
                </p>
            })}
            // Logged in, yet the server no longer knows the session (logged out
            // elsewhere, or lost in an incident): say so, and how to go on.
            {move || (!account.is_visitor() && matches!(phase.get(), Phase::NeedLogin)).then(|| view! {
                <p class="login-hint session-ended" role="alert">
                    "Your session has ended. "
                    <a href=format!("/login?next=/sales/{sale_id}")>"Log in again"</a>
                    " to buy; your orders are kept."
                </p>
            })}
            {move || reading().map(|image| {
                let submit_typed = submit_typed.clone();
                view! {
                    <form class="captcha-image" on:submit=move |event| {
                        event.prevent_default();
                        submit_typed();
                    }>
                        <img src=image alt="Characters to type" width="220" height="80"/>
                        <label for="captcha-answer">"Type the characters in the picture"</label>
                        <input
                            id="captcha-answer"
                            autocomplete="off"
                            autocapitalize="characters"
                            required
                            maxlength="12"
                            prop:value=move || typed.get()
                            on:input=move |event| typed.set(event_target_value(&event))
                        />
                        <button type="submit" class="secondary">"Continue"</button>
                    </form>
                }
            })}
            <button
                class="buy-button"
                data-phase=move || phase_name(&phase.get())
                disabled=disabled
                on:click=move |_| start()
            >
                {label}
            </button>
            <p class="buy-note" aria-live="polite">{note}</p>
        </section>
    }
}

/// A stable name of the phase for tests and styles.
fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Idle => "idle",
        Phase::Challenge => "challenge",
        Phase::Solving { .. } => "solving",
        Phase::Reading { .. } => "reading",
        Phase::Buying => "buying",
        Phase::CoolingDown { .. } => "cooling_down",
        Phase::SoldOut => "sold_out",
        Phase::LimitReached => "limit_reached",
        Phase::Ended => "ended",
        Phase::NotEligible(_) => "not_eligible",
        Phase::NeedLogin => "need_login",
        Phase::Won(_) => "won",
    }
}

/// The button's label and whether it can be pressed.
fn button_state(
    phase: &Phase,
    sale: Option<SaleState>,
    visitor: bool,
    now_ms: f64,
) -> (String, bool) {
    match phase {
        Phase::Challenge => ("Getting a challenge…".into(), false),
        Phase::Solving { tried, expected } => {
            let percent = (tried.saturating_mul(100) / (*expected).max(1)).min(99);
            (format!("Solving the puzzle… {percent}%"), false)
        }
        Phase::Reading { .. } => ("Type the characters first".into(), false),
        Phase::Buying => ("Buying…".into(), false),
        Phase::Won(_) => ("Won! Opening your order…".into(), false),
        Phase::SoldOut => ("Sold out".into(), false),
        Phase::LimitReached => ("Limit reached".into(), false),
        Phase::Ended => ("Sale ended".into(), false),
        Phase::NotEligible(_) => ("Not eligible".into(), false),
        Phase::NeedLogin => ("Log in to buy".into(), false),
        Phase::CoolingDown { until_ms, .. } if now_ms < *until_ms => {
            let secs = ((until_ms - now_ms) / 1000.0).ceil() as i64;
            (format!("Busy — try again in {secs} s"), false)
        }
        Phase::Idle | Phase::CoolingDown { .. } => match sale {
            None => ("Loading…".into(), false),
            Some(SaleState::Scheduled) => ("Waiting for the start".into(), false),
            Some(SaleState::Live) if visitor => ("Log in to buy".into(), false),
            Some(SaleState::Live) => ("Buy now".into(), true),
            Some(SaleState::SoldOut) => ("Sold out".into(), false),
            Some(SaleState::Ended) => ("Sale ended".into(), false),
            Some(SaleState::Paused) => ("Paused".into(), false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_button_sleeps_through_a_cool_down_and_wakes_after_it() {
        let cooling = Phase::CoolingDown {
            until_ms: 10_000.0,
            message: String::new(),
        };
        let (label, enabled) = button_state(&cooling, Some(SaleState::Live), false, 7_100.0);
        assert_eq!(
            (label.as_str(), enabled),
            ("Busy — try again in 3 s", false)
        );
        let (label, enabled) = button_state(&cooling, Some(SaleState::Live), false, 10_000.0);
        assert_eq!((label.as_str(), enabled), ("Buy now", true));
    }

    #[test]
    fn the_button_is_pressable_only_while_live_and_idle() {
        let idle = Phase::Idle;
        assert!(!button_state(&idle, Some(SaleState::Scheduled), false, 0.0).1);
        assert!(!button_state(&idle, None, false, 0.0).1);
        assert!(
            !button_state(&idle, Some(SaleState::Live), true, 0.0).1,
            "visitors log in first"
        );
        assert!(button_state(&idle, Some(SaleState::Live), false, 0.0).1);
        for busy in [
            Phase::Challenge,
            Phase::Buying,
            Phase::SoldOut,
            Phase::LimitReached,
        ] {
            assert!(
                !button_state(&busy, Some(SaleState::Live), false, 0.0).1,
                "{busy:?}"
            );
        }
        let solving = Phase::Solving {
            tried: 50,
            expected: 100,
        };
        assert_eq!(
            button_state(&solving, Some(SaleState::Live), false, 0.0).0,
            "Solving the puzzle… 50%"
        );
    }
}
