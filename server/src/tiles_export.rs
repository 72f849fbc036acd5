//! The served vector tiles in one PMTiles v3 archive, so that the map's
//! tiles can sit on any static host or CDN (`ess-map tiles export`).
//!
//! Each tile of the archive holds the chosen layers, each exactly as the
//! server encodes it for `/tiles/{layer}/{z}/{x}/{y}.mvt` (MVT layers are
//! protobuf fields repeated in a tile, so the layers' bytes one after the
//! other make one tile holding them all). Tiles are made zoom by zoom, in
//! batches along the archive's Hilbert order, on every core, and written in
//! that order: the writer then needs no sorting and keeps memory bounded.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use geodata::Dataset;
use geodata::tiles::{TileId, TileLayer, encode, tiles_with_data};
use pmtiles::{PmTilesWriter, TileCoord, TileType};
use rayon::prelude::*;
use serde_json::json;

/// Tiles made together before being written.
const BATCH: usize = 4096;

/// What to export.
#[derive(Debug, Clone)]
pub struct Plan {
    pub layers: Vec<TileLayer>,
    pub min_zoom: u8,
    pub max_zoom: u8,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// Tiles holding something, by zoom.
    pub tiles_by_zoom: Vec<(u8, u64)>,
    pub bytes: u64,
}

impl Exported {
    pub fn tiles(&self) -> u64 {
        self.tiles_by_zoom.iter().map(|(_, n)| n).sum()
    }
}

/// One tile of the archive: the plan's layers of `tile`, `None` when none
/// draws anything there.
pub fn archive_tile(data: &Dataset, layers: &[TileLayer], tile: TileId) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    for &layer in layers {
        if let Some(encoded) = encode(data, layer, tile, &[]) {
            bytes.extend_from_slice(&encoded);
        }
    }
    (!bytes.is_empty()).then_some(bytes)
}

/// Writes the archive to `out` (through a temporary file beside it, renamed
/// at the end: a failed export leaves no half-written archive).
pub fn export(data: &Dataset, plan: &Plan, out: &Path) -> anyhow::Result<Exported> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temporary = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("{}: cannot write here", dir.display()))?;
    let file = temporary.reopen()?;
    let exported = write(data, plan, file)?;
    // Readable by the web server that will host it (temporary files are
    // the owner's only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(temporary.path(), std::fs::Permissions::from_mode(0o644))?;
    }
    temporary
        .persist(out)
        .with_context(|| format!("{}: cannot write the archive", out.display()))?;
    let bytes = std::fs::metadata(out)?.len();
    Ok(Exported { bytes, ..exported })
}

fn write(data: &Dataset, plan: &Plan, file: File) -> anyhow::Result<Exported> {
    let bounds = plan
        .layers
        .iter()
        .filter_map(|&l| geodata::tiles::bounds(data, l))
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        });
    let mut writer = PmTilesWriter::new(TileType::Mvt)
        .min_zoom(plan.min_zoom)
        .max_zoom(plan.max_zoom)
        .metadata(metadata(data, plan).to_string());
    if let Some(b) = bounds {
        let (lo, hi) = (b.min(), b.max());
        // Centred where the map opens (the bounds' middle falls in the
        // Atlantic once overseas data is in).
        writer = writer
            .bounds(lo.x, lo.y, hi.x, hi.y)
            .center(crate::style::CENTRE.0, crate::style::CENTRE.1)
            .center_zoom(plan.min_zoom.max(5).min(plan.max_zoom));
    }
    let mut archive = writer.create(file)?;
    let mut exported = Exported::default();
    for z in plan.min_zoom..=plan.max_zoom {
        let mut tiles: Vec<TileId> = plan
            .layers
            .iter()
            .flat_map(|&l| tiles_with_data(data, l, z))
            .collect();
        tiles.sort_unstable_by_key(|t| (t.x, t.y));
        tiles.dedup();
        let mut coords: Vec<(u64, TileCoord, TileId)> = tiles
            .into_iter()
            .map(|t| {
                let coord = TileCoord::new(t.z, t.x, t.y).expect("a tile of the grid");
                (pmtiles::TileId::from(coord).value(), coord, t)
            })
            .collect();
        coords.sort_unstable_by_key(|(id, _, _)| *id);
        let mut written = 0u64;
        for batch in coords.chunks(BATCH) {
            let made: Vec<Option<Vec<u8>>> = batch
                .par_iter()
                .map(|&(_, _, t)| archive_tile(data, &plan.layers, t))
                .collect();
            for ((_, coord, _), bytes) in batch.iter().zip(made) {
                if let Some(bytes) = bytes {
                    archive.add_tile(*coord, &bytes)?;
                    written += 1;
                }
            }
        }
        tracing::info!("zoom {z}: {written} tiles");
        exported.tiles_by_zoom.push((z, written));
    }
    archive.finalize()?;
    Ok(exported)
}

/// The archive's metadata: TileJSON's `vector_layers` (what readers such
/// as the npm `pmtiles` protocol give MapLibre), sources and dates.
fn metadata(data: &Dataset, plan: &Plan) -> serde_json::Value {
    let layers: Vec<_> = plan
        .layers
        .iter()
        .map(|&l| {
            json!({
                "id": l.name(),
                "fields": l.fields(data),
                "minzoom": plan.min_zoom,
                "maxzoom": plan.max_zoom,
            })
        })
        .collect();
    let mut attribution: Vec<String> = plan
        .layers
        .iter()
        .map(|&l| crate::style::attribution(data, l))
        .collect();
    attribution.dedup();
    json!({
        "name": "ess-map",
        "description": "Quartiers prioritaires de la politique de la ville et initiatives de l'ESS (ess-map).",
        "version": env!("CARGO_PKG_VERSION"),
        "generator": format!("ess-map {}", env!("CARGO_PKG_VERSION")),
        "attribution": attribution.join(" ; "),
        "vector_layers": layers,
    })
}
