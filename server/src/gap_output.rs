//! The gap table in the forms planners use, for the API and the CLI alike.

use geodata::Dataset;
use geodata::gaps::{CsvStyle, GapQuery, QpvGap, to_csv, to_geojson};
use serde_json::json;

/// How to write the gap table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GapFormat {
    Json,
    Csv,
    Geojson,
}

impl GapFormat {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "json" => GapFormat::Json,
            "csv" => GapFormat::Csv,
            "geojson" => GapFormat::Geojson,
            _ => return None,
        })
    }
}

/// One sentence that explains the ranking, shown with every table.
pub const RANKING: &str = "Les quartiers sans initiative dans le rayon viennent en premier, classés par distance à l'initiative la plus proche (en km, plafonnée à 5) multipliée par la population en dizaines de milliers d'habitants (1 si inconnue).";

/// Content type and body.
pub fn render(
    data: &Dataset,
    query: &GapQuery,
    rows: &[QpvGap],
    format: GapFormat,
    csv: CsvStyle,
) -> (&'static str, Vec<u8>) {
    match format {
        GapFormat::Csv => ("text/csv; charset=utf-8", to_csv(data, rows, csv)),
        GapFormat::Geojson => {
            let mut fc = serde_json::to_value(to_geojson(data, rows)).expect("GeoJSON serialises");
            fc["radius_m"] = json!(query.radius_m);
            fc["ranking"] = json!(RANKING);
            (
                "application/geo+json",
                serde_json::to_vec(&fc).expect("JSON"),
            )
        }
        GapFormat::Json => {
            let gaps: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(geodata::gaps::record(data, r).into_iter().collect())
                })
                .collect();
            let body = json!({
                "radius_m": query.radius_m,
                "categories": if query.categories.is_empty() {
                    data.taxonomy.all().iter().map(|c| c.id.clone()).collect()
                } else {
                    query.categories.clone()
                },
                "ranking": RANKING,
                "count": rows.len(),
                "uncovered": rows.iter().filter(|r| r.gap).count(),
                "gaps": gaps,
            });
            ("application/json", serde_json::to_vec(&body).expect("JSON"))
        }
    }
}
