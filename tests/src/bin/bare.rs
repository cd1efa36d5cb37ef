//! The ceiling of `spike wrk`: a bare axum 0.8 server answering `ok` on every
//! path, on the same Tokio runtime settings as ours, measured in the same run.
//! Whatever our endpoints cost above it is the cost of our stack and our work.
//!
//! `bare <address>` (default 127.0.0.1:3999).

use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3999".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    let app = Router::new().fallback(|| async { "ok" });
    axum::serve(listener, app).await
}
