//! Redis key names. Every key of a sale carries the hash tag `{s:<id>}` so one Lua
//! script touches one cluster slot; every key starts with the configured prefix so
//! an instance (or a test) creates nothing outside its own key space.

/// Builds the names of the keys this instance owns.
#[derive(Clone, Debug)]
pub struct RedisKeys {
    prefix: String,
}

impl RedisKeys {
    /// `prefix` is prepended verbatim, e.g. `"fs:"`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix, for tests and tools that clean up after themselves.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Units left to sell in a sale (an integer).
    pub fn stock(&self, sale_id: i64) -> String {
        format!("{}{{s:{sale_id}}}:stock", self.prefix)
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
