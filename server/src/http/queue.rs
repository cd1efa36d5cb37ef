//! The waiting room of a `queue` sale: joining the line, where a shopper
//! stands, the published draw, and the gate the CAPTCHA and ticket routes pass
//! (only admitted shoppers of a queue sale get a challenge or a ticket).
//!
//! A poll that carries the shopper's entry cookie is answered from memory:
//! the signed entry and the board (read from Redis at most four times a second
//! per instance and sale). Joining is one constant-time script on the
//! account's shard of the line, never on the sale's own slot.

use std::sync::Arc;

use app::api::{AdmissionMode, ErrorCode, QueueStanding, Sale, SaleDraw};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::{ClientIp, CurrentUser};
use super::state::AppState;
use crate::accounts::sessions::Session;
use crate::guards::rate_limit::address_bucket;
use crate::queue::board::{Admission, Board, Entry, Phase};
use crate::queue::leader::KEEP_AFTER_END_MS;
use crate::queue::token;
use crate::sales::id::SaleId;

/// `/api/sales/{id}/queue` and `/api/sales/{id}/draw`.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(join, standing))
        .routes(routes!(draw))
        .routes(routes!(entrants))
}

/// The sale, if it is a queue sale.
pub(crate) async fn queue_sale(state: &AppState, sale_id: i64) -> Result<Sale, ApiError> {
    let sale = state
        .catalog
        .cached_sale(sale_id)
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    if sale.admission != AdmissionMode::Queue {
        return Err(ApiError::refused(
            ErrorCode::NotFound,
            "this sale has no waiting room: it is first come, first served",
        ));
    }
    Ok(sale)
}

/// The line's board and the shopper's entry: from the cookie when it is ours
/// and the board trusts it, else from Redis (then `fresh` says the cookie
/// should be written again). With `rejoin` (the client's address), an entry
/// the cookie proves but Redis lost is written back with its join time.
async fn board_and_entry(
    state: &AppState,
    sale: &Sale,
    user_id: i64,
    headers: &HeaderMap,
    rejoin: Option<&str>,
) -> Result<(Arc<Board>, Option<Entry>, bool), ApiError> {
    let board = state.lines.board(sale.id).await?;
    let carried = token::from_headers(headers, sale.id)
        .and_then(|token| state.lines.signer().verify(&token, sale.id, user_id));
    if let Some(entry) = carried.filter(|entry| board.trusts(entry)) {
        return Ok((board, Some(entry), false));
    }
    let entry = match (state.lines.entry(sale.id, user_id).await?, carried, rejoin) {
        (Some(entry), _, _) => Some(entry),
        (None, Some(lost), Some(address)) => {
            Some(join_line(state, sale, user_id, address, Some(lost)).await?)
        }
        (None, _, _) => None,
    };
    Ok((board, entry, true))
}

/// Puts the account in line (`line_join.lua`), at its earlier join time when
/// `lost` (a signed entry Redis no longer has) says when that was.
async fn join_line(
    state: &AppState,
    sale: &Sale,
    user_id: i64,
    address: &str,
    lost: Option<Entry>,
) -> Result<Entry, ApiError> {
    let keep_until = sale.ends_at_ms + KEEP_AFTER_END_MS;
    let (entry, _) = state
        .lines
        .join(
            sale.id,
            user_id,
            sale.starts_at_ms,
            keep_until,
            address,
            lost.map(|entry| entry.joined_ms),
        )
        .await?;
    Ok(entry)
}

/// The answer, with the entry's cookie when it was (re)read.
fn reply(
    state: &AppState,
    sale: &Sale,
    entry: Option<&Entry>,
    fresh: bool,
    standing: QueueStanding,
    now: i64,
) -> Response {
    let mut response = ([(CACHE_CONTROL, "no-store")], Json(standing)).into_response();
    if let (Some(entry), true) = (entry, fresh) {
        let token = state.lines.signer().issue(sale.id, entry);
        let max_age = (sale.ends_at_ms + 24 * 3600 * 1000 - now) / 1000;
        if let Ok(value) = token::set_cookie(sale.id, &token, max_age, state.cookies.secure).parse()
        {
            response.headers_mut().insert(SET_COOKIE, value);
        }
    }
    response
}

/// The sale's rules that apply to joining: the line open, the sale not over,
/// not paused, the account old enough.
fn check_joinable(sale: &Sale, user: &Session, phase: Phase, now: i64) -> Result<(), ApiError> {
    let opens = sale.queue_opens_at_ms.unwrap_or(sale.starts_at_ms);
    if now < opens {
        return Err(ApiError::refused(
            ErrorCode::NotStarted,
            "the line has not opened yet: see the sale's queue_opens_at_ms",
        ));
    }
    if now >= sale.ends_at_ms || phase == Phase::Ended {
        return Err(ErrorCode::Ended.into());
    }
    if phase == Phase::SoldOut {
        return Err(ApiError::refused(
            ErrorCode::SoldOut,
            "every unit is sold and none can come back",
        ));
    }
    if sale.paused {
        return Err(ErrorCode::Paused.into());
    }
    super::sale_rules::check_eligible(sale, user, now)
}

