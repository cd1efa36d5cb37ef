//! An instant shown in the reader's own time zone, with the zone named
//! ("Nov 23, 2026, 07:47 AM GMT+9") and the exact UTC instant in its `title`.
//!
//! The server cannot know the reader's zone (and its pages are cached for
//! everyone), so it renders the UTC form; the page's inline
//! [`super::LOCALISE_SCRIPT`] rewrites it before the first paint, and
//! hydration keeps that text (see there).

use leptos::prelude::*;

use crate::clock::{format_utc, format_utc_seconds};

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
