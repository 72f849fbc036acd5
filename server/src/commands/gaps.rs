//! `ess-map gaps`: the gap table, as `/api/gaps` serves it.

use std::io::Write;

use geodata::Dataset;
use geodata::gaps::{GapQuery, GapSort, analyse, sort_rows};

use crate::config::Settings;
use crate::output::CsvStyle;
use crate::output::gaps::{GapFormat, render};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value_t = geodata::conventions::DEFAULT_RADIUS_M)]
    radius_m: f64,
    /// `rayon` (as the crow flies, within `--radius-m`) or `marche` (on foot
    /// along the OpenStreetMap network, within `--minutes`).
    #[arg(long, default_value = "rayon", value_parser = ["rayon", "marche"])]
    mode: String,
    /// With `--mode marche`: minutes on foot (1 to 60).
    #[arg(long, default_value_t = geodata::walk::DEFAULT_MINUTES)]
    minutes: f64,
    /// With `--mode marche`: an OpenStreetMap extract (`.osm.pbf`; repeat
    /// for several; besides `osm = [...]` and fetched extracts).
    #[arg(long)]
    osm: Vec<std::path::PathBuf>,
    /// A category or group (`siae`) to analyse (repeat for several; default: every category).
    #[arg(long)]
    category: Vec<String>,
    #[arg(long)]
    departement: Option<String>,
    /// A commune's INSEE code (Paris, Lyon, Marseille: the whole commune's).
    #[arg(long)]
    commune: Option<String>,
    #[arg(long)]
    generation: Option<u16>,
    /// Row order: priority, population, distance, within or code.
    #[arg(long, default_value = "priority", value_parser = sort)]
    sort: GapSort,
    /// csv, geojson, json or gpkg.
    #[arg(long, default_value = "csv")]
    format: String,
    /// CSV for a French spreadsheet (`tableur`: BOM, `;`, decimal commas,
    /// French column names, oui/non) or for scripts (`script`).
    #[arg(long, default_value = "tableur", value_parser = csv_style)]
    csv: CsvStyle,
}

fn csv_style(name: &str) -> Result<CsvStyle, String> {
    CsvStyle::from_name(name).ok_or_else(|| format!("not one of {}", CsvStyle::NAMES.join(", ")))
}

fn sort(name: &str) -> Result<GapSort, String> {
    GapSort::from_name(name).ok_or_else(|| format!("not one of {}", GapSort::NAMES.join(", ")))
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let live = super::live(settings)?;
    let query = GapQuery {
        radius_m: args.radius_m,
        categories: args.category.clone(),
        departement: args.departement.clone(),
        commune: args.commune.clone(),
        generation: args.generation,
    }
    .checked(&live.territory)
    .map_err(|e| anyhow::anyhow!("--{}: {}", e.parameter.replace('_', "-"), e.message))?;
    let data: Dataset = live.snapshot().data.clone();
    if args.mode == "marche" {
        return walk(settings, &data, query, &args);
    }
    let started = std::time::Instant::now();
    let mut rows = analyse(&data, &query);
    sort_rows(&data, &mut rows, args.sort);
    tracing::debug!("analysed in {:?}", started.elapsed());
    let format = GapFormat::from_name(&args.format, args.csv).ok_or_else(|| {
        anyhow::anyhow!(
            "--format: `{}` is not one of {}",
            args.format,
            GapFormat::NAMES.join(", ")
        )
    })?;
    let body = render(&data, &query, &rows, format)?;
    std::io::stdout().lock().write_all(&body)?;
    Ok(())
}

/// `--mode marche`: the network read (or built) first, then the analysis.
fn walk(settings: &Settings, data: &Dataset, query: GapQuery, args: &Args) -> anyhow::Result<()> {
    use geodata::walk::MAX_MINUTES;
    use geodata::walk::access::WalkQuery;
    if !(1.0..=MAX_MINUTES).contains(&args.minutes) {
        anyhow::bail!("--minutes: {} is outside [1, {MAX_MINUTES}]", args.minutes);
    }
    if args.sort != GapSort::Priority {
        anyhow::bail!("--sort: with --mode marche rows come by priority only");
    }
    let sources = crate::walking::WalkSources::of(settings, &args.osm)?;
    if sources.extracts.is_empty() {
        anyhow::bail!(
            "--mode marche: no walking network; give --osm FILE.osm.pbf, set `osm = [...]` in the configuration, or run `ess-map data fetch osm-ile-de-france`"
        );
    }
    let network = sources.load(&settings.state_dir())?;
    let walk = WalkQuery {
        gaps: query,
        minutes: args.minutes,
    };
    let format = GapFormat::from_name(&args.format, args.csv).ok_or_else(|| {
        anyhow::anyhow!(
            "--format: `{}` is not one of {}",
            args.format,
            GapFormat::NAMES.join(", ")
        )
    })?;
    let (targets, rows) = crate::walking::analyse(data, &network, &walk);
    let body = crate::output::gaps::render_walk(data, &network, &walk, &targets, &rows, format)?;
    std::io::stdout().lock().write_all(&body)?;
    Ok(())
}
