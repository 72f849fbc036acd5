//! Walking access per QPV: for a set of categories, one multi-source search
//! from every initiative of the set (snapped to its nearest walkable node,
//! the metres to that node counted) gives each node's walk to the nearest
//! one; a QPV's figures are read from the nodes inside its outline.
//!
//! Unknown stays unknown: a QPV without outline, or where no network is
//! loaded, has no walking figures and says why; an initiative placed at its
//! commune's centre, or farther than [`SNAP_MAX_M`] from every walkable
//! way, is not a starting point and is counted as such.

use std::sync::Arc;

use geo::{Contains, Point};
use serde::Serialize;

use super::graph::WalkGraph;
use super::population::PopulationGrid;
use super::search::{Reach, Start, nearest};
use super::{MAX_MINUTES, SNAP_MAX_M, metres_in, minutes_for};
use crate::dataset::Dataset;
use crate::gaps::{GapQuery, QpvGap};
use crate::model::QpvId;
use crate::table::{Column, Kind, Table, Term, Value};
use crate::territory::{QpvFilter, Territory};

/// A crow-flies radius within which a QPV counts as covered: with no
/// walk of the asked time there, a barrier (motorway, railway, river) is
/// likely: « coupure ».
pub const CUT_RADIUS_M: f64 = 500.0;

/// A loaded network and what it was built from.
#[derive(Debug)]
pub struct WalkNetwork {
    pub graph: WalkGraph,
    /// The extracts' file names.
    pub sources: Vec<String>,
    pub speed_kmh: f64,
    /// Where people live, to weight a QPV's streets, when loaded.
    pub population: Option<PopulationGrid>,
    /// Each QPV's nodes (by [`QpvId`] order): computed once.
    qpv_nodes: std::sync::OnceLock<Vec<QpvNodes>>,
}

/// Which nodes stand for a QPV.
#[derive(Debug, Clone, PartialEq)]
pub struct QpvNodes {
    pub basis: WalkBasis,
    pub nodes: Vec<u32>,
    /// Each node's share of the people of the QPV's 200 m squares (a
    /// square's people split evenly among the QPV's nodes in it); `None`
    /// without a population grid, or where no one is counted under them.
    pub weights: Option<Vec<f32>>,
}

impl QpvNodes {
    /// The QPV's nodes as the starts of a search (on the nodes themselves,
    /// one label): the area reached from the quartier's streets.
    pub fn starts(&self) -> Vec<Start> {
        self.nodes
            .iter()
            .map(|&node| Start {
                node,
                offset_m: 0.0,
                label: 0,
            })
            .collect()
    }
}

/// How a QPV's walking figures were measured, or why they are unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WalkBasis {
    /// From the walkable nodes inside its outline.
    Outline,
    /// No node inside (a small QPV): from the node nearest its label point.
    LabelPoint,
    /// No outline loaded: not measurable.
    NoOutline,
    /// No walkable way within [`SNAP_MAX_M`] of it: the network loaded does
    /// not cover it.
    NoNetwork,
}

impl WalkBasis {
    pub fn term(self) -> Term {
        let (script, french) = match self {
            WalkBasis::Outline => ("outline", "voies du quartier"),
            WalkBasis::LabelPoint => ("label_point", "voie la plus proche du centre"),
            WalkBasis::NoOutline => ("no_outline", "non vérifiable : contour non chargé"),
            WalkBasis::NoNetwork => (
                "no_network",
                "non vérifiable : réseau piéton non chargé ici",
            ),
        };
        Term { script, french }
    }

    pub fn measured(self) -> bool {
        matches!(self, WalkBasis::Outline | WalkBasis::LabelPoint)
    }
}

impl WalkNetwork {
    pub fn new(graph: WalkGraph, sources: Vec<String>, speed_kmh: f64) -> Self {
        WalkNetwork {
            graph,
            sources,
            speed_kmh,
            population: None,
            qpv_nodes: std::sync::OnceLock::new(),
        }
    }

