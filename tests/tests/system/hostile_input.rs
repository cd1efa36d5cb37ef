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

/// A small seeded generator (xorshift64*): the same seed, the same requests.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        choices[self.below(choices.len())]
    }

    /// A path segment where an id belongs: real ids, huge and negative numbers,
    /// text, escapes, very long names.
    fn segment(&mut self, real: &str) -> String {
        match self.below(8) {
            0 => real.to_owned(),
            1 => self
                .pick(&["0", "-1", "9223372036854775807", "9223372036854775808"])
                .into(),
            2 => format!("{real}-{:032x}", self.next()),
            3 => "%00".into(),
            4 => "a".repeat(1 + self.below(5_000)),
            5 => "%F0%9F%92%A5%C0%AF..".into(),
            6 => (self.next() as i64).to_string(),
            _ => format!("{}", self.next()),
        }
    }

    /// A JSON value of any shape, nested a little.
    fn json(&mut self, depth: u32) -> serde_json::Value {
        match self.below(if depth > 2 { 6 } else { 9 }) {
            0 => serde_json::Value::Null,
            1 => json!(self.below(2) == 1),
            2 => json!(self.next() as i64),
            3 => json!(f64::from(self.next() as u32) / 7.0),
            4 => json!(self.pick(&["", "\u{0}", "<script>", "ünï©ødé", "root", "pow"])),
            5 => json!("x".repeat(self.below(20_000))),
            6 => {
                serde_json::Value::Array((0..self.below(4)).map(|_| self.json(depth + 1)).collect())
            }
            _ => {
                let fields = [
                    "username",
                    "password",
                    "title",
                    "stock",
                    "per_user_limit",
                    "starts_at_ms",
                    "ends_at_ms",
                    "captcha",
                    "captcha_id",
                    "answer",
                    "price_cents",
                    "description",
                ];
                let mut object = serde_json::Map::new();
                for _ in 0..self.below(6) {
                    let value = self.json(depth + 1);
                    object.insert(self.pick(&fields).to_owned(), value);
                }
                serde_json::Value::Object(object)
            }
        }
    }

    /// A request body: JSON, broken JSON, or raw bytes.
    fn body(&mut self) -> Vec<u8> {
        match self.below(4) {
            0 => Vec::new(),
            1 => self.json(0).to_string().into_bytes(),
            2 => {
                let mut text = self.json(0).to_string().into_bytes();
                text.truncate(self.below(text.len() + 1));
                text
            }
            _ => (0..self.below(2_000)).map(|_| self.next() as u8).collect(),
        }
    }
}

#[tokio::test]
async fn random_requests_to_every_route_get_4xx_answers_and_write_nothing() {
    let app = spawn_app().await;
    let sale = app
        .create_sale(&systests::sale_starting_in(-1_000, 5))
        .await;
    let mut puzzle_sale = systests::sale_starting_in(-1_000, 5);
    puzzle_sale.captcha = app::api::CaptchaKind::Image;
    let puzzle_sale = app.create_sale(&puzzle_sale).await;
    let shopper = app.register("steady-shopper").await;
    let admin = app.admin().await;
    let sale_id = sale.id.to_string();
    let puzzle_sale_id = puzzle_sale.id.to_string();
    let routes: [(&str, &str); 33] = [
        ("GET", "/api/sales"),
        ("GET", "/api/sales/{id}"),
        ("GET", "/api/sales/{id}/status"),
        ("POST", "/api/sales/{id}/captcha"),
        ("POST", "/api/sales/{id}/captcha?{query}"),
        ("POST", "/api/sales/{id}/ticket"),
        ("POST", "/api/sales/{puzzle}/captcha"),
        ("POST", "/api/sales/{puzzle}/ticket"),
        ("POST", "/api/sales/{id}/buy/{ticket}"),
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/logout"),
        ("GET", "/api/auth/me"),
        ("GET", "/api/orders"),
        ("GET", "/api/orders/{order}"),
        ("POST", "/api/orders/{order}/pay"),
        ("POST", "/api/orders/{order}/cancel"),
        ("POST", "/api/admin/sales"),
        ("GET", "/api/admin/sales"),
        ("GET", "/api/admin/sales/{id}"),
        ("PATCH", "/api/admin/sales/{id}"),
        ("POST", "/api/admin/sales/{id}/pause"),
        ("POST", "/api/admin/sales/{id}/resume"),
        ("GET", "/api/admin/sales/{id}/stats"),
        ("GET", "/api/admin/sales/{id}/reconcile"),
        ("GET", "/api/admin/sales/{id}/orders"),
        ("GET", "/api/admin/dead-letters"),
        ("POST", "/api/admin/dead-letters/{letter}/retry"),
        ("POST", "/api/admin/dead-letters/{letter}/release"),
        ("POST", "/api/admin/pictures"),
        ("GET", "/pictures/{picture}"),
        ("GET", "/api/openapi.json"),
        ("GET", "/sales/{id}"),
    ];
    // Users are not counted: noise may well spell a valid registration.
    let counts = |db: sqlx::PgPool| async move {
        sqlx::query_as::<_, (i64, i64)>(
            "select (select count(*) from sales), (select count(*) from orders)",
        )
        .fetch_one(&db)
        .await
        .unwrap()
    };
    let before = counts(app.db.clone()).await;
    let seed = 0x5eed_f1a5_u64;
    let mut noise = Noise(seed);
    let content_types = [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ];
    for round in 0..1_500 {
        let (method, template) = routes[noise.below(routes.len())];
        let path = template
            .replace("{id}", &noise.segment(&sale_id))
            .replace("{ticket}", &noise.segment("abc.def"))
            .replace("{order}", &noise.segment(&sale_id))
            .replace("{letter}", &noise.segment("1-0"))
            .replace("{puzzle}", &noise.segment(&puzzle_sale_id))
            .replace("{query}", &noise.segment("instead=pow"))
            .replace(
                "{picture}",
                &noise.segment(&format!("{}.png", "ab".repeat(32))),
            );
        // A visitor, a shopper or an admin, all from the site itself.
        let client = [&app.client, &shopper.client, &admin.client][noise.below(3)];
        let mut request = client
            .request(method.parse().unwrap(), app.url(&path))
            .header("origin", app.url(""))
            .body(noise.body());
        let content_type = noise.pick(&content_types);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "seed {seed:#x}, request {round}: {method} {path} answered {status}: {answer}"
        );
    }
    assert_eq!(counts(app.db.clone()).await, before, "nothing was written");
    for sale in [sale.id, puzzle_sale.id] {
        let books = app.books(sale).await;
        assert_eq!((books.stock_left, books.drift), (5, 0), "no unit moved");
    }
}
