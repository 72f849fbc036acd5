//! The initiatives: the half of the model that changes. One version is a
//! [`Initiatives`] value; a change makes the next version in time
//! proportional to the change, and readers keep whichever version they hold.
//!
//! # How readers never wait
//!
//! A version is an immutable *base* layer (rows sorted by id, their R-trees,
//! per-commune lists and cluster sums, built in bulk) plus a small *delta*
//! (rows put since, and the base rows they hide). Both sit behind `Arc`s:
//! applying a change copies the delta (bounded, see [`Initiatives::apply`])
//! and the per-QPV counts (one pair of numbers per QPV), not the base, and
//! the server swaps the new version in atomically (`ArcSwap`). A reader holds
//! one version for its whole request and never takes a lock. When the delta
//! outgrows its bound the next version gets a fresh base (a compaction,
//! O(n log n), once every `max(4096, n / 256)` changed rows).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use geo::{Coord, Rect};
use rayon::prelude::*;
use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};
use serde::Serialize;

use crate::category::Taxonomy;
use crate::clusters::{CellSums, SUMMED_ZOOM, Sums, cell_at, world_fixed};
use crate::geodesy::LocalFrame;
use crate::initiative::Initiative;
use crate::intern::Sym;
use crate::intern::intern;
use crate::model::{LocationStatus, QpvGeometry, QpvId};
use crate::territory::{Placed, Territory};
use crate::text::fold;

/// A row of the base in an R-tree: its position and its slot.
type Point = GeomWithData<[f64; 2], u32>;

/// A row of the base in a tree per kind: its position rounded to `f32`
/// (within 4·10⁻⁶ degrees, under half a metre) and its slot. The trees only
/// find candidates, in a box widened by [`KIND_TREE_SLACK_DEG`]; distances
/// are measured from the row's own position. Half the bytes of a [`Point`]
/// with its node: a national inventory is in two or three kinds a row.
type KindPoint = GeomWithData<[f32; 2], u32>;

/// More than an `f32`'s rounding of a longitude or latitude (2·10⁻⁶ at
/// 180°): what a box searched in a tree per kind is widened by.
const KIND_TREE_SLACK_DEG: f64 = 1e-4;

/// Initiatives inside a QPV and within 500 m of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QpvCounts {
    pub inside: u32,
    /// Inside, or outside within 500 m of the boundary.
    pub within_500m: u32,
}

/// One change to the initiatives.
#[derive(Debug, Clone)]
pub enum Change {
    /// Adds the initiative, or replaces the one with its id.
    Put(Placed),
    /// Removes the initiative with this id (nothing when there is none).
    Remove(Box<str>),
}

/// What a change touched: the positions before and after (the tiles that
/// hold them change) and the QPV whose counts moved (their tiles change).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Touched {
    pub positions: Vec<Coord<f64>>,
    pub qpvs: Vec<QpvId>,
    /// Ids put or removed.
    pub ids: Vec<Box<str>>,
}

/// Totals kept as changes come: by location status and by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub all: usize,
    pub by_status: BTreeMap<&'static str, usize>,
    /// Initiatives per category and per group (each counted in every kind
    /// it is of).
    pub by_kind: BTreeMap<String, usize>,
    /// Initiatives per dataset or imported source.
    pub by_source: BTreeMap<&'static str, usize>,
}

impl Totals {
    fn add(&mut self, x: &Initiative, taxonomy: &Taxonomy, sign: isize) {
        let step = |n: &mut usize| *n = n.checked_add_signed(sign).expect("totals stay positive");
        step(&mut self.all);
        step(
            self.by_status
                .entry(status_name(x.location.status))
                .or_default(),
        );
        step(self.by_source.entry(x.source.as_str()).or_default());
        for kind in taxonomy.kinds_of(x.category.as_str(), x.source_kind.map(Sym::as_str)) {
            match self.by_kind.get_mut(kind) {
                Some(n) => step(n),
                None => step(self.by_kind.entry(kind.to_string()).or_default()),
            }
        }
        // A count back to zero is dropped, so totals equal those of a full build.
        if sign < 0 {
            self.by_status.retain(|_, n| *n > 0);
            self.by_source.retain(|_, n| *n > 0);
            self.by_kind.retain(|_, n| *n > 0);
        }
    }

