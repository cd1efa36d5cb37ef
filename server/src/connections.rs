//! The server's edge: accepting connections with the limits `axum::serve` does
//! not set. A connection on which no request has begun for
//! [`ConnectionLimits::header_timeout`] (checked once per that period, so after
//! one to two of them), and none is being answered, is closed: a client that
//! trickles a request's head, or leaves a kept-alive connection idle, cannot hold
//! a connection (and a file descriptor) for long. One watchdog timer per
//! connection does this: hyper's own header timeout arms a timer for every
//! request, which cost the latency-bound rows 10–35 % of their request rate
//! (BENCHMARKS.md, "Session 12: the accept loop"). At most
//! [`ConnectionLimits::max_open`] connections are served at once: at the cap the
//! loop stops accepting and new connections wait in the kernel's backlog, so the
//! process never runs out of descriptors for Redis, Postgres and the files it
//! serves.
//!
//! On shutdown the loop stops accepting, asks every connection to finish its
//! request in flight and close, and returns once all have.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// Descriptors kept back from the connection cap's default for everything else
/// the process opens: database and Redis connections, served files, the log.
const RESERVED_DESCRIPTORS: u64 = 256;
/// The default cap never exceeds this, however high the descriptor limit: each
/// connection costs buffers, and more are better spread over instances.
const DEFAULT_MAX_OPEN: u64 = 16_384;

/// How long a client may be slow, and how many may be connected at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a connection may go without a request begun while none is
    /// being answered (a head trickling in, an idle keep-alive) before it is
    /// closed; checked once per this period, so it closes after one to two.
    pub header_timeout: Duration,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_open: usize,
}

/// The cap when none is set: raises this process' soft limit on open files to
/// its hard limit (as Go and nginx do; the soft limit is often 1,024) and leaves
/// [`RESERVED_DESCRIPTORS`] of it for everything else.
pub fn default_max_open() -> usize {
    cap_for(raise_descriptor_limit())
}

fn cap_for(descriptors: u64) -> usize {
    let open = descriptors
        .saturating_sub(RESERVED_DESCRIPTORS)
        .clamp(64, DEFAULT_MAX_OPEN);
    usize::try_from(open).unwrap_or(64)
}

/// Raises the soft limit on open files to the hard one; returns the limit in force.
fn raise_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes,
/// then lets the requests in flight finish. `open` follows the number of
/// connections being served.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    open: impl Fn(usize) + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_open));
    let (stop, stopping) = watch::channel(false);
    let http = http1::Builder::new();
    let open = Arc::new(open);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or memory: pause rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        open(limits.max_open - slots.available_permits());
        tokio::spawn(serve_one(
            http.clone(),
            stream,
            router.clone(),
            peer,
            limits.header_timeout,
            stopping.clone(),
            {
                let (slots, open) = (slots.clone(), open.clone());
                move || {
                    drop(slot);
                    open(limits.max_open - slots.available_permits());
                }
            },
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it closes: all slots back = all closed.
    let all = u32::try_from(limits.max_open).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// What a connection's requests are doing, for its watchdog.
#[derive(Default)]
struct Activity {
    /// Requests whose head has arrived.
    started: AtomicU64,
    /// Requests not yet fully answered (their body sent or dropped).
    open: AtomicUsize,
}

/// Counts a request as open until dropped (with the response body).
struct Answering(Arc<Activity>);

impl Answering {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.started.fetch_add(1, Ordering::Relaxed);
        activity.open.fetch_add(1, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one connection until it closes, until it sat `timeout` with no
/// request begun and none being answered (then it is dropped: closed), or until
/// `stopping` turns true and its request in flight is answered; then calls
/// `closed`.
async fn serve_one(
    http: http1::Builder,
    stream: tokio::net::TcpStream,
    router: Router,
    peer: SocketAddr,
    timeout: Duration,
    mut stopping: watch::Receiver<bool>,
    closed: impl FnOnce(),
) {
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = activity.clone();
        tower::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let answering = Answering::begin(&activity);
            let mut request = request.map(Body::new);
            // The peer's address, as `into_make_service_with_connect_info` gives it.
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move {
                let response = router.oneshot(request).await?;
                // Open until hyper has sent (or dropped) the whole body.
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &answering;
                        frame
                    }))
                }))
            }
        })
    };
    let connection = http
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut stop = std::pin::pin!(async move {
        // Dropped at once: a `watch::Ref` must not be held across an await.
        let _ = stopping.wait_for(|stop| *stop).await.map(drop);
    });
    let mut watchdog = tokio::time::interval_at(tokio::time::Instant::now() + timeout, timeout);
    let mut seen = 0;
    // A timed-out or reset client is routine at the edge: nothing is logged.
    loop {
        tokio::select! {
            _ = connection.as_mut() => break,
            () = &mut stop => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.as_mut().await;
                break;
            }
            _ = watchdog.tick() => {
                let started = activity.started.load(Ordering::Relaxed);
                if started == seen && activity.open.load(Ordering::Relaxed) == 0 {
                    break;
                }
                seen = started;
            }
        }
    }
    closed();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_descriptors_for_the_rest_and_stays_reasonable() {
        assert_eq!(cap_for(1024), 768);
        assert_eq!(cap_for(1_048_576), 16_384);
        assert_eq!(cap_for(100), 64);
    }
}
