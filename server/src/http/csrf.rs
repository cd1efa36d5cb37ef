//! Cross-site request forgery guard for state-changing API calls. Session cookies
//! are `SameSite=Lax` already; on top, a browser's `POST`/`PATCH`/`PUT`/`DELETE`
//! must come from this site: its `Origin` must name the host it was sent to, and
//! without an `Origin` a `Sec-Fetch-Site: cross-site` is refused. Clients that are
//! not browsers (the load generator, curl) send neither and pass.

use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Whether a request with these headers comes from another site.
pub(crate) fn is_cross_site(
    origin: Option<&str>,
    host: Option<&str>,
    fetch_site: Option<&str>,
) -> bool {
    match origin {
        // "null" is what sandboxed frames and some redirects send: never ours.
        Some(origin) => {
            let origin_host = origin
                .split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/'));
            origin_host.is_none() || origin_host != host
        }
        None => fetch_site == Some("cross-site"),
    }
}

/// The refusal of a cross-site write to the API (403 `forbidden`), if this is
/// one. [`super::frame`] asks it of every routed request; only writes to
/// `/api/` paths are ever refused.
pub(crate) fn refusal(request: &Request) -> Option<Response> {
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    if !writes || !request.uri().path().starts_with("/api/") {
        return None;
    }
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    is_cross_site(text("origin"), text("host"), text("sec-fetch-site"))
        .then(|| ApiError::forbidden("requests from other sites are refused").into_response())
}

#[cfg(test)]
mod tests {
    use super::is_cross_site;

    #[test]
    fn same_origin_passes_and_other_sites_do_not() {
        let host = Some("shop.example:3000");
        assert!(!is_cross_site(Some("http://shop.example:3000"), host, None));
        assert!(!is_cross_site(
            Some("https://shop.example:3000/"),
            host,
            None
        ));
        assert!(is_cross_site(Some("https://evil.example"), host, None));
        assert!(is_cross_site(
            Some("https://shop.example:3000.evil.example"),
            host,
            None
        ));
        assert!(is_cross_site(Some("null"), host, None));
        assert!(is_cross_site(None, host, Some("cross-site")));
        assert!(!is_cross_site(None, host, Some("same-origin")));
        assert!(
            !is_cross_site(None, host, None),
            "non-browser clients send no Origin"
        );
    }
}