    pub fn status(&self, status: LocationStatus) -> usize {
        self.by_status
            .get(status_name(status))
            .copied()
            .unwrap_or(0)
    }
}

fn status_name(s: LocationStatus) -> &'static str {
    match s {
        LocationStatus::Inside => "inside",
        LocationStatus::Near => "near",
        LocationStatus::Outside => "outside",
        LocationStatus::NotLocated => "not_located",
        LocationStatus::CommuneOnly => "commune_only",
        LocationStatus::Unknown => "unknown",
    }
}

/// How an initiative's commune is keyed: its INSEE code, else its folded
/// name (`c:93066`, `n:saint denis`), as QPV without outline are matched.
/// An arrondissement of Paris, Lyon or Marseille is keyed as its city, which
/// is how the QPV lists name them (`c:13055` for `13203`).
pub fn commune_key(insee: Option<&str>, name: Option<&str>) -> Option<&'static str> {
    match (insee, name) {
        (Some(code), _) => {
            let code = code.trim();
            let city = crate::communes::city_of_arrondissement(code).unwrap_or(code);
            Some(intern(&format!("c:{city}")))
        }
        (None, Some(name)) => Some(intern(&format!("n:{}", fold(name)))),
        (None, None) => None,
    }
}

/// The QPV within 500 m of an initiative, and the distance to each.
type NearList = Box<[(QpvId, f64)]>;

/// Per kind (category or group), the rows placed against QPV: their
/// points gathered when the layer is built, their trees bulk-loaded on
/// first use (a start does it after it answers: [`Initiatives::prepare`]).
struct KindTrees {
    points: std::sync::Mutex<Option<HashMap<String, Vec<KindPoint>>>>,
    trees: std::sync::OnceLock<HashMap<String, RTree<KindPoint>>>,
}

impl KindTrees {
    fn get(&self) -> &HashMap<String, RTree<KindPoint>> {
        self.trees.get_or_init(|| {
            let points = self
                .points
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .unwrap_or_default();
            // Not on rayon's pool: its threads may be the ones waiting
            // here (see `crate::parallel`).
            crate::parallel::map_on_own_threads(points.into_iter().collect(), |(k, p)| {
                (k, RTree::bulk_load(p))
            })
            .into_iter()
            .collect()
        })
    }
}

/// Rows built in bulk, never changed.
struct Layer {
    /// By id.
    rows: Vec<Arc<Initiative>>,
    /// Per row, the QPV within 500 m and the distance to each.
    near: Vec<NearList>,
    /// Per QPV, the rows within 500 m and their distance: what counts,
    /// gaps and nearby ask within 500 m, without measuring again.
    by_qpv: Vec<Vec<(u32, f64)>>,
    /// Per row, its world coordinates ([`world_fixed`]; rows without a
    /// position: never read), for clustering tiles without projecting.
    world: Vec<(u32, u32)>,
    /// Every row with a position.
    points: RTree<Point>,
    /// Rows placed against QPV, per category and group.
    placed: KindTrees,
    by_commune: HashMap<&'static str, Vec<u32>>,
    clusters: CellSums,
}

