//! The shopper's read API: list, one sale, status, and the error bodies of docs/API.md.

use app::api::{ErrorCode, Sale, SaleListing, SaleState, SaleStatus};
use systests::{error_code, sale_starting_in, spawn_app};

#[tokio::test]
async fn lists_live_then_scheduled_then_ended_sales_with_their_state() {
    let app = spawn_app().await;
    let later = app.create_sale(&sale_starting_in(600_000, 5)).await;
    let mut over = sale_starting_in(-7_200_000, 2);
    over.ends_at_ms = over.starts_at_ms + 3_600_000;
    let ended = app.create_sale(&over).await;
    let live = app.create_sale(&sale_starting_in(-60_000, 3)).await;

    let response = app.get("/api/sales").await;
    assert_eq!(response.status(), 200);
    let listings: Vec<SaleListing> = response.json().await.unwrap();
    let ids: Vec<i64> = listings.iter().map(|l| l.sale.id).collect();
    assert_eq!(ids, vec![live.id, later.id, ended.id]);
    assert_eq!(listings[2].state, SaleState::Ended);
    assert_eq!(listings[0].state, SaleState::Live);
    assert_eq!(listings[0].stock_left, 3);
    assert_eq!(listings[1].state, SaleState::Scheduled);
}

#[tokio::test]
async fn a_sale_is_served_with_every_field_of_the_api_and_may_be_cached() {
    let app = spawn_app().await;
    let created = app.create_sale(&sale_starting_in(60_000, 7)).await;

    let response = app.get(&format!("/api/sales/{}", created.id)).await;
    assert_eq!(response.status(), 200);
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.starts_with("public"), "{cache}");
    let body: serde_json::Value = response.json().await.unwrap();
    for field in [
        "id",
        "title",
        "description",
        "image_url",
        "price_cents",
        "list_price_cents",
        "currency",
        "stock",
        "per_user_limit",
        "starts_at_ms",
        "ends_at_ms",
        "payment_window_secs",
        "captcha",
        "min_account_age_days",
    ] {
        assert!(body.get(field).is_some(), "missing `{field}` in {body}");
    }
    let sale: Sale = serde_json::from_value(body).unwrap();
    assert_eq!(sale, created);
}

#[tokio::test]
async fn status_carries_the_server_clock_and_stock_and_is_never_cached() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(60_000, 7)).await;

    let before = server::clock::now_ms();
    let response = app.get(&format!("/api/sales/{}/status", sale.id)).await;
    let after = server::clock::now_ms();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let status: SaleStatus = response.json().await.unwrap();
    assert_eq!(status.state, SaleState::Scheduled);
    assert!((before..=after).contains(&status.server_time_ms));
    assert_eq!(status.starts_at_ms, sale.starts_at_ms);
    assert_eq!(status.ends_at_ms, sale.ends_at_ms);
    assert_eq!(status.stock_left, 7);
}

#[tokio::test]
async fn status_reports_the_stock_left_in_redis() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 2)).await;
    let mut redis = systests::redis_connection().await;
    let key = format!("{}{{s:{}}}:stock", app.redis_prefix, sale.id);
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(0)
        .query_async(&mut redis)
        .await
        .unwrap();

    let status = app.status(sale.id).await;
    assert_eq!(status.stock_left, 0);
    assert_eq!(status.state, SaleState::SoldOut);
}

#[tokio::test]
async fn unknown_and_malformed_ids_get_the_api_error_body() {
    let app = spawn_app().await;
    for path in ["/api/sales/424242", "/api/sales/424242/status"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), ErrorCode::NotFound, "{path}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    for path in [
        "/api/sales/abc",
        "/api/sales/-1/status",
        "/api/sales/99999999999999999999",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), ErrorCode::BadRequest, "{path}");
    }
    let response = app.get("/api/no-such-endpoint").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::NotFound);
}

