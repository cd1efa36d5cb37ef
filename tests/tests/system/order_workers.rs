//! The order consumer and the expiry sweeper under the failures they exist for:
//! redelivery, a worker dying mid-batch, overdue payments, racing sweepers.

use app::api::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

use redis::streams::StreamRangeReply;
use server::clock::ShiftedClock;
use server::orders::consumer::{ConsumerSettings, OrderConsumer};
use systests::{error_code, sale_starting_in, spawn_app_with, spawn_app_with_clock, TestApp};

/// An app whose background workers are off, so the test drives them.
async fn app_without_workers() -> TestApp {
    spawn_app_with(|mut config| {
        config.workers = false;
        config
    })
    .await
}

fn consumer(app: &TestApp, name: &str, min_idle: Duration) -> OrderConsumer {
    let state = app.state();
    OrderConsumer::new(
        state.db.clone(),
        state.redis.clone(),
        systests::redis_client(),
        state.stock.clone(),
        name.into(),
        ConsumerSettings {
            min_idle,
            ..ConsumerSettings::default()
        },
    )
}

/// `count` shoppers each win one unit of `sale_id` over HTTP.
async fn win(app: &TestApp, sale_id: i64, count: usize) -> Vec<String> {
    let mut orders = Vec::new();
    for n in 0..count {
        let shopper = app.register(&format!("shopper{n}")).await;
        let (status, body) = shopper.buy(sale_id).await;
        assert_eq!(status, 202, "{body}");
        orders.push(body["order_id"].as_str().unwrap().to_owned());
    }
    orders
}

/// Every one of `orders` is a row, nothing waits in Redis, the books balance.
async fn assert_every_order_landed(app: &TestApp, sale_id: i64, orders: &[String]) {
    let rows = app.order_rows(sale_id).await;
    for order in orders {
        assert!(
            rows.iter().any(|(id, _, _)| id == order),
            "order {order} lost"
        );
    }
    let books = app.books(sale_id).await;
    assert_eq!((books.queued_units, books.drift), (0, 0));
}

#[tokio::test]
async fn a_message_delivered_twice_makes_one_order() {
    let app = app_without_workers().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    win(&app, sale.id, 1).await;
    let stream = format!("{}{{s:{}}}:orders", app.redis_prefix, sale.id);
    let entries: StreamRangeReply = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut systests::redis_connection().await)
        .await
        .unwrap();
    assert_eq!(entries.ids.len(), 1);

    let worker = consumer(&app, "w1", Duration::from_secs(30));
    let first = worker.persist(sale.id, &entries.ids).await.unwrap();
    let second = worker.persist(sale.id, &entries.ids).await.unwrap();
    assert_eq!((first.persisted, second.persisted), (1, 1));
    assert_eq!(
        app.order_rows(sale.id).await.len(),
        1,
        "the redelivery made no second row"
    );
    assert_eq!(app.books(sale.id).await.drift, 0);
}

#[tokio::test]
async fn messages_of_a_dead_worker_are_reclaimed_by_another_without_loss_or_doubling() {
    let app = app_without_workers().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 10)).await;
    let orders = win(&app, sale.id, 6).await;
    let stream = format!("{}{{s:{}}}:orders", app.redis_prefix, sale.id);

    // A worker reads the messages, then dies before acknowledging any.
    let mut connection = systests::redis_connection().await;
    let read: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("orders")
        .arg("dead-worker")
        .arg("COUNT")
        .arg(100)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(read.keys[0].ids.len(), 6);

    // A live worker sees nothing new, but reclaims what has been idle too long.
    let survivor = OrderConsumer::new(
        app.state().db.clone(),
        app.state().redis.clone(),
        systests::redis_client(),
        app.state().stock.clone(),
        "survivor".into(),
        ConsumerSettings {
            min_idle: Duration::ZERO,
            departed_after: Duration::ZERO,
            ..ConsumerSettings::default()
        },
    );
    let mut own = survivor.dedicated_connection().await.unwrap();
    assert_eq!(
        survivor
            .read_once(&mut own, &[sale.id])
            .await
            .unwrap()
            .persisted,
        0
    );
    let reclaimed = survivor.reclaim_once(sale.id).await.unwrap();
    assert_eq!(reclaimed.persisted, 6);
    assert_eq!(
        survivor.reclaim_once(sale.id).await.unwrap().persisted,
        0,
        "nothing left pending"
    );
    // Holding nothing any more, the dead worker's name has left the group.
    let members: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&stream)
        .arg("orders")
        .query_async(&mut connection)
        .await
        .unwrap();
    let names: Vec<&str> = members
        .consumers
        .iter()
        .map(|member| member.name.as_str())
        .collect();
    assert_eq!(names, ["survivor"]);

    assert_eq!(app.order_rows(sale.id).await.len(), 6);
    assert_every_order_landed(&app, sale.id, &orders).await;
}

