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

    /// How many challenges of a sale an account was given (for its cap).
    pub fn challenges_issued(&self, sale_id: i64, user_id: i64) -> String {
        self.sale_key(sale_id, &format!("ch:{user_id}"))
    }

    /// How many of an account's answers to a sale's challenges were refused.
    pub fn challenges_failed(&self, sale_id: i64, user_id: i64) -> String {
        self.sale_key(sale_id, &format!("cf:{user_id}"))
    }

    /// Hash: user id -> the instant (ms) from which a buyer whose order lapsed
    /// or was cancelled may reserve this sale again.
    pub fn cooldowns(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "cool")
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

    /// Pub/sub channel of the notices every instance must hear at once
    /// (`crate::notices`): a sale's sold-out flag to clear, a session ended.
    pub fn notice_channel(&self) -> String {
        format!("{}notices", self.prefix)
    }

    /// A rate-limit bucket of a sale (`name` tells whose: user, address, sale).
    pub fn rate_bucket(&self, sale_id: i64, name: &str) -> String {
        self.sale_key(sale_id, &format!("rl:{name}"))
    }

    /// One shopper's rate bucket in a sale.
    pub fn user_bucket(&self, sale_id: i64, user_id: i64) -> String {
        self.rate_bucket(sale_id, &format!("u:{user_id}"))
    }

    /// The rate bucket of a whole sale.
    pub fn sale_bucket(&self, sale_id: i64) -> String {
        self.rate_bucket(sale_id, "sale")
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

    /// The sessions of one user (hex SHA-256 of each token), so that an
    /// operator can end them all (`server end-sessions`).
    pub fn user_sessions(&self, user_id: i64) -> String {
        format!("{}user-sess:{user_id}", self.prefix)
    }

    /// A record of the sign-in guard (`guards::sign_in`): an address's
    /// registrations or log-ins, an address's failures, a username's attempts.
    pub fn sign_in(&self, name: &str) -> String {
        format!("{}auth:{name}", self.prefix)
    }

    /// A CAPTCHA challenge's answer, single use.
    pub fn captcha(&self, captcha_id: &str) -> String {
        format!("{}captcha:{captcha_id}", self.prefix)
    }
}

/// The waiting room of a `queue` sale. The line itself is spread over
/// [`LINE_SHARDS`] shards, each with its own hash tag `{q:<sale>:<shard>}`, so
/// a crowd joining and looking up its places lands on every node of a cluster,
/// not on the sale's; what every instance reads (the board, the draw) and what
/// the reserve writes (admissions that bought) are keys of the sale.
impl RedisKeys {
    fn line_key(&self, sale_id: i64, shard: u32, name: &str) -> String {
        format!("{}{{q:{sale_id}:{shard}}}:{name}", self.prefix)
    }

    /// A shard's entrants (a hash: user id → `joined_ms:kind:n`, kind `p`
    /// before the start, `a` after; n the shard's count of that kind).
    pub fn line_entries(&self, sale_id: i64, shard: u32) -> String {
        self.line_key(sale_id, shard, "in")
    }

    /// A shard's post-start entrants in arrival order (a sorted set: score the
    /// join time, member the user id zero-padded to 20 digits).
    pub fn line_after(&self, sale_id: i64, shard: u32) -> String {
        self.line_key(sale_id, shard, "after")
    }

    /// A shard's drawn places (a hash: user id → place), written by the draw.
    pub fn line_places(&self, sale_id: i64, shard: u32) -> String {
        self.line_key(sale_id, shard, "places")
    }

    /// Set once the draw closed the shard to pre-start entries.
    pub fn line_closed(&self, sale_id: i64, shard: u32) -> String {
        self.line_key(sale_id, shard, "closed")
    }

    /// A shard's entrant counts (a hash: `p`, `a`).
    pub fn line_counts(&self, sale_id: i64, shard: u32) -> String {
        self.line_key(sale_id, shard, "counts")
    }

    /// A shard's entrants by the second they joined (a hash: `p:<second ms>`
    /// or `a:<second ms>` → count), for the fairness report.
    pub fn line_seconds(&self, sale_id: i64, shard: u32) -> String {
        self.line_key(sale_id, shard, "seconds")
    }

