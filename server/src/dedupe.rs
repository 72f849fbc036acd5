//! One record per structure across sources: which existing initiative a
//! record describes too. A sure match — the same valid SIRET, or the same
//! valid SIREN at the same address within [`NEAR_M`] — is merged at once;
//! a close name (normalised, Jaro–Winkler at least [`NEAR_SCORE`]) within
//! [`NEAR_M`] and no SIRET telling them apart is queued for a moderator.
//!
//! The existing initiatives are read through [`Existing`]: an index made
//! once for an import's thousands of rows ([`Index`]), or the served
//! version itself for one record ([`geodata::Dataset`]).

use std::collections::HashMap;
use std::sync::Arc;

use geo::{Coord, Distance, Geodesic, Point};
use geodata::{Dataset, Initiative, InitiativeRecord};
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// How far apart two records of one structure may be placed (metres).
pub const NEAR_M: f64 = 150.0;
/// The least Jaro–Winkler similarity of normalised names for a near-match.
pub const NEAR_SCORE: f64 = 0.90;

/// Whether a SIRET is 14 digits passing the Luhn check (La Poste's
/// establishments, SIREN 356000000, use the sum of digits modulo 5).
pub fn valid_siret(siret: &str) -> bool {
    let digits: Vec<u32> = siret.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 14 || siret.len() != 14 {
        return false;
    }
    if siret.starts_with("356000000") {
        return digits.iter().sum::<u32>().is_multiple_of(5);
    }
    luhn(&digits)
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Words that say what kind of body a structure is, not which one.
const GENERIC_WORDS: &[&str] = &[
    "association",
    "asso",
    "esat",
    "sas",
    "sarl",
    "sa",
    "scop",
    "scic",
    "sasu",
    "eurl",
    "ste",
    "societe",
    "cooperative",
    "le",
    "la",
    "les",
    "l",
    "de",
    "du",
    "des",
    "d",
    "et",
    "a",
    "au",
    "aux",
    "en",
];

/// A name as compared: folded (accents, case, punctuation) without legal
/// forms and articles. « SCOP Les Jardins d'Épinay » → « jardins epinay ».
pub fn normalise_name(name: &str) -> String {
    let folded = geodata::text::fold(name);
    let kept: Vec<&str> = folded
        .split(' ')
        .filter(|w| !w.is_empty() && !GENERIC_WORDS.contains(w))
        .collect();
    if kept.is_empty() {
        folded
    } else {
        kept.join(" ")
    }
}

fn normalise_address(address: &str) -> String {
    geodata::text::fold(address)
}

/// An existing initiative as matching reads it.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: String,
    pub source: String,
    pub name: String,
    pub siret: Option<String>,
    pub address: Option<String>,
    pub position: Option<Coord<f64>>,
}

impl Known {
    pub fn of(x: &Initiative) -> Known {
        Known {
            id: x.id.to_string(),
            source: x.source.to_string(),
            name: x.name.to_string(),
            siret: x.siret().map(str::to_string),
            address: x.address().map(str::to_string),
            // At a commune's centre too: two records of one name there are
            // as likely one structure as two at one address.
            position: x.position,
        }
    }
}

/// Where matching finds the existing initiatives.
pub trait Existing {
    /// Those with this SIRET.
    fn with_siret(&self, siret: &str) -> Vec<Known>;
    /// Those placed within `metres` of `at` (a box around it is enough:
    /// distances are measured after).
    fn around(&self, at: Coord<f64>, metres: f64) -> Vec<Known>;
}

