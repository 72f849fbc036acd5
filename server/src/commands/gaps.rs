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
        categories: args.category,
        departement: args.departement,
        commune: args.commune,
        generation: args.generation,
    }
    .checked(&live.territory)
    .map_err(|e| anyhow::anyhow!("--{}: {}", e.parameter.replace('_', "-"), e.message))?;
    let data: Dataset = live.snapshot().data.clone();
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
