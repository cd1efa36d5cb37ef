//! Who is shopping: accounts and their sessions.
//!
//! - [`credentials`]: usernames and passwords parsed at the edge, argon2 hashing.
//! - [`users`]: users in Postgres.
//! - [`sessions`]: sessions in Redis (one `GET` checks one on any instance) and
//!   the `CurrentUser` / `AdminUser` extractors.

pub mod credentials;
pub mod sessions;
pub mod users;
