//! The data being served: the territory (loaded once), the open datasets'
//! initiatives and the store's, as one version at a time. A committed
//! change in the store becomes the next version by applying exactly the
//! initiatives it changed (see [`geodata::Initiatives`]); whoever keeps
//! something made from the data (the tile cache) hears of what changed
//! through [`Follower`], before the version is served.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use geodata::communes::CommuneCentres;
use geodata::territory::Placed;
use geodata::{Dataset, RecordChange, Territory, Touched};

use crate::store::{Store, StoreLocation, StoredInitiative};

/// One version of the data, and the store revision it reflects.
pub struct Snapshot {
    pub data: Dataset,
    pub revision: i64,
}

/// Hears of each change applied: `data` is the version it made (not yet
/// served), `touched` what it moved, `revision` its store revision.
pub trait Follower: Send + Sync {
    fn applied(&self, data: &Dataset, touched: &Touched, revision: i64);
}

pub struct Live {
    /// The same territory every version is placed on.
    pub territory: Arc<Territory>,
    current: ArcSwap<Snapshot>,
    /// Writes go through this connection, one at a time.
    writer: Mutex<Store>,
    /// Changes are read through this one, so that following the store never
    /// waits behind a write.
    reader: Mutex<Store>,
    /// Versions are made one at a time, in revision order.
    applying: Mutex<()>,
    /// Told of each change before its version is served.
    followers: Vec<Arc<dyn Follower>>,
    /// Where the store is (SQLite here, or a shared PostgreSQL).
    pub store_location: StoreLocation,
}

impl Live {
    /// Serves `placed` (the open datasets' initiatives and the store's, as
    /// of store `revision`, placed on `territory`) and follows the store.
    pub fn open(
        territory: Arc<Territory>,
        placed: Vec<Placed>,
        revision: i64,
        store: &StoreLocation,
        followers: Vec<Arc<dyn Follower>>,
    ) -> anyhow::Result<Live> {
        let writer = Store::open(store)?;
        let reader = Store::open(store)?;
        let data = Dataset::from_placed(territory.clone(), placed);
        Ok(Live {
            territory,
            current: ArcSwap::from_pointee(Snapshot { data, revision }),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            applying: Mutex::new(()),
            followers,
            store_location: store.clone(),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The store for `/health`: its kind, where it is, whether it answers
    /// (as of the last call: the server follows it four times a second).
    pub fn store_health(&self) -> serde_json::Value {
        let reachable = self
            .reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reachable();
        serde_json::json!({
            "kind": self.store_location.kind(),
            "location": self.store_location.describe(),
            "reachable": reachable,
        })
    }

    /// Commune centres, where rows the geocoder cannot place go.
    pub fn communes(&self) -> &CommuneCentres {
        self.territory.communes()
    }

    /// Applies what the store committed since the version served (another
    /// process's import included); true when something changed.
    pub fn refresh(&self) -> anyhow::Result<bool> {
        let _one_at_a_time = self.applying.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current.load_full();
        let (revision, changed) = self
            .reader
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .changes_since(current.revision)?;
        if revision == current.revision {
            return Ok(false);
        }
        let changes = changed
            .into_iter()
            .map(|s| {
                if s.deleted || s.record.merged_into.is_some() {
                    RecordChange::Remove(s.record.id)
                } else {
                    RecordChange::Put(s.record)
                }
            })
            .collect();
        let (data, touched) = current.data.apply(changes);
        // What a change makes stale is marked before the version that
        // makes it stale is served.
        for follower in &self.followers {
            follower.applied(&data, &touched, revision);
        }
        self.current.store(Arc::new(Snapshot { data, revision }));
        Ok(true)
    }

    /// Runs `work` with the store's writer, then serves what it committed.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&mut Store) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let out = work(&mut self.writer.lock().unwrap_or_else(|e| e.into_inner()))?;
        self.refresh()?;
        Ok(out)
    }

    /// The store's writer, for imports: they lock it only to write, and
    /// call [`Self::refresh`] after.
    pub fn store(&self) -> &Mutex<Store> {
        &self.writer
    }

    /// Reads the store (history, a source's rows) without waiting for writes.
    pub fn read<T>(&self, work: impl FnOnce(&Store) -> anyhow::Result<T>) -> anyhow::Result<T> {
        work(&self.reader.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The open datasets' initiatives with the store's: a stored record
/// replaces the open one of its id (a correction), a deleted one hides it,
/// and so does one merged into another structure's record (shown and
/// counted once, as that one).
/// Applied to a snapshot with the store's changes since, it gives the same.
pub fn merged(
    territory: &Territory,
    open: Vec<Placed>,
    stored: Vec<StoredInitiative>,
) -> Vec<Placed> {
    use rayon::prelude::*;
    let in_store: std::collections::HashSet<&str> =
        stored.iter().map(|s| s.record.id.as_str()).collect();
    let mut out: Vec<Placed> = open
        .into_iter()
        .filter(|p| !in_store.contains(&*p.initiative.id))
        .collect();
    out.par_extend(
        stored
            .into_par_iter()
            .filter(|s| !s.deleted && s.record.merged_into.is_none())
            .map(|s| territory.place_record(s.record)),
    );
    out
}
