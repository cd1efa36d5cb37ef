//! What a person types to get in: a [`Username`] and a [`Password`], each
//! parsed once at the edge so an invalid one cannot travel further, and argon2
//! hashing (on the blocking pool, never on the async threads; for requests,
//! through a [`Hasher`] with a fixed number of slots).

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// The longest password taken, at registration and at log-in alike (argon2's
/// cost grows with what it hashes).
pub(crate) const MAX_PASSWORD_CHARS: usize = 128;

/// A new password: 8 to 128 characters. Never printed.
#[derive(Clone, Debug)]
pub struct Password(Secret<String>);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let length = raw.chars().count();
        if length < 8 {
            return Err("a password has at least 8 characters".into());
        }
        if length > MAX_PASSWORD_CHARS {
            return Err(format!(
                "a password has at most {MAX_PASSWORD_CHARS} characters"
            ));
        }
        Ok(Self(Secret::new(raw.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// Hashes a password with argon2id on the blocking pool (tens of milliseconds
/// of CPU). For the command line; requests go through a [`Hasher`].
pub(crate) async fn hash_password(password: Password) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

fn hash_now(password: &Password) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(StoreError::Hashing)
}

/// Whether `password` is the one `hash` was made of. A hash that does not parse
/// never verifies.
fn verifies(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Why a [`Hasher`] did not answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HashError {
    /// Every slot is taken: the caller answers 503 `busy` at once.
    #[error("every password-hashing slot is taken")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Argon2 for requests: at most `slots` hashes at once, each on the blocking
/// pool, and a short line of `waiting` more (a burst of people registering
/// together), each waiting at most [`LONGEST_WAIT`]; beyond the line a request
/// is refused at once ([`HashError::Busy`]). A flood of log-ins therefore
/// costs at most `slots` cores and a bounded line: the files and CAPTCHA
/// pictures that share the blocking pool are served on time, during the flood
/// and after it. A slot is held by the hashing itself, so a client that hangs
/// up does not free it early.
#[derive(Clone)]
pub(crate) struct Hasher {
    /// Hashing now.
    slots: Arc<Semaphore>,
    /// Hashing now or waiting for a slot.
    admitted: Arc<Semaphore>,
}

/// The longest a request waits for a hashing slot.
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

impl Hasher {
    pub fn new(slots: usize, waiting: usize) -> Self {
        let slots = slots.max(1);
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            admitted: Arc::new(Semaphore::new(slots + waiting)),
        }
    }

    /// A new password's hash.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let slot = self.slot().await?;
        let hashed = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            hash_now(&password)
        })
        .await
        .map_err(StoreError::from)?;
        Ok(hashed?)
    }

    /// Whether `password` matches `hash`.
    pub async fn verify(&self, hash: String, password: Secret<String>) -> Result<bool, HashError> {
        let slot = self.slot().await?;
        let verified = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            verifies(&hash, password.expose())
        })
        .await
        .map_err(StoreError::from)?;
        Ok(verified)
    }

    /// A place in line at once (or `Busy`), then a slot within [`LONGEST_WAIT`].
    async fn slot(&self) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), HashError> {
        let in_line = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let slot = tokio::time::timeout(LONGEST_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        Ok((in_line, slot))
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
        let hasher = Hasher::new(1, 0);
        let hash = hasher
            .hash(Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let verify = |hash: &str, password: &str| {
            hasher.verify(hash.to_owned(), Secret::new(password.to_owned()))
        };
        assert!(verify(&hash, "correct horse").await.unwrap());
        assert!(!verify(&hash, "wrong horse").await.unwrap());
        assert!(!verify("not a hash", "x").await.unwrap());
    }

    #[tokio::test]
    async fn a_hash_beyond_the_slots_and_the_line_is_refused_at_once() {
        let hasher = Hasher::new(1, 0);
        let password = || Password::parse("correct horse").unwrap();
        let (first, second) = tokio::join!(hasher.hash(password()), async {
            tokio::task::yield_now().await;
            hasher.hash(password()).await
        });
        assert!(first.is_ok());
        assert!(matches!(second, Err(HashError::Busy)), "{second:?}");
        // The slot is free again once the first hash is done.
        assert!(hasher.hash(password()).await.is_ok());
        // With a place in line, the second waits its turn instead.
        let patient = Hasher::new(1, 1);
        let (first, second) = tokio::join!(patient.hash(password()), async {
            tokio::task::yield_now().await;
            patient.hash(password()).await
        });
        assert!(first.is_ok() && second.is_ok());
    }
}
