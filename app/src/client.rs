//! The browser's calls to the JSON API (the hot path is plain routes, not server
//! functions). Under `hydrate` they use `fetch` through gloo-net; in the server
//! build the same functions exist but answer "not in a browser", so components
//! compile once and their event handlers, which only ever run in the browser,
//! need no `cfg` of their own.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{ErrorBody, ErrorCode};

/// An answer of the API: the status, `Retry-After` when given, and the body,
/// parsed as `T` on success or as the error body otherwise.
#[derive(Clone, Debug)]
pub struct Reply<T> {
    pub status: u16,
    pub retry_after_secs: Option<u32>,
    pub body: Result<T, ErrorBody>,
}

impl<T> Reply<T> {
    /// The API error code, if this is an error.
    pub fn code(&self) -> Option<ErrorCode> {
        self.body.as_ref().err().map(|error| error.error)
    }
}

/// The network failed or the answer was not JSON of the expected shape.
pub type Failure = String;

/// `GET path`.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<Reply<T>, Failure> {
    #[cfg(feature = "hydrate")]
    {
        let response = gloo_net::http::Request::get(path)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        read(response).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = path;
        Err("not in a browser".into())
    }
}

/// `POST path` with a JSON body.
pub async fn post<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<Reply<T>, Failure> {
    send_json(Write::Post, path, body).await
}

/// `PATCH path` with a JSON body.
pub async fn patch<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<Reply<T>, Failure> {
    send_json(Write::Patch, path, body).await
}

/// `POST path` with the file chosen in the `<input type="file">` that fired
/// `event` as the raw body (its type is the file's own).
pub async fn post_chosen_file<T: DeserializeOwned>(
    path: &str,
    event: &leptos::ev::Event,
) -> Result<Reply<T>, Failure> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
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
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (path, event);
        Err("not in a browser".into())
    }
}

/// The methods that carry a JSON body.
enum Write {
    Post,
    Patch,
}

async fn send_json<B: Serialize, T: DeserializeOwned>(
    method: Write,
    path: &str,
    body: &B,
) -> Result<Reply<T>, Failure> {
    #[cfg(feature = "hydrate")]
    {
        let request = match method {
            Write::Post => gloo_net::http::Request::post(path),
            Write::Patch => gloo_net::http::Request::patch(path),
        };
        send(request.json(body)).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (method, path, body);
        Err("not in a browser".into())
    }
}

/// Sends a request that was built (or failed to build) and reads the answer.
#[cfg(feature = "hydrate")]
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

#[cfg(feature = "hydrate")]
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
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_millis() as f64)
    }
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep_ms(ms: u32) {
    #[cfg(feature = "hydrate")]
    gloo_timers::future::TimeoutFuture::new(ms).await;
    #[cfg(not(feature = "hydrate"))]
    let _ = ms;
}

/// Runs `future` in the browser; nothing on the server.
pub fn spawn<F: std::future::Future<Output = ()> + 'static>(future: F) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(future);
    #[cfg(not(feature = "hydrate"))]
    drop(future);
}

/// Sends the rest of a pointer's moves to the element it pressed, even when it
/// leaves it (a fast drag), until it is let go.
pub fn capture_pointer(event: &leptos::ev::PointerEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(element) = event
            .current_target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        {
            // A pointer already gone cannot be captured; its moves just stop.
            let _ = element.set_pointer_capture(event.pointer_id());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = event;
}

/// Every position a pointer passed through since the last `pointermove`
/// (`getCoalescedEvents`: the browser batches moves into one event per frame,
/// a slow frame would look like a jump), as `(time_stamp_ms, client_x)`.
pub fn pointer_moves(event: &leptos::ev::PointerEvent) -> Vec<(f64, f64)> {
    let this = (event.time_stamp(), f64::from(event.client_x()));
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let moves: Vec<(f64, f64)> = event
            .get_coalesced_events()
            .iter()
            .filter_map(|each| each.dyn_into::<web_sys::PointerEvent>().ok())
            .map(|each| (each.time_stamp(), f64::from(each.client_x())))
            .collect();
        if !moves.is_empty() {
            return moves;
        }
    }
    vec![this]
}

/// The width an element is shown at, in page pixels.
pub fn element_width(node: leptos::prelude::NodeRef<leptos::html::Div>) -> Option<f64> {
    #[cfg(feature = "hydrate")]
    {
        use leptos::prelude::Get;
        node.get().map(|element| f64::from(element.client_width()))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = node;
        None
    }
}

/// Asks the person to confirm (the browser's dialog); `false` outside a browser.
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|window| window.confirm_with_message(message).ok())
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

/// `ms` since the epoch in the reader's locale and time zone, zone named, by
/// the page's own `flashsaleLocalTime` (see `components::local_time`); `None`
/// outside a browser or before that script ran.
pub fn local_time(ms: i64) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let window = web_sys::window()?;
        let format = js_sys::Reflect::get(&window, &"flashsaleLocalTime".into()).ok()?;
        let format = format.dyn_into::<js_sys::Function>().ok()?;
        format
            .call1(&window, &wasm_bindgen::JsValue::from_f64(ms as f64))
            .ok()?
            .as_string()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ms;
        None
    }
}

/// A `datetime-local` value (the person's time zone) as ms since the epoch.
pub fn local_datetime_ms(value: &str) -> Option<i64> {
    #[cfg(feature = "hydrate")]
    {
        let ms = js_sys::Date::parse(value);
        (!ms.is_nan()).then_some(ms as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = value;
        None
    }
}

/// ms since the epoch as a `datetime-local` value in the person's time zone.
pub fn to_local_datetime(ms: i64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date(),
            date.get_hours(),
            date.get_minutes()
        )
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ms;
        String::new()
    }
}

/// What a view loaded from the API knows so far.
#[derive(Clone, Debug, PartialEq)]
pub enum Remote<T> {
    Loading,
    NeedLogin,
    Forbidden,
    Failed(String),
    Ready(T),
}

impl<T> Remote<T> {
    /// From an API reply: 401 and 403 get their own states.
    pub fn from_reply(reply: Result<Reply<T>, Failure>) -> Self {
        match reply {
            Ok(reply) if reply.status == 401 => Remote::NeedLogin,
            Ok(reply) if reply.status == 403 => Remote::Forbidden,
            Ok(reply) => match reply.body {
                Ok(value) => Remote::Ready(value),
                Err(error) => Remote::Failed(error.message),
            },
            Err(error) => Remote::Failed(error),
        }
    }
}
