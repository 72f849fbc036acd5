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
/// counts each edit keeps up to date (the web map's colours).
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

/// The generations in force: 2024 in metropolitan France, 2025 overseas.
/// Every answer uses them unless a generation is asked for; 2015 (replaced
/// in 2024) only when asked.
pub const CURRENT_GENERATIONS: [u16; 2] = [2024, 2025];

/// Whether `g` is a generation in force.
pub fn is_current(g: u16) -> bool {
    CURRENT_GENERATIONS.contains(&g)
}

/// Whether a QPV of generation `g` answers a request for `asked` (`None`:
/// the generations in force).
///
/// ```
/// use geodata::conventions::generation_matches;
/// assert!(generation_matches(None, 2024) && !generation_matches(None, 2015));
/// assert!(generation_matches(Some(2015), 2015));
/// ```
pub fn generation_matches(asked: Option<u16>, g: u16) -> bool {
    asked.map_or_else(|| is_current(g), |a| a == g)
}

/// A point farther than this from every commune centre of a QPV whose
/// outline is not loaded cannot be in that QPV (communes holding QPV are
/// towns; the largest reach farther only in their rural parts).
pub const UNVERIFIABLE_RADIUS_M: f64 = 20_000.0;
