//! The walking network of a run: which extracts (`--osm`, `osm = [...]` in
//! the configuration, and those `ess-map data fetch` put in place), the
//! graph built from them once and kept in the state directory (tagged with
//! the extracts' SHA-256 and the rules' version, rebuilt when either
//! changes), and its state while a server builds it in the background.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use geodata::walk::access::WalkNetwork;
use geodata::walk::graph::{GraphFileError, WalkGraph};
use geodata::walk::{DEFAULT_SPEED_KMH, GRAPH_VERSION};
use sha2::{Digest, Sha256};

use crate::config::Settings;

/// What a run's walking network is made of.
#[derive(Debug, Clone)]
pub struct WalkSources {
    /// OpenStreetMap extracts: flags, configuration, downloads.
    pub extracts: Vec<PathBuf>,
    /// INSEE's 200 m squares (Filosofi CSV): the configuration's
    /// `population_grid`, else the download `filosofi-carreaux-200m`.
    pub population: Option<PathBuf>,
    pub speed_kmh: f64,
}

impl WalkSources {
    pub fn of(settings: &Settings, flags: &[PathBuf]) -> anyhow::Result<WalkSources> {
        let population = match &settings.config.population_grid {
            Some(p) if !p.is_file() => {
                anyhow::bail!("population_grid {}: no such file", p.display())
            }
            Some(p) => Some(p.clone()),
            None => settings.manifest().ok().and_then(|m| {
                m.download("filosofi-carreaux-200m")
                    .map(|d| settings.downloads_dir().join(&d.file))
                    .filter(|p| p.is_file())
            }),
        };
        Ok(WalkSources {
            extracts: extracts(settings, flags)?,
            population,
            speed_kmh: speed_kmh(settings)?,
        })
    }

    /// The network, read back or built, weighted by the population grid
    /// when there is one.
    pub fn load(&self, state_dir: &Path) -> anyhow::Result<WalkNetwork> {
        let network = load(state_dir, &self.extracts, self.speed_kmh)?;
        let Some(path) = &self.population else {
            return Ok(network);
        };
        let started = std::time::Instant::now();
        let grid = geodata::walk::population::PopulationGrid::read(path)?;
        tracing::info!(
            "population grid {}: {} squares, {:.0} people, {} squares of other frames left out, read in {:.1} s",
            grid.source,
            grid.squares(),
            grid.people,
            grid.other_frames,
            started.elapsed().as_secs_f64()
        );
        Ok(network.with_population(grid))
    }
}

/// The extracts of this run, in order: flags, configuration, downloads.
pub fn extracts(settings: &Settings, flags: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = flags.to_vec();
    files.extend(settings.config.osm.iter().cloned());
    if let Ok(manifest) = settings.manifest() {
        let downloads = settings.downloads_dir();
        for d in &manifest.downloads {
            let path = downloads.join(&d.file);
            if d.file.to_string_lossy().ends_with(".osm.pbf") && path.is_file() {
                files.push(path);
            }
        }
    }
    for f in &files {
        if !f.is_file() {
            anyhow::bail!("OSM extract {}: no such file", f.display());
        }
    }
    files.dedup();
    Ok(files)
}

fn speed_kmh(settings: &Settings) -> anyhow::Result<f64> {
    let speed = settings
        .config
        .walking_speed_kmh
        .unwrap_or(DEFAULT_SPEED_KMH);
    if !(1.0..=10.0).contains(&speed) {
        anyhow::bail!("walking_speed_kmh: {speed} is outside [1, 10]");
    }
    Ok(speed)
}

/// The graph's cache tag: the rules' version, then each extract's name and
/// SHA-256 (remembered in the state directory: an untouched extract of
/// hundreds of megabytes is not read again at each start).
fn tag(state_dir: &Path, files: &[PathBuf]) -> anyhow::Result<String> {
    let mut digests = crate::file_digest::DigestCache::open(state_dir);
    let mut tag = GRAPH_VERSION.to_string();
    for f in files {
        tag.push_str(&format!(" {}:{}", file_name(f), digests.sha256(f)?));
    }
    digests.save();
    Ok(tag)
}

