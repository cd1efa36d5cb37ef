//! `/orders` and `/orders/{id}`: the shopper's orders. Loaded in the browser (they
//! are per user); an order page polls while the order is `queued`, backing off,
//! then shows the payment deadline with Pay and Cancel.
//!
//! Both are lazy routes: a shopper at the opening second needs only the sale
//! page, so this code is a separate WASM chunk fetched once they have an order.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

lazy_page! {
    /// `/orders`, loaded on demand.
    OrdersRoute => OrdersPage
}

lazy_page! {
    /// `/orders/{id}`, loaded on demand.
    OrderRoute => OrderPage
}

use crate::account::{load_when_allowed, Audience};
use crate::api::{Order, OrderStatus, Sale};
use crate::client;
use crate::clock::format_remaining;
use crate::components::{LocalTime, Money};
use crate::endpoints::{self, OrderAction};

fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Queued => "Reserved — confirming…",
        OrderStatus::PendingPayment => "Won — waiting for payment",
        OrderStatus::Paid => "Paid",
        OrderStatus::Expired => "Expired — not paid in time",
        OrderStatus::Cancelled => "Cancelled",
    }
}

/// What an order bought, as a shopper recognises it: the product's picture and
/// title, linked to its sale. Read from the sale (`GET /api/sales/{id}`, a
/// cacheable answer); until then, and if it cannot be read, the sale's number.
#[component]
fn OrderedProduct(sale_id: i64) -> impl IntoView {
    let sale = RwSignal::new(None::<Sale>);
    Effect::new(move |_| {
        client::spawn(async move {
            if let Ok(reply) = endpoints::sale(sale_id).await {
                if let Ok(found) = reply.body {
                    let _ = sale.try_set(Some(found));
                }
            }
        });
    });
    view! {
        <a class="ordered-product" href=format!("/sales/{sale_id}")>
            {move || sale.get().filter(|sale| !sale.image_url.is_empty()).map(|sale| view! {
                <img class="ordered-product-image" src=sale.image_url alt="" width="48" height="48" loading="lazy"/>
            })}
            <span class="ordered-product-title">
                {move || sale.get().map_or_else(|| format!("Sale #{sale_id}"), |sale| sale.title)}
            </span>
        </a>
    }
}

/// What the page knows so far.
#[derive(Clone, Debug, PartialEq)]
enum Loaded<T> {
    Loading,
    NeedLogin,
    Missing,
    Failed(String),
    Ready(T),
}

