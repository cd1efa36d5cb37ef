//! The admin API: who may use it, and what it does to a sale.

use app::api::ErrorCode;
use systests::{error_code, sale_starting_in, spawn_app, spawn_app_with};

pub(super) fn draft(starts_in_ms: i64, stock: i32) -> serde_json::Value {
    let starts = server::clock::now_ms() + starts_in_ms;
    serde_json::json!({
        "title": "Limited sneakers",
        "description": "<script>alert(1)</script>",
        "image_url": "",
        "price_cents": 5_000,
        "list_price_cents": 15_000,
        "stock": stock,
        "per_user_limit": 1,
        "starts_at_ms": starts,
        "ends_at_ms": starts + 3_600_000,
        "payment_window_secs": 600,
        "captcha": "none"
    })
}

#[tokio::test]
async fn every_admin_endpoint_refuses_anonymous_and_shoppers() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(60_000, 3)).await;
    let shopper = app.register("shopper").await;
    let admin = app.admin().await;
    let id = sale.id;
    let endpoints: Vec<(&str, String)> = vec![
        ("POST", "/api/admin/sales".into()),
        ("GET", "/api/admin/sales".into()),
        ("GET", "/api/admin/sale-defaults".into()),
        ("PATCH", format!("/api/admin/sales/{id}")),
        ("GET", format!("/api/admin/sales/{id}")),
        ("POST", format!("/api/admin/sales/{id}/pause")),
        ("POST", format!("/api/admin/sales/{id}/resume")),
        ("GET", format!("/api/admin/sales/{id}/stats")),
        ("GET", format!("/api/admin/sales/{id}/reconcile")),
        ("GET", format!("/api/admin/sales/{id}/orders")),
        ("GET", "/api/admin/dead-letters".into()),
        ("POST", "/api/admin/dead-letters/1-0/retry".into()),
    ];
    for (method, path) in &endpoints {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = if path == "/api/admin/sales" {
            draft(60_000, 2)
        } else {
            serde_json::json!({})
        };
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{method} {path} anonymous");
        let as_shopper = shopper
            .client
            .request(method.clone(), shopper.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(as_shopper.status(), 403, "{method} {path} as a shopper");
        assert_eq!(
            error_code(&as_shopper.json::<serde_json::Value>().await.unwrap()),
            ErrorCode::Forbidden
        );
        let as_admin = admin
            .client
            .request(method.clone(), admin.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            as_admin.status().is_success() || as_admin.status() == 404,
            "{method} {path} as admin: {}",
            as_admin.status()
        );
    }
}