/// What a record matches.
#[derive(Debug, Clone, Default)]
pub struct Matches {
    /// The structure it surely is: (id, why).
    pub sure: Option<(String, &'static str)>,
    /// Structures it may be, best first.
    pub near: Vec<NearMatch>,
}

#[derive(Debug, Clone)]
pub struct NearMatch {
    pub id: String,
    /// Jaro–Winkler of the normalised names.
    pub score: f64,
    pub distance_m: f64,
}

/// What `record` (of source `record.source`, id `record.id` if it has one)
/// matches among `existing`, other sources' initiatives only: a source's
/// own rows are its own business.
pub fn find(existing: &impl Existing, record: &InitiativeRecord) -> Matches {
    let other = |k: &Known| k.source != record.source && k.id != record.id;
    let siret = record.siret.as_deref().filter(|s| valid_siret(s));
    if let Some(s) = siret
        && let Some(k) = existing.with_siret(s).into_iter().find(|k| other(k))
    {
        return Matches {
            sure: Some((k.id, "même SIRET")),
            near: Vec::new(),
        };
    }
    let Some(at) = record.position() else {
        return Matches::default();
    };
    let name = normalise_name(&record.name);
    let address = record.address.as_deref().map(normalise_address);
    let mut near = Vec::new();
    for k in existing.around(at, NEAR_M) {
        let Some(p) = k.position.filter(|_| other(&k)) else {
            continue;
        };
        let distance_m = Geodesic.distance(Point(at), Point(p));
        if distance_m > NEAR_M {
            continue;
        }
        let their_siret = k.siret.as_deref().filter(|s| valid_siret(s));
        if let (Some(a), Some(b)) = (siret, their_siret) {
            if a[..9] == b[..9]
                && address.is_some()
                && address == k.address.as_deref().map(normalise_address)
            {
                return Matches {
                    sure: Some((k.id, "même SIREN à la même adresse")),
                    near: Vec::new(),
                };
            }
            // Two establishments, each with its own number.
            continue;
        }
        let score = strsim::jaro_winkler(&name, &normalise_name(&k.name));
        if score >= NEAR_SCORE {
            near.push(NearMatch {
                id: k.id,
                score,
                distance_m,
            });
        }
    }
    near.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.distance_m.total_cmp(&b.distance_m))
    });
    Matches { sure: None, near }
}

/// A box of at least `metres` around `at`, in degrees.
fn box_around(at: Coord<f64>, metres: f64) -> geo::Rect<f64> {
    geodata::geodesy::LocalFrame::search_box(geo::Rect::new(at, at), metres)
}

/// The served version: SIRET by a scan (one record at a time: a creation,
/// a proposal), places through its R-trees.
impl Existing for Dataset {
    fn with_siret(&self, siret: &str) -> Vec<Known> {
        self.initiatives()
            .iter()
            .filter(|x| x.siret() == Some(siret))
            .map(|x| Known::of(x))
            .collect()
    }

    fn around(&self, at: Coord<f64>, metres: f64) -> Vec<Known> {
        self.initiatives_in(box_around(at, metres))
            .into_iter()
            .map(|x| Known::of(x))
            .collect()
    }
}

/// The existing initiatives indexed once, for an import's rows (the
/// initiatives are shared with the version served, not copied).
pub struct Index {
    rows: Vec<Arc<Initiative>>,
    by_siret: HashMap<u64, Vec<u32>>,
    places: RTree<GeomWithData<[f64; 2], u32>>,
}

impl Index {
    pub fn new(initiatives: impl Iterator<Item = Arc<Initiative>>) -> Index {
        let rows: Vec<Arc<Initiative>> = initiatives.collect();
        let mut by_siret: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut points = Vec::new();
        for (i, x) in rows.iter().enumerate() {
            if let Some(s) = x.siret().filter(|s| valid_siret(s)) {
                let number = s.parse().expect("14 digits");
                by_siret.entry(number).or_default().push(i as u32);
            }
            if let Some(p) = x.position {
                points.push(GeomWithData::new([p.x, p.y], i as u32));
            }
        }
        Index {
            rows,
            by_siret,
            places: RTree::bulk_load(points),
        }
    }
}

impl Existing for Index {
    fn with_siret(&self, siret: &str) -> Vec<Known> {
        let Ok(number) = siret.parse::<u64>() else {
            return Vec::new();
        };
        self.by_siret
            .get(&number)
            .into_iter()
            .flatten()
            .map(|&i| Known::of(&self.rows[i as usize]))
            .collect()
    }