/// `/orders`.
#[component]
pub fn OrdersPage() -> impl IntoView {
    let orders = RwSignal::new(Loaded::<Vec<Order>>::Loading);
    let refuse = move |_| orders.set(Loaded::NeedLogin);
    load_when_allowed(Audience::Accounts, refuse, move || {
        client::spawn(async move {
            let loaded = match endpoints::orders().await {
                Ok(reply) if reply.status == 401 => Loaded::NeedLogin,
                Ok(reply) => match reply.body {
                    Ok(list) => Loaded::Ready(list),
                    Err(error) => Loaded::Failed(error.message),
                },
                Err(error) => Loaded::Failed(error),
            };
            let _ = orders.try_set(loaded);
        });
    });
    view! {
        <Title text="Your orders · Flash sale"/>
        <h1>"Your orders"</h1>
        {move || match orders.get() {
            Loaded::Loading => view! { <p class="loading">"Loading your orders…"</p> }.into_any(),
            Loaded::NeedLogin => view! { <p><a href="/login?next=/orders">"Log in"</a>" to see your orders."</p> }.into_any(),
            Loaded::Ready(list) if list.is_empty() => view! { <p class="empty">"No orders yet."</p> }.into_any(),
            Loaded::Ready(list) => view! {
                <ul class="orders">
                    {list.into_iter().map(|order| view! {
                        <li class="order-row" data-status=order.status.as_str()>
                            <OrderedProduct sale_id=order.sale_id/>
                            <LocalTime ms=order.created_at_ms/>
                            <a class="order-link" href=format!("/orders/{}", order.order_id)>"Order details"</a>
                            <span><Money minor=order.price_cents currency=order.currency/></span>
                            <span class="order-status">{status_label(order.status)}</span>
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any(),
            Loaded::Missing | Loaded::Failed(_) => view! { <p class="error" role="alert">"Your orders could not be loaded. Reload in a moment."</p> }.into_any(),
        }}
    }
}

/// `/orders/{id}`.
#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let order = RwSignal::new(Loaded::<Order>::Loading);
    let device_now = RwSignal::new(client::device_now_ms());
    let busy = RwSignal::new(false);
    let action_error = RwSignal::new(None::<String>);
    let id = move || params.read_untracked().get("id").unwrap_or_default();
    // Focus goes to the order's status once it is known: a keyboard or screen
    // reader user lands on "Won — waiting for payment", not on the page's top.
    let status_line = NodeRef::<leptos::html::P>::new();
    Effect::new(move |_| {
        if let Some(line) = status_line.get() {
            let _ = line.focus();
        }
    });

    let refuse = move |_| order.set(Loaded::NeedLogin);
    load_when_allowed(Audience::Accounts, refuse, move || {
        client::spawn(poll(id(), order, device_now));
    });

    let act = move |action: OrderAction| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        action_error.set(None);
        let id = id();
        client::spawn(async move {
            match endpoints::act_on_order(&id, action).await {
                Ok(reply) => match reply.body {
                    Ok(updated) => order.set(Loaded::Ready(updated)),
                    Err(error) => action_error.set(Some(error.message)),
                },
                Err(_) => action_error.set(Some("The connection failed. Try again.".into())),
            }
            let _ = busy.try_set(false);
        });
    };

    view! {
        <Title text="Your order · Flash sale"/>
        <section class="order">
            <h1>"Your order"</h1>
            {move || match order.get() {
                Loaded::Loading => view! { <p class="loading">"Loading your order…"</p> }.into_any(),
                Loaded::NeedLogin => view! { <p><a href=format!("/login?next=/orders/{}", id())>"Log in"</a>" to see this order."</p> }.into_any(),
                Loaded::Missing => view! { <p class="error">"There is no such order."</p> }.into_any(),
                Loaded::Failed(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                Loaded::Ready(current) => {
                    let payable = current.status == OrderStatus::PendingPayment;
                    let deadline = current.pay_before_ms;
                    view! {
                        <p class="order-status" tabindex="-1" node_ref=status_line aria-describedby="order-status-more" data-status=current.status.as_str()>
                            {status_label(current.status)}
                        </p>
                        <p id="order-status-more" class="visually-hidden">
                            {payable.then(|| format!("The payment clock runs: {} left.", format_remaining(deadline - client::device_now_ms() as i64)))}
                        </p>
                        <dl class="facts">
                            <dt>"Order"</dt><dd class="mono order-number">{current.order_id.clone()}</dd>
                            <dt>"Placed"</dt><dd><LocalTime ms=current.created_at_ms/></dd>
                            <dt>"Product"</dt><dd><OrderedProduct sale_id=current.sale_id/></dd>
                            <dt>"Units"</dt><dd>{current.units}</dd>
                            <dt>"Total"</dt><dd><Money minor=current.price_cents currency=current.currency/></dd>
                        </dl>
                        {payable.then(|| view! {
                            <p class="pay-deadline">
                                "Pay within "
                                <strong class="pay-countdown" role="timer" aria-live="off">{move || format_remaining(deadline - device_now.get() as i64)}</strong>
                                " (by "<LocalTime ms=deadline/>")"
                            </p>
                            <div class="order-actions">
                                <button class="pay-button" disabled=move || busy.get() on:click=move |_| act(OrderAction::Pay)>"Pay now"</button>
                                <button class="secondary" disabled=move || busy.get() on:click=move |_| act(OrderAction::Cancel)>"Cancel order"</button>
                            </div>
                        })}
                    }.into_any()
                }
            }}
            <p class="form-error" role="alert">{move || action_error.get()}</p>
            <p><a href="/orders">"All your orders"</a>" · "<a href="/">"All sales"</a></p>
        </section>
    }
}

/// Loads the order, and while it is queued polls again with growing pauses;
/// keeps the clock ticking for the payment countdown.
async fn poll(id: String, order: RwSignal<Loaded<Order>>, device_now: RwSignal<f64>) {
    let mut pause = 250u32;
    loop {
        let loaded = match endpoints::order(&id).await {
            Ok(reply) if reply.status == 401 => Loaded::NeedLogin,
            Ok(reply) if reply.status == 404 || reply.status == 400 => Loaded::Missing,
            Ok(reply) => match reply.body {
                Ok(found) => Loaded::Ready(found),
                Err(error) => Loaded::Failed(error.message),
            },
            Err(error) => Loaded::Failed(error),
        };
        let queued = matches!(&loaded, Loaded::Ready(found) if found.status == OrderStatus::Queued);
        // Keep what a Pay or Cancel click has set meanwhile.
        let settled = matches!(
            order.try_get_untracked(),
            Some(Loaded::Ready(current)) if current.status != OrderStatus::Queued
        );
        if !settled && order.try_set(loaded).is_some() {
            return;
        }
        if !queued {
            break;
        }
        client::sleep_ms(pause).await;
        pause = (pause * 2).min(4_000);
    }
    // The payment countdown ticks each second until the view is gone.
    loop {
        if device_now.try_set(client::device_now_ms()).is_some() {
            return;
        }
        client::sleep_ms(1_000).await;
    }
}
