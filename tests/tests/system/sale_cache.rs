//! The opening second must not stampede Postgres: concurrent requests for a sale
//! whose cache is cold, or for ids that do not exist, cost one query.

use systests::{sale_starting_in, spawn_app};

async fn hammer(app: &systests::TestApp, path: &str, requests: usize) -> Vec<u16> {
    app.get_all(vec![path.to_owned(); requests]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_sale_is_loaded_once_for_a_crowd() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(60_000, 5)).await;
    let before = app.catalog.db_loads();
    let statuses = hammer(&app, &format!("/api/sales/{}/status", sale.id), 500).await;
    assert!(statuses.iter().all(|status| *status == 200));
    assert_eq!(
        app.catalog.db_loads() - before,
        1,
        "one query for 500 concurrent requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_unknown_ids_is_answered_without_a_query_per_id() {
    let app = spawn_app().await;
    app.create_sale(&sale_starting_in(60_000, 5)).await;
    let before = app.catalog.db_loads();
    // One id asked 500 times: remembered as missing.
    let statuses = hammer(&app, "/api/sales/777777/status", 500).await;
    assert!(statuses.iter().all(|status| *status == 404));
    // 500 different made-up ids, each asked once: above the highest id.
    let made_up = (800_000..800_500)
        .map(|id| format!("/api/sales/{id}"))
        .collect();
    assert!(app
        .get_all(made_up)
        .await
        .iter()
        .all(|status| *status == 404));
    assert!(
        app.catalog.db_loads() - before <= 1,
        "{} sale queries for 1,000 requests for made-up ids",
        app.catalog.db_loads() - before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_load_through_redis() {
    let app = spawn_app().await;
    let sale = app.create_sale(&sale_starting_in(60_000, 5)).await;
    // A second catalog over the same stores: another instance's cache, cold.
    let state = app.state();
    let other = server::sales::catalog::Catalog::new(
        state.db.clone(),
        state.redis.clone(),
        state.stock.clone(),
        state.clock.clone(),
    );
    let before = app.catalog.db_loads();
    let (mine, theirs) = tokio::join!(
        futures_util::future::join_all((0..50).map(|_| app.catalog.cached_sale(sale.id))),
        futures_util::future::join_all((0..50).map(|_| other.cached_sale(sale.id))),
    );
    assert!(mine.iter().chain(theirs.iter()).all(|loaded| loaded
        .as_ref()
        .unwrap()
        .as_ref()
        .unwrap()
        .id
        == sale.id));
    let total = app.catalog.db_loads() - before + other.db_loads();
    assert_eq!(
        total, 1,
        "one instance loaded, the other took its copy from Redis"
    );
}
