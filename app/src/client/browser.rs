//! The browser's side of [`crate::client`]: `fetch`, timers, pointer capture and
//! the page's own time formatting. Compiled under `hydrate` only; `server.rs`
//! has the same functions for the server build.
//!
//! JSON is read by the browser (`Response.json()`, i.e. `JSON.parse`) and
//! turned into our types by `serde-wasm-bindgen`, and written the same way
//! back (`JSON.stringify`): the WASM carries no JSON parser of its own, which
//! was the largest piece of the shoppers' bundle that was not the framework.

use js_sys::futures::JsFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};

use super::{Failure, Reply};
use crate::api::{ErrorBody, ErrorCode};

/// `GET path`.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<Reply<T>, Failure> {
    read(fetch("GET", path, None).await?).await
}

/// `POST path` with a JSON body.
pub async fn post<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<Reply<T>, Failure> {
    read(fetch("POST", path, Some((&json(body)?, "application/json"))).await?).await
}

/// `PATCH path` with a JSON body.
pub async fn patch<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<Reply<T>, Failure> {
    read(fetch("PATCH", path, Some((&json(body)?, "application/json"))).await?).await
}

/// `POST path` with the file chosen in the `<input type="file">` that fired
/// `event` as the raw body (its type is the file's own).
pub async fn post_chosen_file<T: DeserializeOwned>(
    path: &str,
    event: &leptos::ev::Event,
) -> Result<Reply<T>, Failure> {
    let file = event
        .target()
        .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
        .and_then(|input| input.files())
        .and_then(|files| files.get(0))
        .ok_or_else(|| "no file was chosen".to_string())?;
    read(fetch("POST", path, Some((&file.clone().into(), &file.type_()))).await?).await
}

/// `body` as JSON text, the way the API reads it (`i64`s as plain numbers,
/// maps as objects).
fn json<B: Serialize>(body: &B) -> Result<JsValue, Failure> {
    let value = body
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| error.to_string())?;
    js_sys::JSON::stringify(&value)
        .map(JsValue::from)
        .map_err(describe)
}

/// Sends `method path` with an optional body and its content type; the answer
/// is whatever status the server gave (only a network failure is an error).
async fn fetch(
    method: &str,
    path: &str,
    body: Option<(&JsValue, &str)>,
) -> Result<web_sys::Response, Failure> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some((body, _)) = body {
        init.set_body(body);
    }
    let request = web_sys::Request::new_with_str_and_init(path, &init).map_err(describe)?;
    if let Some((_, content_type)) = body {
        request
            .headers()
            .set("content-type", content_type)
            .map_err(describe)?;
    }
    let window = web_sys::window().ok_or_else(|| "not in a browser".to_string())?;
    JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(describe)?
        .dyn_into()
        .map_err(describe)
}

/// What a failed browser call says.
fn describe(error: JsValue) -> Failure {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "the request failed".to_string())
}

/// The answer's body parsed by the browser.
async fn body(response: &web_sys::Response) -> Result<JsValue, Failure> {
    JsFuture::from(response.json().map_err(describe)?)
        .await
        .map_err(describe)
}

async fn read<T: DeserializeOwned>(response: web_sys::Response) -> Result<Reply<T>, Failure> {
    let status = response.status();
    let retry_after_secs = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|value| value.trim().parse().ok());
    let body = if (200..300).contains(&status) {
        // No content (204): only `()`-like targets make sense; they read `null`.
        let value = if status == 204 {
            JsValue::NULL
        } else {
            body(&response).await?
        };
        Ok(serde_wasm_bindgen::from_value(value).map_err(|error| error.to_string())?)
    } else {
        Err(body(&response)
            .await
            .ok()
            .and_then(|value| serde_wasm_bindgen::from_value(value).ok())
            .unwrap_or_else(|| ErrorBody {
                error: ErrorCode::Unknown,
                message: format!("the server did not answer as expected (HTTP {status})"),
            }))
    };
    Ok(Reply {
        status,
        retry_after_secs,
        body,
    })
}

