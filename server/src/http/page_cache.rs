//! Sale pages are the same for everyone (per-user and per-second parts load after
//! hydration), so a CDN or browser may keep them: this middleware marks them
//! `Cache-Control: public` with an `ETag` of the rendered HTML, and answers a
//! matching `If-None-Match` with 304 and no body. The page is the same on every
//! instance (see [`PAGE_NONCE`]), so one CDN entry serves them all.
//!
//! Each instance also keeps the page it rendered ([`RenderedPages`]), with the
//! version of the sale it shows: the sale's definition as the page reads it
//! (an edit, a pause or a resume makes a new version) and whether the sale had
//! started or ended. While the version holds, the kept bytes are served (or a
//! 304) without rendering.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::sales::catalog::Catalog;

/// How long shared caches may serve a sale page without asking again.
const MAX_AGE: &str = "public, max-age=10";
/// Rendered pages are small; anything larger is passed through untouched.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The CSP nonce of every page Leptos renders, the same on every instance.
pub(crate) const PAGE_NONCE: &str = "shared";

/// Sales whose rendered page is kept, at most: beyond, the keeper starts afresh.
const KEPT_PAGES: usize = 1_000;

/// One sale page as rendered, and the version of the sale it shows.
struct RenderedPage {
    version: u64,
    etag: HeaderValue,
    /// The render's own headers (content type, the security headers of the
    /// page layers), without its length.
    headers: HeaderMap,
    body: Bytes,
}

/// The sale pages this instance rendered, by sale id, and what it needs to
/// tell whether one still shows its sale. One `Arc`: the middleware's state is
/// cloned for every request, pages or not.
#[derive(Clone)]
pub(crate) struct RenderedPages(Arc<Keeper>);

struct Keeper {
    catalog: Catalog,
    clock: Arc<dyn Clock>,
    // A std lock: held for a map lookup or insert only, never across an await.
    pages: RwLock<HashMap<i64, Arc<RenderedPage>>>,
}

impl RenderedPages {
    pub fn new(catalog: Catalog, clock: Arc<dyn Clock>) -> Self {
        Self(Arc::new(Keeper {
            catalog,
            clock,
            pages: RwLock::default(),
        }))
    }

    /// The version of sale `id`'s page now: `None` when there is no such sale
    /// or it cannot be read (then the page is rendered as it comes).
    async fn version(&self, id: i64) -> Option<u64> {
        let sale = self.0.catalog.cached_sale(id).await.ok()??;
        let now = self.0.clock.now_ms();
        let mut hasher = DefaultHasher::new();
        sale.hash(&mut hasher);
        (now >= sale.starts_at_ms, now >= sale.ends_at_ms).hash(&mut hasher);
        Some(hasher.finish())
    }

    fn kept(&self, id: i64, version: u64) -> Option<Arc<RenderedPage>> {
        let pages = self.0.pages.read().ok()?;
        pages
            .get(&id)
            .filter(|page| page.version == version)
            .cloned()
    }

    fn keep(&self, id: i64, page: Arc<RenderedPage>) {
        if let Ok(mut pages) = self.0.pages.write() {
            if pages.len() >= KEPT_PAGES && !pages.contains_key(&id) {
                pages.clear();
            }
            pages.insert(id, page);
        }
    }
}

/// Middleware for the sale pages (`/sales/{id}`): the kept page while its
/// version holds, else a fresh render (kept for the next request).
pub(crate) async fn cacheable_sale_pages(
    State(rendered): State<RenderedPages>,
    request: Request,
    next: Next,
) -> Response {
    let cacheable = request.method() == Method::GET && request.uri().path().starts_with("/sales/");
    if !cacheable {
        return next.run(request).await;
    }
    let if_none_match = request.headers().get(header::IF_NONE_MATCH).cloned();
    let sale_id = request
        .uri()
        .path()
        .strip_prefix("/sales/")
        .and_then(|id| id.parse::<i64>().ok());
    let version = match sale_id {
        Some(id) => rendered.version(id).await.map(|version| (id, version)),
        None => None,
    };
    if let Some(page) = version.and_then(|(id, version)| rendered.kept(id, version)) {
        return answer(&page, if_none_match.as_ref());
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE_BYTES).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", &digest[..32])) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let page = Arc::new(RenderedPage {
        version: version.map_or(0, |(_, version)| version),
        etag,
        headers: {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers
        },
        body: bytes,
    });
    // Kept only if the sale did not change while the page rendered.
    if let Some((id, before)) = version {
        if rendered.version(id).await == Some(before) {
            rendered.keep(id, page.clone());
        }
    }
    answer(&page, if_none_match.as_ref())
}

/// The page with its caching headers, or 304 when the client has it.
fn answer(page: &RenderedPage, if_none_match: Option<&HeaderValue>) -> Response {
    let has_it = if_none_match.is_some_and(|tags| {
        tags.as_bytes()
            .split(|b| *b == b',')
            .any(|tag| tag.trim_ascii() == page.etag.as_bytes())
    });
    let mut response = if has_it {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(page.body.clone()))
    };
    let headers = response.headers_mut();
    headers.extend(page.headers.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
    headers.insert(header::ETAG, page.etag.clone());
    response
}
