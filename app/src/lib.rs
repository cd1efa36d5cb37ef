//! The part of the flash-sale platform that runs on both sides of the wire.
//!
//! # Layout
//! - [`api`]: the JSON shapes of `docs/API.md` (sales, status, errors), shared by
//!   the server, the WASM client, the system tests and the load generator.
//! - [`sale_state`]: the pure rule that turns a sale, a clock reading and the stock
//!   left into `scheduled` / `live` / `sold_out` / `ended` / `paused`.
//! - [`clock`]: estimating the server clock from the browser (round-trip midpoint)
//!   and formatting what is left of a countdown.
//! - [`money`]: cents to a price label.
//! - [`pow`]: the proof-of-work CAPTCHA, solved in WASM and checked on the server.
//! - [`slide`]: the sliding puzzle's answer (the drag path), written by the WASM
//!   client and judged on the server.
//! - [`server_fns`]: the `#[server]` functions that load page data; their bodies
//!   call the ports of [`ssr`] and stay thin.
//! - [`ssr`] (feature `ssr` only): the port traits the server implements and hands
//!   over as Leptos context. `app` never names Redis or SQL.
//! - [`client`]: the browser's transport to the JSON API (fetch, `Retry-After`).
//! - [`endpoints`]: every route the browser calls, one typed function each.
//! - [`account`]: who is logged in, loaded after hydration.
//! - [`components`] and [`pages`]: the Leptos views.
//!
//! Features: `ssr` for the server build, `hydrate` for the WASM build. Never both.

pub mod account;
pub mod api;
pub mod client;
pub mod clock;
pub mod components;
pub mod endpoints;
pub mod money;
pub mod pages;
pub mod pow;
pub mod sale_state;
pub mod server_fns;
pub mod slide;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, Lazy, SsrMode,
};

/// The HTML document around the application, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options=options.clone()/>
                <HashedStylesheet options id="leptos"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
                <script inner_html=components::LOCAL_TIMES_SCRIPT></script>
            </body>
        </html>
    }
}

/// The application: header, routes, and a marker that tells tests (and curious
/// humans) when the WASM client has taken over the server-rendered page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let account = account::provide_account();
    // Effects run only in the browser, so this flips once hydration is done.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Title text="Flash sale"/>
        <Router>
            <header class="site-header">
                <A href="/" attr:class="brand">"⚡ Flash sale"</A>
                <nav class="account-nav">
                    {move || match account.0.get() {
                        None => ().into_any(),
                        Some(None) => view! {
                            <a href="/login">"Log in"</a>
                            <a href="/register">"Register"</a>
                        }.into_any(),
                        Some(Some(me)) => view! {
                            <a href="/orders">"My orders"</a>
                            <span class="whoami">{me.username}</span>
                            <button class="link-button" on:click=move |_| {
                                client::spawn(async move {
                                    let _ = endpoints::log_out().await;
                                    account.refresh();
                                });
                            }>"Log out"</button>
                        }.into_any(),
                    }}
                </nav>
            </header>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("") view={Lazy::<pages::HomeRoute>::new()}/>
                    // Async mode: the status code (404 for a missing sale) is known
                    // before the first byte is sent.
                    <Route path=path!("/sales/:id") view=pages::SalePage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view={Lazy::<pages::LoginRoute>::new()}/>
                    <Route path=path!("/register") view={Lazy::<pages::RegisterRoute>::new()}/>
                    <Route path=path!("/orders") view={Lazy::<pages::OrdersRoute>::new()}/>
                    <Route path=path!("/orders/:id") view={Lazy::<pages::OrderRoute>::new()}/>
                    <Route path=path!("/admin") view={Lazy::<pages::admin::DashboardRoute>::new()}/>
                    <Route path=path!("/admin/sales/new") view={Lazy::<pages::admin::NewSaleRoute>::new()}/>
                    <Route path=path!("/admin/sales/:id") view={Lazy::<pages::admin::LiveSaleRoute>::new()}/>
                    <Route path=path!("/admin/dead-letters") view={Lazy::<pages::admin::DeadLettersRoute>::new()}/>
                </Routes>
            </main>
        </Router>
    }
}
