//! `/admin/sales/{id}`: one sale, live. The numbers refresh every second from the
//! stats endpoint (Redis and Postgres counts and the server's own counters);
//! per-second rates are differences of those counters between two reads.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::line::LinePanel;
use crate::account::{load_when_allowed, Audience};
use crate::api::{
    AdmissionMode, OrderStatus, Reconciliation, Sale, SaleOrder, SalePatch, SaleState, SaleStats,
};
use crate::client::{self, Remote};
use crate::components::charts::{Bars, TimeSeries};
use crate::components::{LocalTime, Money};
use crate::endpoints;
use crate::sale_state::sale_state;

/// Seconds of history the chart keeps.
const HISTORY: usize = 60;
/// Orders per page of the table.
const PAGE: usize = 20;

/// One read of the counters.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Reading {
    at_ms: f64,
    attempts: i64,
    won: i64,
}

/// Per-second rates between consecutive readings: `(attempts/s, wins/s)`.
fn rates(readings: &[Reading]) -> (Vec<f64>, Vec<f64>) {
    readings
        .windows(2)
        .map(|pair| {
            let seconds = ((pair[1].at_ms - pair[0].at_ms) / 1000.0).max(0.001);
            (
                (pair[1].attempts - pair[0].attempts).max(0) as f64 / seconds,
                (pair[1].won - pair[0].won).max(0) as f64 / seconds,
            )
        })
        .unzip()
}

fn won(stats: &SaleStats) -> i64 {
    stats.attempts - stats.rejected.values().sum::<i64>()
}

/// What the live page shows, refreshed by [`poll`].
#[derive(Clone, Copy)]
struct Live {
    sale: RwSignal<Option<Sale>>,
    stats: RwSignal<Remote<SaleStats>>,
    readings: RwSignal<Vec<Reading>>,
    orders: RwSignal<Vec<SaleOrder>>,
    books: RwSignal<Option<Reconciliation>>,
}

/// Every second the counters, the books and the orders, read together and
/// shown together, so the panels agree with each other during a burst; every
/// fifth second the sale itself. Stops when the page is gone.
async fn poll(id: i64, live: Live) {
    let mut round = 0u32;
    loop {
        if round.is_multiple_of(5) {
            if let Ok(reply) = endpoints::admin_sale(id).await {
                let _ = live.sale.try_set(reply.body.ok());
            }
        }
        let (fresh, books, orders) = read_together(id).await;
        if let Remote::Ready(current) = &fresh {
            let reading = Reading {
                at_ms: client::device_now_ms(),
                attempts: current.attempts,
                won: won(current),
            };
            let kept = live.readings.try_update(|list| {
                list.push(reading);
                if list.len() > HISTORY + 1 {
                    list.remove(0);
                }
            });
            if kept.is_none() {
                return;
            }
        }
        if let Some(books) = books {
            let _ = live.books.try_set(Some(books));
        }
        if let Some(orders) = orders {
            let _ = live.orders.try_set(orders);
        }
        if live.stats.try_set(fresh).is_some() {
            return;
        }
        round += 1;
        client::sleep_ms(1_000).await;
    }
}

/// The counters, the books and the orders of sale `id`, asked at once.
async fn read_together(
    id: i64,
) -> (
    Remote<SaleStats>,
    Option<Reconciliation>,
    Option<Vec<SaleOrder>>,
) {
    let (stats, books, orders) = futures_util::future::join3(
        endpoints::sale_stats(id),
        endpoints::sale_books(id),
        endpoints::sale_orders(id),
    )
    .await;
    (
        Remote::from_reply(stats),
        books.ok().and_then(|reply| reply.body.ok()),
        orders.ok().and_then(|reply| reply.body.ok()),
    )
}

