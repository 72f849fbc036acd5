//! `ess-map locate`: every row of a table (CSV, XLSX, ODS) placed among the
//! QPV, addresses geocoded through the configured addok.

use std::path::PathBuf;

use anyhow::Context;
use geodata::conventions::{DEFAULT_LOCATE_RADIUS_M, MAX_RADIUS_M};
use geodata::records::Mapping;

use crate::config::Settings;
use crate::geocode::TableGeocoder;
use crate::locate_table::{LocateOptions, TableFormat, locate_table};
use crate::output::CsvStyle;

#[derive(clap::Args)]
pub struct Args {
    /// A CSV (`,` or `;`, UTF-8 or Windows-1252), XLSX or ODS file.
    input: PathBuf,
    /// Where to write the result, in the input's format (default: a CSV
    /// input to the standard output; a workbook needs a file).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The longitude column (default: found by name: lon, longitude, x…).
    #[arg(long)]
    lon_col: Option<String>,
    #[arg(long)]
    lat_col: Option<String>,
    /// Columns named as for imports (`[columns]` address = "…", postcode =
    /// "…", commune = "…", insee_code = "…"), over those found by name.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// How far from a QPV boundary counts as near, in metres.
    #[arg(long, default_value_t = DEFAULT_LOCATE_RADIUS_M)]
    radius_m: f64,
    /// Only QPV of this generation (2015, 2024, 2025).
    #[arg(long)]
    generation: Option<u16>,
    /// A CSV result for a French spreadsheet (`tableur`: BOM, `;`, decimal
    /// commas, French column names and statuses, formulas neutralised) or
    /// for scripts (`script`: the input's separator, the English names and
    /// statuses, cells as they are).
    #[arg(long, default_value = "tableur", value_parser = csv_style)]
    csv: CsvStyle,
}

fn csv_style(name: &str) -> Result<CsvStyle, String> {
    CsvStyle::from_name(name).ok_or_else(|| format!("not one of {}", CsvStyle::NAMES.join(", ")))
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=MAX_RADIUS_M).contains(&args.radius_m),
        "--radius-m must be between 0 and {MAX_RADIUS_M}"
    );
    let input = &args.input;
    let name = input.to_string_lossy();
    let format = TableFormat::of_name(&name)
        .with_context(|| format!("{name}: a .csv, .xlsx or .ods file is expected"))?;
    let mapping = args
        .mapping
        .as_ref()
        .map(|p| -> anyhow::Result<Mapping> {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Mapping::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        })
        .transpose()?;
    anyhow::ensure!(
        format == TableFormat::Csv || args.out.is_some(),
        "{name}: give --out FILE.{} for a workbook's result",
        format.extension()
    );
    let territory = super::load_territory(settings)?;
    let file = std::fs::File::open(input).with_context(|| format!("cannot read {name}"))?;
    let options = LocateOptions {
        lon_column: args.lon_col,
        lat_column: args.lat_col,
        mapping,
        radius_m: args.radius_m,
        generation: args.generation,
        max_rows: None,
        workbook_limits: crate::workbook::Limits::LOCAL,
        csv: args.csv,
        keep_points: false,
    };
    let geocoding = super::geocoding(settings);
    let geocoder = TableGeocoder {
        addok: geocoding.addok.as_ref(),
        min_score: geocoding.min_score,
        communes: territory.communes(),
    };
    let summary = match &args.out {
        Some(out) => {
            // Written beside, then renamed: no half-written result.
            let dir = out.parent().filter(|p| !p.as_os_str().is_empty());
            let temporary =
                tempfile::NamedTempFile::new_in(dir.unwrap_or(std::path::Path::new(".")))?;
            let summary = locate_table(
                &territory,
                format,
                file,
                temporary.as_file(),
                &options,
                &geocoder,
            )
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            temporary
                .persist(out)
                .with_context(|| format!("cannot write {}", out.display()))?;
            summary
        }
        None => {
            // Not locked for the whole run: written from the thread that
            // reads the table, while every core locates (a few writes of a
            // few MB per chunk, each locking once).
            let stdout = std::io::stdout();
            locate_table(&territory, format, file, stdout, &options, &geocoder)
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?
        }
    };
    for (line, why) in summary.problems.iter().take(50) {
        eprintln!("{name}: line {line}: not located: {why}");
    }
    if summary.problems.len() > 50 {
        eprintln!(
            "{name}: {} more rows not located (see `remarque`)",
            summary.problems.len() - 50
        );
    }
    eprintln!(
        "{name}: {} rows ({} geocoded): {} inside a QPV, {} within {} m, {} outside, {} unverifiable (near communes whose QPV have no outline loaded), {} not located",
        summary.rows,
        summary.geocoded,
        summary.inside,
        summary.near,
        args.radius_m,
        summary.outside,
        summary.unknown,
        summary.not_located
    );
    Ok(())
}
