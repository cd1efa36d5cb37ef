//! The ports through which page data ([`crate::page_data`]) is read during SSR.
//! `server` implements them over Redis and Postgres and hands them over as Leptos
//! context, so `app` depends on no storage and the dependency points one way.

use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::*;

use crate::api::{Sale, SaleListing};

/// Storage failed; the message is for logs only, never shown to shoppers.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

/// Read access to the sales a shopper may see.
#[async_trait]
pub trait SaleCatalog: Send + Sync + 'static {
    /// Scheduled, live and recently ended sales, soonest first, with their state.
    async fn listings(&self) -> Result<Vec<SaleListing>, PortError>;
    /// One sale by id; `None` when there is no such sale.
    async fn sale(&self, id: i64) -> Result<Option<Sale>, PortError>;
}

/// Everything the server provides to the Leptos context of each request.
#[derive(Clone)]
pub struct Ports {
    pub catalog: Arc<dyn SaleCatalog>,
}

/// The ports of the current request; a page render without them is a wiring
/// bug in `server`, reported as a server error rather than a panic.
pub fn ports() -> Result<Ports, String> {
    use_context::<Ports>().ok_or_else(|| "the server did not provide its ports".to_string())
}

/// Maps a storage failure to what the client may see: a generic sentence. The
/// cause is logged by the caller's tracing span on the server.
pub fn unavailable(error: PortError) -> String {
    leptos::logging::error!("page data unavailable: {error}");
    "sales are unavailable right now, please retry".to_string()
}