/// The live view of a sale.
#[component]
pub fn LiveSale() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read_untracked()
            .get("id")
            .and_then(|raw| raw.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let live = Live {
        sale: RwSignal::new(None),
        stats: RwSignal::new(Remote::Loading),
        readings: RwSignal::new(Vec::new()),
        orders: RwSignal::new(Vec::new()),
        books: RwSignal::new(None),
    };
    let Live {
        sale,
        stats,
        readings,
        orders,
        books,
    } = live;
    let message = RwSignal::new(None::<String>);
    load_when_allowed(
        Audience::Admins,
        move |refusal| stats.set(refusal.into()),
        move || client::spawn(poll(id(), live)),
    );

    let series = Memo::new(move |_| rates(&readings.get()));
    let attempts_per_second = Signal::derive(move || series.get().0);
    let wins_per_second = Signal::derive(move || series.get().1);
    let outcomes = Signal::derive(move || match stats.get() {
        Remote::Ready(current) => {
            let mut bars = vec![("won".to_owned(), won(&current))];
            bars.extend(current.rejected.into_iter().filter(|(_, count)| *count > 0));
            bars
        }
        _ => Vec::new(),
    });
    // Where the sale stands, on the admin's clock, with the stock just read.
    let state = Signal::derive(move || {
        let Remote::Ready(current) = stats.get() else {
            return None;
        };
        let now = client::device_now_ms() as i64;
        sale.with(|sale| Some(sale_state(sale.as_ref()?, now, current.stock_left)))
    });
    // A queue sale's waiting room, made once (the sale is read again every
    // five seconds; the panel follows its line on its own).
    let line_of = Memo::new(move |_| {
        sale.with(|sale| {
            sale.as_ref()
                .filter(|sale| sale.admission == AdmissionMode::Queue)
                .map(|sale| sale.id)
        })
    });
    let saved = move |updated: Sale| {
        message.set(Some("Saved.".into()));
        sale.set(Some(updated));
    };

    view! {
        <Title text="Live sale · Admin"/>
        <p><a href="/admin">"← All sales"</a></p>
        {move || sale.get().map(|current| view! { <SaleHeading sale=current state on_changed=saved message/> })}
        <p class="status-message" role="status">{move || message.get()}</p>
        {move || {
            let current = stats.get();
            if let Some(waiting) = super::not_ready(&current, &format!("/admin/sales/{}", id())) {
                return waiting;
            }
            let Remote::Ready(current) = current else { return ().into_any() };
            view! { <StatGrid stats=current/> }.into_any()
        }}
        {move || line_of.get().map(|sale_id| view! { <LinePanel sale_id/> })}
        // The charts and the books as one erased view: written inline, every
        // shopper's main bundle measured 282 KB brotli instead of 274 (the
        // split build left code of the larger view type outside the lazy
        // admin chunk). scripts/wasm-size's budget catches it.
        {view! {
            <h2>"Attempts and wins per second"</h2>
            <TimeSeries first=attempts_per_second second=wins_per_second first_label="attempts/s" second_label="wins/s" capacity=HISTORY/>
            <h2>"Outcomes"</h2>
            <Bars bars=outcomes/>
            <h2>"Books: Redis against Postgres"</h2>
            {move || books.get().map(|books| view! { <BooksTable books/> })}
        }.into_any()}
        {move || sale.get().filter(|current| client::device_now_ms() < current.starts_at_ms as f64).map(|current| view! {
            <EditBeforeStart sale=current on_saved=saved/>
        })}
        <h2>"Orders"</h2>
        <OrdersTable orders/>
    }
}

/// The sale's title and terms, and the button that pauses or resumes it.
#[component]
fn SaleHeading(
    sale: Sale,
    state: Signal<Option<SaleState>>,
    on_changed: impl Fn(Sale) + Copy + Send + Sync + 'static,
    message: RwSignal<Option<String>>,
) -> impl IntoView {
    let id = sale.id;
    let set_paused = move |paused: bool| {
        let question = if paused {
            "Pause this sale? Nobody can buy until you resume it."
        } else {
            "Resume this sale?"
        };
        if !client::confirm(question) {
            return;
        }
        client::spawn(async move {
            match endpoints::set_paused(id, paused).await {
                Ok(reply) => match reply.body {
                    Ok(updated) => {
                        message.set(Some(if updated.paused {
                            "Paused.".into()
                        } else {
                            "Resumed.".into()
                        }));
                        on_changed(updated);
                    }
                    Err(error) => message.set(Some(error.message)),
                },
                Err(_) => message.set(Some("The connection failed. Try again.".into())),
            }
        });
    };
    view! {
        <h1>{sale.title.clone()}</h1>
        <p class="hint">
            <LocalTime ms=sale.starts_at_ms seconds=true/>" → "<LocalTime ms=sale.ends_at_ms seconds=true/>" · "<Money minor=sale.price_cents currency=sale.currency/>{format!(" per unit · limit {}", sale.per_user_limit)}
        </p>
        <p class="hint sale-admission" data-admission=sale.admission.as_str()>
            {match (sale.admission, sale.queue_opens_at_ms) {
                (AdmissionMode::Queue, Some(opens)) => view! {
                    "Opening: waiting room · line opens "<LocalTime ms=opens seconds=true/>
                    {format!(
                        " · up to {} deciding per unit left · at most {} let in a second",
                        sale.queue_window_per_unit, sale.queue_pace_per_s
                    )}
                }.into_any(),
                _ => view! { "Opening: first come, first served" }.into_any(),
            }}
        </p>
        <div class="admin-actions">
            {move || match (sale.paused, state.get()) {
                (_, Some(SaleState::Ended)) => ().into_any(),
                (true, _) => view! { <button class="primary" on:click=move |_| set_paused(false)>"Resume sale"</button> }.into_any(),
                (false, _) => view! { <button class="danger" on:click=move |_| set_paused(true)>"Pause sale"</button> }.into_any(),
            }}
            <span
                class=move || format!("sale-paused badge badge-{}", state.get().map_or("none", SaleState::as_str))
                data-paused=sale.paused.to_string()
            >
                {move || state.get().map_or(if sale.paused { "Paused" } else { "…" }, SaleState::label)}
            </span>
        </div>
    }
}

