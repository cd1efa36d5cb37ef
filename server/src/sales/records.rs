//! The `sales` table: every query about a sale's definition, and the mapping of
//! its rows to the wire type. Nothing here touches Redis; [`super::catalog`]
//! puts the two sides together.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use app::api::{AdmissionMode, CaptchaKind, Sale};
use app::money::Currency;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::new_sale::NewSale;
use crate::store::StoreError;

/// A `sales` row as Postgres returns it.
struct SaleRow {
    id: i64,
    title: String,
    description: String,
    image_url: String,
    price_cents: i64,
    list_price_cents: i64,
    currency: String,
    stock: i32,
    per_user_limit: i32,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    payment_window_secs: i32,
    captcha: String,
    min_account_age_days: i32,
    paused: bool,
    admission: String,
    queue_opens_at: Option<DateTime<Utc>>,
    queue_window_per_unit: i32,
    queue_pace_per_s: i32,
}

impl TryFrom<SaleRow> for Sale {
    type Error = StoreError;

    fn try_from(row: SaleRow) -> Result<Self, Self::Error> {
        let captcha = CaptchaKind::parse(&row.captcha).ok_or_else(|| {
            StoreError::Corrupt(format!("sale {} has captcha `{}`", row.id, row.captcha))
        })?;
        let currency = Currency::parse(&row.currency).ok_or_else(|| {
            StoreError::Corrupt(format!("sale {} has currency `{}`", row.id, row.currency))
        })?;
        let admission = AdmissionMode::parse(&row.admission).ok_or_else(|| {
            StoreError::Corrupt(format!("sale {} has admission `{}`", row.id, row.admission))
        })?;
        Ok(Sale {
            id: row.id,
            title: row.title,
            description: row.description,
            image_url: row.image_url,
            price_cents: row.price_cents,
            list_price_cents: row.list_price_cents,
            currency,
            stock: row.stock,
            per_user_limit: row.per_user_limit,
            starts_at_ms: row.starts_at.timestamp_millis(),
            ends_at_ms: row.ends_at.timestamp_millis(),
            payment_window_secs: row.payment_window_secs,
            captcha,
            min_account_age_days: row.min_account_age_days,
            paused: row.paused,
            admission,
            queue_opens_at_ms: row.queue_opens_at.map(|at| at.timestamp_millis()),
            queue_window_per_unit: row.queue_window_per_unit,
            queue_pace_per_s: row.queue_pace_per_s,
        })
    }
}

/// A time for Postgres. [`NewSale::parse`] has checked the range already, so an
/// out-of-range value here is a bug in the caller.
fn instant(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("{ms} ms is out of range")))
}

fn sales(rows: Vec<SaleRow>) -> Result<Vec<Sale>, StoreError> {
    rows.into_iter().map(Sale::try_from).collect()
}

/// Sales as stored in Postgres.
#[derive(Clone)]
pub(crate) struct SaleRecords {
    db: PgPool,
    /// Sales read one by one, for tests and metrics (the opening second must
    /// not stampede Postgres).
    finds: Arc<AtomicU64>,
}

impl SaleRecords {
    pub fn new(db: PgPool) -> Self {
        Self {
            db,
            finds: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many times one sale was read from Postgres.
    pub fn finds(&self) -> u64 {
        self.finds.load(Ordering::Relaxed)
    }

    /// The highest sale id (0 before the first sale): ids are handed out in
    /// order and sales are never deleted, so no sale has a higher one.
    pub async fn highest_id(&self) -> Result<i64, StoreError> {
        let highest: i64 = sqlx::query_scalar("select coalesce(max(id), 0)::int8 from sales")
            .fetch_one(&self.db)
            .await?;
        Ok(highest)
    }

    /// One sale, `None` if there is no such id.
    pub async fn find(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        self.finds.fetch_add(1, Ordering::Relaxed);
        let row = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused, admission, queue_opens_at,
                      queue_window_per_unit, queue_pace_per_s
               from sales where id = $1"#,
            id
        )
        .fetch_optional(&self.db)
        .await?;
        row.map(Sale::try_from).transpose()
    }

    /// Scheduled, live and recently ended (the 7 days before `now_ms`) sales,
    /// soonest first.
    pub async fn recent(&self, now_ms: i64) -> Result<Vec<Sale>, StoreError> {
        let rows = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused, admission, queue_opens_at,
                      queue_window_per_unit, queue_pace_per_s
               from sales
               where ends_at > $1::timestamptz - interval '7 days'
               order by starts_at desc, id desc
               limit 200"#,
            instant(now_ms)?
        )
        .fetch_all(&self.db)
        .await?;
        sales(rows)
    }

