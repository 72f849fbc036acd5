//! The data being served: the open datasets (read-only, loaded once) merged
//! with the store's initiatives, swapped whole whenever the store's revision
//! moves, with a fresh tile cache.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use geodata::communes::CommuneCentres;
use geodata::{Dataset, DatasetReport};

use crate::config::ConfigToken;
use crate::geocode::Addok;
use crate::store::{Role, Store, database_path, token_hash};
use crate::tiles::TileCache;

/// One version of the data, with the tiles made from it.
pub struct Snapshot {
    pub data: Arc<Dataset>,
    pub tiles: Arc<TileCache>,
    revision: i64,
}

/// How rows without coordinates get placed.
pub struct Geocoding {
    pub addok: Option<Addok>,
    pub min_score: f64,
    pub communes: CommuneCentres,
}

pub struct Live {
    base: Dataset,
    current: ArcSwap<Snapshot>,
    store: Mutex<Store>,
    pub state_dir: PathBuf,
    pub geocoding: Geocoding,
    config_tokens: Vec<ConfigToken>,
}

impl Live {
    /// Opens the store in `state_dir` (created on first run) over `base`.
    pub fn open(
        base: Dataset,
        state_dir: &Path,
        geocoding: Geocoding,
        config_tokens: Vec<ConfigToken>,
    ) -> anyhow::Result<Live> {
        let store = Store::open(state_dir)?;
        let first = snapshot(&base, &store, state_dir)?;
        Ok(Live {
            base,
            current: ArcSwap::from_pointee(first),
            store: Mutex::new(store),
            state_dir: state_dir.to_path_buf(),
            geocoding,
            config_tokens,
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Rebuilds from the store if it changed (another process's import
    /// included); true when it did.
    pub fn refresh(&self) -> anyhow::Result<bool> {
        let store = self.store.lock().expect("store lock");
        if store.revision()? == self.current.load().revision {
            return Ok(false);
        }
        let next = snapshot(&self.base, &store, &self.state_dir)?;
        drop(store);
        self.current.store(Arc::new(next));
        Ok(true)
    }

    /// Runs `work` with the store, then serves what it committed.
    pub fn with_store<T>(
        &self,
        work: impl FnOnce(&mut Store) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let out = work(&mut self.store.lock().expect("store lock"))?;
        self.refresh()?;
        Ok(out)
    }

    /// The name and role of a bearer token, from the configuration or the store.
    pub fn principal(&self, token: &str) -> anyhow::Result<Option<(String, Role)>> {
        let hash = token_hash(token);
        if let Some(t) = self.config_tokens.iter().find(|t| t.sha256 == hash) {
            return Ok(Some((t.name.clone(), t.role)));
        }
        self.store.lock().expect("store lock").token_by_hash(&hash)
    }
}

fn snapshot(base: &Dataset, store: &Store, state_dir: &Path) -> anyhow::Result<Snapshot> {
    let revision = store.revision()?;
    let (live, deleted) = store.for_dataset(&base.taxonomy)?;
    let mut report = DatasetReport::new("store", &database_path(state_dir));
    report.read = live.len() + deleted.len();
    report.loaded = live.len();
    report.notes.push(format!(
        "{} initiatives imported or edited in ess-map, {} deleted",
        live.len(),
        deleted.len()
    ));
    Ok(Snapshot {
        data: Arc::new(base.merged(live, &deleted, report)),
        tiles: Arc::default(),
        revision,
    })
}
