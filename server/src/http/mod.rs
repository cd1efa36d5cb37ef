//! The HTTP layer: one router made of each area's `router()`, the layers around
//! it, and what every handler shares.
//!
//! - [`state`]: [`state::AppState`] and the policies handlers read.
//! - [`extract`]: typed path ids, client address, JSON bodies, the logged-in user.
//! - [`error`]: [`error::ApiError`], API.md's error bodies, and the logging of
//!   failures at the boundary.
//! - The areas: [`health`] (operations), [`sales`] (read API), [`purchase`]
//!   (CAPTCHA → ticket → buy: the hot path), [`accounts`], [`orders`], [`admin`],
//!   [`pictures`] (uploaded product pictures); [`openapi`] puts the documented
//!   ones together with their OpenAPI document (`GET /api/openapi.json`).
//! - [`csrf`] and [`page_cache`]: the layers for writes and for sale pages.

pub(crate) mod accounts;
pub(crate) mod admin;
pub(crate) mod csrf;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod health;
pub(crate) mod openapi;
pub(crate) mod orders;
pub(crate) mod page_cache;
pub(crate) mod pictures;
pub(crate) mod purchase;
pub(crate) mod sales;
pub mod state;

use std::sync::Arc;

use app::ssr::Ports;
use app::{shell, App};
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use state::AppState;

/// All routes: the JSON API, operations, static assets and the Leptos pages,
/// inside the layers every request passes (outermost first): tracing, failure
/// logging, metrics, the time limit. The cross-site write guard wraps the API
/// and the pages (whose server functions are posted to), not the operations
/// endpoints; the sale-page cache wraps the pages only: a layer costs every
/// request it wraps, even one it has nothing to do for.
pub fn router(state: AppState, request_timeout: std::time::Duration, api_explorer: bool) -> Router {
    let openapi::ApiRoutes {
        api, operations, ..
    } = openapi::api_routes(api_explorer);
    let shop = api
        .merge(pages(&state))
        .layer(axum::middleware::from_fn(csrf::same_site_writes));
    operations
        .merge(shop)
        .layer(axum::middleware::from_fn(move |request, next| {
            error::time_limit(request_timeout, request, next)
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(axum::middleware::from_fn(error::log_failures))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                let route = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str);
                tracing::info_span!("request", method = %request.method(), route)
            }),
        )
        .with_state(state)
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
    let assets = ServeDir::new(format!(
        "{}/{}",
        leptos_options.site_root, leptos_options.site_pkg_dir
    ));
    // Hashed file names change with their content, so browsers and CDNs may keep them forever.
    let asset_caching = if leptos_options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Router::new()
        .leptos_routes_with_context(
            state,
            generate_route_list(App),
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
