//! One sale in the list of the home page.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{SaleListing, SaleState};
use crate::components::sale_clock::use_sale_clock;
use crate::components::{Countdown, Money, StockBar};
use crate::money::discount_percent;

/// Picture, title, price against list price, stock and state of a sale, with a
/// countdown while it is scheduled or live.
#[component]
pub fn SaleCard(listing: SaleListing) -> impl IntoView {
    let SaleListing {
        sale,
        state,
        stock_left,
    } = listing;
    let href = format!("/sales/{}", sale.id);
    let discount = discount_percent(sale.price_cents, sale.list_price_cents);
    let ticking = matches!(state, SaleState::Scheduled | SaleState::Live);
    view! {
        <li class="sale-card" data-sale-id=sale.id.to_string() data-state=state.as_str()>
            {(!sale.image_url.is_empty()).then(|| view! {
                <img class="sale-card-image" src=sale.image_url.clone() alt=sale.title.clone() width="480" height="320" loading="lazy"/>
            })}
            <div class="sale-card-head">
                <A href=href attr:class="sale-title">{sale.title.clone()}</A>
                <span class=format!("badge badge-{}", state.as_str())>{state.label()}</span>
            </div>
            <p class="price">
                <span class="price-now"><Money minor=sale.price_cents currency=sale.currency/></span>
                {(sale.list_price_cents > sale.price_cents).then(|| view! {
                    " "
                    <s class="price-list"><Money minor=sale.list_price_cents currency=sale.currency/></s>
                })}
                {discount.map(|d| view! { " " <span class="discount">{format!("−{d}%")}</span> })}
            </p>
            <StockBar left=Signal::stored(stock_left) stock=i64::from(sale.stock)/>
            <p class="stock">{format!("{stock_left} of {} left · limit {} per shopper", sale.stock, sale.per_user_limit)}</p>
            {ticking.then(|| {
                let clock = use_sale_clock(sale.id);
                view! { <Countdown clock starts_at_ms=sale.starts_at_ms ends_at_ms=sale.ends_at_ms/> }
            })}
        </li>
    }
}
