//! [`Shopper`]: a logged-in shopper (or admin) of a test app, with the API calls
//! the system tests make on its behalf.

use crate::TestApp;

/// A logged-in shopper (or admin) with its own cookie jar.
pub struct Shopper {
    pub client: reqwest::Client,
    pub(crate) base: String,
    pub user_id: i64,
}

impl Shopper {
    /// The same shopper (session cookie and all) talking to another instance.
    pub fn on(mut self, app: &TestApp) -> Self {
        self.base = app.url("");
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("server answers")
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("server answers")
    }

    /// `POST /api/orders/{order_id}/{action}` (`pay` or `cancel`).
    pub async fn order_action(&self, order_id: &str, action: &str) -> reqwest::Response {
        self.post(
            &format!("/api/orders/{order_id}/{action}"),
            serde_json::json!({}),
        )
        .await
    }

    /// `POST /api/sales/{id}/queue`: joins the sale's line.
    pub async fn join(&self, sale_id: i64) -> reqwest::Response {
        self.post(
            &format!("/api/sales/{sale_id}/queue"),
            serde_json::json!({}),
        )
        .await
    }

    /// `GET /api/sales/{id}/queue`, which must answer 200.
    pub async fn standing(&self, sale_id: i64) -> app::api::QueueStanding {
        let response = self.get(&format!("/api/sales/{sale_id}/queue")).await;
        assert_eq!(response.status(), 200, "standing of {}", self.user_id);
        response.json().await.expect("a standing")
    }

    /// Asks this shopper's standing until `done` holds (the leader ticks
    /// every 200 ms and an instance's board is at most 250 ms old), for up to
    /// 10 s.
    pub async fn standing_until(
        &self,
        sale_id: i64,
        done: impl Fn(&app::api::QueueStanding) -> bool,
    ) -> app::api::QueueStanding {
        let mut last = None;
        for _ in 0..200 {
            let standing = self.standing(sale_id).await;
            if done(&standing) {
                return standing;
            }
            last = Some(standing);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("shopper {} never got there: {last:?}", self.user_id);
    }

    /// Asks for a ticket of a `none`-CAPTCHA sale; returns the raw response.
    pub async fn ticket(&self, sale_id: i64) -> reqwest::Response {
        self.post(
            &format!("/api/sales/{sale_id}/ticket"),
            serde_json::json!({ "captcha_id": "", "answer": "" }),
        )
        .await
    }

    /// Buys with a correctly signed ticket made by the server's own signer,
    /// skipping the ticket endpoint's checks: what only the reserve refuses.
    pub async fn buy_with_signed_ticket(&self, app: &TestApp, sale_id: i64) -> reqwest::Response {
        let ticket =
            app.state()
                .tickets
                .issue(sale_id, self.user_id, server::clock::now_ms() + 60_000);
        self.post(
            &format!("/api/sales/{sale_id}/buy/{ticket}"),
            serde_json::json!({}),
        )
        .await
    }

    /// Tries to buy for up to a second (a returned unit takes a moment to clear
    /// the sold-out flag everywhere); returns the last status.
    pub async fn buy_until_won(&self, sale_id: i64) -> u16 {
        let mut status = 0;
        for _ in 0..50 {
            status = self.buy(sale_id).await.0;
            if status == 202 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        status
    }

    /// Challenge, proof of work, ticket and buy of a `pow` sale; the buy's
    /// status and body (or the first refusal's).
    pub async fn buy_with_work(&self, sale_id: i64) -> (u16, serde_json::Value) {
        let challenge = self
            .post(
                &format!("/api/sales/{sale_id}/captcha"),
                serde_json::json!({}),
            )
            .await;
        if challenge.status() != 200 {
            let status = challenge.status().as_u16();
            return (status, challenge.json().await.unwrap_or_default());
        }
        let challenge: app::api::CaptchaChallenge = challenge.json().await.expect("a challenge");
        let salt = challenge
            .salt
            .as_deref()
            .expect("a pow challenge has a salt");
        let bits = challenge.difficulty_bits.expect("and a difficulty");
        let nonce = app::pow::search(salt, bits, 0, u64::MAX).expect("a solution");
        let ticket = self
            .post(
                &format!("/api/sales/{sale_id}/ticket"),
                serde_json::json!({ "captcha_id": challenge.captcha_id, "answer": nonce.to_string() }),
            )
            .await;
        self.buy_with(ticket).await
    }

    /// Ticket then buy; returns the buy's status and body (or the ticket's, if
    /// the ticket was refused).
    pub async fn buy(&self, sale_id: i64) -> (u16, serde_json::Value) {
        self.buy_with(self.ticket(sale_id).await).await
    }

    /// Buys with the ticket in `ticket`, the ticket route's answer.
    async fn buy_with(&self, ticket: reqwest::Response) -> (u16, serde_json::Value) {
        if ticket.status() != 200 {
            let status = ticket.status().as_u16();
            return (status, ticket.json().await.unwrap_or_default());
        }
        let grant: app::api::TicketGrant = ticket.json().await.expect("a ticket");
        let response = self.post(&grant.buy_path, serde_json::json!({})).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }
}
