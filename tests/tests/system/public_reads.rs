//! Reads anyone may send — the sale list, the home page, a sale, a picture by
//! name, `/readyz` — must not take the Postgres pool from payments, log-ins and
//! the order consumer however many arrive at once (issue #25 item 10): each is
//! answered from a short-lived copy loaded by one request at a time.

use systests::{sale_starting_in, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_public_reads_holds_a_few_database_connections_not_the_pool() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(60_000, 5)).await;
    // Let the pool settle, then count the connections it opens for the flood.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let before = app.db.size();
    let mut paths = Vec::new();
    for n in 0..100 {
        paths.push("/api/sales".to_owned());
        paths.push("/".to_owned());
        paths.push(format!("/api/sales/{}", sale.id));
        paths.push("/readyz".to_owned());
        // A well-formed name no picture has, different every time.
        paths.push(format!("/pictures/{n:064x}.png"));
    }
    let statuses = app.get_all(paths).await;
    for (n, status) in statuses.iter().enumerate() {
        let expected = if n % 5 == 4 { 404 } else { 200 };
        assert_eq!(*status, expected, "request {n}");
    }
    let opened = app.db.size().saturating_sub(before);
    assert!(
        opened <= 4,
        "500 concurrent public reads opened {opened} database connections (the pool has 32)"
    );
}
