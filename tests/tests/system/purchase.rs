//! The purchase core against the real Redis and Postgres: the spike, the limits,
//! the sale window, and the books balancing afterwards.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use app::api::{BuyAccepted, ErrorCode};
use reqwest::StatusCode;
use systests::{error_code, sale_starting_in, spawn_app, TestApp};

/// Everything one buyer saw: accepted order ids and the final refusal code.
#[derive(Debug, Default)]
struct BuyerLog {
    won: Vec<String>,
    last_refusal: Option<ErrorCode>,
}

/// One buyer: ticket, then buy; on `busy` try again; keep buying (up to
/// `attempts` wins or refusals) until refused.
async fn run_buyer(
    client: reqwest::Client,
    base: String,
    cookie: String,
    sale_id: i64,
    attempts: usize,
) -> BuyerLog {
    let mut log = BuyerLog::default();
    let mut tries = 0;
    while tries < attempts {
        let ticket = client
            .post(format!("{base}/api/sales/{sale_id}/ticket"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({ "captcha_id": "", "answer": "" }))
            .send()
            .await
            .expect("ticket answers");
        if ticket.status() != StatusCode::OK {
            let body: serde_json::Value = ticket.json().await.unwrap_or_default();
            log.last_refusal = Some(error_code(&body));
            return log;
        }
        let grant: app::api::TicketGrant = ticket.json().await.expect("a ticket");
        let response = client
            .post(format!("{base}{}", grant.buy_path))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("buy answers");
        match response.status() {
            StatusCode::ACCEPTED => {
                let accepted: BuyAccepted = response.json().await.expect("an order id");
                log.won.push(accepted.order_id);
                tries += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => tokio::task::yield_now().await,
            status => {
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let code = error_code(&body);
                assert!(
                    matches!(code, ErrorCode::SoldOut | ErrorCode::LimitReached),
                    "unexpected refusal {status} {body}"
                );
                log.last_refusal = Some(code);
                return log;
            }
        }
    }
    log
}

/// Runs `buyers` concurrent buyers on a live sale of `stock` units with `limit`
/// per user, then checks every invariant of docs/DESIGN.md.
async fn spike(app: &TestApp, buyers: u32, stock: i32, limit: i32, attempts: usize) {
    let mut new_sale = sale_starting_in(-1_000, stock);
    new_sale.per_user_limit = limit;
    let sale = app.create_sale(&new_sale).await;
    let sessions = app.bulk_sessions(&format!("b{}x", sale.id), buyers).await;
    assert_eq!(sessions.len(), buyers as usize);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let base = app.url("");
    let start = Arc::new(tokio::sync::Barrier::new(sessions.len()));
    let mut tasks = Vec::new();
    for (user_id, cookie) in sessions {
        let (client, base, start) = (client.clone(), base.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            (
                user_id,
                run_buyer(client, base, cookie, sale.id, attempts).await,
            )
        }));
    }
    let mut wins: HashMap<i64, Vec<String>> = HashMap::new();
    let mut refusals: HashMap<ErrorCode, usize> = HashMap::new();
    for task in tasks {
        let (user_id, log) = task.await.expect("buyer task");
        if let Some(code) = log.last_refusal {
            *refusals.entry(code).or_default() += 1;
        }
        wins.entry(user_id).or_default().extend(log.won);
    }
    let accepted: Vec<String> = wins.values().flatten().cloned().collect();
    assert_eq!(
        accepted.len(),
        stock as usize,
        "exactly the stock is sold; refusals: {refusals:?}"
    );
    assert!(
        wins.values().all(|won| won.len() <= limit as usize),
        "nobody above the limit"
    );
    assert!(
        refusals.get(&ErrorCode::SoldOut).copied().unwrap_or(0) > 0,
        "the rest heard `sold_out`"
    );

    app.drain(sale.id).await;
    let rows = app.order_rows(sale.id).await;
    assert_eq!(rows.len(), stock as usize, "every 202 became one order row");
    let row_ids: HashSet<&str> = rows.iter().map(|(id, _, _)| id.as_str()).collect();
    for order_id in &accepted {
        assert!(
            row_ids.contains(order_id.as_str()),
            "order {order_id} was lost"
        );
    }
    let mut per_user: HashMap<i64, i32> = HashMap::new();
    for (_, user_id, status) in &rows {
        assert_eq!(status, "pending_payment");
        *per_user.entry(*user_id).or_default() += 1;
    }
    assert!(per_user.values().all(|units| *units <= limit));
    let books = app.books(sale.id).await;
    assert_eq!(books.stock_left, 0);
    assert_eq!(books.drift, 0, "{books:?}");
    assert_eq!(books.buyer_units, i64::from(stock));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_buyers_for_a_hundred_units_buy_exactly_a_hundred() {
    let app = spawn_app().await;
    spike(&app, 2_000, 100, 1, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_limit_of_two_and_retrying_buyers_still_exactly_the_stock() {
    let app = spawn_app().await;
    spike(&app, 2_000, 100, 2, 3).await;
}

#[tokio::test]
async fn a_buyer_gets_an_order_to_poll_then_pays_it() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    let alice = app.register("alice").await;

    let (status, body) = alice.buy(sale.id).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");
    let order_id = body["order_id"].as_str().unwrap().to_owned();
    app.drain(sale.id).await;

    let order: app::api::Order = alice
        .get(&format!("/api/orders/{order_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order.status, app::api::OrderStatus::PendingPayment);
    assert_eq!(order.price_cents, sale.price_cents);
    assert_eq!(order.pay_before_ms - order.created_at_ms, 900_000);
    let mine: Vec<app::api::Order> = alice.get("/api/orders").await.json().await.unwrap();
    assert_eq!(mine.len(), 1);

    let paid = alice.order_action(&order_id, "pay").await;
    assert_eq!(paid.status(), 200);
    let paid: app::api::Order = paid.json().await.unwrap();
    assert_eq!(paid.status, app::api::OrderStatus::Paid);
    // A payment retried (its answer lost on the way) is told it is paid.
    let again = alice.order_action(&order_id, "pay").await;
    assert_eq!(again.status(), 200);
    let again: app::api::Order = again.json().await.unwrap();
    assert_eq!(
        (again.status, again.order_id),
        (paid.status, paid.order_id.clone())
    );
    let cancel = alice.order_action(&order_id, "cancel").await;
    assert_eq!(cancel.status(), 409);
    let body: serde_json::Value = cancel.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::NotCancellable);

    // Someone else's order is not found, not forbidden: ids reveal nothing.
    let bob = app.register("bob").await;
    assert_eq!(
        bob.get(&format!("/api/orders/{order_id}")).await.status(),
        404
    );
    assert_eq!(bob.order_action(&order_id, "pay").await.status(), 404);
    assert_eq!(bob.get("/api/orders/not-an-id").await.status(), 400);
}

#[tokio::test]
async fn a_cancelled_order_returns_its_unit_to_the_next_buyer() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 1)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    let (status, body) = alice.buy(sale.id).await;
    assert_eq!(status, 202);
    let order_id = body["order_id"].as_str().unwrap().to_owned();
    let (status, body) = bob.buy(sale.id).await;
    assert_eq!((status, error_code(&body)), (410, ErrorCode::SoldOut));

    app.drain(sale.id).await;
    let cancelled = alice.order_action(&order_id, "cancel").await;
    assert_eq!(cancelled.status(), 200);
    let cancelled: app::api::Order = cancelled.json().await.unwrap();
    assert_eq!(cancelled.status, app::api::OrderStatus::Cancelled);
    assert_eq!(app.books(sale.id).await.stock_left, 1);

    // This instance had flagged the sale sold out; the return cleared the flag.
    let status = bob.buy_until_won(sale.id).await;
    assert_eq!(status, 202, "the returned unit can be won");
    app.drain(sale.id).await;
    assert_eq!(app.books(sale.id).await.drift, 0);
}

#[tokio::test]
async fn a_sold_out_flag_whose_clear_was_lost_lapses_by_itself() {
    let clock = server::clock::ShiftedClock::default();
    let app = systests::spawn_app_with_clock(|config| config, Arc::new(clock.clone())).await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 1)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    assert_eq!(alice.buy(sale.id).await.0, 202);
    let (status, body) = bob.buy(sale.id).await;
    assert_eq!((status, error_code(&body)), (410, ErrorCode::SoldOut));

    // A unit comes back but the notice that clears the flags is lost (a dead
    // subscription, a crash between return and notice).
    let _: i64 = redis::cmd("INCRBY")
        .arg(format!("{}{{s:{}}}:stock", app.redis_prefix, sale.id))
        .arg(1)
        .query_async(&mut systests::redis_connection().await)
        .await
        .unwrap();
    let (status, _) = bob.buy(sale.id).await;
    assert_eq!(status, 410, "for a moment this instance still believes it");
    clock.advance(server::guards::sold_out::FLAG_TTL_MS);
    assert_eq!(
        bob.buy(sale.id).await.0,
        202,
        "the flag lapsed; the unit sells"
    );
}

