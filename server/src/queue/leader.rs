//! The leader of a queue sale's line: one instance at a time (a lease in
//! Redis, renewed every tick, taken over 2 s after its holder stops) counts the
//! entrants, makes the draw at the start, and lets shoppers in: at most the
//! sale's pace a second, while the admitted shoppers still deciding stay under
//! the window (`queue_window_per_unit` × units left). It writes the board every
//! instance answers polls from. Everything it decides is in Redis, so a new
//! leader goes on where the last one stopped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::api::{AdmissionMode, Sale};
use redis::Script;
use sqlx::PgPool;

use super::board::{window, Batch, Board, Phase, Place, ADMISSION_MS};
use super::draw::{draw, drawn_entrants, restore};
use super::kept;
use super::line::Lines;
use crate::clock::Clock;
use crate::keys::LINE_SHARDS;
use crate::sales::catalog::Catalog;
use crate::shutdown::Shutdown;
use crate::store::StoreError;

/// How often the leader looks at its lines.
pub const TICK: Duration = Duration::from_millis(200);
/// How long a lead lasts unless renewed.
const LEAD_MS: i64 = 2_000;
/// A line's keys live this long after its sale ends (the fairness report).
pub(crate) const KEEP_AFTER_END_MS: i64 = 7 * 24 * 3600 * 1000;
/// How often the paid units are read from Postgres while waitlisted.
const PAID_EVERY_MS: i64 = 1_000;

/// What a leader keeps between ticks of one line (nothing that decides).
#[derive(Clone, Copy, Debug, Default)]
struct Pacing {
    last_tick_ms: i64,
    /// Admissions earned by the pace and not yet used (fractions carry over).
    credit: f64,
    paid_read_ms: i64,
    paid_units: i64,
}

/// What one tick did, for tests and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickOutcome {
    /// Another instance leads this line.
    Follower,
    /// Not a queue sale, or its line is not open.
    Idle,
    /// The board was written; `admitted` shoppers were let in.
    Led { admitted: u64 },
}

/// Leads the lines of queue sales (runs in every instance with workers).
#[derive(Clone)]
pub struct LineLeader {
    lines: Lines,
    catalog: Catalog,
    db: PgPool,
    clock: Arc<dyn Clock>,
    /// This instance's lease token.
    token: Arc<str>,
    lead: Arc<Script>,
    close: Arc<Script>,
    pacing: Arc<Mutex<HashMap<i64, Pacing>>>,
}

impl LineLeader {
    pub fn new(
        lines: Lines,
        catalog: Catalog,
        db: PgPool,
        clock: Arc<dyn Clock>,
        token: String,
    ) -> Self {
        Self {
            lines,
            catalog,
            db,
            clock,
            token: token.into(),
            lead: Arc::new(Script::new(include_str!("../../lua/line_lead.lua"))),
            close: Arc::new(Script::new(include_str!("../../lua/line_close.lua"))),
            pacing: Arc::default(),
        }
    }