impl Layer {
    /// The layer of `placed`, sorted by id and unique, on a territory of
    /// `qpvs` QPV.
    fn build(placed: Vec<Placed>, taxonomy: &Taxonomy, qpvs: usize) -> Layer {
        debug_assert!(
            placed
                .windows(2)
                .all(|w| w[0].initiative.id < w[1].initiative.id)
        );
        let (rows, near): (Vec<Arc<Initiative>>, Vec<NearList>) = placed
            .into_iter()
            .map(|p| (p.initiative, p.near.into_boxed_slice()))
            .unzip();
        let world: Vec<(u32, u32)> = rows
            .par_iter()
            .map(|x| x.position.map_or((0, 0), world_fixed))
            .collect();
        let mut by_qpv: Vec<Vec<(u32, f64)>> = vec![Vec::new(); qpvs];
        for (slot, list) in near.iter().enumerate() {
            for &(q, d) in list.iter() {
                by_qpv[q.index()].push((slot as u32, d));
            }
        }
        let point = |(slot, _): (usize, &Arc<Initiative>), at: Coord<f64>| {
            GeomWithData::new([at.x, at.y], slot as u32)
        };
        let ((points, placed), (by_commune, clusters)) = rayon::join(
            || {
                rayon::join(
                    || {
                        RTree::bulk_load(
                            rows.iter()
                                .enumerate()
                                .filter_map(|r| Some(point(r, r.1.position?)))
                                .collect(),
                        )
                    },
                    || {
                        let mut by_kind: HashMap<String, Vec<KindPoint>> = HashMap::new();
                        for (slot, x) in rows.iter().enumerate() {
                            if let Some(at) = x.placed_at() {
                                for kind in taxonomy
                                    .kinds_of(x.category.as_str(), x.source_kind.map(Sym::as_str))
                                {
                                    let p =
                                        GeomWithData::new([at.x as f32, at.y as f32], slot as u32);
                                    match by_kind.get_mut(kind) {
                                        Some(points) => points.push(p),
                                        None => drop(by_kind.insert(kind.to_string(), vec![p])),
                                    }
                                }
                            }
                        }
                        KindTrees {
                            points: std::sync::Mutex::new(Some(by_kind)),
                            trees: std::sync::OnceLock::new(),
                        }
                    },
                )
            },
            || {
                let mut by_commune: HashMap<&'static str, Vec<u32>> = HashMap::new();
                // Commune keys by the interned value they come from (a few
                // thousand communes for a million initiatives).
                let mut keys: HashMap<(usize, bool), Option<&'static str>> = HashMap::new();
                let mut clusters = CellSums::new();
                for (slot, x) in rows.iter().enumerate() {
                    let key = match (x.insee_code, x.commune) {
                        (Some(code), _) => *keys
                            .entry((code.as_ptr() as usize, true))
                            .or_insert_with(|| commune_key(Some(code.as_str()), None)),
                        (None, Some(name)) => *keys
                            .entry((name.as_ptr() as usize, false))
                            .or_insert_with(|| commune_key(None, Some(name.as_str()))),
                        (None, None) => None,
                    };
                    if let Some(key) = key {
                        by_commune.entry(key).or_default().push(slot as u32);
                    }
                    if x.position.is_some() {
                        let at = world[slot];
                        clusters
                            .entry(cell_at(at, SUMMED_ZOOM))
                            .or_default()
                            .entry(x.category.as_str())
                            .or_default()
                            .add(at);
                    }
                }
                (by_commune, clusters)
            },
        );
        Layer {
            rows,
            near,
            by_qpv,
            world,
            points,
            placed,
            by_commune,
            clusters,
        }
    }

    /// Row `slot` with its QPV within 500 m.
    fn placed(&self, slot: u32) -> Placed {
        Placed {
            initiative: self.rows[slot as usize].clone(),
            near: self.near[slot as usize].to_vec(),
        }
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        self.rows
            .binary_search_by(|x| (*x.id).cmp(id))
            .ok()
            .map(|s| s as u32)
    }
}

/// What changed since the base.
#[derive(Clone, Default)]
struct Delta {
    /// Rows put since the base, by id (their latest version).
    rows: BTreeMap<Box<str>, Placed>,
    /// Base rows replaced or removed.
    hidden: HashSet<u32>,
}

/// One version of the initiatives, placed against a territory. Cloning is
/// cheap (a few `Arc`s).
#[derive(Clone)]
pub struct Initiatives {
    base: Arc<Layer>,
    delta: Arc<Delta>,
    counts: Arc<Vec<QpvCounts>>,
    totals: Arc<Totals>,
}

