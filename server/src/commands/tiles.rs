//! `ess-map tiles export`: the served tiles as one PMTiles archive.

use std::path::PathBuf;

use geodata::tiles::{MAX_ZOOM, TileLayer};

use crate::config::Settings;
use crate::tiles_export::{Plan, export};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Write the vector tiles the server serves (no category filter) to a
    /// PMTiles v3 archive, for a static host or CDN (`tiles_url` in the
    /// configuration then points the web map at it).
    Export {
        /// The archive to write (replaced only once complete).
        #[arg(long)]
        out: PathBuf,
        /// Layers, comma-separated: qpv, initiatives, departements, communes.
        #[arg(long, value_delimiter = ',', default_value = "qpv,initiatives,departements,communes", value_parser = layer)]
        layers: Vec<TileLayer>,
        #[arg(long, default_value_t = 0)]
        minzoom: u8,
        /// Deepest zoom written; MapLibre over-zooms beyond.
        #[arg(long, default_value_t = 14)]
        maxzoom: u8,
    },
}

fn layer(name: &str) -> Result<TileLayer, String> {
    TileLayer::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = TileLayer::ALL.iter().map(|l| l.name()).collect();
        format!("not one of {}", names.join(", "))
    })
}

pub fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let Action::Export {
        out,
        mut layers,
        minzoom,
        maxzoom,
    } = action;
    if minzoom > maxzoom || maxzoom > MAX_ZOOM {
        anyhow::bail!(
            "--minzoom {minzoom} --maxzoom {maxzoom}: zooms go from 0 to {MAX_ZOOM}, the first not above the second"
        );
    }
    let mut seen = Vec::new();
    layers.retain(|l| {
        !seen.contains(l) && {
            seen.push(*l);
            true
        }
    });
    let live = super::live(settings)?;
    let data = live.snapshot().data.clone();
    let started = std::time::Instant::now();
    let plan = Plan {
        layers,
        min_zoom: minzoom,
        max_zoom: maxzoom,
    };
    let exported = export(&data, &plan, &out)?;
    eprintln!(
        "{}: {} tiles, zooms {minzoom}–{maxzoom}, {:.1} MB, in {:.1} s",
        out.display(),
        exported.tiles(),
        exported.bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
