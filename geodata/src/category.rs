//! The project's category taxonomy (`data/categories.toml`): what kind of ESS
//! initiative a record is, from its source kind and keywords in its name.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::{ConfigError, LoadError};
use crate::text::fold;

/// One category, with its French label and map colour.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Category {
    pub id: String,
    pub label: String,
    pub description: String,
    /// `#rrggbb`, chosen for contrast on a light map.
    pub color: String,
    /// Source kinds (`ACI`, `EI`, …) that belong here.
    #[serde(default)]
    pub source_kinds: Vec<String>,
    /// Words in a name (folded: no accents, lower case) that put a record here
    /// whatever its source kind.
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// Categories gathered for analysis: "any work-integration structure". An
/// initiative belongs through its category or through its source kind (a
/// régie de quartier run as an ACI is a régie on the map, and still an SIAE).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub label: String,
    pub description: String,
    pub categories: Vec<String>,
    #[serde(default)]
    pub source_kinds: Vec<String>,
}

impl Group {
    pub fn contains(&self, category: &str, source_kind: Option<&str>) -> bool {
        self.categories.iter().any(|c| c == category)
            || source_kind.is_some_and(|kind| {
                self.source_kinds
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(kind.trim()))
            })
    }
}

#[derive(Debug, Deserialize)]
struct TaxonomyFile {
    /// The category of records nothing else matches.
    fallback: String,
    category: Vec<Category>,
    #[serde(default)]
    group: Vec<Group>,
    #[serde(default)]
    profile: BTreeMap<String, BTreeMap<String, String>>,
}

/// The categories, in the order they are listed (and matched), and the
/// groups of categories.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    categories: Vec<Category>,
    groups: Vec<Group>,
    fallback: usize,
    /// Per category, each keyword as found in folded text: ` <keyword>`.
    patterns: Vec<Vec<String>>,
    /// Per category, its label folded.
    folded_labels: Vec<String>,
    /// Per import profile, the source's words for a kind of structure and
    /// the source kind each stands for (`aci` → `ACI`).
    profiles: BTreeMap<String, BTreeMap<String, String>>,
}

impl Taxonomy {
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
        Self::from_toml(&text).map_err(|source| LoadError::Config {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses and checks a taxonomy: unique ids, colours, a known fallback.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let file: TaxonomyFile = toml::from_str(text)?;
        let mut categories = file.category;
        let mut seen = std::collections::HashSet::new();
        for c in &mut categories {
            if !seen.insert(c.id.clone()) {
                return Err(ConfigError::DuplicateCategory(c.id.clone()));
            }
            let hex = c.color.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err(ConfigError::BadColour {
                    id: c.id.clone(),
                    color: c.color.clone(),
                });
            }
            c.keywords = c.keywords.iter().map(|k| fold(k)).collect();
        }
        let fallback = categories
            .iter()
            .position(|c| c.id == file.fallback)
            .ok_or_else(|| ConfigError::UnknownFallback(file.fallback.clone()))?;
        for g in &file.group {
            if !seen.insert(g.id.clone()) {
                return Err(ConfigError::GroupIdTaken(g.id.clone()));
            }
            if let Some(unknown) = g
                .categories
                .iter()
                .find(|c| !categories.iter().any(|k| &k.id == *c))
            {
                return Err(ConfigError::GroupUnknownCategory {
                    group: g.id.clone(),
                    category: unknown.clone(),
                });
            }
        }
        Ok(Taxonomy {
            patterns: categories
                .iter()
                .map(|c| c.keywords.iter().map(|k| format!(" {k}")).collect())
                .collect(),
            folded_labels: categories.iter().map(|c| fold(&c.label)).collect(),
            categories,
            groups: file.group,
            fallback,
            profiles: file.profile,
        })
    }

