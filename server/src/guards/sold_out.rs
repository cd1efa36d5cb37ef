//! Local sold-out flags: once Redis has said "sold out" for a sale, this instance
//! answers 410 without asking again. Returned stock clears the flag on every
//! instance through Redis pub/sub (`crate::notices`); the message is
//! `sales::stock::clear_message`, published by `lua/return_units.lua` itself as
//! it returns the units.
//!
//! A flag also lapses by itself after [`FLAG_TTL_MS`] on the application's
//! clock: a missed notice (a dead subscription, a `sold_out` answer that raced a
//! return) then costs at most that long of undersell, never the rest of the sale.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// How long a flag holds without Redis confirming it: short enough that a lost
/// clear costs little, long enough that a sold-out crowd asks Redis about once
/// per instance and interval.
pub const FLAG_TTL_MS: i64 = 2_000;

/// The longest holder list a flag reads. A sale with more buyers keeps none
/// (each sold-out buy of it looks its ticket up, as without the list): every
/// instance reads the list again each time its flag lapses, and reading a
/// larger hash would hold Redis up for milliseconds each time.
pub(crate) const HOLDERS_READ_AT_MOST: usize = 10_000;

/// One sale's flag.
struct Flag {
    /// When Redis last said "sold out" (the application's clock).
    since: i64,
    /// Which flag this is: a holder list read for an older one is not this one's.
    epoch: u64,
    /// The buyers who held units when the sale sold out (`None` until read).
    holders: Option<Arc<HashSet<i64>>>,
    /// Whether someone is reading `holders` for this flag.
    reading: bool,
}

/// What a sale's flag says to one buyer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ForBuyer {
    /// No flag: ask Redis.
    Open,
    /// Sold out, and this buyer held nothing when it sold out: 410 at once.
    SoldOut,
    /// Sold out, but this buyer holds units (or who does is not known yet):
    /// the buy may be the retry of one that won, so its ticket is looked up.
    MaybeWon,
}

/// A flag this call set, whose holders the caller should read
/// ([`SoldOutFlags::know_holders`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadHolders {
    pub sale_id: i64,
    epoch: u64,
}

/// Sales this instance knows to be sold out, each with when it learnt so and
/// who held units then (read with the stock at one instant, and only while it
/// is zero: `lua/holders.lua`). Nobody wins a unit of a sold-out sale until a
/// unit is returned, and a return clears the flag, list and all, on every
/// instance; so a buyer not among the holders cannot be retrying a buy that
/// won, and the crowd is answered from memory alone. (A holder read cut short
/// leaves the list unknown until the flag lapses.)
#[derive(Clone, Default)]
pub(crate) struct SoldOutFlags {
    // A std Mutex: held for a hash lookup only, never across an await.
    sold_out: Arc<Mutex<SaleFlags>>,
}

#[derive(Default)]
struct SaleFlags {
    flags: HashMap<i64, Flag>,
    epochs: u64,
}

impl SoldOutFlags {
    /// Whether `sale_id` was seen sold out less than [`FLAG_TTL_MS`] before `now_ms`.
    pub fn is_sold_out(&self, sale_id: i64, now_ms: i64) -> bool {
        self.for_buyer(sale_id, None, now_ms) != ForBuyer::Open
    }

    /// What the flag of `sale_id` says to `user_id` at `now_ms`.
    pub(crate) fn for_buyer(&self, sale_id: i64, user_id: Option<i64>, now_ms: i64) -> ForBuyer {
        let Ok(sales) = self.sold_out.lock() else {
            return ForBuyer::Open;
        };
        match sales.flags.get(&sale_id) {
            Some(flag) if now_ms - flag.since < FLAG_TTL_MS => match (&flag.holders, user_id) {
                (Some(holders), Some(user_id)) if !holders.contains(&user_id) => ForBuyer::SoldOut,
                _ => ForBuyer::MaybeWon,
            },
            _ => ForBuyer::Open,
        }
    }

    /// Redis said "sold out" at `now_ms`. A flag that still holds is renewed;
    /// otherwise a new one is set, and the first caller to set it is asked to
    /// read its holders.
    pub(crate) fn mark_sold_out(&self, sale_id: i64, now_ms: i64) -> Option<ReadHolders> {
        let mut sales = self.sold_out.lock().ok()?;
        if let Some(flag) = sales.flags.get_mut(&sale_id) {
            if now_ms - flag.since < FLAG_TTL_MS {
                flag.since = now_ms;
                if flag.holders.is_some() || flag.reading {
                    return None;
                }
                flag.reading = true;
                return Some(ReadHolders {
                    sale_id,
                    epoch: flag.epoch,
                });
            }
        }
        sales.epochs += 1;
        let epoch = sales.epochs;
        sales.flags.insert(
            sale_id,
            Flag {
                since: now_ms,
                epoch,
                holders: None,
                reading: true,
            },
        );
        Some(ReadHolders { sale_id, epoch })
    }

    /// The holders read for a flag; `None` when they could not be read (the
    /// next "sold out" asks again).
    pub(crate) fn know_holders(&self, read: ReadHolders, holders: Option<HashSet<i64>>) {
        if let Ok(mut sales) = self.sold_out.lock() {
            if let Some(flag) = sales.flags.get_mut(&read.sale_id) {
                if flag.epoch == read.epoch {
                    flag.reading = false;
                    flag.holders = holders.map(Arc::new);
                }
            }
        }
    }

    /// Units of `sale_id` came back: it is not sold out any more.
    pub fn clear(&self, sale_id: i64) {
        if let Ok(mut sales) = self.sold_out.lock() {
            sales.flags.remove(&sale_id);
        }
    }

    /// Forgets every flag (after missing notices while disconnected).
    pub fn clear_all(&self) {
        if let Ok(mut sales) = self.sold_out.lock() {
            sales.flags.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_holders_of_a_sold_out_sale_are_looked_up() {
        let flags = SoldOutFlags::default();
        assert_eq!(flags.for_buyer(1, Some(7), 0), ForBuyer::Open);
        let read = flags
            .mark_sold_out(1, 0)
            .expect("the first asks for holders");
        assert_eq!(flags.mark_sold_out(1, 1), None, "one read at a time");
        assert_eq!(
            flags.for_buyer(1, Some(7), 1),
            ForBuyer::MaybeWon,
            "holders not known yet"
        );
        flags.know_holders(read, Some(HashSet::from([7])));
        assert_eq!(flags.for_buyer(1, Some(7), 2), ForBuyer::MaybeWon);
        assert_eq!(flags.for_buyer(1, Some(8), 2), ForBuyer::SoldOut);
        assert_eq!(
            flags.mark_sold_out(1, 3),
            None,
            "holders kept while it holds"
        );

        // Cleared and set again: a late read for the old flag is not this one's.
        flags.clear(1);
        let again = flags.mark_sold_out(1, 4).expect("a new flag");
        flags.know_holders(read, Some(HashSet::new()));
        assert_eq!(flags.for_buyer(1, Some(7), 5), ForBuyer::MaybeWon);
        flags.know_holders(again, None);
        assert_eq!(flags.for_buyer(1, Some(8), 5), ForBuyer::MaybeWon);
        assert!(
            flags.mark_sold_out(1, 6).is_some(),
            "a failed read is asked again"
        );
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
