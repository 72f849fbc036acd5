//! `ess-map`: the social and solidarity economy around France's priority
//! neighbourhoods (QPV), as an HTTP API.

mod api;
mod config;
mod gap_output;
mod geocode;
mod glyphs;
mod import;
mod live;
mod store;
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
    /// Where ess-map writes: its database and import reports [env: ESS_MAP_STATE; default: ./state].
    #[arg(long, global = true)]
    state: Option<PathBuf>,
    /// addok geocoder base URL, or `none` for the offline commune-centre fallback only
    /// [default: https://data.geopf.fr/geocodage].
    #[arg(long, global = true, env = "ESS_MAP_GEOCODER")]
    geocoder: Option<String>,
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
    /// Import an inventory (CSV or GeoJSON) into the store, geocoding rows without coordinates.
    Import {
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
    },
    /// Write-API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
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

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token (printed once; the store keeps only its hash).
    Create {
        #[arg(long)]
        name: String,
        /// editor (edit initiatives) or admin (also import files).
        #[arg(long, default_value = "editor", value_parser = role)]
        role: store::Role,
    },
}

fn role(name: &str) -> Result<store::Role, String> {
    store::Role::from_name(name).ok_or_else(|| "editor or admin".to_string())
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
    let state_dir = config::state_dir(cli.state.clone(), &config);
    if let Command::Token {
        action: TokenAction::Create { name, role },
    } = &cli.command
    {
        let token = store::Store::open(&state_dir)?.create_token(name, *role)?;
        println!("{token}");
        eprintln!(
            "token `{name}` ({}) created in {}; it is shown only this once",
            role.as_str(),
            store::database_path(&state_dir).display()
        );
        return Ok(());
    }
    let data_dir = config::data_dir(cli.data.clone(), &config)?;
    let manifest_path = cli.manifest.clone().or(config.manifest.clone());
    let categories_path = cli.categories.clone().or(config.categories.clone());
    let base = load(
        &data_dir,
        manifest_path.as_deref(),
        categories_path.as_deref(),
    )?;
    let geocoding = geocoding(&cli, &config, &data_dir, &base)?;
    let live = Arc::new(live::Live::open(
        base,
        &state_dir,
        geocoding,
        config.token.clone(),
    )?);
    let data = live.snapshot().data.clone();
    match cli.command {
        Command::Token { .. } => unreachable!("handled before loading"),
        Command::Import {
            file,
            source,
            mapping,
            dry_run,
        } => {
            let mapping = mapping
                .map(|m| {
                    let text = std::fs::read_to_string(&m)
                        .with_context(|| format!("cannot read {}", m.display()))?;
                    geodata::import::Mapping::from_toml(&text)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", m.display()))
                })
                .transpose()?;
            let g = &live.geocoding;
            let options = import::ImportOptions {
                source,
                mapping,
                dry_run,
                actor: format!(
                    "cli:{}",
                    std::env::var("USER").unwrap_or_else(|_| "?".into())
                ),
                addok: g.addok.as_ref(),
                min_score: g.min_score,
                communes: &g.communes,
                reports_dir: state_dir.join("reports"),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let summary = live
                .with_store(|store| import::run_import(store, &file, &options, &data.taxonomy))?;
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
        Command::Serve { listen, web } => {
            let listen = listen
                .or(config.listen)
                .unwrap_or_else(|| config::DEFAULT_LISTEN.parse().expect("valid default"));
            let web = web
                .or(config.web.clone())
                .unwrap_or_else(config::default_web_dir);
            let state = api::AppState {
                live: live.clone(),
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

/// The geocoder (unless `none`) and the commune centres of the data directory.
fn geocoding(
    cli: &Cli,
    config: &ConfigFile,
    data_dir: &Path,
    data: &Dataset,
) -> anyhow::Result<live::Geocoding> {
    let url = cli
        .geocoder
        .clone()
        .or(config.geocoder_url.clone())
        .unwrap_or_else(|| geocode::DEFAULT_GEOCODER_URL.to_string());
    let timeout = std::time::Duration::from_secs_f64(config.geocoder_timeout_s.unwrap_or(10.0));
    let addok = (url != "none").then(|| geocode::Addok::new(&url, timeout));
    let communes = match data
        .manifest
        .datasets
        .iter()
        .find(|d| d.kind == geodata::manifest::DatasetKind::Communes)
    {
        Some(entry) => geodata::communes::CommuneCentres::from_file(&data_dir.join(&entry.file))?,
        None => {
            tracing::warn!(
                "no `communes` dataset in the manifest: rows the geocoder cannot place stay unplaced"
            );
            geodata::communes::CommuneCentres::default()
        }
    };
    Ok(live::Geocoding {
        addok,
        min_score: config
            .geocoder_min_score
            .unwrap_or(geocode::DEFAULT_MIN_SCORE),
        communes,
    })
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
    // Another process (an `ess-map import`) may write the store: follow it.
    let live = state.live.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tick.tick().await;
            let live = live.clone();
            match tokio::task::spawn_blocking(move || live.refresh()).await {
                Ok(Ok(true)) => tracing::info!("the store changed: data reloaded"),
                Ok(Err(e)) => tracing::warn!("cannot reload from the store: {e:#}"),
                _ => {}
            }
        }
    });
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
