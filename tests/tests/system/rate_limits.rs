//! Rate limits on the hot path: a shopper hammering gets 429 with `Retry-After`,
//! and the limit holds across instances because it lives in Redis. The buy is
//! charged inside the reserve script itself (one round trip).

use app::api::ErrorCode;
use server::guards::rate_limit::{Rate, RateLimits};
use systests::{error_code, sale_starting_in, spawn_app_with};

fn tight(per_user_burst: u32, per_ip_burst: u32) -> RateLimits {
    RateLimits {
        per_user: Rate {
            per_second: 0.2,
            burst: per_user_burst,
        },
        per_ip: Rate {
            per_second: 0.2,
            burst: per_ip_burst,
        },
        per_sale: Rate {
            per_second: 10_000.0,
            burst: 10_000,
        },
    }
}

/// The status of `response`; a 429 must say how long to wait, with the API's body.
async fn status_checking_429(response: reqwest::Response) -> u16 {
    let status = response.status().as_u16();
    if status == 429 {
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=5).contains(&retry_after), "{retry_after}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), ErrorCode::RateLimited);
    }
    status
}

#[tokio::test]
async fn a_hammering_shopper_is_told_to_wait_and_others_are_not() {
    let app = spawn_app_with(|mut config| {
        config.rate_limits = tight(3, 100);
        config
    })
    .await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 100)).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(status_checking_429(alice.ticket(sale.id).await).await);
    }
    assert_eq!(
        statuses,
        vec![200, 200, 200, 429, 429],
        "a burst of 3, then wait"
    );
    assert_eq!(
        bob.ticket(sale.id).await.status(),
        200,
        "another shopper is not affected"
    );
}

#[tokio::test]
async fn one_address_is_limited_across_two_instances() {
    // Two instances sharing Redis and Postgres, as behind a load balancer.
    let first = spawn_app_with(|mut config| {
        config.rate_limits = tight(100, 4);
        config
    })
    .await;
    let sale = first.create_sale(&sale_starting_in(-1_000, 100)).await;
    let shared_db = first
        .db
        .connect_options()
        .get_database()
        .unwrap()
        .to_owned();
    let prefix = first.redis_prefix.clone();
    let second = server::startup::Application::build({
        let mut config = systests::test_config(&shared_db, &prefix);
        config.rate_limits = tight(100, 4);
        config.workers = false;
        config
    })
    .await
    .unwrap();
    let second_address = second.address();
    tokio::spawn(second.run_until_stopped(std::future::pending()));

    let shopper = first.register("carol").await;
    let mut allowed = 0;
    for n in 0..8 {
        let base = if n % 2 == 0 {
            first.url("")
        } else {
            format!("http://{second_address}")
        };
        let response = shopper
            .client
            .post(format!("{base}/api/sales/{}/ticket", sale.id))
            .json(&serde_json::json!({ "captcha_id": "", "answer": "" }))
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            allowed += 1;
        } else {
            assert_eq!(response.status(), 429);
        }
    }
    assert_eq!(
        allowed, 4,
        "the address's burst is shared, not per instance"
    );
}

#[tokio::test]
async fn a_buyer_with_many_tickets_is_told_to_wait_and_gets_nothing_for_it() {
    let app = spawn_app_with(|mut config| {
        config.rate_limits = tight(3, 100);
        config
    })
    .await;
    let mut sale = sale_starting_in(-1_000, 100);
    sale.per_user_limit = 10;
    let sale = app.create_sale(&sale).await;
    let alice = app.register("alice").await;

    // Five different tickets (a script that got them somehow), bought at once:
    // each is a new attempt, charged to alice's bucket by the reserve.
    let mut statuses = Vec::new();
    for n in 0..5 {
        let ticket =
            app.state()
                .tickets
                .issue(sale.id, alice.user_id, server::clock::now_ms() + 60_000 + n);
        let response = alice
            .post(
                &format!("/api/sales/{}/buy/{ticket}", sale.id),
                serde_json::json!({}),
            )
            .await;
        statuses.push(status_checking_429(response).await);
    }
    assert_eq!(
        statuses,
        vec![202, 202, 202, 429, 429],
        "a burst of 3, then wait"
    );
    app.drain(sale.id).await;
    let books = app.books(sale.id).await;
    assert_eq!(
        (
            app.order_rows(sale.id).await.len(),
            books.stock_left,
            books.drift
        ),
        (3, 97, 0),
        "a refused buy took no unit"
    );
}

