//! Product pictures an admin uploads instead of linking one: kept in Postgres
//! (one table, no file system to share between instances), addressed by the
//! SHA-256 of their bytes, and served from a bounded memory cache, since a
//! whole crowd asks for the same few pictures at the opening second. A name no
//! picture has is answered from the list of names (read once a second, by one
//! request at a time), so a flood of made-up names never reaches Postgres.

use std::collections::HashSet;
use std::sync::Arc;

use moka::future::Cache;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::store::StoreError;

/// The largest picture accepted.
pub(crate) const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Memory the served pictures may take on one instance.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// How old the list of picture names may be: a picture uploaded through
/// another instance is found after at most this long.
const NAMES_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A kind of picture browsers show, recognised by its first bytes (the
/// uploader's word for it is not trusted; SVG, which can carry script, is not
/// accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PictureType {
    Png,
    Jpeg,
    Webp,
    Gif,
}

impl PictureType {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Webp => "webp",
            Self::Gif => "gif",
        }
    }
}

/// A stored picture.
#[derive(Clone, Debug)]
pub(crate) struct Picture {
    /// Lowercase hex SHA-256 of `bytes`: the name and the `ETag`.
    pub sha256: String,
    pub content_type: String,
    /// Shared, not copied, by every response that sends it.
    pub bytes: axum::body::Bytes,
}

/// The pictures of every sale.
#[derive(Clone)]
pub(crate) struct Pictures {
    db: PgPool,
    cache: Cache<String, Arc<Picture>>,
    /// Every stored picture's name (tens of them, a few KB), loaded one at a time.
    names: Cache<(), Arc<HashSet<String>>>,
}

impl Pictures {
    pub fn new(db: PgPool) -> Self {
        let cache = Cache::builder()
            .weigher(|_, picture: &Arc<Picture>| {
                u32::try_from(picture.bytes.len()).unwrap_or(u32::MAX)
            })
            .max_capacity(CACHE_BYTES)
            .build();
        let names = Cache::builder()
            .max_capacity(1)
            .time_to_live(NAMES_TTL)
            .build();
        Self { db, cache, names }
    }

    /// Stores `bytes` of `kind` (once, whoever uploads them again) and returns
    /// the path it is served at.
    pub async fn store(&self, kind: PictureType, bytes: &[u8]) -> Result<String, StoreError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        sqlx::query!(
            "insert into product_pictures (sha256, content_type, bytes) values ($1, $2, $3)
             on conflict (sha256) do nothing",
            sha256,
            kind.content_type(),
            bytes,
        )
        .execute(&self.db)
        .await?;
        self.names.invalidate(&()).await;
        Ok(format!("/pictures/{sha256}.{}", kind.extension()))
    }

    /// The picture named `sha256`, from memory when another request already
    /// read it; read once however many ask for it at once.
    pub async fn get(&self, sha256: &str) -> Result<Option<Arc<Picture>>, StoreError> {
        if let Some(picture) = self.cache.get(sha256).await {
            return Ok(Some(picture));
        }
        let names = self
            .names
            .try_get_with((), async {
                let names: Vec<String> = sqlx::query_scalar("select sha256 from product_pictures")
                    .fetch_all(&self.db)
                    .await?;
                Ok::<_, StoreError>(Arc::new(names.into_iter().collect::<HashSet<_>>()))
            })
            .await?;
        if !names.contains(sha256) {
            return Ok(None);
        }
        let picture = self
            .cache
            .try_get_with(sha256.to_owned(), self.load(sha256))
            .await?;
        Ok(Some(picture))
    }

    /// A listed picture's bytes (pictures are never deleted).
    async fn load(&self, sha256: &str) -> Result<Arc<Picture>, StoreError> {
        let row = sqlx::query!(
            "select content_type, bytes from product_pictures where sha256 = $1",
            sha256
        )
        .fetch_optional(&self.db)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("picture {sha256} is listed but not stored")))?;
        Ok(Arc::new(Picture {
            sha256: sha256.to_owned(),
            content_type: row.content_type,
            bytes: row.bytes.into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::PictureType;

    #[test]
    fn pictures_are_known_by_their_first_bytes_not_their_names() {
        assert_eq!(
            PictureType::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(PictureType::Png)
        );
        assert_eq!(
            PictureType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(PictureType::Jpeg)
        );
        assert_eq!(
            PictureType::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(PictureType::Webp)
        );
        assert_eq!(PictureType::sniff(b"GIF89a..."), Some(PictureType::Gif));
        assert_eq!(
            PictureType::sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(PictureType::sniff(b""), None);
    }
}
