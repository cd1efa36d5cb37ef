//! Orders, from the reserve to payment or expiry.
//!
//! - [`id`]: [`id::OrderId`], made before the reserve so the buyer can poll it.
//! - [`message`]: the stream contract `lua/reserve.lua` writes and the workers read.
//! - [`book`]: orders as buyers see them (queued in Redis, then rows), paying,
//!   cancelling, and the inserts of the consumer.
//! - [`stream`]: acknowledging persisted messages, noting failures.
//! - [`consumer`]: the consumer-group worker that persists the stream, and
//!   (`consumer/reclaim.rs`) takes over what a dead worker left.
//! - [`dead_letters`]: messages that failed too often, and their retry.
//! - [`expiry`]: the sweeper that expires unpaid orders and returns units once.

pub(crate) mod book;
pub mod consumer;
pub(crate) mod dead_letters;
pub mod expiry;
pub(crate) mod id;
pub mod message;
pub(crate) mod stream;
