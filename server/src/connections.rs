//! The server's edge: accepting connections with the limits `axum::serve` does
//! not set. A client gets [`ConnectionLimits::header_timeout`] to send a request's
//! head, and as long again to start the next request on a kept-alive connection;
//! then hyper closes it, so a slow or silent client cannot hold a connection
//! (and a file descriptor) for long. At most [`ConnectionLimits::max_open`]
//! connections are served at once: at the cap the loop stops accepting and new
//! connections wait in the kernel's backlog, so the process never runs out of
//! descriptors for Redis, Postgres and the files it serves.
//!
//! On shutdown the loop stops accepting, asks every connection to finish its
//! request in flight and close, and returns once all have.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::{Layer, ServiceExt};

/// Descriptors kept back from the connection cap's default for everything else
/// the process opens: database and Redis connections, served files, the log.
const RESERVED_DESCRIPTORS: u64 = 256;
/// The default cap never exceeds this, however high the descriptor limit: each
/// connection costs buffers, and more are better spread over instances.
const DEFAULT_MAX_OPEN: u64 = 16_384;

/// How long a client may be slow, and how many may be connected at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The time a client has to send a request's head, counted from the
    /// connection's start or from the previous response (the idle keep-alive).
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
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
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

/// Serves one connection until it closes, or until `stopping` turns true and
/// its request in flight is answered; then calls `closed`.
async fn serve_one(
    http: http1::Builder,
    stream: tokio::net::TcpStream,
    router: Router,
    peer: SocketAddr,
    mut stopping: watch::Receiver<bool>,
    closed: impl FnOnce(),
) {
    // Each request carries the peer's address, as
    // `into_make_service_with_connect_info` would give it.
    let service = axum::Extension(ConnectInfo(peer))
        .layer(router)
        .map_request(|request: hyper::Request<hyper::body::Incoming>| {
            request.map(axum::body::Body::new)
        });
    let connection = http
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    // A timed-out or reset client is routine at the edge: nothing is logged.
    let stop = async move {
        // Dropped at once: a `watch::Ref` must not be held across an await.
        let _ = stopping.wait_for(|stop| *stop).await.map(drop);
    };
    let finished = tokio::select! {
        _ = connection.as_mut() => true,
        () = stop => false,
    };
    if !finished {
        connection.as_mut().graceful_shutdown();
        let _ = connection.as_mut().await;
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
