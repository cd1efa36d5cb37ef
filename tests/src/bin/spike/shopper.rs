//! What one virtual shopper does, request by request, the way the browser client
//! does it: one request in flight, a cool-down after any 429/503 (`Retry-After`,
//! else 2 s), stop on `sold_out`, poll the order once won, pay some of the time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::{
    BuyAccepted, CaptchaChallenge, ErrorBody, ErrorCode, Order, OrderStatus, TicketGrant,
    TicketRequest,
};
use serde_json::Value;

use crate::load::{Counters, Pacer, Recorder, Step};
use crate::rig::ShopperId;

/// The client's cool-down after a refusal without `Retry-After`.
const COOL_DOWN: Duration = Duration::from_secs(2);
/// How long to wait before asking again when the server says "not yet".
const TOO_EARLY_WAIT: Duration = Duration::from_millis(50);

/// How long a shopper in a drill keeps retrying a request that failed (a
/// transport error or a 5xx other than `busy`/`unavailable`) before giving up.
const FAILOVER_PATIENCE: Duration = Duration::from_secs(90);

/// What the crowd shares.
pub struct Context {
    pub client: reqwest::Client,
    /// The instances; shopper `i` starts on instance `i mod n`.
    pub base_urls: Vec<String>,
    /// Drills: a failed request is sent again, to the next instance, as a load
    /// balancer and the browser client's retry of the same ticket would do.
    /// Otherwise a failure ends the shopper's attempt (and breaks the run).
    pub failover: bool,
    pub sale_id: i64,
    pub limit: i32,
    pub pay_percent: u32,
    pub pacer: Pacer,
    pub recorder: Arc<Recorder>,
}

/// How a shopper's spike ended.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Order ids of every 202.
    pub orders: Vec<String>,
    /// Orders this shopper paid (200 from pay).
    pub paid: u32,
    /// Orders seen persisted (status left `queued`) by polling.
    pub seen_persisted: u32,
    /// The answer that ended the attempt (`sold_out`, `limit_reached`, `won`, …).
    pub last: String,
    /// Something no shopper should see: a 5xx other than `busy`, a transport
    /// error, an unexpected status. Carries the first such answer.
    pub failure: Option<String>,
    /// When the attempt ended (before polling and paying), since the wave began.
    pub decided_ms: Option<f64>,
    /// A queue sale: this shopper's visit to the line.
    pub line: Option<crate::line::LineVisit>,
}

/// One answer, reduced to what a client acts on.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The API's error code, or `ok`.
    pub(crate) code: String,
    pub(crate) body: Value,
    retry_after: Option<u64>,
    /// The first `name=value` of a `Set-Cookie`, if any (the line's entry).
    pub(crate) set_cookie: Option<String>,
}

impl Answer {
    /// The body as the API type of a successful answer.
    pub(crate) fn parsed<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.body.clone()).ok()
    }

    pub(crate) fn cool_down(&self) -> Duration {
        self.retry_after
            .map(Duration::from_secs)
            .unwrap_or(COOL_DOWN)
    }
}

/// What a step's answer means for the flow.
pub enum Next<T> {
    Go(T),
    /// Ask again after this long.
    Again(Duration),
    /// The attempt is over (`sold_out`, `ended`, `limit_reached`).
    Done(String),
    /// Start over with a new CAPTCHA (ticket expired, answer refused).
    Restart,
    Fail(String),
}

