//! The JSON shapes of the HTTP API (`docs/API.md`). Times are milliseconds
//! since the Unix epoch, money is integer cents. These types are the one place the
//! wire format is written down in code, so server, client and tests cannot drift.
//!
//! One module per area of docs/API.md; every type is re-exported here, so a
//! type is named `api::Sale` wherever it is used.

mod accounts;
mod admin;
mod errors;
mod orders;
mod purchase;
mod queue;
mod sales;

pub use accounts::*;
pub use admin::*;
pub use errors::*;
pub use orders::*;
pub use purchase::*;
pub use queue::*;
pub use sales::*;