    /// A shard's entrants by client address (a sorted set: address, IPv6 by
    /// its /64 → accounts), for the fairness report.
    pub fn line_addresses(&self, sale_id: i64, shard: u32) -> String {
        self.line_key(sale_id, shard, "addrs")
    }

    /// The line's state every instance answers polls from (JSON
    /// `queue::board::Board`), written by the instance leading the line.
    pub fn line_board(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "q:board")
    }

    /// The draw's published values (JSON), written once at the start.
    pub fn line_draw(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "q:draw")
    }

    /// The pre-start entrants as the draw hashed them (text: sorted ids).
    pub fn line_entrants(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "q:entrants")
    }

    /// Admitted shoppers who reserved, by admission batch (a hash: batch →
    /// count), written by `reserve.lua`.
    pub fn line_bought(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "q:bought")
    }

    /// Shoppers let in, by admission batch (a hash: batch → count), written
    /// with the board: the admin's pace chart.
    pub fn line_admitted(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "q:admitted")
    }

    /// The instance leading the line (its token), renewed while it lives.
    pub fn line_lead(&self, sale_id: i64) -> String {
        self.sale_key(sale_id, "q:lead")
    }

    /// `lua/line_join.lua`: a shard's entries, post-start order, closed flag,
    /// counts, join seconds, addresses.
    pub fn line_join_script(&self, sale_id: i64, shard: u32) -> [String; 6] {
        [
            self.line_entries(sale_id, shard),
            self.line_after(sale_id, shard),
            self.line_closed(sale_id, shard),
            self.line_counts(sale_id, shard),
            self.line_seconds(sale_id, shard),
            self.line_addresses(sale_id, shard),
        ]
    }

    /// Writing the board with the second's admissions, atomically.
    pub fn line_board_transaction(&self, sale_id: i64) -> [String; 2] {
        [self.line_board(sale_id), self.line_admitted(sale_id)]
    }

    /// What the admin's live view of a line reads at once: the admissions
    /// and the reservations by batch.
    pub fn line_history_pipeline(&self, sale_id: i64) -> [String; 2] {
        [self.line_admitted(sale_id), self.line_bought(sale_id)]
    }

    /// `lua/line_close.lua`: a shard's closed flag and entries.
    pub fn line_close_script(&self, sale_id: i64, shard: u32) -> [String; 2] {
        [
            self.line_closed(sale_id, shard),
            self.line_entries(sale_id, shard),
        ]
    }

    /// `lua/line_lead.lua`: the lead.
    pub fn line_lead_script(&self, sale_id: i64) -> [String; 1] {
        [self.line_lead(sale_id)]
    }

    /// Looking up an entrant and its drawn place in one round trip.
    pub fn line_entry_pipeline(&self, sale_id: i64, shard: u32) -> [String; 2] {
        [
            self.line_entries(sale_id, shard),
            self.line_places(sale_id, shard),
        ]
    }
}

/// How many shards a sale's line is spread over (by user id).
pub const LINE_SHARDS: u32 = 16;

/// The shard of a sale's line an account's entry lives in.
pub fn line_shard(user_id: i64) -> u32 {
    // rem_euclid keeps it in range for any id; ids are positive in practice.
    user_id.rem_euclid(i64::from(LINE_SHARDS)) as u32
}

/// The keys of each script and each transaction (or pipeline) over several keys,
/// in the order the script reads `KEYS`. The stores take them from here, so the
/// test below checks what runs: a cluster runs a script or a transaction only
/// when all its keys are in one slot.
impl RedisKeys {
    /// `lua/reserve.lua`: stock, buyers, seq, stream, meta, queued, ticket, and
    /// the buyer's and the sale's rate buckets, cool-downs, and the line's
    /// admissions that bought.
    pub fn reserve_script(&self, sale_id: i64, ticket_tag: &str, user_id: i64) -> [String; 11] {
        [
            self.stock(sale_id),
            self.buyers(sale_id),
            self.seqs(sale_id),
            self.stream(sale_id),
            self.meta(sale_id),
            self.queued(sale_id),
            self.ticket(sale_id, ticket_tag),
            self.user_bucket(sale_id, user_id),
            self.sale_bucket(sale_id),
            self.cooldowns(sale_id),
            self.line_bought(sale_id),
        ]
    }