#[tokio::test]
async fn a_buy_retried_with_the_same_ticket_gets_the_same_order_even_once_sold_out() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 2)).await;
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let grant: app::api::TicketGrant = alice.ticket(sale.id).await.json().await.unwrap();
    let buy = || async {
        let response = alice.post(&grant.buy_path, serde_json::json!({})).await;
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    let (status, first) = buy().await;
    assert_eq!(status, 202, "{first}");
    // The answer was lost on the way; the shopper's client tries the same ticket.
    let (status, again) = buy().await;
    assert_eq!(
        (status, &again["order_id"]),
        (202, &first["order_id"]),
        "{again}"
    );

    assert_eq!(bob.buy(sale.id).await.0, 202);
    let (status, body) = carol.buy(sale.id).await;
    assert_eq!((status, error_code(&body)), (410, ErrorCode::SoldOut));
    let (status, late) = buy().await;
    assert_eq!(
        (status, &late["order_id"]),
        (202, &first["order_id"]),
        "{late}"
    );

    app.drain(sale.id).await;
    assert_eq!(app.order_rows(sale.id).await.len(), 2, "one order each");
    let books = app.books(sale.id).await;
    assert_eq!((books.stock_left, books.drift), (0, 0));
}

#[tokio::test]
async fn one_unit_per_buyer_means_the_second_try_is_limit_reached() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    let alice = app.register("alice").await;
    assert_eq!(alice.buy(sale.id).await.0, 202);
    let (status, body) = alice.buy(sale.id).await;
    assert_eq!((status, error_code(&body)), (409, ErrorCode::LimitReached));
}

