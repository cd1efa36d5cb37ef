//! The buy button and everything it goes through at the busiest second: waiting
//! for the start on the server's clock, the CAPTCHA (proof of work solved here in
//! WASM, in slices so the page stays responsive; or a puzzle to slide), the
//! ticket, the buy — with one request in flight at a time and a cool-down after
//! every refusal (at least `Retry-After`). The button always says what is going on.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::account::use_account;
use crate::api::{Account, Order, OrderStatus, Sale, SaleState, SlidePuzzle};
use crate::calendar;
use crate::client::{self, Reply};
use crate::components::sale_clock::{use_sale_clock, SaleClock};
use crate::components::{
    Countdown, CredentialsForm, LocalTime, Purpose, SlidePuzzle as Puzzle, StockBar,
};
use crate::endpoints;

mod flow;
use flow::{attempt, Ask};

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
    /// A puzzle for the shopper to slide; `missed` says why the last one
    /// was refused.
    Sliding {
        captcha_id: String,
        picture: String,
        puzzle: SlidePuzzle,
        missed: Option<String>,
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
pub fn BuyPanel(sale: Sale) -> AnyView {
    let clock = use_sale_clock(sale.id);
    let account = use_account();
    let phase = RwSignal::new(Phase::Idle);
    let sale_id = sale.id;
    let starts_at_ms = sale.starts_at_ms;
    let captcha = sale.captcha;
    let for_calendar = sale.clone();
    // Where a won attempt goes (its order).
    let go = {
        let navigate = use_navigate();
        Callback::new(move |path: String| navigate(&path, NavigateOptions::default()))
    };
    // The attempt's code (and a puzzle answer's) comes in its own chunk: fetch
    // it now, not at the click.
    Effect::new(move |_| {
        leptos::lazy_preload!(flow::attempt);
        if captcha == crate::api::CaptchaKind::Image {
            leptos::lazy_preload!(flow::slid);
            leptos::lazy_preload!(puzzle_view);
        }
    });

    // One attempt at a time: the handler only starts from a quiet phase (or,
    // for the alternative to a puzzle, from the puzzle).
    let start = move |ask: Ask| {
        let ready = match phase.get_untracked() {
            Phase::Idle => true,
            Phase::CoolingDown { until_ms, .. } => client::device_now_ms() >= until_ms,
            Phase::Sliding { .. } => ask == Ask::ProofOfWorkInstead,
            _ => false,
        };
        if ready && clock.state() == Some(SaleState::Live) {
            client::spawn(attempt(sale_id, captcha, ask, phase, clock, go));
        }
    };
    let slid = Callback::new(move |answer: String| {
        if let Phase::Sliding { captcha_id, .. } = phase.get_untracked() {
            client::spawn(flow::slid(sale_id, captcha_id, answer, phase, clock, go));
        }
    });
    let logged_in = Callback::new(move |_: Account| {
        phase.set(Phase::Idle);
        start(Ask::SalesOwn);
    });
    let instead = Callback::new(move |()| start(Ask::ProofOfWorkInstead));

    let calendar_href = calendar_link(for_calendar, clock);
    let at_limit = Memo::new(move |_| matches!(phase.get(), Phase::LimitReached));
    let held = held_order(sale_id, sale.per_user_limit, phase, at_limit);

    // Re-evaluated every tick of the clock, so cool-downs count down and the
    // button wakes at the start instant.
    let view_state = move || {
        let _tick = clock.server_now.get();
        let sale_state = clock.state();
        let phase = phase.get();
        let now = client::device_now_ms();
        button_state(&phase, sale_state, account.is_visitor(), now)
    };
    // A visitor could buy once logged in: the sale has not ended or sold out.
    let visitor_may_buy = move || {
        account.is_visitor()
            && matches!(
                clock.state(),
                None | Some(SaleState::Scheduled | SaleState::Live)
            )
    };
    let label = move || view_state().0;
    let disabled = move || !view_state().1;
    let note = move || phase_note(&phase.get());
    // What a screen reader hears, politely: the start coming and arriving, and
    // every outcome of an attempt. Changes only at those moments, not per tick.
    let announced = Memo::new(move |_| {
        let remaining_secs = clock
            .server_now
            .get()
            .map(|now| (starts_at_ms - now).div_euclid(1000));
        announcement(
            &phase.get(),
            clock.state(),
            remaining_secs,
            account.is_visitor(),
        )
    });
    let sliding = move || match phase.get() {
        Phase::Sliding {
            picture,
            puzzle,
            missed,
            ..
        } => Some((picture, puzzle, missed)),
        _ => None,
    };

    view! {
        <section class="buy-panel" aria-label="Buy">
            <Countdown clock starts_at_ms=sale.starts_at_ms ends_at_ms=sale.ends_at_ms/>
            <StockLeft clock stock=sale.stock/>
            {move || calendar_href.get().filter(|_| clock.state() == Some(SaleState::Scheduled)).map(|href| view! {
                <a class="add-to-calendar" href=href download=format!("sale-{sale_id}.ics")>"Add to calendar"</a>
            })}
            {move || account.is_visitor().then(|| view! { <VisitorHint sale_id/> })}
            {move || (!account.is_visitor() && matches!(phase.get(), Phase::NeedLogin)).then(|| view! {
                <SessionEnded on_login=logged_in/>
            })}
            {move || sliding().map(|(picture, puzzle, missed)| view! {
                <Suspense fallback=|| ()>
                    {Suspend::new(puzzle_view(picture, puzzle, missed, slid, instead))}
                </Suspense>
            })}
            // A visitor gets the action itself, not a disabled button that
            // looks like one.
            {move || visitor_may_buy().then(|| view! {
                <a class="buy-login" href=format!("/login?next=/sales/{sale_id}")>"Log in to buy"</a>
            })}
            <button
                class="buy-button"
                hidden=visitor_may_buy
                data-phase=move || phase_name(&phase.get())
                disabled=disabled
                on:click=move |_| start(Ask::SalesOwn)
            >
                {label}
            </button>
            <p class="buy-note">{note}</p>
            {move || held.get().filter(|_| at_limit.get()).map(|order| view! { <HeldOrder order/> })}
            <p class="visually-hidden" role="status" aria-live="polite">{move || announced.get()}</p>
        </section>
    }
    // Erased: the page around it nests deep enough for the compiler's type limits.
    .into_any()
}

/// The `href` of an upcoming sale's calendar reminder, made once (by lazy
/// code) when the sale is seen to be scheduled.
fn calendar_link(sale: Sale, clock: SaleClock) -> RwSignal<Option<String>> {
    let href = RwSignal::new(None::<String>);
    let asked = StoredValue::new(false);
    Effect::new(move |_| {
        if clock.state() == Some(SaleState::Scheduled) && !asked.get_value() {
            asked.set_value(true);
            let (sale, page) = (sale.clone(), client::page_url());
            client::spawn(async move {
                let made = calendar::reminder_href(sale, page).await;
                let _ = href.try_set(Some(made));
            });
        }
    });
    href
}

/// The order a logged-in shopper holds in this sale, read once the account is
/// known and again when a buy is refused for the limit: a shopper at the
/// limit sees their order, not a button that can only be refused.
fn held_order(
    sale_id: i64,
    limit: i32,
    phase: RwSignal<Phase>,
    at_limit: Memo<bool>,
) -> RwSignal<Option<Order>> {
    let account = use_account();
    let held = RwSignal::new(None::<Order>);
    Effect::new(move |_| {
        let (known, _) = (account.account().is_some(), at_limit.get());
        if known {
            client::spawn(find_held(sale_id, limit, phase, held));
        }
    });
    held
}

/// Reads the shopper's orders of this sale: the latest one that still holds
/// units goes to `held`, and an idle panel whose shopper holds the limit
/// turns to [`Phase::LimitReached`].
async fn find_held(
    sale_id: i64,
    limit: i32,
    phase: RwSignal<Phase>,
    held: RwSignal<Option<Order>>,
) {
    let Some((units, latest)) = holding(sale_id).await else {
        return;
    };
    if held.try_set(latest).is_some() {
        return;
    }
    if units >= limit && phase.get_untracked() == Phase::Idle {
        phase.set(Phase::LimitReached);
    }
}

/// The units the shopper holds in `sale_id` and their latest order there
/// (`None`: the orders could not be read). Its own WASM chunk in the release
/// build, like the orders page that shares its code.
#[leptos::lazy]
async fn holding(sale_id: i64) -> Option<(i32, Option<Order>)> {
    let Ok(Reply {
        body: Ok(orders), ..
    }) = endpoints::orders().await
    else {
        return None;
    };
    let holding: Vec<Order> = orders
        .into_iter()
        .filter(|order| order.sale_id == sale_id)
        .filter(|order| {
            matches!(
                order.status,
                OrderStatus::Queued | OrderStatus::PendingPayment | OrderStatus::Paid
            )
        })
        .collect();
    let units: i32 = holding.iter().map(|order| order.units).sum();
    Some((
        units,
        holding.into_iter().max_by_key(|order| order.created_at_ms),
    ))
}

/// The order a shopper at the limit holds: to pay it, or that it is paid.
#[component]
fn HeldOrder(order: Order) -> impl IntoView {
    let href = format!("/orders/{}", order.order_id);
    view! {
        <p class="held-order">
            {if order.status == OrderStatus::Paid {
                view! { "Your order is paid. " <a href=href>"See your order"</a> }.into_any()
            } else {
                view! { <a href=href>"Pay for your order"</a>" by " <LocalTime ms=order.pay_before_ms/> }.into_any()
            }}
        </p>
    }
}

/// What is left of the stock, as a bar and in words, once the status is known.
#[component]
fn StockLeft(clock: SaleClock, stock: i32) -> impl IntoView {
    view! {
        <Show when=move || clock.status.with(Option::is_some)>
            <StockBar
                left=Signal::derive(move || clock.status.with(|status| status.as_ref().map_or(0, |status| status.stock_left)))
                stock=i64::from(stock)
            />
        </Show>
        <p class="stock-left">
            {move || clock.status.get().map(|status| stock_line(status.stock_left, stock))}
        </p>
    }
}

/// "7 of 10 left · 30% claimed" (nothing claimed yet: no share).
fn stock_line(left: i64, stock: i32) -> String {
    let stock = i64::from(stock);
    let claimed = if stock > 0 {
        (stock - left.clamp(0, stock)) * 100 / stock
    } else {
        0
    };
    if claimed > 0 {
        format!("{left} of {stock} left · {claimed}% claimed")
    } else {
        format!("{left} of {stock} left")
    }
}

/// For a visitor: log in or register, and come back to this sale.
#[component]
fn VisitorHint(sale_id: i64) -> impl IntoView {
    view! {
        <p class="login-hint">
            <a href=format!("/login?next=/sales/{sale_id}")>"Log in"</a>
            " or "
            <a href=format!("/register?next=/sales/{sale_id}")>"create an account"</a>
            " to buy."
        </p>
    }
}

/// Logged in, yet the server no longer knows the session (logged out
/// elsewhere, or lost in an incident): log in again right here, and the
/// attempt resumes.
#[component]
fn SessionEnded(on_login: Callback<Account>) -> impl IntoView {
    view! {
        <div class="session-ended" role="alert">
            <p>"Your session has ended. Log in again to go on; your orders are kept."</p>
            <Suspense fallback=|| ()>{Suspend::new(relogin_form(on_login))}</Suspense>
        </div>
    }
}

/// The log-in form of [`SessionEnded`]. Its own WASM chunk (shared with the
/// log-in page), fetched only when a session ends: the sale page does not
/// carry the form at the opening second.
#[leptos::lazy]
fn relogin_form(on_login: Callback<Account>) -> AnyView {
    view! { <CredentialsForm purpose=Purpose::Login on_success=on_login id_prefix="relogin-" focus_first=true/> }
        .into_any()
}

/// The sliding puzzle. Its own WASM chunk, preloaded on a puzzle sale once
/// the panel has hydrated (with the answer's code, `flow::slid`): a sale
/// without a puzzle never fetches it.
#[leptos::lazy]
fn puzzle_view(
    picture: String,
    puzzle: SlidePuzzle,
    missed: Option<String>,
    on_answer: Callback<String>,
    on_instead: Callback<()>,
) -> AnyView {
    view! { <Puzzle picture puzzle missed on_answer on_instead/> }.into_any()
}

/// The line under the button: why it is asleep, when that needs saying.
fn phase_note(phase: &Phase) -> String {
    match phase {
        Phase::NotEligible(message) | Phase::CoolingDown { message, .. } => message.clone(),
        Phase::LimitReached => "You already hold as many units as this sale allows.".into(),
        Phase::SoldOut => {
            "Every unit has been sold. Unpaid orders expire and return units, so look again later."
                .into()
        }
        _ => String::new(),
    }
}

/// The sentence a screen reader announces for this moment, if any. Before the
/// start it names the last minute and the last ten seconds (a changed text is
/// read, an unchanged one is not, so ticking seconds stay silent).
fn announcement(
    phase: &Phase,
    sale: Option<SaleState>,
    starts_in_secs: Option<i64>,
    visitor: bool,
) -> String {
    if let Phase::Sliding {
        missed: Some(reason),
        ..
    } = phase
    {
        return format!("{reason} A new puzzle is shown: slide its piece into the gap.");
    }
    let text = match phase {
        Phase::Won(_) => "You got one! Opening your order to pay.",
        Phase::SoldOut => "Sold out.",
        Phase::LimitReached => "You already hold as many units as this sale allows.",
        Phase::Ended => "The sale has ended.",
        Phase::NotEligible(message) | Phase::CoolingDown { message, .. } => message,
        Phase::Sliding { .. } => "Slide the piece into the gap to go on.",
        // The log-in form in place is an alert of its own.
        Phase::NeedLogin | Phase::Challenge | Phase::Solving { .. } | Phase::Buying => "",
        Phase::Idle => match (sale, starts_in_secs) {
            (Some(SaleState::Scheduled), Some(secs)) if secs < 10 => {
                "Starts in less than 10 seconds."
            }
            (Some(SaleState::Scheduled), Some(secs)) if secs < 60 => {
                "Starts in less than a minute."
            }
            (Some(SaleState::Live), _) if visitor => "The sale is live. Log in to buy.",
            (Some(SaleState::Live), _) => "The sale is live. Buy now is enabled.",
            (Some(SaleState::SoldOut), _) => "Sold out.",
            (Some(SaleState::Ended), _) => "The sale has ended.",
            (Some(SaleState::Paused), _) => "The sale is paused.",
            _ => "",
        },
    };
    text.to_owned()
}

/// A stable name of the phase for tests and styles.
fn phase_name(phase: &Phase) -> &'static str {
    match phase {
        Phase::Idle => "idle",
        Phase::Challenge => "challenge",
        Phase::Solving { .. } => "solving",
        Phase::Sliding { .. } => "sliding",
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
            (format!("Running a quick check… {percent}%"), false)
        }
        Phase::Sliding { .. } => ("Slide the piece into the gap first".into(), false),
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
    fn the_stock_line_says_the_share_claimed() {
        assert_eq!(stock_line(10, 10), "10 of 10 left");
        assert_eq!(stock_line(7, 10), "7 of 10 left · 30% claimed");
        assert_eq!(stock_line(0, 3), "0 of 3 left · 100% claimed");
    }

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
    fn announcements_change_only_at_the_moments_that_matter() {
        let scheduled = Some(SaleState::Scheduled);
        let say = |secs| announcement(&Phase::Idle, scheduled, Some(secs), false);
        assert_eq!(say(300), "");
        assert_eq!(say(59), say(11), "no change, nothing read out");
        assert_ne!(say(59), say(9));
        let live = Some(SaleState::Live);
        assert_eq!(
            announcement(&Phase::Idle, live, Some(-1), false),
            "The sale is live. Buy now is enabled."
        );
        assert_eq!(
            announcement(&Phase::Idle, live, Some(-1), true),
            "The sale is live. Log in to buy."
        );
        assert!(announcement(&Phase::Won("1".into()), live, None, false).contains("got one"));
        let refused = Phase::CoolingDown {
            until_ms: 0.0,
            message: "The piece was let go beside the gap. Try a new puzzle.".into(),
        };
        assert!(announcement(&refused, live, None, false).contains("beside the gap"));
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
            "Running a quick check… 50%"
        );
    }
}
