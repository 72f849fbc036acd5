//! `ess-map import`: an inventory into the store, geocoding rows without
//! coordinates. A running server applies the change within a second.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;

use crate::config::Settings;
use crate::import::{ImportOptions, run_import};
use crate::store::Store;

#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
    /// Names the inventory: importing the same source again updates its rows.
    #[arg(long)]
    source: String,
    /// TOML file: `[columns]` then `name = "Raison sociale"`, … (default: columns detected).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Report what would change, write nothing to the store.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let mapping = args
        .mapping
        .map(|m| {
            let text = std::fs::read_to_string(&m)
                .with_context(|| format!("cannot read {}", m.display()))?;
            geodata::import::Mapping::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", m.display()))
        })
        .transpose()?;
    let (territory, _) = super::load(settings)?;
    let geocoding = super::geocoding(settings);
    let state_dir = settings.state_dir();
    let store = Mutex::new(Store::open(&state_dir)?);
    let options = ImportOptions {
        source: args.source,
        mapping,
        dry_run: args.dry_run,
        actor: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "?".into())
        ),
        addok: geocoding.addok.as_ref(),
        min_score: geocoding.min_score,
        reports_dir: state_dir.join("reports"),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let file = &args.file;
    let summary = run_import(&store, file, &options, &territory)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!(
        "{}{}: {} rows read, {} valid, {} skipped; {} new, {} updated, {} unchanged, {} no longer in the file (kept); placed by the geocoder {}, at the commune's centre {}, not placed {}; report: {}",
        if summary.dry_run {
            "DRY RUN, nothing written. "
        } else {
            ""
        },
        file.display(),
        summary.read,
        summary.valid,
        summary.skipped,
        summary.new,
        summary.updated,
        summary.unchanged,
        summary.removed.len(),
        summary.placed_by_geocoder,
        summary.placed_at_commune_centre,
        summary.not_placed,
        summary.report
    );
    Ok(())
}
