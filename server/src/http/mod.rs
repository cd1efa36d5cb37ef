//! The HTTP layer: one router made of each area's `router()`, the layers around
//! it, and what every handler shares.
//!
//! - [`state`]: [`state::AppState`] and the policies handlers read.
//! - [`extract`]: typed path ids, client address, JSON bodies, the logged-in user.
//! - [`error`]: [`error::ApiError`], the API's error bodies, their OpenAPI
//!   descriptions, and the logging of failures at the boundary.
//! - The areas: [`health`] (operations), [`sales`] (read API), [`purchase`]
//!   (CAPTCHA → ticket → buy: the hot path), [`queue`] (the waiting room),
//!   [`accounts`], [`orders`], [`admin`] and [`line_report`] (the admin's view of
//!   a line),
//!   [`pictures`] (uploaded product pictures). [`api_router`] merges them, and
//!   their operations into [`openapi`]'s document (`GET /api/openapi.json`).
//! - [`frame`] (with [`csrf`]): what every routed request passes; [`page_cache`]:
//!   the layer of the sale pages.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod csrf;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod frame;
pub(crate) mod health;
pub(crate) mod line_report;
pub(crate) mod openapi;
pub(crate) mod orders;
pub(crate) mod page_cache;
pub(crate) mod pictures;
pub(crate) mod purchase;
pub(crate) mod queue;
pub(crate) mod sale_rules;
pub(crate) mod sales;
pub mod state;

use std::sync::{Arc, OnceLock};

use app::ssr::Ports;
use app::{shell, App};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::router::OpenApiRouter;

use state::AppState;

/// All routes: the JSON API, operations, static assets and the Leptos pages,
/// each inside the [`frame`] every routed request passes (its span, the
/// cross-site write guard, the time limit, metrics, the failure log). The
/// sale-page cache wraps the pages only: a layer costs every request it wraps,
/// even one it has nothing to do for.
pub(crate) fn router(
    state: AppState,
    request_timeout: std::time::Duration,
    api_explorer: bool,
    metrics_public: bool,
) -> Router {
    let ApiRoutes {
        api, operations, ..
    } = api_router(api_explorer, metrics_public);
    operations
        .merge(api)
        .merge(pages(&state).layer(compression()))
        .layer(frame::Frame::new(request_timeout, state.metrics.clone()))
        .with_state(state)
}

/// Answers of a kilobyte or more (pages, lists, the OpenAPI document),
/// compressed the way the client accepts (brotli, else gzip) at a fast level.
/// Put on the routers whose answers can be long (pages, sales, orders, admin,
/// the document), not on the buy path, pictures (compressed already) or the
/// operations endpoints; the hashed assets are compressed at build time and
/// pass untouched (a response with a `Content-Encoding` is left alone).
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new().compress_when(
        SizeAbove::new(1024)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::SSE),
    )
}

/// The routes that answer JSON (the API and its document) and the operations
/// endpoints, each as a router, with the document describing both.
pub(crate) struct ApiRoutes {
    /// `/api/…` and `/pictures/…`.
    pub api: Router<AppState>,
    /// `/healthz`, `/readyz`, `/metrics` (unless it has an address of its own).
    pub operations: Router<AppState>,
    /// Served as JSON already; kept for the tests that hold it against the routers.
    #[cfg_attr(not(test), allow(dead_code))]
    pub document: Document,
}

/// The one root of the API: every area's documented router merged, their
/// operations in [`openapi`]'s frame, the document served (and, with
/// `explorer`, the explorer), and `/api/` ended with the JSON 404 for paths
/// that are not there. `/metrics` is among them when `metrics_public`.
pub(crate) fn api_router(explorer: bool, metrics_public: bool) -> ApiRoutes {
    // Only the routes whose answers run long are compressed: the buy path's
    // few bytes of JSON do not pass the layer at all.
    let (api, mut document) = OpenApiRouter::with_openapi(openapi::frame())
        .merge(sales::router().layer(compression()))
        .merge(purchase::router())
        .merge(queue::router())
        .merge(accounts::router())
        .merge(orders::router().layer(compression()))
        .merge(admin::router().layer(compression()))
        .merge(line_report::router().layer(compression()))
        .merge(pictures::router())
        .split_for_parts();
    let (operations, operations_document) = health::router(metrics_public).split_for_parts();
    document.merge(operations_document);
    openapi::complete(&mut document);
    let api = api
        .merge(openapi::serve(&document, explorer).layer(compression()))
        .route("/api/{*rest}", any(error::api_not_found));
    ApiRoutes {
        api,
        operations,
        document,
    }
}

