//! Redis loses its data (restarted empty, or a failover to a replica that missed
//! writes): every sale it held is rebuilt from Postgres, once, and the sale goes
//! on selling exactly what is left.

use app::api::{ErrorCode, SaleStatus};
use systests::{error_code, sale_starting_in, TestApp};

/// Deletes every key of the sale (its hash tag): what a Redis that came back
/// empty no longer has.
async fn lose_sale(app: &TestApp, sale_id: i64) {
    let mut redis = systests::redis_connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}{{s:{sale_id}}}:*", app.redis_prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: i64 = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sale_redis_lost_is_rebuilt_from_postgres_and_sells_exactly_the_rest() {
    let app = systests::spawn_app_with(|mut config| {
        config.rebuying.cooldown_ms = 2_000;
        config
    })
    .await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 6)).await;
    let mut shoppers = Vec::new();
    for name in ["ann", "ben", "cat", "dan", "eve", "fay", "gus"] {
        shoppers.push(app.register(name).await);
    }
    let mut first_orders = Vec::new();
    for shopper in &shoppers[..3] {
        let (status, body) = shopper.buy(sale.id).await;
        assert_eq!(status, 202, "{body}");
        first_orders.push(body["order_id"].as_str().unwrap().to_owned());
    }
    app.drain(sale.id).await;
    // Ann cancels: her unit is back, and she waits before buying again.
    assert_eq!(
        shoppers[0]
            .order_action(&first_orders[0], "cancel")
            .await
            .status(),
        200
    );

    lose_sale(&app, sale.id).await;

    let status: SaleStatus = app
        .get(&format!("/api/sales/{}/status", sale.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status.stock_left, 4, "6 units, 2 held by Ben and Cat");
    let (code, body) = shoppers[1].buy(sale.id).await;
    assert_eq!(
        (code, error_code(&body)),
        (409, ErrorCode::LimitReached),
        "Ben still holds his unit"
    );
    let (code, body) = shoppers[0].buy(sale.id).await;
    assert_eq!(
        (code, error_code(&body)),
        (429, ErrorCode::RateLimited),
        "Ann's cool-down after her cancel is rebuilt too: {body}"
    );
    for shopper in &shoppers[3..6] {
        let (code, body) = shopper.buy(sale.id).await;
        assert_eq!(code, 202, "{body}");
    }
    // Once her cool-down is over, Ann buys the last unit.
    let mut again = (0, serde_json::Value::Null);
    for _ in 0..40 {
        again = shoppers[0].buy(sale.id).await;
        if again.0 != 429 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(again.0, 202, "{again:?}");
    let (code, body) = shoppers[6].buy(sale.id).await;
    assert_eq!((code, error_code(&body)), (410, ErrorCode::SoldOut));

    app.drain(sale.id).await;
    // Ann's second order did not collide with her first (sequence numbers were
    // rebuilt too): seven rows, six of them active, nothing dead-lettered.
    let rows = app.order_rows(sale.id).await;
    assert_eq!(rows.len(), 7, "{rows:?}");
    let books = app.books(sale.id).await;
    assert_eq!(
        (books.stock_left, books.pending_units, books.drift),
        (0, 6, 0)
    );
    let letters = app.dead_letters().await;
    assert!(letters.is_empty(), "{letters:?}");
}

#[tokio::test]
async fn a_buy_is_the_first_to_notice_and_units_owed_back_return_once_after_the_rebuild() {
    // The sweeper waits: the test runs it when it means to.
    let app = systests::spawn_app_with(|mut config| {
        config.sweep_every = std::time::Duration::from_secs(3_600);
        config
    })
    .await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    let mut shoppers = Vec::new();
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        shoppers.push(app.register(name).await);
    }
    let (_, ann_order) = shoppers[0].buy(sale.id).await;
    assert_eq!(shoppers[1].buy(sale.id).await.0, 202);
    app.drain(sale.id).await;
    // Ann's order expired; the sweeper has not given her unit back yet.
    sqlx::query("update orders set status = 'expired', closed_at = now() where id = $1")
        .bind(ann_order["order_id"].as_str().unwrap())
        .execute(&app.db)
        .await
        .unwrap();

    lose_sale(&app, sale.id).await;

    // The first to notice is a buy: the sale is rebuilt and it goes through.
    assert_eq!(shoppers[2].buy(sale.id).await.0, 202, "1 of 3 was left");
    let (code, body) = shoppers[3].buy(sale.id).await;
    assert_eq!(
        (code, error_code(&body)),
        (410, ErrorCode::SoldOut),
        "{body}"
    );
    // Ann's unit comes back once, after the rebuild counted it as still owed.
    let swept = app.state().sweeper.sweep_once().await.unwrap();
    assert_eq!(swept.returned, 1);
    assert_eq!(app.state().sweeper.sweep_once().await.unwrap().returned, 0);
    assert_eq!(shoppers[4].buy_until_won(sale.id).await, 202);

    app.drain(sale.id).await;
    let books = app.books(sale.id).await;
    assert_eq!(
        (books.stock_left, books.pending_units, books.drift),
        (0, 3, 0)
    );
}