    /// The same network, its QPV's streets weighted by `grid`.
    pub fn with_population(mut self, grid: PopulationGrid) -> Self {
        self.population = Some(grid);
        self.qpv_nodes = std::sync::OnceLock::new();
        self
    }

    /// Each node's people: its square's, split among the nodes of `nodes`
    /// in that square.
    fn weights(&self, nodes: &[u32]) -> Option<Vec<f32>> {
        let grid = self.population.as_ref()?;
        let squares: Vec<(u64, f32)> = nodes
            .iter()
            .map(|&n| grid.square_at(self.graph.position(n)))
            .collect();
        let mut in_square: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        for (k, _) in &squares {
            *in_square.entry(*k).or_default() += 1;
        }
        let weights: Vec<f32> = squares
            .iter()
            .map(|(k, people)| people / in_square[k] as f32)
            .collect();
        (weights.iter().sum::<f32>() > 0.0).then_some(weights)
    }

    pub fn metres_in(&self, minutes: f64) -> f64 {
        metres_in(minutes, self.speed_kmh)
    }

    pub fn minutes_for(&self, metres: f64) -> f64 {
        minutes_for(metres, self.speed_kmh)
    }

    /// The nodes of every QPV of `territory`, found once.
    pub fn qpv_nodes(&self, territory: &Territory) -> &[QpvNodes] {
        self.qpv_nodes.get_or_init(|| {
            // Not on rayon's pool: its threads may be the ones waiting
            // here (see `crate::parallel`).
            let qpvs: Vec<_> = territory.qpvs().iter().enumerate().collect();
            crate::parallel::map_on_own_threads(qpvs, |(i, q)| {
                let Some(outline) = &q.geometry else {
                    return QpvNodes {
                        basis: WalkBasis::NoOutline,
                        nodes: Vec::new(),
                        weights: None,
                    };
                };
                let nodes: Vec<u32> = self
                    .graph
                    .nodes_near(outline.bbox)
                    .filter(|&n| {
                        outline
                            .lonlat
                            .contains(&Point::from(self.graph.position(n)))
                    })
                    .collect();
                if !nodes.is_empty() {
                    let weights = self.weights(&nodes);
                    return QpvNodes {
                        basis: WalkBasis::Outline,
                        nodes,
                        weights,
                    };
                }
                let label = territory.qpv_label_point(QpvId(i as u32));
                match label.and_then(|p| self.graph.nearest_node(p, SNAP_MAX_M)) {
                    Some((n, _)) => QpvNodes {
                        basis: WalkBasis::LabelPoint,
                        nodes: vec![n],
                        weights: None,
                    },
                    None => QpvNodes {
                        basis: WalkBasis::NoNetwork,
                        nodes: Vec::new(),
                        weights: None,
                    },
                }
            })
        })
    }

    /// The starting points of the initiatives of `kinds` (every kind when
    /// empty), and those that could not be placed on the network.
    pub fn targets(&self, data: &Dataset, kinds: &[String]) -> Targets {
        let taxonomy = data.taxonomy();
        let mut targets = Targets::default();
        for x in data.initiatives().iter() {
            if !kinds.is_empty()
                && !taxonomy
                    .kinds_of(&x.category, x.source_kind.as_deref())
                    .any(|k| kinds.iter().any(|w| w == k))
            {
                continue;
            }
            let Some(at) = x.placed_at() else {
                targets.unplaced += 1;
                continue;
            };
            match self.graph.nearest_node(at, SNAP_MAX_M) {
                Some((node, d)) => {
                    targets.starts.push(Start {
                        node,
                        offset_m: d as f32,
                        label: targets.ids.len() as u32,
                    });
                    targets.ids.push(Arc::from(&*x.id));
                    targets.names.push(Arc::from(&*x.name));
                }
                None => targets.off_network += 1,
            }
        }
        targets
    }

