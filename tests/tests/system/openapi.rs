//! The OpenAPI document, held against what the server does: a third party who
//! generates a client from it alone must upload and download pictures as files,
//! see the rules a sale must keep, wait as `Retry-After` says, and find only
//! words meant for them (no Rust paths, no files outside the repository).

use app::api::{ErrorCode, PictureUploaded};
use serde_json::{json, Value};
use server::guards::rate_limit::{Rate, RateLimits};
use systests::{error_code, sale_starting_in, spawn_app_with, TestApp, RED_DOT};

async fn document(app: &TestApp) -> Value {
    app.get("/api/openapi.json").await.json().await.unwrap()
}

/// The schema `value` is, following a `$ref` into the components.
fn resolved<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &document["components"]["schemas"][name]
        }
        None => value,
    }
}

fn is_binary(schema: &Value) -> bool {
    schema["type"] == "string" && schema["format"] == "binary"
}

/// Every `description` in the document, wherever it stands.
fn descriptions<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                match (key.as_str(), field) {
                    ("description", Value::String(text)) => found.push(text),
                    _ => descriptions(field, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| descriptions(item, found)),
        _ => {}
    }
}

fn tight_limits(mut config: server::config::Config) -> server::config::Config {
    config.rate_limits = RateLimits {
        per_user: Rate {
            per_second: 0.2,
            burst: 2,
        },
        ..config.rate_limits
    };
    config
}

#[tokio::test]
async fn pictures_go_up_and_come_down_as_the_document_says_files() {
    let app = spawn_app_with(tight_limits).await;
    let document = document(&app).await;
    let upload = &document["paths"]["/api/admin/pictures"]["post"]["requestBody"]["content"];
    for kind in ["image/png", "image/jpeg", "image/webp", "image/gif"] {
        let schema = resolved(&document, &upload[kind]["schema"]);
        assert!(is_binary(schema), "{kind}: {schema}");
    }
    let download = &document["paths"]["/pictures/{name}"]["get"]["responses"]["200"]["content"];
    let (_, served) = download.as_object().unwrap().iter().next().unwrap();
    assert!(
        is_binary(resolved(&document, &served["schema"])),
        "{download}"
    );

    let admin = app.admin().await;
    let response = admin
        .client
        .post(admin.url("/api/admin/pictures"))
        .header("content-type", "image/png")
        .body(RED_DOT.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let uploaded: PictureUploaded = response.json().await.unwrap();
    let picture = app.get(&uploaded.url).await;
    assert_eq!(picture.headers()["content-type"], "image/png");
    assert_eq!(
        &picture.bytes().await.unwrap()[..],
        RED_DOT,
        "the file comes back as sent"
    );
}

#[tokio::test]
async fn the_rules_of_a_sale_in_the_document_are_the_rules_the_server_keeps() {
    let app = spawn_app_with(tight_limits).await;
    let document = document(&app).await;
    let draft = resolved(
        &document,
        &document["paths"]["/api/admin/sales"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"],
    );
    let admin = app.admin().await;
    let create = |sale: &Value| {
        admin
            .client
            .post(admin.url("/api/admin/sales"))
            .json(sale)
            .send()
    };
    for (field, lowest, highest) in [
        ("stock", 1, None),
        ("per_user_limit", 1, None),
        ("price_cents", 0, None),
        ("payment_window_secs", 1, Some(604_800)),
        ("min_account_age_days", 0, None),
    ] {
        let schema = &draft["properties"][field];
        assert_eq!(schema["minimum"], json!(lowest), "{field}: {schema}");
        let mut sale = serde_json::to_value(sale_starting_in(60_000, 3)).unwrap();
        sale[field] = json!(lowest - 1);
        let refused = create(&sale).await.unwrap();
        assert_eq!(
            refused.status(),
            422,
            "{field} below the documented minimum"
        );
        sale[field] = json!(lowest);
        let kept = create(&sale).await.unwrap();
        assert_eq!(kept.status(), 201, "{field} at the documented minimum");
        if let Some(highest) = highest {
            assert_eq!(schema["maximum"], json!(highest), "{field}: {schema}");
            sale[field] = json!(highest + 1);
            let above = create(&sale).await.unwrap();
            assert_eq!(above.status(), 422, "{field} above the documented maximum");
        }
    }
}

#[tokio::test]
async fn a_refusal_that_says_when_to_come_back_is_documented_to_say_it() {
    let app = spawn_app_with(tight_limits).await;
    let document = document(&app).await;
    let ticket = &document["paths"]["/api/sales/{id}/ticket"]["post"]["responses"];
    assert!(
        ticket["429"]["headers"]["Retry-After"].is_object(),
        "{ticket}"
    );
    assert!(
        ticket["503"]["headers"]["Retry-After"].is_object(),
        "{ticket}"
    );
    let codes_of_429 = ticket["429"]["description"].as_str().unwrap();
    assert!(codes_of_429.contains("`rate_limited`"), "{codes_of_429}");

    let sale = app.create_sale(&sale_starting_in(-1_000, 10)).await;
    let alice = app.register("alice").await;
    let mut last = alice.ticket(sale.id).await;
    for _ in 0..3 {
        last = alice.ticket(sale.id).await;
    }
    assert_eq!(last.status(), 429);
    assert!(
        last.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body: Value = last.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::RateLimited);
}

#[tokio::test]
async fn the_document_says_who_may_call_what_and_speaks_to_its_readers() {
    let app = spawn_app_with(tight_limits).await;
    let document = document(&app).await;
    assert_eq!(document["servers"][0]["url"], "/");
    let list = &document["paths"]["/api/sales"]["get"];
    assert_eq!(list["security"], json!([]), "a public operation says so");
    assert_eq!(
        app.get("/api/sales").await.status(),
        200,
        "and needs no cookie"
    );
    let orders = &document["paths"]["/api/orders"]["get"];
    assert_eq!(orders["security"], json!([{ "session": [] }]));
    assert_eq!(app.get("/api/orders").await.status(), 401);

    let answer = &document["components"]["schemas"]["TicketRequest"]["properties"]["answer"];
    let explained = answer["description"].as_str().unwrap_or_default();
    assert!(
        explained.contains("at_ms:x"),
        "the puzzle's answer is described: {answer}"
    );
    let mut found = Vec::new();
    descriptions(&document, &mut found);
    assert!(
        found.len() > 50,
        "the descriptions were read: {}",
        found.len()
    );
    for text in found {
        assert!(!text.contains("[`"), "a Rust doc link: {text}");
        assert!(
            !text.contains("../shared"),
            "a file outside the repository: {text}"
        );
        assert!(!text.contains(".rs"), "a source file: {text}");
    }
}
