//! ESS initiatives: the record every source produces (data files, the store,
//! imports, edits), and the compact, placed initiative built from it by one
//! path: [`crate::validate::check`] then [`Initiative::new`].

use geo::Coord;
use serde::{Deserialize, Serialize};

use crate::intern::{intern, intern_opt};
use crate::model::Location;
use crate::text::fold;

/// How exact an initiative's position is: given by its source, or found by
/// a geocoder at the precision of a house number, a street, a locality, or
/// only the commune (its centre).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    Source,
    Housenumber,
    Street,
    Locality,
    Municipality,
}

impl Precision {
    /// Precise enough to be placed against QPV outlines: a commune centre is not.
    pub fn places_against_qpv(self) -> bool {
        self != Precision::Municipality
    }

    /// From an addok `result_type` (`housenumber`, `street`, `locality`,
    /// `municipality`).
    pub fn from_addok(result_type: &str) -> Option<Self> {
        Some(match result_type {
            "housenumber" => Precision::Housenumber,
            "street" => Precision::Street,
            "locality" => Precision::Locality,
            "municipality" => Precision::Municipality,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Source => "source",
            Precision::Housenumber => "housenumber",
            Precision::Street => "street",
            Precision::Locality => "locality",
            Precision::Municipality => "municipality",
        }
    }
}

/// An initiative as a source gives it, before it is placed: what the store
/// keeps, what files and edits produce.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InitiativeRecord {
    pub id: String,
    pub name: String,
    /// Trade name (enseigne), searched like the name.
    pub brand: Option<String>,
    /// A category id; empty: classified from the source kind and the name.
    #[serde(default)]
    pub category: String,
    pub source_kind: Option<String>,
    pub legal_form: Option<String>,
    pub siret: Option<String>,
    pub address: Option<String>,
    pub postcode: Option<String>,
    pub commune: Option<String>,
    pub insee_code: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    /// Opening hours as written (OpenStreetMap's `opening_hours` syntax,
    /// as data·inclusion publishes them, or free text).
    pub opening_hours: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub precision: Option<Precision>,
    pub source: String,
    pub source_date: Option<String>,
}

impl InitiativeRecord {
    pub fn position(&self) -> Option<Coord<f64>> {
        Some(Coord {
            x: self.lon?,
            y: self.lat?,
        })
    }
}

/// An ESS initiative, placed among the QPV. Values shared by many
/// initiatives are interned ([`crate::intern`]); the rest is boxed text.
#[derive(Debug, Clone, Serialize)]
pub struct Initiative {
    /// Stable id, unique across sources (`lemarche-siae-12`, `api:3`).
    pub id: Box<str>,
    pub name: Box<str>,
    pub brand: Option<Box<str>>,
    /// Category id from the taxonomy.
    pub category: &'static str,
    /// The source's own kind (`ACI`, `EI`, …).
    pub source_kind: Option<&'static str>,
    pub legal_form: Option<&'static str>,
    pub siret: Option<Box<str>>,
    pub address: Option<Box<str>>,
    pub postcode: Option<&'static str>,
    pub commune: Option<&'static str>,
    pub insee_code: Option<&'static str>,
    pub website: Option<Box<str>>,
    pub description: Option<Box<str>>,
    /// Shared by many (`Mo-Fr 09:00-17:00`): interned.
    pub opening_hours: Option<&'static str>,
    /// Longitude/latitude, WGS84.
    #[serde(skip)]
    pub position: Option<Coord<f64>>,
    /// How exact `position` is.
    pub precision: Precision,
    /// Dataset id or imported source.
    pub source: &'static str,
    pub source_date: Option<&'static str>,
    /// Place among the QPV.
    #[serde(skip)]
    pub location: Location,
    /// Name, brand and commune folded for search.
    #[serde(skip)]
    pub(crate) search_text: Box<str>,
}

