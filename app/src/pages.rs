//! The pages of the shopper site, one module each.

pub mod admin;
mod auth;
mod home;
mod not_found;
mod orders;
mod sale;

pub use auth::{LoginPage, RegisterPage};
pub use home::HomePage;
pub use not_found::NotFound;
pub use orders::{OrderPage, OrdersPage};
pub use sale::SalePage;
