//! The national cross-check of our geometry: INSEE gives each geolocated
//! establishment the QPV it lies in (`plg_qp24`); ess-map's own answer
//! ([`Territory::locate`]) is compared with it, row by row, and each
//! disagreement is measured: how far the point is from the outline INSEE
//! names, or how deep inside the one ess-map found.

use geo::Coord;
use serde::Serialize;

use crate::report::Position;
use crate::territory::Territory;

/// A row INSEE and ess-map place differently.
#[derive(Debug, Clone, Serialize)]
pub struct Disagreement {
    pub position: Position,
    pub name: String,
    pub lon: f64,
    pub lat: f64,
    /// INSEE's QPV, `None` outside every QPV.
    pub insee: Option<String>,
    /// ess-map's QPV, `None` outside every outline.
    pub ess_map: Option<String>,
    /// Metres from the point to the outline of INSEE's QPV when ess-map
    /// finds it outside; else how deep inside ess-map's QPV it is.
    pub distance_m: f64,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.insee, &self.ess_map) {
            (Some(insee), None) => write!(
                f,
                "INSEE places it in {insee}, ess-map outside, {:.0} m from its outline",
                self.distance_m
            ),
            (Some(insee), Some(ours)) => write!(
                f,
                "INSEE places it in {insee}, ess-map in {ours}, {:.0} m from {insee}'s outline",
                self.distance_m
            ),
            (None, Some(ours)) => write!(
                f,
                "INSEE places it outside every QPV, ess-map in {ours}, {:.0} m inside its outline",
                self.distance_m
            ),
            (None, None) => write!(f, "INSEE and ess-map agree"),
        }
    }
}

/// The comparison over an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QpvCheck {
    /// Rows with coordinates and an answer from INSEE.
    pub compared: usize,
    /// In the same QPV for both.
    pub same_qpv: usize,
    /// Outside every QPV for both.
    pub both_outside: usize,
    /// INSEE's QPV has no outline here: not comparable.
    pub without_outline: usize,
    pub disagreements: Vec<Disagreement>,
}

/// One row to compare: INSEE's value as given (`QN09301M`, or a code for
/// "outside": `CSZ`, `HZ`…).
pub struct Answer {
    pub position: Position,
    pub name: String,
    pub at: Coord<f64>,
    pub insee: String,
}

impl QpvCheck {
    pub fn run(territory: &Territory, answers: Vec<Answer>) -> QpvCheck {
        let mut check = QpvCheck::default();
        for answer in answers {
            check.compared += 1;
            let insee = qpv_code(&answer.insee);
            let ours = [2024, 2025].into_iter().find_map(|generation| {
                let location = territory.locate(answer.at, 0.0, Some(generation));
                location
                    .qpv
                    .filter(|_| location.status == crate::LocationStatus::Inside)
            });
            let ours_code = ours.map(|id| territory.qpv(id).code.clone());
            let insee_outline = match &insee {
                Some(code) => match territory
                    .qpv_by_code(code)
                    .and_then(|id| territory.qpv(id).geometry.as_ref())
                {
                    Some(outline) => Some(outline),
                    None => {
                        check.without_outline += 1;
                        continue;
                    }
                },
                None => None,
            };
            if insee == ours_code {
                match insee {
                    Some(_) => check.same_qpv += 1,
                    None => check.both_outside += 1,
                }
                continue;
            }
            let distance_m = match (insee_outline, ours) {
                (Some(outline), _) => outline.distance_m(answer.at),
                (None, Some(id)) => territory
                    .qpv(id)
                    .geometry
                    .as_ref()
                    .map_or(0.0, |g| g.boundary_distance_m(answer.at)),
                (None, None) => unreachable!("equal answers are counted above"),
            };
            check.disagreements.push(Disagreement {
                position: answer.position,
                name: answer.name,
                lon: answer.at.x,
                lat: answer.at.y,
                insee,
                ess_map: ours_code,
                distance_m,
            });
        }
        check
    }
}

/// A QPV code (`QN…`, `QP…`, `QZ…`: `Q`, a letter, six more), else `None`
/// (INSEE's codes for "outside": `CSZ`, `HZ`, empty).
fn qpv_code(value: &str) -> Option<String> {
    let v = value.trim().to_uppercase();
    let bytes = v.as_bytes();
    (bytes.len() == 8
        && bytes[0] == b'Q'
        && bytes[1].is_ascii_alphabetic()
        && bytes[2..].iter().all(u8::is_ascii_alphanumeric))
    .then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_for_outside_are_not_qpv() {
        assert_eq!(qpv_code("QN09301M").as_deref(), Some("QN09301M"));
        assert_eq!(qpv_code(" qn07511m ").as_deref(), Some("QN07511M"));
        for outside in ["CSZ", "HZ", "", "-"] {
            assert_eq!(qpv_code(outside), None, "{outside}");
        }
    }
}
