//! The human check before a ticket: proof-of-work and sliding-puzzle challenges,
//! each answered once, against the real Redis.

use app::api::{CaptchaChallenge, ErrorCode};
use app::slide::DragPath;
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
async fn image_captchas_are_a_puzzle_passed_by_a_hand_and_refused_to_a_script() {
    let app = spawn_app().await;
    let (alice, challenge_path, ticket_path) = puzzle_sale_and_shopper(&app).await;
    let new_challenge = || async {
        let challenge: CaptchaChallenge = alice
            .post(&challenge_path, serde_json::json!({}))
            .await
            .json()
            .await
            .unwrap();
        challenge
    };

    let challenge = new_challenge().await;
    assert_eq!(challenge.kind, app::api::CaptchaKind::Image);
    assert!(challenge
        .image
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let puzzle = challenge
        .puzzle
        .expect("an image challenge carries its piece");
    assert!(puzzle.piece.starts_with("data:image/png;base64,"));
    assert!(puzzle.piece_top + puzzle.piece_height <= puzzle.height);
    // Where the gap is, as a person sees it (here: read from where the server keeps it).
    let gap = stored_gap(&app, &challenge.captcha_id).await;
    assert!(gap + f64::from(puzzle.piece_width) <= f64::from(puzzle.width));

    // A script's straight drag at constant speed ends in the gap, and is refused.
    let scripted = drag(gap, |t| t);
    let body = serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": scripted });
    let refused = alice.post(&ticket_path, body).await;
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::CaptchaFailed);
    assert!(
        body["message"].as_str().unwrap().contains("steady speed"),
        "{body}"
    );

    // A hand's drag, let go beside the gap, is refused too.
    let challenge = new_challenge().await;
    let gap = stored_gap(&app, &challenge.captcha_id).await;
    let beside = drag(gap + 15.0, |t| t * t * (3.0 - 2.0 * t));
    let body = serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": beside });
    let refused = alice.post(&ticket_path, body).await;
    assert_eq!(refused.status(), 422);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("beside the gap"),
        "{body}"
    );

    // The same hand into the gap passes, once.
    let challenge = new_challenge().await;
    let gap = stored_gap(&app, &challenge.captcha_id).await;
    let by_hand = drag(gap, |t| t * t * (3.0 - 2.0 * t));
    let body = serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": by_hand });
    assert_eq!(alice.post(&ticket_path, body.clone()).await.status(), 200);
    assert_eq!(
        alice.post(&ticket_path, body).await.status(),
        422,
        "single use"
    );
}

#[tokio::test]
async fn a_shopper_who_cannot_drag_gets_a_harder_proof_of_work_instead() {
    let app = spawn_app().await;
    let (alice, challenge_path, ticket_path) = puzzle_sale_and_shopper(&app).await;

    let challenge: CaptchaChallenge = alice
        .post(
            &format!("{challenge_path}?instead=pow"),
            serde_json::json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(challenge.kind, app::api::CaptchaKind::Pow);
    let bits = challenge.difficulty_bits.unwrap();
    assert!(
        bits > systests::POW_BITS,
        "harder than a `pow` sale's: {bits} bits"
    );
    let nonce = app::pow::search(challenge.salt.as_deref().unwrap(), bits, 0, u64::MAX).unwrap();
    let body =
        serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": nonce.to_string() });
    let ticket = alice.post(&ticket_path, body).await;
    assert_eq!(ticket.status(), 200);

    let unknown = alice
        .post(
            &format!("{challenge_path}?instead=riddle"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(unknown.status(), 400);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::BadRequest);
}

/// A live sale with the puzzle, a shopper, and the sale's challenge and ticket paths.
async fn puzzle_sale_and_shopper(app: &TestApp) -> (systests::Shopper, String, String) {
    let mut new_sale = sale_starting_in(-1_000, 5);
    new_sale.captcha = app::api::CaptchaKind::Image;
    let sale = app.create_sale(&new_sale).await;
    let alice = app.register("alice").await;
    (
        alice,
        format!("/api/sales/{}/captcha", sale.id),
        format!("/api/sales/{}/ticket", sale.id),
    )
}

/// A drag from the left edge to `to` over 900 ms, sampled every 16 ms as a
/// browser does, along `shape` (elapsed share of time → travelled share).
fn drag(to: f64, shape: impl Fn(f64) -> f64) -> String {
    let mut path = DragPath::new();
    for at_ms in (0..900).step_by(16) {
        path.record(at_ms, to * shape(f64::from(at_ms) / 900.0));
    }
    path.record(900, to);
    path.encode()
}

/// Where the gap of a puzzle is, as the server stored it (`slide:sale:user:X`).
async fn stored_gap(app: &TestApp, captcha_id: &str) -> f64 {
    let stored: String = redis::cmd("GET")
        .arg(format!("{}captcha:{captcha_id}", app.redis_prefix))
        .query_async(&mut systests::redis_connection().await)
        .await
        .unwrap();
    stored.rsplit(':').next().unwrap().parse().unwrap()
}
