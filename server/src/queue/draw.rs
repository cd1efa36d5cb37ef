//! The draw at a queue sale's start: close every shard of the line to
//! pre-start entries, read them, order them by `app::draw` and write each
//! entrant's place beside its entry. Deterministic: run again (a leader that
//! died half-way, two leaders for a moment) it writes the same places, because
//! closed shards keep the same pre-start entries and the secret is fixed.

use std::collections::HashMap;

use redis::Script;

use super::line::{DrawRecord, Lines};
use crate::keys::{line_shard, LINE_SHARDS};
use crate::store::StoreError;

/// Places written per command.
const PLACES_PER_WRITE: usize = 1_000;

/// Runs the draw of `sale_id` (starting at `starts_ms`) unless it is made
/// already. `None` while a shard's node has not reached the start on its own
/// clock (nothing is drawn; the leader tries again at its next tick).
pub(crate) async fn draw(
    lines: &Lines,
    close: &Script,
    sale_id: i64,
    starts_ms: i64,
    keep_until_ms: i64,
    now_ms: i64,
) -> Result<Option<u64>, StoreError> {
    let keys = lines.keys().clone();
    let mut redis = lines.redis();
    let mut before: Vec<i64> = Vec::new();
    for shard in 0..LINE_SHARDS {
        let reply: Vec<String> = close
            .key(&keys.line_close_script(sale_id, shard))
            .arg(starts_ms)
            .arg(keep_until_ms)
            .invoke_async(&mut redis)
            .await?;
        match reply.first().map(String::as_str) {
            Some("closed") => {}
            Some("early") => return Ok(None),
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "line_close answered {reply:?}"
                )))
            }
        }
        for pair in reply[1..].chunks(2) {
            let [user, entry] = pair else {
                return Err(StoreError::Corrupt("line_close: odd entries".into()));
            };
            let user_id: i64 = user
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("line entrant `{user}`")))?;
            if entry.split(':').nth(1) == Some("p") {
                before.push(user_id);
            }
        }
    }
    let secret = lines.signer().draw_secret(sale_id);
    // Sorting a million keys takes a while: off the async threads.
    let (text, digest, seed, order) = tokio::task::spawn_blocking(move || {
        let text = app::draw::entries_text(&before);
        let digest = app::draw::sha256(text.as_bytes());
        let seed = app::draw::seed(&secret, &digest);
        let order = app::draw::order(&seed, &before);
        (text, digest, seed, order)
    })
    .await?;
    let mut by_shard: HashMap<u32, Vec<(i64, u64)>> = HashMap::new();
    for (index, user_id) in order.iter().enumerate() {
        by_shard
            .entry(line_shard(*user_id))
            .or_default()
            .push((*user_id, index as u64 + 1));
    }
    for (shard, places) in by_shard {
        let key = keys.line_places(sale_id, shard);
        for chunk in places.chunks(PLACES_PER_WRITE) {
            let mut pipe = redis::pipe();
            pipe.hset_multiple(&key, chunk).ignore();
            pipe.cmd("PEXPIREAT").arg(&key).arg(keep_until_ms).ignore();
            pipe.query_async::<()>(&mut redis).await?;
        }
    }
    let record = DrawRecord {
        secret: app::draw::hex(&secret),
        entries_digest: app::draw::hex(&digest),
        seed: app::draw::hex(&seed),
        entrants: order.len() as u64,
        drawn_at_ms: now_ms,
    };
    // The entrants before the record: whoever sees the record finds them.
    redis::cmd("SET")
        .arg(keys.line_entrants(sale_id))
        .arg(&text)
        .arg("PXAT")
        .arg(keep_until_ms)
        .query_async::<()>(&mut redis)
        .await?;
    redis::cmd("SET")
        .arg(keys.line_draw(sale_id))
        .arg(serde_json::to_string(&record)?)
        .arg("NX")
        .arg("PXAT")
        .arg(keep_until_ms)
        .query_async::<()>(&mut redis)
        .await?;
    Ok(Some(record.entrants))
}
