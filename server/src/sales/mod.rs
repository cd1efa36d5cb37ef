//! Sales: what an admin schedules and what shoppers buy.
//!
//! - [`id`]: [`id::SaleId`], parsed from paths.
//! - [`new_sale`]: the rules a sale must keep, checked on create and edit.
//! - [`records`]: the `sales` table in Postgres.
//! - [`cache`]: sale definitions cached in memory and in Redis (one Postgres
//!   query for a crowd).
//! - [`stock`]: the Redis side: stock, rules, the Lua reserve and the
//!   exactly-once return of units.
//! - [`catalog`]: the two sides together, for the routes and the pages.
//! - [`rebuild`]: a sale rebuilt in Redis from Postgres after Redis lost it.
//! - [`reconcile`]: Redis against Postgres, per sale.
//! - [`tally`]: buy attempts by outcome, counted for every instance together.
//! - [`pictures`]: product pictures uploaded by admins, served with long caching.
//! - [`demo`]: the sale a first run shows.

pub(crate) mod cache;
pub mod catalog;
pub mod demo;
pub(crate) mod id;
pub mod new_sale;
pub(crate) mod pictures;
pub mod rebuild;
pub mod reconcile;
pub(crate) mod records;
pub mod stock;
pub(crate) mod tally;
