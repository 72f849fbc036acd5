//! `ess-map`: the social and solidarity economy around France's priority
//! neighbourhoods (QPV), as an HTTP API and a web map.

mod accounts;
mod api;
mod auth;
mod bounded;
mod commands;
mod config;
mod dedupe;
mod edit;
mod fetch;
mod fiche;
mod file_digest;
mod geocode;
mod glyphs;
mod gpkg;
mod import;
mod live;
mod locate_table;
mod mail;
mod memo;
mod openid;
mod output;
mod scheduled;
mod snapshot;
mod store;
mod style;
mod tiles;
mod tiles_export;
mod walking;
mod workbook;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc: loading a national inventory makes millions of small strings
/// on every core at once; glibc's allocator spent a quarter of start-up in
/// its arena locks and kept more memory (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ess-map", version, about)]
pub struct Cli {
    /// Configuration file (TOML: data, listen, manifest, categories, …).
    #[arg(long, global = true, env = "ESS_MAP_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory holding the manifest's files [env: ESS_MAP_DATA; default: the project's data/].
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
    /// A shared PostgreSQL/PostGIS store, `postgres://user@host/db` (several
    /// replicas on one database) [env: ESS_MAP_STORE; default: SQLite in the state directory].
    #[arg(long, global = true, env = "ESS_MAP_STORE")]
    store: Option<String>,
    /// addok geocoder base URL, or `none` for the offline commune-centre fallback only
    /// [default: https://data.geopf.fr/geocodage].
    #[arg(long, global = true, env = "ESS_MAP_GEOCODER")]
    geocoder: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and the web map.
    Serve(commands::serve::Args),
    /// Gap analysis: which QPV lack initiatives within a radius, ranked (same output as /api/gaps).
    Gaps(commands::gaps::Args),
    /// The walking network: build it from OpenStreetMap extracts, or walk it
    /// from a set of points.
    Walk {
        #[command(subcommand)]
        action: commands::walk::Action,
    },
    /// Import an inventory (CSV, GeoJSON, XLSX or ODS) into the store, geocoding rows without coordinates.
    Import(commands::import::Args),
    /// The national files: `data fetch` downloads them, `data status` shows them.
    Data {
        #[command(subcommand)]
        action: commands::data::Action,
    },
    /// Write-API tokens.
    Token {
        #[command(subcommand)]
        action: commands::token::Action,
    },
    /// The people who sign in: `user create EMAIL --role ROLE`, `user list`, `user disable EMAIL`.
    User {
        #[command(subcommand)]
        action: commands::user::Action,
    },
    /// Append qpv_status, qpv_code, qpv_name, distance_m to every row of a CSV file.
    Locate(commands::locate::Args),
    /// Printable QPV fiches (HTML, A4), as the web map's « Fiche imprimable ».
    Fiche(commands::fiche::Args),
    /// The vector tiles: `tiles export` writes them to a PMTiles archive.
    Tiles {
        #[command(subcommand)]
        action: commands::tiles::Action,
    },
}

/// No transparent huge pages for this process: mimalloc asks for them, and
/// the kernel then zeroes (and compacts) 2 MiB at each first touch. Loading a
/// million initiatives spent as much system time on that as on the work
/// itself (start at 1M 3.8–5.1 s with them, 2.2–2.6 s without; BENCHMARKS.md).
#[allow(unsafe_code)]
fn without_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes integers only and changes
    // nothing but this process's future mappings.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> anyhow::Result<()> {
    without_transparent_huge_pages();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let settings = config::Settings::new(&cli)?;
    match cli.command {
        Command::Serve(args) => commands::serve::run(&settings, args),
        Command::Gaps(args) => commands::gaps::run(&settings, args),
        Command::Walk { action } => commands::walk::run(&settings, action),
        Command::Import(args) => commands::import::run(&settings, args),
        Command::Data { action } => commands::data::run(&settings, action),
        Command::Token { action } => commands::token::run(&settings, action),
        Command::User { action } => commands::user::run(&settings, action),
        Command::Locate(args) => commands::locate::run(&settings, args),
        Command::Tiles { action } => commands::tiles::run(&settings, action),
        Command::Fiche(args) => commands::fiche::run(&settings, args),
    }
}