/// The counters, one cell each; a drift other than zero is an alarm.
#[component]
fn StatGrid(stats: SaleStats) -> impl IntoView {
    let cells = [
        (
            "stock-left",
            "Stock left",
            format!("{} / {}", stats.stock_left, stats.stock),
        ),
        ("attempts", "Attempts", stats.attempts.to_string()),
        ("won", "Won", won(&stats).to_string()),
        ("queued", "Queue lag (units)", stats.queued.to_string()),
        (
            "pending",
            "Awaiting payment",
            stats.pending_payment.to_string(),
        ),
        ("paid", "Paid", stats.paid.to_string()),
        ("expired", "Expired", stats.expired.to_string()),
        ("cancelled", "Cancelled", stats.cancelled.to_string()),
        (
            "dead-letters",
            "Dead letters",
            stats.dead_letters.to_string(),
        ),
        ("drift", "Drift", stats.drift.to_string()),
    ];
    super::stat_grid("", cells, |key, value| key == "drift" && value != "0")
}

/// The sale's orders, filtered by status, a page at a time.
#[component]
fn OrdersTable(orders: RwSignal<Vec<SaleOrder>>) -> impl IntoView {
    let status_filter = RwSignal::new(String::new());
    let page = RwSignal::new(0usize);
    view! {
        <label for="status-filter">"Status "</label>
        <select id="status-filter" on:change=move |event| {
            status_filter.set(event_target_value(&event));
            page.set(0);
        }>
            <option value="">"All"</option>
            <option value="pending_payment">"Awaiting payment"</option>
            <option value="paid">"Paid"</option>
            <option value="expired">"Expired"</option>
            <option value="cancelled">"Cancelled"</option>
        </select>
        {move || {
            let filter = status_filter.get();
            let matching: Vec<SaleOrder> = orders
                .get()
                .into_iter()
                .filter(|row| filter.is_empty() || row.order.status.as_str() == filter)
                .collect();
            if matching.is_empty() {
                return view! { <p class="empty">"No orders here yet."</p> }.into_any();
            }
            let pages = matching.len().div_ceil(PAGE);
            let current = page.get().min(pages - 1);
            view! {
                <div class="table-wrap">
                    <table class="admin-orders">
                        <thead><tr><th scope="col">"Order"</th><th scope="col">"Buyer"</th><th scope="col">"Status"</th><th scope="col">"Total"</th><th scope="col">"Created"</th></tr></thead>
                        <tbody>
                            {matching.into_iter().skip(current * PAGE).take(PAGE).map(|SaleOrder { order, buyer }| view! {
                                <tr>
                                    <td class="mono">{order.order_id.clone()}</td>
                                    <td class="buyer">{buyer}</td>
                                    <td>{order_status_label(order.status)}</td>
                                    <td><Money minor=order.price_cents currency=order.currency/></td>
                                    <td><LocalTime ms=order.created_at_ms seconds=true/></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <p class="pager">
                    <button disabled={current == 0} on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Previous"</button>
                    {format!(" Page {} of {pages} ", current + 1)}
                    <button disabled={current + 1 >= pages} on:click=move |_| page.update(|p| *p += 1)>"Next"</button>
                </p>
            }.into_any()
        }}
    }
}

/// An order's status in words.
fn order_status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Queued => "Being saved",
        OrderStatus::PendingPayment => "Awaiting payment",
        OrderStatus::Paid => "Paid",
        OrderStatus::Expired => "Expired",
        OrderStatus::Cancelled => "Cancelled",
    }
}

/// Both sides of the books, and what a difference means.
#[component]
fn BooksTable(books: Reconciliation) -> impl IntoView {
    let explanation = if books.drift == 0 {
        "Redis and Postgres agree: every unit is either for sale or in an order.".to_owned()
    } else if books.drift > 0 {
        format!(
            "{} unit(s) are neither for sale nor in an order. A reservation may have been lost \
             between Redis and Postgres (check dead letters), or a return failed: look before \
             selling more.",
            books.drift
        )
    } else {
        format!(
            "{} unit(s) more are accounted for than exist: stock was returned twice or changed \
             after orders were taken.",
            -books.drift
        )
    };
    let held_matches =
        books.buyer_units == books.queued_units + books.pending_units + books.paid_units;
    let rows = [
        ("Stock of the sale", books.stock),
        ("− left for sale (Redis)", books.stock_left),
        ("− reserved, being saved (Redis)", books.queued_units),
        ("− awaiting payment (Postgres)", books.pending_units),
        ("− paid (Postgres)", books.paid_units),
        ("− closed, units owed back (Postgres)", books.owed_units),
        ("= drift", books.drift),
    ];
    view! {
        <div class="books">
            <table>
                <tbody>
                    {rows.into_iter().map(|(label, value)| view! { <tr><th scope="row">{label}</th><td>{value}</td></tr> }).collect_view()}
                </tbody>
            </table>
            <p class="books-explained" data-drift=books.drift.to_string()>{explanation}</p>
            <p class="hint">
                {format!("Units held by buyers in Redis: {}", books.buyer_units)}
                {(!held_matches).then_some(" — differs from reserved + awaiting payment + paid; closed orders are still being returned.")}
            </p>
        </div>
    }
}

/// Stock and times may change only before the start. Only what the admin
/// changed is sent: a sale never moves because its form was saved.
#[component]
fn EditBeforeStart(
    sale: Sale,
    on_saved: impl Fn(Sale) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let shown_start = client::to_local_datetime(sale.starts_at_ms);
    let stock = RwSignal::new(sale.stock.to_string());
    let starts = RwSignal::new(shown_start.clone());
    let error = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let patch = match changes(
            &sale,
            &shown_start,
            &stock.get_untracked(),
            &starts.get_untracked(),
        ) {
            Ok(Some(patch)) => patch,
            Ok(None) => return error.set(Some("Nothing changed.".into())),
            Err(message) => return error.set(Some(message)),
        };
        let on_saved = on_saved.clone();
        let id = sale.id;
        client::spawn(async move {
            match endpoints::edit_sale(id, &patch).await {
                Ok(reply) => match reply.body {
                    Ok(updated) => {
                        error.set(None);
                        on_saved(updated);
                    }
                    Err(refusal) => error.set(Some(refusal.message)),
                },
                Err(_) => error.set(Some("The connection failed. Try again.".into())),
            }
        });
    };
    view! {
        <form class="admin-form edit-before-start" on:submit=submit>
            <h2>"Before the start"</h2>
            <label for="edit-stock">"Stock (units)"</label>
            <input id="edit-stock" type="number" min="1" prop:value=move || stock.get() on:input=move |event| stock.set(event_target_value(&event))/>
            <label for="edit-starts">"Starts (your time zone)"</label>
            <input id="edit-starts" type="datetime-local" step="1" prop:value=move || starts.get() on:input=move |event| starts.set(event_target_value(&event))/>
            <p class="form-error" role="alert">{move || error.get()}</p>
            <button type="submit">"Save changes"</button>
        </form>
    }
}

