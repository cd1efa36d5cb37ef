//! Product pictures an admin uploads: stored once, served with an `ETag` and a
//! year of caching, refused when they are not pictures or too large.

use app::api::{ErrorCode, PictureUploaded};
use systests::{error_code, sale_starting_in, spawn_app, RED_DOT};

#[tokio::test]
async fn an_uploaded_picture_is_served_to_shoppers_with_long_caching() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let upload = |bytes: Vec<u8>| {
        admin
            .client
            .post(admin.url("/api/admin/pictures"))
            .header("content-type", "image/png")
            .body(bytes)
            .send()
    };

    let response = upload(RED_DOT.to_vec()).await.unwrap();
    assert_eq!(response.status(), 201);
    let uploaded: PictureUploaded = response.json().await.unwrap();
    assert!(uploaded.url.starts_with("/pictures/") && uploaded.url.ends_with(".png"));
    let again: PictureUploaded = upload(RED_DOT.to_vec())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again.url, uploaded.url, "the same bytes keep one address");

    // A sale shows it; a shopper's browser loads it once and then revalidates for free.
    let mut new_sale = sale_starting_in(60_000, 3);
    new_sale.image_url = uploaded.url.clone();
    let sale = app.create_sale(&new_sale).await;
    assert_eq!(sale.image_url, uploaded.url);
    let shopper = app.register("shopper").await;
    let served = shopper.get(&uploaded.url).await;
    assert_eq!(served.status(), 200);
    let header = |name: &str| {
        served
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(
        header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let etag = header("etag");
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    assert_eq!(served.bytes().await.unwrap().as_ref(), RED_DOT);
    let revalidated = shopper
        .client
        .get(shopper.url(&uploaded.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert!(revalidated.bytes().await.unwrap().is_empty());

    for missing in [
        format!("/pictures/{}.png", "0".repeat(64)),
        "/pictures/not-a-hash.png".to_owned(),
        "/pictures/%FF".to_owned(),
    ] {
        let response = shopper.get(&missing).await;
        assert_eq!(response.status(), 404, "{missing}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), ErrorCode::NotFound, "{missing}");
    }
}

#[tokio::test]
async fn only_admins_upload_and_only_pictures_of_a_sane_size() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let shopper = app.register("shopper").await;
    let post = |client: &reqwest::Client, url: String, bytes: Vec<u8>| {
        client
            .post(url)
            .header("content-type", "image/png")
            .body(bytes)
            .send()
    };

    let as_shopper = post(
        &shopper.client,
        shopper.url("/api/admin/pictures"),
        RED_DOT.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(as_shopper.status(), 403);

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let refused = post(&admin.client, admin.url("/api/admin/pictures"), svg)
        .await
        .unwrap();
    assert_eq!(refused.status(), 422, "SVG can carry script: refused");
    assert_eq!(
        error_code(&refused.json().await.unwrap()),
        ErrorCode::Invalid
    );

    let mut huge = RED_DOT.to_vec();
    huge.resize(3 * 1024 * 1024, 0);
    let refused = post(&admin.client, admin.url("/api/admin/pictures"), huge)
        .await
        .unwrap();
    assert_eq!(refused.status(), 413);
    assert_eq!(
        error_code(&refused.json().await.unwrap()),
        ErrorCode::Invalid
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from product_pictures")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing refused was kept");
}
