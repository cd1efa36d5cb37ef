//! Users in Postgres: registering (a taken name is told apart by its constraint),
//! finding, and the bulk and admin creations of the command line.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::credentials::{hash_password, Password, Username};
use crate::store::StoreError;

/// A user as stored.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// Registering failed because the name is in use.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("this username is taken")]
    Taken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Users in Postgres.
#[derive(Clone)]
pub struct Accounts {
    db: PgPool,
}

impl Accounts {
    pub fn new(db: PgPool) -> Self {
        Self { db }
    }

    /// Creates a user with an already hashed password.
    pub async fn create(
        &self,
        username: &Username,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User, RegisterError> {
        let inserted = sqlx::query_as!(
            User,
            "insert into users (username, password_hash, is_admin) values ($1, $2, $3)
             returning id, username, password_hash, is_admin, created_at",
            username.as_str(),
            password_hash,
            is_admin
        )
        .fetch_one(&self.db)
        .await;
        match inserted {
            Ok(user) => Ok(user),
            Err(sqlx::Error::Database(error))
                if error.constraint() == Some("users_username_key") =>
            {
                Err(RegisterError::Taken)
            }
            Err(error) => Err(RegisterError::Store(error.into())),
        }
    }

    pub async fn find(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query_as!(
            User,
            "select id, username, password_hash, is_admin, created_at from users where username = $1",
            username
        )
        .fetch_optional(&self.db)
        .await?)
    }

    /// Whether user `id` is an admin now (not when their session began: rights
    /// taken away in the database end at the next request).
    pub async fn is_admin(&self, id: i64) -> Result<bool, StoreError> {
        let is_admin: Option<bool> = sqlx::query_scalar("select is_admin from users where id = $1")
            .bind(id)
            .fetch_optional(&self.db)
            .await?;
        Ok(is_admin.unwrap_or(false))
    }

    /// Creates an admin, or sets an existing admin's password; returns the
    /// user. A shopper's name is refused ([`RegisterError::Taken`]).
    pub async fn upsert_admin(
        &self,
        username: &Username,
        password: Password,
    ) -> Result<User, RegisterError> {
        let hash = hash_password(password).await?;
        let admin = sqlx::query_as!(
            User,
            "insert into users (username, password_hash, is_admin) values ($1, $2, true)
             on conflict on constraint users_username_key
             do update set password_hash = excluded.password_hash where users.is_admin
             returning id, username, password_hash, is_admin, created_at",
            username.as_str(),
            hash
        )
        .fetch_optional(&self.db)
        .await
        .map_err(StoreError::from)?;
        // A shopper's name: never taken over (its orders, its password).
        admin.ok_or(RegisterError::Taken)
    }

    /// Creates `count` shoppers `<prefix>1..=<prefix>count` sharing one password,
    /// hashed once (load tests need thousands). Existing names are skipped.
    /// Returns how many were created.
    pub async fn bulk_create(
        &self,
        prefix: &str,
        count: u32,
        password: Password,
    ) -> Result<u64, StoreError> {
        let hash = hash_password(password).await?;
        let names: Vec<String> = (1..=count).map(|n| format!("{prefix}{n}")).collect();
        let result = sqlx::query!(
            "insert into users (username, password_hash)
             select name, $2 from unnest($1::text[]) as name
             on conflict on constraint users_username_key do nothing",
            &names,
            hash
        )
        .execute(&self.db)
        .await?;
        Ok(result.rows_affected())
    }
}
