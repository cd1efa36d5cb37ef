//! `/admin`: every sale with its state, stock left, sold and pending payments.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::account::{load_when_allowed, Audience};
use crate::api::{Sale, SaleStats};
use crate::client::{self, Remote};
use crate::components::LocalTime;
use crate::endpoints;
use crate::sale_state::sale_state;

/// The admin's list of sales, refreshed every few seconds.
#[component]
pub fn AdminDashboard() -> impl IntoView {
    let rows = RwSignal::new(Remote::<Vec<(Sale, Option<SaleStats>)>>::Loading);
    load_when_allowed(
        Audience::Admins,
        move |refusal| rows.set(refusal.into()),
        move || {
            client::spawn(async move {
                loop {
                    let sales = Remote::from_reply(endpoints::admin_sales().await);
                    let loaded = match sales {
                        Remote::Ready(sales) => {
                            let mut with_stats = Vec::with_capacity(sales.len());
                            for sale in sales {
                                let stats = endpoints::sale_stats(sale.id)
                                    .await
                                    .ok()
                                    .and_then(|reply| reply.body.ok());
                                with_stats.push((sale, stats));
                            }
                            Remote::Ready(with_stats)
                        }
                        Remote::Loading => Remote::Loading,
                        Remote::NeedLogin => Remote::NeedLogin,
                        Remote::Forbidden => Remote::Forbidden,
                        Remote::Failed(message) => Remote::Failed(message),
                    };
                    if rows.try_set(loaded).is_some() {
                        return;
                    }
                    client::sleep_ms(5_000).await;
                }
            });
        },
    );
    view! {
        <Title text="Admin · Flash sale"/>
        <div class="admin-head">
            <h1>"Sales"</h1>
            // An admin's actions, shown once the server has said this is an admin.
            {move || rows.with(|rows| matches!(rows, Remote::Ready(_))).then(|| view! {
                <nav class="admin-actions" aria-label="Admin">
                    <a class="button-link" href="/admin/sales/new">"New sale"</a>
                    <a href="/admin/dead-letters">"Dead letters"</a>
                </nav>
            })}
        </div>
        {move || {
            let rows = rows.get();
            if let Some(waiting) = super::not_ready(&rows, "/admin") {
                return waiting;
            }
            let Remote::Ready(rows) = rows else { return ().into_any() };
            if rows.is_empty() {
                return view! { <p class="empty">"No sales yet. Schedule the first one."</p> }.into_any();
            }
            let now = client::device_now_ms() as i64;
            view! {
                <div class="table-wrap">
                    <table class="admin-sales">
                        <thead>
                            <tr>
                                <th scope="col">"Sale"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"Starts"</th>
                                <th scope="col">"Stock left"</th>
                                <th scope="col">"Sold"</th>
                                <th scope="col">"Awaiting payment"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows.into_iter().map(|(sale, stats)| {
                                let left = stats.as_ref().map_or(i64::from(sale.stock), |s| s.stock_left);
                                let state = sale_state(&sale, now, left);
                                view! {
                                    <tr data-sale-id=sale.id.to_string()>
                                        <td><a href=format!("/admin/sales/{}", sale.id)>{sale.title.clone()}</a></td>
                                        <td><span class=format!("badge badge-{}", state.as_str())>{state.label()}</span></td>
                                        <td><LocalTime ms=sale.starts_at_ms seconds=true/></td>
                                        <td>{format!("{left} / {}", sale.stock)}</td>
                                        <td>{stats.as_ref().map(|s| s.pending_payment + s.paid).unwrap_or_default()}</td>
                                        <td>{stats.as_ref().map(|s| s.pending_payment).unwrap_or_default()}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
}
