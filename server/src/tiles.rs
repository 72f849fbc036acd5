//! Tiles computed once and kept in memory, gzipped once, with a strong ETag.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use geodata::Dataset;
use geodata::tiles::{TileId, TileLayer, encode};

/// Most tiles kept; past this, tiles are computed on each request (the data
/// of a city's map fits well below it).
const CAPACITY: usize = 200_000;

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
}

#[derive(Default)]
pub struct TileCache {
    entries: RwLock<HashMap<Key, Arc<CachedTile>>>,
}

impl TileCache {
    /// The tile from the cache, or computed (on a blocking thread: encoding a
    /// dense tile takes milliseconds) and kept.
    pub async fn get(
        self: &Arc<Self>,
        data: &Arc<Dataset>,
        layer: TileLayer,
        tile: TileId,
        mut categories: Vec<String>,
    ) -> Arc<CachedTile> {
        categories.sort_unstable();
        categories.dedup();
        let key = Key {
            layer,
            tile,
            categories: categories.join(","),
        };
        if let Some(hit) = self.entries.read().expect("tile cache lock").get(&key) {
            return hit.clone();
        }
        let (cache, data) = (self.clone(), data.clone());
        tokio::task::spawn_blocking(move || {
            let computed = Arc::new(build(&data, layer, tile, &categories));
            let mut entries = cache.entries.write().expect("tile cache lock");
            if entries.len() < CAPACITY {
                entries.insert(key, computed.clone());
            }
            computed
        })
        .await
        .expect("tile encoding does not panic")
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