    /// The kinds an import profile recognises (`[profile.<name>]`): the
    /// source's word, folded to lower case, and the source kind it stands for.
    pub fn profile_kinds(&self, profile: &str) -> Option<&BTreeMap<String, String>> {
        self.profiles.get(profile)
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Whether `id` names a category or a group: what a gap analysis can ask for.
    pub fn is_kind(&self, id: &str) -> bool {
        self.get(id).is_some() || self.group(id).is_some()
    }

    /// The kinds an initiative counts for: its category, then its groups.
    pub fn kinds_of<'a>(
        &'a self,
        category: &'a str,
        source_kind: Option<&'a str>,
    ) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::once(category).chain(
            self.groups
                .iter()
                .filter(move |g| g.contains(category, source_kind))
                .map(|g| g.id.as_str()),
        )
    }

    pub fn all(&self) -> &[Category] {
        &self.categories
    }

    /// The category whose id is `text`, or whose label is, accents and case
    /// aside.
    pub fn named(&self, text: &str) -> Option<&Category> {
        if let Some(c) = self.get(text) {
            return Some(c);
        }
        let folded = fold(text);
        self.folded_labels
            .iter()
            .position(|l| *l == folded)
            .map(|i| &self.categories[i])
    }

    pub fn get(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The category of a record: the first whose keyword appears in `text`
    /// (name, brand, activity hints), else the first listing `source_kind`,
    /// else the fallback.
    ///
    /// Keywords win over kinds because they say what the initiative does (a
    /// recyclerie run as a chantier d'insertion is a recyclerie on the map).
    pub fn classify(&self, source_kind: &str, text: &str) -> &Category {
        let folded = format!(" {} ", fold(text));
        let by_keyword = self
            .patterns
            .iter()
            .position(|keywords| keywords.iter().any(|k| folded.contains(k.as_str())))
            .map(|i| &self.categories[i]);
        let by_kind = || {
            self.categories.iter().find(|c| {
                c.source_kinds
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(source_kind.trim()))
            })
        };
        by_keyword
            .or_else(by_kind)
            .unwrap_or(&self.categories[self.fallback])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taxonomy() -> Taxonomy {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/categories.toml");
        Taxonomy::from_file(&path).expect("project taxonomy loads")
    }

    #[test]
    fn keywords_win_over_kinds() {
        let t = taxonomy();
        assert_eq!(
            t.classify("ACI", "Régie de Quartier de Saint-Denis").id,
            "regie_quartier"
        );
        assert_eq!(t.classify("ACI", "LA RECYCLERIE DU LOT").id, "recyclerie");
        assert_eq!(
            t.classify("EI", "Garage solidaire du Hainaut").id,
            "garage_mobilite"
        );
        assert_eq!(
            t.classify("ACI", "Les Jardins de Cocagne").id,
            "jardin_maraichage"
        );
        assert_eq!(t.classify("EI", "Baluchon à table").id, "insertion_ei");
        assert_eq!(t.classify("ETTI", "INTERIM 93").id, "insertion_etti");
        assert_eq!(
            t.classify("supermarche_cooperatif_participatif", "La Louve")
                .id,
            "supermarche_cooperatif"
        );
        assert_eq!(t.classify("???", "Unknown").id, t.all()[t.fallback].id);
    }

    #[test]
    fn keyword_must_start_a_word() {
        // "garage" inside another word is not a garage.
        let t = taxonomy();
        assert_ne!(t.classify("EI", "Sgaragel").id, "garage_mobilite");
    }

    #[test]
    fn siae_group_counts_by_category_or_by_source_kind() {
        let t = taxonomy();
        let kinds = |category, kind| t.kinds_of(category, kind).collect::<Vec<_>>();
        assert_eq!(
            kinds("insertion_aci", Some("ACI")),
            ["insertion_aci", "siae"]
        );
        // Filed by activity, still a work-integration structure.
        assert_eq!(
            kinds("regie_quartier", Some("ACI")),
            ["regie_quartier", "siae"]
        );
        assert_eq!(kinds("insertion_ei", None), ["insertion_ei", "siae"]);
        assert_eq!(kinds("regie_quartier", None), ["regie_quartier"]);
        assert_eq!(kinds("travail_adapte", Some("ESAT")), ["travail_adapte"]);
        assert_eq!(kinds("geiq", Some("GEIQ")), ["geiq"]);
        assert!(t.is_kind("siae") && t.is_kind("geiq") && !t.is_kind("nope"));
        let unknown = "fallback = \"a\"\n[[category]]\nid=\"a\"\nlabel=\"A\"\ndescription=\"\"\ncolor=\"#000000\"\n[[group]]\nid=\"g\"\nlabel=\"G\"\ndescription=\"\"\ncategories=[\"b\"]\n";
        assert!(
            Taxonomy::from_toml(unknown)
                .unwrap_err()
                .to_string()
                .contains("unknown category `b`")
        );
    }

    #[test]
    fn rejects_duplicate_ids_and_bad_colours() {
        let dup = "fallback = \"a\"\n[[category]]\nid=\"a\"\nlabel=\"A\"\ndescription=\"\"\ncolor=\"#000000\"\n[[category]]\nid=\"a\"\nlabel=\"A\"\ndescription=\"\"\ncolor=\"#000000\"\n";
        assert!(
            Taxonomy::from_toml(dup)
                .unwrap_err()
                .to_string()
                .contains("listed twice")
        );
        let colour = "fallback = \"a\"\n[[category]]\nid=\"a\"\nlabel=\"A\"\ndescription=\"\"\ncolor=\"red\"\n";
        assert!(
            Taxonomy::from_toml(colour)
                .unwrap_err()
                .to_string()
                .contains("not #rrggbb")
        );
    }
}
