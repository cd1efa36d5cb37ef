//! Page data, loaded through `#[server]` functions: in-process during SSR, over
//! HTTP after hydration. The bodies only fetch the ports and call them.

use leptos::prelude::*;

use crate::api::{Sale, SaleListing};

/// The sales of the home page.
#[server]
pub async fn list_sales() -> Result<Vec<SaleListing>, ServerFnError> {
    let ports = crate::ssr::ports()?;
    ports
        .catalog
        .listings()
        .await
        .map_err(crate::ssr::unavailable)
}

/// One sale for its page; `None` when it does not exist (the page answers 404).
#[server]
pub async fn get_sale(id: i64) -> Result<Option<Sale>, ServerFnError> {
    let ports = crate::ssr::ports()?;
    ports
        .catalog
        .sale(id)
        .await
        .map_err(crate::ssr::unavailable)
}
