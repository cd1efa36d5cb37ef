//! `/sales/{id}`: one sale. A missing or malformed id renders the 404 page with a
//! real 404 status (the route renders in async mode so the status is known first).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{AdmissionMode, Sale};
use crate::components::{BuyPanel, LocalTime, Money, QueuePanel};
use crate::money::discount_percent;
use crate::page_data::get_sale;
use crate::pages::NotFound;

/// The sale page.
#[component]
pub fn SalePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|raw| raw.parse::<i64>().ok())
    };
    let sale = Resource::new_serde_wb(id, |id| async move {
        match id {
            Some(id) => get_sale(id).await,
            None => Ok(None),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match sale.await {
                    Ok(Some(sale)) => view! { <SaleDetails sale/> }.into_any(),
                    Ok(None) => view! { <NotFound/> }.into_any(),
                    Err(_) => {
                        view! {
                            <p class="error" role="alert">
                                "This sale could not be loaded. Please reload in a moment."
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// What a shopper needs to decide: title, picture, price, stock, limit, timing.
#[component]
fn SaleDetails(sale: Sale) -> impl IntoView {
    let discount = discount_percent(sale.price_cents, sale.list_price_cents);
    view! {
        <Title text=format!("{} · Flash sale", sale.title)/>
        <article class="sale" data-sale-id=sale.id.to_string()>
            <h1>{sale.title.clone()}</h1>
            {(!sale.image_url.is_empty()).then(|| view! {
                <img class="sale-image" src=sale.image_url.clone() alt=sale.title.clone() width="480" height="320"/>
            })}
            <p class="price">
                <span class="price-now"><Money minor=sale.price_cents currency=sale.currency/></span>
                {(sale.list_price_cents > sale.price_cents).then(|| view! {
                    " " <s class="price-list"><Money minor=sale.list_price_cents currency=sale.currency/></s>
                })}
                {discount.map(|d| view! { " " <span class="discount">{format!("−{d}%")}</span> })}
            </p>
            <p class="description">{sale.description.clone()}</p>
            <dl class="facts">
                <dt>"Units"</dt><dd>{sale.stock}</dd>
                <dt>"Limit"</dt><dd>{format!("{} per shopper", sale.per_user_limit)}</dd>
                {sale.queue_opens_at_ms.map(|ms| view! {
                    <dt>"Line opens"</dt><dd><LocalTime ms/></dd>
                })}
                <dt>"Starts"</dt><dd><LocalTime ms=sale.starts_at_ms/></dd>
                <dt>"Ends"</dt><dd><LocalTime ms=sale.ends_at_ms/></dd>
            </dl>
            {if sale.admission == AdmissionMode::Queue {
                view! { <QueuePanel sale=sale.clone()/> }
            } else {
                view! { <BuyPanel sale=sale.clone()/> }
            }}
        </article>
    }
}
