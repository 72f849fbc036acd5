//! The pedestrian graph: nodes (OSM ids and positions in 10⁻⁷ degrees, as
//! OSM stores them: 1 cm) and undirected ways as a compressed adjacency
//! list (CSR), each edge's length in metres on the ground. Nodes are
//! numbered by grid cell (≈ 250 m), so a cell's nodes are one run of
//! numbers: finding the nodes near a point reads a few runs, and a search
//! walks memory in order.
//!
//! Memory: 8 (OSM id) + 8 (position) + 4 (first edge) bytes per node,
//! 4 (target) + 4 (length) bytes per directed edge (two per street
//! segment), and 12 bytes per non-empty cell.

use std::io::{Read, Write};
use std::path::Path;

use geo::{Coord, Rect};

use crate::geodesy::LocalFrame;

/// Cell height and width in 10⁻⁷ degrees: 0.0025° of latitude (≈ 278 m) by
/// 0.0035° of longitude (≈ 260 m at 48° N, 285 m at 43° N).
const CELL_LAT_E7: i64 = 25_000;
const CELL_LON_E7: i64 = 35_000;
const MAGIC: &[u8; 8] = b"ESSWALK1";

/// A walkable network, read-only once built.
#[derive(Debug, Clone, Default)]
pub struct WalkGraph {
    osm_ids: Vec<i64>,
    /// (lon, lat) in 10⁻⁷ degrees.
    positions: Vec<[i32; 2]>,
    /// Edges of node `n`: `first[n]..first[n + 1]`.
    first: Vec<u32>,
    targets: Vec<u32>,
    lengths_m: Vec<f32>,
    /// Non-empty cells, sorted by key, and the first node of each
    /// (`cell_first[i]..cell_first[i + 1]`).
    cell_keys: Vec<u64>,
    cell_first: Vec<u32>,
}

/// A graph file that cannot be read: which part, and why.
#[derive(Debug, thiserror::Error)]
pub enum GraphFileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a walking graph of this version (expected {MAGIC:?})")]
    Magic,
    #[error("built from other sources or by another version ({found})")]
    Stale { found: String },
    #[error("truncated or damaged: {0}")]
    Damaged(&'static str),
}

fn cell_of(p: [i32; 2]) -> u64 {
    let row = (i64::from(p[1]) + 900_000_000).div_euclid(CELL_LAT_E7) as u64;
    let col = (i64::from(p[0]) + 1_800_000_000).div_euclid(CELL_LON_E7) as u64;
    (row << 32) | col
}

fn degrees(p: [i32; 2]) -> Coord<f64> {
    Coord {
        x: f64::from(p[0]) * 1e-7,
        y: f64::from(p[1]) * 1e-7,
    }
}

/// Metres on the ground between two nearby points (a local frame at the
/// first: within 0.1 % of the geodesic at street scale).
pub fn metres_between(a: Coord<f64>, b: Coord<f64>) -> f64 {
    let p = LocalFrame::new(a).project(b);
    p.x.hypot(p.y)
}