/// A ticket request as it arrives through our proxy, `X-Forwarded-For` as given.
async fn ticket_via(
    shopper: &systests::Shopper,
    sale_id: i64,
    forwarded: &str,
) -> reqwest::Response {
    shopper
        .client
        .post(shopper.url(&format!("/api/sales/{sale_id}/ticket")))
        .header("x-forwarded-for", forwarded)
        .json(&serde_json::json!({ "captcha_id": "", "answer": "" }))
        .send()
        .await
        .unwrap()
}

/// The statuses of `count` ticket requests of one shopper arriving through one
/// proxy of ours, the n-th with `X-Forwarded-For: forwarded(n)`, on an address
/// bucket of 3.
async fn tickets_through_our_proxy(count: usize, forwarded: impl Fn(usize) -> String) -> Vec<u16> {
    let app = spawn_app_with(|mut config| {
        config.rate_limits = tight(100, 3);
        config.trusted_proxies = 1;
        config
    })
    .await;
    let sale = app.create_sale(&sale_starting_in(-1_000, 100)).await;
    let alice = app.register("alice").await;
    let mut statuses = Vec::new();
    for n in 0..count {
        statuses.push(status_checking_429(ticket_via(&alice, sale.id, &forwarded(n)).await).await);
    }
    statuses
}

#[tokio::test]
async fn behind_our_proxy_a_forged_forwarded_for_does_not_buy_a_new_bucket() {
    // nginx appends the real address: `forged, real`.
    let statuses = tickets_through_our_proxy(6, |n| format!("198.18.0.{n}, 203.0.113.7")).await;
    assert_eq!(
        statuses,
        [200, 200, 200, 429, 429, 429],
        "one address, whatever it wrote"
    );
}

#[tokio::test]
async fn addresses_of_one_ipv6_64_share_a_bucket() {
    let statuses = tickets_through_our_proxy(5, |n| format!("2001:db8:7:7::{n:x}")).await;
    assert_eq!(statuses, [200, 200, 200, 429, 429], "a /64 is one client");
}

#[tokio::test]
async fn accounts_that_may_not_buy_cannot_drain_the_sales_bucket() {
    // A sale for accounts a week old, with room for 3 challenges at once.
    let app = spawn_app_with(|mut config| {
        config.rate_limits = RateLimits {
            per_sale: Rate {
                per_second: 0.1,
                burst: 3,
            },
            ..tight(100, 100)
        };
        config
    })
    .await;
    let mut week_old_only = sale_starting_in(-1_000, 10);
    week_old_only.min_account_age_days = 7;
    week_old_only.captcha = app::api::CaptchaKind::Pow;
    let sale = app.create_sale(&week_old_only).await;
    let challenge = format!("/api/sales/{}/captcha", sale.id);

    // Twenty accounts made today ask for challenges: each is told why not.
    for n in 0..20 {
        let fresh = app.register(&format!("fresh{n}")).await;
        let response = fresh.post(&challenge, serde_json::json!({})).await;
        assert_eq!(response.status(), 403, "fresh{n}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), ErrorCode::NotEligible);
    }

    // A shopper of long standing still finds the sale's bucket full.
    app.register("elder").await;
    sqlx::query(
        "update users set created_at = now() - interval '30 days' where username = 'elder'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let elder = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = elder
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({ "username": "elder", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let response = elder
        .post(app.url(&challenge))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the eligible shopper gets a challenge"
    );
}
