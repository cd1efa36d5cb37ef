//! The waiting room of a `queue` sale (docs/API.md "Waiting room"): where a
//! shopper stands in the line, and the published draw that ordered it.

use serde::{Deserialize, Serialize};

/// How a sale's shoppers reach the buy button.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AdmissionMode {
    /// First come, first served at the start: whoever reaches the stock first.
    #[default]
    Race,
    /// A waiting room: those who join before the start get a random place at
    /// the start, later ones queue behind them, and shoppers are let in at the
    /// pace the sale can serve.
    Queue,
}

impl AdmissionMode {
    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionMode::Race => "race",
            AdmissionMode::Queue => "queue",
        }
    }

    /// Parses the wire/database name; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "race" => Some(AdmissionMode::Race),
            "queue" => Some(AdmissionMode::Queue),
            _ => None,
        }
    }
}

/// Where a shopper stands in a sale's line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Not in this sale's line.
    NotJoined,
    /// In line, not yet let in.
    Waiting,
    /// Let in: the CAPTCHA, ticket and buy are open until `admitted_until_ms`.
    Admitted,
    /// Every unit is claimed, but some are held by unpaid orders: each one that
    /// comes back lets the next in line in.
    Waitlisted,
    /// Nothing is left and nothing can come back.
    SoldOut,
    /// The sale is over.
    Ended,
    /// This shopper was let in and did not buy in time: the turn passed to the
    /// next in line.
    Lapsed,
}

impl QueueState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::NotJoined => "not_joined",
            QueueState::Waiting => "waiting",
            QueueState::Admitted => "admitted",
            QueueState::Waitlisted => "waitlisted",
            QueueState::SoldOut => "sold_out",
            QueueState::Ended => "ended",
            QueueState::Lapsed => "lapsed",
        }
    }
}

/// `POST` and `GET /api/sales/{id}/queue`: a shopper's place in the line. Every
/// number is an estimate except `place` and `joined_at_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QueueStanding {
    pub state: QueueState,
    /// When this shopper joined (the server's clock); `null` if not joined.
    pub joined_at_ms: Option<i64>,
    /// Whether they joined before the start (a drawn place) or after (behind
    /// every drawn place, first come first served); `null` if not joined.
    pub joined_before_start: Option<bool>,
    /// The drawn place, 1 for the first, for those who joined before the start
    /// once the draw is made; `null` otherwise (later entrants go by `ahead`).
    pub place: Option<u64>,
    /// About how many are in line in front and not yet let in (before the
    /// draw: half of those who joined before the start).
    pub ahead: u64,
    /// Everyone in the line so far (joined before and after the start).
    pub entrants: u64,
    /// An estimate, 0 to 1, of getting a unit from this place: from the units
    /// left (and those that may come back) and how many of those let in buy.
    pub chance: f64,
    /// Do not ask again sooner than this (ms); answers to earlier polls are
    /// the same.
    pub poll_after_ms: u32,
    /// While admitted: the instant (server clock) the admission lapses.
    pub admitted_until_ms: Option<i64>,
    /// Units held by unpaid orders, which may come back (while waitlisted).
    pub may_come_back: i64,
    /// The server's clock when this was answered.
    pub server_time_ms: i64,
}

/// `GET /api/sales/{id}/draw`: the commitment and, after the start, the values
/// that ordered the line, so anyone can recompute every drawn place (README,
/// "Checking the draw"; `method` states the rule).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SaleDraw {
    /// The rule, in words.
    pub method: String,
    /// SHA-256 of the secret (hex), published from the moment the sale exists.
    pub commitment: String,
    /// The secret (hex) whose SHA-256 is `commitment`; empty until the draw.
    pub revealed: String,
    /// SHA-256 (hex) of the list of pre-start entrants; empty until the draw.
    pub entries_digest: String,
    /// SHA-256(secret ‖ entries digest) (hex); empty until the draw.
    pub seed: String,
    /// How many joined before the start (so far, before the draw).
    pub pre_start_entrants: u64,
    /// When the draw was made; `null` before.
    pub drawn_at_ms: Option<i64>,
    /// Where the list of pre-start entrants is (plain text, one user id per
    /// line in ascending order: the bytes `entries_digest` hashes).
    pub entrants_url: String,
}

