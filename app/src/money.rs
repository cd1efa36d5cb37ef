//! Prices are integer cents on the wire; people read them with two decimals.

/// `12345` → `"123.45"`. Negative amounts never occur (the database forbids them)
/// but are still shown correctly.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Whole-percent discount of `price` against `list_price`, when there is one.
pub fn discount_percent(price_cents: i64, list_price_cents: i64) -> Option<i64> {
    if list_price_cents <= 0 || price_cents >= list_price_cents {
        return None;
    }
    Some((list_price_cents - price_cents) * 100 / list_price_cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_cents_with_two_decimals() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(4_900), "49.00");
        assert_eq!(format_cents(123_456), "1234.56");
        assert_eq!(format_cents(-250), "-2.50");
    }

    #[test]
    fn discount_only_when_cheaper_than_list() {
        assert_eq!(discount_percent(4_900, 12_900), Some(62));
        assert_eq!(discount_percent(100, 100), None);
        assert_eq!(discount_percent(200, 100), None);
        assert_eq!(discount_percent(100, 0), None);
    }
}
