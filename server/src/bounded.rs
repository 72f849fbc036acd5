//! Heavy work (gap analyses, rings, imports, cold tiles) runs off the async
//! threads, a few at a time, within a time budget: a request that cannot
//! start or finish in time answers 503 with `Retry-After` instead of
//! stalling the others. Work already started finishes in the background
//! (a blocking thread cannot be interrupted) and still holds its permit, so
//! the machine never runs more than `permits` of it at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::api::ApiError;

pub struct Bounded {
    what: &'static str,
    permits: Arc<Semaphore>,
    budget: Duration,
}

impl Bounded {
    pub fn new(what: &'static str, permits: usize, budget: Duration) -> Bounded {
        Bounded {
            what,
            permits: Arc::new(Semaphore::new(permits.max(1))),
            budget,
        }
    }

    /// Runs `work` on a blocking thread when a permit is free, within the budget.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        let overloaded = || ApiError::Overloaded {
            what: self.what,
            retry_after_s: self.budget.as_secs().max(1),
        };
        let permit = tokio::time::timeout(self.budget, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| overloaded())?
            .expect("the semaphore is never closed");
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        });
        let left = self.budget.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, task).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(ApiError::internal(e)),
            Err(_) => Err(overloaded()),
        }
    }
}
