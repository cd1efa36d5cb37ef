//! The server-rendered pages, as a browser without JavaScript (or a crawler, or a
//! CDN) receives them.

use systests::{sale_starting_in, spawn_app, spawn_app_with};

#[tokio::test]
async fn home_page_lists_the_sales_from_postgres() {
    let app = spawn_app().await;
    let mut new_sale = sale_starting_in(90_000, 4);
    new_sale.title = "Espresso grinder".into();
    let sale = app.create_sale(&new_sale).await;

    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Espresso grinder"), "{html}");
    assert!(html.contains(&format!("href=\"/sales/{}\"", sale.id)));
    assert!(
        html.contains("class=\"countdown\""),
        "a scheduled sale gets a countdown"
    );
    assert!(html.contains("4 of 4 left"));
    assert!(html.contains("10.00"), "the price in currency units");
}

#[tokio::test]
async fn home_page_says_so_when_there_is_no_sale() {
    let app = spawn_app().await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("No sales are scheduled yet"));
}

#[tokio::test]
async fn sale_page_renders_the_sale() {
    let app = spawn_app().await;
    let mut new_sale = sale_starting_in(90_000, 4);
    new_sale.title = "Espresso grinder".into();
    let sale = app.create_sale(&new_sale).await;

    let response = app.get(&format!("/sales/{}", sale.id)).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Espresso grinder</h1>"), "{html}");
}

#[tokio::test]
async fn missing_sales_and_unknown_pages_are_real_404s() {
    let app = spawn_app().await;
    for path in ["/sales/987654", "/sales/not-a-number", "/no/such/page"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("Not found"), "{path}: {html}");
    }
}

#[tokio::test]
async fn demo_mode_creates_one_sale_only_when_nothing_is_open() {
    let app = spawn_app_with(|config| config.with_demo(true)).await;
    let sales: Vec<serde_json::Value> = app.get("/api/sales").await.json().await.unwrap();
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0]["state"], "scheduled");
    // A restart while the demo is still open does not add a second one.
    assert!(!server::demo::ensure_demo_sale(&app.catalog).await.unwrap());
    let sales: Vec<serde_json::Value> = app.get("/api/sales").await.json().await.unwrap();
    assert_eq!(sales.len(), 1);
}
