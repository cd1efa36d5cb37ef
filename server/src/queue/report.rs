//! What the admin sees of a queue sale's line: the live counts and the
//! admissions second by second (from the board and two small hashes of the
//! sale), and after the draw the fairness report: who got the units by when
//! they joined, where the crowd came from, and the draw's values.
//!
//! Only admins ask, and each answer costs a bounded number of reads: the live
//! view two hashes of the sale (one field per second of admitting), the report
//! one read per shard and one lookup per winner.

use std::collections::HashMap;

use app::api::{
    AddressEntrants, AdmissionSecond, FairnessReport, JoinStretch, LineLive, LinePhase, Sale,
};

use super::board::{window, Entry};
use super::line::Lines;
use crate::keys::{line_shard, LINE_SHARDS};
use crate::store::StoreError;

/// Stretches of join time the report splits the line into, before the start
/// and after it.
const STRETCHES_BEFORE: i64 = 20;
const STRETCHES_AFTER: i64 = 10;
/// Addresses the report lists, and how many of each shard's it reads to find
/// them (an address's accounts spread evenly over the shards, by id).
const TOP_ADDRESSES: usize = 10;
const ADDRESSES_PER_SHARD: isize = 50;
/// Winners looked up per command.
const LOOKUP_CHUNK: usize = 500;

/// The live view of `sale`'s line at `now`.
pub async fn live(lines: &Lines, sale: &Sale, now: i64) -> Result<LineLive, StoreError> {
    let board = lines.board(sale.id).await?;
    let [admitted_key, bought_key] = lines.keys().line_history_pipeline(sale.id);
    let mut redis = lines.redis();
    let (admitted, bought): (HashMap<i64, u64>, HashMap<i64, u64>) = redis::pipe()
        .hgetall(admitted_key)
        .hgetall(bought_key)
        .query_async(&mut redis)
        .await?;
    let entrants = board.before + board.after;
    let waiting = entrants.saturating_sub(board.admitted);
    // The leader reads the stock from the draw on; before it, all is left.
    let stock_left = if board.phase == LinePhase::Gathering {
        i64::from(sale.stock)
    } else {
        board.stock_left
    };
    Ok(LineLive {
        phase: board.phase,
        entrants_before_start: board.before,
        entrants_after_start: board.after,
        admitted: board.admitted,
        admitted_after_start: board.admitted_after,
        bought: board.bought,
        lapsed: board.lapsed,
        deciding: board.undecided(now),
        waiting,
        waitlisted: if board.phase == LinePhase::Waitlisted {
            waiting
        } else {
            0
        },
        stock_left,
        may_come_back: board.may_come_back,
        window: window(sale, stock_left),
        pace_per_s: board.pace_per_s,
        admissions: admission_seconds(&admitted, &bought),
        updated_at_ms: (board.updated_ms > 0).then_some(board.updated_ms),
    })
}

/// Every second's admissions, oldest first, with those of them who bought.
fn admission_seconds(
    admitted: &HashMap<i64, u64>,
    bought: &HashMap<i64, u64>,
) -> Vec<AdmissionSecond> {
    let mut seconds: Vec<AdmissionSecond> = admitted
        .iter()
        .map(|(&at_ms, &count)| AdmissionSecond {
            at_ms,
            admitted: count,
            bought: bought.get(&at_ms).copied().unwrap_or(0).min(count),
        })
        .collect();
    seconds.sort_unstable_by_key(|second| second.at_ms);
    seconds
}

/// The fairness report of `sale`'s line.
pub async fn fairness(lines: &Lines, sale: &Sale) -> Result<FairnessReport, StoreError> {
    let board = lines.board(sale.id).await?;
    let draw = lines.published_draw(sale.id, board.before).await?;
    let keys = lines.keys();
    let mut redis = lines.redis();
    // Every account that reserved a unit of the sale, whatever became of it.
    let winners: Vec<i64> = redis::cmd("HKEYS")
        .arg(keys.seqs(sale.id))
        .query_async(&mut redis)
        .await?;
    let mut by_shard: HashMap<u32, Vec<i64>> = HashMap::new();
    for &user_id in &winners {
        by_shard
            .entry(line_shard(user_id))
            .or_default()
            .push(user_id);
    }
    let mut seconds: Vec<(bool, i64, u64)> = Vec::new();
    let mut addresses: HashMap<String, u64> = HashMap::new();
    let mut won: Vec<(bool, i64)> = Vec::new();
    for shard in 0..LINE_SHARDS {
        let (counts, top): (HashMap<String, u64>, Vec<(String, f64)>) = redis::pipe()
            .hgetall(keys.line_seconds(sale.id, shard))
            .zrevrange_withscores(
                keys.line_addresses(sale.id, shard),
                0,
                ADDRESSES_PER_SHARD - 1,
            )
            .query_async(&mut redis)
            .await?;
        seconds.extend(counts.iter().filter_map(|(field, &count)| {
            let (kind, second) = field.split_once(':')?;
            Some((kind == "p", second.parse().ok()?, count))
        }));
        for (address, count) in top {
            *addresses.entry(address).or_default() += count as u64;
        }
        for chunk in by_shard
            .get(&shard)
            .into_iter()
            .flat_map(|ids| ids.chunks(LOOKUP_CHUNK))
        {
            let values: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(keys.line_entries(sale.id, shard))
                .arg(chunk)
                .query_async(&mut redis)
                .await?;
            won.extend(chunk.iter().zip(values).filter_map(|(&user_id, value)| {
                let entry = Entry::parse(user_id, value.as_deref()?)?;
                Some((entry.before_start, entry.joined_ms))
            }));
        }
    }
    let mut top_addresses: Vec<AddressEntrants> = addresses
        .into_iter()
        .map(|(address, entrants)| AddressEntrants { address, entrants })
        .collect();
    top_addresses.sort_unstable_by(|a, b| {
        b.entrants
            .cmp(&a.entrants)
            .then_with(|| a.address.cmp(&b.address))
    });
    top_addresses.truncate(TOP_ADDRESSES);
    Ok(FairnessReport {
        draw,
        entrants: board.before + board.after,
        winners: winners.len() as u64,
        by_join_time: [true, false]
            .into_iter()
            .flat_map(|before| stretches(before, &seconds, &won))
            .collect(),
        top_addresses,
        admitted: board.admitted,
        bought: board.bought,
        never_bought: board.admitted.saturating_sub(board.bought),
    })
}

