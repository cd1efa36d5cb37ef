//! Input a person or a script can send that the stores cannot take must be
//! refused as the client's mistake (4xx, nothing written), never look like an
//! outage (5xx) to the client, to the logs or to a load balancer.

use app::api::ErrorCode;
use serde_json::json;
use systests::{error_code, spawn_app, spawn_app_with};

#[tokio::test]
async fn text_with_a_nul_character_is_refused_before_it_reaches_postgres() {
    let app = spawn_app().await;
    let post = |path: &'static str, body: serde_json::Value| {
        let client = app.client.clone();
        let url = app.url(path);
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    for (path, body) in [
        (
            "/api/auth/login",
            json!({ "username": "ali\u{0}ce", "password": "whatever1" }),
        ),
        (
            "/api/auth/register",
            json!({ "username": "mallory", "password": "pass\u{0}word1" }),
        ),
    ] {
        let response = post(path, body).await;
        assert_eq!(response.status(), 422, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), ErrorCode::Invalid, "{path}: {body}");
    }

    let admin = app.admin().await;
    let mut draft = super::admin::draft(60_000, 3);
    draft["title"] = json!("Shoes\u{0}");
    let refused = admin.post("/api/admin/sales", draft).await;
    assert_eq!(refused.status(), 422);

    let users: i64 = sqlx::query_scalar("select count(*) from users where username = 'mallory'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let sales: i64 = sqlx::query_scalar("select count(*) from sales")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((users, sales), (0, 0), "nothing was written");
}

#[tokio::test]
async fn an_asset_name_the_file_system_cannot_hold_is_not_found() {
    // A real asset folder: with none, every name is simply not found.
    let site = std::env::temp_dir().join(format!("fs-site-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    std::fs::write(site.join("pkg").join("app.css"), "body {}").unwrap();
    let root = site.to_string_lossy().into_owned();
    let app = spawn_app_with(move |mut config| {
        config.leptos.site_root = root.into();
        config
    })
    .await;
    assert_eq!(app.get("/pkg/app.css").await.status(), 200);
    let long = "a".repeat(3_000);
    assert_eq!(app.get(&format!("/pkg/{long}")).await.status(), 404);
    assert_eq!(app.get(&format!("/pkg/{long}.wasm")).await.status(), 404);
    std::fs::remove_dir_all(site).unwrap();
}
