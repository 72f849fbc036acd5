//! The project's category taxonomy (`data/categories.toml`): what kind of ESS
//! initiative a record is, from its source kind and keywords in its name.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::LoadError;
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

#[derive(Debug, Deserialize)]
struct TaxonomyFile {
    /// The category of records nothing else matches.
    fallback: String,
    category: Vec<Category>,
}

/// The categories, in the order they are listed (and matched).
#[derive(Debug, Clone)]
pub struct Taxonomy {
    categories: Vec<Category>,
    fallback: usize,
}

impl Taxonomy {
    pub fn from_file(path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))?;
        Self::from_toml(&text).map_err(|reason| LoadError::Manifest {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses and checks a taxonomy: unique ids, colours, a known fallback.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: TaxonomyFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut categories = file.category;
        let mut seen = std::collections::HashSet::new();
        for c in &mut categories {
            if !seen.insert(c.id.clone()) {
                return Err(format!("category `{}` is listed twice", c.id));
            }
            let hex = c.color.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                return Err(format!(
                    "category `{}`: color `{}` is not #rrggbb",
                    c.id, c.color
                ));
            }
            c.keywords = c.keywords.iter().map(|k| fold(k)).collect();
        }
        let fallback = categories
            .iter()
            .position(|c| c.id == file.fallback)
            .ok_or_else(|| format!("fallback category `{}` is not listed", file.fallback))?;
        Ok(Taxonomy {
            categories,
            fallback,
        })
    }

    pub fn all(&self) -> &[Category] {
        &self.categories
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
            .categories
            .iter()
            .find(|c| c.keywords.iter().any(|k| folded.contains(&format!(" {k}"))));
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
    fn rejects_duplicate_ids_and_bad_colours() {
        let dup = "fallback = \"a\"\n[[category]]\nid=\"a\"\nlabel=\"A\"\ndescription=\"\"\ncolor=\"#000000\"\n[[category]]\nid=\"a\"\nlabel=\"A\"\ndescription=\"\"\ncolor=\"#000000\"\n";
        assert!(
            Taxonomy::from_toml(dup)
                .unwrap_err()
                .contains("listed twice")
        );
        let colour = "fallback = \"a\"\n[[category]]\nid=\"a\"\nlabel=\"A\"\ndescription=\"\"\ncolor=\"red\"\n";
        assert!(
            Taxonomy::from_toml(colour)
                .unwrap_err()
                .contains("not #rrggbb")
        );
    }
}
