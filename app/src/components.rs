//! Reusable pieces of the shopper pages.

mod buy_panel;
pub mod charts;
mod countdown;
mod sale_card;
pub mod sale_clock;

pub use buy_panel::BuyPanel;
pub use countdown::Countdown;
pub use sale_card::SaleCard;
