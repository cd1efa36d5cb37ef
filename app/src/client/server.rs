//! The server build's stand-in for [`crate::client`]'s browser side: the same
//! functions, so components compile once, answering "not in a browser" (their
//! event handlers and effects only ever run in the browser).

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Failure, Reply};

fn not_in_a_browser<T>() -> Result<Reply<T>, Failure> {
    Err("not in a browser".into())
}

pub async fn get<T: DeserializeOwned>(_path: &str) -> Result<Reply<T>, Failure> {
    not_in_a_browser()
}

pub async fn post<B: Serialize, T: DeserializeOwned>(
    _path: &str,
    _body: &B,
) -> Result<Reply<T>, Failure> {
    not_in_a_browser()
}

pub async fn patch<B: Serialize, T: DeserializeOwned>(
    _path: &str,
    _body: &B,
) -> Result<Reply<T>, Failure> {
    not_in_a_browser()
}

pub async fn post_chosen_file<T: DeserializeOwned>(
    _path: &str,
    _event: &leptos::ev::Event,
) -> Result<Reply<T>, Failure> {
    not_in_a_browser()
}

/// The machine's clock (a server render has no device).
pub fn device_now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_millis() as f64)
}

pub async fn sleep_ms(_ms: u32) {}

/// Nothing runs on the server.
pub fn spawn<F: std::future::Future<Output = ()> + 'static>(future: F) {
    drop(future);
}

pub fn capture_pointer(_event: &leptos::ev::PointerEvent) {}

pub fn pointer_moves(event: &leptos::ev::PointerEvent) -> Vec<(f64, f64)> {
    vec![(event.time_stamp(), f64::from(event.client_x()))]
}

pub fn element_width(_node: leptos::prelude::NodeRef<leptos::html::Div>) -> Option<f64> {
    None
}

pub fn confirm(_message: &str) -> bool {
    false
}

pub fn local_time(_ms: i64, _seconds: bool) -> Option<String> {
    None
}

pub fn money(_decimal: &str, _currency: &str) -> Option<String> {
    None
}

/// The server renders no clock times of day (they appear after hydration).
pub fn local_clock(ms: i64) -> String {
    crate::clock::format_utc_seconds(ms)
}

pub fn local_datetime_ms(_value: &str) -> Option<i64> {
    None
}

pub fn to_local_datetime(_ms: i64) -> String {
    String::new()
}

/// No page is shown on the server.
pub fn page_url() -> String {
    String::new()
}
