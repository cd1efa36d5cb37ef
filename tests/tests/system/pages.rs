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
    // The heading holds the title (a hydration marker may follow it).
    let heading = html
        .split("<h1>")
        .nth(1)
        .and_then(|rest| rest.split("</h1>").next());
    assert_eq!(
        heading.map(|text| text.trim_end_matches("<!>")),
        Some("Espresso grinder"),
        "{html}"
    );
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

/// Leptos walks the whole app to list its routes, and while it does, every
/// resource in the process waits (a process-wide flag): a page rendered at that
/// moment by another instance in the same process never finished and was
/// answered 503 at the time limit. The route list is now made once per process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_another_instance_starts_in_the_same_process() {
    let app = spawn_app_with(|mut config| {
        config.request_timeout = std::time::Duration::from_secs(2);
        config
    })
    .await;
    let starting = tokio::spawn(async {
        for _ in 0..12 {
            drop(spawn_app().await);
        }
    });
    let mut rendered = 0;
    while !starting.is_finished() {
        let response = app.get("/sales/not-a-number").await;
        assert_eq!(
            response.status(),
            404,
            "render {rendered} while instances started"
        );
        rendered += 1;
    }
    starting.await.unwrap();
    assert!(rendered > 0, "no page was rendered while instances started");
}

#[tokio::test]
async fn demo_mode_creates_one_sale_only_when_nothing_is_open() {
    let app = spawn_app_with(|config| config.with_demo(true)).await;
    let sales: Vec<serde_json::Value> = app.get("/api/sales").await.json().await.unwrap();
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0]["state"], "scheduled");
    // A restart while the demo is still open does not add a second one.
    assert!(
        !server::sales::demo::ensure_demo_sale(&app.catalog, app::money::Currency::USD)
            .await
            .unwrap()
    );
    let sales: Vec<serde_json::Value> = app.get("/api/sales").await.json().await.unwrap();
    assert_eq!(sales.len(), 1);
}

#[tokio::test]
async fn sale_pages_are_cacheable_by_anyone_and_revalidate_with_their_etag() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(90_000, 4)).await;
    let path = format!("/sales/{}", sale.id);

    let first = app.get(&path).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "public, max-age=10");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let html = first.text().await.unwrap();
    // Nothing per user or per second: no session, no clock reading, no stock left.
    assert!(!html.contains("fs_session"));
    assert!(!html.contains("server_time_ms"));

    let second = app.get(&path).await;
    assert_eq!(
        second.headers()["etag"].to_str().unwrap(),
        etag,
        "the same page, the same tag"
    );
    let revalidated = app
        .client
        .get(app.url(&path))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert!(revalidated.bytes().await.unwrap().is_empty());

    // A logged-in shopper gets the very same page: per-user parts load later.
    let shopper = app.register("dana").await;
    let theirs = shopper.get(&path).await;
    assert_eq!(theirs.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn a_sale_page_is_the_same_page_with_the_same_etag_on_every_instance() {
    let first = spawn_app().await;
    let sale = first.create_sale(&sale_starting_in(90_000, 4)).await;
    let path = format!("/sales/{}", sale.id);
    // Another instance of the same deployment: same database, same keys.
    let second = first.another_instance(|config| config).await;

    let (one, other) = (first.get(&path).await, second.get(&path).await);
    let tag =
        |response: &reqwest::Response| response.headers()["etag"].to_str().unwrap().to_owned();
    let (one_tag, other_tag) = (tag(&one), tag(&other));
    let (one_html, other_html) = (one.text().await.unwrap(), other.text().await.unwrap());
    assert_eq!(one_html, other_html, "one CDN entry serves every instance");
    assert_eq!(one_tag, other_tag);
}

#[tokio::test]
async fn rendering_a_cached_sale_page_does_not_query_postgres() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(90_000, 4)).await;
    let path = format!("/sales/{}", sale.id);
    assert_eq!(app.get(&path).await.status(), 200);
    let loads = app.catalog.db_loads();
    for _ in 0..20 {
        assert_eq!(app.get(&path).await.status(), 200);
    }
    assert_eq!(app.catalog.db_loads(), loads, "20 renders, no query");
}

#[tokio::test]
async fn account_and_order_pages_render_for_everyone() {
    let app = spawn_app().await;
    for (path, text) in [
        ("/login", "Log in"),
        ("/register", "Create an account"),
        ("/orders", "Your orders"),
        ("/orders/1-0123456789abcdef0123456789abcdef", "Your order"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.text().await.unwrap().contains(text), "{path}");
    }
}

#[tokio::test]
async fn a_kept_sale_page_keeps_its_headers_and_gives_way_to_an_edit_at_once() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(90_000, 4)).await;
    let path = format!("/sales/{}", sale.id);
    let rendered = app.get(&path).await;
    let kept = app.get(&path).await;
    let names = |response: &reqwest::Response| {
        let mut names: Vec<String> = response
            .headers()
            .keys()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name != "date")
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&kept),
        names(&rendered),
        "the kept page answers as the render did"
    );
    let before = kept.headers()["etag"].to_str().unwrap().to_owned();
    assert!(!kept.text().await.unwrap().contains("Renamed in a hurry"));

    let admin = app.admin().await;
    let edit = admin
        .client
        .patch(admin.url(&format!("/api/admin/sales/{}", sale.id)))
        .json(&serde_json::json!({ "title": "Renamed in a hurry" }))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    let after = app.get(&path).await;
    assert_ne!(after.headers()["etag"].to_str().unwrap(), before);
    assert!(
        after.text().await.unwrap().contains("Renamed in a hurry"),
        "the edit shows on the next request"
    );
}

#[tokio::test]
async fn pages_and_long_json_go_compressed_to_a_client_that_accepts_it() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(90_000, 4)).await;
    let fetch = |path: String, encoding: &'static str| {
        let request = app
            .client
            .get(app.url(&path))
            .header("accept-encoding", encoding);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|value| value.to_str().unwrap().to_owned())
            };
            let (encoding, vary) = (header("content-encoding"), header("vary"));
            (encoding, vary, response.bytes().await.unwrap().len())
        }
    };
    for path in [
        format!("/sales/{}", sale.id),
        "/".to_owned(),
        "/api/openapi.json".to_owned(),
    ] {
        let (plain_encoding, _, plain) = fetch(path.clone(), "identity").await;
        assert_eq!(plain_encoding, None, "{path}");
        for accepted in ["br", "gzip"] {
            let (encoding, vary, size) = fetch(path.clone(), accepted).await;
            assert_eq!(encoding.as_deref(), Some(accepted), "{path}");
            assert!(
                vary.is_some_and(|vary| vary.to_lowercase().contains("accept-encoding")),
                "{path}: caches must keep the encodings apart"
            );
            assert!(
                size * 2 < plain,
                "{path}: {accepted} {size} of {plain} bytes"
            );
        }
    }
    // A few hundred bytes of JSON are not worth compressing.
    let (encoding, _, _) = fetch(format!("/api/sales/{}/status", sale.id), "br").await;
    assert_eq!(encoding, None);
}
