//! Prometheus metrics. The registry belongs to the application (not a global), so
//! several applications in one test process do not mix their counts.
//!
//! Request metrics are labelled by the *route template* (`/api/sales/{id}`), never by
//! the raw path, so a flood of bogus ids cannot blow up the series count.
//!
//! Counting a request allocates nothing: methods are static names, each route
//! template is kept once ([`Routes`]) and shared by its labels, and a buy's
//! labels are its sale id and a static outcome.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use app::api::ErrorCode;
use axum::extract::State;
use axum::http::Method;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: Arc<str>,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurchaseLabels {
    sale: i64,
    outcome: &'static str,
}

/// The method label: the standard methods by name, anything else `other` (a
/// made-up method must not make a series of its own).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Every route template seen, kept once: a request's labels share it.
#[derive(Default)]
struct Routes(RwLock<HashSet<Arc<str>>>);

impl Routes {
    fn get(&self, route: &str) -> Arc<str> {
        if let Some(kept) = self
            .0
            .read()
            .ok()
            .and_then(|routes| routes.get(route).cloned())
        {
            return kept;
        }
        let kept: Arc<str> = Arc::from(route);
        if let Ok(mut routes) = self.0.write() {
            routes.insert(kept.clone());
        }
        kept
    }
}

/// The outcome label of a buy that reserved its units; a refused buy is
/// labelled by its error code.
pub(crate) const WON: &str = "won";

/// The label of a buy's outcome: [`WON`], or the code it was refused with.
pub(crate) fn outcome_label(refusal: Option<ErrorCode>) -> &'static str {
    refusal.map_or(WON, ErrorCode::as_str)
}

/// The application's metrics and the registry that renders them.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    purchases: Family<PurchaseLabels, Counter>,
    open_connections: Gauge,
    routes: Routes,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("flashsale");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16)));
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to produce the response head, by route and method",
            latency.clone(),
        );
        let purchases = Family::<PurchaseLabels, Counter>::default();
        registry.register(
            "purchase_attempts",
            "Buy attempts by sale and outcome (won, sold_out, limit_reached, busy, ...)",
            purchases.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "http_connections_open",
            "Client connections being served (at FLASHSALE_MAX_CONNECTIONS, new ones wait)",
            open_connections.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            purchases,
            open_connections,
            routes: Routes::default(),
        }
    }

    /// Records how many client connections are being served.
    pub fn set_open_connections(&self, open: usize) {
        self.open_connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// Counts one buy attempt on `sale_id`: won (`None`) or refused with a code.
    pub fn record_purchase(&self, sale_id: i64, refusal: Option<ErrorCode>) {
        self.purchases
            .get_or_create(&PurchaseLabels {
                sale: sale_id,
                outcome: outcome_label(refusal),
            })
            .inc();
    }

    #[cfg(test)]
    /// This instance's buy attempts on `sale_id` by outcome ([`WON`] or an error
    /// code), leaving out outcomes that never happened.
    pub fn purchase_counts(&self, sale_id: i64) -> std::collections::BTreeMap<String, i64> {
        let outcomes = std::iter::once(None).chain(ErrorCode::ALL.iter().copied().map(Some));
        outcomes
            .filter_map(|refusal| {
                let outcome = outcome_label(refusal);
                let labels = PurchaseLabels {
                    sale: sale_id,
                    outcome,
                };
                let count = self.purchases.get(&labels)?.get();
                Some((outcome.to_owned(), i64::try_from(count).unwrap_or(i64::MAX)))
            })
            .collect()
    }

    /// Counts a request and its time, labelled by its route template
    /// (`unmatched` without one). Called by [`crate::http::frame`].
    pub(crate) fn observe(&self, method: &Method, route: Option<&str>, status: u16, seconds: f64) {
        let route_labels = RouteLabels {
            method: method_label(method),
            route: self.routes.get(route.unwrap_or("unmatched")),
        };
        self.latency.get_or_create(&route_labels).observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method: route_labels.method,
                route: route_labels.route,
                status,
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus (OpenMetrics) text", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
    )
)]
pub(crate) async fn export(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_of_a_buy_is_counted() {
        let metrics = Metrics::new();
        metrics.record_purchase(7, None);
        for &code in ErrorCode::ALL {
            metrics.record_purchase(7, Some(code));
        }
        metrics.record_purchase(8, Some(ErrorCode::SoldOut));
        let counts = metrics.purchase_counts(7);
        assert_eq!(counts.len(), ErrorCode::ALL.len() + 1, "{counts:?}");
        assert_eq!(counts[WON], 1);
        assert_eq!(counts["rate_limited"], 1);
        assert_eq!(counts["not_found"], 1);
        assert_eq!(metrics.purchase_counts(8).values().sum::<i64>(), 1);
        assert!(metrics.purchase_counts(9).is_empty());
        let text = metrics.render();
        assert!(
            text.contains(r#"flashsale_purchase_attempts_total{sale="7",outcome="won"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn requests_are_counted_by_method_and_route_template() {
        let metrics = Metrics::new();
        for _ in 0..2 {
            metrics.observe(&Method::GET, Some("/api/sales/{id}"), 404, 0.001);
        }
        metrics.observe(&Method::from_bytes(b"BREW").unwrap(), None, 405, 0.001);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"flashsale_http_requests_total{method="GET",route="/api/sales/{id}",status="404"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"flashsale_http_requests_total{method="other",route="unmatched",status="405"} 1"#
            ),
            "{text}"
        );
    }
}