/// Where a queue sale's line stands as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinePhase {
    /// Before the draw: entries are taken, nobody is let in.
    #[default]
    Gathering,
    /// Shoppers are let in as units are left.
    Admitting,
    /// No unit is left but unpaid orders hold some: each that comes back lets
    /// the next in.
    Waitlisted,
    /// No unit is left and none can come back.
    SoldOut,
    /// The sale is over.
    Ended,
}

impl LinePhase {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinePhase::Gathering => "gathering",
            LinePhase::Admitting => "admitting",
            LinePhase::Waitlisted => "waitlisted",
            LinePhase::SoldOut => "sold_out",
            LinePhase::Ended => "ended",
        }
    }
}

/// Shoppers let in during one second, and how many of them reserved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdmissionSecond {
    /// The second's first instant (server clock, ms).
    pub at_ms: i64,
    pub admitted: u64,
    /// Of them, those who reserved a unit.
    pub bought: u64,
}

/// `GET /api/admin/sales/{id}/line`: a queue sale's line as its leader last
/// wrote it (a few times a second), with every second's admissions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LineLive {
    pub phase: LinePhase,
    /// Accounts that joined before the start (drawn places), and after it.
    pub entrants_before_start: u64,
    pub entrants_after_start: u64,
    /// Shoppers let in so far, and of them those who joined after the start.
    pub admitted: u64,
    pub admitted_after_start: u64,
    /// Admitted shoppers who reserved a unit.
    pub bought: u64,
    /// Admissions that ran out unused.
    pub lapsed: u64,
    /// Admitted shoppers still deciding (let in, not bought, not lapsed).
    pub deciding: u64,
    /// In line and not yet let in.
    pub waiting: u64,
    /// Of those waiting, how many wait on units that may come back (0 unless
    /// `phase` is `waitlisted`).
    pub waitlisted: u64,
    pub stock_left: i64,
    /// Units held by unpaid orders, which may come back.
    pub may_come_back: i64,
    /// How many may be deciding at once now: the window per unit × units left.
    pub window: u64,
    /// Admissions a second over the last ten seconds.
    pub pace_per_s: f64,
    /// Every second in which someone was let in, oldest first.
    pub admissions: Vec<AdmissionSecond>,
    /// When the leader last wrote the line (server clock); `null` before it did.
    pub updated_at_ms: Option<i64>,
}

/// Entrants who joined during a stretch of time, and how many of them got a
/// unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JoinStretch {
    /// The stretch, `[from_ms, to_ms)` on the server's clock (whole seconds).
    pub from_ms: i64,
    pub to_ms: i64,
    /// Whether these joined before the start (drawn) or after it (in arrival
    /// order).
    pub before_start: bool,
    pub entrants: u64,
    /// Of them, accounts that reserved a unit (whatever became of the order).
    pub winners: u64,
}

/// How many accounts joined from one client address (IPv6: its /64).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AddressEntrants {
    pub address: String,
    pub entrants: u64,
}

/// `GET /api/admin/sales/{id}/fairness`: who got the units of a queue sale,
/// by when they joined, with the draw's values and where the crowd came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FairnessReport {
    /// The draw as published (`GET /api/sales/{id}/draw`).
    pub draw: SaleDraw,
    /// Everyone who joined, and the accounts that reserved a unit.
    pub entrants: u64,
    pub winners: u64,
    /// Entrants and winners by when they joined: up to 20 equal stretches
    /// before the start and 10 after it, oldest first. With a fair draw the
    /// share of winners is about the same in every stretch before the start.
    pub by_join_time: Vec<JoinStretch>,
    /// The ten client addresses most accounts joined from, most first.
    pub top_addresses: Vec<AddressEntrants>,
    /// Shoppers let in, those of them who reserved, and those who never did.
    pub admitted: u64,
    pub bought: u64,
    pub never_bought: u64,
}
