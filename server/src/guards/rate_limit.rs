//! Rate limits shared by every instance: per user, per client IP and per sale, on
//! the hot path. The CAPTCHA and ticket requests, where a shopper enters it, are
//! charged to all three buckets by one Lua call (`lua/rate_limit.lua`, GCRA on
//! Redis' clock); the buy is charged to the user's and the sale's buckets inside
//! the reserve script itself ([`RateLimiter::buy_rates`]), so a buy is one round
//! trip. An address's buys are bounded by the tickets it was given (each
//! charged to the address) and each buyer's own bucket. The buckets carry the
//! sale's hash tag, so every call stays in one cluster slot.

use std::net::IpAddr;
use std::sync::Arc;

use crate::redis_connection::RedisConnection;
use redis::Script;

use crate::keys::RedisKeys;
use crate::store::StoreError;

/// A sustained rate with a burst allowance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// `(interval, tolerance)` in microseconds for the scripts.
    fn gcra(self) -> (u64, u64) {
        let interval = (1_000_000.0 / self.per_second.max(0.001)).ceil() as u64;
        (interval, interval * u64::from(self.burst.max(1)))
    }
}

/// The limits in force.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    /// One shopper (many tabs, a script): a few requests a second.
    pub per_user: Rate,
    /// One address: generous, since many shoppers can share a NAT.
    pub per_ip: Rate,
    /// All shoppers of a sale together: what Redis is sized for.
    pub per_sale: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_user: Rate {
                per_second: 2.0,
                burst: 6,
            },
            per_ip: Rate {
                per_second: 50.0,
                burst: 200,
            },
            per_sale: Rate {
                per_second: 20_000.0,
                burst: 20_000,
            },
        }
    }
}

/// Checks requests against [`RateLimits`].
#[derive(Clone)]
pub(crate) struct RateLimiter {
    redis: RedisConnection,
    keys: RedisKeys,
    limits: RateLimits,
    script: Arc<Script>,
}

impl RateLimiter {
    pub fn new(redis: RedisConnection, keys: RedisKeys, limits: RateLimits) -> Self {
        Self {
            redis,
            keys,
            limits,
            script: Arc::new(crate::lua::charging_script(include_str!(
                "../../lua/rate_limit.lua"
            ))),
        }
    }

    /// `None` if the request may pass (and is counted), else the whole seconds to
    /// wait (for `Retry-After`).
    pub async fn check(
        &self,
        sale_id: i64,
        user_id: i64,
        ip: IpAddr,
    ) -> Result<Option<u64>, StoreError> {
        let buckets = self
            .keys
            .rate_limit_script(sale_id, user_id, &address_bucket(ip));
        let rates = [
            self.limits.per_user,
            self.limits.per_ip,
            self.limits.per_sale,
        ];
        let mut invocation = self.script.prepare_invoke();
        for (key, rate) in buckets.iter().zip(rates) {
            let (interval, tolerance) = rate.gcra();
            invocation.key(key).arg(interval).arg(tolerance);
        }
        let mut redis = self.redis.clone();
        let wait_us: u64 = invocation.invoke_async(&mut redis).await?;
        Ok((wait_us > 0).then(|| retry_after_secs(wait_us)))
    }

    /// Charges one request to one bucket of `rate` (an address's registrations,
    /// say): `None` if it may pass, else the whole seconds to wait.
    pub async fn charge_one(&self, bucket: &str, rate: Rate) -> Result<Option<u64>, StoreError> {
        let (interval, tolerance) = rate.gcra();
        let mut redis = self.redis.clone();
        let wait_us: u64 = self
            .script
            .key(bucket)
            .arg(interval)
            .arg(tolerance)
            .invoke_async(&mut redis)
            .await?;
        Ok((wait_us > 0).then(|| retry_after_secs(wait_us)))
    }

    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    /// What the reserve script charges a buy to: `(interval, tolerance)` of the
    /// user's bucket, then of the sale's.
    pub fn buy_rates(&self) -> [(u64, u64); 2] {
        [self.limits.per_user.gcra(), self.limits.per_sale.gcra()]
    }
}

/// The part of an address that names one client for rate limits: an IPv4
/// address, or the /64 of an IPv6 one (one home or phone gets a whole /64, so
/// its addresses are one client); an IPv4 address written as IPv6 is IPv4.
pub(crate) fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
    }
}

/// A wait in microseconds as whole seconds for `Retry-After` (at least one).
pub(crate) fn retry_after_secs(wait_us: u64) -> u64 {
    wait_us.div_ceil(1_000_000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_64_is_one_client_and_ipv4_stays_itself() {
        let bucket = |text: &str| address_bucket(text.parse().unwrap());
        assert_eq!(bucket("203.0.113.7"), "203.0.113.7");
        assert_eq!(bucket("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(bucket("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            bucket("2001:db8:1:2:ffff:eeee:dddd:cccc"),
            bucket("2001:db8:1:2::1")
        );
        assert_ne!(bucket("2001:db8:1:3::1"), bucket("2001:db8:1:2::1"));
    }

    #[test]
    fn gcra_parameters_follow_rate_and_burst() {
        let rate = Rate {
            per_second: 2.0,
            burst: 6,
        };
        assert_eq!(rate.gcra(), (500_000, 3_000_000));
        let fast = Rate {
            per_second: 20_000.0,
            burst: 10,
        };
        assert_eq!(fast.gcra(), (50, 500));
    }
}
