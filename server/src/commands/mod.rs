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
use crate::live::{Follower, Live, merged};
use crate::snapshot::{REWRITE_AFTER_CHANGES, StartupSnapshot};
use crate::store::Store;

/// The territory alone, without the open initiative datasets.
pub fn load_territory(settings: &Settings) -> anyhow::Result<Arc<Territory>> {
    let (territory, _, _) = read_territory(settings)?;
    log_reports(&territory);
    Ok(Arc::new(territory))
}

/// The territory and every initiative shown (the open datasets' and the
/// store's), as a server would start with them.
pub fn territory_and_initiatives(
    settings: &Settings,
) -> anyhow::Result<(Arc<Territory>, Vec<Placed>)> {
    let (mut territory, dirs, taxonomy_text) = read_territory(settings)?;
    let (placed, _) = placed_initiatives(settings, &mut territory, &dirs, &taxonomy_text)?;
    log_reports(&territory);
    Ok((Arc::new(territory), placed))
}

/// Reads and checks the territory's datasets; with the data directories
/// and the categories' text (what a snapshot is made from).
fn read_territory(settings: &Settings) -> anyhow::Result<(Territory, geodata::DataDirs, String)> {
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
    let territory = geodata::load::territory(&dirs, manifest, taxonomy)?;
    tracing::info!(
        "territory read in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok((territory, dirs, taxonomy_text))
}

/// The summary of what each dataset loaded and skipped.
fn log_reports(territory: &Territory) {
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
}

/// Every initiative served — the open datasets' and the store's, placed on
/// `territory` — and the store revision they reflect: from the start-up
/// snapshot and the store's changes since when it can be used, else read
/// in full (and the snapshot made again).
fn placed_initiatives(
    settings: &Settings,
    territory: &mut Territory,
    dirs: &geodata::DataDirs,
    taxonomy_text: &str,
) -> anyhow::Result<(Vec<Placed>, i64)> {
    let started = std::time::Instant::now();
    let store = Store::open(&settings.store())?;
    let snapshot = StartupSnapshot::new(
        &settings.state_dir(),
        dirs,
        &territory.manifest,
        taxonomy_text,
        &store.identity()?,
    )?;
    let why = match snapshot.read(territory) {
        Ok(read) => {
            let (revision, changed) = store.changes_since(read.revision)?;
            if revision >= read.revision {
                let changes = changed.len();
                territory.add_reports(read.reports);
                let placed = merged(territory, read.placed, changed);
                tracing::info!(
                    "initiatives read from the start-up snapshot (store revision {}, {changes} changed since) in {:.0} ms",
                    read.revision,
                    started.elapsed().as_secs_f64() * 1000.0
                );
                if changes > REWRITE_AFTER_CHANGES {
                    write_snapshot(&snapshot, territory, revision, &placed);
                }
                return Ok((placed, revision));
            }
            format!(
                "the store is at revision {revision}, behind the snapshot's {} (restored or replaced)",
                read.revision
            )
        }
        Err(why) => why,
    };
    tracing::info!("start-up snapshot not used: {why}; reading every initiative");
    let open = geodata::load::initiatives(dirs, territory)?;
    let (revision, stored) = store.all()?;
    let placed = merged(territory, open, stored);
    tracing::info!(
        "data read and placed in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    write_snapshot(&snapshot, territory, revision, &placed);
    Ok((placed, revision))
}

fn write_snapshot(
    snapshot: &StartupSnapshot,
    territory: &Territory,
    revision: i64,
    placed: &[Placed],
) {
    let started = std::time::Instant::now();
    match snapshot.write(territory, revision, placed) {
        Ok(()) => tracing::info!(
            "start-up snapshot written (store revision {revision}) in {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        ),
        Err(e) => tracing::warn!("{e:#}: the next start reads every initiative again"),
    }
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
    let (mut territory, dirs, taxonomy_text) = read_territory(settings)?;
    let (placed, revision) = placed_initiatives(settings, &mut territory, &dirs, &taxonomy_text)?;
    log_reports(&territory);
    let started = std::time::Instant::now();
    let live = Live::open(
        Arc::new(territory),
        placed,
        revision,
        &settings.store(),
        followers,
    )?;
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
