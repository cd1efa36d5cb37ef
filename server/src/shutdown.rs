//! Stopping gracefully. [`signal`] completes on SIGTERM (deployments) or Ctrl-C;
//! [`Shutdown`] is what every background worker holds to learn that it must stop
//! (as in mini-redis: one type, not a hand-rolled channel loop per worker).

use tokio::sync::watch;

/// Completes when the process is asked to stop.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {error}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!("cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested, draining connections");
}

/// Tells every [`Shutdown`] made from it to stop; dropping it does the same.
#[derive(Debug)]
pub(crate) struct ShutdownTrigger(watch::Sender<bool>);

impl ShutdownTrigger {
    /// A trigger and the first listener (clone it for more).
    pub fn new() -> (Self, Shutdown) {
        let (sender, receiver) = watch::channel(false);
        (Self(sender), Shutdown(receiver))
    }

    /// Asks every worker to stop.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// A worker's view of the stop request: check it between steps, or wait for it
/// in a `tokio::select!` beside the work.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once a stop is asked for (at once if it was already), or when
    /// the trigger is gone.
    pub async fn requested(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn every_listener_hears_the_stop_even_one_that_came_late() {
        let (trigger, mut early) = ShutdownTrigger::new();
        let mut late = early.clone();
        assert!(!early.is_requested());
        let waiting = tokio::spawn(async move { early.requested().await });
        trigger.stop();
        tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("the waiting worker wakes")
            .unwrap();
        assert!(late.is_requested());
        tokio::time::timeout(Duration::from_secs(1), late.requested())
            .await
            .expect("an already requested stop completes at once");
    }

    #[tokio::test]
    async fn a_dropped_trigger_stops_the_workers() {
        let (trigger, mut shutdown) = ShutdownTrigger::new();
        drop(trigger);
        tokio::time::timeout(Duration::from_secs(1), shutdown.requested())
            .await
            .expect("no worker outlives its application");
    }
}
