//! The admission limit: a cap on buy requests this instance works on at once.
//! Beyond it the answer is an immediate 503 `busy` instead of a queue that would
//! time out anyway, so an instance under a spike stays responsive.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Buy requests this instance works on at once.
#[derive(Clone)]
pub(crate) struct Admission {
    slots: Arc<Semaphore>,
}

impl Admission {
    /// `max_in_flight` of 0 drains the instance: it answers every buy `busy`
    /// (the load balancer's retries go to the other instances).
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_in_flight)),
        }
    }

    /// A slot, or `None` when all are taken (answer `busy`).
    pub fn try_admit(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}
