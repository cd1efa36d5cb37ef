//! The design the copied seckill projects use, as the baseline to beat: every
//! attempt is a Postgres transaction that decrements the stock row
//! (`update … set stock = stock - 1 where id = $1 and stock > 0`) and inserts the
//! order. It is correct, and every shopper queues on one row lock.
//!
//! It gets the same HTTP stack (axum, one process) and the same pool size as the
//! server, and is spared the session lookup and the CAPTCHA.

use app::api::{ErrorBody, ErrorCode};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The baseline's two tables, next to the real ones in the run's database.
pub async fn create_tables(db: &PgPool) -> Result<(), String> {
    for statement in [
        "create table if not exists naive_sales (id bigint primary key, stock integer not null)",
        "create table if not exists naive_orders (
             id bigint generated always as identity primary key,
             sale_id bigint not null,
             user_id bigint not null,
             created_at timestamptz not null default now(),
             unique (sale_id, user_id))",
    ] {
        sqlx::query(statement)
            .execute(db)
            .await
            .map_err(|error| format!("naive tables: {error}"))?;
    }
    Ok(())
}

pub async fn create_sale(db: &PgPool, sale_id: i64, stock: i32) -> Result<(), String> {
    sqlx::query("insert into naive_sales (id, stock) values ($1, $2)")
        .bind(sale_id)
        .bind(stock)
        .execute(db)
        .await
        .map(drop)
        .map_err(|error| format!("naive sale: {error}"))
}

/// Units sold by the baseline: order rows, and what its stock row says is left.
pub async fn books(db: &PgPool, sale_id: i64) -> Result<(i64, i64), String> {
    sqlx::query_as(
        "select (select count(*) from naive_orders where sale_id = $1),
                (select stock::int8 from naive_sales where id = $1)",
    )
    .bind(sale_id)
    .fetch_one(db)
    .await
    .map_err(|error| format!("naive books: {error}"))
}

#[derive(Deserialize)]
struct Attempt {
    user_id: i64,
}

fn answer(status: StatusCode, body: Value) -> (StatusCode, Json<Value>) {
    (status, Json(body))
}

/// A refusal in the API's own error body.
fn refused(status: StatusCode, error: ErrorCode, message: &str) -> (StatusCode, Json<Value>) {
    let body = ErrorBody {
        error,
        message: message.to_owned(),
    };
    answer(status, json!(body))
}

async fn buy(
    State(db): State<PgPool>,
    Path(sale_id): Path<i64>,
    Json(attempt): Json<Attempt>,
) -> (StatusCode, Json<Value>) {
    let failed = |error: sqlx::Error| {
        refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable,
            &error.to_string(),
        )
    };
    let result = async {
        let mut tx = db.begin().await?;
        let taken =
            sqlx::query("update naive_sales set stock = stock - 1 where id = $1 and stock > 0")
                .bind(sale_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if taken == 0 {
            return Ok(None);
        }
        let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
            "insert into naive_orders (sale_id, user_id) values ($1, $2) returning id",
        )
        .bind(sale_id)
        .bind(attempt.user_id)
        .fetch_one(&mut *tx)
        .await;
        match inserted {
            Ok((id,)) => {
                tx.commit().await?;
                Ok(Some(Ok(id)))
            }
            // The transaction rolls back on drop: the unit stays in stock.
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(Some(Err(()))),
            Err(error) => Err(error),
        }
    }
    .await;
    match result {
        Ok(Some(Ok(order_id))) => answer(
            StatusCode::ACCEPTED,
            json!({ "order_id": order_id, "status": "pending_payment" }),
        ),
        Ok(Some(Err(()))) => refused(
            StatusCode::CONFLICT,
            ErrorCode::LimitReached,
            "one per shopper",
        ),
        Ok(None) => refused(
            StatusCode::GONE,
            ErrorCode::SoldOut,
            "every unit has been sold",
        ),
        Err(error) => failed(error),
    }
}

/// `spike naive-serve`: serves the baseline until killed.
pub async fn serve(listen: &str, database_url: &str, pool: u32) -> Result<(), String> {
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(pool)
        .connect(database_url)
        .await
        .map_err(|error| format!("cannot reach Postgres: {error}"))?;
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/naive/{sale_id}/buy", post(buy))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    axum::serve(listener, router)
        .await
        .map_err(|error| error.to_string())
}
