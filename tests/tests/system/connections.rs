//! The server's edge against slow and silent clients: a request's head must
//! arrive in time, an idle kept-alive connection is closed (after one to two
//! header timeouts: the watchdog checks once per period), and no more than the
//! cap are served at once (issue #25 item 9).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use systests::{spawn_app_with, TestApp};

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

async fn app_with_cap(max_open: usize) -> TestApp {
    spawn_app_with(|mut config| {
        config.header_timeout = HEADER_TIMEOUT;
        config.max_connections = Some(max_open);
        config
    })
    .await
}

/// Reads until the server closes the connection; returns the bytes read.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return received,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// How long after `started` the server closed `stream` (`None`: still open at `limit`).
async fn closed_after(
    mut stream: TcpStream,
    started: Instant,
    limit: Duration,
) -> Option<Duration> {
    tokio::time::timeout(limit, read_until_closed(&mut stream))
        .await
        .ok()
        .map(|_| started.elapsed())
}

#[tokio::test]
async fn a_client_that_trickles_its_request_head_is_cut_off_while_others_are_served() {
    let app = app_with_cap(64).await;
    let started = Instant::now();
    let mut tricklers = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        tricklers.push(tokio::spawn(async move {
            // One header byte every 100 ms, never the blank line that ends the head.
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            for _ in 0..100 {
                ticks.tick().await;
                if stream.write_all(b"X").await.is_err() {
                    return Some(started.elapsed());
                }
                let mut byte = [0u8; 1];
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await
                {
                    return Some(started.elapsed());
                }
            }
            None
        }));
    }
    // A shopper who sends a whole request is answered meanwhile.
    assert_eq!(app.get("/healthz").await.status(), 200);
    for trickler in tricklers {
        let closed = trickler.await.unwrap();
        let closed = closed.expect("a client trickling its head for 10 s was never cut off");
        assert!(
            closed >= HEADER_TIMEOUT - Duration::from_millis(100) && closed < 4 * HEADER_TIMEOUT,
            "cut off after {closed:?}; the head must arrive within {HEADER_TIMEOUT:?}"
        );
    }
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let app = app_with_cap(64).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "the first request is answered");
    let answered = Instant::now();
    let closed = closed_after(stream, answered, 5 * HEADER_TIMEOUT).await;
    let closed = closed.expect("an idle kept-alive connection stayed open for 5 s");
    assert!(
        closed >= HEADER_TIMEOUT - Duration::from_millis(100),
        "closed after {closed:?}, before the client had its {HEADER_TIMEOUT:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_their_turn_and_the_server_serves_no_more_than_the_cap() {
    const CAP: usize = 4;
    let app = app_with_cap(CAP).await;
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..3 * CAP {
        let stream = TcpStream::connect(app.address).await.unwrap();
        silent.push(tokio::spawn(closed_after(
            stream,
            started,
            8 * HEADER_TIMEOUT,
        )));
    }
    let mut closed = Vec::new();
    for connection in silent {
        let after = connection.await.unwrap();
        closed.push(after.expect("a silent connection was never closed"));
    }
    closed.sort();
    // Served CAP at a time: each batch is accepted when the one before times out.
    for batch in closed.chunks(CAP).collect::<Vec<_>>().windows(2) {
        let (last_of_first, first_of_next) = (batch[0][CAP - 1], batch[1][0]);
        assert!(
            first_of_next - last_of_first >= HEADER_TIMEOUT / 2,
            "no more than {CAP} may be served at once; closing times: {closed:?}"
        );
    }
    assert!(
        closed[0] >= HEADER_TIMEOUT - Duration::from_millis(100),
        "a connection was closed before its header timeout: {closed:?}"
    );
    // With the silent ones gone, a shopper is served at once, and the gauge
    // counts the one connection serving it.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("flashsale_http_connections_open 1"),
        "{metrics}"
    );
}