impl Context {
    pub(crate) async fn call(
        &self,
        step: Step,
        wanted: Instant,
        shopper: &ShopperId,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let patience = Instant::now() + FAILOVER_PATIENCE;
        let mut instance = shopper.index as usize;
        loop {
            let base_url = &self.base_urls[instance % self.base_urls.len()];
            let answer = self
                .call_once(
                    step,
                    wanted,
                    shopper,
                    (method.clone(), base_url, path),
                    &body,
                )
                .await;
            let failed = answer.status == 0 || (answer.status >= 500 && answer.status != 503);
            if !(self.failover && failed && Instant::now() < patience) {
                return answer;
            }
            instance += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn call_once(
        &self,
        step: Step,
        wanted: Instant,
        shopper: &ShopperId,
        (method, base_url, path): (reqwest::Method, &str, &str),
        body: &Option<Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{base_url}{path}"))
            .header("cookie", &shopper.cookie)
            .header("x-forwarded-for", &shopper.ip);
        if let Some(body) = body {
            request = request.json(body);
        }
        let (answer, latency) = self
            .pacer
            .send(wanted, async move {
                let response = request.send().await?;
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse().ok());
                let set_cookie = response
                    .headers()
                    .get("set-cookie")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.split(';').next())
                    .map(str::to_owned);
                let body: Value = response.json().await.unwrap_or(Value::Null);
                Ok::<_, reqwest::Error>((status, retry_after, body, set_cookie))
            })
            .await;
        let answer = match answer {
            Ok((status, retry_after, body, set_cookie)) => Answer {
                status,
                code: if (200..300).contains(&status) {
                    "ok".to_owned()
                } else {
                    serde_json::from_value::<ErrorBody>(body.clone())
                        .map_or("no_error_body", |error| error.error.as_str())
                        .to_owned()
                },
                body,
                retry_after,
                set_cookie,
            },
            Err(error) => Answer {
                status: 0,
                code: format!("transport: {error}"),
                body: Value::Null,
                retry_after: None,
                set_cookie: None,
            },
        };
        let outcome = match (step, answer.status) {
            (Step::Buy | Step::NaiveBuy, 202) => "won",
            (_, 0) => "transport_error",
            _ => answer.code.as_str(),
        };
        self.recorder.record(step, outcome, latency);
        let counters = &self.recorder.counters;
        match answer.status {
            429 | 503 => Counters::bump(&counters.refused),
            0 | 500..=599 => Counters::bump(&counters.failed),
            _ => {}
        }
        answer
    }

    /// Reads what every step has in common: refusals to wait out, the end of
    /// the sale, and failures.
    fn common<T>(&self, answer: &Answer) -> Next<T> {
        match (answer.status, answer.code.as_str()) {
            (429 | 503, _) => Next::Again(answer.cool_down()),
            (425, _) | (409, "paused") => Next::Again(TOO_EARLY_WAIT),
            (410, code) | (409, code @ "limit_reached") | (403, code @ "not_admitted") => {
                Next::Done(code.to_owned())
            }
            (status, code) => Next::Fail(format!("{status} {code}")),
        }
    }

    /// The real client's flow from the opening second to an outcome.
    pub async fn shop(&self, shopper: &ShopperId, arrival: Instant) -> Outcome {
        tokio::time::sleep_until(arrival.into()).await;
        let sale = self.sale_id;
        self.call(
            Step::Status,
            arrival,
            shopper,
            reqwest::Method::GET,
            &format!("/api/sales/{sale}/status"),
            None,
        )
        .await;
        self.purchase(shopper, Outcome::default()).await
    }

    /// Challenge, ticket and buy until the limit or an outcome, then the
    /// order's poll and payment: the buy panel's part of a visit.
    pub(crate) async fn purchase(&self, shopper: &ShopperId, mut outcome: Outcome) -> Outcome {
        let mut buy_path: Option<String> = None;
        while (outcome.orders.len() as i32) < self.limit {
            let path = match buy_path.take() {
                Some(path) => path,
                None => match self.ticket(shopper).await {
                    Next::Go(path) => path,
                    Next::Done(code) => return self.finish(shopper, outcome, code).await,
                    Next::Fail(failure) => return self.fail(outcome, failure),
                    Next::Again(_) | Next::Restart => continue,
                },
            };
            match self.buy(shopper, &path, Instant::now(), &mut outcome).await {
                // A ticket is good until it expires: the next unit uses it too.
                Next::Go(()) => buy_path = Some(path),
                Next::Done(code) => return self.finish(shopper, outcome, code).await,
                Next::Fail(failure) => return self.fail(outcome, failure),
                Next::Again(_) | Next::Restart => {}
            }
        }
        self.finish(shopper, outcome, "won".into()).await
    }

