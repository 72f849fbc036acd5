//! The data being served: the territory (loaded once), the open datasets'
//! initiatives and the store's, as one version at a time. A committed
//! change in the store becomes the next version by applying exactly the
//! initiatives it changed (see [`geodata::Initiatives`]); the tiles it
//! touched are marked stale, nothing else.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use geodata::communes::CommuneCentres;
use geodata::dataset::place_near;
use geodata::territory::Placed;
use geodata::{Dataset, RecordChange, Territory};

use crate::config::ConfigToken;
use crate::geocode::Addok;
use crate::store::{Role, Store, StoreLocation, StoredInitiative, token_hash};
use crate::tiles::TileCache;

/// One version of the data, and the store revision it reflects.
pub struct Snapshot {
    pub data: Dataset,
    pub revision: i64,
}

/// How rows without coordinates get placed.
pub struct Geocoding {
    pub addok: Option<Addok>,
    pub min_score: f64,
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
    pub tiles: Arc<TileCache>,
    pub state_dir: PathBuf,
    /// Where the store is (SQLite here, or a shared PostgreSQL).
    pub store_location: StoreLocation,
    pub geocoding: Geocoding,
    config_tokens: Vec<ConfigToken>,
}

impl Live {
    /// Opens the store in `state_dir` (created on first run) and places its
    /// initiatives with the open datasets' (`open`, placed) on `territory`.
    pub fn open(
        territory: Arc<Territory>,
        open: Vec<Placed>,
        store: &StoreLocation,
        state_dir: &Path,
        geocoding: Geocoding,
        config_tokens: Vec<ConfigToken>,
        tiles: TileCache,
    ) -> anyhow::Result<Live> {
        let writer = Store::open(store)?;
        let reader = Store::open(store)?;
        let (revision, stored) = reader.all()?;
        let placed = merged(&territory, open, stored);
        let data = Dataset::from_placed(territory.clone(), placed);
        Ok(Live {
            territory,
            current: ArcSwap::from_pointee(Snapshot { data, revision }),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            applying: Mutex::new(()),
            tiles: Arc::new(tiles),
            state_dir: state_dir.to_path_buf(),
            store_location: store.clone(),
            geocoding,
            config_tokens,
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
                if s.deleted {
                    RecordChange::Remove(s.record.id)
                } else {
                    RecordChange::Put(s.record)
                }
            })
            .collect();
        let (data, touched) = current.data.apply(changes);
        // Stale tiles are marked before the version that makes them stale
        // is served.
        self.tiles.touched(&data, &touched, revision);
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

    /// The name and role of a bearer token, from the configuration or the store.
    pub fn principal(&self, token: &str) -> anyhow::Result<Option<(String, Role)>> {
        let hash = token_hash(token);
        if let Some(t) = self.config_tokens.iter().find(|t| t.sha256 == hash) {
            return Ok(Some((t.name.clone(), t.role)));
        }
        self.read(|store| store.token_by_hash(&hash))
    }
}

/// The open datasets' initiatives with the store's: a stored record
/// replaces the open one of its id (a correction), a deleted one hides it.
fn merged(territory: &Territory, open: Vec<Placed>, stored: Vec<StoredInitiative>) -> Vec<Placed> {
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
            .filter(|s| !s.deleted)
            .map(|s| place_near(territory, s.record)),
    );
    out
}
