//! `/admin/sales/new`: schedule a sale. Times are typed in the admin's time zone
//! and shown as the UTC instant they mean; the server validates everything again.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::api::{CaptchaKind, SaleDraft};
use crate::client::{self, Reply};
use crate::clock::format_utc;
use crate::endpoints;

/// Whole currency units (`"49.90"`) to cents.
fn parse_money(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 2
        || whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// The form for a new sale.
#[component]
pub fn NewSale() -> impl IntoView {
    let navigate = use_navigate();
    let field = |initial: &str| RwSignal::new(initial.to_owned());
    let title = field("");
    let description = field("");
    let image_url = field("");
    let price = field("49.00");
    let list_price = field("129.00");
    let stock = field("10");
    let limit = field("1");
    let starts = field("");
    let duration_minutes = field("60");
    let payment_minutes = field("15");
    let captcha = field("pow");
    let min_age = field("0");
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let uploading = RwSignal::new(false);

    // Default start: five minutes from now, in the admin's own time zone.
    Effect::new(move |_| {
        if starts.get_untracked().is_empty() {
            starts.set(client::to_local_datetime(
                client::device_now_ms() as i64 + 5 * 60_000,
            ));
        }
    });
    let start_ms = move || client::local_datetime_ms(&starts.get());

    let draft = move || -> Result<SaleDraft, String> {
        let number = |signal: RwSignal<String>, name: &str| {
            signal
                .get_untracked()
                .trim()
                .parse::<i32>()
                .map_err(|_| format!("{name}: a whole number"))
        };
        let starts_at_ms = start_ms().ok_or("Starts: pick a date and time")?;
        let minutes = number(duration_minutes, "Duration")?;
        if minutes < 1 {
            return Err("Duration: at least a minute".into());
        }
        Ok(SaleDraft {
            title: title.get_untracked(),
            description: description.get_untracked(),
            image_url: image_url.get_untracked(),
            price_cents: parse_money(&price.get_untracked())
                .ok_or("Price: an amount like 49.90")?,
            list_price_cents: parse_money(&list_price.get_untracked())
                .ok_or("List price: an amount like 129.00")?,
            stock: number(stock, "Stock")?,
            per_user_limit: number(limit, "Limit per shopper")?,
            starts_at_ms,
            ends_at_ms: starts_at_ms + i64::from(minutes) * 60_000,
            payment_window_secs: number(payment_minutes, "Payment window")?.saturating_mul(60),
            captcha: CaptchaKind::parse(&captcha.get_untracked()).unwrap_or(CaptchaKind::Pow),
            min_account_age_days: number(min_age, "Minimum account age")?,
        })
    };

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let draft = match draft() {
            Ok(draft) => draft,
            Err(message) => return error.set(Some(message)),
        };
        pending.set(true);
        error.set(None);
        let navigate = navigate.clone();
        client::spawn(async move {
            match endpoints::create_sale(&draft).await {
                Ok(reply) => match reply.body {
                    Ok(sale) => navigate(
                        &format!("/admin/sales/{}", sale.id),
                        NavigateOptions::default(),
                    ),
                    Err(refusal) => error.set(Some(refusal.message)),
                },
                Err(_) => error.set(Some("The connection failed. Try again.".into())),
            }
            let _ = pending.try_set(false);
        });
    };

    let text_input = move |id: &'static str,
                           label: &'static str,
                           signal: RwSignal<String>,
                           kind: &'static str| {
        view! {
            <label for=id>{label}</label>
            <input
                id=id
                type=kind
                step=if kind == "datetime-local" { "1" } else { "any" }
                required=kind != "url"
                prop:value=move || signal.get()
                on:input=move |event| signal.set(event_target_value(&event))
            />
        }
    };

    view! {
        <Title text="New sale · Admin"/>
        <h1>"Schedule a sale"</h1>
        <form class="admin-form" on:submit=submit>
            {text_input("title", "Title", title, "text")}
            <label for="description">"Description"</label>
            <textarea
                id="description"
                rows="3"
                prop:value=move || description.get()
                on:input=move |event| description.set(event_target_value(&event))
            ></textarea>
            <label for="image_url">"Picture (optional): a URL, or upload one"</label>
            <input
                id="image_url"
                type="text"
                inputmode="url"
                placeholder="https://… or /pictures/…"
                prop:value=move || image_url.get()
                on:input=move |event| image_url.set(event_target_value(&event))
            />
            <input
                id="image_file"
                type="file"
                accept="image/png,image/jpeg,image/webp,image/gif"
                aria-label="Upload a picture"
                on:change=move |event| {
                    uploading.set(true);
                    client::spawn(async move {
                        match endpoints::upload_picture(&event).await {
                            Ok(Reply { body: Ok(uploaded), .. }) => image_url.set(uploaded.url),
                            Ok(Reply { body: Err(refusal), .. }) => error.set(Some(refusal.message)),
                            Err(failure) => error.set(Some(failure)),
                        }
                        let _ = uploading.try_set(false);
                    });
                }
            />
            {move || (!image_url.get().is_empty()).then(|| view! {
                <img class="picture-preview" src=image_url.get() alt="The sale's picture" width="240" height="160"/>
            })}
            {text_input("price", "Price", price, "text")}
            {text_input("list_price", "List price", list_price, "text")}
            {text_input("stock", "Stock (units)", stock, "number")}
            {text_input("limit", "Limit per shopper", limit, "number")}
            {text_input("starts", "Starts (your time zone)", starts, "datetime-local")}
            <p class="hint utc-instant">{move || start_ms().map(|ms| format!("= {}", format_utc(ms))).unwrap_or_default()}</p>
            {text_input("duration", "Duration (minutes)", duration_minutes, "number")}
            {text_input("payment", "Payment window (minutes)", payment_minutes, "number")}
            <label for="captcha">"CAPTCHA"</label>
            <select id="captcha" on:change=move |event| captcha.set(event_target_value(&event))>
                <option value="pow" selected=true>"Proof of work (solved by the browser)"</option>
                <option value="image">"Sliding puzzle (proof of work for who cannot drag)"</option>
                <option value="none">"None"</option>
            </select>
            {text_input("min_age", "Minimum account age (days)", min_age, "number")}
            <p class="form-error" role="alert">{move || error.get()}</p>
            <button type="submit" class="primary" disabled=move || pending.get() || uploading.get()>"Create sale"</button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_money;

    #[test]
    fn money_is_typed_in_currency_units() {
        assert_eq!(parse_money("49"), Some(4_900));
        assert_eq!(parse_money("49.9"), Some(4_990));
        assert_eq!(parse_money(" 0.05 "), Some(5));
        assert_eq!(parse_money("1.234"), None);
        assert_eq!(parse_money("-1"), None);
        assert_eq!(parse_money("abc"), None);
        assert_eq!(parse_money(".5"), None);
    }
}
