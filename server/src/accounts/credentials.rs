//! What a person types to get in: a [`Username`] and a [`Password`], each
//! parsed once at the edge so an invalid one cannot travel further, and argon2
//! hashing (on the blocking pool, never on the async threads).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::secret::Secret;
use crate::store::StoreError;

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
pub(crate) async fn hash_password(password: Password) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(StoreError::Hashing)
    })
    .await?
}

/// Checks a password against a stored hash on the blocking pool. A hash that does
/// not parse never verifies.
pub(crate) async fn verify_password(hash: String, password: Secret<String>) -> bool {
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

    proptest::proptest! {
        #[test]
        fn a_parsed_username_is_trimmed_plain_and_short(raw in "\\PC{0,40}") {
            if let Ok(name) = Username::parse(&raw) {
                proptest::prop_assert_eq!(name.as_str(), raw.trim());
                proptest::prop_assert!((3..=32).contains(&name.as_str().len()));
                proptest::prop_assert!(name
                    .as_str()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
            }
        }

        #[test]
        fn every_plain_name_of_a_valid_length_parses(raw in "[A-Za-z0-9_.-]{3,32}") {
            let name = Username::parse(&raw).unwrap();
            proptest::prop_assert_eq!(name.as_str(), raw.as_str());
        }

        #[test]
        fn a_password_parses_exactly_when_its_length_is_allowed(raw in "\\PC{0,140}") {
            let length = raw.chars().count();
            proptest::prop_assert_eq!(Password::parse(&raw).is_ok(), (8..=128).contains(&length));
        }
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