/// The device clock in milliseconds since the epoch.
pub fn device_now_ms() -> f64 {
    js_sys::Date::now()
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep_ms(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Runs `future` in the browser.
pub fn spawn<F: std::future::Future<Output = ()> + 'static>(future: F) {
    leptos::task::spawn_local(future);
}

/// Sends the rest of a pointer's moves to the element it pressed, even when it
/// leaves it (a fast drag), until it is let go.
pub fn capture_pointer(event: &leptos::ev::PointerEvent) {
    if let Some(element) = event
        .current_target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
    {
        // A pointer already gone cannot be captured; its moves just stop.
        let _ = element.set_pointer_capture(event.pointer_id());
    }
}

/// Every position a pointer passed through since the last `pointermove`
/// (`getCoalescedEvents`: the browser batches moves into one event per frame,
/// a slow frame would look like a jump), as `(time_stamp_ms, client_x)`.
pub fn pointer_moves(event: &leptos::ev::PointerEvent) -> Vec<(f64, f64)> {
    let moves: Vec<(f64, f64)> = event
        .get_coalesced_events()
        .iter()
        .filter_map(|each| each.dyn_into::<web_sys::PointerEvent>().ok())
        .map(|each| (each.time_stamp(), f64::from(each.client_x())))
        .collect();
    if moves.is_empty() {
        vec![(event.time_stamp(), f64::from(event.client_x()))]
    } else {
        moves
    }
}

/// The width an element is shown at, in page pixels.
pub fn element_width(node: leptos::prelude::NodeRef<leptos::html::Div>) -> Option<f64> {
    use leptos::prelude::Get;
    node.get().map(|element| f64::from(element.client_width()))
}

/// Asks the person to confirm (the browser's dialog).
pub fn confirm(message: &str) -> bool {
    web_sys::window()
        .and_then(|window| window.confirm_with_message(message).ok())
        .unwrap_or(false)
}

/// `ms` since the epoch in the reader's locale and time zone, zone named, by
/// the page's own `flashsaleLocalTime` (see `components::localise`); `None`
/// before that script ran.
pub fn local_time(ms: i64, seconds: bool) -> Option<String> {
    let window = web_sys::window()?;
    let format = js_sys::Reflect::get(&window, &"flashsaleLocalTime".into()).ok()?;
    let format = format.dyn_into::<js_sys::Function>().ok()?;
    format
        .call2(
            &window,
            &wasm_bindgen::JsValue::from_f64(ms as f64),
            &wasm_bindgen::JsValue::from_bool(seconds),
        )
        .ok()?
        .as_string()
}

/// A decimal amount (`"49.00"`) of `currency` in the reader's number format,
/// through the page's own `flashsaleMoney` (see `components::localise`); `None`
/// if the page has none.
pub fn money(decimal: &str, currency: &str) -> Option<String> {
    let window = web_sys::window()?;
    let format = js_sys::Reflect::get(&window, &"flashsaleMoney".into()).ok()?;
    let format = format.dyn_into::<js_sys::Function>().ok()?;
    format
        .call2(&window, &decimal.into(), &currency.into())
        .ok()?
        .as_string()
}

/// `ms` since the epoch as a time of day to the second, in the reader's
/// locale and zone ("7:39:12 PM").
pub fn local_clock(ms: i64) -> String {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
        .to_locale_time_string("default")
        .into()
}

/// A `datetime-local` value (the person's time zone) as ms since the epoch.
pub fn local_datetime_ms(value: &str) -> Option<i64> {
    let ms = js_sys::Date::parse(value);
    (!ms.is_nan()).then_some(ms as i64)
}

/// ms since the epoch as a `datetime-local` value in the person's time zone.
pub fn to_local_datetime(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// The address of the page being shown.
pub fn page_url() -> String {
    web_sys::window()
        .and_then(|window| window.location().href().ok())
        .unwrap_or_default()
}
