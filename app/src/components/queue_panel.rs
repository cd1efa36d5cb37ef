//! The waiting room of a `queue` sale on its page: the countdown to the line's
//! opening, "Join the line", then the shopper's place, a progress bar and an
//! honest chance while waiting (polled no sooner than the server says), and,
//! once let in, the buy panel with the admission's time limit. Leaving,
//! reloading or switching device keeps the place: the server holds it.

use leptos::prelude::*;

use crate::account::use_account;
use crate::api::{QueueStanding, QueueState, Sale};
use crate::client;
use crate::components::sale_clock::use_sale_clock;
use crate::components::{BuyPanel, Countdown, LocalTime};

mod follow;

/// The waiting room of a queue sale, in place of the race to the button.
#[component]
pub fn QueuePanel(sale: Sale) -> AnyView {
    let clock = use_sale_clock(sale.id);
    let account = use_account();
    let sale_id = sale.id;
    let opens_at_ms = sale.queue_opens_at_ms.unwrap_or(sale.starts_at_ms);
    let (starts_at_ms, ends_at_ms) = (sale.starts_at_ms, sale.ends_at_ms);
    let standing = RwSignal::new(None::<QueueStanding>);
    let refusal = RwSignal::new(None::<String>);
    let joining = RwSignal::new(false);
    // How far back the shopper stood when first seen waiting: the bar's 0 %.
    let first_ahead = RwSignal::new(None::<u64>);
    // Each poll loop has a number; a newer loop (after joining) ends the older.
    let generation = StoredValue::new(0u32);
    let signals = follow::LineSignals {
        standing,
        first_ahead,
        refusal,
        joining,
        generation,
    };
    // The polling and joining code is its own chunk, fetched after hydration.
    let started = StoredValue::new(false);
    Effect::new(move |_| {
        if account.account().is_some() && !started.get_value() {
            started.set_value(true);
            client::spawn(follow::follow(sale_id, 0, signals));
        }
    });
    let join = move |_| {
        if !joining.get_untracked() {
            joining.set(true);
            client::spawn(follow::join(sale_id, signals));
        }
    };

    let state = move || standing.get().map(|s| s.state);
    let line_open = move || clock.server_now.get().is_some_and(|now| now >= opens_at_ms);
    let opens_in = move || {
        clock
            .server_now
            .get()
            .filter(|&now| now < opens_at_ms)
            .map(|now| {
                format!(
                    "The line opens in {}",
                    duration_words((opens_at_ms - now) / 1000)
                )
            })
    };
    let announced =
        Memo::new(move |_| standing.get().map(|s| announcement(&s)).unwrap_or_default());
    let admitted_now = Memo::new(move |_| state() == Some(QueueState::Admitted));
    // The admission's time limit, counting down on the server's clock.
    let time_left = move || {
        let until = standing.get()?.admitted_until_ms?;
        let secs = (until - clock.server_now.get()?).max(0) / 1000;
        Some(format!("{}:{:02} left to buy", secs / 60, secs % 60))
    };
    let progress = move || {
        let s = standing.get()?;
        let first = first_ahead.get()?;
        Some((first.saturating_sub(s.ahead) * 100 / first.max(1)).min(100))
    };

    view! {
        <section class="queue-panel" aria-label="Waiting room" data-state=move || state().map(QueueState::as_str).unwrap_or("unknown")>
            {move || opens_in().map(|text| view! { <p class="queue-opens">{text}</p> })}
            <Show when=move || !admitted_now.get()>
                <Countdown clock starts_at_ms=starts_at_ms ends_at_ms=ends_at_ms/>
            </Show>
            {move || account.is_visitor().then(|| view! {
                <a class="buy-login" href=format!("/login?next=/sales/{sale_id}")>"Log in to join the line"</a>
            })}
            {move || (!account.is_visitor() && line_open() && matches!(state(), Some(QueueState::NotJoined))).then(|| view! {
                <button class="buy-button" disabled=move || joining.get() on:click=join>"Join the line"</button>
                <p class="queue-note">"Everyone who joins before the start gets a random place at the start: arriving first does not help."</p>
            })}
            {move || refusal.get().map(|message| view! { <p class="queue-refused" role="alert">{message}</p> })}
            {move || standing.get().filter(|s| s.state != QueueState::NotJoined).map(|s| view! {
                <QueueFacts standing=s progress=progress()/>
            })}
            {move || admitted_now.get().then(|| view! {
                <p class="queue-admitted" role="alert">
                    "It's your turn! Buy before "
                    {standing.get_untracked().and_then(|s| s.admitted_until_ms).map(|ms| view! { <LocalTime ms/> })}
                    "."
                </p>
                <p class="queue-time-left">{time_left}</p>
                <BuyPanel sale=sale.clone()/>
            })}
            <p class="visually-hidden" role="status" aria-live="polite">{move || announced.get()}</p>
        </section>
    }
    .into_any()
}