impl WalkGraph {
    /// A graph of `nodes` (OSM id, lon/lat in 10⁻⁷ degrees) and undirected
    /// `edges` between their indices (lengths computed here). Self-loops
    /// are dropped.
    pub fn from_edges(nodes: Vec<(i64, [i32; 2])>, edges: &[(u32, u32)]) -> WalkGraph {
        // Number nodes by cell.
        let mut order: Vec<u32> = (0..nodes.len() as u32).collect();
        order.sort_by_key(|&i| (cell_of(nodes[i as usize].1), i));
        let mut new_of = vec![0u32; nodes.len()];
        for (new, &old) in order.iter().enumerate() {
            new_of[old as usize] = new as u32;
        }
        let osm_ids: Vec<i64> = order.iter().map(|&i| nodes[i as usize].0).collect();
        let positions: Vec<[i32; 2]> = order.iter().map(|&i| nodes[i as usize].1).collect();
        let n = positions.len();
        let mut degree = vec![0u32; n + 1];
        for &(a, b) in edges {
            if a != b {
                degree[new_of[a as usize] as usize] += 1;
                degree[new_of[b as usize] as usize] += 1;
            }
        }
        let mut first = Vec::with_capacity(n + 1);
        let mut sum = 0u32;
        for d in &degree[..n] {
            first.push(sum);
            sum += d;
        }
        first.push(sum);
        let mut fill = first.clone();
        let mut targets = vec![0u32; sum as usize];
        let mut lengths_m = vec![0f32; sum as usize];
        for &(a, b) in edges {
            if a == b {
                continue;
            }
            let (a, b) = (new_of[a as usize], new_of[b as usize]);
            let length = metres_between(
                degrees(positions[a as usize]),
                degrees(positions[b as usize]),
            ) as f32;
            for (from, to) in [(a, b), (b, a)] {
                let at = fill[from as usize] as usize;
                targets[at] = to;
                lengths_m[at] = length;
                fill[from as usize] += 1;
            }
        }
        let (mut cell_keys, mut cell_first) = (Vec::new(), Vec::new());
        for (i, p) in positions.iter().enumerate() {
            let key = cell_of(*p);
            if cell_keys.last() != Some(&key) {
                cell_keys.push(key);
                cell_first.push(i as u32);
            }
        }
        cell_first.push(n as u32);
        WalkGraph {
            osm_ids,
            positions,
            first,
            targets,
            lengths_m,
            cell_keys,
            cell_first,
        }
    }

    pub fn node_count(&self) -> usize {
        self.positions.len()
    }

    /// Street segments (each walkable both ways).
    pub fn segment_count(&self) -> usize {
        self.targets.len() / 2
    }

    pub fn osm_id(&self, node: u32) -> i64 {
        self.osm_ids[node as usize]
    }

    /// A node's longitude/latitude.
    pub fn position(&self, node: u32) -> Coord<f64> {
        degrees(self.positions[node as usize])
    }

