//! What one press of the buy button sets going: the challenge, the proof of work
//! in slices (or the puzzle, handed to the shopper), the ticket and the buy (tried again with the same ticket when the
//! answer is lost), and what each refusal means for the button.

use leptos::prelude::*;

use super::Phase;
use crate::api::{BuyAccepted, CaptchaChallenge, CaptchaKind, ErrorCode, TicketRequest};
use crate::client::{self, Reply};
use crate::components::sale_clock::SaleClock;
use crate::endpoints;

/// How often one ticket is tried when answers are lost or the server fails.
const BUY_TRIES: u32 = 3;
/// The shortest pause after a refusal, even without `Retry-After`.
const MIN_COOL_DOWN_MS: f64 = 2_000.0;

/// Which challenge to ask for: the sale's own, or the proof of work offered
/// instead of a puzzle.
pub(super) use crate::endpoints::Challenge as Ask;

/// Challenge, solve, then ticket and buy. A puzzle stops at
/// [`Phase::Sliding`]; the shopper's answer goes on through [`ticket_and_buy`].
/// `go` opens a won order's page.
///
/// Its own WASM chunk with everything it reaches (the proof of work, the
/// ticket and the buy): the page is interactive before it arrives, and the
/// buy panel fetches it right after hydration, long before a shopper's click.
#[leptos::lazy]
pub(super) async fn attempt(
    sale_id: i64,
    kind: CaptchaKind,
    ask: Ask,
    phase: RwSignal<Phase>,
    clock: SaleClock,
    go: Callback<String>,
) {
    attempt_after(sale_id, kind, ask, None, phase, clock, go).await;
}

/// [`attempt`], saying above a new puzzle why the last answer was refused.
async fn attempt_after(
    sale_id: i64,
    kind: CaptchaKind,
    ask: Ask,
    missed: Option<String>,
    phase: RwSignal<Phase>,
    clock: SaleClock,
    go: Callback<String>,
) {
    let (captcha_id, answer) = if kind == CaptchaKind::None {
        (String::new(), String::new())
    } else {
        phase.set(Phase::Challenge);
        let reply = endpoints::challenge(sale_id, ask).await;
        let challenge = match reply {
            Ok(Reply {
                body: Ok(challenge),
                ..
            }) => challenge,
            Ok(refused) => return refuse(&refused, phase, clock),
            Err(_) => return network_trouble(phase),
        };
        match (challenge.kind, &challenge.image, &challenge.puzzle) {
            (CaptchaKind::Image, Some(picture), Some(puzzle)) => {
                phase.set(Phase::Sliding {
                    captcha_id: challenge.captcha_id.clone(),
                    picture: picture.clone(),
                    puzzle: puzzle.clone(),
                    missed,
                });
                return;
            }
            (CaptchaKind::Pow, _, _) => match solve(&challenge, phase).await {
                Some(nonce) => (challenge.captcha_id, nonce.to_string()),
                None => return,
            },
            // A challenge this page cannot show (a newer server): say so.
            _ => {
                return phase.set(Phase::CoolingDown {
                    until_ms: client::device_now_ms() + MIN_COOL_DOWN_MS,
                    message: "This page is out of date. Reload it to go on.".into(),
                })
            }
        }
    };
    // A proof of work is never "missed": the browser solved it. A refusal
    // here is the server's to explain, through the cool-down.
    if let Some(reason) = ticket_and_buy(sale_id, captcha_id, answer, phase, clock, go).await {
        let reason = if reason.is_empty() {
            "That answer was not right. Try a new challenge.".to_owned()
        } else {
            reason
        };
        phase.set(cool_down(reason, None));
    }
}

/// Searches the proof-of-work nonce, showing the progress; stops when the
/// panel is gone.
async fn solve(challenge: &CaptchaChallenge, phase: RwSignal<Phase>) -> Option<u64> {
    let salt = challenge.salt.clone().unwrap_or_default();
    let bits = challenge.difficulty_bits.unwrap_or(0);
    let expected = 1u64 << bits.min(40);
    client::solve_work(&salt, bits, |tried| {
        phase.try_set(Phase::Solving { tried, expected }).is_none()
    })
    .await
}

/// The shopper's answer to a puzzle. A missed one is followed at once by a
/// new puzzle with the reason above it (no cool-down: the shopper did nothing
/// wrong but miss); anything else goes on as for any answer. In the chunk of
/// [`attempt`]'s kind: a puzzle is answered only after an attempt began.
#[leptos::lazy]
pub(super) async fn slid(
    sale_id: i64,
    captcha_id: String,
    answer: String,
    phase: RwSignal<Phase>,
    clock: SaleClock,
    go: Callback<String>,
) {
    let Some(reason) = ticket_and_buy(sale_id, captcha_id, answer, phase, clock, go).await else {
        return;
    };
    let reason = if reason.is_empty() {
        "That answer was not right. Here is a new puzzle.".to_owned()
    } else {
        reason
    };
    let kind = CaptchaKind::Image;
    attempt_after(sale_id, kind, Ask::SalesOwn, Some(reason), phase, clock, go).await;
}