#[tokio::test]
async fn a_message_that_keeps_failing_goes_to_the_dead_letters_and_can_be_retried() {
    let app = app_without_workers().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    let orders = win(&app, sale.id, 1).await;
    // The order cannot be inserted while its buyer is gone from Postgres.
    let (buyer, hash): (i64, String) =
        sqlx::query_as("delete from users where username = 'shopper0' returning id, password_hash")
            .fetch_one(&app.db)
            .await
            .unwrap();

    let worker = consumer(&app, "w", Duration::ZERO);
    let mut own = worker.dedicated_connection().await.unwrap();
    // A broken rule (the buyer's foreign key) cannot heal by retrying: it is
    // dead-lettered at once, not after five deliveries.
    let read = worker.read_once(&mut own, &[sale.id]).await.unwrap();
    assert_eq!((read.failed, read.dead_lettered), (0, 1));
    let mut dead = 0;
    for _ in 0..10 {
        dead += worker.reclaim_once(sale.id).await.unwrap().dead_lettered;
    }
    assert_eq!(dead, 0, "nothing of it is left pending");

    let admin = app.admin().await;
    let letters: serde_json::Value = admin
        .get("/api/admin/dead-letters")
        .await
        .json()
        .await
        .unwrap();
    let letter = &letters[0];
    assert_eq!(letter["sale_id"], sale.id);
    assert_eq!(letter["payload"]["order_id"], orders[0].as_str());
    assert!(letter["deliveries"].as_i64().unwrap() >= 1);
    assert!(
        letter["last_error"]
            .as_str()
            .unwrap()
            .contains("orders_user_id_fkey"),
        "{letter}"
    );

    // Still broken: the retry fails and the letter stays.
    let id = letter["id"].as_str().unwrap();
    let retry = admin
        .post(
            &format!("/api/admin/dead-letters/{id}/retry"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(retry.status(), 409);
    // Fixed: the retry goes through the same idempotent insert.
    sqlx::query("insert into users (id, username, password_hash) overriding system value values ($1, 'shopper0', $2)")
        .bind(buyer)
        .bind(hash)
        .execute(&app.db)
        .await
        .unwrap();
    let retry = admin
        .post(
            &format!("/api/admin/dead-letters/{id}/retry"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(retry.status(), 200);
    assert_eq!(app.order_rows(sale.id).await.len(), 1);
    let letters: serde_json::Value = admin
        .get("/api/admin/dead-letters")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(letters.as_array().unwrap().len(), 0);
    assert_eq!(app.books(sale.id).await.drift, 0);
}

#[tokio::test]
async fn unpaid_orders_expire_and_return_their_unit_exactly_once() {
    let clock = ShiftedClock::default();
    let app = spawn_app_with_clock(
        |mut config| {
            config.workers = false;
            config
        },
        Arc::new(clock.clone()),
    )
    .await;
    let mut new_sale = sale_starting_in(-1_000, 2);
    new_sale.payment_window_secs = 60;
    let sale = app.create_sale(&new_sale).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let (_, body) = alice.buy(sale.id).await;
    let alice_order = body["order_id"].as_str().unwrap().to_owned();
    let (_, body) = bob.buy(sale.id).await;
    let bob_order = body["order_id"].as_str().unwrap().to_owned();
    assert_eq!(carol.buy(sale.id).await.0, 410, "sold out");
    let worker = consumer(&app, "w", Duration::from_secs(30));
    let mut own = worker.dedicated_connection().await.unwrap();
    assert_eq!(
        worker
            .read_once(&mut own, &[sale.id])
            .await
            .unwrap()
            .persisted,
        2
    );

    // Bob pays in time; then the payment window passes.
    assert_eq!(bob.order_action(&bob_order, "pay").await.status(), 200);
    clock.advance(61_000);
    let late = alice.order_action(&alice_order, "pay").await;
    assert_eq!(late.status(), 409);
    let body: serde_json::Value = late.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::Expired);

    // Two sweepers at once (two instances): one unit comes back, once.
    let sweeper = app.state().sweeper.clone();
    let (first, second) = tokio::join!(sweeper.sweep_once(), sweeper.sweep_once());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.expired + second.expired, 1);
    assert_eq!(first.returned + second.returned, 1);
    assert_eq!(
        sweeper.sweep_once().await.unwrap().returned,
        0,
        "a later sweep returns nothing more"
    );
    let books = app.books(sale.id).await;
    assert_eq!((books.stock_left, books.drift), (1, 0));
    let order: app::api::Order = alice
        .get(&format!("/api/orders/{alice_order}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order.status, app::api::OrderStatus::Expired);

    // Even if the return script runs again (a crash before recording it), nothing doubles.
    assert_eq!(
        app.state()
            .stock
            .give_back(
                sale.id,
                &alice_order,
                alice.user_id,
                1,
                server::sales::stock::ReturnedBy::Buyer
            )
            .await
            .unwrap(),
        server::sales::stock::Returned::Before
    );
    assert_eq!(app.books(sale.id).await.stock_left, 1);

    // The returned unit can be won.
    let status = carol.buy_until_won(sale.id).await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn a_cancel_returns_its_own_units_and_leaves_the_rest_to_the_sweeper() {
    // Orders persist as usual; the sweeper waits an hour, so only the cancel
    // itself can move units back.
    let app = spawn_app_with(|mut config| {
        config.sweep_every = Duration::from_secs(3_600);
        config
    })
    .await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 2)).await;
    let (first_buyer, second_buyer) = (app.register("first").await, app.register("second").await);
    let mut orders = Vec::new();
    for buyer in [&first_buyer, &second_buyer] {
        let (status, body) = buyer.buy(sale.id).await;
        assert_eq!(status, 202, "{body}");
        orders.push(body["order_id"].as_str().unwrap().to_owned());
    }
    app.drain(sale.id).await;
    // The sweeper has marked the first order expired but not returned its unit yet.
    sqlx::query("update orders set status = 'expired', closed_at = now() where id = $1")
        .bind(&orders[0])
        .execute(&app.db)
        .await
        .unwrap();

    let cancelled = second_buyer.order_action(&orders[1], "cancel").await;
    assert_eq!(cancelled.status(), 200);

    let books = app.books(sale.id).await;
    assert_eq!(
        (books.stock_left, books.owed_units),
        (1, 1),
        "the cancel gave back its own unit only; the expired one is still owed"
    );
    let returned: Vec<(String, bool)> =
        sqlx::query_as("select id, stock_returned from orders where sale_id = $1 order by id")
            .bind(sale.id)
            .fetch_all(&app.db)
            .await
            .unwrap();
    for (id, stock_returned) in returned {
        assert_eq!(stock_returned, id == orders[1], "{id}");
    }
    assert_eq!(books.drift, 0);
}

/// The stream entries of a sale, oldest first.
async fn stream_entries(app: &TestApp, sale_id: i64) -> Vec<redis::streams::StreamId> {
    let stream = format!("{}{{s:{sale_id}}}:orders", app.redis_prefix);
    let entries: StreamRangeReply = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut systests::redis_connection().await)
        .await
        .unwrap();
    entries.ids
}

#[tokio::test]
async fn another_order_under_the_same_buyer_and_sequence_is_kept_as_a_dead_letter_not_acknowledged()
{
    let app = app_without_workers().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    let order = win(&app, sale.id, 1).await.remove(0);
    // A row from before Redis lost its data holds (sale, buyer, seq 1) already.
    let buyer: i64 = sqlx::query_scalar("select id from users where username = 'shopper0'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "insert into orders (id, sale_id, user_id, seq, units, price_cents, status, stream_message_id,
                             created_at, pay_before)
         values ($1, $2, $3, 1, 1, 1000, 'pending_payment', '1-0', now(), now() + interval '15 minutes')",
    )
    .bind(format!("{}-{}", sale.id, "0".repeat(32)))
    .bind(sale.id)
    .bind(buyer)
    .execute(&app.db)
    .await
    .unwrap();

    let worker = consumer(&app, "w", Duration::ZERO);
    let read = worker
        .persist(sale.id, &stream_entries(&app, sale.id).await)
        .await
        .unwrap();
    assert_eq!((read.persisted, read.dead_lettered), (0, 1), "{read:?}");
    let rows = app.order_rows(sale.id).await;
    assert!(
        rows.iter().all(|(id, _, _)| *id != order),
        "no row claims the new order"
    );
    let letters = app.dead_letters().await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].payload["order_id"], order);
    assert!(
        letters[0].last_error.contains("orders_sale_user_seq_key"),
        "{}",
        letters[0].last_error
    );
}

