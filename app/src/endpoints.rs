//! Every JSON route the browser calls, one typed function each: the path, the
//! method, the body and the answer's type written once, here (docs/API.md lists
//! the same routes). Components call these, never a path string; the transport
//! (fetch, `Retry-After`, "not in a browser" on the server) is [`crate::client`].

use crate::api::{
    Account, BuyAccepted, CaptchaChallenge, Credentials, DeadLetter, Order, PictureUploaded,
    Reconciliation, Sale, SaleDefaults, SaleDraft, SaleOrder, SalePatch, SaleStats, SessionInfo,
    TicketGrant, TicketRequest,
};
use crate::client::{self, Failure, Reply};

/// What an endpoint answers: the API's reply, or a network failure.
pub type Answer<T> = Result<Reply<T>, Failure>;

// Accounts.

/// `GET /api/auth/session`: who is logged in, `None` for a visitor (200
/// either way: a visitor's page logs no error).
pub async fn session() -> Answer<SessionInfo> {
    client::get("/api/auth/session").await
}

/// `GET /api/auth/me`: who is logged in (401 for a visitor).
pub async fn me() -> Answer<Account> {
    client::get("/api/auth/me").await
}

/// `POST /api/auth/login`.
pub async fn log_in(credentials: &Credentials) -> Answer<Account> {
    client::post("/api/auth/login", credentials).await
}

/// `POST /api/auth/register`.
pub async fn register(credentials: &Credentials) -> Answer<Account> {
    client::post("/api/auth/register", credentials).await
}

/// `POST /api/auth/register/challenge`: the work a registration needs now.
pub async fn registration_challenge() -> Answer<crate::api::RegistrationChallenge> {
    client::post("/api/auth/register/challenge", &()).await
}

/// `POST /api/auth/logout`.
pub async fn log_out() -> Answer<()> {
    client::post("/api/auth/logout", &()).await
}

// Sales and the hot path.

/// `GET /api/sales/{id}/status`'s path: the countdown reads it itself, timing
/// the round trip to estimate the server's clock.
pub fn status_path(sale_id: i64) -> String {
    format!("/api/sales/{sale_id}/status")
}

/// `GET /api/sales`: the home page's list.
pub async fn sales() -> Answer<Vec<crate::api::SaleListing>> {
    client::get("/api/sales").await
}

/// `GET /api/sales/{id}`.
pub async fn sale(sale_id: i64) -> Answer<Sale> {
    client::get(&format!("/api/sales/{sale_id}")).await
}

/// `POST /api/sales/{id}/queue`: joins a queue sale's line (once).
pub async fn join_queue(sale_id: i64) -> Answer<crate::api::QueueStanding> {
    client::post(&format!("/api/sales/{sale_id}/queue"), &()).await
}

/// `GET /api/sales/{id}/queue`: where the shopper stands in the line.
pub async fn queue_standing(sale_id: i64) -> Answer<crate::api::QueueStanding> {
    client::get(&format!("/api/sales/{sale_id}/queue")).await
}

/// Which challenge to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// The sale's own CAPTCHA.
    SalesOwn,
    /// A proof of work instead of the puzzle, for who cannot drag.
    ProofOfWorkInstead,
}

/// `POST /api/sales/{id}/captcha` (`?instead=pow`).
pub async fn challenge(sale_id: i64, which: Challenge) -> Answer<CaptchaChallenge> {
    let path = match which {
        Challenge::SalesOwn => format!("/api/sales/{sale_id}/captcha"),
        Challenge::ProofOfWorkInstead => format!("/api/sales/{sale_id}/captcha?instead=pow"),
    };
    client::post(&path, &()).await
}

/// `POST /api/sales/{id}/ticket`.
pub async fn ticket(sale_id: i64, request: &TicketRequest) -> Answer<TicketGrant> {
    client::post(&format!("/api/sales/{sale_id}/ticket"), request).await
}

/// `POST {buy_path}`, the path a ticket grants.
pub async fn buy(buy_path: &str) -> Answer<BuyAccepted> {
    client::post(buy_path, &()).await
}

// Orders.

/// `GET /api/orders`: the caller's orders.
pub async fn orders() -> Answer<Vec<Order>> {
    client::get("/api/orders").await
}