/// `POST /api/sales/{id}/queue`: joins the line once. Joining again answers
/// the same entry.
#[utoipa::path(
    post,
    path = "/api/sales/{id}/queue",
    operation_id = "join_queue",
    tag = "queue",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "in line (the same entry when joined before); sets the entry cookie", body = app::api::QueueStanding),
        refusals::OnOneThing,
        refusals::SaleNotOpen,
        refusals::Unavailable,
    )
)]
async fn join(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ClientIp(address): ClientIp,
    sale_id: SaleId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sale = queue_sale(&state, sale_id.get()).await?;
    let now = state.clock.now_ms();
    let address = address_bucket(address);
    let (board, entry, fresh) =
        board_and_entry(&state, &sale, user.user_id, &headers, Some(&address)).await?;
    let (entry, fresh) = match entry {
        Some(entry) => (entry, fresh),
        None => {
            check_joinable(&sale, &user, board.phase, now)?;
            (
                join_line(&state, &sale, user.user_id, &address, None).await?,
                true,
            )
        }
    };
    let standing = board.standing(&sale, Some(&entry), now);
    Ok(reply(&state, &sale, Some(&entry), fresh, standing, now))
}

/// `GET /api/sales/{id}/queue`: where the shopper stands; `poll_after_ms` says
/// when to ask again.
#[utoipa::path(
    get,
    path = "/api/sales/{id}/queue",
    operation_id = "queue_standing",
    tag = "queue",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    security(("session" = [])),
    responses(
        (status = 200, description = "the shopper's place (no-store)", body = app::api::QueueStanding),
        refusals::OnOneThing,
        refusals::Unavailable,
    )
)]
async fn standing(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ClientIp(address): ClientIp,
    sale_id: SaleId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sale = queue_sale(&state, sale_id.get()).await?;
    let now = state.clock.now_ms();
    let address = address_bucket(address);
    let (board, entry, fresh) =
        board_and_entry(&state, &sale, user.user_id, &headers, Some(&address)).await?;
    let standing = board.standing(&sale, entry.as_ref(), now);
    Ok(reply(&state, &sale, entry.as_ref(), fresh, standing, now))
}

/// `GET /api/sales/{id}/draw`: the commitment, and after the start the values
/// that placed everyone who joined before it.
#[utoipa::path(
    get,
    path = "/api/sales/{id}/draw",
    operation_id = "sale_draw",
    tag = "queue",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    responses(
        (status = 200, description = "the draw (public)", body = app::api::SaleDraw),
        refusals::Malformed,
        refusals::NotFound,
        refusals::Unavailable,
    )
)]
async fn draw(State(state): State<AppState>, sale_id: SaleId) -> Result<Json<SaleDraw>, ApiError> {
    let sale = queue_sale(&state, sale_id.get()).await?;
    let board = state.lines.board(sale.id).await?;
    Ok(Json(
        state.lines.published_draw(sale.id, board.before).await?,
    ))
}

/// `GET /api/sales/{id}/draw/entrants`: the pre-start entrants as the draw
/// hashed them (one user id per line, ascending), once drawn.
#[utoipa::path(
    get,
    path = "/api/sales/{id}/draw/entrants",
    operation_id = "sale_draw_entrants",
    tag = "queue",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    responses(
        (status = 200, description = "the entrants (text/plain; immutable)", body = String, content_type = "text/plain"),
        refusals::Malformed,
        refusals::NotFound,
        refusals::NotStarted,
        refusals::Unavailable,
    )
)]
async fn entrants(State(state): State<AppState>, sale_id: SaleId) -> Result<Response, ApiError> {
    let sale = queue_sale(&state, sale_id.get()).await?;
    let Some(text) = state.lines.entrants(sale.id).await? else {
        return Err(ApiError::refused(
            ErrorCode::NotStarted,
            "the draw is made at the start",
        ));
    };
    Ok((
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        text.as_str().to_owned(),
    )
        .into_response())
}

/// The gate of the CAPTCHA and ticket routes: a queue sale's shopper must be
/// admitted. `Ok(None)` for a race sale; for an admitted shopper, the batch
/// and the end of the admission.
pub(crate) async fn admitted(
    state: &AppState,
    sale: &Sale,
    user_id: i64,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<(i64, i64)>, ApiError> {
    if sale.admission != AdmissionMode::Queue {
        return Ok(None);
    }
    let (board, entry, _) = board_and_entry(state, sale, user_id, headers, None).await?;
    let Some(entry) = entry else {
        return Err(ApiError::refused(
            ErrorCode::NotAdmitted,
            "join the line first: POST /api/sales/{id}/queue",
        ));
    };
    let Some(place) = entry.place() else {
        return Err(ApiError::refused(
            ErrorCode::NotAdmitted,
            "the draw has not placed you yet",
        ));
    };
    match board.admission(place, now) {
        Admission::Admitted { batch, until_ms } => Ok(Some((batch, until_ms))),
        Admission::Waiting => Err(ApiError::refused(
            ErrorCode::NotAdmitted,
            format!(
                "not your turn yet: about {} ahead of you",
                board.ahead(&entry)
            ),
        )),
        Admission::Lapsed => Err(ApiError::refused(
            ErrorCode::NotAdmitted,
            "your turn passed: the admission lapsed unused",
        )),
    }
}
