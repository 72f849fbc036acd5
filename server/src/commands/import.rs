//! `ess-map import`: an inventory into the store, geocoding rows without
//! coordinates. A running server applies the change within a second.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;

use geodata::profiles::{Profile, SireneFiles};

use crate::config::Settings;
use crate::dedupe::Index;
use crate::import::{ImportOptions, run_import};
use crate::store::Store;

#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
    /// Names the inventory: importing the same source again updates its rows
    /// [default: the profile's name].
    #[arg(long, required_unless_present = "profile")]
    source: Option<String>,
    /// TOML file: `[columns]` then `name = "Raison sociale"`, … (default: columns detected).
    #[arg(long, conflicts_with = "profile")]
    mapping: Option<PathBuf>,
    /// A national inventory read by its published schema: `data-inclusion`
    /// (structures, schema v1, CSV or JSON) or `sirene-ess` (INSEE's
    /// establishment stock; with --legal-units and --geolocation).
    #[arg(long, value_parser = ["data-inclusion", "sirene-ess"])]
    profile: Option<String>,
    /// sirene-ess: INSEE's legal unit stock (StockUniteLegale), for the ESS
    /// flag and the names, unless the establishment file carries them.
    #[arg(long, requires = "profile")]
    legal_units: Option<PathBuf>,
    /// sirene-ess: INSEE's geolocation file of establishments (coordinates
    /// and INSEE's QPV, compared with ess-map's in the report).
    #[arg(long, requires = "profile")]
    geolocation: Option<PathBuf>,
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
    let profile = match args.profile.as_deref() {
        None => None,
        Some("data-inclusion") => Some(Profile::DataInclusion),
        Some(_) => Some(Profile::SireneEss(SireneFiles {
            legal_units: args.legal_units,
            geolocation: args.geolocation,
        })),
    };
    let source = args
        .source
        .or_else(|| profile.as_ref().map(|p| p.name().to_string()))
        .expect("clap requires --source without --profile");
    let (territory, shown) = super::territory_and_initiatives(settings)?;
    let existing = Index::new(shown.into_iter().map(|p| p.initiative));
    let geocoding = super::geocoding(settings);
    let state_dir = settings.state_dir();
    let store = Mutex::new(Store::open(&settings.store())?);
    let options = ImportOptions {
        existing: &existing,
        workbook_limits: crate::workbook::Limits::LOCAL,
        source,
        mapping,
        profile,
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
    for note in &summary.notes {
        eprintln!("{note}");
    }
    if let Some(check) = &summary.insee_qpv_check {
        eprintln!(
            "QPV cross-check with INSEE's plg_qp24: {} compared, {} in the same QPV, {} outside for both, {} whose QPV has no outline here, {} disagreeing (median {} m, largest {} m; listed in the report)",
            check.compared,
            check.same_qpv,
            check.both_outside,
            check.without_outline,
            check.disagreeing,
            check
                .median_distance_m
                .map_or("-".into(), |d| d.to_string()),
            check.max_distance_m.map_or("-".into(), |d| d.to_string()),
        );
    }
    Ok(())
}