/// `GET /api/orders/{id}`.
pub async fn order(id: &str) -> Answer<Order> {
    client::get(&format!("/api/orders/{id}")).await
}

/// What a shopper may do with an unpaid order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderAction {
    Pay,
    Cancel,
}

/// `POST /api/orders/{id}/pay` or `/cancel`.
pub async fn act_on_order(id: &str, action: OrderAction) -> Answer<Order> {
    let action = match action {
        OrderAction::Pay => "pay",
        OrderAction::Cancel => "cancel",
    };
    client::post(&format!("/api/orders/{id}/{action}"), &()).await
}

// Admin.

/// `GET /api/admin/sales`.
pub async fn admin_sales() -> Answer<Vec<Sale>> {
    client::get("/api/admin/sales").await
}

/// `GET /api/admin/sales/{id}`.
pub async fn admin_sale(sale_id: i64) -> Answer<Sale> {
    client::get(&format!("/api/admin/sales/{sale_id}")).await
}

/// `POST /api/admin/sales`.
pub async fn create_sale(draft: &SaleDraft) -> Answer<Sale> {
    client::post("/api/admin/sales", draft).await
}

/// `GET /api/admin/sale-defaults`.
pub async fn sale_defaults() -> Answer<SaleDefaults> {
    client::get("/api/admin/sale-defaults").await
}

/// `PATCH /api/admin/sales/{id}`.
pub async fn edit_sale(sale_id: i64, patch: &SalePatch) -> Answer<Sale> {
    client::patch(&format!("/api/admin/sales/{sale_id}"), patch).await
}

/// `POST /api/admin/sales/{id}/pause` (`paused`) or `/resume`.
pub async fn set_paused(sale_id: i64, paused: bool) -> Answer<Sale> {
    let action = if paused { "pause" } else { "resume" };
    client::post(&format!("/api/admin/sales/{sale_id}/{action}"), &()).await
}

/// `GET /api/admin/sales/{id}/stats`.
pub async fn sale_stats(sale_id: i64) -> Answer<SaleStats> {
    client::get(&format!("/api/admin/sales/{sale_id}/stats")).await
}

/// `GET /api/admin/sales/{id}/line`: a queue sale's line, live.
pub async fn sale_line(sale_id: i64) -> Answer<crate::api::LineLive> {
    client::get(&format!("/api/admin/sales/{sale_id}/line")).await
}

/// `GET /api/admin/sales/{id}/fairness`: a queue sale's fairness report.
pub async fn sale_fairness(sale_id: i64) -> Answer<crate::api::FairnessReport> {
    client::get(&format!("/api/admin/sales/{sale_id}/fairness")).await
}

/// `GET /api/admin/sales/{id}/reconcile`.
pub async fn sale_books(sale_id: i64) -> Answer<Reconciliation> {
    client::get(&format!("/api/admin/sales/{sale_id}/reconcile")).await
}

/// `GET /api/admin/sales/{id}/orders`.
pub async fn sale_orders(sale_id: i64) -> Answer<Vec<SaleOrder>> {
    client::get(&format!("/api/admin/sales/{sale_id}/orders")).await
}

/// `GET /api/admin/dead-letters`.
pub async fn dead_letters() -> Answer<Vec<DeadLetter>> {
    client::get("/api/admin/dead-letters").await
}

/// What an admin may do with a dead letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterAction {
    /// Save the order again, through the same idempotent insert.
    Retry,
    /// Give the reservation up: its units return to the sale, once.
    Release,
}

/// `POST /api/admin/dead-letters/{id}/retry` or `/release`.
pub async fn act_on_letter(id: &str, action: LetterAction) -> Answer<serde_json::Value> {
    let action = match action {
        LetterAction::Retry => "retry",
        LetterAction::Release => "release",
    };
    client::post(&format!("/api/admin/dead-letters/{id}/{action}"), &()).await
}

/// `POST /api/admin/pictures` with the file chosen in the input that fired `event`.
pub async fn upload_picture(event: &leptos::ev::Event) -> Answer<PictureUploaded> {
    client::post_chosen_file("/api/admin/pictures", event).await
}
