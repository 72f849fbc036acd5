//! `ess-map serve`: the HTTP API, the tiles and the web map.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::api;
use crate::config::{self, Settings};
use crate::live::Live;
use crate::tiles::TileCache;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8080]; port 0 picks a free one.
    #[arg(long, env = "ESS_MAP_LISTEN")]
    listen: Option<SocketAddr>,
    /// The web map's folder (with `public/` and `node_modules/maplibre-gl`) [default: the project's web/].
    #[arg(long)]
    web: Option<PathBuf>,
    /// An OpenStreetMap extract (`.osm.pbf`) to build the walking network
    /// from (repeat for several; besides `osm = [...]` in the configuration
    /// and the extracts `ess-map data fetch` put in place). Built once and
    /// kept in the state directory; the server answers meanwhile.
    #[arg(long)]
    osm: Vec<PathBuf>,
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    let config = &settings.config;
    let listen = args
        .listen
        .or(config.listen)
        .unwrap_or_else(|| config::DEFAULT_LISTEN.parse().expect("valid default"));
    let web = args
        .web
        .or(config.web.clone())
        .unwrap_or_else(config::default_web_dir);
    clean_uploads(&settings.state_dir());
    let walking = crate::walking::Walking::start(
        settings.state_dir(),
        crate::walking::WalkSources::of(settings, &args.osm)?,
    );
    let tiles = Arc::new(crate::tiles::TileCache::new(settings.tile_cache_bytes()));
    let live = Arc::new(super::live_followed(settings, vec![tiles.clone()])?);
    let territory = live.territory.clone();
    let data = live.snapshot();
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        data.data.initiatives().prepare();
        drop(data);
        tracing::info!(
            "nearest-initiative trees built in {:.0} ms ({})",
            started.elapsed().as_secs_f64() * 1000.0,
            resident_memory()
        );
        let started = std::time::Instant::now();
        territory.prepare_tile_outlines();
        tracing::info!(
            "tile outlines of zooms 0-10 made in {:.0} ms ({})",
            started.elapsed().as_secs_f64() * 1000.0,
            resident_memory()
        );
    });
    serve(settings, live, tiles, &web, listen, walking)
}

/// The process's resident memory, for the log: what each step of a start
/// costs is read there (`VmRSS`, Linux; elsewhere unknown).
fn resident_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("resident memory {} MiB", kib / 1024))
        })
        .unwrap_or_else(|| "resident memory unknown".to_string())
}

/// Uploads a killed import left behind.
fn clean_uploads(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir.join("uploads")) else {
        return;
    };
    for entry in entries.flatten() {
        match std::fs::remove_file(entry.path()) {
            Ok(()) => tracing::info!(
                "removed {}, left by an interrupted import",
                entry.path().display()
            ),
            Err(e) => tracing::warn!("cannot remove {}: {e}", entry.path().display()),
        }
    }
}

#[tokio::main]
async fn serve(
    settings: &Settings,
    live: Arc<Live>,
    tiles: Arc<TileCache>,
    web: &Path,
    listen: SocketAddr,
    walking: Arc<crate::walking::Walking>,
) -> anyhow::Result<()> {
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
    let following = live.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let live = following.clone();
            match tokio::task::spawn_blocking(move || live.refresh()).await {
                Ok(Ok(true)) => tracing::info!("the store changed: changes applied"),
                Ok(Err(e)) => tracing::warn!("cannot follow the store: {e:#}"),
                _ => {}
            }
        }
    });
    // A shared store announces each commit: apply it at once (the poll
    // above catches up on what a lost connection missed).
    if let crate::store::StoreLocation::Postgres(url) = &live.store_location {
        follow_notifications(url.clone(), live.clone());
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr()?;
    let app = api::app(settings, live, tiles, web, bound, walking)?;
    // On stdout, so that scripts and tests can read the port chosen for :0.
    println!("ess-map listening on http://{bound}");
    tracing::info!("answering on http://{bound} ({})", resident_memory());
    api::http::serve(listener, app, settings.limits(), shutdown_signal()).await;
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

/// Listens on the store's change channel on a thread of its own, applying
/// each announced commit; reconnects after a second when the connection is
/// lost.
fn follow_notifications(url: String, live: std::sync::Arc<crate::live::Live>) {
    use postgres::fallible_iterator::FallibleIterator;
    std::thread::spawn(move || {
        loop {
            match postgres::Client::connect(&url, postgres::NoTls) {
                Ok(mut client) => {
                    if let Err(e) =
                        client.batch_execute(&format!("LISTEN {}", crate::store::CHANNEL))
                    {
                        tracing::warn!("cannot listen to the store's changes: {e}");
                    } else {
                        let _ = live.refresh();
                        loop {
                            // A fresh wait each time: a timed-out one
                            // would not wait again.
                            let next = client
                                .notifications()
                                .timeout_iter(Duration::from_secs(60))
                                .next();
                            match next {
                                Ok(Some(_)) => {
                                    if let Err(e) = live.refresh() {
                                        tracing::warn!("cannot apply the store's change: {e:#}");
                                    }
                                }
                                Ok(None) if client.is_closed() => break,
                                Ok(None) => {}
                                Err(e) => {
                                    tracing::warn!("the store's change feed stopped: {e}");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!("store unreachable for its change feed: {e}"),
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
}
