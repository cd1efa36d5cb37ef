//! The frame around every routed request, as one layer: the request's span
//! (method and route template), the cross-site write guard
//! ([`super::csrf::refusal`]), the time limit ([`super::error::timed_out`]),
//! the request metrics ([`crate::metrics::Metrics::observe`]) and the failure
//! log ([`super::error::log_failure`]).
//!
//! Why one hand-written service and not a `from_fn` middleware for each: axum
//! wraps every route in every layer, each time in a new boxed route, and a
//! `from_fn` middleware clones the whole boxed stack beneath it on every
//! request (so does each boxed route it calls). Four such layers made a dozen
//! allocations and clones per request, on the poll and the buy path alike.
//! This service calls the route beneath it in place (a route is always ready)
//! and allocates one future.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument;

use super::csrf;
use super::error;
use crate::metrics::Metrics;

/// The layer: put once on the whole router (`Router::layer`), which wraps each route.
#[derive(Clone)]
pub(crate) struct Frame {
    limit: Duration,
    metrics: Arc<Metrics>,
}

impl Frame {
    /// A request still unanswered after `limit` is answered 503 `unavailable`.
    pub(crate) fn new(limit: Duration, metrics: Arc<Metrics>) -> Self {
        Self { limit, metrics }
    }
}

impl<S> Layer<S> for Frame {
    type Service = Framed<S>;

    fn layer(&self, inner: S) -> Framed<S> {
        Framed {
            frame: self.clone(),
            inner,
        }
    }
}

/// One route inside the frame.
#[derive(Clone)]
pub(crate) struct Framed<S> {
    frame: Frame,
    inner: S,
}

impl<S> Service<Request> for Framed<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let span = tracing::info_span!(
            "request",
            method = %method,
            route = route.as_ref().map(MatchedPath::as_str)
        );
        // The inner future does nothing until polled, inside the span.
        let answer = match csrf::refusal(&request) {
            Some(refusal) => Err(refusal),
            None => Ok(self.inner.call(request)),
        };
        let Frame { limit, metrics } = self.frame.clone();
        Box::pin(
            async move {
                // The refusal and the time limit's answer are the frame's own
                // (the latter logs itself); only the route's answer is checked
                // for a failure to log.
                let response = match answer {
                    Err(refusal) => refusal,
                    Ok(future) => match tokio::time::timeout(limit, future).await {
                        Ok(Ok(response)) => {
                            error::log_failure(&response);
                            response
                        }
                        Ok(Err(never)) => match never {},
                        Err(_) => error::timed_out(limit),
                    },
                };
                metrics.observe(
                    &method,
                    route.as_ref().map(MatchedPath::as_str),
                    response.status().as_u16(),
                    started.elapsed().as_secs_f64(),
                );
                Ok(response)
            }
            .instrument(span),
        )
    }
}