    /// `lua/return_units.lua`: stock, buyers, returned, meta, cool-downs.
    pub fn return_script(&self, sale_id: i64) -> [String; 5] {
        [
            self.stock(sale_id),
            self.buyers(sale_id),
            self.returned(sale_id),
            self.meta(sale_id),
            self.cooldowns(sale_id),
        ]
    }

    /// `lua/load.lua`: stock, meta, buyers, seq.
    pub fn load_script(&self, sale_id: i64) -> [String; 4] {
        [
            self.stock(sale_id),
            self.meta(sale_id),
            self.buyers(sale_id),
            self.seqs(sale_id),
        ]
    }

    /// `lua/rebuild.lua`: stock, meta, buyers, seq, stream, cool-downs.
    pub fn rebuild_script(&self, sale_id: i64) -> [String; 6] {
        [
            self.stock(sale_id),
            self.meta(sale_id),
            self.buyers(sale_id),
            self.seqs(sale_id),
            self.stream(sale_id),
            self.cooldowns(sale_id),
        ]
    }

    /// `lua/retire.lua`: every key a sale keeps after it settled.
    pub fn retire_script(&self, sale_id: i64) -> [String; 13] {
        [
            self.stock(sale_id),
            self.meta(sale_id),
            self.buyers(sale_id),
            self.seqs(sale_id),
            self.stream(sale_id),
            self.queued(sale_id),
            self.returned(sale_id),
            self.failures(sale_id),
            self.sale_cache(sale_id),
            self.sale_known(sale_id),
            self.outcomes(sale_id),
            self.dead_letters(sale_id),
            self.cooldowns(sale_id),
        ]
    }

    /// `lua/rate_limit.lua`: the buckets of one shopper, one address and the
    /// whole sale.
    pub fn rate_limit_script(&self, sale_id: i64, user_id: i64, address: &str) -> [String; 3] {
        [
            self.user_bucket(sale_id, user_id),
            self.rate_bucket(sale_id, &format!("ip:{address}")),
            self.sale_bucket(sale_id),
        ]
    }

    /// `lua/holders.lua`: stock, buyers.
    pub fn holders_script(&self, sale_id: i64) -> [String; 2] {
        [self.stock(sale_id), self.buyers(sale_id)]
    }

    /// `lua/unlock.lua`: the lock.
    pub fn unlock_script(&self, sale_id: i64) -> [String; 1] {
        [self.sale_load_lock(sale_id)]
    }

    /// Moving a message to the dead letters: the letters, the order stream.
    pub fn bury_transaction(&self, sale_id: i64) -> [String; 2] {
        [self.dead_letters(sale_id), self.stream(sale_id)]
    }

    /// Reading Redis' side of the books at one instant: stock, queued, buyers.
    pub fn books_transaction(&self, sale_id: i64) -> [String; 3] {
        [
            self.stock(sale_id),
            self.queued(sale_id),
            self.buyers(sale_id),
        ]
    }

    /// Acknowledging persisted messages: stream, queued, failures.
    pub fn acknowledge_pipeline(&self, sale_id: i64) -> [String; 3] {
        [
            self.stream(sale_id),
            self.queued(sale_id),
            self.failures(sale_id),
        ]
    }

    /// Writing the shared copies of a sale: the cache, the last known copy.
    pub fn sale_copies_pipeline(&self, sale_id: i64) -> [String; 2] {
        [self.sale_cache(sale_id), self.sale_known(sale_id)]
    }

    /// `OrderBook::queued`: a reserved order and its sale's currency.
    pub fn queued_order_pipeline(&self, sale_id: i64) -> [String; 2] {
        [self.queued(sale_id), self.meta(sale_id)]
    }