/// The stock left a status shows (read from this instance's short-lived copy).
async fn stock_left(app: &systests::TestApp, sale_id: i64) -> i64 {
    let status = app.status(sale_id).await;
    status.stock_left
}

#[tokio::test]
async fn the_status_shows_a_unit_gone_at_once_here_and_soon_on_every_instance() {
    let app = spawn_app().await;
    let other = app.another_instance(|config| config).await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 3)).await;
    // Both instances hold a fresh copy of the stock left.
    assert_eq!(stock_left(&app, sale.id).await, 3);
    assert_eq!(stock_left(&other, sale.id).await, 3);

    assert_eq!(app.register("erin").await.buy(sale.id).await.0, 202);
    assert_eq!(
        stock_left(&app, sale.id).await,
        2,
        "the instance that sold the unit shows it gone at once"
    );
    // The other's copy lives 200 ms; 2 s is room for a slow machine.
    let mut seen = stock_left(&other, sale.id).await;
    for _ in 0..100 {
        if seen == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        seen = stock_left(&other, sale.id).await;
    }
    assert_eq!(
        seen, 2,
        "the other instance shows it once its copy is renewed"
    );
}

#[tokio::test]
async fn the_api_describes_itself_as_openapi_3_1() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let buy = &document["paths"]["/api/sales/{id}/buy/{ticket}"]["post"];
    assert_eq!(buy["operationId"], "buy");
    assert!(buy["responses"]["202"].is_object() && buy["responses"]["410"].is_object());
    assert_eq!(
        document["components"]["securitySchemes"]["session"]["in"],
        "cookie"
    );
    let codes = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    assert!(codes.contains(&serde_json::json!("sold_out")));
    let admin_create = &document["paths"]["/api/admin/sales"]["post"];
    assert_eq!(admin_create["tags"][0], "admin");
    assert!(admin_create["security"].is_array());
}

#[tokio::test]
async fn the_api_explorer_is_served_in_development_only() {
    let app = spawn_app().await;
    let page = app.get("/api/explorer/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let settings = app.get("/api/explorer/swagger-initializer.js").await;
    let script = settings.text().await.unwrap();
    assert!(script.contains("/api/openapi.json"), "{script}");

    let production = systests::spawn_app_with(|mut config| {
        config.api_explorer = false;
        config
    })
    .await;
    let hidden = production.get("/api/explorer/").await;
    assert_eq!(hidden.status(), 404);
    let body: serde_json::Value = hidden.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::NotFound);
}

#[tokio::test]
async fn a_sold_out_status_says_when_the_last_unit_went_until_one_comes_back() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(-60_000, 1)).await;
    let status = |app: &systests::TestApp| {
        let path = format!("/api/sales/{}/status", sale.id);
        let request = app.client.get(app.url(&path));
        async move {
            let response = request.send().await.unwrap();
            response.json::<SaleStatus>().await.unwrap()
        }
    };
    assert_eq!(status(&app).await.sold_out_at_ms, None, "units are left");

    let alice = app.register("alice").await;
    let before = server::clock::now_ms();
    let (code, body) = alice.buy(sale.id).await;
    assert_eq!(code, 202, "{body}");
    let after = server::clock::now_ms();
    let sold_out = status(&app).await;
    assert_eq!(sold_out.state, SaleState::SoldOut);
    let at = sold_out
        .sold_out_at_ms
        .expect("the instant the last unit went");
    assert!(
        (before - 1_000..=after + 1_000).contains(&at),
        "{at} not within the buy ({before}..{after})"
    );

    // The unit comes back: the sale is for sale again, with no sold-out time.
    app.drain(sale.id).await;
    let order_id = body["order_id"].as_str().unwrap().to_owned();
    assert_eq!(alice.order_action(&order_id, "cancel").await.status(), 200);
    let mut again = status(&app).await;
    for _ in 0..20 {
        if again.stock_left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        again = status(&app).await;
    }
    assert_eq!((again.state, again.sold_out_at_ms), (SaleState::Live, None));
}
