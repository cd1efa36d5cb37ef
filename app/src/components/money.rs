//! An amount in the reader's own number format ("$49.00", "49,00 $US",
//! "US$49.00"), with the amount and its currency machine-readable in a
//! `<data>` element. Before a browser formats it (the server's render, a page
//! without scripts) it reads `49.00 USD`; see [`super::LOCALISE_SCRIPT`].

use leptos::prelude::*;

use crate::money::Currency;

/// `minor` units of `currency` (4900 in USD: forty-nine dollars).
#[component]
pub fn Money(minor: i64, currency: Currency) -> impl IntoView {
    let decimal = currency.decimal(minor);
    let text =
        crate::client::money(&decimal, currency.code()).unwrap_or_else(|| currency.plain(minor));
    view! { <data value=decimal data-currency=currency.code()>{text}</data> }
}
