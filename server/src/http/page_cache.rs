//! Sale pages are the same for everyone (per-user and per-second parts load after
//! hydration), so a CDN or browser may keep them: this middleware marks them
//! `Cache-Control: public` with an `ETag` of the rendered HTML, and answers a
//! matching `If-None-Match` with 304 and no body.
//!
//! The page must be byte for byte the same on every instance, so that one CDN
//! entry serves them all: the only per-process part Leptos renders, its CSP
//! nonce, is replaced by [`PAGE_NONCE`]. We send no Content-Security-Policy, so
//! the nonce protects nothing; were a nonce-based CSP ever added, cacheable pages
//! would have to drop their inline scripts instead.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// How long shared caches may serve a sale page without asking again.
const MAX_AGE: &str = "public, max-age=10";
/// Rendered pages are small; anything larger is passed through untouched.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// What stands for the process' nonce in cacheable pages.
const PAGE_NONCE: &str = "shared";

/// Middleware for the sale pages (`/sales/{id}`); `nonce` is the one this
/// process' pages are rendered with.
pub async fn cacheable_sale_pages(nonce: Arc<str>, request: Request, next: Next) -> Response {
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
    let Ok(rendered) = axum::body::to_bytes(body, MAX_PAGE_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let bytes = Bytes::from(unstamp(&rendered, nonce.as_bytes()));
    parts.headers.remove(header::CONTENT_LENGTH);
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

/// `page` with every occurrence of `nonce` replaced by [`PAGE_NONCE`].
fn unstamp(page: &[u8], nonce: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.windows(nonce.len()).position(|window| window == nonce) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(PAGE_NONCE.as_bytes());
        rest = &rest[at + nonce.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stamp_of_the_nonce_is_replaced_and_nothing_else() {
        let page = b"<script nonce=\"n0Nce\">x</script><link crossorigin=\"n0Nce\">n0Nc";
        let unstamped = String::from_utf8(unstamp(page, b"n0Nce")).unwrap();
        assert_eq!(
            unstamped,
            "<script nonce=\"shared\">x</script><link crossorigin=\"shared\">n0Nc"
        );
    }
}
