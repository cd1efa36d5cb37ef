//! Logs go through `tracing`; `RUST_LOG` picks the level (info by default).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (several test applications in
/// one process) are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
