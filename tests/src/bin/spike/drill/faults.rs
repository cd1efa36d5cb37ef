//! The six drills, each a fault played while a crowd buys, on a [`Stage`] of
//! its own.

use std::time::{Duration, Instant};

use app::api::{AdmissionMode, BuyAccepted, Sale};
use redis::AsyncCommands;
use systests::private_servers::Persistence;

use super::{
    crowd_admitted, crowd_with, demand, once_won, won_so_far, DrillOptions, DrillReport, Scale,
    Stage,
};
use crate::check;
use crate::rig::Rig;

/// (a) An instance dies mid-spike (SIGKILL: no draining, its pending order
/// messages un-acknowledged) and comes back a second later.
pub(super) async fn instance_crash(
    drill: &DrillOptions,
    scale: Scale,
    admission: AdmissionMode,
) -> Result<DrillReport, String> {
    let mut stage = Stage::new(drill, scale, Persistence::AofAlways, 2).await?;
    let created = Instant::now();
    let (sale, start) = stage.sale_admitting(admission).await?;
    let context = stage.context(&sale, start);
    let shoppers = stage.rig.shoppers.clone();
    let recorder = context.recorder.clone();
    let rig = &mut stage.rig;
    let fault = async {
        once_won(&recorder, u64::from(scale.stock as u32 / 4)).await;
        rig.kill_instance(1).await;
        let at = won_so_far(&recorder);
        tokio::time::sleep(Duration::from_secs(1)).await;
        rig.start_instance(1).await?;
        Ok(format!("killed at {at} won, back 1 s later"))
    };
    let (outcomes, detail) =
        crowd_admitted(&context, &shoppers, (created, start), admission, fault).await?;
    stage
        .books(&sale, &outcomes, demand(shoppers.len(), &sale), detail)
        .await
}

/// (b) Redis dies mid-spike (SIGKILL) and restarts from its append-only file.
pub(super) async fn redis_crash(
    drill: &DrillOptions,
    scale: Scale,
    admission: AdmissionMode,
) -> Result<DrillReport, String> {
    let mut stage = Stage::new(drill, scale, Persistence::AofAlways, 2).await?;
    let created = Instant::now();
    let (sale, start) = stage.sale_admitting(admission).await?;
    let context = stage.context(&sale, start);
    let shoppers = stage.rig.shoppers.clone();
    let recorder = context.recorder.clone();
    let redis = &mut stage.redis;
    let fault = async {
        once_won(&recorder, u64::from(scale.stock as u32 / 4)).await;
        redis.kill();
        let at = won_so_far(&recorder);
        tokio::time::sleep(Duration::from_secs(1)).await;
        redis.restart()?;
        Ok(format!("Redis killed at {at} won, back 1 s later"))
    };
    let (outcomes, detail) =
        crowd_admitted(&context, &shoppers, (created, start), admission, fault).await?;
    stage
        .books(&sale, &outcomes, demand(shoppers.len(), &sale), detail)
        .await
}

/// (c) A first wave buys part of the stock; Redis then loses everything
/// (sessions included: everyone logs in again); a second wave, winners of the
/// first among them, buys the rest from the sale rebuilt out of Postgres.
pub(super) async fn redis_data_loss(
    drill: &DrillOptions,
    scale: Scale,
) -> Result<DrillReport, String> {
    let mut stage = Stage::new(drill, scale, Persistence::None, 2).await?;
    let (sale, start) = stage.sale().await?;
    let first_wave = (scale.stock / 2) as usize;
    let context = stage.context(&sale, start);
    let shoppers = stage.rig.shoppers.clone();
    let (mut outcomes, _) = crowd_with(&context, &shoppers[..first_wave], start, async {
        Ok(String::new())
    })
    .await?;
    let won: usize = outcomes.iter().map(|outcome| outcome.orders.len()).sum();
    check::RowWatch::start(stage.rig.db.clone(), sale.id, Instant::now())
        .until(won)
        .await?;
    stage.redis.lose_everything()?;
    stage.rig.log_in(&stage.options).await?;
    let shoppers = stage.rig.shoppers.clone();
    let context = stage.context(&sale, Instant::now());
    let (second, _) = crowd_with(&context, &shoppers, Instant::now(), async {
        Ok(String::new())
    })
    .await?;
    let again = second
        .iter()
        .take(first_wave)
        .filter(|outcome| !outcome.orders.is_empty())
        .count();
    // A shopper's two attempts are one shopper's books.
    for (index, outcome) in second.into_iter().enumerate() {
        match outcomes.get_mut(index) {
            Some(first) => {
                first.orders.extend(outcome.orders);
                first.paid += outcome.paid;
                first.failure = first.failure.take().or(outcome.failure);
            }
            None => outcomes.push(outcome),
        }
    }
    let mut report = stage
        .books(
            &sale,
            &outcomes,
            demand(shoppers.len(), &sale),
            format!("lost after {won} sold; first-wave winners who won again: {again}"),
        )
        .await?;
    if again > 0 {
        report
            .broken
            .push(format!("{again} first-wave winners bought above the limit"));
    }
    Ok(report)
}

