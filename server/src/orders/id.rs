//! [`OrderId`]: made by the server before the reserve, parsed from paths.

use std::fmt;

/// An order id: `<sale id>-<32 hex digits>`. Made by the server before the
/// reserve, so the buyer can poll it at once; the sale id in it tells where the
/// queued reservation lives in Redis.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct OrderId {
    sale_id: i64,
    text: String,
}

impl OrderId {
    /// A fresh random id for an order of `sale_id`.
    pub fn new(sale_id: i64) -> Self {
        Self {
            sale_id,
            text: format!("{sale_id}-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Parses `<sale id>-<32 hex>`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let (sale, random) = raw.split_once('-')?;
        let sale_id = sale.parse::<i64>().ok().filter(|id| *id > 0)?;
        let valid = random.len() == 32
            && random
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| Self {
            sale_id,
            text: raw.to_owned(),
        })
    }

    pub fn sale_id(&self) -> i64 {
        self.sale_id
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_carry_their_sale_and_parse_back() {
        let id = OrderId::new(42);
        assert!(id.as_str().starts_with("42-"));
        assert_eq!(OrderId::parse(id.as_str()), Some(id));
        assert_eq!(OrderId::parse("42"), None);
        assert_eq!(OrderId::parse("0-0123456789abcdef0123456789abcdef"), None);
        assert_eq!(OrderId::parse("x-0123456789abcdef0123456789abcdef"), None);
        assert_eq!(OrderId::parse("7-0123456789ABCDEF0123456789abcdef"), None);
        assert_eq!(OrderId::parse("7-0123456789abcdef0123456789abcde"), None);
        assert!(OrderId::parse("7-0123456789abcdef0123456789abcdef").is_some());
    }

    proptest::proptest! {
        #[test]
        fn a_fresh_id_parses_back_to_its_sale(sale_id in 1..i64::MAX) {
            let id = OrderId::new(sale_id);
            proptest::prop_assert_eq!(OrderId::parse(id.as_str()), Some(id.clone()));
            proptest::prop_assert_eq!(id.sale_id(), sale_id);
        }

        #[test]
        fn whatever_parses_prints_back_unchanged(raw in "[0-9+-]{0,4}-?[0-9a-fA-F]{0,33}") {
            if let Some(id) = OrderId::parse(&raw) {
                proptest::prop_assert_eq!(id.as_str(), raw.as_str());
                proptest::prop_assert!(id.sale_id() > 0);
            }
        }
    }
}