#[tokio::test]
async fn while_postgres_is_away_orders_wait_without_dead_letters_and_persist_after() {
    let app = app_without_workers().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    let orders = win(&app, sale.id, 3).await;
    // A worker whose Postgres does not answer (nothing listens on port 1).
    let unreachable = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(200))
        .connect_lazy("postgres://postgres@127.0.0.1:1/gone")
        .unwrap();
    let state = app.state();
    let cut_off = OrderConsumer::new(
        unreachable,
        state.redis.clone(),
        systests::redis_client(),
        state.stock.clone(),
        "cut-off".into(),
        ConsumerSettings {
            min_idle: Duration::ZERO,
            max_deliveries: 2,
            ..ConsumerSettings::default()
        },
    );
    let mut own = cut_off.dedicated_connection().await.unwrap();
    let read = cut_off.read_once(&mut own, &[sale.id]).await.unwrap();
    assert_eq!((read.failed, read.dead_lettered), (3, 0));
    for _ in 0..6 {
        let again = cut_off.reclaim_once(sale.id).await.unwrap();
        assert_eq!(
            (again.failed, again.dead_lettered),
            (3, 0),
            "an outage is no reason to give up"
        );
    }

    // Postgres is back (a worker that reaches it): every order lands.
    let worker = consumer(&app, "back", Duration::ZERO);
    assert_eq!(worker.reclaim_once(sale.id).await.unwrap().persisted, 3);
    assert_every_order_landed(&app, sale.id, &orders).await;
}

