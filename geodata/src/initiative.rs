//! ESS initiatives: the record every source produces (data files, the store,
//! imports, edits), and the compact, placed initiative built from it by one
//! path: [`crate::validate::check`] then [`Initiative::new`].

use geo::Coord;
use serde::{Deserialize, Serialize};

use crate::intern::{Sym, sym, sym_opt};
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
    /// The id of the record describing the same structure that is shown
    /// and counted in its place (a merge of duplicates across sources):
    /// this one is kept, with its source and date, but never placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
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
/// initiatives are interned ([`crate::intern`]); the optional texts are kept
/// one after the other in one allocation ([`Initiative::brand`] …): at a
/// million initiatives every word of this struct counts.
#[derive(Debug, Clone)]
pub struct Initiative {
    /// Stable id, unique across sources (`lemarche-siae-12`, `api:3`).
    pub id: Box<str>,
    pub name: Box<str>,
    /// Brand, SIRET, address, website, description, then the search text
    /// (name, brand and commune folded), one after the other.
    texts: Box<str>,
    /// Where each of `texts` ends; [`ABSENT`] set: that text is `None`.
    ends: [u32; TEXTS],
    /// Category id from the taxonomy.
    pub category: Sym,
    /// The source's own kind (`ACI`, `EI`, …).
    pub source_kind: Option<Sym>,
    pub legal_form: Option<Sym>,
    pub postcode: Option<Sym>,
    pub commune: Option<Sym>,
    pub insee_code: Option<Sym>,
    /// Shared by many (`Mo-Fr 09:00-17:00`): interned.
    pub opening_hours: Option<Sym>,
    /// Longitude/latitude, WGS84.
    pub position: Option<Coord<f64>>,
    /// How exact `position` is.
    pub precision: Precision,
    /// Dataset id or imported source.
    pub source: Sym,
    pub source_date: Option<Sym>,
    /// Place among the QPV.
    pub location: Location,
}

/// The fields as the API writes them (in this order; the position, the
/// placement and the search text are written by their callers or not at
/// all).
impl Serialize for Initiative {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Initiative", 17)?;
        out.serialize_field("id", &self.id)?;
        out.serialize_field("name", &self.name)?;
        out.serialize_field("brand", &self.brand())?;
        out.serialize_field("category", &self.category)?;
        out.serialize_field("source_kind", &self.source_kind)?;
        out.serialize_field("legal_form", &self.legal_form)?;
        out.serialize_field("siret", &self.siret())?;
        out.serialize_field("address", &self.address())?;
        out.serialize_field("postcode", &self.postcode)?;
        out.serialize_field("commune", &self.commune)?;
        out.serialize_field("insee_code", &self.insee_code)?;
        out.serialize_field("website", &self.website())?;
        out.serialize_field("description", &self.description())?;
        out.serialize_field("opening_hours", &self.opening_hours)?;
        out.serialize_field("precision", &self.precision)?;
        out.serialize_field("source", &self.source)?;
        out.serialize_field("source_date", &self.source_date)?;
        out.end()
    }
}

const TEXTS: usize = 6;
const ABSENT: u32 = 1 << 31;
const BRAND: usize = 0;
const SIRET: usize = 1;
const ADDRESS: usize = 2;
const WEBSITE: usize = 3;
const DESCRIPTION: usize = 4;
const SEARCH: usize = 5;

/// The optional texts packed as [`Initiative`] keeps them.
fn pack(texts: [Option<&str>; TEXTS]) -> (Box<str>, [u32; TEXTS]) {
    let mut all = String::with_capacity(texts.iter().flatten().map(|t| t.len()).sum());
    let mut ends = [0; TEXTS];
    for (end, text) in ends.iter_mut().zip(texts) {
        match text {
            Some(t) => {
                all.push_str(t);
                *end = all.len() as u32;
            }
            None => *end = all.len() as u32 | ABSENT,
        }
    }
    (all.into_boxed_str(), ends)
}

impl Initiative {
    /// The initiative of a checked record ([`crate::validate::check`]), at
    /// `location`.
    pub fn new(r: InitiativeRecord, location: Location) -> Self {
        let mut search_text = fold(&r.name);
        for more in [r.brand.as_deref(), r.commune.as_deref()]
            .into_iter()
            .flatten()
        {
            search_text.push(' ');
            search_text.push_str(&fold(more));
        }
        let (texts, ends) = pack([
            r.brand.as_deref(),
            r.siret.as_deref(),
            r.address.as_deref(),
            r.website.as_deref(),
            r.description.as_deref(),
            Some(&search_text),
        ]);
        Initiative {
            id: r.id.into_boxed_str(),
            name: r.name.into_boxed_str(),
            texts,
            ends,
            category: sym(&r.category),
            source_kind: sym_opt(r.source_kind.as_deref()),
            legal_form: sym_opt(r.legal_form.as_deref()),
            postcode: sym_opt(r.postcode.as_deref()),
            commune: sym_opt(r.commune.as_deref()),
            insee_code: sym_opt(r.insee_code.as_deref()),
            opening_hours: sym_opt(r.opening_hours.as_deref()),
            position: match (r.lon, r.lat) {
                (Some(x), Some(y)) => Some(Coord { x, y }),
                _ => None,
            },
            precision: r.precision.unwrap_or(Precision::Source),
            source: sym(&r.source),
            source_date: sym_opt(r.source_date.as_deref()),
            location,
        }
    }

