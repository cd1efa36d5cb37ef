//! The hot path: the challenge, the ticket request and grant, the accepted buy.

use serde::{Deserialize, Serialize};

use super::{CaptchaKind, OrderStatus};

/// A CAPTCHA challenge (`POST /api/sales/{id}/captcha`). Which optional fields are
/// present depends on `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CaptchaChallenge {
    pub captcha_id: String,
    pub kind: CaptchaKind,
    /// `image`: a data URL (PNG) of the picture with a gap in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `image`: the piece to slide into the gap; the answer is the drag path
    /// (see the ticket request's `answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub puzzle: Option<SlidePuzzle>,
    /// `pow`: find a nonce so that SHA-256 of the salt's text followed by the
    /// nonce in decimal digits has `difficulty_bits` leading zero bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty_bits: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    pub expires_at_ms: i64,
}

/// The moving part of an `image` challenge: a piece that slides horizontally
/// over the picture at `piece_top`, starting at its left edge. All sizes are
/// picture pixels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SlidePuzzle {
    /// A data URL (PNG with transparency) of the piece.
    pub piece: String,
    pub piece_top: u32,
    pub piece_width: u32,
    pub piece_height: u32,
    /// The picture's size.
    pub width: u32,
    pub height: u32,
}

/// `POST /api/sales/{id}/ticket`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TicketRequest {
    /// The challenge's `captcha_id` (empty for a `none` sale).
    #[serde(default)]
    pub captcha_id: String,
    /// `pow`: the nonce in decimal digits. `image` (the sliding puzzle): the drag
    /// path, `at_ms:x` pairs joined by `;` — milliseconds since the first touch
    /// and the piece's left edge in picture pixels, e.g. `0:0;120:35;260:118`;
    /// it passes when it ends within 6 px of the gap and moved like a hand
    /// (several steps, no jump over half the way, not one constant speed, 250 ms
    /// to 60 s). `none`: empty.
    #[serde(default)]
    pub answer: String,
}

/// The dynamic order URL and until when it works.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TicketGrant {
    pub buy_path: String,
    pub expires_at_ms: i64,
}

/// `202` answer of the buy path: the order id to poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BuyAccepted {
    pub order_id: String,
    pub status: OrderStatus,
}