    /// CAPTCHA (solved), then ticket: the buy path.
    pub async fn ticket(&self, shopper: &ShopperId) -> Next<String> {
        let sale = self.sale_id;
        let challenge: CaptchaChallenge = loop {
            let answer = self
                .call(
                    Step::Captcha,
                    Instant::now(),
                    shopper,
                    reqwest::Method::POST,
                    &format!("/api/sales/{sale}/captcha"),
                    None,
                )
                .await;
            if answer.status == 200 {
                match serde_json::from_value(answer.body) {
                    Ok(challenge) => break challenge,
                    Err(error) => return Next::Fail(format!("challenge unreadable: {error}")),
                }
            }
            match self.common::<()>(&answer) {
                Next::Again(wait) => tokio::time::sleep(wait).await,
                Next::Done(code) => return Next::Done(code),
                _ => return Next::Fail(format!("captcha: {} {}", answer.status, answer.code)),
            }
        };
        let solution = match solve(&challenge).await {
            Some(solution) => solution,
            None => return Next::Fail("a challenge the generator cannot solve".into()),
        };
        let body = serde_json::to_value(TicketRequest {
            captcha_id: challenge.captcha_id,
            answer: solution,
        })
        .expect("a ticket request is JSON");
        loop {
            let answer = self
                .call(
                    Step::Ticket,
                    Instant::now(),
                    shopper,
                    reqwest::Method::POST,
                    &format!("/api/sales/{sale}/ticket"),
                    Some(body.clone()),
                )
                .await;
            if answer.status == 200 {
                return match answer.parsed::<TicketGrant>() {
                    Some(grant) => Next::Go(grant.buy_path),
                    None => Next::Fail("a ticket without a buy path".into()),
                };
            }
            if answer.status == 422 {
                return Next::Restart;
            }
            match self.common::<()>(&answer) {
                Next::Again(wait) => tokio::time::sleep(wait).await,
                Next::Done(code) => return Next::Done(code),
                _ => return Next::Fail(format!("ticket: {} {}", answer.status, answer.code)),
            }
        }
    }

    /// Buys on `buy_path` until one unit is won or the attempt is over.
    pub async fn buy(
        &self,
        shopper: &ShopperId,
        buy_path: &str,
        mut wanted: Instant,
        outcome: &mut Outcome,
    ) -> Next<()> {
        loop {
            let answer = self
                .call(
                    Step::Buy,
                    wanted,
                    shopper,
                    reqwest::Method::POST,
                    buy_path,
                    None,
                )
                .await;
            if answer.status == 202 {
                return match answer.parsed::<BuyAccepted>() {
                    Some(accepted) => {
                        outcome.orders.push(accepted.order_id);
                        Counters::bump(&self.recorder.counters.won);
                        Next::Go(())
                    }
                    None => Next::Fail("a 202 without an order id".into()),
                };
            }
            if answer.status == 403 && answer.code == ErrorCode::BadTicket.as_str() {
                return Next::Restart;
            }
            match self.common::<()>(&answer) {
                Next::Again(wait) => tokio::time::sleep(wait).await,
                Next::Done(code) => return Next::Done(code),
                _ => return Next::Fail(format!("buy: {} {}", answer.status, answer.code)),
            }
            wanted = Instant::now();
        }
    }

    /// A ticket for the burst flow, asked for until one comes or the sale says no.
    pub async fn ticket_path(&self, shopper: &ShopperId) -> Result<String, String> {
        loop {
            match self.ticket(shopper).await {
                Next::Go(path) => return Ok(path),
                Next::Restart | Next::Again(_) => continue,
                Next::Done(code) => return Err(code),
                Next::Fail(failure) => return Err(failure),
            }
        }
    }

    /// The burst flow's buy: at `arrival`, on the ticket fetched before the wave,
    /// until the limit is won or the sale says no; then the order is finished.
    pub async fn burst_buy(
        &self,
        shopper: &ShopperId,
        path: Result<String, String>,
        arrival: Instant,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let path = match path {
            Ok(path) => path,
            Err(failure) => {
                outcome.failure = Some(format!("no ticket: {failure}"));
                return outcome;
            }
        };
        tokio::time::sleep_until(arrival.into()).await;
        let mut wanted = arrival;
        let last = loop {
            match self.buy(shopper, &path, wanted, &mut outcome).await {
                Next::Go(()) if (outcome.orders.len() as i32) < self.limit => {
                    wanted = Instant::now();
                }
                Next::Go(()) => break "won".to_owned(),
                Next::Done(code) => break code,
                Next::Restart => break "ticket_expired".to_owned(),
                Next::Again(_) => {}
                Next::Fail(failure) => {
                    outcome.failure = Some(failure);
                    return outcome;
                }
            }
        };
        self.finish(shopper, outcome, last).await
    }