/// The numbers of a shopper in line.
#[component]
fn QueueFacts(standing: QueueStanding, progress: Option<u64>) -> impl IntoView {
    let headline = headline(&standing);
    // Progress means something once the place is known: drawn, or behind them.
    let waiting = standing.state == QueueState::Waiting
        && (standing.place.is_some() || standing.joined_before_start == Some(false));
    view! {
        <p class="queue-headline">{headline}</p>
        {(waiting && progress.is_some()).then(|| view! {
            <progress class="queue-progress" max="100" value=progress.unwrap_or(0).to_string() aria-label="Progress through the line"></progress>
        })}
        {matches!(standing.state, QueueState::Waiting | QueueState::Waitlisted).then(|| view! {
            <p class="queue-chance">{chance_words(standing.chance)}</p>
            <p class="queue-note">"You may leave this page open or close it: your place is kept, on any device you log in on."</p>
        })}
    }
}

/// The line that says where the shopper stands.
fn headline(standing: &QueueStanding) -> String {
    match standing.state {
        QueueState::Waiting => match (standing.place, standing.joined_before_start) {
            (Some(place), _) => format!(
                "You are number {place} of {} · about {} ahead of you",
                standing.entrants, standing.ahead
            ),
            (None, Some(true)) if standing.entrants > 1 => format!(
                "You are in line with {} others. Places are drawn at the start.",
                standing.entrants - 1
            ),
            (None, Some(true)) => "You are in line. Places are drawn at the start.".into(),
            _ => format!("You are in line · about {} ahead of you", standing.ahead),
        },
        QueueState::Admitted => "You are in: the buy is open to you now.".into(),
        QueueState::Waitlisted => format!(
            "All claimed — {} may come back. If one does, the next in line is let in.",
            standing.may_come_back
        ),
        QueueState::SoldOut => "Sold out: every unit is sold and none can come back.".into(),
        QueueState::Ended => "The sale has ended.".into(),
        QueueState::Lapsed => {
            "Your turn passed: you were let in but did not buy within the time, so the next shopper was let in."
                .into()
        }
        QueueState::NotJoined => String::new(),
    }
}

/// The chance in words and numbers, said to be an estimate.
fn chance_words(chance: f64) -> String {
    let words = match chance {
        c if c >= 0.9 => "very likely",
        c if c >= 0.6 => "likely",
        c if c >= 0.3 => "possible",
        c if c >= 0.05 => "unlikely",
        _ => "very unlikely",
    };
    let percent = (chance * 100.0).round().clamp(0.0, 100.0) as u32;
    format!("A unit for you: {words} (about {percent} %, an estimate)")
}

/// What a screen reader hears: the state, and the place in coarse steps (so a
/// poll that moves the line by a few says nothing).
fn announcement(standing: &QueueStanding) -> String {
    match standing.state {
        QueueState::Waiting => {
            let ahead = standing.ahead;
            let coarse = match ahead {
                0..=9 => ahead,
                10..=99 => ahead / 10 * 10,
                100..=999 => ahead / 100 * 100,
                _ => ahead / 1000 * 1000,
            };
            if ahead < 10 {
                format!("In line: {coarse} ahead of you.")
            } else {
                format!("In line: more than {coarse} ahead of you.")
            }
        }
        _ => headline(standing),
    }
}

/// `4 min 12 s`, `2 h 5 min`, `45 s`.
fn duration_words(secs: i64) -> String {
    let secs = secs.max(0);
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(ahead: u64) -> QueueStanding {
        QueueStanding {
            state: QueueState::Waiting,
            joined_at_ms: Some(1),
            joined_before_start: Some(true),
            place: Some(ahead + 1),
            ahead,
            entrants: 5_000,
            chance: 0.5,
            poll_after_ms: 1_000,
            admitted_until_ms: None,
            may_come_back: 0,
            server_time_ms: 2,
        }
    }

    #[test]
    fn the_place_is_announced_in_coarse_steps_only() {
        assert_eq!(announcement(&waiting(1_234)), announcement(&waiting(1_001)));
        assert_ne!(announcement(&waiting(1_234)), announcement(&waiting(999)));
        assert_eq!(announcement(&waiting(57)), announcement(&waiting(50)));
        assert_eq!(announcement(&waiting(3)), "In line: 3 ahead of you.");
    }

    #[test]
    fn the_chance_is_said_in_words_and_numbers() {
        assert_eq!(
            chance_words(0.95),
            "A unit for you: very likely (about 95 %, an estimate)"
        );
        assert!(chance_words(0.0).contains("very unlikely"));
        assert!(chance_words(0.45).contains("possible"));
    }

    #[test]
    fn the_headline_says_the_place_or_the_coming_draw() {
        assert!(headline(&waiting(10)).starts_with("You are number 11 of 5000"));
        let undrawn = QueueStanding {
            place: None,
            ..waiting(0)
        };
        assert!(headline(&undrawn).contains("drawn at the start"));
        let waitlisted = QueueStanding {
            state: QueueState::Waitlisted,
            may_come_back: 3,
            ..waiting(0)
        };
        assert!(headline(&waitlisted).contains("3 may come back"));
        assert_eq!(duration_words(252), "4 min 12 s");
        assert_eq!(duration_words(7_500), "2 h 5 min");
    }
}
