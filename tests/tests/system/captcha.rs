//! The human check before a ticket: proof-of-work and image challenges, each
//! answered once, against the real Redis.

use app::api::ErrorCode;
use systests::{error_code, sale_starting_in, spawn_app, TestApp};

#[tokio::test]
async fn proof_of_work_tickets_need_a_real_solution_and_each_challenge_works_once() {
    let app = spawn_app().await;
    let mut new_sale = sale_starting_in(-1_000, 5);
    new_sale.captcha = app::api::CaptchaKind::Pow;
    let sale = app.create_sale(&new_sale).await;
    let alice = app.register("alice").await;

    let challenge: app::api::CaptchaChallenge = alice
        .post(
            &format!("/api/sales/{}/captcha", sale.id),
            serde_json::json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let salt = challenge.salt.clone().unwrap();
    let bits = challenge.difficulty_bits.unwrap();
    assert_eq!(challenge.algorithm.as_deref(), Some("sha256"));
    // A wrong answer uses the challenge up too.
    let wrong = (0..)
        .find(|n| !app::pow::verify(&salt, bits, &n.to_string()))
        .unwrap();
    let ticket_path = format!("/api/sales/{}/ticket", sale.id);
    let response = alice
        .post(
            &ticket_path,
            serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": wrong.to_string() }),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::CaptchaFailed);

    let challenge: app::api::CaptchaChallenge = alice
        .post(
            &format!("/api/sales/{}/captcha", sale.id),
            serde_json::json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let nonce2 = app::pow::search(challenge.salt.as_deref().unwrap(), bits, 0, u64::MAX).unwrap();
    let answer =
        serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": nonce2.to_string() });
    assert_eq!(alice.post(&ticket_path, answer.clone()).await.status(), 200);
    assert_eq!(
        alice.post(&ticket_path, answer).await.status(),
        422,
        "a solved challenge cannot be replayed"
    );
}

#[tokio::test]
async fn image_captchas_show_a_picture_and_take_the_typed_text_once() {
    let app = spawn_app().await;
    let mut new_sale = sale_starting_in(-1_000, 5);
    new_sale.captcha = app::api::CaptchaKind::Image;
    let sale = app.create_sale(&new_sale).await;
    let alice = app.register("alice").await;
    let challenge_path = format!("/api/sales/{}/captcha", sale.id);
    let ticket_path = format!("/api/sales/{}/ticket", sale.id);

    let challenge: app::api::CaptchaChallenge = alice
        .post(&challenge_path, serde_json::json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(challenge.kind, app::api::CaptchaKind::Image);
    let image = challenge.image.clone().unwrap();
    assert!(image.starts_with("data:image/svg+xml;base64,"));
    // The answer a person reads off the picture (here: read from where the server keeps it).
    let answer = stored_answer(&app, &challenge.captcha_id)
        .await
        .to_lowercase();
    let picture = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &image["data:image/svg+xml;base64,".len()..],
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        !picture.to_lowercase().contains(&answer),
        "the answer is drawn, not written"
    );

    let wrong = alice
        .post(
            &ticket_path,
            serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": "zzzzz" }),
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let challenge: app::api::CaptchaChallenge = alice
        .post(&challenge_path, serde_json::json!({}))
        .await
        .json()
        .await
        .unwrap();
    let answer = format!(
        " {} ",
        stored_answer(&app, &challenge.captcha_id)
            .await
            .to_lowercase()
    );
    let body = serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": answer });
    let accepted = alice.post(&ticket_path, body.clone()).await;
    assert_eq!(accepted.status(), 200, "case and spaces do not matter");
    assert_eq!(
        alice.post(&ticket_path, body).await.status(),
        422,
        "single use"
    );
}

/// The text of an image challenge, as the server stored it (`image:sale:user:TEXT`).
async fn stored_answer(app: &TestApp, captcha_id: &str) -> String {
    let stored: String = redis::cmd("GET")
        .arg(format!("{}captcha:{captcha_id}", app.redis_prefix))
        .query_async(&mut systests::redis_connection().await)
        .await
        .unwrap();
    stored.rsplit(':').next().unwrap().to_owned()
}
