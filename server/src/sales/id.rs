//! [`SaleId`]: a sale's id as it arrives in a path, parsed once at the edge.

use std::fmt;

/// The id of a sale: a positive integer (Postgres' `bigserial`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SaleId(i64);

impl SaleId {
    /// Parses the decimal text of a path segment; anything but a positive
    /// integer is refused with a sentence for the client.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(SaleId)
            .ok_or_else(|| format!("`{raw}` is not a sale id"))
    }

    /// The number, for the stores and Redis keys.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for SaleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_positive_integers_are_sale_ids() {
        assert_eq!(SaleId::parse("42").map(SaleId::get), Ok(42));
        for bad in ["0", "-1", "", "4x", " 4", "99999999999999999999", "1.0"] {
            assert!(SaleId::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_positive_id_round_trips(id in 1..=i64::MAX) {
            prop_assert_eq!(SaleId::parse(&id.to_string()).map(SaleId::get), Ok(id));
        }

        #[test]
        fn whatever_arrives_parses_to_a_positive_id_or_a_refusal(raw in "[-+0-9a-z ]{0,24}") {
            match SaleId::parse(&raw) {
                Ok(id) => prop_assert!(id.get() > 0),
                Err(message) => prop_assert!(message.contains(&raw)),
            }
        }
    }
}
