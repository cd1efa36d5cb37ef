//! What every run needs apart from the others: a scratch database and Redis key
//! prefix ([`Scratch`]), and shoppers logged in by the thousand
//! ([`log_in_users`]), shared by the system tests and the spike.

use sqlx::{Connection, PgConnection};

use crate::{admin_database_url, database_url_on, redis_url};

/// Logs in every user whose name starts with `prefix` as a login would (a
/// session in Redis) but without argon2, which thousands of shoppers cannot
/// wait for: `(user id, cookie)`, in id order.
pub async fn log_in_users(
    db: &sqlx::PgPool,
    sessions: &server::accounts::sessions::SessionStore,
    prefix: &str,
) -> Result<Vec<(i64, String)>, String> {
    use futures_util::StreamExt;
    let users = sqlx::query_as::<_, (i64, String, chrono::DateTime<chrono::Utc>)>(
        "select id, username, created_at from users where starts_with(username, $1) order by id",
    )
    .bind(prefix)
    .fetch_all(db)
    .await
    .map_err(|error| error.to_string())?;
    let logged_in: Vec<Result<(i64, String), String>> = futures_util::stream::iter(users)
        .map(|(user_id, username, created_at)| async move {
            let session = server::accounts::sessions::Session {
                user_id,
                username,
                is_admin: false,
                account_created_ms: created_at.timestamp_millis(),
            };
            let token = sessions
                .create(&session)
                .await
                .map_err(|error| error.to_string())?;
            let cookie = format!("{}={token}", server::accounts::sessions::COOKIE);
            Ok((user_id, cookie))
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let mut logged_in = logged_in.into_iter().collect::<Result<Vec<_>, _>>()?;
    logged_in.sort_by_key(|(user_id, _)| *user_id);
    Ok(logged_in)
}

/// A database and a Redis key prefix of one test or one spike run, so runs never
/// see each other's data; [`Scratch::drop_all`] removes both.
#[derive(Clone, Debug)]
pub struct Scratch {
    pub database: String,
    pub database_url: String,
    /// `<kind>{<id>}:`: the hash tag keeps the run's keys in one cluster slot.
    pub redis_prefix: String,
    /// Where the database was made (a server's `postgres` database).
    admin_url: String,
    redis_url: String,
}

impl Scratch {
    /// Creates an empty database `<kind>_<id>` and picks the prefix `<kind>{<id>}:`,
    /// on the shared Postgres and Redis.
    pub async fn create(kind: &str) -> Result<Self, String> {
        Self::create_on(kind, &admin_database_url(), &redis_url()).await
    }

    /// As [`Scratch::create`], on the Postgres of `admin_url` and the Redis of
    /// `redis_url` (private servers of a drill).
    pub async fn create_on(kind: &str, admin_url: &str, redis_url: &str) -> Result<Self, String> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let database = format!("{kind}_{id}");
        let mut admin = PgConnection::connect(admin_url)
            .await
            .map_err(|error| format!("cannot reach Postgres (run scripts/test): {error}"))?;
        sqlx::query(&format!("create database \"{database}\""))
            .execute(&mut admin)
            .await
            .map_err(|error| format!("cannot create {database}: {error}"))?;
        Ok(Self {
            database_url: database_url_on(admin_url, &database),
            redis_prefix: format!("{kind}{{{id}}}:"),
            database,
            admin_url: admin_url.to_owned(),
            redis_url: redis_url.to_owned(),
        })
    }

    /// Drops the database (closing its connections) and every key of the prefix.
    pub async fn drop_all(&self) {
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "drop database if exists \"{}\" with (force)",
                self.database
            ))
            .execute(&mut admin)
            .await;
        }
        let Ok(client) = redis::Client::open(self.redis_url.as_str()) else {
            return;
        };
        let Ok(mut redis) = client.get_multiplexed_async_connection().await else {
            return;
        };
        let mut cursor: u64 = 0;
        loop {
            let Ok((next, found)): Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.redis_prefix))
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut redis)
                .await
            else {
                return;
            };
            if !found.is_empty() {
                let _: Result<(), _> = redis::cmd("UNLINK")
                    .arg(&found)
                    .query_async(&mut redis)
                    .await;
            }
            cursor = next;
            if cursor == 0 {
                return;
            }
        }
    }
}
