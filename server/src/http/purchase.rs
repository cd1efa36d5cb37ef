//! The hot path of a sale: CAPTCHA challenge → ticket (the dynamic buy URL) → buy.
//!
//! The buy route does, in order: an admission slot (else 503 `busy`), the session
//! (kept in memory, see `accounts::sessions`), the ticket (HMAC, in memory), the
//! local sold-out flag (410 without the reserve; only a buyer who held units
//! when the sale sold out has the ticket looked up, so a retried buy that won
//! gets its order back), then the one Lua reserve
//! call, which also charges the rate buckets and records the ticket so a retry
//! is answered with the same order. One Redis round trip, no SQL.

use app::api::{
    BuyAccepted, CaptchaChallenge, CaptchaKind, ErrorCode, OrderStatus, TicketGrant, TicketRequest,
};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::refusals;
use super::error::ApiError;
use super::extract::{ApiJson, ClientIp, CurrentUser};
use super::sale_rules::{check_eligible, open_sale};
use super::state::{AppState, Services};
use crate::accounts::sessions::token_from;
use crate::guards::captcha::{Standing, Verdict};
use crate::guards::rate_limit::{retry_after_secs, RateLimiter};
use crate::guards::sold_out::{ForBuyer, HOLDERS_READ_AT_MOST};
use crate::guards::tickets::{TicketParts, TicketSigner, TICKET_TTL_MS};
use crate::orders::id::OrderId;
use crate::sales::id::SaleId;
use crate::sales::stock::Reservation;

/// The hot path: `/api/sales/{id}/captcha`, `/ticket` and the dynamic buy URL.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(captcha))
        .routes(routes!(ticket))
        .routes(routes!(buy))
}

/// `POST /api/sales/{id}/captcha`: a challenge, only once the sale is open.
/// `?instead=pow` asks for the accessible alternative to a puzzle (a harder
/// proof of work, see [`crate::guards::captcha::Captchas::issue_alternative`]).
#[utoipa::path(
    post,
    path = "/api/sales/{id}/captcha",
    operation_id = "new_challenge",
    tag = "purchase",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id"), ("instead" = Option<String>, Query, pattern = "^pow$", description = "`pow`: a proof of work instead of a sale's puzzle")),
    security(("session" = [])),
    responses(
        (status = 200, description = "a challenge", body = app::api::CaptchaChallenge),
        refusals::OnOneThing,
        refusals::SaleNotOpen,
        refusals::RateLimited,
        refusals::Unavailable,
    )
)]
async fn captcha(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    CurrentUser(user): CurrentUser,
    sale_id: SaleId,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<CaptchaChallenge>, ApiError> {
    // `instead=pow` asks for the alternative; other keys (a cache-buster, a
    // tracking tag) are none of this route's business.
    let mut alternative = false;
    for pair in query.iter().flat_map(|query| query.split('&')) {
        match pair.split_once('=') {
            Some(("instead", "pow")) => alternative = true,
            Some(("instead", _)) => {
                return Err(ApiError::bad_request("`instead` takes one value: `pow`"))
            }
            _ => {}
        }
    }
    let Services {
        catalog,
        captchas,
        clock,
        rate_limiter,
        sold_out: sold_out_flags,
        ..
    } = &*state;
    let sale_id = sale_id.get();
    let now = clock.now_ms();
    let sale = open_sale(catalog, sale_id, now).await?;
    // Who may not buy is refused before the shared buckets are charged: fresh
    // accounts on an age-limited sale cannot drain the sale's bucket for
    // everyone (#25), nor anyone a sold-out sale's.
    if sold_out_flags.is_sold_out(sale_id, now) {
        return Err(ErrorCode::SoldOut.into());
    }
    check_eligible(&sale, &user, now)?;
    // A queue sale's challenges are for those let in, before anything is charged.
    super::queue::admitted(&state, &sale, user.user_id, &headers, now).await?;
    // An account's own allowance of challenges, before the shared buckets: one
    // account cannot keep drawing puzzles (or blind guesses) all sale long.
    let standing = if sale.captcha == CaptchaKind::None {
        Standing::default()
    } else {
        captchas.standing(sale_id, user.user_id).await?
    };
    if standing.issued >= captchas.per_account() {
        return Err(ApiError::refused(
            ErrorCode::LimitReached,
            format!(
                "this account was given {} challenges of this sale, all it may",
                standing.issued
            ),
        ));
    }
    limit(rate_limiter, sale_id, user.user_id, ip).await?;
    let challenge = if alternative {
        captchas
            .issue_alternative(sale.captcha, sale_id, user.user_id, standing, now)
            .await?
    } else {
        captchas
            .issue(sale.captcha, sale_id, user.user_id, standing, now)
            .await?
    };
    Ok(Json(challenge))
}

/// `POST /api/sales/{id}/ticket`: a solved CAPTCHA for the buy path.
#[utoipa::path(
    post,
    path = "/api/sales/{id}/ticket",
    operation_id = "new_ticket",
    tag = "purchase",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id")),
    request_body = app::api::TicketRequest,
    security(("session" = [])),
    responses(
        (status = 200, description = "the buy path, valid until expires_at_ms", body = app::api::TicketGrant),
        refusals::OnOneThing,
        refusals::SaleNotOpen,
        refusals::Invalid,
        refusals::RateLimited,
        refusals::Unavailable,
    )
)]
async fn ticket(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    CurrentUser(user): CurrentUser,
    sale_id: SaleId,
    headers: HeaderMap,
    ApiJson(request): ApiJson<TicketRequest>,
) -> Result<Json<TicketGrant>, ApiError> {
    let sale_id = sale_id.get();
    let Services {
        catalog,
        captchas,
        tickets,
        sold_out: sold_out_flags,
        clock,
        ..
    } = &*state;
    let now = clock.now_ms();
    let sale = open_sale(catalog, sale_id, now).await?;
    if sold_out_flags.is_sold_out(sale_id, now) {
        return Err(ErrorCode::SoldOut.into());
    }
    check_eligible(&sale, &user, now)?;
    let admitted = super::queue::admitted(&state, &sale, user.user_id, &headers, now).await?;
    limit(&state.rate_limiter, sale_id, user.user_id, ip).await?;
    match captchas
        .check(
            sale.captcha,
            (sale_id, user.user_id),
            &request.captcha_id,
            &request.answer,
            now,
        )
        .await?
    {
        Verdict::Passed => {}
        refused => {
            return Err(ApiError::refused(
                ErrorCode::CaptchaFailed,
                refused.message(),
            ))
        }
    }
    let (expires_at_ms, ticket) = match admitted {
        None => {
            let expires_at_ms = now + TICKET_TTL_MS;
            (
                expires_at_ms,
                tickets.issue(sale_id, user.user_id, expires_at_ms),
            )
        }
        // An admitted shopper's ticket ends with the admission at the latest.
        Some((batch, until_ms)) => {
            let expires_at_ms = (now + TICKET_TTL_MS).min(until_ms);
            (
                expires_at_ms,
                tickets.issue_admitted(sale_id, user.user_id, expires_at_ms, batch),
            )
        }
    };
    Ok(Json(TicketGrant {
        buy_path: format!("/api/sales/{sale_id}/buy/{ticket}"),
        expires_at_ms,
    }))
}

