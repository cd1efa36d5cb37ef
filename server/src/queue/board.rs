//! The line's board: what the instance leading a queue sale's line writes a few
//! times a second (`{s:<id>}:q:board`) and every instance answers polls from,
//! with the pure rules that turn a shopper's entry and the board into where
//! they stand. Nothing here touches Redis.

use app::api::{QueueStanding, QueueState, Sale};
use serde::{Deserialize, Serialize};

use crate::keys::LINE_SHARDS;

/// How long an admission lasts: an admitted shopper who has not bought by
/// then loses it, and the next in line comes in.
pub(crate) const ADMISSION_MS: i64 = 120_000;

/// How many admitted shoppers may be deciding at once with `stock_left`
/// units left: the sale's window per unit for each.
pub(crate) fn window(sale: &Sale, stock_left: i64) -> u64 {
    stock_left.max(0) as u64 * sale.queue_window_per_unit.max(0) as u64
}

/// A place in a sale's line. Everyone who joined before the start comes
/// before everyone who joined after it (the derived order says so: the
/// variants' order, then their fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) enum Place {
    /// Joined before the start: the drawn place, 1 for the first.
    Drawn(u64),
    /// Joined after the start: by join time (Redis' clock), then user id.
    After(i64, i64),
}

/// An account's entry in a line, as `line_join.lua` wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub user_id: i64,
    pub joined_ms: i64,
    pub before_start: bool,
    /// The entry's number among its shard's entries of its kind (1 first).
    pub n: u64,
    /// The drawn place, once known (entries from before the start).
    pub drawn: Option<u64>,
}

impl Entry {
    /// Parses `joined_ms:kind:n` as the join script writes it.
    pub fn parse(user_id: i64, value: &str) -> Option<Self> {
        let mut parts = value.split(':');
        let joined_ms = parts.next()?.parse().ok()?;
        let before_start = match parts.next()? {
            "p" => true,
            "a" => false,
            _ => return None,
        };
        let n = parts.next()?.parse().ok()?;
        Some(Entry {
            user_id,
            joined_ms,
            before_start,
            n,
            drawn: None,
        })
    }

    /// Its place, once it is known.
    pub fn place(&self) -> Option<Place> {
        if self.before_start {
            self.drawn.map(Place::Drawn)
        } else {
            Some(Place::After(self.joined_ms, self.user_id))
        }
    }
}

/// Where the line stands as a whole (the admin's view shows it as is).
pub(crate) use app::api::LinePhase as Phase;

/// Shoppers let in during one second (batches are counted by the second).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Batch {
    /// The second's first instant (ms): the batch's id, and its admissions
    /// lapse `ADMISSION_MS` after it.
    pub at_ms: i64,
    /// The last place let in during that second.
    pub through: Place,
    pub count: u64,
    /// Of them, those who reserved (from `reserve.lua`'s count).
    pub bought: u64,
}

/// The line's state, written by its leader, read by every instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Board {
    pub phase: Phase,
    /// Entrants who joined before the start (counted; exact once drawn).
    pub before: u64,
    /// Entrants who joined after the start.
    pub after: u64,
    /// The last place let in; `None` before anyone was.
    pub frontier: Option<Place>,
    /// Shoppers let in so far, and of them those who joined after the start.
    pub admitted: u64,
    pub admitted_after: u64,
    /// Admissions still running (younger than `ADMISSION_MS`), oldest first.
    pub batches: Vec<Batch>,
    /// Admitted shoppers who reserved, and admissions that lapsed unbought.
    pub bought: u64,
    pub lapsed: u64,
    pub stock_left: i64,
    /// Units held by unpaid orders, which may come back.
    pub may_come_back: i64,
    /// Admissions a second over the last ten seconds.
    pub pace_per_s: f64,
    /// When the leader wrote this (its clock).
    pub updated_ms: i64,
    /// When the leader found the line lost by Redis and wrote it again (0:
    /// never). Entries that joined before then and have no drawn place are
    /// looked up in Redis again, and written back from the shopper's signed
    /// entry when Redis no longer has them.
    #[serde(default)]
    pub restored_ms: i64,
    /// Whether the draw's entrants are kept in Postgres (`line_draws`).
    #[serde(default)]
    pub draw_kept: bool,
}

