//! The admin pages: the dashboard of sales, scheduling a new one, the live view
//! of one sale, and dead letters. All data loads in the browser from the admin
//! API, which checks the session (401 / 403); the pages only say so nicely.
//!
//! Shoppers never need this code, so each page is a lazy route: with
//! `cargo leptos build --split` its WASM is a separate chunk fetched only when an
//! admin opens the page, and the shoppers' bundle stays small.

mod dashboard;
mod dead_letters;
mod line;
mod live;
mod new_sale;

pub use dashboard::AdminDashboard;
pub use dead_letters::DeadLetters;
pub use live::LiveSale;
pub use new_sale::NewSale;

use leptos::prelude::*;

use crate::client::Remote;

lazy_page! {
    /// `/admin`, loaded on demand.
    DashboardRoute => AdminDashboard
}

lazy_page! {
    /// `/admin/sales/new`, loaded on demand.
    NewSaleRoute => NewSale
}

lazy_page! {
    /// `/admin/sales/{id}`, loaded on demand.
    LiveSaleRoute => LiveSale
}

lazy_page! {
    /// `/admin/dead-letters`, loaded on demand.
    DeadLettersRoute => DeadLetters
}

/// Counters, one cell each (class `stat-<key>`): `(key, label, value)`;
/// `alarm(key, value)` marks the cells that need a look.
fn stat_grid<const N: usize>(
    class: &'static str,
    cells: [(&'static str, &'static str, String); N],
    alarm: impl Fn(&str, &str) -> bool,
) -> impl IntoView {
    view! {
        <dl class=format!("stat-grid {class}")>
            {cells.into_iter().map(|(key, label, value)| {
                let alarm = alarm(key, &value).to_string();
                view! {
                    <div class=format!("stat stat-{key}") data-alarm=alarm>
                        <dt>{label}</dt>
                        <dd>{value}</dd>
                    </div>
                }
            }).collect_view()}
        </dl>
    }
}

/// What to show while a view is not ready: loading, log in, admins only, error.
fn not_ready<T>(remote: &Remote<T>, here: &str) -> Option<AnyView> {
    Some(match remote {
        Remote::Ready(_) => return None,
        Remote::Loading => view! { <p class="loading">"Loading…"</p> }.into_any(),
        Remote::NeedLogin => view! {
            <p><a href=format!("/login?next={here}")>"Log in"</a>" with an admin account."</p>
        }
        .into_any(),
        Remote::Forbidden => {
            view! { <p class="error" role="alert">"This page is for admins only."</p> }.into_any()
        }
        Remote::Failed(message) => {
            view! { <p class="error" role="alert">{message.clone()}</p> }.into_any()
        }
    })
}
