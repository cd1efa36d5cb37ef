//! The service on a real Redis Cluster (three masters of this test's own, no
//! replicas) with two instances: what only a cluster can break — keys of
//! different sales on different nodes, pub/sub between nodes, reads and counts
//! over several sales.

use std::sync::Arc;
use std::time::Duration;

use app::api::{ErrorCode, SaleStats};
use server::clock::ShiftedClock;
use server::config::Config;
use server::redis_connection::RedisTarget;
use server::secret::Secret;
use systests::private_servers::PrivateRedisCluster;
use systests::{error_code, sale_starting_in, spawn_app_with, TestApp};

/// Points an instance at `cluster`. The test prefix loses its braces: a hash
/// tag in the prefix would put every sale in one slot (the server refuses it).
fn on(cluster: &PrivateRedisCluster) -> impl Fn(Config) -> Config + Clone {
    let urls = cluster.urls();
    move |mut config| {
        config.redis = RedisTarget::Cluster(Secret::new(urls.clone()));
        config.redis_prefix = config.redis_prefix.replace(['{', '}'], "");
        config
    }
}

/// The node serving sale `sale_id`'s keys, by port.
fn node_of(cluster: &PrivateRedisCluster, app: &TestApp, sale_id: i64) -> u16 {
    cluster
        .node_of(&app.state().stock.keys().stock(sale_id))
        .expect("the cluster names the node")
}

