//! Registering and logging in as an attacker would: many accounts from one
//! address, a password guessed in a loop, a flood of log-ins while shoppers
//! load the CAPTCHA. Each is refused before anything is hashed, and the flood
//! leaves everyone else served.

use std::time::{Duration, Instant};

use app::api::ErrorCode;
use server::guards::sign_in::SignInLimits;
use systests::{error_code, sale_starting_in, spawn_app_with, TestApp};

/// A test app with the sign-in limits a production server starts with.
async fn app_with_real_sign_in_limits() -> TestApp {
    spawn_app_with(|mut config| {
        config.sign_in = SignInLimits::default();
        config
    })
    .await
}

async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .expect("server answers")
}

async fn log_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    post(
        app,
        "/api/auth/login",
        serde_json::json!({ "username": username, "password": password }),
    )
    .await
}

/// The status, the error code (if any) and `Retry-After` (if any) of an answer.
async fn outcome(response: reqwest::Response) -> (u16, Option<ErrorCode>, Option<u64>) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok()?.parse().ok());
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body.get("error").map(|_| error_code(&body));
    (status, code, retry_after)
}

#[tokio::test]
async fn one_address_makes_a_few_accounts_then_waits() {
    let app = app_with_real_sign_in_limits().await;
    let mut answers = Vec::new();
    for n in 0..8 {
        let response = post(
            &app,
            "/api/auth/register",
            serde_json::json!({ "username": format!("bot{n}"), "password": "correct horse battery" }),
        )
        .await;
        answers.push(outcome(response).await);
    }
    let made = answers.iter().filter(|(status, ..)| *status == 201).count();
    assert_eq!(made, 5, "the burst of one address: {answers:?}");
    for (status, code, retry_after) in &answers[5..] {
        assert_eq!((*status, *code), (429, Some(ErrorCode::RateLimited)));
        assert!(retry_after.is_some_and(|secs| secs >= 1), "{retry_after:?}");
    }
    let accounts: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(accounts, 5, "a refused registration writes nothing");
}

#[tokio::test]
async fn one_password_sprayed_over_many_names_from_one_address_backs_off() {
    let app = app_with_real_sign_in_limits().await;
    let mut answers = Vec::new();
    for n in 0..45 {
        answers.push(outcome(log_in(&app, &format!("someone{n}"), "Summer2026!").await).await);
    }
    // 20 failures free, the 21st locks the address for 1 s (2 s after the next).
    let checked = answers.iter().filter(|(status, ..)| *status == 401).count();
    assert!(
        (21..=22).contains(&checked),
        "{checked} checked: {answers:?}"
    );
    let (status, code, retry_after) = answers.last().copied().unwrap();
    assert_eq!((status, code), (429, Some(ErrorCode::RateLimited)));
    assert!(retry_after.is_some_and(|secs| (1..=2).contains(&secs)));
}

#[tokio::test]
async fn a_guessed_password_meets_a_doubling_wait_and_the_right_one_resets_it() {
    // The address's own request rate out of the way: this is about one name.
    let app = spawn_app_with(|mut config| {
        config.sign_in = SignInLimits {
            login_per_address: systests::generous_sign_in().login_per_address,
            ..SignInLimits::default()
        };
        config
    })
    .await;
    app.register("alice").await;

    // Five free attempts, and the sixth still gets an answer…
    for _ in 0..6 {
        let (status, code, _) = outcome(log_in(&app, "alice", "wrong password").await).await;
        assert_eq!((status, code), (401, Some(ErrorCode::BadCredentials)));
    }
    // …then 1 s of waiting, whatever is tried (even the right password).
    let (status, code, retry_after) = outcome(log_in(&app, "Alice", "wrong password").await).await;
    assert_eq!(
        (status, code, retry_after),
        (429, Some(ErrorCode::RateLimited), Some(1))
    );
    let refused = log_in(&app, "alice", "correct horse battery").await;
    assert_eq!(refused.status(), 429, "no password is checked while locked");

    // The next failure doubles the wait.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(log_in(&app, "alice", "wrong password").await.status(), 401);
    let (status, _, retry_after) = outcome(log_in(&app, "alice", "wrong password").await).await;
    assert_eq!((status, retry_after), (429, Some(2)));

    // A loop of guesses gets almost nothing checked.
    let mut checked = 0;
    for _ in 0..50 {
        if log_in(&app, "alice", "another guess").await.status() == 401 {
            checked += 1;
        }
    }
    assert_eq!(
        checked, 0,
        "every guess in the 2 s lock is refused unchecked"
    );

    // The owner, once the wait is over, gets in; and their count starts again.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        log_in(&app, "alice", "correct horse battery")
            .await
            .status(),
        200
    );
    for _ in 0..5 {
        assert_eq!(log_in(&app, "alice", "typo").await.status(), 401);
    }
}

#[tokio::test]
async fn an_overlong_password_is_refused_before_it_is_hashed() {
    let app = app_with_real_sign_in_limits().await;
    app.register("bob").await;
    let (status, code, _) = outcome(log_in(&app, "bob", &"x".repeat(10_000)).await).await;
    assert_eq!((status, code), (422, Some(ErrorCode::Invalid)));
}