    pub(crate) fn fail(&self, mut outcome: Outcome, failure: String) -> Outcome {
        outcome.failure = Some(failure);
        outcome
    }

    /// After the attempt: poll each won order until it is persisted, pay some.
    pub async fn finish(&self, shopper: &ShopperId, mut outcome: Outcome, last: String) -> Outcome {
        if outcome.orders.is_empty() {
            Counters::bump(&self.recorder.counters.lost);
        }
        outcome.last = last;
        outcome.decided_ms = Some(self.recorder.elapsed().as_secs_f64() * 1000.0);
        let pays = shopper.index % 100 < self.pay_percent;
        for order_id in outcome.orders.clone() {
            let mut wait = Duration::from_millis(250);
            let deadline = Instant::now() + Duration::from_secs(120);
            let persisted = loop {
                tokio::time::sleep(wait).await;
                let answer = self
                    .call(
                        Step::Order,
                        Instant::now(),
                        shopper,
                        reqwest::Method::GET,
                        &format!("/api/orders/{order_id}"),
                        None,
                    )
                    .await;
                let status = answer.parsed::<Order>().map(|order| order.status);
                match status {
                    Some(OrderStatus::Queued) | None if Instant::now() < deadline => {
                        wait = (wait * 2).min(Duration::from_secs(4));
                    }
                    Some(OrderStatus::Queued) | None => break false,
                    Some(_) => break true,
                }
            };
            if !persisted {
                outcome
                    .failure
                    .get_or_insert_with(|| format!("order {order_id} never left the queue"));
                continue;
            }
            outcome.seen_persisted += 1;
            if pays {
                let answer = loop {
                    let answer = self
                        .call(
                            Step::Pay,
                            Instant::now(),
                            shopper,
                            reqwest::Method::POST,
                            &format!("/api/orders/{order_id}/pay"),
                            None,
                        )
                        .await;
                    // In a drill Postgres may be away: 503, pay again later.
                    if !(self.failover && answer.status == 503 && Instant::now() < deadline) {
                        break answer;
                    }
                    tokio::time::sleep(answer.cool_down()).await;
                };
                if answer.status == 200 {
                    outcome.paid += 1;
                } else {
                    outcome
                        .failure
                        .get_or_insert_with(|| format!("pay: {} {}", answer.status, answer.code));
                }
            }
        }
        outcome
    }

    /// One request to a trivial endpoint, or one naive buy, as the whole visit.
    pub async fn single(&self, step: Step, shopper: &ShopperId, arrival: Instant) -> Outcome {
        tokio::time::sleep_until(arrival.into()).await;
        let (method, path, body) = match step {
            Step::Healthz => (reqwest::Method::GET, "/healthz".to_owned(), None),
            _ => (
                reqwest::Method::POST,
                format!("/naive/{}/buy", self.sale_id),
                Some(serde_json::json!({ "user_id": shopper.user_id })),
            ),
        };
        let answer = self.call(step, arrival, shopper, method, &path, body).await;
        let mut outcome = Outcome {
            last: answer.code.clone(),
            decided_ms: Some(self.recorder.elapsed().as_secs_f64() * 1000.0),
            ..Outcome::default()
        };
        match answer.status {
            200 => {}
            202 => {
                // The naive baseline's order ids are numbers, ours are text.
                let order_id = &answer.body["order_id"];
                outcome.orders.push(
                    order_id
                        .as_str()
                        .map_or_else(|| order_id.to_string(), String::from),
                );
                Counters::bump(&self.recorder.counters.won);
            }
            410 | 409 => Counters::bump(&self.recorder.counters.lost),
            status => outcome.failure = Some(format!("{status} {}", answer.code)),
        }
        outcome
    }
}

/// The answer to a challenge, computed the way the WASM client computes it.
async fn solve(challenge: &CaptchaChallenge) -> Option<String> {
    match challenge.kind {
        app::api::CaptchaKind::None => Some(String::new()),
        app::api::CaptchaKind::Pow => {
            let salt = challenge.salt.clone()?;
            let bits = challenge.difficulty_bits?;
            tokio::task::spawn_blocking(move || app::pow::search(&salt, bits, 0, u64::MAX))
                .await
                .ok()?
                .map(|nonce| nonce.to_string())
        }
        app::api::CaptchaKind::Image => None,
    }
}