async fn stats(app: &TestApp, sale_id: i64) -> SaleStats {
    app.admin()
        .await
        .get(&format!("/api/admin/sales/{sale_id}/stats"))
        .await
        .json()
        .await
        .expect("stats")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_sales_on_three_nodes_sell_persist_count_and_dead_letter_on_two_instances() {
    let cluster = PrivateRedisCluster::start(3).unwrap();
    let first = spawn_app_with(on(&cluster)).await;
    let second = first.another_instance(on(&cluster)).await;
    let mut sales = Vec::new();
    for _ in 0..4 {
        sales.push(first.create_sale(&sale_starting_in(-1_000, 2)).await);
    }
    let nodes: std::collections::BTreeSet<u16> = sales
        .iter()
        .map(|sale| node_of(&cluster, &first, sale.id))
        .collect();
    assert_eq!(
        nodes.len(),
        3,
        "the four sales' keys are on all three nodes"
    );

    // Each sale: one winner on each instance, then one refusal.
    for sale in &sales {
        for (app, name) in [(&first, "a"), (&second, "b")] {
            let shopper = app.register(&format!("buyer-{name}-{}", sale.id)).await;
            assert_eq!(shopper.buy(sale.id).await.0, 202, "sale {}", sale.id);
        }
        let late = second.register(&format!("late-{}", sale.id)).await;
        let (status, body) = late.buy(sale.id).await;
        assert_eq!((status, error_code(&body)), (410, ErrorCode::SoldOut));
    }
    // The consumer reads four streams on three nodes and persists every order.
    for sale in &sales {
        first.drain(sale.id).await;
        assert_eq!(first.order_rows(sale.id).await.len(), 2, "sale {}", sale.id);
        assert_eq!(first.books(sale.id).await.drift, 0);
    }
    // Each instance's dashboard counts both instances' attempts, per sale.
    for app in [&first, &second] {
        for sale in &sales {
            let mut seen = stats(app, sale.id).await;
            for _ in 0..30 {
                if seen.attempts == 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                seen = stats(app, sale.id).await;
            }
            assert_eq!(seen.attempts, 3, "sale {}: {seen:?}", sale.id);
        }
    }
    // A message no worker can read, in two sales on different nodes: both
    // become dead letters, and the admin's list has both.
    let mut redis = first.state().redis.clone();
    let broken = [sales[0].id, sales[1].id];
    assert_ne!(
        node_of(&cluster, &first, broken[0]),
        node_of(&cluster, &first, broken[1])
    );
    for sale_id in broken {
        let _: String = redis::cmd("XADD")
            .arg(first.state().stock.keys().stream(sale_id))
            .arg("*")
            .arg("garbage")
            .arg("1")
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    let mut listed = Vec::new();
    for _ in 0..50 {
        listed = second.dead_letters().await;
        if listed.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut listed_sales: Vec<i64> = listed.iter().map(|letter| letter.sale_id).collect();
    listed_sales.sort();
    assert_eq!(listed_sales, broken.to_vec(), "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_unit_returned_on_one_instance_clears_the_other_instances_sold_out_flag() {
    let cluster = PrivateRedisCluster::start(3).unwrap();
    let first = spawn_app_with(on(&cluster)).await;
    // The second instance's flags could lapse by themselves (after 2 s on its
    // clock); its clock is turned back below so that only the notice can clear it.
    let clock = ShiftedClock::default();
    let second = first
        .another_instance_on(on(&cluster), Arc::new(clock.clone()))
        .await;
    let sale = first.create_sale(&sale_starting_in(-120_000, 1)).await;
    let alice = first.register("alice").await;
    let bob = second.register("bob").await;
    let (status, body) = alice.buy(sale.id).await;
    assert_eq!(status, 202);
    let order_id = body["order_id"].as_str().unwrap().to_owned();
    let (status, body) = bob.buy(sale.id).await;
    assert_eq!((status, error_code(&body)), (410, ErrorCode::SoldOut));
    clock.advance(-60_000);

    first.drain(sale.id).await;
    assert_eq!(alice.order_action(&order_id, "cancel").await.status(), 200);
    let mut answer = (0, serde_json::Value::Null);
    for _ in 0..50 {
        answer = bob.buy(sale.id).await;
        if answer.0 == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        answer.0, 202,
        "the notice crossed the cluster and cleared the flag: {answer:?}"
    );
}

/// A queue sale on a cluster, with two instances: the line's shards on every
/// node, the sale's own keys on one; shoppers join and wait on both
/// instances, are let in, solve their proof of work, buy, and the admin's
/// report reads every shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queue_sale_draws_admits_and_sells_on_a_cluster() {
    let cluster = PrivateRedisCluster::start(3).unwrap();
    let first = spawn_app_with(on(&cluster)).await;
    let second = first.another_instance(on(&cluster)).await;
    // With proof of work: a challenge's keys are the sale's and its own.
    let sale = first
        .create_sale(&app::api::SaleDraft {
            captcha: app::api::CaptchaKind::Pow,
            ..systests::queue_sale_starting_in(2_000, 3, 1)
        })
        .await;
    let keys = first.state().stock.keys().clone();
    let nodes: std::collections::BTreeSet<u16> = (0..server::keys::LINE_SHARDS)
        .map(|shard| {
            cluster
                .node_of(&keys.line_entries(sale.id, shard))
                .expect("a node")
        })
        .collect();
    assert_eq!(nodes.len(), 3, "the line's shards are on every node");
    let shoppers = first.shoppers("line", 12).await;
    let shoppers: Vec<systests::Shopper> = shoppers
        .into_iter()
        .enumerate()
        .map(|(i, shopper)| {
            if i % 2 == 0 {
                shopper
            } else {
                shopper.on(&second)
            }
        })
        .collect();
    for shopper in &shoppers {
        assert_eq!(shopper.join(sale.id).await.status(), 200, "joining");
    }
    // A shopper who bought stays admitted until the batch is over: each buys
    // once, whichever pass finds them let in.
    let mut bought = std::collections::HashSet::new();
    for _ in 0..200 {
        for shopper in &shoppers {
            if bought.contains(&shopper.user_id) {
                continue;
            }
            let standing = shopper.standing(sale.id).await;
            if standing.state == app::api::QueueState::Admitted {
                let (status, body) = shopper.buy_with_work(sale.id).await;
                assert_eq!(status, 202, "{body}");
                bought.insert(shopper.user_id);
            }
        }
        if bought.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bought.len(), 3, "three shoppers were let in and bought");
    first.drain(sale.id).await;
    assert_eq!(first.books(sale.id).await.drift, 0);
    let report: app::api::FairnessReport = first
        .admin()
        .await
        .get(&format!("/api/admin/sales/{}/fairness", sale.id))
        .await
        .json()
        .await
        .expect("the report");
    assert_eq!((report.entrants, report.winners), (12, 3));
    assert_eq!(report.draw.pre_start_entrants, 12);
}
