//! The demo sale: on a first run (or whenever nothing is scheduled or live) the
//! developer's `cargo leptos watch` shows a sale counting down, not an empty page.

use app::api::{CaptchaKind, SaleDraft};
use app::money::Currency;

use super::catalog::Catalog;
use super::new_sale::NewSale;
use crate::store::StoreError;

/// How far ahead the demo sale starts: long enough to watch the countdown.
const STARTS_IN_MS: i64 = 2 * 60 * 1000;
const LASTS_MS: i64 = 60 * 60 * 1000;

/// Creates the demo sale (priced in the shop's `currency`) unless a sale is
/// already scheduled or live. Returns whether one was created.
pub async fn ensure_demo_sale(catalog: &Catalog, currency: Currency) -> Result<bool, StoreError> {
    if catalog.has_open_sale().await? {
        return Ok(false);
    }
    let starts_at_ms = catalog.clock().now_ms() + STARTS_IN_MS;
    let sale = catalog
        .create(&NewSale::parse(
            SaleDraft {
            title: "Mechanical keyboard, 75% layout".into(),
            description:
                "Hot-swappable switches, aluminium case. Ten units at a third of the list price: \
                          one per shopper."
                    .into(),
            image_url: String::new(),
            price_cents: 4_900,
            list_price_cents: 12_900,
            currency: None,
            stock: 10,
            per_user_limit: 1,
            starts_at_ms,
            ends_at_ms: starts_at_ms + LASTS_MS,
            payment_window_secs: 900,
            captcha: CaptchaKind::Pow,
            min_account_age_days: 0,
            admission: None,
            queue_opens_at_ms: None,
            queue_window_per_unit: None,
            queue_pace_per_s: None,
            },
            currency,
        )
        .expect("the demo sale keeps every rule"))
        .await?;
    tracing::info!(sale_id = sale.id, "created the demo sale");
    Ok(true)
}
