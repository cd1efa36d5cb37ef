//! The order stream's contract, in one place: what `lua/reserve.lua` writes
//! when it takes units, and what the consumer, the order book and the books of a
//! sale read back.
//!
//! - Each reservation adds one entry to the sale's stream (`keys::stream`) with
//!   the fields of [`OrderMessage`], named by [`fields`].
//! - It also sets the order's [`QueuedEntry`] in the sale's `queued` hash
//!   (`keys::queued`), until the consumer has persisted the order: that is how a
//!   buyer polling an order sees `queued`, and how the books count units in
//!   flight.
//! - The stream is read by the consumer group [`CONSUMER_GROUP`].
//!
//! `reserve.lua` cannot import this module: the test below reads the script and
//! fails if the two drift apart.

use std::collections::BTreeMap;

use redis::streams::StreamId;

/// The consumer group that turns order messages into rows.
pub(crate) const CONSUMER_GROUP: &str = "orders";

/// The names of an order message's fields, as `reserve.lua` writes them.
pub(crate) mod fields {
    pub const ORDER_ID: &str = "order_id";
    pub const USER_ID: &str = "user_id";
    pub const UNITS: &str = "units";
    pub const SEQ: &str = "seq";
    pub const PRICE_CENTS: &str = "price_cents";
    pub const CREATED_MS: &str = "created_ms";
    pub const PAY_BEFORE_MS: &str = "pay_before_ms";

    #[cfg(test)]
    /// Every field, in the order the script writes them.
    pub const ALL: [&str; 7] = [
        ORDER_ID,
        USER_ID,
        UNITS,
        SEQ,
        PRICE_CENTS,
        CREATED_MS,
        PAY_BEFORE_MS,
    ];
}

/// A message that does not keep the contract (it can only be dead-lettered).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MessageError {
    #[error("field `{0}` missing or malformed")]
    Field(&'static str),
}

/// One reservation, as the stream carries it to the consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderMessage {
    /// The entry's id in the sale's stream (unique: the row remembers it).
    pub message_id: String,
    pub order_id: String,
    pub user_id: i64,
    pub units: i32,
    /// The buyer's n-th reservation in this sale (unique per sale and user).
    pub seq: i32,
    /// For all units.
    pub price_cents: i64,
    pub created_ms: i64,
    pub pay_before_ms: i64,
}

impl OrderMessage {
    /// Reads a stream entry.
    pub fn from_entry(entry: &StreamId) -> Result<Self, MessageError> {
        Self::from_fields(&entry.id, &text_fields(entry))
    }

    /// Reads the fields of a message (from the stream or a dead letter's payload).
    pub fn from_fields(
        message_id: &str,
        fields: &BTreeMap<String, String>,
    ) -> Result<Self, MessageError> {
        fn field<T: std::str::FromStr>(
            fields: &BTreeMap<String, String>,
            name: &'static str,
        ) -> Result<T, MessageError> {
            fields
                .get(name)
                .and_then(|value| value.parse().ok())
                .ok_or(MessageError::Field(name))
        }
        Ok(Self {
            message_id: message_id.to_owned(),
            order_id: field(fields, fields::ORDER_ID)?,
            user_id: field(fields, fields::USER_ID)?,
            units: field(fields, fields::UNITS)?,
            seq: field(fields, fields::SEQ)?,
            price_cents: field(fields, fields::PRICE_CENTS)?,
            created_ms: field(fields, fields::CREATED_MS)?,
            pay_before_ms: field(fields, fields::PAY_BEFORE_MS)?,
        })
    }

    #[cfg(test)]
    /// The fields as the script writes them (tests write messages with these).
    pub fn to_fields(&self) -> BTreeMap<String, String> {
        [
            (fields::ORDER_ID, self.order_id.clone()),
            (fields::USER_ID, self.user_id.to_string()),
            (fields::UNITS, self.units.to_string()),
            (fields::SEQ, self.seq.to_string()),
            (fields::PRICE_CENTS, self.price_cents.to_string()),
            (fields::CREATED_MS, self.created_ms.to_string()),
            (fields::PAY_BEFORE_MS, self.pay_before_ms.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }
}

/// The fields of a stream entry as text (values that are not text are left out).
pub fn text_fields(entry: &StreamId) -> BTreeMap<String, String> {
    entry
        .map
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.clone(),
                redis::from_redis_value_ref::<String>(value).ok()?,
            ))
        })
        .collect()
}

