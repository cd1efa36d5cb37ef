//! The rules of a sale that every shopper's request on its hot path meets:
//! open (started, not ended, not paused) and old enough an account. Shared by
//! the purchase routes and the waiting room.

use app::api::{ErrorCode, Sale};

use super::error::ApiError;
use crate::accounts::sessions::Session;
use crate::sales::catalog::Catalog;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The sale, open for buying at `now_ms`: started, not ended, not paused.
pub(crate) async fn open_sale(
    catalog: &Catalog,
    sale_id: i64,
    now_ms: i64,
) -> Result<Sale, ApiError> {
    let sale = catalog
        .cached_sale(sale_id)
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    if now_ms >= sale.ends_at_ms {
        return Err(ErrorCode::Ended.into());
    }
    if now_ms < sale.starts_at_ms {
        return Err(ErrorCode::NotStarted.into());
    }
    if sale.paused {
        return Err(ErrorCode::Paused.into());
    }
    Ok(sale)
}

/// The sale's rule against freshly made accounts. A sale without the rule asks
/// nothing: an account made a moment ago by Postgres' clock may look a few
/// milliseconds "from the future" to an instance whose clock is behind.
pub(crate) fn check_eligible(sale: &Sale, user: &Session, now_ms: i64) -> Result<(), ApiError> {
    let age_ms = now_ms - user.account_created_ms;
    if sale.min_account_age_days > 0 && age_ms < i64::from(sale.min_account_age_days) * DAY_MS {
        return Err(ApiError::refused(
            ErrorCode::NotEligible,
            format!(
                "this sale is for accounts at least {} days old",
                sale.min_account_age_days
            ),
        ));
    }
    Ok(())
}
