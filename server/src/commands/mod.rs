//! One module per command; what they share (loading the data, the
//! geocoder) is here.

pub mod data;
pub mod fiche;
pub mod gaps;
pub mod import;
pub mod locate;
pub mod serve;
pub mod tiles;
pub mod token;
pub mod user;
pub mod walk;

use std::sync::Arc;

use geodata::territory::Placed;
use geodata::{Taxonomy, Territory};

use crate::config::{self, Settings};
use crate::geocode;
use crate::geocode::Geocoding;
use crate::live::{Follower, Live};

/// Loads and checks the territory and the open datasets' records, logging
/// the summary of what was loaded and skipped.
pub fn load(settings: &Settings) -> anyhow::Result<(Arc<Territory>, Vec<Placed>)> {
    load_with(settings, true)
}

/// The territory alone, without the open initiative datasets.
pub fn load_territory(settings: &Settings) -> anyhow::Result<Arc<Territory>> {
    Ok(load_with(settings, false)?.0)
}

fn load_with(
    settings: &Settings,
    initiatives: bool,
) -> anyhow::Result<(Arc<Territory>, Vec<Placed>)> {
    let manifest = settings.manifest()?;
    let taxonomy_text =
        config::text_or_default(settings.categories.as_deref(), config::DEFAULT_CATEGORIES)?;
    let taxonomy = Taxonomy::from_toml(&taxonomy_text)
        .map_err(|e| anyhow::anyhow!("category taxonomy: {e}"))?;
    let dirs = settings.data_dirs()?;
    tracing::info!(
        "loading data from {} (then downloads from {})",
        dirs.first().display(),
        settings.downloads_dir().display()
    );
    let started = std::time::Instant::now();
    let (territory, placed) = if initiatives {
        geodata::load::territory_and_initiatives(&dirs, manifest, taxonomy)?
    } else {
        (
            geodata::load::territory(&dirs, manifest, taxonomy)?,
            Vec::new(),
        )
    };
    for report in territory.reports() {
        tracing::info!("{report}");
    }
    // The first few issues of each dataset here; all of them at /api/datasets.
    const SHOWN: usize = 5;
    for report in territory.reports() {
        for issue in report.issues.iter().take(SHOWN) {
            tracing::warn!("{issue}");
        }
        if report.issues.len() > SHOWN {
            tracing::warn!(
                "{}: {} more issues, listed at /api/datasets",
                report.id,
                report.issues.len() - SHOWN
            );
        }
    }
    tracing::info!(
        "data read and placed in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok((Arc::new(territory), placed))
}

/// The geocoder the settings name (none for `none`).
pub fn geocoding(settings: &Settings) -> Geocoding {
    let url = settings.geocoder_url();
    let addok = (url != "none").then(|| geocode::Addok::new(&url, settings.geocoder_timeout()));
    Geocoding {
        addok,
        min_score: settings.geocoder_min_score(),
    }
}

/// The served data: territory, open data and the store, placed.
pub fn live(settings: &Settings) -> anyhow::Result<Live> {
    live_followed(settings, Vec::new())
}

/// The same, `followers` told of every change applied.
pub fn live_followed(
    settings: &Settings,
    followers: Vec<Arc<dyn Follower>>,
) -> anyhow::Result<Live> {
    let (territory, open) = load(settings)?;
    let started = std::time::Instant::now();
    let live = Live::open(territory, open, &settings.store(), followers)?;
    let snapshot = live.snapshot();
    for line in snapshot
        .data
        .to_string()
        .lines()
        .skip_while(|l| !l.starts_with("QPV"))
    {
        tracing::info!("{line}");
    }
    tracing::info!(
        "initiatives indexed in {:.0} ms (store revision {})",
        started.elapsed().as_secs_f64() * 1000.0,
        snapshot.revision
    );
    Ok(live)
}