/// (d) Postgres stops at the opening instant for the outage; meanwhile one
/// instance is killed and started again (it must start without Postgres).
pub(super) async fn postgres_outage(
    drill: &DrillOptions,
    scale: Scale,
) -> Result<DrillReport, String> {
    let mut stage = Stage::new(drill, scale, Persistence::AofAlways, 2).await?;
    let (sale, start) = stage.sale().await?;
    // Warm nothing on purpose: the instances have never read the sale.
    let context = stage.context(&sale, start);
    let shoppers = stage.rig.shoppers.clone();
    let recorder = context.recorder.clone();
    let (rig, postgres) = (&mut stage.rig, &stage.postgres);
    let outage = scale.postgres_outage;
    let fault = async {
        tokio::time::sleep_until(start.into()).await;
        postgres.stop(false)?;
        let stopped = Instant::now();
        tokio::time::sleep(Duration::from_millis(500)).await;
        rig.kill_instance(1).await;
        rig.start_instance(1).await?;
        let restarted = stopped.elapsed();
        tokio::time::sleep(outage.saturating_sub(stopped.elapsed())).await;
        let during = won_so_far(&recorder);
        let down = stopped.elapsed();
        postgres.resume()?;
        let detail = format!(
            "{during} won while Postgres was down for {:.1} s; instance 2 restarted {:.1} s into it",
            down.as_secs_f64(),
            restarted.as_secs_f64()
        );
        Ok((detail, during))
    };
    let (outcomes, (detail, during)) = crowd_with(&context, &shoppers, start, fault).await?;
    let mut report = stage
        .books(&sale, &outcomes, demand(shoppers.len(), &sale), detail)
        .await?;
    // The buy needs no SQL: an outage must not stop the sale. (A regression
    // that put a Postgres query in front of the sale cache sold nothing here.)
    let stock = u64::try_from(sale.stock).unwrap_or(0);
    if during * 2 < stock {
        report.broken.push(format!(
            "only {during} of {stock} units were won while Postgres was down (at least half expected)"
        ));
    }
    Ok(report)
}