    /// Ticks every open line every [`TICK`] until shutdown. The list of lines
    /// comes from Postgres every few seconds; the last one is kept through an
    /// outage, so a line goes on while Postgres is away.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut open: Vec<i64> = Vec::new();
        let mut listed_ms: Option<i64> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = shutdown.requested() => break,
            }
            let now = self.clock.now_ms();
            if listed_ms.is_none_or(|listed| now - listed >= 2_000) {
                match self.catalog.lines_open(now).await {
                    Ok(ids) => {
                        open = ids;
                        listed_ms = Some(now);
                    }
                    Err(error) if error.is_outage() => {}
                    Err(error) => tracing::warn!(
                        error = %crate::store::error_chain(&error),
                        "cannot list the open lines"
                    ),
                }
            }
            for &sale_id in &open {
                if let Err(error) = self.tick(sale_id).await {
                    if !error.is_outage() {
                        tracing::warn!(
                            sale_id,
                            error = %crate::store::error_chain(&error),
                            "cannot lead the line"
                        );
                    }
                }
            }
        }
    }

    /// One look at one line: lead it if nobody else does, then count, draw,
    /// admit and write the board.
    pub async fn tick(&self, sale_id: i64) -> Result<TickOutcome, StoreError> {
        let Some(sale) = self.catalog.cached_sale(sale_id).await? else {
            return Ok(TickOutcome::Idle);
        };
        let now = self.clock.now_ms();
        let Some(opens) = sale.queue_opens_at_ms else {
            return Ok(TickOutcome::Idle);
        };
        if sale.admission != AdmissionMode::Queue || now < opens || now > sale.ends_at_ms + 60_000 {
            return Ok(TickOutcome::Idle);
        }
        let keys = self.lines.keys().clone();
        let mut redis = self.lines.redis();
        let leading: i64 = self
            .lead
            .key(&keys.line_lead_script(sale_id))
            .arg(&*self.token)
            .arg(LEAD_MS)
            .invoke_async(&mut redis)
            .await?;
        if leading != 1 {
            return Ok(TickOutcome::Follower);
        }
        let keep_until = sale.ends_at_ms + KEEP_AFTER_END_MS;
        let json: Option<String> = redis::cmd("GET")
            .arg(keys.line_board(sale_id))
            .query_async(&mut redis)
            .await?;
        let mut pacing = self.pacing(sale_id);
        let mut board: Board = match json {
            Some(json) => serde_json::from_str(&json)
                .map_err(|error| StoreError::Corrupt(format!("line board: {error}")))?,
            None => self.new_or_lost(&sale, &pacing, now, keep_until).await?,
        };
        let admitted = self
            .step(&sale, &mut board, &mut pacing, now, keep_until)
            .await?;
        if board.phase != Phase::Gathering && !board.draw_kept {
            board.draw_kept = self.keep_draw(sale_id).await;
        }
        pacing.last_tick_ms = now;
        self.pacing
            .lock()
            .expect("pacing lock is never poisoned")
            .insert(sale_id, pacing);
        board.updated_ms = now;
        // The board and the second's admissions (the admin's pace chart) go
        // together: a tick whose board is not written let nobody in.
        let [board_key, admitted_key] = keys.line_board_transaction(sale_id);
        let mut write = redis::pipe();
        write
            .atomic()
            .cmd("SET")
            .arg(board_key)
            .arg(serde_json::to_string(&board)?)
            .arg("PXAT")
            .arg(keep_until)
            .ignore();
        if admitted > 0 {
            write
                .hincr(&admitted_key, now - now.rem_euclid(1_000), admitted)
                .ignore()
                .cmd("PEXPIREAT")
                .arg(&admitted_key)
                .arg(keep_until)
                .ignore();
        }
        write.query_async::<()>(&mut redis).await?;
        Ok(TickOutcome::Led { admitted })
    }

    /// The board of a line Redis has none of: a line just opened, or one
    /// Redis lost. A drawn line kept in Postgres is written back, places and
    /// all; its admissions go on after the furthest place that bought (those
    /// before it who had not bought yet lose their turn: their challenges and
    /// tickets went with Redis too). A line lost before its draw starts again,
    /// and shoppers' signed entries put them back as they poll.
    async fn new_or_lost(
        &self,
        sale: &Sale,
        pacing: &Pacing,
        now: i64,
        keep_until: i64,
    ) -> Result<Board, StoreError> {
        // This leader led it before, so Redis lost it.
        let lost = pacing.last_tick_ms != 0;
        let kept = if now >= sale.starts_at_ms {
            match kept::load(&self.db, sale.id).await {
                Ok(kept) => kept,
                // A new line does not wait for Postgres; a lost one does.
                Err(error) if error.is_outage() && !lost => None,
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        let Some(kept) = kept else {
            return Ok(Board {
                restored_ms: if lost { now } else { 0 },
                ..Board::default()
            });
        };
        let order = restore(&self.lines, sale.id, kept, keep_until).await?;
        let bought: std::collections::HashSet<i64> =
            kept::buyers(&self.db, sale.id).await?.into_iter().collect();
        let through = order
            .iter()
            .rposition(|user_id| bought.contains(user_id))
            .map_or(0, |index| index as u64 + 1);
        let buyers = order[..through as usize]
            .iter()
            .filter(|user_id| bought.contains(user_id))
            .count() as u64;
        tracing::warn!(
            sale_id = sale.id,
            entrants = order.len(),
            through,
            "line lost by Redis, written back from the kept draw"
        );
        let mut board = Board {
            phase: Phase::Admitting,
            before: order.len() as u64,
            restored_ms: now,
            draw_kept: true,
            ..Board::default()
        };
        if through > 0 {
            // One batch of everyone up to there, already over: their buys
            // counted as the reserve would have.
            let at_ms = now - now.rem_euclid(1_000) - ADMISSION_MS;
            let keys = self.lines.keys();
            let mut redis = self.lines.redis();
            redis::pipe()
                .hset(keys.line_bought(sale.id), at_ms, buyers)
                .ignore()
                .cmd("PEXPIREAT")
                .arg(keys.line_bought(sale.id))
                .arg(keep_until)
                .ignore()
                .query_async::<()>(&mut redis)
                .await?;
            board.frontier = Some(Place::Drawn(through));
            board.admitted = through;
            board.batches.push(Batch {
                at_ms,
                through: Place::Drawn(through),
                count: through,
                bought: buyers,
            });
        }
        Ok(board)
    }

    /// Keeps the line's drawn entrants in Postgres, once: whether they are
    /// kept (if not, a later tick tries again; admissions never wait for it).
    async fn keep_draw(&self, sale_id: i64) -> bool {
        let kept = async {
            let Some(record) = self.lines.draw_record(sale_id).await? else {
                return Ok(false);
            };
            let drawn = drawn_entrants(&self.lines, sale_id, record.drawn_at_ms).await?;
            kept::keep(&self.db, sale_id, &drawn).await?;
            Ok::<_, StoreError>(true)
        };
        match kept.await {
            Ok(kept) => kept,
            Err(error) => {
                if !error.is_outage() {
                    tracing::warn!(
                        sale_id,
                        error = %crate::store::error_chain(&error),
                        "cannot keep the draw"
                    );
                }
                false
            }
        }
    }

    fn pacing(&self, sale_id: i64) -> Pacing {
        self.pacing
            .lock()
            .expect("pacing lock is never poisoned")
            .get(&sale_id)
            .copied()
            .unwrap_or_default()
    }

    /// Brings `board` up to `now`; returns how many were let in.
    async fn step(
        &self,
        sale: &Sale,
        board: &mut Board,
        pacing: &mut Pacing,
        now: i64,
        keep_until: i64,
    ) -> Result<u64, StoreError> {
        let keys = self.lines.keys().clone();
        let mut redis = self.lines.redis();
        if now >= sale.ends_at_ms {
            board.phase = Phase::Ended;
            return Ok(0);
        }
        let (before, after) = self.count(sale.id).await?;
        board.after = after;
        if board.phase == Phase::Gathering {
            board.before = before;
        }
        if now < sale.starts_at_ms {
            return Ok(0);
        }
        if board.phase == Phase::Gathering {
            match draw(
                &self.lines,
                &self.close,
                sale.id,
                sale.starts_at_ms,
                keep_until,
                now,
            )
            .await?
            {
                Some(drawn) => {
                    tracing::info!(sale_id = sale.id, entrants = drawn, "line drawn");
                    board.before = drawn;
                    board.phase = Phase::Admitting;
                }
                None => return Ok(0),
            }
        }
        // What the admitted did: the reserve counts first reservations by batch.
        let (stock_left, bought): (Option<i64>, HashMap<i64, u64>) = redis::pipe()
            .get(keys.stock(sale.id))
            .hgetall(keys.line_bought(sale.id))
            .query_async(&mut redis)
            .await?;
        // A sale missing from Redis is rebuilt by the next buy or status; until
        // then nobody more is let in.
        let Some(stock_left) = stock_left else {
            return Ok(0);
        };
        board.stock_left = stock_left;
        board.bought = bought.values().sum();
        for batch in &mut board.batches {
            batch.bought = bought
                .get(&batch.at_ms)
                .copied()
                .unwrap_or(0)
                .min(batch.count);
        }
        let (live, gone): (Vec<Batch>, Vec<Batch>) = board
            .batches
            .iter()
            .partition(|batch| now < batch.at_ms + ADMISSION_MS + 10_000);
        board.lapsed += gone
            .iter()
            .map(|batch| batch.count - batch.bought)
            .sum::<u64>();
        board.batches = live;

        if stock_left > 0 {
            board.phase = Phase::Admitting;
            board.may_come_back = 0;
        } else {
            if now - pacing.paid_read_ms >= PAID_EVERY_MS {
                match self.catalog.paid_units(sale.id).await {
                    Ok(paid) => {
                        pacing.paid_units = paid;
                        pacing.paid_read_ms = now;
                    }
                    // Through an outage, units are assumed to come back.
                    Err(error) if error.is_outage() => {}
                    Err(error) => return Err(error),
                }
            }
            board.may_come_back = (i64::from(sale.stock) - stock_left - pacing.paid_units).max(0);
            board.phase = if board.may_come_back > 0 {
                Phase::Waitlisted
            } else {
                Phase::SoldOut
            };
        }

        // The pace earns admissions; the window caps those still deciding.
        let elapsed = if pacing.last_tick_ms == 0 {
            TICK.as_millis() as i64
        } else {
            (now - pacing.last_tick_ms).clamp(0, 1_000)
        };
        let pace = f64::from(sale.queue_pace_per_s);
        pacing.credit = (pacing.credit + pace * elapsed as f64 / 1_000.0).min(pace.max(1.0));
        let window = window(sale, stock_left);
        let room = window.saturating_sub(board.undecided(now));
        let wanted = room.min(pacing.credit.floor() as u64);
        let admitted = if sale.paused {
            0
        } else {
            self.admit(sale.id, board, wanted, now).await?
        };
        pacing.credit -= admitted as f64;
        let recent: u64 = board
            .batches
            .iter()
            .filter(|batch| batch.at_ms > now - 10_000)
            .map(|batch| batch.count)
            .sum();
        board.pace_per_s = recent as f64 / 10.0;
        Ok(admitted)
    }

    /// The entrants of every shard: (before the start, after it).
    async fn count(&self, sale_id: i64) -> Result<(u64, u64), StoreError> {
        let keys = self.lines.keys();
        let mut redis = self.lines.redis();
        let (mut before, mut after) = (0, 0);
        for shard in 0..LINE_SHARDS {
            let (p, a): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
                .arg(keys.line_counts(sale_id, shard))
                .arg("p")
                .arg("a")
                .query_async(&mut redis)
                .await?;
            before += p.unwrap_or(0);
            after += a.unwrap_or(0);
        }
        Ok((before, after))
    }

    /// Lets the next `wanted` in line in: drawn places first, then post-start
    /// entrants in arrival order. Returns how many there were.
    async fn admit(
        &self,
        sale_id: i64,
        board: &mut Board,
        wanted: u64,
        now: i64,
    ) -> Result<u64, StoreError> {
        if wanted == 0 {
            return Ok(0);
        }
        let admitted_before = board.admitted - board.admitted_after;
        let from_drawn = wanted.min(board.before - admitted_before);
        let mut through = None;
        if from_drawn > 0 {
            through = Some(Place::Drawn(admitted_before + from_drawn));
            board.admitted += from_drawn;
        }
        let mut from_after = 0;
        if from_drawn < wanted && board.admitted_after < board.after {
            let after = self
                .next_after(sale_id, board.frontier, wanted - from_drawn)
                .await?;
            from_after = after.len() as u64;
            if let Some(last) = after.last() {
                through = Some(*last);
                board.admitted += from_after;
                board.admitted_after += from_after;
            }
        }
        let Some(through) = through else {
            return Ok(0);
        };
        board.frontier = Some(through);
        let count = from_drawn + from_after;
        let second = now - now.rem_euclid(1_000);
        match board.batches.last_mut() {
            Some(last) if last.at_ms == second => {
                last.through = through;
                last.count += count;
            }
            _ => board.batches.push(Batch {
                at_ms: second,
                through,
                count,
                bought: 0,
            }),
        }
        Ok(count)
    }

    /// The next `wanted` post-start entrants after `frontier`, in order, read
    /// from every shard (each shard's sorted set is in that order already).
    async fn next_after(
        &self,
        sale_id: i64,
        frontier: Option<Place>,
        wanted: u64,
    ) -> Result<Vec<Place>, StoreError> {
        let keys = self.lines.keys();
        let mut redis = self.lines.redis();
        let from_ms = match frontier {
            Some(Place::After(ms, _)) => ms,
            _ => i64::MIN,
        };
        let mut found: Vec<Place> = Vec::new();
        for shard in 0..LINE_SHARDS {
            let key = keys.line_after(sale_id, shard);
            let min = if from_ms == i64::MIN {
                "-inf".to_owned()
            } else {
                from_ms.to_string()
            };
            // Entrants at the frontier's own instant may be on either side of it.
            let at_frontier: u64 = if from_ms == i64::MIN {
                0
            } else {
                redis::cmd("ZCOUNT")
                    .arg(&key)
                    .arg(from_ms)
                    .arg(from_ms)
                    .query_async(&mut redis)
                    .await?
            };
            let members: Vec<(String, i64)> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(min)
                .arg("+inf")
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(wanted + at_frontier)
                .arg("WITHSCORES")
                .query_async(&mut redis)
                .await?;
            for (member, joined_ms) in members {
                let user_id: i64 = member
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("line member `{member}`")))?;
                let place = Place::After(joined_ms, user_id);
                if frontier.is_none_or(|frontier| place > frontier) {
                    found.push(place);
                }
            }
        }
        found.sort_unstable();
        found.truncate(wanted as usize);
        Ok(found)
    }
}
