//! The scale-out drill: the deployment of `scripts/cluster` — three instances
//! behind nginx on one address, a three-node Redis Cluster — with several sales
//! open at once (their hash tags on different nodes), and one instance killed
//! mid-spike. Every sale's books are checked on their own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::Sale;
use server::redis_connection::RedisTarget;
use server::secret::Secret;
use systests::private_servers::{PrivateNginx, PrivatePostgres, PrivateRedisCluster};

use super::{
    crowd_with, once_won, sale_report, setup, won_so_far, DrillOptions, DrillReport, Scale,
};
use crate::load::{Pacer, Recorder};
use crate::rig::Rig;
use crate::shopper::{Context, Outcome};

/// Sales open at once; the crowd is split between them. Sales 1 to 4 of a
/// fresh database have their hash tags on all three nodes.
const SALES: usize = 4;
/// Redis Cluster masters and server instances.
const NODES: usize = 3;
const INSTANCES: usize = 3;

pub(super) async fn cluster(drill: &DrillOptions, scale: Scale) -> Result<DrillReport, String> {
    // Dropped last to first: nginx, the rig's instances, then the data servers.
    let redis = PrivateRedisCluster::start(NODES)?;
    let postgres = PrivatePostgres::start()?;
    let per_sale = Scale {
        stock: scale.stock / SALES as i32,
        ..scale
    };
    let (options, infra) = setup(
        drill,
        per_sale,
        &postgres,
        RedisTarget::Cluster(Secret::new(redis.urls())),
        INSTANCES,
    );
    let mut rig = Rig::prepare_on(&options, infra).await?;
    let ports: Vec<u16> = rig.instances.iter().map(|instance| instance.port).collect();
    let nginx = PrivateNginx::start(&ports)?;
    // From here on everything, the admin's calls included, goes through nginx.
    rig.base_url = nginx.url();

    let mut sales = Vec::with_capacity(SALES);
    for round in 1..=SALES {
        sales.push(rig.create_sale(&options, round).await?);
    }
    let nodes: BTreeSet<u16> = sales
        .iter()
        .map(|sale| redis.node_of(&rig.keys.stock(sale.id)))
        .collect::<Result<_, _>>()?;
    let until =
        Duration::from_millis((sales[0].starts_at_ms - server::clock::now_ms()).max(0) as u64);
    let start = Instant::now() + until;
    let recorder = Arc::new(Recorder::new(start));
    let crowds: Vec<_> = sales
        .iter()
        .enumerate()
        .map(|(index, sale)| {
            let context = Arc::new(Context {
                client: rig.client.clone(),
                base_urls: vec![nginx.url()],
                failover: true,
                sale_id: sale.id,
                limit: sale.per_user_limit,
                pay_percent: options.pay_percent,
                pacer: Pacer::new(options.pace),
                recorder: recorder.clone(),
            });
            let shoppers: Vec<_> = rig
                .shoppers
                .iter()
                .skip(index)
                .step_by(SALES)
                .cloned()
                .collect();
            (context, shoppers)
        })
        .collect();

    let total_stock: i32 = sales.iter().map(|sale| sale.stock).sum();
    let rig_ref = &mut rig;
    let fault = async {
        once_won(&recorder, u64::from(total_stock as u32 / 4)).await;
        let at = won_so_far(&recorder);
        rig_ref.kill_instance(1).await;
        Ok::<_, String>(format!(
            "{} sales on {} of {NODES} nodes; 1 of {INSTANCES} instances killed at {at} won",
            sales.len(),
            nodes.len(),
        ))
    };
    let crowd = async {
        let shopping = crowds.iter().map(|(context, shoppers)| async move {
            crowd_with(context, shoppers, start, async { Ok(()) })
                .await
                .map(|(outcomes, ())| outcomes)
        });
        futures_util::future::try_join_all(shopping).await
    };
    let (outcomes, detail) = tokio::join!(crowd, fault);
    let (outcomes, detail): (Vec<Vec<Outcome>>, String) = (outcomes?, detail?);

    let mut report = DrillReport {
        detail,
        ..DrillReport::default()
    };
    if nodes.len() < NODES {
        report.broken.push(format!(
            "the {SALES} sales landed on {} of {NODES} nodes",
            nodes.len()
        ));
    }
    for (sale, outcomes) in sales.iter().zip(&outcomes) {
        books(&rig, sale, outcomes, &mut report).await?;
    }
    drop(nginx);
    rig.tear_down(false).await;
    Ok(report)
}

/// Adds one sale's books to the report (its broken promises named by sale).
async fn books(
    rig: &Rig,
    sale: &Sale,
    outcomes: &[Outcome],
    report: &mut DrillReport,
) -> Result<(), String> {
    let demand = outcomes.len() as i64 * i64::from(sale.per_user_limit);
    let one = sale_report(rig, sale, outcomes, demand, String::new()).await?;
    report.shoppers += one.shoppers;
    report.stock += one.stock;
    report.won += one.won;
    report.rows += one.rows;
    report.paid += one.paid;
    report.dead_letters += one.dead_letters;
    report.drift += one.drift.abs();
    report.broken.extend(
        one.broken
            .into_iter()
            .map(|line| format!("sale {}: {line}", sale.id)),
    );
    Ok(())
}
