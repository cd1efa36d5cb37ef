//! Reservations cannot be hoarded (#25 item 7): an account whose order lapsed
//! or was cancelled waits before reserving the same sale again, one account
//! makes a bounded number of reservations of a sale, cancels are counted, and
//! a cancel on a sale with units left costs the other instances nothing.

use std::sync::Arc;
use std::time::Duration;

use app::api::ErrorCode;
use futures_util::StreamExt;
use server::clock::ShiftedClock;
use systests::{
    error_code, sale_starting_in, spawn_app_with, spawn_app_with_clock, Shopper, TestApp,
};

#[tokio::test]
async fn accounts_whose_orders_lapsed_wait_while_other_shoppers_buy_the_units() {
    let clock = ShiftedClock::default();
    let app = spawn_app_with_clock(|config| config, Arc::new(clock.clone())).await;
    let mut draft = sale_starting_in(-1_000, 5);
    draft.payment_window_secs = 60;
    let sale = app.create_sale(&draft).await;
    let mut hoarders = Vec::new();
    for n in 0..5 {
        let hoarder = app.register(&format!("hoarder{n}")).await;
        assert_eq!(hoarder.buy(sale.id).await.0, 202);
        hoarders.push(hoarder);
    }
    app.drain(sale.id).await;

    // Nobody pays: the orders lapse and their units come back.
    clock.advance(61_000);
    let swept = app.state().sweeper.sweep_once().await.unwrap();
    assert_eq!(swept.returned, 5);

    // The hoarders, straight back: refused, told how long to wait.
    for hoarder in &hoarders {
        let ticket = hoarder.ticket(sale.id).await;
        let grant: app::api::TicketGrant = ticket.json().await.unwrap();
        let again = hoarder.post(&grant.buy_path, serde_json::json!({})).await;
        assert_eq!(again.status(), 429);
        let wait: u64 = again.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((240..=300).contains(&wait), "Retry-After {wait}");
        let body: serde_json::Value = again.json().await.unwrap();
        assert_eq!(error_code(&body), ErrorCode::RateLimited, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("lapsed"),
            "{body}"
        );
    }
    // The units go to people who have not had them.
    for n in 0..5 {
        let shopper = app.register(&format!("shopper{n}")).await;
        assert_eq!(shopper.buy(sale.id).await.0, 202, "shopper {n}");
    }
    app.drain(sale.id).await;
    let books = app.books(sale.id).await;
    assert_eq!((books.stock_left, books.drift), (0, 0));
}

/// An app without the cool-down, whose buyers may make `spare` reservations
/// beyond a sale's limit.
async fn app_without_cooldown(spare: u32) -> TestApp {
    spawn_app_with(|mut config| {
        config.rebuying.cooldown_ms = 0;
        config.rebuying.spare_reservations = spare;
        config
    })
    .await
}

/// `shopper` buys a unit of `sale_id` (which must answer 202), the order is
/// saved, and the shopper cancels it: the cancel's answer.
async fn buy_then_cancel(app: &TestApp, shopper: &Shopper, sale_id: i64) -> reqwest::Response {
    let (status, body) = shopper.buy(sale_id).await;
    assert_eq!(status, 202, "{body}");
    app.drain(sale_id).await;
    let order_id = body["order_id"].as_str().unwrap();
    shopper.order_action(order_id, "cancel").await
}

#[tokio::test]
async fn an_account_makes_at_most_the_limit_plus_the_spare_reservations_of_a_sale() {
    let app = app_without_cooldown(2).await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    let alice = app.register("alice").await;
    // Buy and cancel, three times: the limit (1) and both spares.
    for _ in 0..3 {
        let cancel = buy_then_cancel(&app, &alice, sale.id).await;
        assert_eq!(cancel.status(), 200);
    }
    let (status, body) = alice.buy(sale.id).await;
    assert_eq!(
        (status, error_code(&body)),
        (409, ErrorCode::LimitReached),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("3 times"),
        "{body}"
    );
    // Others are not held back by it.
    let bob = app.register("bob").await;
    assert_eq!(bob.buy(sale.id).await.0, 202);
}

#[tokio::test]
async fn cancels_are_counted_and_only_a_sold_out_sale_announces_a_return() {
    let app = app_without_cooldown(10).await;
    let channel = app.state().stock.keys().notice_channel();
    let client = redis::Client::open(systests::redis_url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(&channel).await.unwrap();
    let mut notices = pubsub.into_on_message();

    let sale = app.create_sale(&sale_starting_in(-1_000, 2)).await;
    let alice = app.register("alice").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let cancel = buy_then_cancel(&app, &alice, sale.id).await;
        statuses.push(cancel.status().as_u16());
        if cancel.status() == 429 {
            assert!(cancel.headers().contains_key("retry-after"));
            let body: serde_json::Value = cancel.json().await.unwrap();
            assert_eq!(error_code(&body), ErrorCode::RateLimited);
            break;
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429], "three cancels, then a wait");
    let quiet = tokio::time::timeout(Duration::from_millis(300), notices.next()).await;
    assert!(
        quiet.is_err(),
        "returns to a sale with units left are not announced: {:?}",
        quiet.map(|m| m.map(|m| m.get_payload::<String>()))
    );

    // Sold out (Alice's held order and Bob's), then a return: announced.
    let bob = app.register("bob").await;
    let (status, body) = bob.buy(sale.id).await;
    assert_eq!(status, 202, "{body}");
    app.drain(sale.id).await;
    let order_id = body["order_id"].as_str().unwrap();
    assert_eq!(bob.order_action(order_id, "cancel").await.status(), 200);
    let notice = tokio::time::timeout(Duration::from_secs(5), notices.next())
        .await
        .expect("the return to a sold-out sale is announced")
        .unwrap();
    let payload: String = notice.get_payload().unwrap();
    assert!(payload.contains(&sale.id.to_string()), "{payload}");
}