/// Ticket, then the buy; a win opens the order page. A refused answer to the
/// challenge (not rate limited) is left to the caller: its reason is returned.
async fn ticket_and_buy(
    sale_id: i64,
    captcha_id: String,
    answer: String,
    phase: RwSignal<Phase>,
    clock: SaleClock,
    go: Callback<String>,
) -> Option<String> {
    phase.set(Phase::Buying);
    let request = TicketRequest { captcha_id, answer };
    let grant = match endpoints::ticket(sale_id, &request).await {
        Ok(Reply {
            body: Ok(grant), ..
        }) => grant,
        Ok(refused) => {
            if let Some(reason) = missed(&refused) {
                return Some(reason);
            }
            refuse(&refused, phase, clock);
            return None;
        }
        Err(_) => {
            network_trouble(phase);
            return None;
        }
    };
    match buy(&grant.buy_path).await {
        Ok(Reply {
            body: Ok(accepted), ..
        }) => {
            phase.set(Phase::Won(accepted.order_id.clone()));
            go.run(format!("/orders/{}", accepted.order_id));
        }
        Ok(refused) => refuse(&refused, phase, clock),
        Err(_) => network_trouble(phase),
    }
    None
}

/// Why the server refused the challenge's answer (its message, maybe empty),
/// when that is all it refused (no `Retry-After`: nobody is slowing the
/// shopper down).
fn missed<T>(reply: &Reply<T>) -> Option<String> {
    if reply.code() != Some(ErrorCode::CaptchaFailed) || reply.retry_after_secs.is_some() {
        return None;
    }
    Some(reply.body.as_ref().err()?.message.clone())
}

/// The buy, tried again with the same ticket when the answer is lost (a network
/// error) or the server failed (5xx): the server answers a retried ticket with
/// the order it already reserved, so a lost answer never costs the unit.
async fn buy(buy_path: &str) -> Result<Reply<BuyAccepted>, client::Failure> {
    let mut tries = 1;
    loop {
        let reply = endpoints::buy(buy_path).await;
        let failed = match &reply {
            Err(_) => true,
            Ok(reply) => reply.status >= 500,
        };
        if !failed || tries >= BUY_TRIES {
            return reply;
        }
        tries += 1;
        let wait_secs = reply
            .as_ref()
            .ok()
            .and_then(|reply| reply.retry_after_secs)
            .unwrap_or(1);
        client::sleep_ms(wait_secs.saturating_mul(1000)).await;
    }
}

/// What a refusal means for the button.
fn refuse<T>(reply: &Reply<T>, phase: RwSignal<Phase>, clock: SaleClock) {
    let message = reply
        .body
        .as_ref()
        .err()
        .map(|error| error.message.clone())
        .unwrap_or_default();
    let cool_down = |message: String| cool_down(message, reply.retry_after_secs);
    let next = match reply.code().unwrap_or(ErrorCode::Unknown) {
        ErrorCode::SoldOut => {
            clock.resync.set(true);
            Phase::SoldOut
        }
        ErrorCode::LimitReached => Phase::LimitReached,
        ErrorCode::Ended => Phase::Ended,
        ErrorCode::Unauthenticated => Phase::NeedLogin,
        ErrorCode::NotEligible => Phase::NotEligible(message),
        // The server says what was wrong (a puzzle missed, or moved unlike a hand).
        ErrorCode::CaptchaFailed if !message.is_empty() => cool_down(message),
        ErrorCode::CaptchaFailed => {
            cool_down("That answer was not right. Try a new challenge.".into())
        }
        ErrorCode::Busy | ErrorCode::RateLimited => cool_down("Many shoppers right now.".into()),
        ErrorCode::NotStarted => {
            clock.resync.set(true);
            cool_down("The sale has not started on the server yet.".into())
        }
        _ => cool_down(message),
    };
    phase.set(next);
}

/// Refused for now: the button wakes after `Retry-After`, at least
/// [`MIN_COOL_DOWN_MS`].
fn cool_down(message: String, retry_after_secs: Option<u32>) -> Phase {
    Phase::CoolingDown {
        until_ms: client::device_now_ms()
            + (f64::from(retry_after_secs.unwrap_or(0)) * 1000.0).max(MIN_COOL_DOWN_MS),
        message,
    }
}

fn network_trouble(phase: RwSignal<Phase>) {
    phase.set(Phase::CoolingDown {
        until_ms: client::device_now_ms() + MIN_COOL_DOWN_MS,
        message: "The connection failed. Check your network.".into(),
    });
}
