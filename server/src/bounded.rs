//! Heavy work (gap analyses, rings, imports, cold tiles, tables of
//! addresses) runs off the async threads, a bounded amount at a time,
//! within a time budget: a request that cannot start soon answers 503 with
//! `Retry-After` instead of stalling the others. Work already started
//! finishes in the background (a blocking thread cannot be interrupted) and
//! still holds what it was admitted with, so the machine never runs more
//! than admitted.
//!
//! [`Bounded`] admits by count (analyses cost about the same);
//! [`Admission`] admits by cost (a table's unpacked bytes), with a share per
//! client so that one client cannot hold every worker.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Why work was not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// Too much work under way: try again in `retry_after_s`.
    #[error(
        "no room for this {what} within its time budget (too much work under way); try again in {retry_after_s} s"
    )]
    Overloaded {
        what: &'static str,
        retry_after_s: u64,
    },
    /// This client already has its share under way.
    #[error("{max} {what} jobs at once per client; try again in {retry_after_s} s")]
    ClientShare {
        what: &'static str,
        max: usize,
        retry_after_s: u64,
    },
    /// The work panicked (a bug: logged).
    #[error("the {0} failed")]
    Failed(&'static str),
}

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

    fn overloaded(&self) -> Busy {
        Busy::Overloaded {
            what: self.what,
            retry_after_s: self.budget.as_secs().max(1),
        }
    }

    /// Runs `work` on a blocking thread when a permit is free, within the budget.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let started = Instant::now();
        let permit = tokio::time::timeout(self.budget, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| self.overloaded())?
            .expect("the semaphore is never closed");
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        });
        let left = self.budget.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, task).await {
            // The timer turns at millisecond steps and is looked at after the
            // work: work that ends past the budget in the same turn is late
            // all the same, so that the budget is one rule, not a race.
            Ok(Ok(out)) if started.elapsed() <= self.budget => Ok(out),
            Ok(Ok(_)) => Err(self.overloaded()),
            Ok(Err(e)) => {
                tracing::error!("{} failed: {e}", self.what);
                Err(Busy::Failed(self.what))
            }
            Err(_) => Err(self.overloaded()),
        }
    }
}

/// Work admitted by its cost in bytes (counted in MiB), each client holding
/// at most `per_client` jobs (uploads being received included).
pub struct Admission {
    what: &'static str,
    units: Arc<Semaphore>,
    total_units: u32,
    per_client: usize,
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// How long a job may wait for room before 503.
    wait: Duration,
    /// How long it may run before the request answers 503 (it finishes in
    /// the background).
    run_budget: Duration,
}

/// A client's place, from the start of its upload to the end of its job.
pub struct ClientTicket {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: IpAddr,
}

impl Drop for ClientTicket {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = clients.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

/// The address a client is counted by: IPv4 as is, IPv6 by its /64 (one
/// host usually holds a whole /64).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

const MIB: u64 = 1 << 20;

impl Admission {
    /// `budget_bytes` of work at once, `per_client` jobs per client.
    pub fn new(
        what: &'static str,
        budget_bytes: u64,
        per_client: usize,
        wait: Duration,
        run_budget: Duration,
    ) -> Admission {
        let total_units = u32::try_from(budget_bytes.div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .max(1);
        Admission {
            what,
            units: Arc::new(Semaphore::new(total_units as usize)),
            total_units,
            per_client: per_client.max(1),
            clients: Arc::default(),
            wait,
            run_budget,
        }
    }

    fn retry_after(&self) -> u64 {
        self.wait.as_secs().max(5)
    }

    /// A client's place, before its upload is read: refused when it has its
    /// share under way.
    pub fn enter(&self, client: IpAddr) -> Result<ClientTicket, Busy> {
        let key = client_key(client);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let n = clients.entry(key).or_insert(0);
        if *n >= self.per_client {
            return Err(Busy::ClientShare {
                what: self.what,
                max: self.per_client,
                retry_after_s: self.retry_after(),
            });
        }
        *n += 1;
        Ok(ClientTicket {
            clients: self.clients.clone(),
            key,
        })
    }

    /// Runs `work` (holding `ticket`) on a blocking thread once `cost_bytes`
    /// of room is free; 503 when none is within the wait, or when it runs
    /// past the budget.
    pub async fn run<T: Send + 'static>(
        &self,
        ticket: ClientTicket,
        cost_bytes: u64,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let overloaded = || Busy::Overloaded {
            what: self.what,
            retry_after_s: self.retry_after(),
        };
        let units = u32::try_from(cost_bytes.div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_units);
        let permit = tokio::time::timeout(self.wait, self.units.clone().acquire_many_owned(units))
            .await
            .map_err(|_| overloaded())?
            .expect("the semaphore is never closed");
        let started = Instant::now();
        let task = tokio::task::spawn_blocking(move || {
            let _held = (permit, ticket);
            work()
        });
        match tokio::time::timeout(self.run_budget, task).await {
            // As in [`Bounded::run`]: late is late, however the timer turned.
            Ok(Ok(out)) if started.elapsed() <= self.run_budget => Ok(out),
            Ok(Ok(_)) => Err(overloaded()),
            Ok(Err(e)) => {
                tracing::error!("{} failed: {e}", self.what);
                Err(Busy::Failed(self.what))
            }
            Err(_) => Err(overloaded()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_client_cannot_take_every_place_and_cost_is_admitted() {
        let admission = Admission::new(
            "table",
            8 * MIB,
            2,
            Duration::from_millis(50),
            Duration::from_secs(5),
        );
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let one = admission.enter(a).unwrap();
        let _two = admission.enter(a).unwrap();
        assert!(matches!(
            admission.enter(a),
            Err(Busy::ClientShare { max: 2, .. })
        ));
        let other = admission.enter(b).unwrap();
        // A job holding the whole budget: another one waits, then 503.
        let (started, release) = std::sync::mpsc::channel::<()>();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let admission = Arc::new(admission);
        let big = {
            let admission = admission.clone();
            tokio::spawn(async move {
                admission
                    .run(one, 100 * MIB, move || {
                        started.send(()).unwrap();
                        rx.recv().unwrap();
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || release.recv().unwrap())
            .await
            .unwrap();
        let refused = admission.run(other, MIB, || ()).await;
        assert!(
            matches!(refused, Err(Busy::Overloaded { .. })),
            "{refused:?}"
        );
        tx.send(()).unwrap();
        big.await.unwrap().unwrap();
        let again = admission.enter(b).unwrap();
        assert!(admission.run(again, MIB, || 7).await == Ok(7));
    }

    /// Work that ends after its budget, before the timer has turned, is late
    /// all the same: the same answer every time, not a race with the timer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_ending_past_its_budget_is_late_however_the_timer_turned() {
        let heavy = Bounded::new("analysis", 1, Duration::from_micros(1));
        for _ in 0..50 {
            let late = heavy
                .run(|| std::thread::sleep(Duration::from_micros(50)))
                .await;
            assert!(matches!(late, Err(Busy::Overloaded { .. })), "{late:?}");
        }
        let roomy = Bounded::new("analysis", 1, Duration::from_secs(30));
        assert_eq!(roomy.run(|| 7).await, Ok(7));
    }
}