impl Initiatives {
    /// Every initiative, placed, with the QPV it is within 500 m of (see
    /// [`Territory::place`]); of two with one id the later one is kept.
    pub fn build(territory: &Territory, mut placed: Vec<Placed>) -> Initiatives {
        // Stable: of equal ids, the later stays later. Usually sorted already.
        if !placed.is_sorted_by(|a, b| a.initiative.id <= b.initiative.id) {
            placed.par_sort_by(|a, b| a.initiative.id.cmp(&b.initiative.id));
        }
        let mut unique: Vec<Placed> = Vec::with_capacity(placed.len());
        for p in placed {
            match unique.last_mut() {
                Some(last) if last.initiative.id == p.initiative.id => *last = p,
                _ => unique.push(p),
            }
        }
        let taxonomy = &territory.taxonomy;
        let per_qpv = unique
            .par_iter()
            .fold(
                || vec![QpvCounts::default(); territory.qpvs().len()],
                |mut counts, p| {
                    for &(id, d) in &p.near {
                        count(&mut counts[id.index()], d, 1);
                    }
                    counts
                },
            )
            .reduce(
                || vec![QpvCounts::default(); territory.qpvs().len()],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.inside += y.inside;
                        x.within_500m += y.within_500m;
                    }
                    a
                },
            );
        let mut totals = Totals::default();
        for p in &unique {
            totals.add(&p.initiative, taxonomy, 1);
        }
        Initiatives {
            base: Arc::new(Layer::build(unique, taxonomy, territory.qpvs().len())),
            delta: Arc::default(),
            counts: Arc::new(per_qpv),
            totals: Arc::new(totals),
        }
    }

    /// The next version: `changes` applied in order. Costs O(changes ×
    /// log n) plus a copy of the delta, and a compaction when the delta
    /// outgrows `max(4096, n / 256)` rows.
    pub fn apply(&self, territory: &Territory, changes: Vec<Change>) -> (Initiatives, Touched) {
        let taxonomy = &territory.taxonomy;
        let mut delta = (*self.delta).clone();
        let mut counts = (*self.counts).clone();
        let mut totals = (*self.totals).clone();
        let mut touched = Touched::default();
        for change in changes {
            let id = match &change {
                Change::Put(x) => x.initiative.id.clone(),
                Change::Remove(id) => id.clone(),
            };
            let old = delta.rows.get(&id).cloned().or_else(|| {
                let slot = self.base.slot_of(&id)?;
                (!delta.hidden.contains(&slot)).then(|| self.base.placed(slot))
            });
            if let Some(old) = &old {
                totals.add(&old.initiative, taxonomy, -1);
                for &(q, d) in &old.near {
                    count(&mut counts[q.index()], d, -1);
                    touched.qpvs.push(q);
                }
                touched.positions.extend(old.initiative.position);
                delta.rows.remove(&id);
                if let Some(slot) = self.base.slot_of(&id) {
                    delta.hidden.insert(slot);
                }
            }
            if let Change::Put(x) = change {
                totals.add(&x.initiative, taxonomy, 1);
                for &(q, d) in &x.near {
                    count(&mut counts[q.index()], d, 1);
                    touched.qpvs.push(q);
                }
                touched.positions.extend(x.initiative.position);
                delta.rows.insert(id.clone(), x);
            }
            touched.ids.push(id);
        }
        touched.qpvs.sort_unstable();
        touched.qpvs.dedup();
        let next = Initiatives {
            base: self.base.clone(),
            delta: Arc::new(delta),
            counts: Arc::new(counts),
            totals: Arc::new(totals),
        };
        let bound = 4096.max(self.base.rows.len() / 256);
        if next.pending() > bound {
            (next.compacted(taxonomy), touched)
        } else {
            (next, touched)
        }
    }

    /// The same initiatives with the delta folded into a new base.
    pub fn compacted(&self, taxonomy: &Taxonomy) -> Initiatives {
        let qpvs = self.counts.len();
        Initiatives {
            base: Arc::new(Layer::build(
                merged_rows(&self.base, &self.delta),
                taxonomy,
                qpvs,
            )),
            delta: Arc::default(),
            counts: self.counts.clone(),
            totals: self.totals.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.totals.all
    }

    /// Builds now what is otherwise built on first use (the trees of the
    /// nearest initiative of each kind): for a thread of its own after a
    /// start, so that the first gap analysis does not wait for them.
    pub fn prepare(&self) {
        self.base.placed.get();
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Rows changed since the last compaction (the delta's size).
    pub fn pending(&self) -> usize {
        self.delta.rows.len() + self.delta.hidden.len()
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Initiative>> {
        if let Some(x) = self.delta.rows.get(id) {
            return Some(&x.initiative);
        }
        let slot = self.base.slot_of(id)?;
        (!self.delta.hidden.contains(&slot)).then(|| &self.base.rows[slot as usize])
    }

    /// Counts of QPV `id` (zero for a QPV without outline).
    pub fn counts(&self, id: QpvId) -> QpvCounts {
        self.counts[id.index()]
    }

    /// Every initiative, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Initiative>> + '_ {
        let base = self
            .base
            .rows
            .iter()
            .enumerate()
            .filter(|(slot, _)| !self.delta.hidden.contains(&(*slot as u32)))
            .map(|(_, x)| x);
        merge_by_id(base, self.delta.rows.values().map(|p| &p.initiative))
    }

    /// Located initiatives inside `bbox` (lon/lat), by id.
    pub fn in_bbox(&self, bbox: Rect<f64>) -> Vec<&Arc<Initiative>> {
        let aabb = AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        let mut slots: Vec<u32> = self
            .base
            .points
            .locate_in_envelope(&aabb)
            .map(|p| p.data)
            .filter(|s| !self.delta.hidden.contains(s))
            .collect();
        slots.sort_unstable();
        let base = slots.into_iter().map(|s| &self.base.rows[s as usize]);
        let delta = self
            .delta
            .rows
            .values()
            .map(|p| &p.initiative)
            .filter(|x| x.position.is_some_and(|p| contains(bbox, p)));
        merge_by_id(base, delta).collect()
    }

    /// Initiatives placed against QPV within `radius_m` (at most
    /// [`crate::NEAR_RADIUS_M`]) of QPV `q` (0 inside), with their
    /// distances, by id: read from what placing them measured.
    pub fn near(&self, q: QpvId, radius_m: f64) -> Vec<(&Arc<Initiative>, f64)> {
        debug_assert!(radius_m <= crate::NEAR_RADIUS_M);
        let hidden = &self.delta.hidden;
        let base = self.base.by_qpv[q.index()]
            .iter()
            .filter(|(slot, d)| *d <= radius_m && !hidden.contains(slot))
            .map(|&(slot, d)| (&self.base.rows[slot as usize], d));
        let delta = self.delta.rows.values().filter_map(|p| {
            let &(_, d) = p.near.iter().find(|(id, _)| *id == q)?;
            (d <= radius_m).then_some((&p.initiative, d))
        });
        let mut found: Vec<(&Arc<Initiative>, f64)> = base.chain(delta).collect();
        found.sort_unstable_by(|a, b| a.0.id.cmp(&b.0.id));
        found
    }

    /// Initiatives placed against QPV within `radius_m` of an outline (0
    /// inside), with their distances, by id.
    pub fn within(&self, outline: &QpvGeometry, radius_m: f64) -> Vec<(&Arc<Initiative>, f64)> {
        let search = LocalFrame::search_box(outline.bbox, radius_m);
        let measure = |x: &Arc<Initiative>| {
            let at = x.placed_at()?;
            if outline.bbox_distance_m(at) > radius_m {
                return None;
            }
            let d = outline.distance_m(at);
            (d <= radius_m).then_some(d)
        };
        let candidates = self.in_bbox(search);
        // Thousands of candidates (a large QPV in a dense city): measured
        // on every core, order kept.
        if candidates.len() > 4096 {
            return candidates
                .into_par_iter()
                .filter_map(|x| Some((x, measure(x)?)))
                .collect();
        }
        candidates
            .into_iter()
            .filter_map(|x| Some((x, measure(x)?)))
            .collect()
    }

    /// Initiatives whose commune key ([`commune_key`]) is one of `keys`, by id.
    pub fn in_communes(&self, keys: &[&'static str]) -> Vec<&Arc<Initiative>> {
        let mut slots: Vec<u32> = keys
            .iter()
            .filter_map(|k| self.base.by_commune.get(k))
            .flatten()
            .copied()
            .filter(|s| !self.delta.hidden.contains(s))
            .collect();
        slots.sort_unstable();
        slots.dedup();
        let base = slots.into_iter().map(|s| &self.base.rows[s as usize]);
        let delta = self.delta.rows.values().map(|p| &p.initiative).filter(|x| {
            commune_key(x.insee_code.map(Sym::as_str), x.commune.map(Sym::as_str))
                .is_some_and(|k| keys.contains(&k))
        });
        merge_by_id(base, delta).collect()
    }

    /// The extent of the located initiatives.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        let mut extent: Option<Rect<f64>> = None;
        let mut add = |r: Rect<f64>| {
            extent = Some(match extent {
                None => r,
                Some(e) => Rect::new(
                    Coord {
                        x: e.min().x.min(r.min().x),
                        y: e.min().y.min(r.min().y),
                    },
                    Coord {
                        x: e.max().x.max(r.max().x),
                        y: e.max().y.max(r.max().y),
                    },
                ),
            })
        };
        if self.base.points.size() > 0 {
            // The base's extent may include hidden rows: a little larger
            // than the truth until the next compaction, never smaller.
            let e = self.base.points.root().envelope();
            add(Rect::new(
                Coord {
                    x: e.lower()[0],
                    y: e.lower()[1],
                },
                Coord {
                    x: e.upper()[0],
                    y: e.upper()[1],
                },
            ));
        }
        for p in self
            .delta
            .rows
            .values()
            .filter_map(|x| x.initiative.position)
        {
            add(Rect::new(p, p));
        }
        extent
    }

    /// The nearest initiative placed against QPV of kind `kind` to
    /// `outline`, however far, in metres; `extra` holds the delta's rows of
    /// that kind ([`Self::placed_in_delta`]).
    pub fn nearest_of_kind(
        &self,
        kind: &str,
        outline: &QpvGeometry,
        extra: &[Coord<f64>],
    ) -> Option<f64> {
        let tree = self.base.placed.get().get(kind);
        // Where the row is, exactly: the tree's position is rounded.
        let rows = &self.base.rows;
        let at = |p: &KindPoint| rows[p.data as usize].placed_at();
        let hidden = &self.delta.hidden;
        let centre = outline.bbox.center();
        // A first candidate: the base's nearest to the centre, or any of the delta.
        let seed = tree
            .and_then(|t| {
                t.nearest_neighbor_iter(&[centre.x as f32, centre.y as f32])
                    .filter(|p| !hidden.contains(&p.data))
                    .find_map(at)
            })
            .or_else(|| extra.first().copied())?;
        let (margin, seed_nearest) = outline.nearest_boundary_point(seed);
        let within = LocalFrame::search_box(outline.bbox, margin);
        let (lo, hi) = (within.min(), within.max());
        let slack = KIND_TREE_SLACK_DEG;
        let search = AABB::from_corners(
            [(lo.x - slack) as f32, (lo.y - slack) as f32],
            [(hi.x + slack) as f32, (hi.y + slack) as f32],
        );
        let mut candidates: Vec<(f64, Coord<f64>)> = tree
            .into_iter()
            .flat_map(|t| t.locate_in_envelope(&search))
            .filter(|p| !hidden.contains(&p.data))
            .filter_map(at)
            .chain(extra.iter().copied())
            .map(|p| (outline.bbox_distance_m(p), p))
            .filter(|(bound, _)| *bound <= margin)
            .collect();
        candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut best = (margin, seed, seed_nearest);
        for (bound, p) in candidates {
            if bound >= best.0 {
                break;
            }
            let (d, nearest) = outline.nearest_boundary_point(p);
            if d < best.0 {
                best = (d, p, nearest);
            }
        }
        Some(outline.on_ellipsoid(best.1, best.0, best.2))
    }

    /// Positions of the delta's rows placed against QPV, per kind: what
    /// [`Self::nearest_of_kind`] adds to the base's trees.
    pub fn placed_in_delta(&self, taxonomy: &Taxonomy) -> HashMap<String, Vec<Coord<f64>>> {
        let mut out: HashMap<String, Vec<Coord<f64>>> = HashMap::new();
        for x in self.delta.rows.values().map(|p| &p.initiative) {
            if let Some(at) = x.placed_at() {
                for kind in taxonomy.kinds_of(x.category.as_str(), x.source_kind.map(Sym::as_str)) {
                    out.entry(kind.to_string()).or_default().push(at);
                }
            }
        }
        out
    }

    /// Sums per category of the located initiatives in the cluster cells at
    /// [`SUMMED_ZOOM`] of the world rectangle `[min, max)` (fixed-point, see
    /// [`crate::clusters::world_fixed`]), keyed by the cell at zoom `z`.
    pub fn cluster_sums(
        &self,
        z: u8,
        min: (u32, u32),
        max: (u64, u64),
    ) -> BTreeMap<(u32, u32), BTreeMap<&'static str, Sums>> {
        debug_assert!(z <= SUMMED_ZOOM);
        let inside = |p: (u32, u32)| {
            p.0 >= min.0 && p.1 >= min.1 && u64::from(p.0) < max.0 && u64::from(p.1) < max.1
        };
        let lift = SUMMED_ZOOM - z;
        let mut out: BTreeMap<(u32, u32), BTreeMap<&'static str, Sums>> = BTreeMap::new();
        let first = cell_at(min, SUMMED_ZOOM);
        for (&cell, sums) in self.base.clusters.range(first..) {
            let corner = (
                cell.0 << (32 - u32::from(SUMMED_ZOOM) - 3),
                cell.1 << (32 - u32::from(SUMMED_ZOOM) - 3),
            );
            if u64::from(corner.0) >= max.0 {
                break;
            }
            if !inside(corner) {
                continue;
            }
            let target = out.entry((cell.0 >> lift, cell.1 >> lift)).or_default();
            for (category, s) in sums {
                target.entry(category).or_default().merge(s);
            }
        }
        for &slot in &self.delta.hidden {
            let x = &self.base.rows[slot as usize];
            if let Some(p) = x.position.map(world_fixed).filter(|&p| inside(p)) {
                let cell = cell_at(p, z);
                let by_category = out.get_mut(&cell).expect("a hidden row was summed");
                by_category
                    .get_mut(x.category.as_str())
                    .expect("a hidden row was summed")
                    .remove(p);
            }
        }
        for x in self.delta.rows.values().map(|p| &p.initiative) {
            if let Some(p) = x.position.map(world_fixed).filter(|&p| inside(p)) {
                out.entry(cell_at(p, z))
                    .or_default()
                    .entry(x.category.as_str())
                    .or_default()
                    .add(p);
            }
        }
        for by_category in out.values_mut() {
            by_category.retain(|_, s| s.count > 0);
        }
        out.retain(|_, by_category| !by_category.is_empty());
        out
    }

    /// Sums per category of the located initiatives in the world rectangle
    /// `[min, max)` (fixed-point), by cluster cell at zoom `z`: from the sums
    /// kept up to [`SUMMED_ZOOM`], from the points themselves deeper.
    pub fn cluster_cells(
        &self,
        z: u8,
        min: (u32, u32),
        max: (u64, u64),
    ) -> BTreeMap<(u32, u32), BTreeMap<&'static str, Sums>> {
        if z <= SUMMED_ZOOM {
            return self.cluster_sums(z, min, max);
        }
        let inside = |p: (u32, u32)| {
            p.0 >= min.0 && p.1 >= min.1 && u64::from(p.0) < max.0 && u64::from(p.1) < max.1
        };
        let mut out: BTreeMap<(u32, u32), BTreeMap<&'static str, Sums>> = BTreeMap::new();
        let mut add = |p: (u32, u32), category: &'static str| {
            out.entry(cell_at(p, z))
                .or_default()
                .entry(category)
                .or_default()
                .add(p);
        };
        let bounds = crate::clusters::lonlat_of(min, max);
        let aabb = AABB::from_corners(
            [bounds.min().x, bounds.min().y],
            [bounds.max().x, bounds.max().y],
        );
        for point in self.base.points.locate_in_envelope(&aabb) {
            let p = self.base.world[point.data as usize];
            if inside(p) && !self.delta.hidden.contains(&point.data) {
                add(p, self.base.rows[point.data as usize].category.as_str());
            }
        }
        for x in self.delta.rows.values().map(|p| &p.initiative) {
            if let Some(p) = x.position.map(world_fixed).filter(|&p| inside(p)) {
                add(p, x.category.as_str());
            }
        }
        out
    }
}