    /// Every node's walk to the nearest target, up to [`MAX_MINUTES`].
    pub fn reach(&self, targets: &Targets) -> Reach {
        nearest(
            &self.graph,
            &targets.starts,
            self.metres_in(MAX_MINUTES) as f32,
        )
    }
}

/// Initiatives as starting points.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub starts: Vec<Start>,
    /// Initiative id and name of each start's label.
    pub ids: Vec<Arc<str>>,
    pub names: Vec<Arc<str>>,
    /// Placed at their commune's centre, or without position: not walked to.
    pub unplaced: usize,
    /// Farther than [`SNAP_MAX_M`] from every walkable way.
    pub off_network: usize,
}

/// The walking figures of one QPV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalkAccess {
    #[serde(skip)]
    pub qpv: QpvId,
    pub basis: WalkBasis,
    /// Walkable nodes measured.
    pub nodes: usize,
    /// Share within the time asked (0 to 1): of the people living along
    /// the QPV's streets where a population grid is loaded
    /// (`weighted_by_population`), else of its nodes.
    pub share_within: Option<f64>,
    pub weighted_by_population: bool,
    /// Minutes from the median node to the nearest initiative; `None` when
    /// not measured, or beyond [`MAX_MINUTES`] (see `beyond_max`).
    pub median_min: Option<f64>,
    pub worst_min: Option<f64>,
    /// The nearest initiative on foot from the QPV, and the minutes to it.
    pub nearest_min: Option<f64>,
    pub nearest_id: Option<String>,
    pub nearest_name: Option<String>,
    /// Some node walks more than [`MAX_MINUTES`] (or cannot reach one).
    pub beyond_max: bool,
    /// No node of the QPV within the time asked.
    pub gap: bool,
    /// Covered within [`CUT_RADIUS_M`] as the crow flies, but not on foot.
    pub cut: bool,
    /// Crow-flies metres from the outline to the nearest initiative.
    pub crow_nearest_m: Option<f64>,
    pub priority: f64,
}

/// The walking analysis asked: the radius analysis's filters, and minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkQuery {
    pub gaps: GapQuery,
    pub minutes: f64,
}

impl WalkQuery {
    /// A file name that records the analysis: `manques-a-pied-15min-siae-93.csv`.
    pub fn file_name(&self, extension: &str) -> String {
        crate::gaps::file_name_measured(
            &format!("a-pied-{}min", self.minutes),
            &self.gaps,
            extension,
        )
    }
}

