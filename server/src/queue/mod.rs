//! The waiting room of a `queue` sale (docs/DESIGN.md "Waiting room"): shoppers
//! join a line before or after the start; at the start those who came before
//! get places by a draw nobody can steer (`app::draw`), later ones queue behind
//! them in arrival order; a leader lets them in at the pace the sale can serve.
//!
//! - [`board`]: the line's state every instance answers from, and the pure rules
//!   of where a shopper stands (admitted, how many ahead, the chance).
//! - [`line`]: the Redis side the handlers use: join, look an entry up, read the
//!   board and the draw.
//! - [`token`]: the signed entry a shopper's cookie carries, and the draw secret.
//! - [`draw`]: the draw at the start, and writing a drawn line back after
//!   Redis lost it.
//! - [`kept`]: the draw kept in Postgres for that.
//! - [`leader`]: the instance leading a line: counting, drawing, admitting.
//! - [`report`]: the admin's view: live counts, admissions by the second, and
//!   the fairness report.

pub(crate) mod board;
pub(crate) mod draw;
pub(crate) mod kept;
pub mod leader;
pub mod line;
pub mod report;
pub mod token;
