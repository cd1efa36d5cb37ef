//! Reusable pieces of the shopper pages.

mod buy_panel;
pub mod charts;
mod countdown;
mod sale_card;
pub mod sale_clock;
mod stock_bar;

pub use buy_panel::BuyPanel;
pub use countdown::Countdown;
pub use sale_card::SaleCard;
pub use stock_bar::StockBar;