    /// Every sale, newest first (the admin's list).
    pub async fn all(&self) -> Result<Vec<Sale>, StoreError> {
        let rows = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused, admission, queue_opens_at,
                      queue_window_per_unit, queue_pace_per_s
               from sales order by starts_at desc, id desc limit 500"#
        )
        .fetch_all(&self.db)
        .await?;
        sales(rows)
    }

    /// Stores a new sale.
    pub async fn insert(&self, new: &NewSale) -> Result<Sale, StoreError> {
        let row = sqlx::query_as!(
            SaleRow,
            r#"insert into sales (title, description, image_url, price_cents, list_price_cents, currency, stock,
                                  per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                                  min_account_age_days, admission, queue_opens_at, queue_window_per_unit,
                                  queue_pace_per_s)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
               returning id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                         per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                         min_account_age_days, paused, admission, queue_opens_at,
                         queue_window_per_unit, queue_pace_per_s"#,
            new.title,
            new.description,
            new.image_url,
            new.price_cents,
            new.list_price_cents,
            new.currency().code(),
            new.stock,
            new.per_user_limit,
            instant(new.starts_at_ms)?,
            instant(new.ends_at_ms)?,
            new.payment_window_secs,
            new.captcha.as_str(),
            new.min_account_age_days,
            new.admission().as_str(),
            new.queue_opens_at_ms.map(instant).transpose()?,
            new.queue_window_per_unit(),
            new.queue_pace_per_s(),
        )
        .fetch_one(&self.db)
        .await?;
        Sale::try_from(row)
    }

    /// Starts a transaction (an edit holds its sale's row until Redis agreed).
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        Ok(self.db.begin().await?)
    }

    /// One sale, its row locked until `connection`'s transaction ends, so two
    /// edits of a sale take turns.
    pub async fn find_for_update(
        connection: &mut PgConnection,
        id: i64,
    ) -> Result<Option<Sale>, StoreError> {
        let row = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused, admission, queue_opens_at,
                      queue_window_per_unit, queue_pace_per_s
               from sales where id = $1 for update"#,
            id
        )
        .fetch_optional(connection)
        .await?;
        row.map(Sale::try_from).transpose()
    }

    /// Sales not yet ended, their rows locked against edits until
    /// `connection`'s transaction ends. Rows an edit holds are skipped. The lock
    /// is `no key update`: it does not hold up the foreign-key checks of the
    /// consumer's order inserts, as `for update` would.
    pub async fn open_for_update(
        connection: &mut PgConnection,
        now_ms: i64,
    ) -> Result<Vec<Sale>, StoreError> {
        let rows = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused, admission, queue_opens_at,
                      queue_window_per_unit, queue_pace_per_s
               from sales where ends_at > $1 order by id limit 500
               for no key update skip locked"#,
            instant(now_ms)?
        )
        .fetch_all(connection)
        .await?;
        sales(rows)
    }

    /// Replaces every editable field of a sale; `None` if there is no such id.
    pub async fn update(
        connection: &mut PgConnection,
        id: i64,
        new: &NewSale,
    ) -> Result<Option<Sale>, StoreError> {
        let row = sqlx::query_as!(
            SaleRow,
            r#"update sales set title = $2, description = $3, image_url = $4, price_cents = $5,
                      list_price_cents = $6, stock = $7, per_user_limit = $8, starts_at = $9, ends_at = $10,
                      payment_window_secs = $11, captcha = $12, min_account_age_days = $13,
                      currency = $14, admission = $15, queue_opens_at = $16,
                      queue_window_per_unit = $17, queue_pace_per_s = $18
               where id = $1
               returning id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                         per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                         min_account_age_days, paused, admission, queue_opens_at,
                         queue_window_per_unit, queue_pace_per_s"#,
            id,
            new.title,
            new.description,
            new.image_url,
            new.price_cents,
            new.list_price_cents,
            new.stock,
            new.per_user_limit,
            instant(new.starts_at_ms)?,
            instant(new.ends_at_ms)?,
            new.payment_window_secs,
            new.captcha.as_str(),
            new.min_account_age_days,
            new.currency().code(),
            new.admission().as_str(),
            new.queue_opens_at_ms.map(instant).transpose()?,
            new.queue_window_per_unit(),
            new.queue_pace_per_s(),
        )
        .fetch_optional(connection)
        .await?;
        row.map(Sale::try_from).transpose()
    }

    /// Pauses or resumes a sale; `None` if there is no such id.
    pub async fn set_paused(&self, id: i64, paused: bool) -> Result<Option<Sale>, StoreError> {
        let row = sqlx::query_as!(
            SaleRow,
            r#"update sales set paused = $2 where id = $1
               returning id, title, description, image_url, price_cents, list_price_cents, currency, stock,
                         per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                         min_account_age_days, paused, admission, queue_opens_at,
                         queue_window_per_unit, queue_pace_per_s"#,
            id,
            paused
        )
        .fetch_optional(&self.db)
        .await?;
        row.map(Sale::try_from).transpose()
    }

    /// Queue sales whose line is open or about to open at `now_ms`, or whose
    /// end came less than a minute ago (their line's last word is written).
    pub async fn lines_open(&self, now_ms: i64) -> Result<Vec<i64>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "select id from sales where admission = 'queue' and queue_opens_at <= $1
             and ends_at > $2 order by id limit 1000",
        )
        .bind(instant(now_ms + 5_000)?)
        .bind(instant(now_ms - 60_000)?)
        .fetch_all(&self.db)
        .await?;
        Ok(ids)
    }

    /// Units of a sale's paid orders (they cannot come back).
    pub async fn paid_units(&self, sale_id: i64) -> Result<i64, StoreError> {
        let units: i64 = sqlx::query_scalar(
            "select coalesce(sum(units), 0)::int8 from orders where sale_id = $1 and status = 'paid'",
        )
        .bind(sale_id)
        .fetch_one(&self.db)
        .await?;
        Ok(units)
    }

    /// Whether any sale is scheduled or live (not yet ended) at `now_ms`.
    pub async fn has_open_sale(&self, now_ms: i64) -> Result<bool, StoreError> {
        let open = sqlx::query_scalar!(
            r#"select exists(select 1 from sales where ends_at > $1) as "open!""#,
            instant(now_ms)?
        )
        .fetch_one(&self.db)
        .await?;
        Ok(open)
    }
}