impl Initiative {
    /// The initiative of a checked record ([`crate::validate::check`]), at
    /// `location`.
    pub fn new(r: InitiativeRecord, location: Location) -> Self {
        let boxed = |s: Option<String>| s.map(String::into_boxed_str);
        let mut search_text = fold(&r.name);
        for more in [r.brand.as_deref(), r.commune.as_deref()]
            .into_iter()
            .flatten()
        {
            search_text.push(' ');
            search_text.push_str(&fold(more));
        }
        Initiative {
            id: r.id.into_boxed_str(),
            name: r.name.into_boxed_str(),
            brand: boxed(r.brand),
            category: intern(&r.category),
            source_kind: intern_opt(r.source_kind.as_deref()),
            legal_form: intern_opt(r.legal_form.as_deref()),
            siret: boxed(r.siret),
            address: boxed(r.address),
            postcode: intern_opt(r.postcode.as_deref()),
            commune: intern_opt(r.commune.as_deref()),
            insee_code: intern_opt(r.insee_code.as_deref()),
            website: boxed(r.website),
            description: boxed(r.description),
            opening_hours: intern_opt(r.opening_hours.as_deref()),
            position: match (r.lon, r.lat) {
                (Some(x), Some(y)) => Some(Coord { x, y }),
                _ => None,
            },
            precision: r.precision.unwrap_or(Precision::Source),
            source: intern(&r.source),
            source_date: intern_opt(r.source_date.as_deref()),
            location,
            search_text: search_text.into_boxed_str(),
        }
    }

    /// Where it can be measured against QPV outlines: located, and more
    /// precisely than its commune.
    pub fn placed_at(&self) -> Option<Coord<f64>> {
        self.position
            .filter(|_| self.precision.places_against_qpv())
    }

    /// The record this initiative was made from: equal to it for a
    /// checked record ([`crate::validate::check`]).
    pub fn to_record(&self) -> InitiativeRecord {
        let text = |s: &Option<Box<str>>| s.as_deref().map(str::to_string);
        let shared = |s: Option<&'static str>| s.map(str::to_string);
        InitiativeRecord {
            id: self.id.to_string(),
            name: self.name.to_string(),
            brand: text(&self.brand),
            category: self.category.to_string(),
            source_kind: shared(self.source_kind),
            legal_form: shared(self.legal_form),
            siret: text(&self.siret),
            address: text(&self.address),
            postcode: shared(self.postcode),
            commune: shared(self.commune),
            insee_code: shared(self.insee_code),
            website: text(&self.website),
            description: text(&self.description),
            opening_hours: shared(self.opening_hours),
            lon: self.position.map(|p| p.x),
            lat: self.position.map(|p| p.y),
            precision: self.position.map(|_| self.precision),
            source: self.source.to_string(),
            source_date: shared(self.source_date),
        }
    }

    /// Whether every folded word appears in the name, brand or commune.
    pub fn matches_words(&self, words: &[String]) -> bool {
        words.iter().all(|w| self.search_text.contains(w.as_str()))
    }

    /// The département of its commune: from the INSEE code, else from the
    /// postcode (Corsica's 200xx–201xx are 2A, 202xx–206xx 2B).
    ///
    /// ```
    /// # use geodata::{Initiative, InitiativeRecord};
    /// # use geodata::Location;
    /// let at = |insee: Option<&str>, postcode: Option<&str>| Initiative::new(InitiativeRecord {
    ///     insee_code: insee.map(String::from), postcode: postcode.map(String::from),
    ///     ..Default::default() }, Location::OUTSIDE);
    /// assert_eq!(at(Some("93066"), None).departement(), Some("93"));
    /// assert_eq!(at(None, Some("97400")).departement(), Some("974"));
    /// assert_eq!(at(None, Some("20090")).departement(), Some("2A"));
    /// assert_eq!(at(None, None).departement(), None);
    /// ```
    pub fn departement(&self) -> Option<&str> {
        let code = self.insee_code.or(self.postcode)?;
        if code.starts_with("97") || code.starts_with("98") {
            return code.get(..3);
        }
        if self.insee_code.is_none() && code.starts_with("20") {
            return Some(if code < "20200" { "2A" } else { "2B" });
        }
        code.get(..2)
    }
}