/// Per QPV of the query, its walking figures from `reach` (of `targets`),
/// gaps first by priority. `crow` is the radius analysis at
/// [`CUT_RADIUS_M`] for the same filters.
pub fn analyse(
    data: &Dataset,
    network: &WalkNetwork,
    query: &WalkQuery,
    targets: &Targets,
    reach: &Reach,
    crow: &[QpvGap],
) -> Vec<WalkAccess> {
    let territory = data.territory();
    let nodes_of = network.qpv_nodes(territory);
    let limit_m = network.metres_in(query.minutes) as f32;
    let crow_of: std::collections::HashMap<QpvId, &QpvGap> =
        crow.iter().map(|r| (r.qpv, r)).collect();
    let mut rows: Vec<WalkAccess> =
        territory
            .qpvs_matching(&QpvFilter {
                departement: query.gaps.departement.clone(),
                commune: query.gaps.commune.clone(),
                generation: query.gaps.generation,
                text: None,
            })
            .into_iter()
            .map(|id| {
                let qpv_nodes = &nodes_of[id.index()];
                let crow_row = crow_of.get(&id);
                let crow_nearest_m = crow_row.and_then(|r| r.nearest_m);
                let mut row = WalkAccess {
                    qpv: id,
                    basis: qpv_nodes.basis,
                    nodes: qpv_nodes.nodes.len(),
                    share_within: None,
                    weighted_by_population: false,
                    median_min: None,
                    worst_min: None,
                    nearest_min: None,
                    nearest_id: None,
                    nearest_name: None,
                    beyond_max: false,
                    gap: false,
                    cut: false,
                    crow_nearest_m,
                    priority: 0.0,
                };
                if !qpv_nodes.basis.measured() {
                    return row;
                }
                let mut times: Vec<f32> = qpv_nodes
                    .nodes
                    .iter()
                    .map(|&n| reach.metres[n as usize])
                    .collect();
                times.sort_by(f32::total_cmp);
                let within = times.iter().filter(|&&d| d <= limit_m).count();
                let minutes = |d: f32| {
                    d.is_finite()
                        .then(|| (network.minutes_for(f64::from(d)) * 10.0).round() / 10.0)
                };
                let share = match &qpv_nodes.weights {
                    Some(weights) => {
                        row.weighted_by_population = true;
                        let (mut reached, mut all) = (0.0f64, 0.0f64);
                        for (&n, &w) in qpv_nodes.nodes.iter().zip(weights) {
                            all += f64::from(w);
                            if reach.metres[n as usize] <= limit_m {
                                reached += f64::from(w);
                            }
                        }
                        reached / all
                    }
                    None => within as f64 / times.len() as f64,
                };
                row.share_within = Some((share * 1000.0).round() / 1000.0);
                row.median_min = minutes(times[times.len() / 2]);
                row.worst_min = minutes(*times.last().expect("measured QPV have nodes"));
                row.beyond_max = times.last().is_some_and(|d| d.is_infinite());
                if let Some(&best) = qpv_nodes.nodes.iter().min_by(|&&a, &&b| {
                    reach.metres[a as usize].total_cmp(&reach.metres[b as usize])
                }) {
                    row.nearest_min = minutes(reach.metres[best as usize]);
                    let label = reach.from[best as usize];
                    if label != u32::MAX {
                        row.nearest_id = Some(targets.ids[label as usize].to_string());
                        row.nearest_name = Some(targets.names[label as usize].to_string());
                    }
                }
                row.gap = within == 0;
                row.cut = row.gap && crow_nearest_m.is_some_and(|d| d <= CUT_RADIUS_M);
                let people = data
                    .qpv(id)
                    .population
                    .map_or(1.0, |p| f64::from(p) / 10_000.0);
                let median = row.median_min.unwrap_or(MAX_MINUTES).min(MAX_MINUTES);
                let uncovered = 1.0 - row.share_within.unwrap_or(0.0);
                row.priority = if uncovered > 0.0 {
                    (uncovered * median / query.minutes * people * 1000.0).round() / 1000.0
                } else {
                    0.0
                };
                row
            })
            .collect();
    rows.sort_by(|a, b| {
        (!a.basis.measured())
            .cmp(&!b.basis.measured())
            .then(b.gap.cmp(&a.gap))
            .then(b.priority.total_cmp(&a.priority))
            .then(a.qpv.cmp(&b.qpv))
    });
    rows
}

/// How walking rows are ranked, said with every answer.
pub const WALK_RANKING: &str = "Les quartiers sans aucune voie à moins du temps demandé d'une initiative viennent en premier, puis les autres, classés par part non desservie × temps médian (plafonné à 60 min) ÷ temps demandé × population en dizaines de milliers d'habitants (1 si inconnue). Les temps sont mesurés depuis les voies piétonnes du quartier (nœuds du réseau OpenStreetMap), la part pondérée par la population des carreaux de 200 m de l'Insee (Filosofi) là où elle est chargée (colonne « ponderation »). Les quartiers sans contour ou hors du réseau chargé sont non vérifiables et classés à part.";

