//! The one rule that says where a sale stands. Server (status endpoint, pages) and
//! client (countdown switching to live) both use it, so they cannot disagree.

use crate::api::{Sale, SaleListing, SaleState};

/// The state of `sale` at `now_ms` (a reading of the *server's* clock) with
/// `stock_left` units left. Paused wins over everything but the end; an ended sale
/// stays ended; a live sale with nothing left is sold out.
pub fn sale_state(sale: &Sale, now_ms: i64, stock_left: i64) -> SaleState {
    if now_ms >= sale.ends_at_ms {
        SaleState::Ended
    } else if sale.paused {
        SaleState::Paused
    } else if now_ms < sale.starts_at_ms {
        SaleState::Scheduled
    } else if stock_left <= 0 {
        SaleState::SoldOut
    } else {
        SaleState::Live
    }
}

/// The order a shopper reads the list in: what can be bought now (live, and
/// paused for a moment) by start, then what is coming by start, then what is
/// over (sold out, then ended), the most recent first.
pub fn sort_for_shoppers(listings: &mut [SaleListing]) {
    listings.sort_by_key(|listing| {
        let sale = &listing.sale;
        let (shelf, when) = match listing.state {
            SaleState::Live | SaleState::Paused => (0, sale.starts_at_ms),
            SaleState::Scheduled => (1, sale.starts_at_ms),
            SaleState::SoldOut => (2, sale.starts_at_ms.saturating_neg()),
            SaleState::Ended => (3, sale.ends_at_ms.saturating_neg()),
        };
        (shelf, when, sale.id)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(starts_at_ms: i64, ends_at_ms: i64) -> Sale {
        Sale::example(starts_at_ms, ends_at_ms)
    }

    #[test]
    fn the_start_instant_itself_is_live() {
        let s = sale(1_000, 2_000);
        assert_eq!(sale_state(&s, 999, 5), SaleState::Scheduled);
        assert_eq!(sale_state(&s, 1_000, 5), SaleState::Live);
    }

    #[test]
    fn the_end_instant_itself_is_ended_even_with_stock() {
        let s = sale(1_000, 2_000);
        assert_eq!(sale_state(&s, 1_999, 5), SaleState::Live);
        assert_eq!(sale_state(&s, 2_000, 5), SaleState::Ended);
    }

    #[test]
    fn no_stock_left_while_open_is_sold_out() {
        let s = sale(1_000, 2_000);
        assert_eq!(sale_state(&s, 1_500, 0), SaleState::SoldOut);
        // Before start nothing can be sold yet, whatever the counter says.
        assert_eq!(sale_state(&s, 500, 0), SaleState::Scheduled);
    }

    #[test]
    fn paused_hides_live_and_scheduled_but_not_ended() {
        let mut s = sale(1_000, 2_000);
        s.paused = true;
        assert_eq!(sale_state(&s, 500, 5), SaleState::Paused);
        assert_eq!(sale_state(&s, 1_500, 5), SaleState::Paused);
        assert_eq!(sale_state(&s, 2_500, 5), SaleState::Ended);
    }

    #[test]
    fn shoppers_read_live_then_coming_then_over() {
        let listing = |id: i64, starts: i64, ends: i64, state: SaleState| SaleListing {
            sale: Sale {
                id,
                ..sale(starts, ends)
            },
            state,
            stock_left: 1,
        };
        let mut listings = vec![
            listing(1, 0, 100, SaleState::Ended),
            listing(2, 50, 150, SaleState::Ended),
            listing(3, 200, 900, SaleState::SoldOut),
            listing(4, 300, 900, SaleState::Live),
            listing(5, 250, 900, SaleState::Paused),
            listing(6, 800, 900, SaleState::Scheduled),
            listing(7, 600, 900, SaleState::Scheduled),
        ];
        sort_for_shoppers(&mut listings);
        let ids: Vec<i64> = listings.iter().map(|listing| listing.sale.id).collect();
        assert_eq!(ids, [5, 4, 7, 6, 3, 2, 1]);
    }
}
