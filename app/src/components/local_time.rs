//! An instant shown in the reader's own time zone, with the zone named
//! ("Nov 23, 2026, 07:47 AM GMT+9") and the exact UTC instant in its `title`.
//!
//! The server cannot know the reader's zone (and its pages are cached for
//! everyone), so it renders the UTC form; [`LOCAL_TIMES_SCRIPT`], inline in the
//! page, rewrites every such element as it is parsed — before the first paint
//! and before the WASM arrives — and hydration keeps that text, so nothing
//! flashes. Rendered in the browser later (after a navigation), the component
//! formats with the same function.

use leptos::prelude::*;

use crate::clock::{format_utc, format_utc_seconds};

/// Defines `flashsaleLocalTime(ms, seconds)` (the one format, the browser's
/// locale and zone; to the second for `data-seconds`) and applies it to every `time[data-local]`, now and in what streams
/// in until the page has loaded (later ones are rendered local already).
pub const LOCAL_TIMES_SCRIPT: &str = r#"(function () {
  var format = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  var precise = Object.assign({ second: "2-digit" }, format);
  window.flashsaleLocalTime = function (ms, seconds) { return new Date(ms).toLocaleString(undefined, seconds ? precise : format); };
  function localise(time) {
    var text = window.flashsaleLocalTime(Number(time.dataset.local), time.dataset.seconds === "1");
    if (time.textContent !== text) time.textContent = text;
  }
  function within(node) {
    if (node.nodeType !== 1) return;
    if (node.matches("time[data-local]")) localise(node);
    node.querySelectorAll("time[data-local]").forEach(localise);
  }
  document.querySelectorAll("time[data-local]").forEach(localise);
  var streamed = new MutationObserver(function (changes) {
    changes.forEach(function (change) { change.addedNodes.forEach(within); });
  });
  streamed.observe(document.documentElement, { childList: true, subtree: true });
  window.addEventListener("load", function () { streamed.disconnect(); });
})();"#;

/// `ms` since the epoch, in the reader's time zone once in a browser; to the
/// second with `seconds` (admins schedule and watch to the second).
#[component]
pub fn LocalTime(ms: i64, #[prop(optional)] seconds: bool) -> impl IntoView {
    let utc = if seconds {
        format_utc_seconds(ms)
    } else {
        format_utc(ms)
    };
    let text = crate::client::local_time(ms, seconds).unwrap_or_else(|| utc.clone());
    view! {
        <time datetime=iso_utc(&utc) title=utc.clone() data-local=ms.to_string() data-seconds=seconds.then_some("1")>{text}</time>
    }
}

/// A [`format_utc`] or [`format_utc_seconds`] text as the `datetime`
/// attribute wants it: `2026-11-22T20:00Z`, `2026-11-22T20:00:05Z`.
pub(crate) fn iso_utc(utc: &str) -> String {
    utc.replacen(' ', "T", 1).replace(" UTC", "Z")
}

#[cfg(test)]
mod tests {
    use super::{format_utc, iso_utc};

    #[test]
    fn the_datetime_attribute_is_an_iso_instant() {
        assert_eq!(iso_utc(&format_utc(1_795_377_600_000)), "2026-11-22T20:00Z");
    }
}
