//! Accounts: valid usernames and passwords, argon2 hashing (on the blocking pool,
//! never on the async threads), and users in Postgres.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::catalog::StoreError;
use crate::config::Secret;

/// A username: 3 to 32 characters of letters, digits, `_`, `.` or `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let length = name.chars().count();
        if !(3..=32).contains(&length) {
            return Err("a username has 3 to 32 characters".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("a username may use letters, digits, `_`, `.` and `-` only".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 128 characters. Never printed.
#[derive(Clone, Debug)]
pub struct Password(Secret<String>);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let length = raw.chars().count();
        if length < 8 {
            return Err("a password has at least 8 characters".into());
        }
        if length > 128 {
            return Err("a password has at most 128 characters".into());
        }
        Ok(Self(Secret::new(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// Hashes a password with argon2id on the blocking pool (tens of milliseconds of CPU).
pub async fn hash_password(password: Password) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| StoreError::Corrupt(format!("cannot hash a password: {error}")))
    })
    .await
    .map_err(|error| StoreError::Corrupt(format!("password hashing task failed: {error}")))?
}

/// Checks a password against a stored hash on the blocking pool. A hash that does
/// not parse never verifies.
pub async fn verify_password(hash: String, password: Secret<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

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

    /// Makes an existing user an admin, or creates one; returns the user.
    pub async fn upsert_admin(
        &self,
        username: &Username,
        password: Password,
    ) -> Result<User, StoreError> {
        let hash = hash_password(password).await?;
        Ok(sqlx::query_as!(
            User,
            "insert into users (username, password_hash, is_admin) values ($1, $2, true)
             on conflict on constraint users_username_key
             do update set password_hash = excluded.password_hash, is_admin = true
             returning id, username, password_hash, is_admin, created_at",
            username.as_str(),
            hash
        )
        .fetch_one(&self.db)
        .await?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_short_plain_words() {
        assert_eq!(Username::parse("  alice ").unwrap().as_str(), "alice");
        assert!(Username::parse("al").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("<script>").is_err());
        assert!(Username::parse("bob smith").is_err());
        assert!(Username::parse("bob_smith.2-x").is_ok());
    }

    #[test]
    fn passwords_have_a_sane_length() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("hunter2hunter2").unwrap()),
            "Password([redacted])"
        );
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(hash.clone(), Secret::new("correct horse".into())).await);
        assert!(!verify_password(hash, Secret::new("wrong horse".into())).await);
        assert!(!verify_password("not a hash".into(), Secret::new("x".into())).await);
    }
}
