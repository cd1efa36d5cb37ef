//! Local sold-out flags: once Redis has said "sold out" for a sale, this instance
//! answers 410 without asking again. Returned stock clears the flag on every
//! instance through Redis pub/sub (`crate::notices`); the message is written by
//! [`clear_message`] (published by `lua/return_units.lua` itself) and read back
//! by [`parse_clear_message`].
//!
//! A flag also lapses by itself after [`FLAG_TTL_MS`] on the application's
//! clock: a missed notice (a dead subscription, a `sold_out` answer that raced a
//! return) then costs at most that long of undersell, never the rest of the sale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a flag holds without Redis confirming it: short enough that a lost
/// clear costs little, long enough that a sold-out crowd asks Redis about once
/// per instance and interval.
pub const FLAG_TTL_MS: i64 = 2_000;

/// Sales this instance knows to be sold out, each with when it learnt so.
#[derive(Clone, Default)]
pub struct SoldOutFlags {
    // A std Mutex: held for a hash lookup only, never across an await.
    sold_out: Arc<Mutex<HashMap<i64, i64>>>,
}

impl SoldOutFlags {
    /// Whether `sale_id` was seen sold out less than [`FLAG_TTL_MS`] before `now_ms`.
    pub fn is_sold_out(&self, sale_id: i64, now_ms: i64) -> bool {
        self.sold_out.lock().is_ok_and(|flags| {
            flags
                .get(&sale_id)
                .is_some_and(|since| now_ms - since < FLAG_TTL_MS)
        })
    }

    /// Redis said "sold out" at `now_ms`.
    pub fn mark_sold_out(&self, sale_id: i64, now_ms: i64) {
        if let Ok(mut flags) = self.sold_out.lock() {
            flags.insert(sale_id, now_ms);
        }
    }

    pub fn clear(&self, sale_id: i64) {
        if let Ok(mut set) = self.sold_out.lock() {
            set.remove(&sale_id);
        }
    }

    /// Forgets every flag (after missing notices while disconnected).
    pub fn clear_all(&self) {
        if let Ok(mut set) = self.sold_out.lock() {
            set.clear();
        }
    }
}

/// The pub/sub message that clears a sale's flag everywhere.
pub fn clear_message(sale_id: i64) -> String {
    format!("clear:{sale_id}")
}

/// The sale a [`clear_message`] is about; `None` for anything else.
pub fn parse_clear_message(payload: &str) -> Option<i64> {
    payload.strip_prefix("clear:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_message_names_its_sale() {
        assert_eq!(parse_clear_message(&clear_message(42)), Some(42));
        assert_eq!(parse_clear_message("clear:x"), None);
        assert_eq!(parse_clear_message("set:42"), None);
    }

    #[test]
    fn flags_clear_one_sale_or_all_and_lapse_by_themselves() {
        let flags = SoldOutFlags::default();
        flags.mark_sold_out(1, 0);
        flags.mark_sold_out(2, 0);
        flags.clear(1);
        assert!(!flags.is_sold_out(1, 1) && flags.is_sold_out(2, 1));
        assert!(!flags.is_sold_out(2, FLAG_TTL_MS), "unconfirmed, it lapses");
        flags.clear_all();
        assert!(!flags.is_sold_out(2, 1));
    }
}