fn file_name(f: &Path) -> String {
    f.file_name().map_or_else(
        || f.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The network of `files`: read from the state directory when it was built
/// from the same bytes by the same rules, else built (and kept).
fn load(state_dir: &Path, files: &[PathBuf], speed_kmh: f64) -> anyhow::Result<WalkNetwork> {
    let started = std::time::Instant::now();
    let tag = tag(state_dir, files)?;
    let key = {
        let digest = Sha256::digest(tag.as_bytes());
        digest[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let dir = state_dir.join("walk");
    let path = dir.join(format!("reseau-pieton-{key}.graph"));
    let sources: Vec<String> = files.iter().map(|f| file_name(f)).collect();
    match WalkGraph::read(&path, &tag) {
        Ok(graph) => {
            tracing::info!(
                "walking network read from {} ({} nodes, {} segments) in {:.1} s",
                path.display(),
                graph.node_count(),
                graph.segment_count(),
                started.elapsed().as_secs_f64()
            );
            return Ok(WalkNetwork::new(graph, sources, speed_kmh));
        }
        Err(GraphFileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("walking network {}: {e}; building it again", path.display()),
    }
    tracing::info!("building the walking network from {}", sources.join(", "));
    let progress = |stage: &str| tracing::info!("walking network: {stage}");
    let (graph, report) = geodata::walk::build::build(files, &progress)?;
    tracing::info!(
        "walking network built in {:.1} s: {} walkable ways, {} nodes, {} segments, {} nodes on small islands dropped, {} nodes missing from the extracts; {} MB in memory",
        started.elapsed().as_secs_f64(),
        report.walkable_ways,
        report.nodes,
        report.segments,
        report.dropped_island_nodes,
        report.missing_nodes,
        graph.heap_bytes() / 1_000_000
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Graphs of other extracts or rules are of no further use.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            if e.path() != path {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    graph
        .write(&path, &tag)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(WalkNetwork::new(graph, sources, speed_kmh))
}

/// The network as a server sees it while it starts.
#[derive(Debug, Clone)]
pub enum WalkState {
    /// No extract given or fetched.
    None,
    Building {
        sources: Vec<String>,
    },
    Ready(Arc<WalkNetwork>),
    Failed(String),
}

/// The server's network, built on a thread of its own so that a start
/// does not wait for it.
#[derive(Debug)]
pub struct Walking {
    state: RwLock<WalkState>,
}

impl Walking {
    pub fn none() -> Arc<Walking> {
        Arc::new(Walking {
            state: RwLock::new(WalkState::None),
        })
    }

    /// Starts building (or reading) the network of `sources`.
    pub fn start(state_dir: PathBuf, sources: WalkSources) -> Arc<Walking> {
        let files = sources.extracts.clone();
        if files.is_empty() {
            return Walking::none();
        }
        let walking = Arc::new(Walking {
            state: RwLock::new(WalkState::Building {
                sources: files.iter().map(|f| file_name(f)).collect(),
            }),
        });
        let shared = walking.clone();
        std::thread::spawn(move || {
            let next = match sources.load(&state_dir) {
                Ok(network) => WalkState::Ready(Arc::new(network)),
                Err(e) => {
                    tracing::error!("walking network: {e:#}");
                    // Said to the public without the server's paths.
                    WalkState::Failed(
                        files
                            .iter()
                            .map(|f| file_name(f))
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                }
            };
            *shared.state.write().expect("not poisoned") = next;
        });
        walking
    }

    pub fn state(&self) -> WalkState {
        self.state.read().expect("not poisoned").clone()
    }

    pub fn network(&self) -> Option<Arc<WalkNetwork>> {
        match self.state() {
            WalkState::Ready(n) => Some(n),
            _ => None,
        }
    }

    /// Why there is no network to walk on, in French, or `None` when ready.
    pub fn unavailable(&self) -> Option<String> {
        match self.state() {
            WalkState::Ready(_) => None,
            WalkState::None => Some(
                "aucun réseau piéton chargé : l'administrateur peut le charger depuis un extrait OpenStreetMap (ess-map serve --osm FICHIER.osm.pbf, ou ess-map data fetch osm-ile-de-france)".into(),
            ),
            WalkState::Building { sources } => Some(format!(
                "réseau piéton en cours de construction ({}) : réessayer dans une minute",
                sources.join(", ")
            )),
            WalkState::Failed(sources) => Some(format!(
                "le réseau piéton n'a pas pu être construit ({sources}) : voir le journal du serveur"
            )),
        }
    }
}

/// The walking analysis of `query` on `network`: the initiatives walked to,
/// and a row per QPV (the crow-flies analysis at
/// [`geodata::walk::access::CUT_RADIUS_M`] beside, for the « coupure » flag).
pub fn analyse(
    data: &geodata::Dataset,
    network: &WalkNetwork,
    query: &geodata::walk::access::WalkQuery,
) -> (
    geodata::walk::access::Targets,
    Vec<geodata::walk::access::WalkAccess>,
) {
    let started = std::time::Instant::now();
    let nodes_ready = network.qpv_nodes(data.territory()).len();
    let located = started.elapsed();
    let targets = network.targets(data, &query.gaps.categories);
    let snapped = started.elapsed();
    let reach = network.reach(&targets);
    let searched = started.elapsed();
    let crow = geodata::gaps::analyse(
        data,
        &geodata::gaps::GapQuery {
            radius_m: geodata::walk::access::CUT_RADIUS_M,
            ..query.gaps.clone()
        },
    );
    let rows = geodata::walk::access::analyse(data, network, query, &targets, &reach, &crow);
    tracing::info!(
        "walking analysis of {} QPV in {:.0} ms: nodes of the {nodes_ready} QPV {:.0} ms, {} initiatives snapped {:.0} ms, search {:.0} ms, figures {:.0} ms",
        rows.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        located.as_secs_f64() * 1000.0,
        targets.starts.len(),
        (snapped - located).as_secs_f64() * 1000.0,
        (searched - snapped).as_secs_f64() * 1000.0,
        (started.elapsed() - searched).as_secs_f64() * 1000.0,
    );
    (targets, rows)
}
