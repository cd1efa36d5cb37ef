//! Reusable pieces of the shopper pages.

mod buy_panel;
pub mod charts;
mod countdown;
mod credentials_form;
mod local_time;
mod localise;
mod money;
mod queue_panel;
mod sale_card;
pub mod sale_clock;
mod slide_puzzle;
mod stock_bar;

pub use buy_panel::BuyPanel;
pub use countdown::Countdown;
pub use credentials_form::{CredentialsForm, Purpose};
pub use local_time::LocalTime;
pub use localise::LOCALISE_SCRIPT;
pub use money::Money;
pub use queue_panel::QueuePanel;
pub use sale_card::SaleCard;
pub use slide_puzzle::SlidePuzzle;
pub use stock_bar::StockBar;
