//! `/healthz`, `/readyz` and `/metrics` as an operator and a load balancer see them.

use app::api::ErrorCode;
use std::time::Duration;

use systests::private_servers::{Persistence, PrivateRedis};
use systests::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn healthz_answers_while_the_process_runs() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn readyz_is_200_when_redis_and_postgres_answer() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["redis"], "ok");
    assert_eq!(body["checks"]["postgres"], "ok");
}

async fn readiness(app: &systests::TestApp) -> (u16, serde_json::Value) {
    let response = app.get("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("readyz answers JSON"))
}

#[tokio::test]
async fn readyz_names_redis_while_redis_is_stopped_and_recovers_when_it_is_back() {
    // A Redis of this test's own, so stopping it disturbs no other test.
    let mut redis = PrivateRedis::start(Persistence::None).unwrap();
    let app = spawn_app_with(systests::on_redis(redis.url())).await;
    assert_eq!(readiness(&app).await.0, 200);

    redis.kill();
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "not ready while Redis is down: {body}");
    assert_eq!(error_code(&body), ErrorCode::NotReady);
    assert_eq!(body["checks"]["redis"], "down");
    assert_eq!(body["checks"]["postgres"], "ok");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("redis"),
        "the message names Redis: {message}"
    );
    assert!(!message.contains("postgres"), "Postgres is fine: {message}");
    // Liveness is not readiness: the process itself is fine.
    assert_eq!(app.get("/healthz").await.status(), 200);

    redis.restart().unwrap();
    let mut status = 0;
    for _ in 0..40 {
        status = readiness(&app).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status, 200, "ready again once Redis is back");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_with_latency() {
    let app = spawn_app().await;
    for id in [1, 2, 3] {
        assert_eq!(app.get(&format!("/api/sales/{id}")).await.status(), 404);
    }
    assert_eq!(app.get("/api/sales").await.status(), 200);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"flashsale_http_requests_total{method="GET",route="/api/sales/{id}",status="404"} 3"#
        ),
        "three 404s counted under the route template, not per id:\n{text}"
    );
    assert!(text.contains(
        r#"flashsale_http_requests_total{method="GET",route="/api/sales",status="200"} 1"#
    ));
    assert!(text.contains(
        r#"flashsale_http_request_duration_seconds_count{method="GET",route="/api/sales"} 1"#
    ));
    assert!(text.contains("flashsale_http_request_duration_seconds_bucket"));
    assert!(
        !text.contains("/api/sales/1\""),
        "raw paths never become labels"
    );
}