#[tokio::test]
async fn a_flood_of_log_ins_leaves_the_captcha_answering() {
    // Sign-in limits out of the way: what is tested is the hashing capacity.
    let app = spawn_app_with(|mut config| {
        config.hashing_slots = 2; // and 32 waiting
        config
    })
    .await;
    let mut puzzle_sale = sale_starting_in(-1_000, 5);
    puzzle_sale.captcha = app::api::CaptchaKind::Image;
    let sale = app.create_sale(&puzzle_sale).await;
    let shopper = app.register("shopper").await;

    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flood: Vec<_> = (0..300)
        .map(|n| {
            let client = app.client.clone();
            let url = app.url("/api/auth/login");
            let flooding = flooding.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = serde_json::json!({ "username": format!("nobody{n}"), "password": "guessing" });
                    match client.post(&url).json(&body).send().await {
                        Ok(response) => statuses.push(response.status().as_u16()),
                        Err(_) => statuses.push(0),
                    }
                }
                statuses
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut puzzle_ms = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let response = shopper
            .post(
                &format!("/api/sales/{}/captcha", sale.id),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(response.status(), 200, "a puzzle during the flood");
        let _ = response.bytes().await;
        puzzle_ms.push(started.elapsed().as_millis());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = Vec::new();
    for task in flood {
        statuses.extend(task.await.unwrap());
    }

    puzzle_ms.sort_unstable();
    let median = puzzle_ms[puzzle_ms.len() / 2];
    assert!(
        median < 1_000,
        "puzzles took {puzzle_ms:?} ms during the flood (tens of ms alone)"
    );
    let busy = statuses.iter().filter(|status| **status == 503).count();
    let checked = statuses.iter().filter(|status| **status == 401).count();
    assert!(busy > 0 && checked > 0, "{busy} busy, {checked} checked");
    assert!(
        statuses.iter().all(|status| matches!(status, 401 | 503)),
        "a flooded log-in is checked or refused as busy: {:?}",
        statuses
            .iter()
            .filter(|status| !matches!(status, 401 | 503))
            .take(5)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn busy_registration_asks_for_work_and_each_solution_makes_one_account() {
    let app = spawn_app_with(|mut config| {
        config.sign_in.quiet_registrations_per_minute = 3;
        config
    })
    .await;
    let register = |name: &str, work: Option<(&str, String)>| {
        let mut body = serde_json::json!({ "username": name, "password": "correct horse battery" });
        if let Some((challenge, nonce)) = work {
            body["challenge"] = challenge.into();
            body["nonce"] = nonce.into();
        }
        post(&app, "/api/auth/register", body)
    };
    let challenge = || async {
        let response = post(&app, "/api/auth/register/challenge", serde_json::json!({})).await;
        assert_eq!(response.status(), 200);
        response
            .json::<app::api::RegistrationChallenge>()
            .await
            .unwrap()
    };

    // Quiet: no work asked, none needed.
    assert_eq!(challenge().await.difficulty_bits, 0);
    for n in 0..3 {
        assert_eq!(register(&format!("early{n}"), None).await.status(), 201);
    }
    // Three accounts this minute: busy. Without work, refused before hashing.
    let refused = register("late0", None).await;
    let (status, code, _) = outcome(refused).await;
    assert_eq!((status, code), (422, Some(ErrorCode::CaptchaFailed)));
    let work = challenge().await;
    assert_eq!(work.difficulty_bits, 16, "the first busy minute: 16 bits");
    assert_eq!(work.algorithm, "sha256");
    // A wrong nonce is refused too.
    let wrong = (0..)
        .find(|n| !app::pow::verify(&work.salt, work.difficulty_bits, &n.to_string()))
        .unwrap();
    let (status, _, _) =
        outcome(register("late0", Some((&work.challenge, wrong.to_string()))).await).await;
    assert_eq!(status, 422);
    // The solution makes one account, once.
    let nonce = app::pow::search(&work.salt, work.difficulty_bits, 0, u64::MAX).unwrap();
    let made = register("late0", Some((&work.challenge, nonce.to_string()))).await;
    assert_eq!(made.status(), 201);
    let (status, code, _) =
        outcome(register("late1", Some((&work.challenge, nonce.to_string()))).await).await;
    assert_eq!(
        (status, code),
        (422, Some(ErrorCode::CaptchaFailed)),
        "used up"
    );
    // A challenge altered to ask less is not ours.
    let mut parts: Vec<String> = work.challenge.split('.').map(str::to_owned).collect();
    parts[1] = "1".into();
    let forged = parts.join(".");
    let easy = (0..)
        .find(|n| app::pow::verify(&work.salt, 1, &n.to_string()))
        .unwrap();
    let (status, _, _) = outcome(register("late2", Some((&forged, easy.to_string()))).await).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn oversized_work_fields_are_refused_even_while_registration_is_quiet() {
    let app = app_with_real_sign_in_limits().await;
    let body = |nonce: &str| {
        serde_json::json!({
            "username": "carol",
            "password": "correct horse battery",
            "challenge": "",
            "nonce": nonce,
        })
    };
    let (status, code, _) =
        outcome(post(&app, "/api/auth/register", body(&"0".repeat(21))).await).await;
    assert_eq!((status, code), (422, Some(ErrorCode::Invalid)));
    // Nothing was made: the name is still free.
    let made = post(&app, "/api/auth/register", body("0")).await;
    assert_eq!(made.status(), 201);
}
