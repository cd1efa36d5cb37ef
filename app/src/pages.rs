//! The pages of the shopper site, one module each.

pub mod admin;
mod auth;
mod home;
mod not_found;
mod orders;
mod sale;

pub use auth::{LoginPage, LoginRoute, RegisterPage, RegisterRoute};
pub use home::{HomePage, HomeRoute};
pub use not_found::NotFound;
pub use orders::{OrderPage, OrderRoute, OrdersPage, OrdersRoute};
pub use sale::SalePage;
