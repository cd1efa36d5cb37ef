//! `spike rewarm`: how long rebuilding a sale Redis lost takes when Postgres
//! holds many orders. Writes the orders straight into a scratch database (a mix
//! of unpaid, paid, expired-not-yet-returned and cancelled-and-returned, one
//! buyer each), deletes the sale's keys, and times `SaleRebuild::rebuild` —
//! the one SQL query and the one script every instance would race to run.

use std::time::Instant;

use server::keys::RedisKeys;
use server::sales::rebuild::SaleRebuild;
use server::sales::stock::SaleStock;
use systests::Scratch;

/// Rebuilds a sale of `orders` orders `rounds` times; prints the times and checks
/// the stock left each time.
pub async fn run(orders: u32, rounds: usize) -> Result<bool, String> {
    let scratch = Scratch::create("rewarm").await?;
    let result = measure(&scratch, orders, rounds).await;
    scratch.drop_all().await;
    result
}

async fn measure(scratch: &Scratch, orders: u32, rounds: usize) -> Result<bool, String> {
    let failed = |error: &dyn std::fmt::Display| error.to_string();
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&scratch.database_url)
        .await
        .map_err(|error| failed(&error))?;
    sqlx::migrate!("../migrations")
        .run(&db)
        .await
        .map_err(|error| failed(&error))?;
    let redis = systests::redis_client()
        .shared()
        .map_err(|error| failed(&error))?;
    let keys = RedisKeys::new(scratch.redis_prefix.clone());
    let stock = SaleStock::new(redis.clone(), keys.clone());

    let total = i64::from(orders) + 1_000;
    let now = server::clock::now_ms();
    let sale_id: i64 = sqlx::query_scalar(
        "insert into sales (title, price_cents, list_price_cents, stock, starts_at, ends_at)
         values ('Re-warm', 100, 200, $1, to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0))
         returning id",
    )
    .bind(total as i32)
    .bind(now as f64 - 60_000.0)
    .bind(now as f64 + 3_600_000.0)
    .fetch_one(&db)
    .await
    .map_err(|error| failed(&error))?;
    let started = Instant::now();
    sqlx::query(
        "insert into users (username, password_hash)
         select 'rewarm-' || n, 'not-a-hash' from generate_series(1, $1) n",
    )
    .bind(orders as i32)
    .execute(&db)
    .await
    .map_err(|error| failed(&error))?;
    // Status by n mod 8: 0-3 unpaid, 4-5 paid, 6 expired and not yet returned,
    // 7 cancelled and returned.
    sqlx::query(
        "insert into orders (id, sale_id, user_id, seq, units, price_cents, status,
                             stream_message_id, created_at, pay_before, stock_returned)
         select $1 || '-' || md5(u.id::text), $1, u.id, 1, 1, 100,
                case when u.id % 8 < 4 then 'pending_payment'
                     when u.id % 8 < 6 then 'paid'
                     when u.id % 8 = 6 then 'expired'
                     else 'cancelled' end,
                u.id || '-0', now(), now() + interval '15 minutes', u.id % 8 = 7
         from users u",
    )
    .bind(sale_id)
    .execute(&db)
    .await
    .map_err(|error| failed(&error))?;
    sqlx::query("analyze orders")
        .execute(&db)
        .await
        .map_err(|error| failed(&error))?;
    eprintln!(
        "[rewarm] {orders} orders written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (held,): (i64,) = sqlx::query_as(
        "select count(*) from orders where sale_id = $1
           and (status in ('pending_payment', 'paid') or not stock_returned)",
    )
    .bind(sale_id)
    .fetch_one(&db)
    .await
    .map_err(|error| failed(&error))?;
    let rebuild = SaleRebuild::new(db.clone(), stock.clone());
    let mut timings = Vec::new();
    let mut correct = true;
    for _ in 0..rounds {
        let mut connection = redis.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(keys.stock(sale_id))
            .arg(keys.meta(sale_id))
            .arg(keys.buyers(sale_id))
            .arg(keys.seqs(sale_id))
            .arg(keys.stream(sale_id))
            .query_async(&mut connection)
            .await
            .map_err(|error| failed(&error))?;
        let started = Instant::now();
        let rebuilt = rebuild
            .rebuild_id(sale_id)
            .await
            .map_err(|error| failed(&error))?;
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
        let left = stock
            .stock_left(sale_id)
            .await
            .map_err(|error| failed(&error))?;
        if !rebuilt || left != Some(total - held) {
            eprintln!(
                "[rewarm] BROKEN: rebuilt {rebuilt}, stock left {left:?}, expected {}",
                total - held
            );
            correct = false;
        }
    }
    timings.sort_by(f64::total_cmp);
    println!(
        "re-warm of a sale with {orders} orders ({held} units held): median {:.0} ms, \
         min {:.0} ms, max {:.0} ms over {rounds} rounds",
        timings[timings.len() / 2],
        timings[0],
        timings[timings.len() - 1]
    );
    Ok(correct)
}
