//! `ess-map walk`: the walking network on the command line, for GIS teams
//! and for checking it against other tools: `walk build` reads the
//! extracts (or the graph kept from them) and says what it holds; `walk
//! nearest` writes, for every node, the walk to the nearest of a set of
//! points (what pandana's `nearest_pois` gives).

use std::io::Write;
use std::path::PathBuf;

use geodata::walk::search::{Start, nearest};

use crate::config::Settings;

#[derive(clap::Subcommand)]
pub enum Action {
    /// Build (or read back) the network of the extracts and describe it.
    Build(NetworkArgs),
    /// For every node of the network: metres on foot to the nearest point of
    /// a CSV (`id,lon,lat`), as CSV `osm_id,metres,nearest_id` on standard
    /// output (empty beyond `--max-m`).
    Nearest {
        #[command(flatten)]
        network: NetworkArgs,
        /// The points: a CSV with columns `id`, `lon`, `lat`.
        #[arg(long)]
        points: PathBuf,
        /// The longest walk searched, in metres.
        #[arg(long, default_value_t = 4500.0)]
        max_m: f64,
        /// Measure from each point's nearest node, without the metres from
        /// the point to it (as pandana does).
        #[arg(long)]
        from_nodes: bool,
    },
}

#[derive(clap::Args)]
pub struct NetworkArgs {
    /// An OpenStreetMap extract (`.osm.pbf`; repeat for several).
    #[arg(long)]
    osm: Vec<PathBuf>,
}

pub fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let network_args = match &action {
        Action::Build(n) | Action::Nearest { network: n, .. } => n,
    };
    let sources = crate::walking::WalkSources::of(settings, &network_args.osm)?;
    anyhow::ensure!(
        !sources.extracts.is_empty(),
        "no OpenStreetMap extract: give --osm FILE.osm.pbf"
    );
    let started = std::time::Instant::now();
    let network = sources.load(&settings.state_dir())?;
    let graph = &network.graph;
    eprintln!(
        "réseau : {} nœuds, {} tronçons, {} Mo en mémoire, prêt en {:.2} s",
        graph.node_count(),
        graph.segment_count(),
        graph.heap_bytes() / 1_000_000,
        started.elapsed().as_secs_f64()
    );
    let Action::Nearest {
        points,
        max_m,
        from_nodes,
        ..
    } = action
    else {
        return Ok(());
    };
    let mut reader = csv::Reader::from_path(&points)
        .map_err(|e| anyhow::anyhow!("{}: {e}", points.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow::anyhow!("{}: no column `{name}`", points.display()))
    };
    let (id_at, lon_at, lat_at) = (column("id")?, column("lon")?, column("lat")?);
    let mut ids = Vec::new();
    let mut starts = Vec::new();
    let mut off_network = 0;
    for (line, record) in reader.records().enumerate() {
        let record = record?;
        let number = |at: usize, name: &str| -> anyhow::Result<f64> {
            record
                .get(at)
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} line {}: `{name}` is not a number",
                        points.display(),
                        line + 2
                    )
                })
        };
        let at = geo::Coord {
            x: number(lon_at, "lon")?,
            y: number(lat_at, "lat")?,
        };
        match graph.nearest_node(at, geodata::walk::SNAP_MAX_M) {
            Some((node, d)) => {
                starts.push(Start {
                    node,
                    offset_m: if from_nodes { 0.0 } else { d as f32 },
                    label: ids.len() as u32,
                });
                ids.push(record.get(id_at).unwrap_or_default().to_string());
            }
            None => off_network += 1,
        }
    }
    let searched = std::time::Instant::now();
    let reach = nearest(graph, &starts, max_m as f32);
    eprintln!(
        "{} points sur le réseau ({off_network} à plus de {} m d'une voie) ; recherche : {:.6} s",
        starts.len(),
        geodata::walk::SNAP_MAX_M,
        searched.elapsed().as_secs_f64()
    );
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "osm_id,metres,nearest_id")?;
    for node in 0..graph.node_count() as u32 {
        match reach.metres(node) {
            Some(d) => writeln!(
                out,
                "{},{:.2},{}",
                graph.osm_id(node),
                d,
                ids[reach.from[node as usize] as usize]
            )?,
            None => writeln!(out, "{},,", graph.osm_id(node))?,
        }
    }
    out.flush()?;
    Ok(())
}