/// The rows of a base and its delta, by id, for a new base.
fn merged_rows(base: &Layer, delta: &Delta) -> Vec<Placed> {
    let mut out = Vec::with_capacity(base.rows.len() + delta.rows.len());
    let mut kept = (0..base.rows.len() as u32)
        .filter(|slot| !delta.hidden.contains(slot))
        .peekable();
    let mut added = delta.rows.values().peekable();
    loop {
        match (kept.peek(), added.peek()) {
            (Some(&slot), Some(p)) if base.rows[slot as usize].id < p.initiative.id => {
                out.push(base.placed(slot));
                kept.next();
            }
            (_, Some(_)) => out.push(added.next().expect("peeked").clone()),
            (Some(&slot), None) => {
                out.push(base.placed(slot));
                kept.next();
            }
            (None, None) => return out,
        }
    }
}

fn count(c: &mut QpvCounts, distance_m: f64, sign: i32) {
    let step = |n: &mut u32| *n = n.checked_add_signed(sign).expect("counts stay positive");
    if distance_m == 0.0 {
        step(&mut c.inside);
    }
    step(&mut c.within_500m);
}

fn contains(r: Rect<f64>, p: Coord<f64>) -> bool {
    p.x >= r.min().x && p.x <= r.max().x && p.y >= r.min().y && p.y <= r.max().y
}