/// The entrants of one kind (`before` the start or after it) and their
/// winners in equal stretches of whole seconds from the first join to the
/// last. `seconds` holds `(before, second, entrants)`, `won` each winner's
/// `(before, joined_ms)`.
fn stretches(before: bool, seconds: &[(bool, i64, u64)], won: &[(bool, i64)]) -> Vec<JoinStretch> {
    let of_kind = seconds.iter().filter(|(kind, ..)| *kind == before);
    let (Some(first), Some(last)) = (
        of_kind.clone().map(|(_, second, _)| *second).min(),
        of_kind.clone().map(|(_, second, _)| *second).max(),
    ) else {
        return Vec::new();
    };
    let most = if before {
        STRETCHES_BEFORE
    } else {
        STRETCHES_AFTER
    };
    let span_s = (last - first) / 1_000 + 1;
    // Both positive: rounded-up divisions.
    let width_s = (span_s + most - 1) / most;
    let count = (span_s + width_s - 1) / width_s;
    let index = |at_ms: i64| ((at_ms - first).max(0) / (width_s * 1_000)).min(count - 1) as usize;
    let mut out: Vec<JoinStretch> = (0..count)
        .map(|i| JoinStretch {
            from_ms: first + i * width_s * 1_000,
            to_ms: first + (i + 1) * width_s * 1_000,
            before_start: before,
            entrants: 0,
            winners: 0,
        })
        .collect();
    for (_, second, count) in of_kind {
        out[index(*second)].entrants += count;
    }
    for (_, joined_ms) in won.iter().filter(|(kind, _)| *kind == before) {
        out[index(*joined_ms)].winners += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_split_the_join_time_evenly_and_count_winners_where_they_joined() {
        // 40 seconds of pre-start joins, 2 entrants a second; winners at the
        // first and the last second.
        let seconds: Vec<(bool, i64, u64)> =
            (0..40).map(|s| (true, 1_000_000 + s * 1_000, 2)).collect();
        let won = [(true, 1_000_250), (true, 1_039_999), (false, 1_041_000)];
        let out = stretches(true, &seconds, &won);
        assert_eq!(out.len(), 20);
        assert!(out
            .iter()
            .all(|s| s.to_ms - s.from_ms == 2_000 && s.entrants == 4));
        assert_eq!(out[0].winners, 1);
        assert_eq!(out[19].winners, 1);
        assert_eq!(out.iter().map(|s| s.winners).sum::<u64>(), 2);
        assert!(
            stretches(false, &seconds, &won).is_empty(),
            "no post-start entrant"
        );
    }

    #[test]
    fn a_short_line_gets_one_stretch_a_second() {
        let seconds = [(false, 5_000, 3), (false, 7_000, 1)];
        let out = stretches(false, &seconds, &[(false, 7_400)]);
        let summary: Vec<(i64, u64, u64)> = out
            .iter()
            .map(|s| (s.from_ms, s.entrants, s.winners))
            .collect();
        assert_eq!(summary, [(5_000, 3, 0), (6_000, 0, 0), (7_000, 1, 1)]);
    }

    #[test]
    fn admissions_come_oldest_first_with_their_buyers() {
        let admitted = HashMap::from([(2_000, 5), (1_000, 3)]);
        let bought = HashMap::from([(1_000, 2), (9_000, 1)]);
        let seconds = admission_seconds(&admitted, &bought);
        assert_eq!(
            seconds,
            [
                AdmissionSecond {
                    at_ms: 1_000,
                    admitted: 3,
                    bought: 2
                },
                AdmissionSecond {
                    at_ms: 2_000,
                    admitted: 5,
                    bought: 0
                },
            ]
        );
    }
}
