//! The sliding-puzzle CAPTCHA's answer: the path along which the shopper moved
//! the piece, written as text by the WASM client and judged by the server.
//!
//! A path is `at_ms:x` points joined by `;` — milliseconds since the first
//! touch, and the piece's left edge in picture pixels (one decimal). The server
//! knows where the gap is; it passes a path that ends in the gap and moved the
//! way a hand does: in several steps, not one jump, and not at one constant
//! speed (a hand speeds up and slows down into the gap; a key held down starts
//! only after the keyboard's repeat delay). A script can imitate that, as it can
//! read any picture: the puzzle raises the cost of a bot, and the rate limits and
//! one-unit-per-buyer rule do the rest.

/// At most this many points are kept; the client thins a longer drag.
pub const MAX_POINTS: usize = 400;
/// How far (picture pixels) from the gap the piece may be let go.
pub const TOLERANCE_PX: f64 = 5.0;
/// Pixels one arrow key moves the piece (`Shift`: [`KEY_STEP_FAST_PX`]).
pub const KEY_STEP_PX: f64 = 3.0;
pub const KEY_STEP_FAST_PX: f64 = 10.0;

/// Shortest and longest plausible drag.
const MIN_DURATION_MS: u32 = 250;
const MAX_DURATION_MS: u32 = 60_000;
/// A hand moves the piece in at least this many steps.
const MIN_MOVES: usize = 5;
/// No single step covers more than this share of the way to the gap (pointer
/// moves come once per frame; a busy phone's frames can be 100 ms apart).
const MAX_STEP_SHARE: f64 = 0.5;
/// The fastest third of the drag is at least this much faster than the slowest.
const MIN_SPEED_RATIO: f64 = 1.4;

/// One sample of the drag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub at_ms: u32,
    pub x: f64,
}

/// A drag being recorded (client) or read back (server).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DragPath {
    points: Vec<Point>,
}

/// What the server makes of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    Passed,
    /// Not text of the form above, or implausible numbers.
    Malformed,
    /// Let go away from the gap.
    Missed,
    /// Ended in the gap, but not the way a person moves.
    Scripted,
}

impl DragPath {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Records the piece at `x` at `at_ms`. Once full, every second point is
    /// dropped: a long drag keeps its shape at half the resolution.
    pub fn record(&mut self, at_ms: u32, x: f64) {
        if self.points.len() >= MAX_POINTS {
            let mut index = 0;
            self.points.retain(|_| {
                index += 1;
                index % 2 == 1
            });
        }
        self.points.push(Point { at_ms, x });
    }

