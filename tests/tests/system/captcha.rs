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

    let challenge = challenge_of(&alice, &format!("/api/sales/{}/captcha", sale.id)).await;
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

    let challenge = challenge_of(&alice, &format!("/api/sales/{}/captcha", sale.id)).await;
    // The wrong answer made this account's next proof of work twice as hard.
    let harder = challenge.difficulty_bits.unwrap();
    assert_eq!(harder, bits + 1, "one more bit after one wrong answer");
    let nonce2 = app::pow::search(challenge.salt.as_deref().unwrap(), harder, 0, u64::MAX).unwrap();
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
    let new_challenge = || challenge_of(&alice, &challenge_path);

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

    // The same hand into the gap passes, once, when the answer comes no sooner
    // than a person can look and drag.
    let challenge = new_challenge().await;
    let gap = stored_gap(&app, &challenge.captcha_id).await;
    let by_hand = drag(gap, |t| t * t * (3.0 - 2.0 * t));
    let body = serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": by_hand });
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(alice.post(&ticket_path, body.clone()).await.status(), 200);
    assert_eq!(
        alice.post(&ticket_path, body).await.status(),
        422,
        "single use"
    );
}

#[tokio::test]
async fn a_puzzle_answered_sooner_than_a_hand_could_is_refused() {
    let app = spawn_app().await;
    let (alice, challenge_path, ticket_path) = puzzle_sale_and_shopper(&app).await;
    let answer = |captcha_id: String, path: String| {
        let alice = &alice;
        let ticket_path = &ticket_path;
        async move {
            let body = serde_json::json!({ "captcha_id": captcha_id, "answer": path });
            let response = alice.post(ticket_path, body).await;
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (
                status,
                body["message"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    let new_challenge = || async {
        let challenge = challenge_of(&alice, &challenge_path).await;
        let gap = stored_gap(&app, &challenge.captcha_id).await;
        (challenge.captcha_id, gap)
    };
    let smooth = |t: f64| t * t * (3.0 - 2.0 * t);

    // A hand's 900 ms drag, sent the moment the puzzle arrived.
    let (captcha_id, gap) = new_challenge().await;
    let (status, message) = answer(captcha_id, drag(gap, smooth)).await;
    assert_eq!(status, 422);
    assert!(message.contains("sooner than a hand"), "{message}");

    // A drag that claims 3 s, sent after 1.2 s.
    let (captcha_id, gap) = new_challenge().await;
    let mut slow = DragPath::new();
    for at_ms in (0..3_000).step_by(16) {
        slow.record(at_ms, gap * smooth(f64::from(at_ms) / 3_000.0));
    }
    slow.record(3_000, gap);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let (status, message) = answer(captcha_id, slow.encode()).await;
    assert_eq!(status, 422);
    assert!(message.contains("sooner than a hand"), "{message}");

    // The 900 ms drag after 1.1 s: in time.
    let (captcha_id, gap) = new_challenge().await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(answer(captcha_id, drag(gap, smooth)).await.0, 200);
}

#[tokio::test]
async fn after_three_refused_puzzles_an_account_is_given_harder_work_instead() {
    let app = spawn_app().await;
    let (alice, challenge_path, ticket_path) = puzzle_sale_and_shopper(&app).await;
    // A script guessing blindly: a hand-shaped drag to the middle of the range.
    for _ in 0..3 {
        let challenge = challenge_of(&alice, &challenge_path).await;
        assert_eq!(challenge.kind, app::api::CaptchaKind::Image);
        let gap = stored_gap(&app, &challenge.captcha_id).await;
        let guess = if (gap - 150.0).abs() <= 10.0 {
            100.0
        } else {
            150.0
        };
        let body = serde_json::json!({
            "captcha_id": challenge.captcha_id,
            "answer": drag(guess, |t| t * t * (3.0 - 2.0 * t)),
        });
        assert_eq!(alice.post(&ticket_path, body).await.status(), 422);
    }
    let challenge = challenge_of(&alice, &challenge_path).await;
    assert_eq!(
        challenge.kind,
        app::api::CaptchaKind::Pow,
        "no fourth puzzle"
    );
    assert_eq!(
        challenge.difficulty_bits,
        Some(systests::POW_BITS + 2 + 3),
        "the alternative's two bits, and one per refused answer"
    );
    // Another shopper still gets a puzzle.
    let bob = app.register("bob").await;
    let theirs = challenge_of(&bob, &challenge_path).await;
    assert_eq!(theirs.kind, app::api::CaptchaKind::Image);
}

#[tokio::test]
async fn an_account_is_given_a_bounded_number_of_challenges_per_sale() {
    let app = systests::spawn_app_with(|mut config| {
        config.challenges_per_sale = 5;
        config
    })
    .await;
    let mut new_sale = sale_starting_in(-1_000, 5);
    new_sale.captcha = app::api::CaptchaKind::Pow;
    let sale = app.create_sale(&new_sale).await;
    let challenge_path = format!("/api/sales/{}/captcha", sale.id);
    let alice = app.register("alice").await;
    for n in 0..5 {
        let response = alice.post(&challenge_path, serde_json::json!({})).await;
        assert_eq!(response.status(), 200, "challenge {n}");
    }
    let refused = alice.post(&challenge_path, serde_json::json!({})).await;
    assert_eq!(refused.status(), 409);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::LimitReached, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("5 challenges"),
        "{body}"
    );
    // The alternative is no way around it; another account is not held back.
    let instead = alice
        .post(
            &format!("{challenge_path}?instead=pow"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(instead.status(), 409);
    let bob = app.register("bob").await;
    assert_eq!(
        bob.post(&challenge_path, serde_json::json!({}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_shopper_who_cannot_drag_gets_a_harder_proof_of_work_instead() {
    let app = spawn_app().await;
    let (alice, challenge_path, ticket_path) = puzzle_sale_and_shopper(&app).await;

    let challenge = challenge_of(&alice, &format!("{challenge_path}?instead=pow")).await;
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

/// A new challenge for `shopper` at `challenge_path` (which must answer 200).
async fn challenge_of(shopper: &systests::Shopper, challenge_path: &str) -> CaptchaChallenge {
    shopper
        .post(challenge_path, serde_json::json!({}))
        .await
        .json()
        .await
        .unwrap()
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
