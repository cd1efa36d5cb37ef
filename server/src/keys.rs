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

    /// A sale's order messages that failed too often, with their last error (a
    /// stream beside the order stream, in the same slot).
    pub fn dead_letters(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "dead-letters")
    }

    /// Ids of the sales that ever had a dead letter (a set), for the admin's list.
    pub fn dead_letter_sales(&self) -> String {
        format!("{}dead-letter-sales", self.prefix)
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

    /// The part of a key Redis Cluster hashes to pick its slot.
    fn hash_tag(key: &str) -> &str {
        key.split_once('{')
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(tag, _)| tag)
            .filter(|tag| !tag.is_empty())
            .unwrap_or(key)
    }

    #[test]
    fn every_key_a_script_or_transaction_of_a_sale_touches_is_in_the_sale_slot() {
        let keys = RedisKeys::new("fs:");
        let of_the_sale = [
            keys.stock(7),
            keys.meta(7),
            keys.buyers(7),
            keys.seqs(7),
            keys.stream(7),
            keys.queued(7),
            keys.ticket(7, "tag"),
            keys.returned(7),
            keys.outcomes(7),
            keys.dead_letters(7),
            keys.failures(7),
            keys.rate_bucket(7, "user:1"),
            keys.sale_cache(7),
            keys.sale_known(7),
            keys.sale_load_lock(7),
        ];
        for key in &of_the_sale {
            assert_eq!(hash_tag(key), "s:7", "{key}");
        }
        assert_ne!(hash_tag(&keys.stock(8)), hash_tag(&keys.stock(7)));
    }
}