    /// The same initiative from its parts as [`Self::parts`] gives them
    /// (a snapshot read back).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        id: Box<str>,
        name: Box<str>,
        texts: [Option<&str>; TEXTS],
        category: Sym,
        source: Sym,
        shared: [Option<Sym>; 7],
        position: Option<Coord<f64>>,
        precision: Precision,
        location: Location,
    ) -> Initiative {
        let (texts, ends) = pack(texts);
        let [
            source_kind,
            legal_form,
            postcode,
            commune,
            insee_code,
            opening_hours,
            source_date,
        ] = shared;
        Initiative {
            id,
            name,
            texts,
            ends,
            category,
            source_kind,
            legal_form,
            postcode,
            commune,
            insee_code,
            opening_hours,
            position,
            precision,
            source,
            source_date,
            location,
        }
    }

    fn text(&self, k: usize) -> Option<&str> {
        let end = self.ends[k];
        if end & ABSENT != 0 {
            return None;
        }
        let start = if k == 0 {
            0
        } else {
            self.ends[k - 1] & !ABSENT
        };
        self.texts.get(start as usize..end as usize)
    }

    pub fn brand(&self) -> Option<&str> {
        self.text(BRAND)
    }

    pub fn siret(&self) -> Option<&str> {
        self.text(SIRET)
    }

    pub fn address(&self) -> Option<&str> {
        self.text(ADDRESS)
    }

    pub fn website(&self) -> Option<&str> {
        self.text(WEBSITE)
    }

    pub fn description(&self) -> Option<&str> {
        self.text(DESCRIPTION)
    }

    /// Name, brand and commune folded for search.
    pub(crate) fn search_text(&self) -> &str {
        self.text(SEARCH).unwrap_or_default()
    }

    /// The optional texts in the order [`Self::from_parts`] takes them.
    pub(crate) fn texts(&self) -> [Option<&str>; TEXTS] {
        std::array::from_fn(|k| self.text(k))
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
        let text = |s: Option<&str>| s.map(str::to_string);
        let shared = |s: Option<Sym>| s.map(|s| s.to_string());
        InitiativeRecord {
            id: self.id.to_string(),
            name: self.name.to_string(),
            brand: text(self.brand()),
            category: self.category.to_string(),
            source_kind: shared(self.source_kind),
            legal_form: shared(self.legal_form),
            siret: text(self.siret()),
            address: text(self.address()),
            postcode: shared(self.postcode),
            commune: shared(self.commune),
            insee_code: shared(self.insee_code),
            website: text(self.website()),
            description: text(self.description()),
            opening_hours: shared(self.opening_hours),
            lon: self.position.map(|p| p.x),
            lat: self.position.map(|p| p.y),
            precision: self.position.map(|_| self.precision),
            source: self.source.to_string(),
            source_date: shared(self.source_date),
            merged_into: None,
        }
    }

    /// Whether every folded word appears in the name, brand or commune.
    pub fn matches_words(&self, words: &[String]) -> bool {
        let text = self.search_text();
        words.iter().all(|w| text.contains(w.as_str()))
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
        let code = self.insee_code.or(self.postcode)?.as_str();
        if code.starts_with("97") || code.starts_with("98") {
            return code.get(..3);
        }
        if self.insee_code.is_none() && code.starts_with("20") {
            return Some(if code < "20200" { "2A" } else { "2B" });
        }
        code.get(..2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packed texts give back each one, an empty one told from none.
    #[test]
    fn packed_texts_come_back_as_given() {
        let record = InitiativeRecord {
            id: "a".into(),
            name: "Régie Nord".into(),
            brand: None,
            category: "regie_quartier".into(),
            siret: Some("12345678900011".into()),
            address: Some(String::new()),
            website: None,
            description: Some("« ligne »\nsuite".into()),
            commune: Some("Saint-Denis".into()),
            source: "test".into(),
            lon: Some(2.35),
            lat: Some(48.9),
            precision: Some(Precision::Source),
            ..Default::default()
        };
        let x = Initiative::new(record.clone(), Location::OUTSIDE);
        assert_eq!(x.brand(), None);
        assert_eq!(x.siret(), Some("12345678900011"));
        assert_eq!(x.address(), Some(""));
        assert_eq!(x.website(), None);
        assert_eq!(x.description(), Some("« ligne »\nsuite"));
        assert_eq!(x.search_text(), "regie nord saint denis");
        assert_eq!(x.to_record(), record);
        assert!(x.matches_words(&["nord".into(), "denis".into()]));
    }
}