#[tokio::test]
async fn persisted_messages_leave_the_stream_and_statements_are_bounded() {
    let app = spawn_app_with(|config| config).await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 5)).await;
    win(&app, sale.id, 3).await;
    app.drain(sale.id).await;
    assert_eq!(app.order_rows(sale.id).await.len(), 3);
    let stream = format!("{}{{s:{}}}:orders", app.redis_prefix, sale.id);
    let length: i64 = redis::cmd("XLEN")
        .arg(&stream)
        .query_async(&mut systests::redis_connection().await)
        .await
        .unwrap();
    assert_eq!(
        length, 0,
        "the stream holds the backlog only, not every order ever"
    );

    // No query of the application can hold a connection for long.
    let (statement, lock): (String, String) = sqlx::query_as(
        "select current_setting('statement_timeout'), current_setting('lock_timeout')",
    )
    .fetch_one(&app.state().db)
    .await
    .unwrap();
    assert_eq!((statement.as_str(), lock.as_str()), ("5s", "2s"));
}

#[tokio::test]
async fn releasing_a_dead_letter_puts_its_unit_back_on_sale_exactly_once() {
    let app = app_without_workers().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 1)).await;
    win(&app, sale.id, 1).await;
    // The buyer is gone from Postgres: the order can never be stored.
    sqlx::query("delete from users where username = 'shopper0'")
        .execute(&app.db)
        .await
        .unwrap();
    let worker = consumer(&app, "w", Duration::ZERO);
    let mut own = worker.dedicated_connection().await.unwrap();
    assert_eq!(
        worker
            .read_once(&mut own, &[sale.id])
            .await
            .unwrap()
            .dead_lettered,
        1
    );
    assert_eq!(app.books(sale.id).await.stock_left, 0);

    let admin = app.admin().await;
    let letters: Vec<app::api::DeadLetter> = admin
        .get("/api/admin/dead-letters")
        .await
        .json()
        .await
        .unwrap();
    let release = format!("/api/admin/dead-letters/{}/release", letters[0].id);
    assert_eq!(
        admin.post(&release, serde_json::json!({})).await.status(),
        200
    );
    assert_eq!(
        admin.post(&release, serde_json::json!({})).await.status(),
        404,
        "a letter is released once"
    );
    let books = app.books(sale.id).await;
    assert_eq!(
        (
            books.stock_left,
            books.queued_units,
            books.buyer_units,
            books.drift
        ),
        (1, 0, 0, 0),
        "the unit is back on sale, nothing is queued or held"
    );
    let next = app.register("next").await;
    assert_eq!(
        next.buy(sale.id).await.0,
        202,
        "and someone else can buy it"
    );
}

