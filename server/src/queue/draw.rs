//! The draw at a queue sale's start: close every shard of the line to
//! pre-start entries, read them, order them by `app::draw` and write each
//! entrant's place beside its entry. Deterministic: run again (a leader that
//! died half-way, two leaders for a moment) it writes the same places, because
//! closed shards keep the same pre-start entries and the secret is fixed.
//!
//! The same determinism gives a drawn line back after Redis lost it
//! ([`restore`]): from the entrants kept in Postgres ([`super::kept`]) the
//! entries, the places and the published values are written again, equal.

use std::collections::HashMap;

use redis::Script;

use super::kept::KeptDraw;
use super::line::{DrawRecord, Lines};
use crate::keys::{line_shard, LINE_SHARDS};
use crate::store::StoreError;

/// Places (or entries) written per command.
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
    let mut before: Vec<(i64, i64)> = Vec::new();
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
        before.extend(pre_start(&reply[1..])?);
    }
    let drawn = KeptDraw {
        entrants: before,
        drawn_at_ms: now_ms,
    };
    let order = publish(lines, sale_id, drawn, keep_until_ms, false).await?;
    Ok(Some(order.len() as u64))
}

/// Writes a drawn line kept in Postgres back into a Redis that lost it: the
/// entries (closed to pre-start joins), the places, the entrant list and the
/// published values, all as the draw wrote them. Returns the drawn order.
pub(crate) async fn restore(
    lines: &Lines,
    sale_id: i64,
    kept: KeptDraw,
    keep_until_ms: i64,
) -> Result<Vec<i64>, StoreError> {
    publish(lines, sale_id, kept, keep_until_ms, true).await
}

/// The pre-start entrants (id, join time) of `line_close.lua`'s pairs.
fn pre_start(pairs: &[String]) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut before = Vec::new();
    for pair in pairs.chunks(2) {
        let [user, entry] = pair else {
            return Err(StoreError::Corrupt("line_close: odd entries".into()));
        };
        let user_id: i64 = user
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("line entrant `{user}`")))?;
        let entry = super::board::Entry::parse(user_id, entry)
            .ok_or_else(|| StoreError::Corrupt(format!("line entry `{entry}`")))?;
        if entry.before_start {
            before.push((user_id, entry.joined_ms));
        }
    }
    Ok(before)
}

/// The draw's text, digest, seed and order of `drawn`'s entrants.
async fn ordered(
    lines: &Lines,
    sale_id: i64,
    drawn: &KeptDraw,
) -> Result<(String, [u8; 32], [u8; 32], Vec<i64>), StoreError> {
    let secret = lines.signer().draw_secret(sale_id);
    let ids: Vec<i64> = drawn.entrants.iter().map(|(id, _)| *id).collect();
    // Sorting a million keys takes a while: off the async threads.
    Ok(tokio::task::spawn_blocking(move || {
        let text = app::draw::entries_text(&ids);
        let digest = app::draw::sha256(text.as_bytes());
        let seed = app::draw::seed(&secret, &digest);
        let order = app::draw::order(&seed, &ids);
        (text, digest, seed, order)
    })
    .await?)
}

/// Writes each entrant's place, then the entrant list, then the record (whoever
/// sees the record finds the rest). With `entries`, also each shard's entries,
/// counts and closed flag, which a Redis that lost the line lacks. Returns the
/// drawn order (the first has place 1).
async fn publish(
    lines: &Lines,
    sale_id: i64,
    drawn: KeptDraw,
    keep_until_ms: i64,
    entries: bool,
) -> Result<Vec<i64>, StoreError> {
    let keys = lines.keys().clone();
    let mut redis = lines.redis();
    let (text, digest, seed, order) = ordered(lines, sale_id, &drawn).await?;
    let joined: HashMap<i64, i64> = drawn.entrants.iter().copied().collect();
    let mut by_shard: HashMap<u32, Vec<(i64, u64)>> = HashMap::new();
    for (index, user_id) in order.iter().enumerate() {
        by_shard
            .entry(line_shard(*user_id))
            .or_default()
            .push((*user_id, index as u64 + 1));
    }
    if entries {
        for shard in 0..LINE_SHARDS {
            let mut pipe = redis::pipe();
            let closed = keys.line_closed(sale_id, shard);
            pipe.cmd("SET")
                .arg(closed)
                .arg(1)
                .arg("PXAT")
                .arg(keep_until_ms)
                .ignore();
            let count = by_shard.get(&shard).map_or(0, Vec::len);
            let counts = keys.line_counts(sale_id, shard);
            pipe.hset(&counts, "p", count).ignore();
            pipe.cmd("PEXPIREAT")
                .arg(&counts)
                .arg(keep_until_ms)
                .ignore();
            pipe.query_async::<()>(&mut redis).await?;
        }
    }
    for (shard, places) in by_shard {
        let key = keys.line_places(sale_id, shard);
        let in_line = keys.line_entries(sale_id, shard);
        for chunk in places.chunks(PLACES_PER_WRITE) {
            let mut pipe = redis::pipe();
            pipe.hset_multiple(&key, chunk).ignore();
            pipe.cmd("PEXPIREAT").arg(&key).arg(keep_until_ms).ignore();
            if entries {
                // The n of a restored entry is its place within the shard: it
                // only ever served post-start entries' estimates.
                let values: Vec<(i64, String)> = chunk
                    .iter()
                    .map(|&(user_id, place)| {
                        let joined_ms = joined.get(&user_id).copied().unwrap_or(0);
                        (user_id, format!("{joined_ms}:p:{place}"))
                    })
                    .collect();
                pipe.hset_multiple(&in_line, &values).ignore();
                pipe.cmd("PEXPIREAT")
                    .arg(&in_line)
                    .arg(keep_until_ms)
                    .ignore();
            }
            pipe.query_async::<()>(&mut redis).await?;
        }
    }
    let record = DrawRecord {
        secret: app::draw::hex(&lines.signer().draw_secret(sale_id)),
        entries_digest: app::draw::hex(&digest),
        seed: app::draw::hex(&seed),
        entrants: order.len() as u64,
        drawn_at_ms: drawn.drawn_at_ms,
    };
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
    Ok(order)
}

/// The pre-start entrants of a drawn line as Redis holds them (every shard
/// read once), to keep in Postgres.
pub(crate) async fn drawn_entrants(
    lines: &Lines,
    sale_id: i64,
    drawn_at_ms: i64,
) -> Result<KeptDraw, StoreError> {
    let keys = lines.keys();
    let mut redis = lines.redis();
    let mut entrants = Vec::new();
    for shard in 0..LINE_SHARDS {
        let pairs: Vec<String> = redis::cmd("HGETALL")
            .arg(keys.line_entries(sale_id, shard))
            .query_async(&mut redis)
            .await?;
        entrants.extend(pre_start(&pairs)?);
    }
    entrants.sort_unstable();
    Ok(KeptDraw {
        entrants,
        drawn_at_ms,
    })
}