/// 429 `rate_limited` with `Retry-After` when a bucket is empty.
async fn limit(
    limiter: &RateLimiter,
    sale_id: i64,
    user_id: i64,
    ip: std::net::IpAddr,
) -> Result<(), ApiError> {
    match limiter.check(sale_id, user_id, ip).await? {
        None => Ok(()),
        Some(wait_secs) => Err(ApiError::retry_later(ErrorCode::RateLimited, wait_secs)),
    }
}

/// `POST /api/sales/{id}/buy/{ticket}`: the reserve. 202 with the order id to poll.
#[utoipa::path(
    post,
    path = "/api/sales/{id}/buy/{ticket}",
    operation_id = "buy",
    tag = "purchase",
    params(("id" = i64, Path, minimum = 1, description = "the sale's id"), ("ticket" = String, Path, description = "the ticket of the buy path")),
    security(("session" = [])),
    responses(
        (status = 202, description = "reserved; the order is being saved", body = app::api::BuyAccepted),
        refusals::OnOneThing,
        refusals::SaleNotOpen,
        refusals::RateLimited,
        refusals::Unavailable,
    )
)]
async fn buy(
    State(state): State<AppState>,
    Path((raw_sale_id, ticket)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    // Only a sale id vouched for (by a valid ticket or a sold-out flag) becomes a
    // metric label: a flood of made-up ids must not create a flood of series.
    let mut vouched_sale = None;
    let result = buy_inner(&state, &raw_sale_id, &ticket, &headers, &mut vouched_sale).await;
    let refusal = result.as_ref().err().map(ApiError::code);
    state
        .metrics
        .record_purchase(vouched_sale.unwrap_or(0), refusal);
    if let Some(sale_id) = vouched_sale {
        state
            .tally
            .count(sale_id, crate::metrics::outcome_label(refusal));
    }
    match result {
        Ok(accepted) => (StatusCode::ACCEPTED, Json(accepted)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn buy_inner(
    state: &AppState,
    raw_sale_id: &str,
    ticket: &str,
    headers: &HeaderMap,
    vouched_sale: &mut Option<i64>,
) -> Result<BuyAccepted, ApiError> {
    let Some(_slot) = state.admission.try_admit() else {
        return Err(ApiError::retry_later(ErrorCode::Busy, 1));
    };
    let sale_id = SaleId::parse(raw_sale_id)
        .map_err(ApiError::bad_request)?
        .get();
    let token = token_from(headers).ok_or_else(ApiError::unauthenticated)?;
    let user = state
        .sessions
        .find(&token)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let now = state.clock.now_ms();
    state
        .tickets
        .verify(ticket, sale_id, user.user_id, now)
        .map_err(|error| ApiError::refused(ErrorCode::BadTicket, error.to_string()))?;
    *vouched_sale = Some(sale_id);
    let Some(TicketParts {
        expires_ms,
        batch,
        tag,
    }) = TicketSigner::parts(ticket)
    else {
        return Err(ApiError::bad_request("the ticket is malformed"));
    };
    match state.sold_out.for_buyer(sale_id, Some(user.user_id), now) {
        ForBuyer::Open => {}
        ForBuyer::SoldOut => return Err(ErrorCode::SoldOut.into()),
        // A retry of a buy that won (its answer lost) still gets its order back.
        ForBuyer::MaybeWon => {
            return match state.stock.ticket_order(sale_id, tag).await? {
                Some(order_id) => Ok(queued(order_id)),
                None => Err(ErrorCode::SoldOut.into()),
            }
        }
    }
    let order_id = OrderId::new(sale_id);
    let reserve = || {
        state.stock.reserve(
            sale_id,
            user.user_id,
            order_id.as_str(),
            1,
            (tag, expires_ms - now),
            state.rate_limiter.buy_rates(),
            batch,
        )
    };
    let mut reservation = reserve().await?;
    if reservation == Reservation::UnknownSale {
        // Redis lost the sale (it restarted empty): rebuild it from Postgres
        // (once, whichever instance is first) and try again.
        if let Some(sale) = state.catalog.cached_sale(sale_id).await? {
            state.catalog.rebuild(&sale).await?;
            reservation = reserve().await?;
        }
    }
    match reservation {
        // This shopper's next status, here, shows the unit gone.
        Reservation::Reserved { .. } => state.catalog.stock_changed(sale_id).await,
        Reservation::SoldOut => {
            if let Some(read) = state.sold_out.mark_sold_out(sale_id, now) {
                let holders = state.stock.holders(sale_id, HOLDERS_READ_AT_MOST).await;
                state.sold_out.know_holders(read, holders.ok().flatten());
            }
        }
        _ => {}
    }
    answer(reservation, order_id)
}

/// A wait as people say it: `4 min 30 s`, `45 s`.
fn minutes_and_seconds(secs: u64) -> String {
    match (secs / 60, secs % 60) {
        (0, seconds) => format!("{seconds} s"),
        (minutes, 0) => format!("{minutes} min"),
        (minutes, seconds) => format!("{minutes} min {seconds} s"),
    }
}

/// The 202 body: the order to poll.
fn queued(order_id: String) -> BuyAccepted {
    BuyAccepted {
        order_id,
        status: OrderStatus::Queued,
    }
}

/// Maps the reserve's verdict to the API's answers.
fn answer(reservation: Reservation, order_id: OrderId) -> Result<BuyAccepted, ApiError> {
    match reservation {
        Reservation::Reserved { .. } => Ok(queued(order_id.to_string())),
        Reservation::Again { order_id } => Ok(queued(order_id)),
        Reservation::RateLimited { wait_us } => Err(ApiError::retry_later(
            ErrorCode::RateLimited,
            retry_after_secs(wait_us),
        )),
        Reservation::CoolingDown { wait_ms } => {
            let secs = retry_after_secs(wait_ms.max(1).unsigned_abs() * 1000);
            Err(ApiError::retry_later_because(
                ErrorCode::RateLimited,
                secs,
                format!(
                    "your last order of this sale lapsed or was cancelled: \
                     you may reserve it again in {}",
                    minutes_and_seconds(secs)
                ),
            ))
        }
        Reservation::ReservationsUsed { made } => Err(ApiError::refused(
            ErrorCode::LimitReached,
            format!("this account has reserved this sale {made} times, all it may"),
        )),
        Reservation::SoldOut => Err(ErrorCode::SoldOut.into()),
        Reservation::LimitReached => Err(ErrorCode::LimitReached.into()),
        Reservation::NotStarted => Err(ErrorCode::NotStarted.into()),
        Reservation::Ended => Err(ErrorCode::Ended.into()),
        Reservation::Paused => Err(ErrorCode::Paused.into()),
        Reservation::UnknownSale => Err(ApiError::not_found("sale")),
    }
}
