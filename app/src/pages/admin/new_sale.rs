//! `/admin/sales/new`: schedule a sale. Times are typed in the admin's time zone
//! and shown as the UTC instant they mean; the server validates everything again.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

use crate::account::{load_when_allowed, Audience};
use crate::api::{AdmissionMode, CaptchaKind, SaleDraft};
use crate::client::{self, Remote, Reply};
use crate::clock::format_utc_seconds;
use crate::endpoints;
use crate::money::Currency;

/// The form's fields, as typed.
#[derive(Clone, Copy)]
struct SaleFields {
    title: RwSignal<String>,
    description: RwSignal<String>,
    image_url: RwSignal<String>,
    currency: RwSignal<String>,
    price: RwSignal<String>,
    list_price: RwSignal<String>,
    stock: RwSignal<String>,
    limit: RwSignal<String>,
    starts: RwSignal<String>,
    duration_minutes: RwSignal<String>,
    payment_minutes: RwSignal<String>,
    captcha: RwSignal<String>,
    min_age: RwSignal<String>,
    admission: RwSignal<String>,
    line_opens_minutes: RwSignal<String>,
}

impl SaleFields {
    fn new() -> Self {
        let field = |initial: &str| RwSignal::new(initial.to_owned());
        Self {
            title: field(""),
            description: field(""),
            image_url: field(""),
            currency: field(""),
            price: field(""),
            list_price: field(""),
            stock: field("10"),
            limit: field("1"),
            starts: field(""),
            duration_minutes: field("60"),
            payment_minutes: field("15"),
            captcha: field("pow"),
            // Accounts made after the announcement cannot buy: one machine's
            // hundred fresh accounts are worth nothing (OPERATIONS.md).
            min_age: field("7"),
            // A waiting room makes the opening fair: proposed for every sale.
            admission: field("queue"),
            line_opens_minutes: field("10"),
        }
    }

    /// The start typed, as an instant (tracked: the UTC line follows it).
    fn start_ms(&self) -> Option<i64> {
        client::local_datetime_ms(&self.starts.get())
    }

    /// The sale the fields describe, or what to correct first.
    fn draft(&self) -> Result<SaleDraft, String> {
        let number = |signal: RwSignal<String>, name: &str| {
            signal
                .get_untracked()
                .trim()
                .parse::<i32>()
                .map_err(|_| format!("{name}: a whole number"))
        };
        let starts_at_ms = client::local_datetime_ms(&self.starts.get_untracked())
            .ok_or("Starts: pick a date and time")?;
        let minutes = number(self.duration_minutes, "Duration")?;
        if minutes < 1 {
            return Err("Duration: at least a minute".into());
        }
        let admission =
            AdmissionMode::parse(&self.admission.get_untracked()).unwrap_or(AdmissionMode::Queue);
        let queue_opens_at_ms = match admission {
            AdmissionMode::Race => None,
            AdmissionMode::Queue => {
                let before = number(self.line_opens_minutes, "Line opens")?;
                if before < 0 {
                    return Err("Line opens: 0 or more minutes before the start".into());
                }
                Some(starts_at_ms - i64::from(before) * 60_000)
            }
        };
        let currency = Currency::parse(self.currency.get_untracked().trim())
            .ok_or("Currency: an ISO 4217 code like EUR")?;
        let amount = |signal: RwSignal<String>, name: &str| {
            currency
                .parse_amount(&signal.get_untracked())
                .ok_or_else(|| format!("{name}: an amount like {}", currency.decimal(4_990)))
        };
        Ok(SaleDraft {
            title: self.title.get_untracked(),
            description: self.description.get_untracked(),
            image_url: self.image_url.get_untracked(),
            price_cents: amount(self.price, "Price")?,
            list_price_cents: amount(self.list_price, "List price")?,
            currency: Some(currency),
            stock: number(self.stock, "Stock")?,
            per_user_limit: number(self.limit, "Limit per shopper")?,
            starts_at_ms,
            ends_at_ms: starts_at_ms + i64::from(minutes) * 60_000,
            payment_window_secs: number(self.payment_minutes, "Payment window")?.saturating_mul(60),
            captcha: CaptchaKind::parse(&self.captcha.get_untracked()).unwrap_or(CaptchaKind::Pow),
            min_account_age_days: number(self.min_age, "Minimum account age")?,
            admission: Some(admission),
            queue_opens_at_ms,
            queue_window_per_unit: None,
            queue_pace_per_s: None,
        })
    }
}

