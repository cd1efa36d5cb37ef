//! Sale pages are the same for everyone (per-user and per-second parts load after
//! hydration), so a CDN or browser may keep them: this middleware marks them
//! `Cache-Control: public` with an `ETag` of the rendered HTML, and answers a
//! matching `If-None-Match` with 304 and no body. The page is the same on every instance (see [`PAGE_NONCE`]), so one CDN
//! entry serves them all.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// How long shared caches may serve a sale page without asking again.
const MAX_AGE: &str = "public, max-age=10";
/// Rendered pages are small; anything larger is passed through untouched.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The CSP nonce of every page Leptos renders, the same on every instance.
pub const PAGE_NONCE: &str = "shared";

/// Middleware for the sale pages (`/sales/{id}`).
pub async fn cacheable_sale_pages(request: Request, next: Next) -> Response {
    let cacheable = request.method() == Method::GET && request.uri().path().starts_with("/sales/");
    if !cacheable {
        return next.run(request).await;
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    let etag = format!("\"{}\"", &digest[..32]);
    let Ok(etag) = HeaderValue::from_str(&etag) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    parts.headers.insert(header::ETAG, etag.clone());
    if if_none_match.is_some_and(|tags| {
        tags.as_bytes()
            .split(|b| *b == b',')
            .any(|tag| tag.trim_ascii() == etag.as_bytes())
    }) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}