/// What an admission looks like from one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    Waiting,
    /// Let in, in batch `batch`, until `until_ms`.
    Admitted {
        batch: i64,
        until_ms: i64,
    },
    Lapsed,
}

impl Board {
    /// Whether a shopper's signed entry can answer for itself, or must be
    /// looked up in Redis: a pre-start entry learns its place once after the
    /// draw, and after Redis lost the line an entry older than the loss
    /// without a drawn place may be gone (a drawn one is written back equal).
    pub fn trusts(&self, entry: &Entry) -> bool {
        let placed = entry.before_start && entry.drawn.is_some();
        let drawn = self.phase != Phase::Gathering;
        if drawn && entry.before_start && !placed {
            return false;
        }
        placed || entry.joined_ms >= self.restored_ms
    }

    /// Whether `place` has been let in, and until when.
    pub fn admission(&self, place: Place, now_ms: i64) -> Admission {
        match self.frontier {
            Some(frontier) if place <= frontier => {}
            _ => return Admission::Waiting,
        }
        match self.batches.iter().find(|batch| place <= batch.through) {
            Some(batch) if now_ms < batch.at_ms + ADMISSION_MS => Admission::Admitted {
                batch: batch.at_ms,
                until_ms: batch.at_ms + ADMISSION_MS,
            },
            _ => Admission::Lapsed,
        }
    }

    /// Admitted shoppers still deciding: let in, not lapsed, not bought.
    pub fn undecided(&self, now_ms: i64) -> u64 {
        self.batches
            .iter()
            .filter(|batch| now_ms < batch.at_ms + ADMISSION_MS)
            .map(|batch| batch.count.saturating_sub(batch.bought))
            .sum()
    }

    /// The share of admitted shoppers who buy: what has been seen, pulled
    /// towards 80 % while little has (20 admissions' worth of belief).
    pub fn conversion(&self) -> f64 {
        (self.bought as f64 + 16.0) / ((self.bought + self.lapsed) as f64 + 20.0)
    }

    /// Pre-start entrants let in so far.
    fn admitted_before(&self) -> u64 {
        self.admitted - self.admitted_after
    }

    /// About how many wait in front of `entry` (not yet let in).
    pub fn ahead(&self, entry: &Entry) -> u64 {
        match entry.place() {
            None => self.before.saturating_sub(1) / 2,
            Some(Place::Drawn(place)) => (place - 1).saturating_sub(self.admitted_before()),
            Some(Place::After(..)) => {
                // The shard's count, scaled by the shards, estimates how many
                // joined after the start before this one.
                let after_in_front = (entry.n.saturating_sub(1)) * u64::from(LINE_SHARDS);
                self.before.saturating_sub(self.admitted_before())
                    + after_in_front.saturating_sub(self.admitted_after)
            }
        }
    }