/// The form for a new sale.
#[component]
pub fn NewSale() -> impl IntoView {
    let navigate = use_navigate();
    let fields = SaleFields::new();
    let error = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let uploading = RwSignal::new(false);

    // Default start: five minutes from now, in the admin's own time zone.
    Effect::new(move |_| {
        if fields.starts.get_untracked().is_empty() {
            fields.starts.set(client::to_local_datetime(
                client::device_now_ms() as i64 + 5 * 60_000,
            ));
        }
    });
    // Whether this is an admin. Until then the form is hidden; a visitor or a
    // shopper reads why instead. Then the shop's currency, unless the admin has
    // typed one meanwhile.
    let access = RwSignal::new(Remote::<()>::Loading);
    load_when_allowed(
        Audience::Admins,
        move |refusal| access.set(refusal.into()),
        move || {
            access.set(Remote::Ready(()));
            client::spawn(async move {
                if let Ok(Reply {
                    body: Ok(defaults), ..
                }) = endpoints::sale_defaults().await
                {
                    if fields.currency.get_untracked().is_empty() {
                        let _ = fields.currency.try_set(defaults.currency.code().to_owned());
                    }
                }
            });
        },
    );

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if pending.get_untracked() {
            return;
        }
        let draft = match fields.draft() {
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

    view! {
        <Title text="New sale · Admin"/>
        <h1>"Schedule a sale"</h1>
        {move || super::not_ready(&access.get(), "/admin/sales/new")}
        <form class="admin-form" on:submit=submit hidden=move || !matches!(access.get(), Remote::Ready(_))>
            {text_input("title", "Title", fields.title, "text")}
            <label for="description">"Description"</label>
            <textarea
                id="description"
                rows="3"
                prop:value=move || fields.description.get()
                on:input=move |event| fields.description.set(event_target_value(&event))
            ></textarea>
            <PictureField image_url=fields.image_url uploading error/>
            {text_input("currency", "Currency (ISO 4217 code)", fields.currency, "text")}
            {text_input("price", "Price", fields.price, "text")}
            {text_input("list_price", "List price (before the sale)", fields.list_price, "text")}
            {text_input("stock", "Stock (units)", fields.stock, "number")}
            {text_input("limit", "Limit per shopper", fields.limit, "number")}
            {text_input("starts", "Starts (your time zone)", fields.starts, "datetime-local")}
            <p class="hint utc-instant">{move || fields.start_ms().map(|ms| format!("= {}", format_utc_seconds(ms))).unwrap_or_default()}</p>
            {text_input("duration", "Duration (minutes)", fields.duration_minutes, "number")}
            {text_input("payment", "Payment window (minutes)", fields.payment_minutes, "number")}
            <label for="captcha">"CAPTCHA"</label>
            <select id="captcha" on:change=move |event| fields.captcha.set(event_target_value(&event))>
                <option value="pow" selected=true>"Proof of work (solved by the browser)"</option>
                <option value="image">"Sliding puzzle (proof of work for who cannot drag)"</option>
                <option value="none">"None"</option>
            </select>
            <label for="admission">"Opening"</label>
            <select id="admission" on:change=move |event| fields.admission.set(event_target_value(&event))>
                <option value="queue" selected=true>"Waiting room: a random place for everyone who joins before the start"</option>
                <option value="race">"Race: first come at the start"</option>
            </select>
            {move || (fields.admission.get() == "queue").then(|| view! {
                {text_input("line_opens", "Line opens (minutes before the start)", fields.line_opens_minutes, "number")}
                <p class="hint">"Shoppers join the line from then on; at the start their places are drawn, and they are let in at the pace the sale can serve."</p>
            })}
            {text_input("min_age", "Minimum account age (days)", fields.min_age, "number")}
            <p class="hint">"Accounts younger than this cannot buy: 7 days keeps out accounts made for this sale. 0 lets anyone buy."</p>
            <p class="form-error" role="alert">{move || error.get()}</p>
            <button type="submit" class="primary" disabled=move || pending.get() || uploading.get()>"Create sale"</button>
        </form>
    }
}

/// A labelled input bound to `signal`.
fn text_input(
    id: &'static str,
    label: &'static str,
    signal: RwSignal<String>,
    kind: &'static str,
) -> impl IntoView {
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
}

/// The picture: an address typed, or a file uploaded (which fills in the
/// address), with a preview.
#[component]
fn PictureField(
    image_url: RwSignal<String>,
    uploading: RwSignal<bool>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
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
    }
}