    /// A node's neighbours and the length of the way to each, in metres.
    #[inline]
    pub fn edges(&self, node: u32) -> impl Iterator<Item = (u32, f32)> + '_ {
        let range = self.first[node as usize] as usize..self.first[node as usize + 1] as usize;
        self.targets[range.clone()]
            .iter()
            .copied()
            .zip(self.lengths_m[range].iter().copied())
    }

    /// Bytes the graph holds in memory.
    pub fn heap_bytes(&self) -> usize {
        self.osm_ids.len() * 8
            + self.positions.len() * 8
            + self.first.len() * 4
            + self.targets.len() * 8
            + self.cell_keys.len() * 12
    }

    /// The area the nodes cover.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        let mut it = self.positions.iter();
        let p = *it.next()?;
        let (mut min, mut max) = (p, p);
        for p in it {
            min = [min[0].min(p[0]), min[1].min(p[1])];
            max = [max[0].max(p[0]), max[1].max(p[1])];
        }
        Some(Rect::new(degrees(min), degrees(max)))
    }

    /// Nodes whose cell meets `rect` (a superset of the nodes inside it).
    pub fn nodes_near(&self, rect: Rect<f64>) -> impl Iterator<Item = u32> + '_ {
        let e7 = |c: Coord<f64>| [(c.x * 1e7).round() as i32, (c.y * 1e7).round() as i32];
        let (lo, hi) = (cell_of(e7(rect.min())), cell_of(e7(rect.max())));
        let (row0, row1) = (lo >> 32, hi >> 32);
        let (col0, col1) = (lo & 0xffff_ffff, hi & 0xffff_ffff);
        (row0..=row1).flat_map(move |row| {
            let from = self.cell_keys.partition_point(|&k| k < (row << 32) | col0);
            let to = self.cell_keys.partition_point(|&k| k <= (row << 32) | col1);
            if from < to {
                self.cell_first[from]..self.cell_first[to]
            } else {
                0..0
            }
        })
    }

    /// The node nearest to `at` within `max_m` metres, and its distance.
    pub fn nearest_node(&self, at: Coord<f64>, max_m: f64) -> Option<(u32, f64)> {
        let frame = LocalFrame::new(at);
        let rect = LocalFrame::search_box(Rect::new(at, at), max_m);
        let mut best: Option<(u32, f64)> = None;
        for node in self.nodes_near(rect) {
            let p = frame.project(self.position(node));
            let d = p.x.hypot(p.y);
            if d <= max_m && best.is_none_or(|(_, b)| d < b) {
                best = Some((node, d));
            }
        }
        best
    }

    /// Writes the graph, tagged with what it was built from (`tag`: the
    /// sources' digests and the rules' version), to `path` through a
    /// temporary file renamed into place: a reader never sees half a file.
    pub fn write(&self, path: &Path, tag: &str) -> std::io::Result<()> {
        let partial = path.with_extension("partial");
        {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
            out.write_all(MAGIC)?;
            out.write_all(&(tag.len() as u32).to_le_bytes())?;
            out.write_all(tag.as_bytes())?;
            for len in [
                self.positions.len(),
                self.targets.len(),
                self.cell_keys.len(),
            ] {
                out.write_all(&(len as u64).to_le_bytes())?;
            }
            for v in &self.osm_ids {
                out.write_all(&v.to_le_bytes())?;
            }
            for p in &self.positions {
                out.write_all(&p[0].to_le_bytes())?;
                out.write_all(&p[1].to_le_bytes())?;
            }
            for v in &self.first {
                out.write_all(&v.to_le_bytes())?;
            }
            for v in &self.targets {
                out.write_all(&v.to_le_bytes())?;
            }
            for v in &self.lengths_m {
                out.write_all(&v.to_le_bytes())?;
            }
            for v in &self.cell_keys {
                out.write_all(&v.to_le_bytes())?;
            }
            for v in &self.cell_first {
                out.write_all(&v.to_le_bytes())?;
            }
            out.write_all(MAGIC)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        std::fs::rename(partial, path)
    }

    /// Reads a graph written by [`WalkGraph::write`] with the same `tag`,
    /// array by array through a small buffer (the file is never held whole
    /// beside the graph).
    pub fn read(path: &Path, tag: &str) -> Result<WalkGraph, GraphFileError> {
        let file = std::fs::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut r = std::io::BufReader::new(file);
        let damaged = |what: &'static str| {
            move |e: std::io::Error| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    GraphFileError::Damaged(what)
                } else {
                    GraphFileError::Io(e)
                }
            }
        };
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic).map_err(damaged("magic"))?;
        if &magic != MAGIC {
            return Err(GraphFileError::Magic);
        }
        let mut word = [0u8; 4];
        r.read_exact(&mut word).map_err(damaged("tag"))?;
        let tag_len = u32::from_le_bytes(word) as usize;
        if tag_len as u64 > file_len {
            return Err(GraphFileError::Damaged("tag"));
        }
        let mut found = vec![0u8; tag_len];
        r.read_exact(&mut found).map_err(damaged("tag"))?;
        let found = String::from_utf8_lossy(&found).into_owned();
        if found != tag {
            return Err(GraphFileError::Stale { found });
        }
        let mut counts = [0usize; 3];
        for c in &mut counts {
            let mut v = [0u8; 8];
            r.read_exact(&mut v).map_err(damaged("lengths"))?;
            *c = usize::try_from(u64::from_le_bytes(v))
                .map_err(|_| GraphFileError::Damaged("lengths"))?;
        }
        let [n, m, c] = counts;
        // Sizes checked against the file before anything is allocated.
        let need = n
            .checked_mul(20)
            .and_then(|x| x.checked_add(4))
            .and_then(|x| x.checked_add(m.checked_mul(8)?))
            .and_then(|x| x.checked_add(c.checked_mul(12)?))
            .and_then(|x| x.checked_add(4 + 8))
            .ok_or(GraphFileError::Damaged("lengths"))?;
        let header = 8 + 4 + tag_len as u64 + 24;
        if file_len.checked_sub(header) != Some(need as u64) {
            return Err(GraphFileError::Damaged("size"));
        }
        let osm_ids = words(&mut r, n, i64::from_le_bytes).map_err(damaged("ids"))?;
        let positions = words(&mut r, n, |w: [u8; 8]| {
            [
                i32::from_le_bytes(w[..4].try_into().expect("4")),
                i32::from_le_bytes(w[4..].try_into().expect("4")),
            ]
        })
        .map_err(damaged("positions"))?;
        let first: Vec<u32> = words(&mut r, n + 1, u32::from_le_bytes).map_err(damaged("first"))?;
        let targets: Vec<u32> = words(&mut r, m, u32::from_le_bytes).map_err(damaged("targets"))?;
        let lengths_m = words(&mut r, m, f32::from_le_bytes).map_err(damaged("lengths"))?;
        let cell_keys = words(&mut r, c, u64::from_le_bytes).map_err(damaged("cells"))?;
        let cell_first: Vec<u32> =
            words(&mut r, c + 1, u32::from_le_bytes).map_err(damaged("cells"))?;
        r.read_exact(&mut magic).map_err(damaged("end"))?;
        if &magic != MAGIC {
            return Err(GraphFileError::Damaged("end"));
        }
        // Every index in range, so that a damaged file cannot panic a search.
        let consistent = first.windows(2).all(|w| w[0] <= w[1])
            && first.last().copied() == Some(m as u32)
            && targets.iter().all(|&t| (t as usize) < n)
            && cell_first.windows(2).all(|w| w[0] <= w[1])
            && cell_first.last().copied() == Some(n as u32);
        if !consistent {
            return Err(GraphFileError::Damaged("indices"));
        }
        Ok(WalkGraph {
            osm_ids,
            positions,
            first,
            targets,
            lengths_m,
            cell_keys,
            cell_first,
        })
    }
}

