//! Tiles computed on demand, gzipped once, kept in a cache with a byte
//! budget (least recently used out first), with a strong ETag.
//!
//! A change does not empty the cache: [`TileCache::touched`] records, per
//! tile, the revision that last changed it (the tiles holding an edited
//! initiative's old and new positions at every zoom, clusters included; the
//! QPV tiles carry no counts, so no edit changes them). That revision is part of the
//! cache key, so a changed tile is computed again when next asked and its
//! old bytes age out; every other tile stays. Requests for a tile being
//! computed wait for that computation instead of repeating it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;
use geodata::tiles::{MAX_ZOOM, TileId, TileLayer, encode, tiles_holding};
use geodata::{Dataset, Touched};

use crate::bounded::{Bounded, Busy};
use crate::live::Live;

/// One layer of one tile, as served.
pub struct CachedTile {
    /// `None`: the tile is empty (answered 204).
    pub raw: Option<Bytes>,
    pub gzip: Option<Bytes>,
    /// Strong ETag, quoted.
    pub etag: String,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    layer: TileLayer,
    tile: TileId,
    /// Sorted category ids, comma-joined ("" for all).
    categories: String,
    /// The revision that last changed the tile.
    changed_at: i64,
}

/// The default byte budget of the tile cache.
pub const DEFAULT_BUDGET_BYTES: u64 = 256 * 1024 * 1024;

/// Tiles marked stale are remembered up to this many; past it the marks and
/// the cache are cleared together (a national re-import, say).
const MAX_MARKS: usize = 4_000_000;

pub struct TileCache {
    tiles: moka::future::Cache<Key, Arc<CachedTile>>,
    /// The revision that last changed each tile (absent: none since start).
    changed_at: DashMap<(TileLayer, TileId), i64>,
    /// Tiles are encoded a few at a time.
    encoding: Bounded,
}

impl TileCache {
    pub fn new(budget_bytes: u64) -> TileCache {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        TileCache {
            encoding: Bounded::new("tile", 2 * cores, std::time::Duration::from_secs(10)),
            tiles: moka::future::Cache::builder()
                .weigher(|_, t: &Arc<CachedTile>| {
                    let bytes = t.raw.as_ref().map_or(0, Bytes::len)
                        + t.gzip.as_ref().map_or(0, Bytes::len)
                        + 128;
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .max_capacity(budget_bytes)
                .build(),
            changed_at: DashMap::new(),
        }
    }

    /// The tile from the cache when no change since touched it, else
    /// computed (on a blocking thread, a few at a time) from a version that
    /// holds that change, and kept.
    pub async fn get(
        &self,
        live: Arc<Live>,
        layer: TileLayer,
        tile: TileId,
        mut categories: Vec<String>,
    ) -> Result<Arc<CachedTile>, Busy> {
        categories.sort_unstable();
        categories.dedup();
        let changed_at = self.changed_at.get(&(layer, tile)).map_or(0, |r| *r);
        let key = Key {
            layer,
            tile,
            categories: categories.join(","),
            changed_at,
        };
        let encoding = &self.encoding;
        self.tiles
            .try_get_with(key, async move {
                // The change is marked just before its version is served.
                let mut snapshot = live.snapshot();
                while snapshot.revision < changed_at {
                    tokio::task::yield_now().await;
                    snapshot = live.snapshot();
                }
                encoding
                    .run(move || Arc::new(build(&snapshot.data, layer, tile, &categories)))
                    .await
            })
            .await
            .map_err(|e: Arc<Busy>| e.as_ref().clone())
    }
}

impl crate::live::Follower for TileCache {
    /// Marks stale, as of `revision`, every tile a change touched in
    /// `data` (the version it made).
    fn applied(&self, _data: &Dataset, touched: &Touched, revision: i64) {
        if self.changed_at.len() > MAX_MARKS {
            tracing::info!("tile cache: {MAX_MARKS} tiles changed since start; cache emptied");
            self.tiles.invalidate_all();
            self.changed_at.clear();
        }
        let mark = |layer, tile| {
            self.changed_at.insert((layer, tile), revision);
        };
        for &p in &touched.positions {
            for z in 0..=MAX_ZOOM {
                for tile in tiles_holding(p, z) {
                    mark(TileLayer::Initiatives, tile);
                }
            }
        }
        // The QPV tiles hold no counts (`/api/qpv/counts` does): an edit
        // leaves them as they are.
    }
}

fn build(data: &Dataset, layer: TileLayer, tile: TileId, categories: &[String]) -> CachedTile {
    let raw = encode(data, layer, tile, categories);
    let mut hasher = DefaultHasher::new();
    raw.hash(&mut hasher);
    let etag = format!("\"{:016x}\"", hasher.finish());
    let gzip = raw.as_ref().map(|bytes| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).expect("writing to memory");
        Bytes::from(encoder.finish().expect("writing to memory"))
    });
    CachedTile {
        raw: raw.map(Bytes::from),
        gzip,
        etag,
    }
}
