//! The pages of the shopper site, one module each.

mod home;
mod not_found;
mod sale;

pub use home::HomePage;
pub use not_found::NotFound;
pub use sale::SalePage;
