//! Commune centres (`communes-centroids.csv`): the offline fallback of
//! geocoding, found by INSEE code, else by postcode and name.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use geo::Coord;

use crate::load::csv_file::CsvTable;
use crate::report::{DatasetReport, LoadError};
use crate::text::fold;

/// One commune and its centre.
#[derive(Debug, Clone, PartialEq)]
pub struct CommuneCentre {
    pub insee: String,
    pub name: String,
    pub centre: Coord<f64>,
    /// Its postcodes (Paris, Lyon, Marseille: those of every arrondissement).
    pub postcodes: Vec<String>,
}

/// Every commune centre, by INSEE code and by (postcode, folded name).
#[derive(Debug, Default)]
pub struct CommuneCentres {
    communes: Vec<CommuneCentre>,
    by_code: HashMap<String, usize>,
    /// Made on the first search by name: a start that only places points
    /// (`ess-map locate` of coordinates, a server on placed data) never
    /// folds 35,000 names.
    names: OnceLock<NameIndex>,
}

#[derive(Debug, Default)]
struct NameIndex {
    by_postcode_and_name: HashMap<(String, String), usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl NameIndex {
    fn of(communes: &[CommuneCentre]) -> NameIndex {
        let mut index = NameIndex::default();
        for (i, commune) in communes.iter().enumerate() {
            let folded = fold(&commune.name);
            for postcode in &commune.postcodes {
                index
                    .by_postcode_and_name
                    .insert((postcode.clone(), folded.clone()), i);
            }
            index.by_name.entry(folded).or_default().push(i);
        }
        index
    }
}

impl CommuneCentres {
    /// Reads the file of the `communes` manifest entry (`nom`, `code`,
    /// `codes_postaux`, `longitude`, `latitude`).
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let mut table = CsvTable::open(path, &["nom", "code", "longitude", "latitude"])?;
        let column = |name| table.index_of(name).expect("checked by open");
        let (name_c, code_c, lon_c, lat_c) = (
            column("nom"),
            column("code"),
            column("longitude"),
            column("latitude"),
        );
        let postcodes_c = table.index_of("codes_postaux");
        let mut centres = CommuneCentres::default();
        let mut report = DatasetReport::new("communes", path);
        let mut record = csv::StringRecord::new();
        while table.next_record(&mut record, &mut report)?.is_some() {
            let field = |c: usize| record.get(c).map(str::trim).filter(|v| !v.is_empty());
            let (Some(name), Some(code)) = (field(name_c), field(code_c)) else {
                continue;
            };
            let parse = |c| field(c).and_then(|v| v.parse::<f64>().ok());
            let (Some(x), Some(y)) = (parse(lon_c), parse(lat_c)) else {
                continue;
            };
            let postcodes: Vec<String> = postcodes_c
                .and_then(field)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            centres
                .by_code
                .insert(code.to_string(), centres.communes.len());
            centres.communes.push(CommuneCentre {
                insee: code.to_string(),
                name: name.to_string(),
                centre: Coord { x, y },
                postcodes,
            });
        }
        Ok(centres)
    }

    fn names(&self) -> &NameIndex {
        self.names.get_or_init(|| NameIndex::of(&self.communes))
    }

    pub fn len(&self) -> usize {
        self.communes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.communes.is_empty()
    }

    /// The commune of an INSEE code (an arrondissement of Paris, Lyon or
    /// Marseille gives its city), else of a postcode and name (accents and
    /// case ignored), else of a name alone when only one commune bears it.
    pub fn find(
        &self,
        insee: Option<&str>,
        postcode: Option<&str>,
        name: Option<&str>,
    ) -> Option<&CommuneCentre> {
        let by_code = insee.and_then(|code| {
            let code = code.trim();
            self.by_code
                .get(code)
                .or_else(|| self.by_code.get(city_of_arrondissement(code)?))
        });
        let folded = || name.map(|n| fold(n.trim()));
        let by_postcode = || {
            let key = (postcode?.trim().to_string(), folded()?);
            self.names().by_postcode_and_name.get(&key)
        };
        let by_name_alone = || match self.names().by_name.get(&folded()?)?.as_slice() {
            [only] => Some(only),
            _ => None,
        };
        by_code
            .or_else(by_postcode)
            .or_else(by_name_alone)
            .map(|&i| &self.communes[i])
    }
}

impl CommuneCentres {
    /// The commune a record names (INSEE code, else postcode and name).
    pub fn of_record(&self, r: &crate::InitiativeRecord) -> Option<&CommuneCentre> {
        self.find(
            r.insee_code.as_deref(),
            r.postcode.as_deref(),
            r.commune.as_deref(),
        )
    }

    /// Places a record without coordinates at its commune's centre, with
    /// `precision = municipality`: shown on the map, not placed against
    /// QPV. False when its commune is not found.
    pub fn place_at_centre(&self, r: &mut crate::InitiativeRecord) -> bool {
        let Some(c) = self.of_record(r) else {
            return false;
        };
        r.lon = Some(c.centre.x);
        r.lat = Some(c.centre.y);
        r.precision = Some(crate::Precision::Municipality);
        true
    }

    /// Every commune.
    pub fn all(&self) -> &[CommuneCentre] {
        &self.communes
    }
}

/// Paris (751xx), Lyon (6938x) and Marseille (132xx) arrondissements belong
/// to the communes 75056, 69123 and 13055.
pub(crate) fn city_of_arrondissement(code: &str) -> Option<&'static str> {
    if code.starts_with("751") && code != "75100" {
        Some("75056")
    } else if code.starts_with("6938") {
        Some("69123")
    } else if code.starts_with("132") {
        Some("13055")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_by_code_arrondissement_postcode_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(
            &path,
            "nom,code,codes_postaux,region_nom,region_code,departement_nom,departement_code,longitude,latitude\n\
             Paris,75056,\"75001,75018\",Île-de-France,11,Paris,75,2.347,48.8589\n\
             Saint-Denis,93066,\"93200,93210\",Île-de-France,11,Seine-Saint-Denis,93,2.3569,48.9295\n\
             Saint-Denis,97411,97400,La Réunion,04,La Réunion,974,55.4481,-20.8823\n",
        )
        .unwrap();
        let c = CommuneCentres::from_file(&path).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(
            c.find(Some("93066"), None, None).unwrap().name,
            "Saint-Denis"
        );
        assert_eq!(c.find(Some("75118"), None, None).unwrap().insee, "75056");
        let by_postcode = c.find(None, Some("97400"), Some("SAINT DENIS")).unwrap();
        assert_eq!(by_postcode.insee, "97411");
        // Two communes of that name and no postcode: not a guess.
        assert_eq!(c.find(None, None, Some("Saint-Denis")), None);
        assert_eq!(c.find(None, None, Some("paris")).unwrap().insee, "75056");
        assert_eq!(c.find(Some("99999"), None, None), None);
    }
}