/// (e) The only instance runs no workers, so every reservation waits in the
/// stream; each message is added a second time, then an instance with workers
/// persists them. After the shoppers paid, every message is replayed once more.
pub(super) async fn duplicate_messages(
    drill: &DrillOptions,
    scale: Scale,
) -> Result<DrillReport, String> {
    let scale = Scale {
        shoppers: scale.shoppers / 2,
        stock: scale.stock / 2,
        ..scale
    };
    let mut stage = Stage::new(drill, scale, Persistence::AofAlways, 1).await?;
    stage
        .rig
        .restart_instance_with(0, &[("FLASHSALE_WORKERS", "false")])
        .await?;
    let (sale, start) = stage.sale().await?;
    let context = stage.context(&sale, start);
    let shoppers = stage.rig.shoppers.clone();
    let recorder = context.recorder.clone();
    let stream = stage.rig.keys.stream(sale.id);
    let mut redis = stage.rig.redis.clone();
    let rig = &mut stage.rig;
    let copies = async {
        once_won(&recorder, u64::from(scale.stock as u32)).await;
        let entries = stream_entries(&mut redis, &stream).await?;
        add_again(&mut redis, &stream, &entries).await?;
        let worker = rig.add_instance(&[]).await?;
        Ok::<_, String>((entries, worker))
    };
    let (outcomes, (entries, _worker)) = crowd_with(&context, &shoppers, start, copies).await?;
    let mut report = stage
        .books(
            &sale,
            &outcomes,
            demand(shoppers.len(), &sale),
            String::new(),
        )
        .await?;
    // The replay: orders persisted and partly paid meet their messages again.
    add_again(&mut redis, &stream, &entries).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while redis
        .xlen::<_, usize>(&stream)
        .await
        .map_err(|error| error.to_string())?
        > 0
    {
        if Instant::now() > deadline {
            return Err("the replayed messages were not consumed within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = stage
        .books(
            &sale,
            &outcomes,
            demand(shoppers.len(), &sale),
            String::new(),
        )
        .await?;
    report.broken.extend(after.broken);
    report.detail = format!(
        "{} messages added twice while queued, all {} again after {} payments",
        entries.len(),
        entries.len(),
        after.paid
    );
    Ok(report)
}

type Fields = Vec<(String, String)>;

async fn stream_entries(
    redis: &mut server::redis_connection::RedisConnection,
    stream: &str,
) -> Result<Vec<Fields>, String> {
    let reply: redis::streams::StreamRangeReply = redis
        .xrange_all(stream)
        .await
        .map_err(|error| error.to_string())?;
    Ok(reply
        .ids
        .iter()
        .map(|entry| {
            server::orders::message::text_fields(entry)
                .into_iter()
                .collect()
        })
        .collect())
}

async fn add_again(
    redis: &mut server::redis_connection::RedisConnection,
    stream: &str,
    entries: &[Fields],
) -> Result<(), String> {
    for fields in entries {
        let _: String = redis
            .xadd(stream, "*", fields)
            .await
            .map_err(|error| error.to_string())?;
    }
    Ok(())
}

/// (f) Every shopper holds a ticket and their first buy's answer is lost: for
/// half of them the server answered and the answer was thrown away (the shopper
/// surely holds an order), for the other half Redis froze under the buy and the
/// client gave up after 300 ms (an order or not, the server decides). Redis
/// thaws and every shopper buys again with the same ticket: the first half must
/// get the very order they already hold, nobody a `limit_reached`.
pub(super) async fn lost_answer(drill: &DrillOptions, scale: Scale) -> Result<DrillReport, String> {
    let scale = Scale {
        shoppers: scale.stock as u32,
        ..scale
    };
    let stage = Stage::new(drill, scale, Persistence::AofAlways, 1).await?;
    let (sale, start) = stage.sale().await?;
    let context = stage.context(&sale, start);
    tokio::time::sleep_until(start.into()).await;
    let shoppers = &stage.rig.shoppers;
    let mut paths = Vec::new();
    for shopper in shoppers {
        paths.push(context.ticket_path(shopper).await?);
    }
    let half = shoppers.len() / 2;
    let buy = |client: &reqwest::Client, index: usize| {
        client
            .post(stage.rig.url(&paths[index]))
            .header("cookie", &shoppers[index].cookie)
            .header("x-forwarded-for", &shoppers[index].ip)
            .send()
    };
    let client = &stage.rig.client;
    let buy = &buy;
    let thrown_away = futures_util::future::join_all((0..half).map(|index| async move {
        let answer = buy(client, index).await.ok()?;
        answer
            .json::<BuyAccepted>()
            .await
            .ok()
            .map(|accepted| accepted.order_id)
    }))
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .map_err(|error| error.to_string())?;
    stage.redis.freeze();
    let timed_out =
        futures_util::future::join_all((half..shoppers.len()).map(|index| buy(&impatient, index)))
            .await
            .iter()
            .filter(|answer| answer.is_err())
            .count();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stage.redis.thaw();
    // Let the frozen requests finish on the server before the retries.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reserved = queued_or_persisted(&stage.rig, &sale).await? - half as i64;
    let retries = shoppers
        .iter()
        .zip(paths.clone())
        .map(|(shopper, path)| {
            let (context, shopper) = (context.clone(), shopper.clone());
            tokio::spawn(async move { context.burst_buy(&shopper, Ok(path), Instant::now()).await })
        })
        .collect();
    let outcomes = crate::gather(retries).await?;
    let mut report = stage
        .books(
            &sale,
            &outcomes,
            demand(outcomes.len(), &sale),
            format!(
                "{half} answers thrown away, {timed_out} timed out under frozen Redis \
                 ({reserved} of those had reserved); all retried on the same ticket"
            ),
        )
        .await?;
    let other_order = thrown_away
        .iter()
        .zip(&outcomes)
        .filter(|(first, retry)| match first {
            Some(order) => retry.orders != [order.clone()],
            None => true,
        })
        .count();
    if other_order > 0 {
        report.broken.push(format!(
            "{other_order} of {half} shoppers whose answer was thrown away did not get their order back on retry"
        ));
    }
    if timed_out == 0 {
        report
            .broken
            .push("no buy timed out: the drill did not play its fault".into());
    }
    Ok(report)
}

/// Reservations of a sale so far: queued in Redis or persisted in Postgres.
async fn queued_or_persisted(rig: &Rig, sale: &Sale) -> Result<i64, String> {
    let books = rig
        .stock()
        .books(sale.id)
        .await
        .map_err(|error| error.to_string())?;
    let (rows,): (i64,) = sqlx::query_as("select count(*) from orders where sale_id = $1")
        .bind(sale.id)
        .fetch_one(&rig.db)
        .await
        .map_err(|error| error.to_string())?;
    Ok(books.queued_units + rows)
}