/// `count` little-endian values of `W` bytes each, decoded by `decode`.
fn words<const W: usize, T>(
    r: &mut impl Read,
    count: usize,
    decode: impl Fn([u8; W]) -> T,
) -> std::io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(count);
    let mut buffer = vec![0u8; (64 * 1024 / W) * W];
    let mut left = count;
    while left > 0 {
        let k = left.min(buffer.len() / W);
        r.read_exact(&mut buffer[..k * W])?;
        out.extend(
            buffer[..k * W]
                .chunks_exact(W)
                .map(|c| decode(c.try_into().expect("W bytes"))),
        );
        left -= k;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn ladder() -> WalkGraph {
        // Two parallel streets 100 m apart joined at both ends, near Paris.
        let nodes = (0..6)
            .map(|i| {
                let (x, y) = ((i % 3) as f64 * 0.001, (i / 3) as f64 * 0.0009);
                (
                    i as i64 + 1,
                    [((2.35 + x) * 1e7) as i32, ((48.85 + y) * 1e7) as i32],
                )
            })
            .collect();
        WalkGraph::from_edges(nodes, &[(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (2, 5)])
    }

    #[test]
    fn written_and_read_back_and_stale_or_truncated_refused() {
        let g = ladder();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.walk");
        g.write(&path, "tag-1").unwrap();
        let back = WalkGraph::read(&path, "tag-1").unwrap();
        assert_eq!(back.targets, g.targets);
        assert_eq!(back.positions, g.positions);
        assert!(matches!(
            WalkGraph::read(&path, "tag-2"),
            Err(GraphFileError::Stale { .. })
        ));
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(
            WalkGraph::read(&path, "tag-1"),
            Err(GraphFileError::Damaged(_))
        ));
    }

    #[test]
    fn nearest_node_within_a_limit() {
        let g = ladder();
        let at = Coord {
            x: 2.3501,
            y: 48.8501,
        };
        let (node, d) = g.nearest_node(at, 50.0).unwrap();
        assert_eq!(g.osm_id(node), 1);
        assert!((d - 13.3).abs() < 1.0, "{d}");
        assert!(g.nearest_node(Coord { x: 2.36, y: 48.86 }, 50.0).is_none());
        assert_eq!(g.segment_count(), 6);
    }
}
