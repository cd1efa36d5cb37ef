//! The API described for everyone who is not our own client: the frame of an
//! OpenAPI 3.1 document (title, tags, the session cookie as security scheme)
//! and the routes that serve it. The operations themselves come from each
//! area's `OpenApiRouter` (a route and its operation from the one
//! `#[utoipa::path]` beside the handler); `super::api_router` merges them into
//! this frame. In development the API explorer (Swagger UI, from the
//! `utoipa-swagger-ui-vendored` crate: nothing is fetched from elsewhere) is
//! served at `/api/explorer`. The wire types are the shared `app::api` ones
//! (their schemas are derived under the `ssr` feature). A leaf: it names no
//! route module.

use std::sync::Arc;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::accounts::sessions::COOKIE;

/// Where the document is served.
pub(crate) const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where the explorer is served, when it is.
pub(crate) const EXPLORER_PATH: &str = "/api/explorer";

/// The document's frame: title, tags, the session cookie as the security
/// scheme, and the error body every operation may answer with.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flash sale API",
        description = "The HTTP API of the flash-sale service (its prose contract is \
                       docs/API.md in the repository). Every error is \
                       `{\"error\": <code>, \"message\": <sentence>}`, each code with one \
                       status; 429 and 503 answers carry `Retry-After` (seconds). Times are ms \
                       since the Unix epoch, money integer cents. Writes (POST, PATCH) under \
                       /api/ from a browser must come from the same site: an `Origin` header \
                       must name the request's `Host`, and without one `Sec-Fetch-Site: \
                       cross-site` is refused (403 `forbidden`); clients that send neither \
                       header pass."
    ),
    servers((url = "/", description = "the server that serves this document")),
    modifiers(&SessionCookie),
    components(schemas(app::api::ErrorBody, app::api::ErrorCode)),
    tags(
        (name = "sales", description = "Sales and their state, for everyone"),
        (name = "purchase", description = "The hot path: challenge, ticket, buy"),
        (name = "queue", description = "The waiting room of a `queue` sale: the line, where a shopper stands, the draw"),
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

/// An empty document with the frame every operation is merged into.
pub(crate) fn frame() -> Document {
    ApiDoc::openapi()
}

/// Finishes the merged document: an operation that names no security scheme is
/// public and says so (`security: []`), so a generated client neither guesses
/// nor sends a cookie it does not need.
pub(crate) fn complete(document: &mut Document) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation.security.get_or_insert_with(Vec::new);
        }
    }
}

/// Serves `document` at [`DOCUMENT_PATH`] and, with `explorer`, the explorer.
pub(crate) fn serve<S: Clone + Send + Sync + 'static>(
    document: &Document,
    explorer: bool,
) -> Router<S> {
    let json: Arc<str> = document
        .to_json()
        .expect("the document is plain data and always serialises")
        .into();
    let served = Router::new().route(
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
    );
    if explorer {
        // The online validator of swagger.io is switched off: no call leaves the page.
        let config = Config::new([DOCUMENT_PATH]).validator_url("none");
        served.merge(SwaggerUi::new(EXPLORER_PATH).config(config))
    } else {
        served
    }
}