    fn around(&self, at: Coord<f64>, metres: f64) -> Vec<Known> {
        let (min, max) = {
            let area = box_around(at, metres);
            (area.min(), area.max())
        };
        let aabb = rstar::AABB::from_corners([min.x, min.y], [max.x, max.y]);
        self.places
            .locate_in_envelope(&aabb)
            .map(|p| Known::of(&self.rows[p.data as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sirets_are_checked_with_luhn() {
        assert!(valid_siret("73282932000074"));
        assert!(!valid_siret("73282932000075"));
        assert!(!valid_siret("7328293200007"));
        assert!(!valid_siret("7328293200007a"));
        // La Poste: sum of digits modulo 5.
        assert!(valid_siret("35600000000010"));
    }

    #[test]
    fn names_are_compared_without_legal_forms_or_articles() {
        assert_eq!(
            normalise_name("SCOP Les Jardins d'Épinay"),
            "jardins epinay"
        );
        assert_eq!(normalise_name("Association LA"), "association la");
        let a = normalise_name("Régie de quartier Saint-Denis");
        let b = normalise_name("REGIE DE QUARTIERS DE SAINT DENIS");
        assert!(strsim::jaro_winkler(&a, &b) >= NEAR_SCORE);
        let c = normalise_name("Garage solidaire du Blanc-Mesnil");
        assert!(strsim::jaro_winkler(&a, &c) < NEAR_SCORE);
    }

    fn record(
        id: &str,
        source: &str,
        name: &str,
        siret: Option<&str>,
        lon: f64,
    ) -> InitiativeRecord {
        InitiativeRecord {
            id: id.into(),
            name: name.into(),
            source: source.into(),
            siret: siret.map(str::to_string),
            address: Some("1 rue de la Paix".into()),
            lon: Some(lon),
            lat: Some(48.9),
            ..Default::default()
        }
    }

    #[test]
    fn sure_and_near_matches_across_sources_only() {
        let existing: Vec<Arc<Initiative>> = [
            record(
                "esat-1",
                "esat",
                "ESAT Les Ateliers",
                Some("73282932000074"),
                2.35,
            ),
            record(
                "siae-2",
                "siae",
                "Régie de quartier Saint-Denis",
                None,
                2.36,
            ),
            record(
                "siae-3",
                "siae",
                "Garage solidaire",
                Some("44306184100047"),
                2.37,
            ),
        ]
        .into_iter()
        .map(|r| Arc::new(Initiative::new(r, geodata::Location::OUTSIDE)))
        .collect();
        let index = Index::new(existing.into_iter());
        let check = |r: InitiativeRecord, sure: Option<&str>, near: &[&str]| {
            let m = find(&index, &r);
            assert_eq!(m.sure.as_ref().map(|s| s.0.as_str()), sure, "{}", r.name);
            let ids: Vec<&str> = m.near.iter().map(|n| n.id.as_str()).collect();
            assert_eq!(ids, near, "{}", r.name);
        };
        // Same SIRET, another source, far away: sure.
        let ateliers = record("", "reseau", "Ateliers", Some("73282932000074"), 2.5);
        check(ateliers, Some("esat-1"), &[]);
        // Same SIRET, same source: its own row.
        check(
            record("", "esat", "x", Some("73282932000074"), 2.35),
            None,
            &[],
        );
        // A close name 70 m away: queued.
        let regie = "REGIE DE QUARTIERS DE SAINT DENIS";
        check(record("", "reseau", regie, None, 2.3609), None, &["siae-2"]);
        // The same name 400 m away: not the same place.
        let far = record("", "reseau", "Régie de quartier Saint-Denis", None, 2.3655);
        check(far, None, &[]);
        // Another valid SIRET of another SIREN at the same place: another
        // establishment, whatever its name.
        let other = record(
            "",
            "reseau",
            "Garage solidaire",
            Some("73282932000009"),
            2.37,
        );
        check(other, None, &[]);
        // Without a SIRET, the same name there is queued.
        check(
            record("", "reseau", "Garage solidaire", None, 2.3702),
            None,
            &["siae-3"],
        );
        // Same SIREN at the same address: sure.
        let sibling = record("", "reseau", "Garage", Some("44306184100013"), 2.3701);
        check(sibling, Some("siae-3"), &[]);
    }
}
