//! `/`: the scheduled, live and recently ended sales.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::SaleCard;
use crate::page_data::list_sales;

lazy_page! {
    /// `/`, loaded on demand: a shopper at the opening second is on a sale page,
    /// whose code is all the main bundle needs to carry.
    HomeRoute => HomePage
}

/// The list of sales, server-rendered; each countdown ticks after hydration.
#[component]
pub fn HomePage() -> impl IntoView {
    let sales = Resource::new_serde_wb(|| (), |_| list_sales());
    view! {
        <Title text="Flash sales"/>
        <h1>"Flash sales"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading sales…"</p> }>
            {move || Suspend::new(async move {
                match sales.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty">"No sales are scheduled yet. Come back soon."</p> }
                            .into_any()
                    }
                    Ok(list) => {
                        view! {
                            <ul class="sales">
                                {list
                                    .into_iter()
                                    .map(|listing| view! { <SaleCard listing/> })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                    Err(_) => {
                        view! {
                            <p class="error" role="alert">
                                "The sales could not be loaded. Please reload in a moment."
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