/// The columns of the walking table.
pub fn columns() -> Vec<Column> {
    use Kind::{Flag, Integer, Number, Text};
    [
        ("code", "code_qp", Text),
        ("name", "nom", Text),
        ("communes", "communes", Text),
        ("departement", "departement", Text),
        ("generation", "generation", Integer),
        ("population", "population", Integer),
        ("walk_basis", "mesure", Text),
        ("walk_nodes", "points_du_reseau", Integer),
        ("share_within", "part_a_moins_du_temps", Number),
        ("weighting", "ponderation", Text),
        ("median_min", "temps_median_min", Number),
        ("worst_min", "temps_max_min", Number),
        ("beyond_max", "au_dela_de_60_min", Flag),
        ("nearest_min", "plus_proche_a_pied_min", Number),
        ("nearest_id", "plus_proche_id", Text),
        ("nearest_name", "plus_proche_nom", Text),
        ("crow_nearest_m", "plus_proche_vol_oiseau_m", Number),
        ("gap", "manque", Flag),
        ("cut", "coupure", Flag),
        ("priority", "priorite", Number),
    ]
    .into_iter()
    .map(|(script, french, kind)| Column::typed(script, french, kind))
    .collect()
}

/// One row's cells, in the order of [`columns`]; unknown cells are empty,
/// never 0.
pub fn cells(data: &Dataset, row: &WalkAccess) -> Vec<Value> {
    let qpv = data.qpv(row.qpv);
    let communes: Vec<&str> = qpv.communes.iter().map(|c| c.name.as_str()).collect();
    let measured = row.basis.measured();
    vec![
        Value::from(qpv.code.as_str()),
        Value::from(qpv.name.as_str()),
        Value::Text(communes.join(", ")),
        Value::from(qpv.departement.as_str()),
        Value::from(qpv.generation),
        Value::of(qpv.population),
        Value::Term(row.basis.term()),
        if measured {
            Value::from(row.nodes)
        } else {
            Value::Empty
        },
        Value::of(row.share_within),
        if !measured {
            Value::Empty
        } else if row.weighted_by_population {
            Value::Term(Term {
                script: "population",
                french: "population (carreaux Filosofi 200 m)",
            })
        } else {
            Value::Term(Term {
                script: "nodes",
                french: "rues, non pondérée (carroyage non chargé ou sans habitant compté)",
            })
        },
        Value::of(row.median_min),
        Value::of(row.worst_min),
        if measured {
            Value::from(row.beyond_max)
        } else {
            Value::Empty
        },
        Value::of(row.nearest_min),
        Value::of(row.nearest_id.as_deref()),
        Value::of(row.nearest_name.as_deref()),
        Value::of(row.crow_nearest_m),
        if measured {
            Value::from(row.gap)
        } else {
            Value::Empty
        },
        if measured {
            Value::from(row.cut)
        } else {
            Value::Empty
        },
        if measured {
            Value::from(row.priority)
        } else {
            Value::Empty
        },
    ]
}

/// The walking analysis as a table, saying what it measured.
pub fn table(
    data: &Dataset,
    network: &WalkNetwork,
    query: &WalkQuery,
    targets: &Targets,
    rows: &[WalkAccess],
) -> Table {
    let kinds = query.gaps.kinds(data.territory());
    let dates: Vec<String> = crate::gaps::data_dates(data.territory())
        .iter()
        .map(ToString::to_string)
        .collect();
    Table {
        about: vec![
            format!(
                "ess-map : accès à pied en {} min ({} km/h, réseau OpenStreetMap : {}) · catégories : {}",
                crate::table::number_text(query.minutes).replace('.', ","),
                crate::table::number_text(network.speed_kmh).replace('.', ","),
                network.sources.join(", "),
                kinds.join(" · ")
            ),
            format!(
                "Initiatives non prises en compte : {} placées au centre de leur commune ou sans position, {} à plus de {} m d'une voie piétonne",
                targets.unplaced, targets.off_network, SNAP_MAX_M
            ),
            match &network.population {
                Some(grid) => format!(
                    "Part pondérée par la population des carreaux de 200 m ({}, Insee Filosofi)",
                    grid.source
                ),
                None => "Part des rues du quartier, non pondérée : population carroyée non chargée"
                    .to_string(),
            },
            format!("Données : {}", dates.join(" · ")),
        ],
        columns: columns(),
        rows: rows.iter().map(|r| cells(data, r)).collect(),
    }
}
