//! Building the pedestrian graph from OpenStreetMap extracts (`.osm.pbf`,
//! read with the `osmpbf` crate): a first pass keeps the walkable ways'
//! node lists ([`super::profile`]), a second the positions of the nodes
//! they use; ways become street segments between consecutive nodes. Small
//! islands (fewer than [`MIN_COMPONENT_NODES`] nodes: a footway closed in a
//! courtyard, a platform cut off by the extract's edge) are dropped, so that
//! a point is never snapped to a piece of network that leads nowhere.
//! Several extracts make one graph: a node they share is one node.

use std::path::{Path, PathBuf};

use osmpbf::{BlobDecode, BlobReader};
use rayon::prelude::*;

use super::graph::WalkGraph;
use super::profile::is_walkable;

/// Connected pieces of network with fewer nodes are dropped.
pub const MIN_COMPONENT_NODES: usize = 50;

/// An extract that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct BuildError {
    pub file: PathBuf,
    pub reason: String,
}

/// What a build read and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    pub walkable_ways: usize,
    /// Nodes referred to by walkable ways but absent from the extracts
    /// (cut by an extract's edge).
    pub missing_nodes: usize,
    pub dropped_island_nodes: usize,
    pub nodes: usize,
    pub segments: usize,
}

/// Builds one graph from `files`, calling `progress` with a short French
/// phrase at each stage.
pub fn build(
    files: &[PathBuf],
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(WalkGraph, BuildReport), BuildError> {
    let mut report = BuildReport::default();
    // Pass 1: walkable ways, as runs of node ids.
    let mut ways: Vec<Vec<i64>> = Vec::new();
    for file in files {
        progress(&format!("lecture des voies de {}", name(file)));
        let found = blobs(file, |block| {
            let mut out = Vec::new();
            for group in block.groups() {
                for way in group.ways() {
                    if is_walkable(way.tags()) {
                        out.push(way.refs().collect::<Vec<i64>>());
                    }
                }
            }
            out
        })?;
        ways.extend(found.into_iter().flatten());
    }
    report.walkable_ways = ways.len();
    let mut ids: Vec<i64> = ways.iter().flatten().copied().collect();
    ids.par_sort_unstable();
    ids.dedup();
    // Pass 2: their positions.
    let mut positions: Vec<Option<[i32; 2]>> = vec![None; ids.len()];
    for file in files {
        progress(&format!(
            "lecture des nœuds de {} ({} nœuds utiles)",
            name(file),
            ids.len()
        ));
        let found = blobs(file, |block| {
            let mut out = Vec::new();
            for group in block.groups() {
                for n in group.dense_nodes() {
                    if let Ok(i) = ids.binary_search(&n.id()) {
                        out.push((i, [n.decimicro_lon(), n.decimicro_lat()]));
                    }
                }
                for n in group.nodes() {
                    if let Ok(i) = ids.binary_search(&n.id()) {
                        out.push((i, [n.decimicro_lon(), n.decimicro_lat()]));
                    }
                }
            }
            out
        })?;
        for (i, p) in found.into_iter().flatten() {
            positions[i] = Some(p);
        }
    }
    report.missing_nodes = positions.iter().filter(|p| p.is_none()).count();
    progress("assemblage du graphe");
    let mut edges: Vec<(u32, u32)> = Vec::new();
    for way in &ways {
        for pair in way.windows(2) {
            let a = ids.binary_search(&pair[0]).expect("collected") as u32;
            let b = ids.binary_search(&pair[1]).expect("collected") as u32;
            if a != b && positions[a as usize].is_some() && positions[b as usize].is_some() {
                edges.push((a.min(b), a.max(b)));
            }
        }
    }
    drop(ways);
    edges.par_sort_unstable();
    edges.dedup();
    // Islands: union–find over the segments.
    let mut parent: Vec<u32> = (0..ids.len() as u32).collect();
    fn root(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    for &(a, b) in &edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }
    let mut size = vec![0u32; ids.len()];
    let roots: Vec<u32> = (0..ids.len() as u32)
        .map(|x| root(&mut parent, x))
        .collect();
    for (i, r) in roots.iter().enumerate() {
        if positions[i].is_some() {
            size[*r as usize] += 1;
        }
    }
    let mut new_index = vec![u32::MAX; ids.len()];
    let mut nodes = Vec::new();
    for (i, p) in positions.iter().enumerate() {
        let Some(p) = p else { continue };
        let piece = size[roots[i] as usize] as usize;
        if piece < MIN_COMPONENT_NODES {
            report.dropped_island_nodes += 1;
            continue;
        }
        new_index[i] = nodes.len() as u32;
        nodes.push((ids[i], *p));
    }
    let edges: Vec<(u32, u32)> = edges
        .into_iter()
        .filter_map(|(a, b)| {
            let (a, b) = (new_index[a as usize], new_index[b as usize]);
            (a != u32::MAX && b != u32::MAX).then_some((a, b))
        })
        .collect();
    let graph = WalkGraph::from_edges(nodes, &edges);
    report.nodes = graph.node_count();
    report.segments = graph.segment_count();
    Ok((graph, report))
}

fn name(file: &Path) -> String {
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Runs `each` on every data block of `file`, blocks in parallel.
fn blobs<T: Send>(
    file: &Path,
    each: impl Fn(&osmpbf::PrimitiveBlock) -> T + Sync,
) -> Result<Vec<T>, BuildError> {
    let error = |reason: String| BuildError {
        file: file.to_path_buf(),
        reason,
    };
    let reader = BlobReader::from_path(file).map_err(|e| error(e.to_string()))?;
    reader
        .par_bridge()
        .map(|blob| {
            let blob = blob.map_err(|e| error(format!("bloc illisible : {e}")))?;
            match blob
                .decode()
                .map_err(|e| error(format!("bloc illisible : {e}")))?
            {
                BlobDecode::OsmData(block) => Ok(Some(each(&block))),
                BlobDecode::OsmHeader(header) => {
                    if let Some(f) = header
                        .required_features()
                        .iter()
                        .find(|f| !matches!(f.as_str(), "OsmSchema-V0.6" | "DenseNodes"))
                    {
                        return Err(error(format!("fonction requise non prise en charge : {f}")));
                    }
                    Ok(None)
                }
                BlobDecode::Unknown(_) => Ok(None),
            }
        })
        .filter_map(Result::transpose)
        .collect()
}