/// The patch for what differs from the sale as shown (`shown_start` is the
/// start as the form first showed it): a new start moves the end with it, the
/// sale's length kept. `None` when nothing changed.
fn changes(
    sale: &Sale,
    shown_start: &str,
    stock: &str,
    starts: &str,
) -> Result<Option<SalePatch>, String> {
    let new_stock = stock
        .trim()
        .parse::<i32>()
        .map_err(|_| "Stock: a whole number".to_owned())?;
    let mut patch = SalePatch::default();
    if new_stock != sale.stock {
        patch.stock = Some(new_stock);
    }
    if starts != shown_start {
        let starts_at_ms =
            client::local_datetime_ms(starts).ok_or("Starts: pick a date and time")?;
        patch.starts_at_ms = Some(starts_at_ms);
        patch.ends_at_ms = Some(starts_at_ms + (sale.ends_at_ms - sale.starts_at_ms));
    }
    Ok((patch != SalePatch::default()).then_some(patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_counter_differences_over_time() {
        let readings = [
            Reading {
                at_ms: 0.0,
                attempts: 0,
                won: 0,
            },
            Reading {
                at_ms: 1_000.0,
                attempts: 500,
                won: 10,
            },
            Reading {
                at_ms: 3_000.0,
                attempts: 900,
                won: 10,
            },
        ];
        assert_eq!(rates(&readings), (vec![500.0, 200.0], vec![10.0, 0.0]));
        assert_eq!(rates(&readings[..1]), (vec![], vec![]));
    }

    #[test]
    fn an_edit_sends_only_what_changed() {
        let sale = Sale {
            id: 7,
            stock: 4,
            ..Sale::example(1_800_000_037_000, 1_800_003_637_000)
        };
        let shown = "2027-01-15T08:00:37";
        assert_eq!(changes(&sale, shown, "4", shown), Ok(None));
        assert_eq!(
            changes(&sale, shown, " 5 ", shown),
            Ok(Some(SalePatch {
                stock: Some(5),
                ..SalePatch::default()
            })),
            "the times stay as announced"
        );
        assert!(changes(&sale, shown, "five", shown).is_err());
    }
}