    /// Adding a sale's attempt counts: its outcomes hash (one pipeline per sale).
    pub fn tally_pipeline(&self, sale_id: i64) -> [String; 1] {
        [self.outcomes(sale_id)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::cluster_routing::Slot;

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
    fn every_key_of_a_sale_carries_its_hash_tag() {
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
            keys.cooldowns(7),
            keys.challenges_issued(7, 1),
            keys.challenges_failed(7, 1),
            keys.outcomes(7),
            keys.dead_letters(7),
            keys.failures(7),
            keys.rate_bucket(7, "user:1"),
            keys.sale_cache(7),
            keys.sale_known(7),
            keys.sale_load_lock(7),
            keys.line_board(7),
            keys.line_draw(7),
            keys.line_entrants(7),
            keys.line_bought(7),
            keys.line_admitted(7),
            keys.line_lead(7),
        ];
        for key in &of_the_sale {
            assert_eq!(hash_tag(key), "s:7", "{key}");
        }
        assert_ne!(hash_tag(&keys.stock(8)), hash_tag(&keys.stock(7)));
    }

    /// Every script (each file of `lua/`) and every transaction or pipeline
    /// over several keys, with the keys the stores pass it, for sales whose
    /// tags fall in different slots: each one's keys share one slot.
    #[test]
    fn every_script_and_transaction_keeps_to_one_cluster_slot() {
        let keys = RedisKeys::new("fs:");
        let scripts_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/lua");
        // The scripts; `lua/shared/` holds text they start with, not scripts.
        let mut script_files: Vec<String> = std::fs::read_dir(scripts_dir)
            .expect("the lua folder is there")
            .map(|entry| entry.expect("a readable entry"))
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        script_files.sort();
        for sale_id in [1, 7, 42, 123_456] {
            let scripts: Vec<(&str, Vec<String>)> = vec![
                ("holders.lua", keys.holders_script(sale_id).into()),
                ("line_close.lua", keys.line_close_script(sale_id, 3).into()),
                ("line_join.lua", keys.line_join_script(sale_id, 3).into()),
                ("line_lead.lua", keys.line_lead_script(sale_id).into()),
                ("load.lua", keys.load_script(sale_id).into()),
                (
                    "rate_limit.lua",
                    keys.rate_limit_script(sale_id, 9, "::1").into(),
                ),
                ("rebuild.lua", keys.rebuild_script(sale_id).into()),
                (
                    "reserve.lua",
                    keys.reserve_script(sale_id, "c2lnbmF0dXJl", 9).into(),
                ),
                ("retire.lua", keys.retire_script(sale_id).into()),
                ("return_units.lua", keys.return_script(sale_id).into()),
                ("sign_in.lua", vec![keys.sign_in("user:alice")]),
                ("unlock.lua", keys.unlock_script(sale_id).into()),
            ];
            let listed: Vec<&str> = scripts.iter().map(|(name, _)| *name).collect();
            assert_eq!(listed, script_files, "a script without a key list here");
            let transactions: Vec<(&str, Vec<String>)> = vec![
                ("bury", keys.bury_transaction(sale_id).into()),
                ("books", keys.books_transaction(sale_id).into()),
                ("acknowledge", keys.acknowledge_pipeline(sale_id).into()),
                ("sale copies", keys.sale_copies_pipeline(sale_id).into()),
                ("tally", keys.tally_pipeline(sale_id).into()),
                ("queued order", keys.queued_order_pipeline(sale_id).into()),
                ("line entry", keys.line_entry_pipeline(sale_id, 5).into()),
                ("line board", keys.line_board_transaction(sale_id).into()),
                ("line history", keys.line_history_pipeline(sale_id).into()),
            ];
            for (name, touched) in scripts.iter().chain(&transactions) {
                let slot = Slot::for_key(&touched[0]);
                for key in touched {
                    assert_eq!(
                        Slot::for_key(key),
                        slot,
                        "{name}: {key} is not in {}'s slot",
                        touched[0]
                    );
                }
            }
        }
        let slots: std::collections::HashSet<_> = (1..=20)
            .map(|sale_id| Slot::for_key(keys.stock(sale_id)))
            .collect();
        assert!(slots.len() > 1, "sales spread over several slots");
        let shards: std::collections::HashSet<_> = (0..LINE_SHARDS)
            .map(|shard| Slot::for_key(keys.line_entries(7, shard)))
            .collect();
        assert!(
            shards.len() > LINE_SHARDS as usize / 2,
            "a line spreads over slots"
        );
    }
}
