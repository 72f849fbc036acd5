//! Walking time on the street network: a pedestrian graph built from
//! OpenStreetMap extracts ([`build`], by the rules of [`profile`]), kept as a
//! compact file ([`graph`]), searched from many points at once ([`search`]),
//! and turned into per-QPV access figures ([`access`]) and reachable areas
//! ([`isochrone`]).
//!
//! Distances are metres along the ways; times are those distances at a
//! walking speed ([`DEFAULT_SPEED_KMH`] unless configured).

pub mod access;
pub mod build;
pub mod graph;
pub mod isochrone;
pub mod population;
pub mod profile;
pub mod search;

pub use graph::WalkGraph;

/// The walking speed used unless configured: 4.5 km/h, OSRM's foot profile's.
pub const DEFAULT_SPEED_KMH: f64 = 4.5;
/// The longest walk analysed or drawn, in minutes.
pub const MAX_MINUTES: f64 = 60.0;
/// The walk the gap analysis and the map offer first, in minutes.
pub const DEFAULT_MINUTES: f64 = 15.0;
/// The walks the web map offers.
pub const WALK_CHOICES_MIN: [f64; 3] = [10.0, 15.0, 20.0];
/// A point farther than this from every walkable node is not on the network.
pub const SNAP_MAX_M: f64 = 300.0;
/// The version of the graph's rules and file: part of its cache tag.
pub const GRAPH_VERSION: &str = "walk-graph-1";

/// Metres walked in `minutes` at `speed_kmh`.
pub fn metres_in(minutes: f64, speed_kmh: f64) -> f64 {
    minutes * speed_kmh * 1000.0 / 60.0
}

/// Minutes to walk `metres` at `speed_kmh`.
pub fn minutes_for(metres: f64, speed_kmh: f64) -> f64 {
    metres * 60.0 / (speed_kmh * 1000.0)
}