/// Two sequences sorted by id, merged (ids are unique across both).
fn merge_by_id<'a>(
    a: impl Iterator<Item = &'a Arc<Initiative>>,
    b: impl Iterator<Item = &'a Arc<Initiative>>,
) -> impl Iterator<Item = &'a Arc<Initiative>> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) => {
            if x.id <= y.id {
                a.next()
            } else {
                b.next()
            }
        }
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Every thread of rayon's pool waits for the trees (as a gap
    /// analysis's `par_iter` does) while a thread outside the pool builds
    /// them (as a start's does): they are built, nobody waits for ever.
    #[test]
    fn kind_trees_built_while_the_pool_waits_for_them() {
        let points: HashMap<String, Vec<KindPoint>> = (0..8u8)
            .map(|k| {
                let points = (0..20_000u32)
                    .map(|i| KindPoint::new([i as f32 * 1e-4, f32::from(k)], i))
                    .collect();
                (format!("kind-{k}"), points)
            })
            .collect();
        let trees = Arc::new(KindTrees {
            points: std::sync::Mutex::new(Some(points)),
            trees: std::sync::OnceLock::new(),
        });
        let arrived = Arc::new(AtomicUsize::new(0));
        let building = Arc::new(AtomicBool::new(false));
        let (done, finished) = std::sync::mpsc::channel();
        {
            let (trees, arrived, building) = (trees.clone(), arrived.clone(), building.clone());
            let done = done.clone();
            std::thread::spawn(move || {
                let kinds = rayon::broadcast(|_| {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    while !building.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                    // The builder is inside the `OnceLock` by now.
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    trees.get().len()
                });
                let _ = done.send(kinds);
            });
        }
        {
            let trees = trees.clone();
            std::thread::spawn(move || {
                while arrived.load(Ordering::SeqCst) < rayon::current_num_threads() {
                    std::thread::yield_now();
                }
                building.store(true, Ordering::SeqCst);
                let _ = done.send(vec![trees.get().len()]);
            });
        }
        for _ in 0..2 {
            let kinds = finished
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("the trees are built while the pool waits for them");
            assert!(kinds.iter().all(|&n| n == 8), "{kinds:?}");
        }
        assert_eq!(trees.get()["kind-3"].size(), 20_000);
    }
}