#[tokio::test]
async fn an_admin_schedules_edits_and_pauses_a_sale() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let created = admin.post("/api/admin/sales", draft(60_000, 3)).await;
    assert_eq!(created.status(), 201);
    let sale: app::api::Sale = created.json().await.unwrap();
    assert_eq!(
        app.books(sale.id).await.stock_left,
        3,
        "stock is in Redis before the start"
    );

    let patch = |body: serde_json::Value| {
        let client = admin.client.clone();
        let url = admin.url(&format!("/api/admin/sales/{}", sale.id));
        async move { client.patch(url).json(&body).send().await.unwrap() }
    };
    let edited = patch(serde_json::json!({ "stock": 7, "title": "Sneakers, 7 pairs" })).await;
    assert_eq!(edited.status(), 200);
    let edited: app::api::Sale = edited.json().await.unwrap();
    assert_eq!(
        (edited.stock, edited.title.as_str()),
        (7, "Sneakers, 7 pairs")
    );
    assert_eq!(app.books(sale.id).await.stock_left, 7);
    assert_eq!(patch(serde_json::json!({ "stock": 0 })).await.status(), 422);
    assert_eq!(
        patch(serde_json::json!({ "ends_at_ms": 1 })).await.status(),
        422
    );
    assert_eq!(
        patch(serde_json::json!({ "colour": "red" })).await.status(),
        422
    );

    let paused = admin
        .post(
            &format!("/api/admin/sales/{}/pause", sale.id),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(paused.status(), 200);
    let status = app.status(sale.id).await;
    assert_eq!(status.state, app::api::SaleState::Paused);
    admin
        .post(
            &format!("/api/admin/sales/{}/resume", sale.id),
            serde_json::json!({}),
        )
        .await;
    let status = app.status(sale.id).await;
    assert_eq!(status.state, app::api::SaleState::Scheduled);

    // What an admin types is text: the shopper page shows it inert.
    let html = app
        .get(&format!("/sales/{}", sale.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn stock_and_times_are_frozen_once_the_sale_started() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    let response = admin
        .client
        .patch(admin.url(&format!("/api/admin/sales/{}", sale.id)))
        .json(&serde_json::json!({ "stock": 300 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(
        error_code(&response.json::<serde_json::Value>().await.unwrap()),
        ErrorCode::AlreadyStarted
    );
    assert_eq!(app.books(sale.id).await.stock_left, 3);
}

#[tokio::test]
async fn bad_drafts_are_refused_whole() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (field, value) in [
        ("stock", serde_json::json!(0)),
        ("per_user_limit", serde_json::json!(0)),
        ("price_cents", serde_json::json!(-1)),
        ("title", serde_json::json!("")),
        ("captcha", serde_json::json!("recaptcha")),
        ("payment_window_secs", serde_json::json!(0)),
        ("currency", serde_json::json!("XYZ")),
        ("currency", serde_json::json!("usd")),
    ] {
        let mut body = draft(60_000, 2);
        body[field] = value;
        let response = admin.post("/api/admin/sales", body).await;
        assert_eq!(response.status(), 422, "{field}");
    }
    let sales: i64 = sqlx::query_scalar("select count(*) from sales")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(sales, 0);
}

#[tokio::test]
async fn stats_show_what_happened_and_no_drift() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 2)).await;
    for name in ["ann", "ben", "cat"] {
        app.register(name).await.buy(sale.id).await;
    }
    app.drain(sale.id).await;
    let stats: app::api::SaleStats = admin
        .get(&format!("/api/admin/sales/{}/stats", sale.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (stats.stock, stats.stock_left, stats.pending_payment),
        (2, 0, 2)
    );
    assert_eq!(stats.attempts, 3);
    assert_eq!(stats.rejected[ErrorCode::SoldOut.as_str()], 1);
    assert_eq!(stats.drift, 0);
    let orders: Vec<app::api::SaleOrder> = admin
        .get(&format!("/api/admin/sales/{}/orders", sale.id))
        .await
        .json()
        .await
        .unwrap();
    // Each with its buyer: the two who won, not the one too late.
    let mut buyers: Vec<&str> = orders.iter().map(|row| row.buyer.as_str()).collect();
    buyers.sort_unstable();
    assert_eq!(buyers, ["ann", "ben"]);
}

#[tokio::test]
async fn stats_on_any_instance_count_the_attempts_of_every_instance() {
    let first = spawn_app().await;
    let sale = first.create_sale(&sale_starting_in(-1_000, 3)).await;
    let second = first.another_instance(|config| config).await;
    // One buy on the first instance, two on the second.
    assert_eq!(first.register("ann").await.buy(sale.id).await.0, 202);
    assert_eq!(second.register("ben").await.buy(sale.id).await.0, 202);
    assert_eq!(second.register("cat").await.buy(sale.id).await.0, 202);

    for app in [&first, &second] {
        let admin = app.admin().await;
        let mut stats: Option<app::api::SaleStats> = None;
        // The other instance adds its counts to Redis' within half a second.
        for _ in 0..30 {
            let now: app::api::SaleStats = admin
                .get(&format!("/api/admin/sales/{}/stats", sale.id))
                .await
                .json()
                .await
                .unwrap();
            let done = now.attempts == 3;
            stats = Some(now);
            if done {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let stats = stats.unwrap();
        assert_eq!(stats.attempts, 3, "{stats:?}");
        assert!(stats.rejected.is_empty(), "{stats:?}");
    }
}

#[tokio::test]
async fn an_instance_whose_clock_lags_cannot_change_stock_once_redis_says_the_sale_started() {
    // This instance's clock is 5 s behind Redis' (the reserve's clock).
    let clock = server::clock::ShiftedClock::default();
    clock.advance(-5_000);
    let app = systests::spawn_app_with_clock(|config| config, std::sync::Arc::new(clock)).await;
    let admin = app.admin().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    let edit = admin
        .client
        .patch(admin.url(&format!("/api/admin/sales/{}", sale.id)))
        .json(&serde_json::json!({ "stock": 50 }))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 409, "by Redis' clock the sale is live");
    assert_eq!(
        error_code(&edit.json::<serde_json::Value>().await.unwrap()),
        ErrorCode::AlreadyStarted
    );
    let stored = app.catalog.sale(sale.id).await.unwrap().unwrap();
    let books = app.books(sale.id).await;
    assert_eq!(
        (stored.stock, books.stock_left),
        (3, 3),
        "neither side changed"
    );
}

#[tokio::test]
async fn an_edit_cut_short_between_redis_and_the_commit_is_undone_from_postgres() {
    // Workers off: the test runs the upkeep itself.
    let app = systests::spawn_app_with(|mut config| {
        config.workers = false;
        config
    })
    .await;
    let sale = app.create_sale(&sale_starting_in(60_000, 10)).await;
    // What an instance dying mid-edit leaves: Redis took the new stock and
    // limit, Postgres never committed them.
    let lost_edit = app::api::Sale {
        stock: 50,
        per_user_limit: 3,
        ..sale.clone()
    };
    let state = app.state();
    assert_eq!(
        state.stock.load_unstarted(&lost_edit).await.unwrap(),
        server::sales::stock::Loaded::Loaded
    );
    assert_eq!(app.books(sale.id).await.stock_left, 50);

    assert_eq!(app.catalog.settle_interrupted_edits().await.unwrap(), 1);
    assert_eq!(
        app.books(sale.id).await.stock_left,
        10,
        "Redis agrees with Postgres again"
    );
    assert_eq!(app.catalog.settle_interrupted_edits().await.unwrap(), 0);

    // After the start only a pause can differ; it is put right the same way.
    let live = app.create_sale(&sale_starting_in(-1_000, 4)).await;
    state
        .stock
        .load_rules(&app::api::Sale {
            paused: true,
            ..live.clone()
        })
        .await
        .unwrap();
    assert_eq!(app.catalog.settle_interrupted_edits().await.unwrap(), 1);
    let shopper = app.register("after-the-pause").await;
    let (status, body) = shopper.buy(live.id).await;
    assert_eq!(
        status, 202,
        "not paused in Postgres, so not in Redis: {body}"
    );
}

#[tokio::test]
async fn a_sale_and_its_orders_carry_the_currency_the_admin_or_the_shop_chose() {
    let yen = app::money::Currency::parse("JPY").unwrap();
    let app = spawn_app_with(move |mut config| {
        config.sale_defaults.currency = yen;
        config
    })
    .await;
    let admin = app.admin().await;
    let defaults: serde_json::Value = admin
        .get("/api/admin/sale-defaults")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        defaults["currency"], "JPY",
        "the form proposes the shop's currency"
    );

    // Left out: the shop's. Named: that one.
    let silent = admin.post("/api/admin/sales", draft(-1_000, 2)).await;
    assert_eq!(silent.status(), 201);
    let silent: app::api::Sale = silent.json().await.unwrap();
    assert_eq!(silent.currency, yen);
    let mut in_euros = draft(60_000, 2);
    in_euros["currency"] = "EUR".into();
    let in_euros: app::api::Sale = admin
        .post("/api/admin/sales", in_euros)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(in_euros.currency.code(), "EUR");
    let shown: serde_json::Value = app
        .get(&format!("/api/sales/{}", in_euros.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["currency"], "EUR");

    // An order is worth its sale's money, queued in Redis and saved alike.
    let shopper = app.register("buyer").await;
    let (status, accepted) = shopper.buy(silent.id).await;
    assert_eq!(status, 202, "{accepted}");
    let order_path = format!("/api/orders/{}", accepted["order_id"].as_str().unwrap());
    let queued: app::api::Order = shopper.get(&order_path).await.json().await.unwrap();
    assert_eq!((queued.price_cents, queued.currency), (5_000, yen));
    app.drain(silent.id).await;
    let saved: app::api::Order = shopper.get(&order_path).await.json().await.unwrap();
    assert_eq!(
        (saved.status, saved.currency),
        (app::api::OrderStatus::PendingPayment, yen)
    );
    let listed: Vec<app::api::Order> = shopper.get("/api/orders").await.json().await.unwrap();
    assert_eq!(listed[0].currency, yen);

    // Once the sale has started its orders' money cannot change; before, it can.
    let started = admin
        .client
        .patch(admin.url(&format!("/api/admin/sales/{}", silent.id)))
        .json(&serde_json::json!({ "currency": "USD" }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 409);
    let unstarted = admin
        .client
        .patch(admin.url(&format!("/api/admin/sales/{}", in_euros.id)))
        .json(&serde_json::json!({ "currency": "GBP" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unstarted.status(), 200);
    assert_eq!(
        app.catalog.sale(silent.id).await.unwrap().unwrap().currency,
        yen
    );
    assert_eq!(
        app.catalog
            .sale(in_euros.id)
            .await
            .unwrap()
            .unwrap()
            .currency
            .code(),
        "GBP"
    );
}
