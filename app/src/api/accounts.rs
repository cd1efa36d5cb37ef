//! Registering, logging in, and who is logged in.

use serde::{Deserialize, Serialize};

/// `POST /api/auth/register` and `/login`.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// 3 to 32 letters, digits, `_`, `.` or `-`.
    #[cfg_attr(
        feature = "ssr",
        schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_.-]+$")
    )]
    pub username: String,
    /// 8 to 128 characters.
    #[cfg_attr(feature = "ssr", schema(min_length = 8, max_length = 128))]
    pub password: String,
    /// Registration while it is busy: the `challenge` of a
    /// `RegistrationChallenge` (ignored otherwise, and by log-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 200))]
    pub challenge: Option<String>,
    /// The decimal nonce that solves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(max_length = 20))]
    pub nonce: Option<String>,
}

/// `POST /api/auth/register/challenge`: the work a registration needs now —
/// none (`difficulty_bits` 0) while registration is quiet. Solve as a `pow`
/// CAPTCHA: a decimal nonce such that SHA-256 of `salt` followed by the nonce
/// starts with `difficulty_bits` zero bits; send `challenge` and `nonce` with
/// the credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegistrationChallenge {
    pub challenge: String,
    pub salt: String,
    pub difficulty_bits: u32,
    /// `sha256`.
    pub algorithm: String,
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// Who is logged in (`/api/auth/me`, login and register answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Account {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
}

/// Who is logged in, if anyone (`GET /api/auth/session`): a visitor is an
/// answer here, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    /// `null` for a visitor (no cookie, or one the server does not know).
    pub account: Option<Account>,
}