/// Milliseconds `key` has left to live (-1: no expiry, -2: gone).
async fn time_to_live(key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut systests::redis_connection().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_settled_sale_lets_its_redis_keys_expire_and_an_open_one_keeps_them() {
    let app = spawn_app_with(|config| config).await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    let mut long = sale_starting_in(-1_000, 3);
    long.ends_at_ms += 7 * 24 * 3_600_000;
    let open = app.create_sale(&long).await;
    win(&app, sale.id, 2).await;
    app.drain(sale.id).await;
    let keys = app.state().stock.keys().clone();

    // Three hours on: the sale and its payment window are over.
    let clock = ShiftedClock::default();
    clock.advance(3 * 3_600_000);
    let sweeper = server::orders::expiry::ExpirySweeper::new(
        app.db.clone(),
        app.state().stock.clone(),
        Arc::new(clock),
    );
    // Two orders still unpaid: not settled, nothing may expire.
    assert_eq!(sweeper.retire_settled().await.unwrap(), 0);
    assert_eq!(time_to_live(&keys.stock(sale.id)).await, -1);

    let swept = sweeper.sweep_once().await.unwrap();
    assert_eq!((swept.expired, swept.returned), (2, 2));
    assert_eq!(sweeper.retire_settled().await.unwrap(), 1);
    let day = server::orders::expiry::RETIRED_LINGER.as_millis() as i64;
    for key in [
        keys.stock(sale.id),
        keys.meta(sale.id),
        keys.seqs(sale.id),
        keys.returned(sale.id),
    ] {
        let ttl = time_to_live(&key).await;
        assert!(ttl > 0 && ttl <= day, "{key} lives {ttl} ms");
    }
    assert_eq!(
        time_to_live(&keys.stock(open.id)).await,
        -1,
        "a sale still open keeps its keys"
    );
}
