//! The guards in front of Redis, in the order a buy meets them (docs/DESIGN.md's
//! layers 3 and 4). Each drops most of what reaches it, cheaply:
//!
//! 1. [`admission`]: a cap on buy requests in flight per instance (503 `busy`).
//! 2. [`sold_out`]: this instance's memory of sold-out sales (410 without Redis),
//!    cleared on every instance over pub/sub when units come back.
//! 3. [`rate_limit`]: per user, address and sale, shared through Redis (429).
//! 4. [`tickets`]: the signed, short-lived buy URL, verified in memory (403).
//! 5. [`captcha`] (and its pictures, [`captcha_puzzle`]): the human check a ticket
//!    is exchanged for.
//!
//! Before a shopper gets that far, [`sign_in`] decides who may register or try
//! a password, before anything is hashed, and [`registration_work`] asks for a
//! proof of work while registration is busy.

pub(crate) mod admission;
pub(crate) mod captcha;
pub(crate) mod captcha_puzzle;
pub mod rate_limit;
pub(crate) mod registration_work;
pub mod sign_in;
pub mod sold_out;
pub mod tickets;
