//! One memo for the answers worth keeping (gap analyses, rings, the OGC
//! API's gap rows): by route, canonical query and store revision, within a
//! byte budget (least recently used out first). Each answer is computed
//! once however many ask for it together, off the async threads within the
//! heavy-work bounds ([`Bounded`]); a change (a new revision) makes the
//! next request compute again while old answers age out.
//!
//! (The tile cache stays apart: a change marks the tiles it touched stale
//! instead of changing every key, see `tiles.rs`.)

use std::any::Any;
use std::sync::Arc;

use crate::bounded::{Bounded, Busy};

/// What an answer depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoKey {
    pub route: &'static str,
    /// The parameters, checked and put in one canonical form.
    pub query: String,
    pub revision: i64,
}

#[derive(Clone)]
struct Kept {
    value: Arc<dyn Any + Send + Sync>,
}

pub struct Memo {
    kept: moka::future::Cache<MemoKey, (Kept, u32)>,
}

/// The memo's byte budget.
pub const MEMO_BUDGET_BYTES: u64 = 96 * 1024 * 1024;

impl Memo {
    pub fn new(budget_bytes: u64) -> Memo {
        Memo {
            kept: moka::future::Cache::builder()
                .weigher(|_, (_, bytes): &(Kept, u32)| *bytes)
                .max_capacity(budget_bytes)
                .build(),
        }
    }

    /// The answer of `key`: kept, or computed by `compute` on a blocking
    /// thread within `heavy`'s bounds and kept with its weight in bytes.
    /// `E` is the caller's error (a refusal is not kept).
    pub async fn get<T, E>(
        &self,
        key: MemoKey,
        heavy: &Bounded,
        compute: impl FnOnce() -> Result<(T, usize), E> + Send + 'static,
    ) -> Result<Arc<T>, E>
    where
        T: Send + Sync + 'static,
        E: From<Busy> + Clone + Send + Sync + 'static,
    {
        let (kept, _) = self
            .kept
            .try_get_with(key, async move {
                let (value, bytes) = heavy.run(compute).await.map_err(E::from)??;
                let value: Arc<dyn Any + Send + Sync> = Arc::new(value);
                Ok::<_, E>((Kept { value }, u32::try_from(bytes).unwrap_or(u32::MAX)))
            })
            .await
            .map_err(|e: Arc<E>| e.as_ref().clone())?;
        Ok(kept
            .value
            .downcast::<T>()
            .expect("one route keeps one type of answer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn computed_once_per_key_and_revision() {
        let memo = Memo::new(1 << 20);
        let heavy = Bounded::new("test", 2, std::time::Duration::from_secs(5));
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let key = |revision| MemoKey {
            route: "/test",
            query: "a=1".into(),
            revision,
        };
        for revision in [1, 1, 2] {
            let runs = runs.clone();
            let got: Arc<String> = memo
                .get(key(revision), &heavy, move || {
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, Busy>((format!("r{revision}"), 2))
                })
                .await
                .unwrap();
            assert_eq!(*got, format!("r{revision}"));
        }
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
