//! The draw kept in Postgres (`line_draws`): written once after the draw, read
//! back only when Redis has lost a line it had drawn. With the entrants and
//! their join times the leader writes the same places again, because the draw
//! is a function of the entrants and the sale's secret.

use sqlx::PgPool;

use crate::store::StoreError;

/// A drawn line as kept: the pre-start entrants (ascending ids, each with its
/// join time) and when the draw was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeptDraw {
    pub entrants: Vec<(i64, i64)>,
    pub drawn_at_ms: i64,
}

/// Keeps the draw of `sale_id`, once: a second call (another leader, a retry)
/// leaves the first row as it is.
pub(crate) async fn keep(db: &PgPool, sale_id: i64, draw: &KeptDraw) -> Result<(), StoreError> {
    let (ids, joined): (Vec<i64>, Vec<i64>) = draw.entrants.iter().copied().unzip();
    sqlx::query(
        "insert into line_draws (sale_id, user_ids, joined_ms, drawn_at_ms)
         values ($1, $2, $3, $4) on conflict (sale_id) do nothing",
    )
    .bind(sale_id)
    .bind(ids)
    .bind(joined)
    .bind(draw.drawn_at_ms)
    .execute(db)
    .await?;
    Ok(())
}

/// The kept draw of `sale_id`, if it was drawn and kept.
pub(crate) async fn load(db: &PgPool, sale_id: i64) -> Result<Option<KeptDraw>, StoreError> {
    let row: Option<(Vec<i64>, Vec<i64>, i64)> = sqlx::query_as(
        "select user_ids, joined_ms, drawn_at_ms from line_draws where sale_id = $1",
    )
    .bind(sale_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(ids, joined, drawn_at_ms)| KeptDraw {
        entrants: ids.into_iter().zip(joined).collect(),
        drawn_at_ms,
    }))
}

/// The accounts that ever reserved in `sale_id` (an order of any state).
pub(crate) async fn buyers(db: &PgPool, sale_id: i64) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar("select distinct user_id from orders where sale_id = $1")
        .bind(sale_id)
        .fetch_all(db)
        .await?;
    Ok(ids)
}
