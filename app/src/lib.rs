//! The part of the flash-sale platform that runs on both sides of the wire.
//!
//! # Layout
//! - [`api`]: the JSON shapes of `docs/API.md` (sales, status, errors), shared by
//!   the server, the WASM client, the system tests and the load generator.
//! - [`sale_state`]: the pure rule that turns a sale, a clock reading and the stock
//!   left into `scheduled` / `live` / `sold_out` / `ended` / `paused`.
//! - [`clock`]: estimating the server clock from the browser (round-trip midpoint)
//!   and formatting what is left of a countdown.
//! - [`money`]: currencies and amounts in their minor unit.
//! - [`calendar`]: an upcoming sale as an `.ics` reminder.
//! - [`pow`]: the proof-of-work CAPTCHA, solved in WASM and checked on the server.
//! - [`slide`]: the sliding puzzle's answer (the drag path), written by the WASM
//!   client and judged on the server.
//! - [`page_data`]: what the home and sale pages load: through the ports of
//!   [`ssr`] during SSR, from the public JSON routes in the browser.
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
pub mod calendar;
pub mod client;
pub mod clock;
pub mod components;
pub mod draw;
pub mod endpoints;
pub mod money;
pub mod page_data;
pub mod pages;
pub mod pow;
pub mod sale_state;
pub mod slide;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    hooks::{use_location, use_navigate},
    path, Lazy, NavigateOptions, SsrMode,
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
                {split_loader_preload(&options)}
                <HashedStylesheet options id="leptos"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
                <script inner_html=components::LOCALISE_SCRIPT></script>
            </body>
        </html>
    }
}

/// A `modulepreload` of the split build's chunk loader (`__wasm_split.*.js`),
/// which the JS glue imports: without it the browser learns of the loader only
/// once the glue has arrived, a third round trip before the WASM may start
/// compiling (on Fast 3G the WASM then waited for it; BENCHMARKS.md, #24).
/// Nothing without a split build.
fn split_loader_preload(options: &LeptosOptions) -> impl IntoView {
    static LOADER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let loader = LOADER.get_or_init(|| {
        // Named as `HydrationScripts` names it: hashed from the hash file
        // beside the server's executable, or Leptos' fixed placeholder.
        let name = if options.hash_files {
            let hashes = std::env::current_exe()
                .ok()?
                .parent()?
                .join(options.hash_file.as_ref());
            let hash = std::fs::read_to_string(hashes)
                .ok()?
                .lines()
                .find_map(|line| Some(line.trim().strip_prefix("split:")?.trim().to_owned()))?;
            format!("__wasm_split.{hash}.js")
        } else {
            "__wasm_split.______________________.js".to_owned()
        };
        let pkg =
            std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
        pkg.join(&name)
            .exists()
            .then(|| format!("/{}/{name}", options.site_pkg_dir))
    });
    loader
        .clone()
        .map(|href| view! { <link rel="modulepreload" href=href/> })
}

/// The brand and the account's links. Logging out on a private page (orders,
/// admin) leaves it for the home page: nothing of the account stays on screen.
#[component]
fn SiteHeader(account: account::AccountState) -> impl IntoView {
    let navigate = use_navigate();
    let location = use_location();
    let log_out = move |_| {
        let private = is_private_path(&location.pathname.get_untracked());
        let navigate = navigate.clone();
        client::spawn(async move {
            let _ = endpoints::log_out().await;
            account.refresh();
            if private {
                navigate(
                    "/",
                    NavigateOptions {
                        replace: true,
                        ..NavigateOptions::default()
                    },
                );
            }
        });
    };
    view! {
        <header class="site-header">
            // The first Tab: straight to the page, past the header's links.
            <a class="skip-link" href="#main">"Skip to content"</a>
            <A href="/" attr:class="brand">"⚡ Flash sale"</A>
            <nav class="account-nav" aria-label="Account">
                {move || match account.0.get() {
                    None => ().into_any(),
                    Some(None) => view! {
                        <a href="/login">"Log in"</a>
                        <a href="/register">"Register"</a>
                    }.into_any(),
                    Some(Some(me)) => view! {
                        <a href="/orders">"My orders"</a>
                        <span class="whoami">{me.username}</span>
                        <button class="link-button" on:click=log_out.clone()>"Log out"</button>
                    }.into_any(),
                }}
            </nav>
        </header>
    }
}

/// Pages that show one account's data.
fn is_private_path(path: &str) -> bool {
    ["/orders", "/admin"]
        .iter()
        .any(|private| path == *private || path.starts_with(&format!("{private}/")))
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
            <SiteHeader account/>
            <main id="main" tabindex="-1" data-hydrated=move || hydrated.get().to_string()>
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

#[cfg(test)]
mod tests {
    use super::is_private_path;

    #[test]
    fn orders_and_admin_pages_are_private_and_sales_are_not() {
        for private in ["/orders", "/orders/0193", "/admin", "/admin/sales/4"] {
            assert!(is_private_path(private), "{private}");
        }
        for public in ["/", "/sales/4", "/login", "/ordersx", "/administer"] {
            assert!(!is_private_path(public), "{public}");
        }
    }
}