#[tokio::test]
async fn before_the_start_no_ticket_and_no_sale_even_with_a_forged_ticket() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(60_000, 5)).await;
    let alice = app.register("alice").await;

    let response = alice.ticket(sale.id).await;
    assert_eq!(response.status(), 425);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::NotStarted);
    let captcha = alice
        .post(
            &format!("/api/sales/{}/captcha", sale.id),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(captcha.status(), 425);

    // Even a correctly signed ticket cannot buy early: the reserve checks Redis' clock.
    let response = alice.buy_with_signed_ticket(&app, sale.id).await;
    assert_eq!(response.status(), 425);
    // A guessed ticket is refused outright.
    let response = alice
        .post(
            &format!("/api/sales/{}/buy/123.abc", sale.id),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::BadTicket);
    assert_eq!(app.books(sale.id).await.stock_left, 5);
}

#[tokio::test]
async fn after_the_end_and_while_paused_nothing_is_sold() {
    let app = spawn_app().await;
    let mut ended = sale_starting_in(-120_000, 5);
    ended.ends_at_ms = server::clock::now_ms() - 1_000;
    let ended = app.create_sale(&ended).await;
    let alice = app.register("alice").await;
    let response = alice.ticket(ended.id).await;
    assert_eq!(response.status(), 410);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::Ended);
    let response = alice.buy_with_signed_ticket(&app, ended.id).await;
    assert_eq!(response.status(), 410);

    let live = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    app.state().catalog.set_paused(live.id, true).await.unwrap();
    assert_eq!(alice.ticket(live.id).await.status(), 409);
    let response = alice.buy_with_signed_ticket(&app, live.id).await;
    assert_eq!(response.status(), 409);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::Paused);
    assert_eq!(app.books(live.id).await.stock_left, 5, "paused: not sold");

    app.state()
        .catalog
        .set_paused(live.id, false)
        .await
        .unwrap();
    assert_eq!(alice.buy(live.id).await.0, 202, "resumed: sold again");
}

#[tokio::test]
async fn young_accounts_are_refused_when_the_sale_asks_for_older_ones() {
    let app = spawn_app().await;
    let mut new_sale = sale_starting_in(-1_000, 5);
    new_sale.min_account_age_days = 3;
    let sale = app.create_sale(&new_sale).await;
    let alice = app.register("alice").await;
    let response = alice.ticket(sale.id).await;
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::NotEligible);
}

#[tokio::test]
async fn a_full_instance_answers_busy_at_once_and_sells_nothing() {
    // No admission slots at all: the instance is draining.
    let app = systests::spawn_app_with(|mut config| {
        config.max_inflight_buys = 0;
        config
    })
    .await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    let alice = app.register("alice").await;
    let grant: app::api::TicketGrant = alice.ticket(sale.id).await.json().await.unwrap();
    let response = alice.post(&grant.buy_path, serde_json::json!({})).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::Busy);
    assert_eq!(app.books(sale.id).await.stock_left, 5);
}

#[tokio::test]
async fn a_sold_out_flag_lists_its_holders_only_while_no_unit_is_left() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 2)).await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let stock = &app.state().stock;
    assert_eq!(alice.buy(sale.id).await.0, 202);
    // A unit is left (say, just returned): whoever wins it next would be in no
    // list read now, so none is given.
    assert_eq!(stock.holders(sale.id, 10).await.unwrap(), None);
    assert_eq!(bob.buy(sale.id).await.0, 202);
    assert_eq!(
        stock.holders(sale.id, 10).await.unwrap(),
        Some(std::collections::HashSet::from([
            alice.user_id,
            bob.user_id
        ]))
    );
    assert_eq!(
        stock.holders(sale.id, 1).await.unwrap(),
        None,
        "more buyers than a list is kept for"
    );
}