/// The routes of the Leptos app, listed once per process. Leptos lists them by
/// walking the whole app, and while it walks, every resource in the process
/// waits (`SuppressResourceLoad` is a process-wide flag): a page another
/// instance in the same process rendered meanwhile never finished.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The Leptos pages (sale pages served from the page cache), the hashed
/// assets they load, and the fallback page.
fn pages(state: &AppState) -> Router<AppState> {
    let leptos_options = (*state.leptos).clone();
    let ports = Ports {
        catalog: Arc::new(state.catalog.clone()),
    };
    // Leptos stamps a CSP nonce into every page (leptos_axum always enables it),
    // by default a fresh one per render. A sale page must be byte for byte the
    // same on every instance, so that one CDN entry and one `ETag` serve them
    // all: every page gets the same value. We send no Content-Security-Policy,
    // so the nonce protects nothing; were a nonce-based CSP ever added,
    // cacheable pages would have to drop their inline scripts instead.
    let nonce = leptos::nonce::Nonce::from_value(page_cache::PAGE_NONCE);
    // `name.br` and `name.gz` beside an asset (written by the release build)
    // are sent instead of it to a client that accepts them.
    let assets = ServeDir::new(format!(
        "{}/{}",
        leptos_options.site_root, leptos_options.site_pkg_dir
    ))
    .precompressed_br()
    .precompressed_gzip();
    // Hashed file names change with their content, so browsers and CDNs may keep them forever.
    let asset_caching = if leptos_options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Router::new()
        .leptos_routes_with_context(
            state,
            page_routes(),
            move || {
                provide_context(ports.clone());
                provide_context(nonce.clone());
            },
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .route_layer(axum::middleware::from_fn_with_state(
            page_cache::RenderedPages::new(state.catalog.clone(), state.clock.clone()),
            page_cache::cacheable_sale_pages,
        ))
        .nest_service(
            &format!("/{}", leptos_options.site_pkg_dir),
            tower::ServiceBuilder::new()
                .layer(axum::middleware::map_response(
                    unexpected_asset_errors_are_404,
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(asset_caching),
                ))
                // The same name answers brotli, gzip or plain bytes: caches
                // must keep them apart.
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::VARY,
                    HeaderValue::from_static("accept-encoding"),
                ))
                .service(assets),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
}

/// Whatever else goes wrong serving a file (a name too long for the file
/// system, say) means there is no such asset: 404, never a 5xx.
async fn unexpected_asset_errors_are_404<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    if response.status().is_server_error() {
        return StatusCode::NOT_FOUND.into_response();
    }
    response.map(Body::new)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::openapi::{DOCUMENT_PATH, EXPLORER_PATH};
    use super::*;

    /// The paths a router answers, read from its `Debug` form (axum lists
    /// every route's path there; it has no public way to list them).
    fn routed_paths(router: &Router<AppState>) -> BTreeSet<String> {
        let printed = format!("{router:?}");
        printed
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|quoted| quoted.starts_with('/'))
            // axum's own fallback routes, not ours.
            .filter(|path| *path != "/" && !path.contains("__private__axum"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_route_is_in_the_document() {
        let ApiRoutes {
            api,
            operations,
            document,
        } = api_router(true, true);
        let documented: BTreeSet<String> = document.paths.paths.keys().cloned().collect();
        let mut routed = routed_paths(&api);
        routed.extend(routed_paths(&operations));
        // Not operations of the API: the document itself and the JSON 404.
        for undocumented in [DOCUMENT_PATH, "/api/{*rest}"] {
            assert!(routed.remove(undocumented), "{undocumented} is routed");
        }
        let explorer = routed.len();
        routed.retain(|path| !path.starts_with(EXPLORER_PATH));
        assert!(routed.len() < explorer, "the explorer is routed");
        assert!(
            routed.len() >= 25 && routed.contains("/api/sales/{id}/buy/{ticket}"),
            "the router's paths were read: {routed:?}"
        );
        let missing: Vec<_> = routed.difference(&documented).collect();
        assert!(missing.is_empty(), "routed but not documented: {missing:?}");
        let stale: Vec<_> = documented.difference(&routed).collect();
        assert!(stale.is_empty(), "documented but not routed: {stale:?}");
    }

    #[test]
    fn operations_have_unique_ids_and_admin_ones_need_the_session() {
        let document = api_router(false, true).document;
        let mut ids = BTreeSet::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("get", &item.get),
                ("post", &item.post),
                ("patch", &item.patch),
                ("put", &item.put),
                ("delete", &item.delete),
            ] {
                let Some(operation) = operation else { continue };
                let id = operation
                    .operation_id
                    .clone()
                    .expect("every operation is named");
                assert!(ids.insert(id.clone()), "{id} is used twice");
                assert!(
                    operation.security.is_some(),
                    "{method} {path} says who may call it"
                );
                let admin = operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|tag| tag == "admin"));
                if admin {
                    assert!(
                        operation.security.as_ref().is_some_and(|s| !s.is_empty()),
                        "{method} {path} needs the session"
                    );
                    assert!(
                        operation.responses.responses.contains_key("403"),
                        "{method} {path} documents 403"
                    );
                }
            }
        }
    }
}
