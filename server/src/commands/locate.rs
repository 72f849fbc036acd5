//! `ess-map locate`: every row of a CSV file placed among the QPV.

use std::path::PathBuf;

use anyhow::Context;
use geodata::locate_csv::{LocateCsvOptions, locate_csv};

use crate::api;
use crate::config::Settings;

#[derive(clap::Args)]
pub struct Args {
    input: PathBuf,
    #[arg(long, default_value = "lon")]
    lon_col: String,
    #[arg(long, default_value = "lat")]
    lat_col: String,
    /// How far from a QPV boundary counts as near, in metres.
    #[arg(long, default_value_t = 300.0)]
    radius_m: f64,
    /// Only QPV of this generation (2015, 2024, 2025).
    #[arg(long)]
    generation: Option<u16>,
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=api::MAX_RADIUS_M).contains(&args.radius_m),
        "--radius-m must be between 0 and {}",
        api::MAX_RADIUS_M
    );
    let (territory, _) = super::load(settings)?;
    let input = &args.input;
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot read {}", input.display()))?;
    let options = LocateCsvOptions {
        lon_column: args.lon_col,
        lat_column: args.lat_col,
        radius_m: args.radius_m,
        generation: args.generation,
    };
    let stdout = std::io::stdout().lock();
    let summary = locate_csv(&territory, file, stdout, &options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", input.display()))?;
    for p in &summary.problems {
        eprintln!(
            "{}: line {}: field `{}`: {}; row kept as not_located",
            input.display(),
            p.line,
            p.field,
            p.reason
        );
    }
    eprintln!(
        "{}: {} rows: {} inside a QPV, {} within {} m, {} outside, {} not located",
        input.display(),
        summary.rows,
        summary.inside,
        summary.near,
        args.radius_m,
        summary.outside,
        summary.not_located
    );
    Ok(())
}
