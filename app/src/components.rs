//! Reusable pieces of the shopper pages.

mod countdown;
mod sale_card;

pub use countdown::Countdown;
pub use sale_card::SaleCard;
