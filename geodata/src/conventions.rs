//! The limits and conventions every part of ess-map reads from one place:
//! the API's parameters and their OpenAPI document, the command line, the
//! tiles and the web map (through the style's metadata).

/// The bands planners use around a QPV: 300 m (the band French law uses),
/// 500 m (the usual proxy for the « quartier vécu »), 1,000 m.
pub const RINGS_M: [f64; 3] = [300.0, 500.0, 1000.0];

/// The radius of the gap analysis, the QPV panel and the fiche, by default.
pub const DEFAULT_RADIUS_M: f64 = 500.0;

/// The radius of « near » when locating a point or a table, by default.
pub const DEFAULT_LOCATE_RADIUS_M: f64 = 300.0;

/// Largest radius anyone may ask for, in metres.
pub const MAX_RADIUS_M: f64 = 5000.0;

/// How far an initiative is placed « near » a QPV, and the radius of the
/// counts the tiles carry.
pub const NEAR_RADIUS_M: f64 = 500.0;

/// The generations of QPV: 2015 (metropolitan France, replaced in 2024),
/// 2024 (metropolitan France), 2025 (overseas).
pub const GENERATIONS: [u16; 3] = [2015, 2024, 2025];

/// The generations as written in messages: `2015, 2024, 2025`.
pub fn generations_text() -> String {
    GENERATIONS.map(|g| g.to_string()).join(", ")
}

/// Whether `g` is a generation of QPV.
pub fn is_generation(g: u16) -> bool {
    GENERATIONS.contains(&g)
}

/// `count` per 10,000 of `population`, to 0.1; `None` when the population
/// is unknown or zero (never written as 0).
///
/// ```
/// assert_eq!(geodata::conventions::per_10k(3, Some(6000)), Some(5.0));
/// assert_eq!(geodata::conventions::per_10k(3, None), None);
/// ```
pub fn per_10k(count: u64, population: Option<u64>) -> Option<f64> {
    population
        .filter(|p| *p > 0)
        .map(|p| (count as f64 * 10_000.0 / p as f64 * 10.0).round() / 10.0)
}
