//! The API described for everyone who is not our own client: an OpenAPI 3.1
//! document generated from the handlers themselves. Each area's router is an
//! `OpenApiRouter` whose routes are registered with `routes!`, so a route and
//! its operation come from the one `#[utoipa::path]` beside the handler and
//! cannot drift apart; [`api_routes`] puts them together and serves the
//! document at `GET /api/openapi.json`, and in development the API explorer
//! (Swagger UI, from the `utoipa-swagger-ui-vendored` crate: nothing is
//! fetched from elsewhere) at `/api/explorer`. The wire types are the shared
//! `app::api` ones (their schemas are derived under the `ssr` feature).

use std::sync::Arc;

use axum::http::header;
use axum::routing::{any, get};
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::state::AppState;
use super::{accounts, admin, error, health, orders, pictures, purchase, sales};
use crate::accounts::sessions::COOKIE;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where the explorer is served, when it is.
pub const EXPLORER_PATH: &str = "/api/explorer";

/// The document's frame: title, tags, the session cookie as the security
/// scheme, and the error body every operation may answer with.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flash sale API",
        description = "The HTTP API of the flash-sale service. Every error is \
                       `{\"error\": <code>, \"message\": <sentence>}`; times are ms since the \
                       Unix epoch, money integer cents."
    ),
    modifiers(&SessionCookie),
    components(schemas(app::api::ErrorBody, app::api::ErrorCode)),
    tags(
        (name = "sales", description = "Sales and their state, for everyone"),
        (name = "purchase", description = "The hot path: challenge, ticket, buy"),
        (name = "accounts", description = "Registering, logging in and out"),
        (name = "orders", description = "The caller's orders: pay or cancel before the deadline"),
        (name = "admin", description = "Needs the session of an admin; shoppers get 403 `forbidden`"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// The session cookie set by register and log-in, as the security scheme.
struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                COOKIE,
                "HttpOnly, SameSite=Lax; set by POST /api/auth/register or /api/auth/login",
            ))),
        );
    }
}

/// The routes that answer JSON (the API and its document) and the operations
/// endpoints, each as a router, with the document describing both.
pub(crate) struct ApiRoutes {
    /// `/api/…` and `/pictures/…`: wrapped in the cross-site write guard.
    pub api: Router<AppState>,
    /// `/healthz`, `/readyz`, `/metrics`: no guard.
    pub operations: Router<AppState>,
    /// Served as JSON already; kept for the tests that hold it against the routers.
    #[cfg_attr(not(test), allow(dead_code))]
    pub document: Document,
}

/// Builds the documented routers, serves the document (and, with `explorer`,
/// the explorer), and ends `/api/` with the JSON 404 for paths that are not there.
pub(crate) fn api_routes(explorer: bool) -> ApiRoutes {
    let (api, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sales::router())
        .merge(purchase::router())
        .merge(accounts::router())
        .merge(orders::router())
        .merge(admin::router())
        .merge(pictures::router())
        .split_for_parts();
    let (operations, operations_document) = health::router().split_for_parts();
    document.merge(operations_document);
    let json: Arc<str> = document
        .to_json()
        .expect("the document is plain data and always serialises")
        .into();
    let api = api
        .route(
            DOCUMENT_PATH,
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        json.to_string(),
                    )
                }
            }),
        )
        .route("/api/{*rest}", any(error::api_not_found));
    let api = if explorer {
        // The online validator of swagger.io is switched off: no call leaves the page.
        let config = Config::new([DOCUMENT_PATH]).validator_url("none");
        api.merge(SwaggerUi::new(EXPLORER_PATH).config(config))
    } else {
        api
    };
    ApiRoutes {
        api,
        operations,
        document,
    }
}

/// The error answers of the API, each written once with its status and
/// meaning, and listed by name in the operations' `responses(...)`; their
/// content is the shared `{error, message}` body. Never built: only their
/// OpenAPI descriptions are used.
#[allow(dead_code)]
pub(crate) mod errors {
    use app::api::ErrorBody;
    use utoipa::IntoResponses;

    #[derive(IntoResponses)]
    #[response(status = 400, description = "a malformed path, query or body")]
    pub(crate) struct Malformed(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 401, description = "no session (or it ended)")]
    pub(crate) struct NoSession(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 403,
        description = "not allowed: not an admin, a write from another site, or a refused ticket"
    )]
    pub(crate) struct Forbidden(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 404, description = "no such thing")]
    pub(crate) struct NotFound(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 409, description = "refused in this state")]
    pub(crate) struct Conflict(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 410, description = "sold out or ended")]
    pub(crate) struct Gone(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 413, description = "the body is too large")]
    pub(crate) struct TooLarge(ErrorBody);

    #[derive(IntoResponses)]
    #[response(
        status = 422,
        description = "a well-formed body with values the API does not accept"
    )]
    pub(crate) struct Invalid(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 425, description = "the sale has not started")]
    pub(crate) struct NotStarted(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 429, description = "rate limited; see Retry-After")]
    pub(crate) struct RateLimited(ErrorBody);

    #[derive(IntoResponses)]
    #[response(status = 503, description = "busy or a store is away; see Retry-After")]
    pub(crate) struct Unavailable(ErrorBody);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

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
        } = api_routes(true);
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
        let document = api_routes(false).document;
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
                let admin = operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|tag| tag == "admin"));
                if admin {
                    assert!(
                        operation.security.is_some(),
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