/// A reservation not yet persisted, in the sale's `queued` hash under its order
/// id: `user:units:price_cents:created_ms:pay_before_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueuedEntry {
    pub user_id: i64,
    pub units: i64,
    pub price_cents: i64,
    pub created_ms: i64,
    pub pay_before_ms: i64,
}

impl QueuedEntry {
    /// Reads an entry; `None` if it is not of the contract's form.
    pub fn parse(text: &str) -> Option<Self> {
        let fields: Vec<i64> = text
            .split(':')
            .map(|part| part.parse().ok())
            .collect::<Option<_>>()?;
        let [user_id, units, price_cents, created_ms, pay_before_ms] = fields[..] else {
            return None;
        };
        Some(Self {
            user_id,
            units,
            price_cents,
            created_ms,
            pay_before_ms,
        })
    }

    #[cfg(test)]
    /// The entry as the script writes it.
    pub fn format(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.user_id, self.units, self.price_cents, self.created_ms, self.pay_before_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RESERVE: &str = include_str!("../../lua/reserve.lua");

    #[test]
    fn the_reserve_script_writes_every_field_of_the_contract() {
        let xadd = RESERVE
            .split("redis.call('XADD'")
            .nth(1)
            .expect("reserve.lua adds to the stream");
        let xadd = &xadd[..xadd.find(')').expect("the XADD call ends")];
        for name in fields::ALL {
            assert!(
                xadd.contains(&format!("'{name}'")),
                "reserve.lua's XADD lacks `{name}`"
            );
        }
        assert_eq!(
            xadd.matches('\'').count() / 2,
            fields::ALL.len() + 1,
            "reserve.lua writes a field the contract does not know (or `*` is missing)"
        );
        assert!(
            RESERVE.contains(
                "ARGV[1] .. ':' .. units .. ':' .. price .. ':' .. now .. ':' .. pay_before"
            ),
            "reserve.lua's queued entry is `user:units:price:created:pay_before`"
        );
    }

    #[test]
    fn a_message_missing_a_field_names_it() {
        let message = OrderMessage {
            message_id: "1-0".into(),
            order_id: "7-0123456789abcdef0123456789abcdef".into(),
            user_id: 42,
            units: 1,
            seq: 1,
            price_cents: 4_900,
            created_ms: 1_000,
            pay_before_ms: 901_000,
        };
        for name in fields::ALL {
            let mut fields = message.to_fields();
            fields.remove(name);
            assert_eq!(
                OrderMessage::from_fields("1-0", &fields),
                Err(MessageError::Field(name))
            );
        }
        let mut fields = message.to_fields();
        fields.insert(fields::UNITS.into(), "one".into());
        assert_eq!(
            OrderMessage::from_fields("1-0", &fields),
            Err(MessageError::Field(fields::UNITS))
        );
    }

    proptest! {
        #[test]
        fn a_message_round_trips_through_its_fields(
            user_id in any::<i64>(),
            units in any::<i32>(),
            seq in any::<i32>(),
            price_cents in any::<i64>(),
            created_ms in any::<i64>(),
            pay_before_ms in any::<i64>(),
            order_id in "[0-9]{1,5}-[0-9a-f]{32}",
        ) {
            let message = OrderMessage {
                message_id: "1700000000000-0".into(),
                order_id,
                user_id,
                units,
                seq,
                price_cents,
                created_ms,
                pay_before_ms,
            };
            let back = OrderMessage::from_fields(&message.message_id, &message.to_fields());
            prop_assert_eq!(back, Ok(message));
        }

        #[test]
        fn a_queued_entry_round_trips(
            user_id in 1..i64::MAX,
            units in 1..100i64,
            price_cents in 0..i64::MAX,
            created_ms in 0..i64::MAX,
            pay_before_ms in 0..i64::MAX,
        ) {
            let entry = QueuedEntry { user_id, units, price_cents, created_ms, pay_before_ms };
            prop_assert_eq!(QueuedEntry::parse(&entry.format()), Some(entry));
        }

        #[test]
        fn only_five_numbers_make_a_queued_entry(text in "[0-9:a-z-]{0,40}") {
            let numbers = text.split(':').filter(|part| part.parse::<i64>().is_ok()).count();
            let parts = text.split(':').count();
            prop_assert_eq!(QueuedEntry::parse(&text).is_some(), numbers == 5 && parts == 5);
        }
    }
}
