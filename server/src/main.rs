//! `ess-map`: the social and solidarity economy around France's priority
//! neighbourhoods (QPV), as an HTTP API.

mod api;
mod config;
mod gap_output;
mod glyphs;
mod style;
mod tiles;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use geodata::locate_csv::{LocateCsvOptions, locate_csv};
use geodata::{Dataset, Manifest, Taxonomy};

use config::ConfigFile;

#[derive(Parser)]
#[command(name = "ess-map", version, about)]
struct Cli {
    /// Configuration file (TOML: data, listen, manifest, categories).
    #[arg(long, global = true, env = "ESS_MAP_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory holding the manifest's files [env: ESS_MAP_DATA; default: ../shared/data].
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    /// Data manifest (default: the one built in, data/manifest.toml).
    #[arg(long, global = true)]
    manifest: Option<PathBuf>,
    /// Category taxonomy (default: the one built in, data/categories.toml).
    #[arg(long, global = true)]
    categories: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free one.
        #[arg(long, env = "ESS_MAP_LISTEN")]
        listen: Option<SocketAddr>,
        /// The web map's folder (with `public/` and `node_modules/maplibre-gl`) [default: the project's web/].
        #[arg(long)]
        web: Option<PathBuf>,
    },
    /// Gap analysis: which QPV lack initiatives within a radius, ranked (same output as /api/gaps).
    Gaps {
        #[arg(long, default_value_t = 500.0)]
        radius_m: f64,
        /// A category or group (`siae`) to analyse (repeat for several; default: every category).
        #[arg(long)]
        category: Vec<String>,
        #[arg(long)]
        departement: Option<String>,
        #[arg(long)]
        generation: Option<u16>,
        /// Row order: priority, population, distance, within or code.
        #[arg(long, default_value = "priority", value_parser = gap_sort)]
        sort: geodata::gaps::GapSort,
        #[arg(long, value_enum, default_value = "csv")]
        format: gap_output::GapFormat,
        /// CSV with `;` and decimal commas, for French spreadsheet software.
        #[arg(long)]
        semicolon: bool,
    },
    /// Append qpv_status, qpv_code, qpv_name, distance_m to every row of a CSV file.
    Locate {
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
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match &cli.config {
        Some(path) => ConfigFile::read(path)?,
        None => ConfigFile::default(),
    };
    let data_dir = config::data_dir(cli.data.clone(), &config)?;
    let manifest_path = cli.manifest.clone().or(config.manifest.clone());
    let categories_path = cli.categories.clone().or(config.categories.clone());
    let data = load(
        &data_dir,
        manifest_path.as_deref(),
        categories_path.as_deref(),
    )?;
    match cli.command {
        Command::Serve { listen, web } => {
            let listen = listen
                .or(config.listen)
                .unwrap_or_else(|| config::DEFAULT_LISTEN.parse().expect("valid default"));
            let web = web
                .or(config.web.clone())
                .unwrap_or_else(config::default_web_dir);
            let state = api::AppState {
                data: Arc::new(data),
                tiles: Arc::default(),
                glyphs: glyphs::Glyphs::new(
                    config
                        .fonts
                        .clone()
                        .unwrap_or_else(|| PathBuf::from(glyphs::DEFAULT_FONTS_DIR)),
                ),
                basemap_style_url: config.basemap_style_url.clone(),
            };
            serve(state, &web, listen)
        }
        Command::Gaps {
            radius_m,
            category,
            departement,
            generation,
            sort,
            format,
            semicolon,
        } => {
            anyhow::ensure!(
                (0.0..=geodata::gaps::MAX_RADIUS_M).contains(&radius_m),
                "--radius-m must be between 0 and {}",
                geodata::gaps::MAX_RADIUS_M
            );
            if let Some(unknown) = category.iter().find(|c| !data.taxonomy.is_kind(c)) {
                anyhow::bail!("--category: unknown category `{unknown}`");
            }
            let departement = departement.map(|d| d.to_uppercase());
            if let Some(d) = &departement {
                anyhow::ensure!(
                    data.qpvs().iter().any(|q| &q.departement == d),
                    "--departement: no QPV in `{d}`"
                );
            }
            let query = geodata::gaps::GapQuery {
                radius_m,
                categories: category,
                departement,
                generation,
            };
            let mut rows = geodata::gaps::analyse(&data, &query);
            geodata::gaps::sort_rows(&data, &mut rows, sort);
            let style = if semicolon {
                geodata::gaps::CsvStyle::FrenchSemicolon
            } else {
                geodata::gaps::CsvStyle::Comma
            };
            let (_, body) = gap_output::render(&data, &query, &rows, format, style);
            use std::io::Write;
            std::io::stdout().lock().write_all(&body)?;
            Ok(())
        }
        Command::Locate {
            input,
            lon_col,
            lat_col,
            radius_m,
            generation,
        } => locate(&data, &input, lon_col, lat_col, radius_m, generation),
    }
}

fn gap_sort(name: &str) -> Result<geodata::gaps::GapSort, String> {
    geodata::gaps::GapSort::from_name(name)
        .ok_or_else(|| format!("not one of {}", geodata::gaps::GapSort::NAMES.join(", ")))
}

/// Loads and indexes the data, printing the summary of what was loaded and skipped.
fn load(
    data_dir: &Path,
    manifest: Option<&Path>,
    categories: Option<&Path>,
) -> anyhow::Result<Dataset> {
    let manifest_text = config::text_or_default(manifest, config::DEFAULT_MANIFEST)?;
    let manifest =
        Manifest::from_toml(&manifest_text).map_err(|e| anyhow::anyhow!("data manifest: {e}"))?;
    let taxonomy_text = config::text_or_default(categories, config::DEFAULT_CATEGORIES)?;
    let taxonomy = Taxonomy::from_toml(&taxonomy_text)
        .map_err(|e| anyhow::anyhow!("category taxonomy: {e}"))?;
    tracing::info!("loading data from {}", data_dir.display());
    let started = std::time::Instant::now();
    let data = Dataset::load(data_dir, manifest, taxonomy)?;
    for line in data.to_string().lines() {
        tracing::info!("{line}");
    }
    // The first few issues of each dataset here; all of them at /api/datasets.
    const SHOWN: usize = 5;
    for report in data.reports() {
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
        "loaded in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(data)
}

#[tokio::main]
async fn serve(state: api::AppState, web: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    if !web
        .join("node_modules/maplibre-gl/dist/maplibre-gl.mjs")
        .is_file()
    {
        tracing::warn!(
            "MapLibre GL JS is not installed in {}: run `npm --prefix web ci` for the web map (the API works without it)",
            web.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    // On stdout, so that scripts and tests can read the port chosen for :0.
    println!("ess-map listening on http://{bound}");
    axum::serve(listener, api::router(state, web))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn locate(
    data: &Dataset,
    input: &Path,
    lon_column: String,
    lat_column: String,
    radius_m: f64,
    generation: Option<u16>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=api::MAX_RADIUS_M).contains(&radius_m),
        "--radius-m must be between 0 and {}",
        api::MAX_RADIUS_M
    );
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot read {}", input.display()))?;
    let options = LocateCsvOptions {
        lon_column,
        lat_column,
        radius_m,
        generation,
    };
    let stdout = std::io::stdout().lock();
    let summary = locate_csv(data, file, stdout, &options)
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
        radius_m,
        summary.outside,
        summary.not_located
    );
    Ok(())
}
