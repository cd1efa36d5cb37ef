//! Whether Redis can keep the promise a 202 makes. An acknowledged reservation
//! must survive a Redis crash: that needs `appendonly yes` with `appendfsync
//! always` (or replicas and `WAIT`, which this build does not do), and
//! `maxmemory-policy noeviction` so that no key of the books is ever evicted.
//! The server reads these settings once at start and warns loudly when they fall
//! short; a managed Redis that refuses `CONFIG GET` gets one warning saying so.

use std::collections::HashMap;

use crate::redis_connection::RedisConnection;

/// What is wrong with these settings for a flash sale, one sentence each.
pub(crate) fn warnings(appendonly: &str, appendfsync: &str, maxmemory_policy: &str) -> Vec<String> {
    let mut found = Vec::new();
    if appendonly != "yes" {
        found.push(
            "Redis runs without AOF (appendonly no): a Redis crash loses every reservation \
             not yet persisted, and the stock they took"
                .to_owned(),
        );
    } else if appendfsync != "always" {
        found.push(format!(
            "Redis syncs its AOF `{appendfsync}`, not `always`: a machine crash loses up \
             to a second of acknowledged reservations"
        ));
    }
    if maxmemory_policy != "noeviction" {
        found.push(format!(
            "Redis evicts keys under memory pressure (maxmemory-policy {maxmemory_policy}): \
             evicting stock, buyers or returns breaks the books; use noeviction"
        ));
    }
    found
}

/// Reads the settings of every master node and logs what falls short (at
/// start; never fails).
pub(crate) async fn check(mut redis: RedisConnection) {
    let mut settings: Vec<(String, HashMap<String, String>)> = Vec::new();
    for name in ["appendonly", "appendfsync", "maxmemory-policy"] {
        let mut command = redis::cmd("CONFIG");
        command.arg("GET").arg(name);
        let replies = redis
            .on_every_master::<HashMap<String, String>>(&command)
            .await
            .unwrap_or_default();
        if replies.is_empty() || replies.iter().any(|(_, pair)| !pair.contains_key(name)) {
            tracing::warn!(
                "cannot read Redis' persistence settings (CONFIG GET refused or Redis \
                 away): make sure it runs with appendonly yes, appendfsync always and \
                 maxmemory-policy noeviction"
            );
            return;
        }
        for (node, pair) in replies {
            match settings.iter_mut().find(|(known, _)| *known == node) {
                Some((_, values)) => values.extend(pair),
                None => settings.push((node, pair)),
            }
        }
    }
    for (node, values) in settings {
        let value = |name: &str| values.get(name).map(String::as_str).unwrap_or_default();
        let found = warnings(
            value("appendonly"),
            value("appendfsync"),
            value("maxmemory-policy"),
        );
        let node = if node.is_empty() {
            "Redis".to_owned()
        } else {
            format!("Redis node {node}")
        };
        if found.is_empty() {
            tracing::info!("{node} keeps acknowledged reservations through a crash");
        }
        for warning in found {
            tracing::warn!("{node}: {warning}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::warnings;

    #[test]
    fn only_an_always_synced_aof_without_eviction_keeps_the_promise() {
        assert!(warnings("yes", "always", "noeviction").is_empty());
        let everysec = warnings("yes", "everysec", "noeviction");
        assert_eq!(everysec.len(), 1);
        assert!(everysec[0].contains("a second"), "{everysec:?}");
        assert!(warnings("no", "always", "noeviction")[0].contains("without AOF"));
        let evicting = warnings("yes", "always", "allkeys-lru");
        assert!(evicting[0].contains("noeviction"), "{evicting:?}");
        assert_eq!(warnings("no", "everysec", "volatile-lru").len(), 2);
    }
}