    /// Where `entry` (or a shopper not in line) stands at `now_ms`.
    pub fn standing(&self, sale: &Sale, entry: Option<&Entry>, now_ms: i64) -> QueueStanding {
        let entrants = self.before + self.after;
        let mut standing = QueueStanding {
            state: QueueState::NotJoined,
            joined_at_ms: entry.map(|entry| entry.joined_ms),
            joined_before_start: entry.map(|entry| entry.before_start),
            place: None,
            ahead: 0,
            entrants,
            chance: 0.0,
            poll_after_ms: 30_000,
            admitted_until_ms: None,
            may_come_back: self.may_come_back,
            server_time_ms: now_ms,
        };
        let ended = now_ms >= sale.ends_at_ms || self.phase == Phase::Ended;
        let Some(entry) = entry else {
            standing.state = if ended {
                QueueState::Ended
            } else if self.phase == Phase::SoldOut {
                QueueState::SoldOut
            } else {
                QueueState::NotJoined
            };
            return standing;
        };
        if ended {
            standing.state = QueueState::Ended;
            standing.poll_after_ms = 60_000;
            return standing;
        }
        let place = entry.place();
        // Only a drawn place is exact; a later entrant's is an estimate (`ahead`).
        standing.place = match place {
            Some(Place::Drawn(drawn)) => Some(drawn),
            _ => None,
        };
        let admission = place.map_or(Admission::Waiting, |place| self.admission(place, now_ms));
        standing.ahead = match admission {
            Admission::Waiting => self.ahead(entry),
            _ => 0,
        };
        let conversion = self.conversion();
        match admission {
            Admission::Admitted { until_ms, .. } => {
                standing.state = QueueState::Admitted;
                standing.admitted_until_ms = Some(until_ms);
                standing.chance = chance(self.stock_left as f64, 0.0, conversion);
                standing.poll_after_ms = 5_000;
            }
            Admission::Lapsed => {
                standing.state = QueueState::Lapsed;
                standing.poll_after_ms = 60_000;
            }
            Admission::Waiting => match self.phase {
                Phase::SoldOut => {
                    standing.state = QueueState::SoldOut;
                    standing.poll_after_ms = 60_000;
                }
                Phase::Waitlisted => {
                    standing.state = QueueState::Waitlisted;
                    // Of the units held unpaid, about a quarter come back
                    // (an estimate, until the sale's own history says more).
                    let may_return = self.may_come_back as f64 * 0.25;
                    standing.chance = chance(
                        may_return,
                        (standing.ahead + self.undecided(now_ms)) as f64,
                        conversion,
                    );
                    standing.poll_after_ms = 5_000;
                }
                Phase::Gathering => {
                    standing.state = QueueState::Waiting;
                    // A random place among `before`: the chance is the share
                    // of places the stock reaches.
                    let reach = f64::from(sale.stock) / conversion;
                    standing.chance = (reach / self.before.max(1) as f64).min(1.0);
                    if !entry.before_start {
                        standing.chance =
                            chance(f64::from(sale.stock), standing.ahead as f64, conversion);
                    }
                    let until_start = (sale.starts_at_ms - now_ms).max(0);
                    // Spread the crowd's first poll after the start over 2 s.
                    let spread = entry.user_id.rem_euclid(2_000);
                    standing.poll_after_ms =
                        (until_start + 500 + spread).clamp(1_000, 30_000) as u32;
                }
                Phase::Admitting => {
                    standing.state = QueueState::Waiting;
                    standing.chance = chance(
                        self.stock_left as f64,
                        (standing.ahead + self.undecided(now_ms)) as f64,
                        conversion,
                    );
                    let pace = self.pace_per_s.max(f64::from(sale.queue_pace_per_s) / 10.0);
                    let eta_ms = standing.ahead as f64 / pace * 1_000.0;
                    standing.poll_after_ms = (eta_ms / 3.0).clamp(1_000.0, 30_000.0) as u32;
                }
                Phase::Ended => unreachable!("handled above"),
            },
        }
        standing
    }
}

/// The chance of a unit when `in_front` shoppers come first, each buying with
/// probability `conversion`, and `units` are to be had: P(fewer than `units`
/// of them buy), by the normal approximation of the binomial.
pub(crate) fn chance(units: f64, in_front: f64, conversion: f64) -> f64 {
    if units < 0.5 {
        return 0.0;
    }
    let mean = in_front * conversion;
    let spread = (in_front * conversion * (1.0 - conversion)).sqrt().max(0.5);
    normal_cdf((units - 0.5 - mean) / spread).clamp(0.0, 1.0)
}