    /// The answer text.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(self.points.len() * 10);
        for (index, point) in self.points.iter().enumerate() {
            if index > 0 {
                text.push(';');
            }
            // Tenths written with integers: float formatting would add tens
            // of kilobytes to the shoppers' WASM for this one line.
            let tenths = (point.x * 10.0).round() as i64;
            let sign = if tenths < 0 { "-" } else { "" };
            let tenths = tenths.unsigned_abs();
            text.push_str(&format!(
                "{}:{sign}{}.{}",
                point.at_ms,
                tenths / 10,
                tenths % 10
            ));
        }
        text
    }

    /// Reads an answer text back; `None` unless every point is well formed, in
    /// time order, and there are at most [`MAX_POINTS`].
    pub fn parse(text: &str) -> Option<Self> {
        let mut points = Vec::new();
        for pair in text.trim().split(';') {
            if points.len() >= MAX_POINTS {
                return None;
            }
            let (at_ms, x) = pair.split_once(':')?;
            let point = Point {
                at_ms: at_ms.trim().parse().ok()?,
                x: x.trim().parse().ok().filter(|x: &f64| x.is_finite())?,
            };
            if points
                .last()
                .is_some_and(|last: &Point| last.at_ms > point.at_ms)
            {
                return None;
            }
            points.push(point);
        }
        Some(Self { points })
    }

    /// How long the drag took, by its own timestamps (0 for no points).
    pub fn duration_ms(&self) -> u32 {
        match (self.points.first(), self.points.last()) {
            (Some(first), Some(last)) => last.at_ms.saturating_sub(first.at_ms),
            _ => 0,
        }
    }

    /// Whether this path puts the piece into a gap at `gap_x` the way a person
    /// does. Never panics, whatever the text was.
    pub fn judge(&self, gap_x: f64) -> Judgement {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return Judgement::Malformed;
        };
        if first.x.abs() > TOLERANCE_PX || gap_x <= 0.0 {
            return Judgement::Malformed;
        }
        if (last.x - gap_x).abs() > TOLERANCE_PX {
            return Judgement::Missed;
        }
        if !(MIN_DURATION_MS..=MAX_DURATION_MS).contains(&self.duration_ms()) {
            return Judgement::Scripted;
        }
        let steps: Vec<f64> = self
            .points
            .windows(2)
            .map(|pair| (pair[1].x - pair[0].x).abs())
            .filter(|step| *step > 0.0)
            .collect();
        let largest = steps.iter().copied().fold(0.0, f64::max);
        if steps.len() < MIN_MOVES || largest > MAX_STEP_SHARE * gap_x {
            return Judgement::Scripted;
        }
        if self.speed_ratio_of_thirds() < MIN_SPEED_RATIO {
            return Judgement::Scripted;
        }
        Judgement::Passed
    }

    /// The speed of the fastest third of the piece's moving time over the
    /// slowest one (infinite when it rested for a whole third in between).
    /// About 1 for a drag at constant speed, also one that then waits before
    /// letting go (rests before the first and after the last move do not
    /// count); a hand that speeds up and slows down scores well above.
    fn speed_ratio_of_thirds(&self) -> f64 {
        let moves = self
            .points
            .windows(2)
            .enumerate()
            .filter(|(_, pair)| pair[1].x != pair[0].x);
        let mut first_move = None;
        let mut last_move = None;
        for (index, _) in moves {
            first_move.get_or_insert(index);
            last_move = Some(index + 1);
        }
        let (Some(first), Some(last)) = (first_move, last_move) else {
            return 1.0;
        };
        let start = f64::from(self.points[first].at_ms);
        let end = f64::from(self.points[last].at_ms);
        let third = (end - start) / 3.0;
        if third <= 0.0 {
            return 1.0;
        }
        let at = |k: f64| self.x_at(start + k * third);
        let speeds = [
            (at(1.0) - at(0.0)).abs(),
            (at(2.0) - at(1.0)).abs(),
            (at(3.0) - at(2.0)).abs(),
        ];
        let fastest = speeds.iter().copied().fold(0.0, f64::max);
        let slowest = speeds.iter().copied().fold(f64::INFINITY, f64::min);
        if slowest == 0.0 {
            f64::INFINITY
        } else {
            fastest / slowest
        }
    }

    /// Where the piece was at `at_ms`, between the samples around it.
    fn x_at(&self, at_ms: f64) -> f64 {
        let after = self
            .points
            .iter()
            .position(|point| f64::from(point.at_ms) >= at_ms)
            .unwrap_or(self.points.len() - 1);
        if after == 0 {
            return self.points[0].x;
        }
        let (a, b) = (self.points[after - 1], self.points[after]);
        let span = f64::from(b.at_ms - a.at_ms);
        if span == 0.0 {
            return b.x;
        }
        a.x + (b.x - a.x) * (at_ms - f64::from(a.at_ms)) / span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: f64 = 180.0;

    /// A drag from 0 to `to` over `ms`, sampled every 16 ms, along `shape`
    /// (a function from elapsed share to travelled share).
    fn drag(to: f64, ms: u32, shape: impl Fn(f64) -> f64) -> DragPath {
        let mut path = DragPath::new();
        let mut at = 0;
        while at < ms {
            path.record(at, to * shape(f64::from(at) / f64::from(ms)));
            at += 16;
        }
        path.record(ms, to);
        path
    }

    fn smoothstep(t: f64) -> f64 {
        t * t * (3.0 - 2.0 * t)
    }

    #[test]
    fn a_hand_that_speeds_up_and_slows_into_the_gap_passes() {
        assert_eq!(drag(GAP, 900, smoothstep).judge(GAP), Judgement::Passed);
        assert_eq!(
            drag(GAP + 4.0, 1_400, smoothstep).judge(GAP),
            Judgement::Passed,
            "a few pixels off is close enough"
        );
    }

    #[test]
    fn a_drag_at_constant_speed_is_refused_however_slow() {
        for ms in [300, 900, 3_000] {
            assert_eq!(
                drag(GAP, ms, |t| t).judge(GAP),
                Judgement::Scripted,
                "{ms} ms"
            );
        }
    }

    #[test]
    fn a_constant_drag_that_then_waits_before_letting_go_is_refused() {
        let mut path = drag(GAP, 900, |t| t);
        path.record(2_000, GAP);
        assert_eq!(path.judge(GAP), Judgement::Scripted);
    }

    #[test]
    fn one_jump_into_the_gap_is_refused() {
        let mut path = DragPath::new();
        path.record(0, 0.0);
        path.record(600, GAP);
        assert_eq!(path.judge(GAP), Judgement::Scripted);
    }

    #[test]
    fn a_piece_let_go_beside_the_gap_misses() {
        assert_eq!(
            drag(GAP - 20.0, 900, smoothstep).judge(GAP),
            Judgement::Missed
        );
    }

    #[test]
    fn arrow_keys_held_down_pass_after_the_repeat_delay() {
        // One press, the keyboard's 500 ms repeat delay, then a repeat every 33 ms.
        let mut path = DragPath::new();
        path.record(0, 0.0);
        let (mut at, mut x) = (0, 0.0);
        x += KEY_STEP_PX;
        path.record(at, x);
        at += 500;
        while x + KEY_STEP_PX <= GAP {
            x += KEY_STEP_PX;
            path.record(at, x);
            at += 33;
        }
        assert_eq!(path.judge(GAP), Judgement::Passed);
    }

    #[test]
    fn positions_are_written_to_a_tenth_of_a_pixel() {
        let mut path = DragPath::new();
        path.record(0, -0.04);
        path.record(16, -1.25);
        path.record(40, 181.96);
        assert_eq!(path.encode(), "0:0.0;16:-1.3;40:182.0");
    }

    #[test]
    fn the_text_round_trips_and_garbage_is_malformed() {
        let path = drag(GAP, 900, smoothstep);
        assert_eq!(
            DragPath::parse(&path.encode()).unwrap().judge(GAP),
            Judgement::Passed
        );
        for garbage in ["", "zzzzz", "10:1;5:2", "0:NaN;300:180", "0:1:2"] {
            let judged =
                DragPath::parse(garbage).map_or(Judgement::Malformed, |path| path.judge(GAP));
            assert_eq!(judged, Judgement::Malformed, "{garbage:?}");
        }
        let too_long = vec!["0:0"; MAX_POINTS + 1].join(";");
        assert_eq!(DragPath::parse(&too_long), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_judged_without_panicking(text in ".{0,200}", gap in -10.0..400.0_f64) {
            let _ = DragPath::parse(&text).map(|path| path.judge(gap));
        }

        #[test]
        fn any_numbers_are_judged_without_panicking(
            points in proptest::collection::vec((0u32..u32::MAX, -1e9..1e9_f64), 0..50),
            gap in 0.0..400.0_f64,
        ) {
            let mut at = 0u32;
            let text: Vec<String> = points
                .iter()
                .map(|(step, x)| {
                    at = at.saturating_add(step % 5_000);
                    format!("{at}:{x}")
                })
                .collect();
            let _ = DragPath::parse(&text.join(";")).map(|path| path.judge(gap));
        }
    }

    #[test]
    fn a_long_drag_is_thinned_under_the_cap_and_still_judged_by_its_shape() {
        let path = drag(GAP, 20_000, smoothstep);
        assert!(path.points().len() <= MAX_POINTS);
        assert_eq!(path.points().last().map(|point| point.x), Some(GAP));
        assert_eq!(
            DragPath::parse(&path.encode()).unwrap().judge(GAP),
            Judgement::Passed
        );
    }
}
