//! The 404 page: for unknown paths and for sales that do not exist.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// Tells the shopper nothing is here, with the 404 status during SSR.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Flash sale"/>
        <section class="not-found">
            <h1>"Not found"</h1>
            <p>"There is no such page or sale. It may have been removed."</p>
            <p><A href="/">"See all sales"</A></p>
        </section>
    }
}