/// Φ(x), by Abramowitz and Stegun's 7.1.26 (error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board_through(frontier: Place, at_ms: i64) -> Board {
        Board {
            phase: Phase::Admitting,
            before: 10,
            after: 5,
            frontier: Some(frontier),
            admitted: 4,
            batches: vec![Batch {
                at_ms,
                through: frontier,
                count: 4,
                bought: 1,
            }],
            stock_left: 3,
            ..Board::default()
        }
    }

    #[test]
    fn every_drawn_place_comes_before_every_later_entrant() {
        assert!(Place::Drawn(u64::MAX) < Place::After(i64::MIN, 0));
        assert!(Place::After(5, 9) < Place::After(6, 1));
        assert!(Place::After(5, 1) < Place::After(5, 2));
    }

    #[test]
    fn a_signed_entry_answers_alone_unless_it_lacks_a_place_it_could_have_or_predates_a_loss() {
        let entry = |joined_ms, before_start, drawn| Entry {
            user_id: 7,
            joined_ms,
            before_start,
            n: 1,
            drawn,
        };
        let gathering = Board::default();
        assert!(gathering.trusts(&entry(1_000, true, None)));
        let drawn = board_through(Place::Drawn(4), 10_000);
        assert!(!drawn.trusts(&entry(1_000, true, None)), "learns its place");
        assert!(drawn.trusts(&entry(1_000, true, Some(3))));
        assert!(drawn.trusts(&entry(9_000, false, None)));
        let restored = Board {
            restored_ms: 8_000,
            ..drawn
        };
        assert!(
            restored.trusts(&entry(1_000, true, Some(3))),
            "written back equal"
        );
        assert!(!restored.trusts(&entry(7_000, false, None)), "may be lost");
        assert!(
            restored.trusts(&entry(9_000, false, None)),
            "joined after the loss"
        );
        let lost_early = Board {
            restored_ms: 8_000,
            ..Board::default()
        };
        assert!(!lost_early.trusts(&entry(1_000, true, None)));
    }

    #[test]
    fn a_place_is_let_in_up_to_the_frontier_and_lapses_after_two_minutes() {
        let board = board_through(Place::Drawn(4), 10_000);
        assert_eq!(
            board.admission(Place::Drawn(4), 10_500),
            Admission::Admitted {
                batch: 10_000,
                until_ms: 130_000
            }
        );
        assert_eq!(board.admission(Place::Drawn(5), 10_500), Admission::Waiting);
        assert_eq!(board.admission(Place::Drawn(1), 130_000), Admission::Lapsed);
        assert_eq!(board.undecided(10_500), 3);
        assert_eq!(board.undecided(130_000), 0);
    }

    #[test]
    fn ahead_counts_drawn_places_then_later_entrants() {
        let board = board_through(Place::Drawn(4), 10_000);
        let drawn = Entry {
            user_id: 1,
            joined_ms: 0,
            before_start: true,
            n: 1,
            drawn: Some(9),
        };
        assert_eq!(board.ahead(&drawn), 4);
        let later = Entry {
            user_id: 2,
            joined_ms: 20_000,
            before_start: false,
            n: 1,
            drawn: None,
        };
        assert_eq!(board.ahead(&later), 6);
        let undrawn = Entry {
            drawn: None,
            ..drawn
        };
        assert_eq!(Board::default().ahead(&undrawn), 0);
    }

    #[test]
    fn the_chance_falls_as_the_line_in_front_outgrows_the_units() {
        assert_eq!(chance(0.0, 0.0, 0.8), 0.0);
        assert!(chance(10.0, 0.0, 0.8) > 0.99);
        assert!(chance(10.0, 5.0, 0.8) > 0.99);
        let middle = chance(10.0, 12.5, 0.8);
        assert!((0.3..0.7).contains(&middle), "{middle}");
        assert!(chance(10.0, 40.0, 0.8) < 0.01);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-6);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-3);
    }

    #[test]
    fn entries_parse_as_the_join_script_writes_them() {
        let entry = Entry::parse(7, "1700000000123:p:42").unwrap();
        assert_eq!(
            (entry.joined_ms, entry.before_start, entry.n),
            (1_700_000_000_123, true, 42)
        );
        assert_eq!(entry.place(), None);
        let later = Entry::parse(7, "5:a:1").unwrap();
        assert_eq!(later.place(), Some(Place::After(5, 7)));
        for broken in ["", "5", "5:x:1", "x:p:1", "5:p:"] {
            assert_eq!(Entry::parse(7, broken), None, "{broken}");
        }
    }
}