/// Makes the app's own database refuse connections (and drops the open ones):
/// Postgres is "away" for this app only; `false` brings it back.
async fn cut_off_postgres(database: &str, away: bool) {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&systests::admin_database_url())
        .await
        .unwrap();
    sqlx::query(&format!(
        "alter database \"{database}\" allow_connections {}",
        !away
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    if away {
        sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1")
            .bind(database)
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_sale_keeps_selling_while_postgres_is_away_and_the_books_balance_after() {
    let app = spawn_app_with(|mut config| {
        config.consumer.min_idle = Duration::from_millis(300);
        config
    })
    .await;
    let sale = app
        .create_sale(&systests::sale_starting_in(-1_000, 5))
        .await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let status = format!("/api/sales/{}/status", sale.id);
    assert_eq!(app.get(&status).await.status(), 200, "the sale is known");
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&app.db)
        .await
        .unwrap();

    cut_off_postgres(&database, true).await;
    // Long enough for every cached copy of the sale to lapse.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (code, body) = readiness(&app).await;
    assert_eq!(
        code, 200,
        "an instance that can sell stays in the pool: {body}"
    );
    assert_eq!(body["checks"]["postgres"], "down");
    assert_eq!(app.get(&status).await.status(), 200);
    for shopper in [&alice, &bob] {
        let (code, body) = shopper.buy(sale.id).await;
        assert_eq!(code, 202, "{body}");
    }

    cut_off_postgres(&database, false).await;
    app.drain(sale.id).await;
    assert_eq!(app.order_rows(sale.id).await.len(), 2);
    let books = app.books(sale.id).await;
    assert_eq!((books.stock_left, books.drift), (3, 0));
    let letters = app.dead_letters().await;
    assert!(letters.is_empty(), "{letters:?}");
}

#[tokio::test]
async fn an_instance_starts_while_postgres_is_away_sells_and_catches_up_when_it_returns() {
    let first = spawn_app().await;
    let sale = first
        .create_sale(&systests::sale_starting_in(-1_000, 5))
        .await;
    let carol = first.register("carol").await;
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&first.db)
        .await
        .unwrap();
    cut_off_postgres(&database, true).await;

    // A second instance of the same deployment starts during the outage; it has
    // never read the sale.
    let second = first
        .another_instance(|mut config| {
            config.consumer.min_idle = Duration::from_millis(300);
            config
        })
        .await;
    let (code, body) = readiness(&second).await;
    assert_eq!(code, 200, "it can sell, so it is ready: {body}");
    assert_eq!(body["checks"]["postgres"], "down");
    let status = second.get(&format!("/api/sales/{}/status", sale.id)).await;
    assert_eq!(status.status(), 200, "the sale is known from Redis' copy");
    let (code, body) = carol.on(&second).buy(sale.id).await;
    assert_eq!(code, 202, "{body}");
    let order_id = body["order_id"].as_str().unwrap().to_owned();

    cut_off_postgres(&database, false).await;
    // The second instance migrates, starts its workers and persists the order.
    for _ in 0..100 {
        if second
            .order_rows(sale.id)
            .await
            .iter()
            .any(|(id, _, _)| *id == order_id)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = second.order_rows(sale.id).await;
    assert!(rows.iter().any(|(id, _, _)| *id == order_id), "{rows:?}");
    let books = second.books(sale.id).await;
    assert_eq!((books.stock_left, books.drift), (4, 0));
}

#[tokio::test]
async fn a_buy_held_up_by_a_frozen_redis_is_answered_503_in_time_and_its_retry_gets_one_order() {
    let redis = PrivateRedis::start(Persistence::None).unwrap();
    let on_private = systests::on_redis(redis.url());
    let app = spawn_app_with(move |config| server::config::Config {
        request_timeout: Duration::from_millis(500),
        ..on_private(config)
    })
    .await;
    let sale = app
        .create_sale(&systests::sale_starting_in(-1_000, 5))
        .await;
    let alice = app.register("alice").await;
    let grant: app::api::TicketGrant = alice.ticket(sale.id).await.json().await.unwrap();

    // Redis stops answering (a stuck primary) for 3 s under the buy.
    redis.freeze();
    let thaw = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        redis.thaw();
        redis
    });
    let started = std::time::Instant::now();
    let response = alice.post(&grant.buy_path, serde_json::json!({})).await;
    let waited = started.elapsed();
    assert_eq!(response.status(), 503, "answered at the time limit");
    assert!(response.headers().contains_key("retry-after"));
    // Not at the 2 s the Redis client itself gives up after, nor when Redis woke.
    assert!(
        waited < Duration::from_millis(1_500),
        "answered at the limit: {waited:?}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::Unavailable);

    let _redis = thaw.await.unwrap();
    // The shopper's client retries the same ticket: one order, whatever the
    // dropped request had done before it was cut off.
    let retry = alice.post(&grant.buy_path, serde_json::json!({})).await;
    assert_eq!(retry.status(), 202);
    app.drain(sale.id).await;
    assert_eq!(app.order_rows(sale.id).await.len(), 1);
    let books = app.books(sale.id).await;
    assert_eq!((books.stock_left, books.drift), (4, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_redis_restarts_every_instance_hears_sold_out_notices_again() {
    let mut redis = PrivateRedis::start(Persistence::AofAlways).unwrap();
    let on_private = systests::on_redis(redis.url());
    let first = spawn_app_with(on_private.clone()).await;
    // The second instance's flag must not lapse by itself (2 s on its clock):
    // its clock is turned back once the flag is set, so only a notice clears it.
    let clock = server::clock::ShiftedClock::default();
    let second = first
        .another_instance_on(on_private, std::sync::Arc::new(clock.clone()))
        .await;
    let sale = first
        .create_sale(&systests::sale_starting_in(-120_000, 1))
        .await;
    let alice = first.register("alice").await;
    let bob = second.register("bob").await;
    let channel = first.state().stock.keys().notice_channel();
    let redis_url = redis.url();
    let subscribers = || async {
        let client = redis::Client::open(redis_url.as_str()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let (_, count): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async(&mut connection)
            .await
            .unwrap();
        count
    };
    let both_subscribed = || async {
        for _ in 0..100 {
            if subscribers().await == 2 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(both_subscribed().await, "both instances listen");

    redis.kill();
    redis.restart().unwrap();
    assert_eq!(
        subscribers().await,
        0,
        "a restarted Redis knows no subscriber"
    );
    assert!(
        both_subscribed().await,
        "both instances subscribed again within 10 s"
    );

    // Each instance's first command after the restart may meet the old link.
    let bought = buy_past_503s(&alice, sale.id).await;
    assert_eq!(bought.0, 202, "{bought:?}");
    let order_id = bought.1["order_id"].as_str().unwrap().to_owned();
    let (status, body) = buy_past_503s(&bob, sale.id).await;
    assert_eq!((status, error_code(&body)), (410, ErrorCode::SoldOut));
    clock.advance(-60_000);
    first.drain(sale.id).await;
    assert_eq!(alice.order_action(&order_id, "cancel").await.status(), 200);
    let mut answer = 0;
    for _ in 0..30 {
        answer = bob.buy(sale.id).await.0;
        if answer == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer, 202, "the notice reached the second instance");
}

/// A buy, tried again while the instance answers 503 (up to 5 s).
async fn buy_past_503s(shopper: &systests::Shopper, sale_id: i64) -> (u16, serde_json::Value) {
    let mut answer = (0, serde_json::Value::Null);
    for _ in 0..50 {
        answer = shopper.buy(sale_id).await;
        if answer.0 != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    answer
}

#[tokio::test]
async fn a_redis_that_comes_back_empty_ends_every_session_at_once() {
    // Instances keep the sessions they read; a Redis restarted without its data
    // must still log everyone out (docs/DESIGN.md), not after the copies lapse.
    let mut redis = PrivateRedis::start(Persistence::None).unwrap();
    let app = spawn_app_with(systests::on_redis(redis.url())).await;
    let alice = app.register("alice").await;
    assert_eq!(alice.get("/api/auth/me").await.status(), 200);

    redis.kill();
    redis.restart().unwrap();
    let mut status = 0;
    for _ in 0..50 {
        status = alice.get("/api/auth/me").await.status().as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "the session Redis lost is gone within 5 s");
}

#[tokio::test]
async fn metrics_can_move_to_an_internal_address_and_leave_the_public_one() {
    // A free port for the internal address.
    let internal = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = spawn_app_with(move |mut config| {
        config.metrics_addr = Some(internal);
        config
    })
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(
        app.get("/metrics").await.status(),
        404,
        "the public address no longer shows the metrics"
    );
    let inside = app
        .client
        .get(format!("http://{internal}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(inside.status(), 200);
    let text = inside.text().await.unwrap();
    assert!(
        text.contains(
            r#"flashsale_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "the internal address shows the public one's counts: {text}"
    );
}
