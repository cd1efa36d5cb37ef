//! The browser's side of [`crate::client`]: `fetch` through gloo-net, timers,
//! pointer capture and the page's own time formatting. Compiled under `hydrate`
//! only; `server.rs` has the same functions for the server build.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsCast;

use super::{Failure, Reply};
use crate::api::{ErrorBody, ErrorCode};

/// `GET path`.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<Reply<T>, Failure> {
    let response = gloo_net::http::Request::get(path)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    read(response).await
}

/// `POST path` with a JSON body.
pub async fn post<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<Reply<T>, Failure> {
    send(gloo_net::http::Request::post(path).json(body)).await
}

/// `PATCH path` with a JSON body.
pub async fn patch<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<Reply<T>, Failure> {
    send(gloo_net::http::Request::patch(path).json(body)).await
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
    let request = gloo_net::http::Request::post(path)
        .header("content-type", &file.type_())
        .body(file);
    send(request).await
}

/// Sends a request that was built (or failed to build) and reads the answer.
async fn send<T: DeserializeOwned>(
    request: Result<gloo_net::http::Request, gloo_net::Error>,
) -> Result<Reply<T>, Failure> {
    let response = request
        .map_err(|error| error.to_string())?
        .send()
        .await
        .map_err(|error| error.to_string())?;
    read(response).await
}

async fn read<T: DeserializeOwned>(
    response: gloo_net::http::Response,
) -> Result<Reply<T>, Failure> {
    let status = response.status();
    let retry_after_secs = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.trim().parse().ok());
    let body = if (200..300).contains(&status) {
        if status == 204 {
            // No content: only `()`-like targets make sense; try `null`.
            Ok(serde_json::from_str("null").map_err(|error| error.to_string())?)
        } else {
            Ok(response
                .json::<T>()
                .await
                .map_err(|error| error.to_string())?)
        }
    } else {
        Err(response
            .json::<ErrorBody>()
            .await
            .unwrap_or_else(|_| ErrorBody {
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
