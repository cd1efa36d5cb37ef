//! "Add to calendar": an upcoming sale as an iCalendar event (RFC 5545) that
//! starts at the sale's start and rings ten minutes before, so a shopper comes
//! back at the right minute. Made in the page, handed over as a `data:` URL:
//! the server keeps no calendar route and learns nothing of who saved one.

use crate::api::Sale;
use crate::clock::ics_utc;

/// The event file of `sale`, whose page is at `page_url`.
pub fn reminder(sale: &Sale, page_url: &str) -> String {
    let start = ics_utc(sale.starts_at_ms);
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//flashsale//sale reminder//EN".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:sale-{}-{}@flashsale", sale.id, sale.starts_at_ms),
        format!("DTSTAMP:{start}"),
        format!("DTSTART:{start}"),
        format!("DTEND:{}", ics_utc(sale.starts_at_ms + 15 * 60_000)),
        format!("SUMMARY:{}", text(&format!("Flash sale: {}", sale.title))),
        format!(
            "DESCRIPTION:{}",
            text(&format!("{} units. {page_url}", sale.stock))
        ),
        format!("URL:{page_url}"),
        "BEGIN:VALARM".to_owned(),
        "ACTION:DISPLAY".to_owned(),
        "TRIGGER:-PT10M".to_owned(),
        format!(
            "DESCRIPTION:{}",
            text(&format!("{} starts in 10 minutes", sale.title))
        ),
        "END:VALARM".to_owned(),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    let mut file = lines.join("\r\n");
    file.push_str("\r\n");
    file
}

/// The `href` of `sale`'s "Add to calendar" link. Its own WASM chunk in the
/// release build: the sale page asks for it only while the sale is upcoming,
/// so the code costs nothing at the opening second.
#[leptos::lazy]
pub fn reminder_href(sale: Sale, page_url: String) -> String {
    data_url(&reminder(&sale, &page_url))
}

/// `ics` as a link's `href`: every byte but letters and digits escaped.
pub fn data_url(ics: &str) -> String {
    let mut url = String::from("data:text/calendar;charset=utf-8,");
    for byte in ics.bytes() {
        if byte.is_ascii_alphanumeric() {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// A TEXT value: backslash, semicolon, comma and line breaks escaped.
fn text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | ';' | ',' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_starts_with_the_sale_and_rings_before() {
        let sale = Sale {
            id: 42,
            title: "Keyboards, mechanical; 60%".into(),
            ..Sale::example(1_795_377_600_000, 1_795_381_200_000)
        };
        let ics = reminder(&sale, "https://shop.example/sales/42");
        assert!(ics.contains("\r\nDTSTART:20261122T200000Z\r\n"), "{ics}");
        assert!(ics.contains("\r\nDTEND:20261122T201500Z\r\n"));
        assert!(ics.contains("\r\nSUMMARY:Flash sale: Keyboards\\, mechanical\\; 60%\r\n"));
        assert!(ics.contains("\r\nTRIGGER:-PT10M\r\n"));
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
        let url = data_url(&ics);
        assert!(url.starts_with("data:text/calendar;charset=utf-8,BEGIN%3AVCALENDAR%0D%0A"));
        let (_, body) = url.split_once(',').unwrap();
        assert!(!body.contains([' ', ':', '\n', '#', ',']));
    }
}
