//! Redis key names. Every key of a sale carries the hash tag `{s:<id>}` so one Lua
//! script touches one cluster slot; every key starts with the configured prefix so
//! an instance (or a test) creates nothing outside its own key space.

/// Builds the names of the keys this instance owns.
#[derive(Clone, Debug)]
pub struct RedisKeys {
    /// Shared: every store holds a copy and handlers clone the stores per request.
    prefix: std::sync::Arc<str>,
}

impl RedisKeys {
    /// `prefix` is prepended verbatim, e.g. `"fs:"`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into().into(),
        }
    }

    /// The prefix, for tests and tools that clean up after themselves.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn sale_key(&self, sale_id: i64, name: &str) -> String {
        format!("{}{{s:{sale_id}}}:{name}", self.prefix)
    }

    /// Units left to sell in a sale (an integer).
    pub fn stock(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "stock")
    }

    /// The sale's window and rules for the reserve script (a hash: `starts_ms`,
    /// `ends_ms`, `paused`, `limit`, `pay_window_ms`, `price_cents`).
    pub fn meta(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "meta")
    }

    /// Units each buyer holds in active orders (a hash: user id → units).
    pub fn buyers(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "buyers")
    }

    /// Reservations each buyer ever made (a hash: user id → count); gives every
    /// order of a user a distinct sequence number.
    pub fn seqs(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "seq")
    }

    /// The sale's order stream (reserve → consumer; its entries are
    /// `orders::message::OrderMessage`s).
    pub fn stream(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "orders")
    }

    /// Orders reserved but not yet persisted (a hash: order id → the
    /// `orders::message::QueuedEntry` written by `reserve.lua`).
    pub fn queued(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "queued")
    }

    /// The order a buy ticket reserved (a string living as long as the ticket):
    /// makes a retried buy idempotent. `ticket_tag` is the ticket's signature.
    pub fn ticket(&self, sale_id: i64, ticket_tag: &str) -> String {
        self.sale_key(sale_id, &format!("ticket:{ticket_tag}"))
    }

    /// Ids of orders whose units were returned (a set): makes returns idempotent.
    pub fn returned(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "returned")
    }

    /// Buy attempts on a sale by outcome, every instance's (a hash: `won` or an
    /// error code → count; see `sales::tally`).
    pub fn outcomes(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "outcomes")
    }

    /// Stream messages that failed too often, with their last error.
    pub fn dead_letters(&self) -> String {
        format!("{}dead-letters", self.prefix)
    }

    /// Last error of a failing stream message (a hash: message id → error).
    pub fn failures(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "failures")
    }

    /// Pub/sub channel telling every instance to set or clear a sale's sold-out flag.
    pub fn sold_out_channel(&self) -> String {
        format!("{}sold-out", self.prefix)
    }

    /// A rate-limit bucket of a sale (`name` tells whose: user, address, sale).
    pub fn rate_bucket(&self, sale_id: i64, name: &str) -> String {
        self.sale_key(sale_id, &format!("rl:{name}"))
    }

    /// The shared cache of a sale's definition (JSON), between instances.
    pub fn sale_cache(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "def")
    }

    /// The last known definition of a sale (JSON), kept a day for instances that
    /// start while Postgres is away.
    pub fn sale_known(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "def-known")
    }

    /// The lock one instance holds while it loads a sale from Postgres.
    pub fn sale_load_lock(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "def-lock")
    }

    /// A session, by the SHA-256 of its token.
    pub fn session(&self, token_hash: &str) -> String {
        format!("{}sess:{token_hash}", self.prefix)
    }

    /// A CAPTCHA challenge's answer, single use.
    pub fn captcha(&self, captcha_id: &str) -> String {
        format!("{}captcha:{captcha_id}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sale_keys_carry_the_prefix_and_the_hash_tag() {
        let keys = RedisKeys::new("fs:");
        assert_eq!(keys.stock(42), "fs:{s:42}:stock");
    }
}
