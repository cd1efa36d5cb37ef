//! Registering, logging in and out, as a shopper's browser does it.

use app::api::ErrorCode;
use systests::{error_code, spawn_app};

fn credentials(username: &str, password: &str) -> serde_json::Value {
    serde_json::json!({ "username": username, "password": password })
}

#[tokio::test]
async fn register_logs_in_and_logout_revokes_the_session_everywhere() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let response = client
        .post(app.url("/api/auth/register"))
        .json(&credentials("alice", "correct horse battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let token = cookie.split(';').next().unwrap().to_owned();

    let me: app::api::Account = client
        .get(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((me.username.as_str(), me.is_admin), ("alice", false));

    assert_eq!(
        client
            .post(app.url("/api/auth/logout"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    // The old token is dead on the server, not just forgotten by this browser.
    let stolen = app
        .client
        .get(app.url("/api/auth/me"))
        .header("cookie", token)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 401);
    let body: serde_json::Value = stolen.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::Unauthenticated);
}

#[tokio::test]
async fn the_session_question_is_answered_for_visitors_too() {
    let app = spawn_app().await;
    let ask = |cookie: Option<String>| {
        let mut request = app.client.get(app.url("/api/auth/session"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<app::api::SessionInfo>().await.unwrap()
        }
    };
    assert_eq!(ask(None).await.account, None);
    assert_eq!(
        ask(Some("fs_session=not-a-session".into())).await.account,
        None
    );
    let alice = app.register("alice").await;
    let answer = alice.get("/api/auth/session").await;
    assert_eq!(answer.status(), 200);
    let account = answer
        .json::<app::api::SessionInfo>()
        .await
        .unwrap()
        .account;
    assert_eq!(
        account.map(|account| account.username),
        Some("alice".into())
    );
}

#[tokio::test]
async fn login_with_the_right_password_only() {
    let app = spawn_app().await;
    app.register("bob").await;
    let login = |password: &'static str| {
        let app_url = app.url("/api/auth/login");
        let client = app.client.clone();
        async move {
            client
                .post(app_url)
                .json(&credentials("bob", password))
                .send()
                .await
                .unwrap()
        }
    };
    let ok = login("correct horse battery").await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers().contains_key("set-cookie"));
    let wrong = login("wrong horse battery").await;
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(error_code(&body), ErrorCode::BadCredentials);
    let nobody = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&credentials("nobody", "correct horse battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        nobody.status(),
        401,
        "an unknown name looks like a wrong password"
    );
}

#[tokio::test]
async fn bad_registrations_get_clear_errors_and_create_nothing() {
    let app = spawn_app().await;
    app.register("carol").await;
    let post = |body: serde_json::Value| {
        let url = app.url("/api/auth/register");
        let client = app.client.clone();
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    let taken = post(credentials("carol", "another password")).await;
    assert_eq!(taken.status(), 409);
    assert_eq!(
        error_code(&taken.json::<serde_json::Value>().await.unwrap()),
        ErrorCode::UsernameTaken
    );
    for (name, password) in [
        ("x", "long enough pw"),
        ("<script>", "long enough pw"),
        ("dave", "short"),
    ] {
        let response = post(credentials(name, password)).await;
        assert_eq!(response.status(), 422, "{name}");
        assert_eq!(
            error_code(&response.json::<serde_json::Value>().await.unwrap()),
            ErrorCode::Invalid
        );
    }
    let missing = post(serde_json::json!({ "username": "erin" })).await;
    assert_eq!(missing.status(), 422);
    let garbage = app
        .client
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert_eq!(
        error_code(&garbage.json::<serde_json::Value>().await.unwrap()),
        ErrorCode::BadRequest
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 1, "only carol exists");
}

#[tokio::test]
async fn writes_from_another_site_are_refused() {
    let app = spawn_app().await;
    let shopper = app.register("erin").await;
    let host = app.address.to_string();
    let logout = |origin: Option<String>| {
        let request = shopper.client.post(shopper.url("/api/auth/logout"));
        let request = match origin {
            Some(origin) => request.header("origin", origin),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    let forged = logout(Some("https://evil.example".into())).await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        error_code(&forged.json::<serde_json::Value>().await.unwrap()),
        ErrorCode::Forbidden
    );
    // The session survived the forged logout.
    assert_eq!(shopper.get("/api/auth/me").await.status(), 200);
    assert_eq!(logout(Some(format!("http://{host}"))).await.status(), 204);
}

#[tokio::test]
async fn a_logout_on_one_instance_ends_the_session_on_every_instance_at_once() {
    let first = spawn_app().await;
    let second = first.another_instance(|config| config).await;
    let register = first
        .client
        .post(first.url("/api/auth/register"))
        .json(&credentials("alice", "correct horse battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 201);
    let cookie = register.headers()["set-cookie"].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_owned();
    let me_on = |app: &systests::TestApp| {
        app.client
            .get(app.url("/api/auth/me"))
            .header("cookie", &session)
            .send()
    };
    // The second instance reads the session once, and keeps it.
    assert_eq!(me_on(&second).await.unwrap().status(), 200);

    let logout = first
        .client
        .post(first.url("/api/auth/logout"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let mut status = 0;
    for _ in 0..20 {
        status = me_on(&second).await.unwrap().status().as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        status, 401,
        "the other instance let the session go within a second"
    );
}

#[tokio::test]
async fn logging_out_a_made_up_session_tells_no_other_instance() {
    use futures_util::StreamExt;

    let app = spawn_app().await;
    let channel = app.state().stock.keys().notice_channel();
    let client = redis::Client::open(systests::redis_url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(&channel).await.unwrap();
    let mut notices = pubsub.into_on_message();

    for n in 0..200 {
        let response = app
            .client
            .post(app.url("/api/auth/logout"))
            .header("cookie", format!("fs_session=made-up-{n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    // A real log-out is announced, and it is the first notice on the channel.
    let alice = app.register("alice").await;
    assert_eq!(
        alice
            .post("/api/auth/logout", serde_json::json!({}))
            .await
            .status(),
        204
    );
    let first = tokio::time::timeout(std::time::Duration::from_secs(5), notices.next())
        .await
        .expect("the real log-out is announced")
        .unwrap();
    let payload: String = first.get_payload().unwrap();
    assert!(payload.starts_with("session-ended:"), "{payload}");
    let next = tokio::time::timeout(std::time::Duration::from_millis(300), notices.next()).await;
    assert!(
        next.is_err(),
        "one announcement in all: {:?}",
        next.map(|m| m.map(|m| m.get_payload::<String>()))
    );
}

#[tokio::test]
async fn making_an_admin_never_takes_over_a_shoppers_account() {
    let app = spawn_app().await;
    app.register("carol").await;
    let name = server::accounts::credentials::Username::parse("carol").unwrap();
    let password = server::accounts::credentials::Password::parse("operator chosen").unwrap();
    let refused = app.state().accounts.upsert_admin(&name, password).await;
    assert!(
        matches!(refused, Err(server::accounts::users::RegisterError::Taken)),
        "{refused:?}"
    );
    // Carol keeps her password and stays a shopper.
    let login = app
        .client
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({ "username": "carol", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let account: app::api::Account = login.json().await.unwrap();
    assert!(!account.is_admin);
}

#[tokio::test]
async fn an_admin_demoted_in_the_database_loses_the_admin_routes_at_the_next_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    assert_eq!(admin.get("/api/admin/sale-defaults").await.status(), 200);
    sqlx::query("update users set is_admin = false where id = $1")
        .bind(admin.user_id)
        .execute(&app.db)
        .await
        .unwrap();
    let response = admin.get("/api/admin/sale-defaults").await;
    assert_eq!(
        response.status(),
        403,
        "the session's week-old copy of the right must not count"
    );
    assert_eq!(
        error_code(&response.json().await.unwrap()),
        ErrorCode::Forbidden
    );
}

#[tokio::test]
async fn end_sessions_logs_a_user_out_on_every_device_and_instance() {
    let app = spawn_app().await;
    let phone = app.register("stolen-account").await;
    let laptop = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let logged_in = laptop
        .post(app.url("/api/auth/login"))
        .json(
            &serde_json::json!({"username": "stolen-account", "password": "correct horse battery"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), 200);
    let bystander = app.register("bystander").await;
    // Another instance has read the phone's session and keeps a copy.
    let other = app.another_instance(|config| config).await;
    let phone = phone.on(&other);
    assert_eq!(phone.get("/api/auth/me").await.status(), 200);

    let report = app
        .run_command("end-sessions stolen-account")
        .await
        .unwrap();
    assert_eq!(report, "ended 2 session(s) of `stolen-account`");

    let on_laptop = laptop.get(app.url("/api/auth/me")).send().await.unwrap();
    assert_eq!(on_laptop.status(), 401, "the laptop is logged out");
    let mut status = 0;
    for _ in 0..50 {
        status = phone.get("/api/auth/me").await.status().as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 401, "the other instance heard the notice");
    assert_eq!(bystander.get("/api/auth/me").await.status(), 200);
    assert_eq!(
        app.run_command("end-sessions nobody-here")
            .await
            .unwrap_err(),
        "no user is named `nobody-here`"
    );
}
