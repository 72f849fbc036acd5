//! The gap analysis in the formats it is served and written in: JSON,
//! CSV (for a spreadsheet or a script), GeoJSON and GeoPackage (QPV
//! outlines, for QGIS), all from the one table of [`geodata::gaps::table`].

use geodata::Dataset;
use geodata::gaps::{GapQuery, QpvGap, RANKING, data_dates, table};

use super::CsvStyle;

/// How to write the gap table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapFormat {
    Json,
    Csv(CsvStyle),
    Geojson,
    Geopackage,
}

impl GapFormat {
    pub const NAMES: [&'static str; 4] = ["json", "csv", "geojson", "gpkg"];

    /// By its name, CSV in `csv` style.
    pub fn from_name(name: &str, csv: CsvStyle) -> Option<Self> {
        Some(match name {
            "json" => GapFormat::Json,
            "csv" => GapFormat::Csv(csv),
            "geojson" => GapFormat::Geojson,
            "gpkg" => GapFormat::Geopackage,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            GapFormat::Json => "application/json",
            GapFormat::Csv(_) => "text/csv; charset=utf-8",
            GapFormat::Geojson => "application/geo+json",
            GapFormat::Geopackage => GEOPACKAGE,
        }
    }

    /// The extension of a downloaded file, `None` for JSON (shown, not
    /// downloaded).
    pub fn extension(self) -> Option<&'static str> {
        match self {
            GapFormat::Json => None,
            GapFormat::Csv(_) => Some("csv"),
            GapFormat::Geojson => Some("geojson"),
            GapFormat::Geopackage => Some("gpkg"),
        }
    }
}

pub const GEOPACKAGE: &str = "application/geopackage+sqlite3";

/// The analysis's rows in `format`: the body to serve or write.
pub fn render(
    data: &Dataset,
    query: &GapQuery,
    rows: &[QpvGap],
    format: GapFormat,
) -> anyhow::Result<Vec<u8>> {
    let table = table(data, query, rows);
    let kinds = query.kinds(data.territory());
    Ok(match format {
        GapFormat::Csv(style) => super::csv::table_bytes(&table, style),
        GapFormat::Json => {
            let gaps: Vec<serde_json::Value> = table
                .rows
                .iter()
                .map(|r| serde_json::Value::Object(table.row_object(r)))
                .collect();
            serde_json::to_vec(&serde_json::json!({
                "radius_m": query.radius_m,
                "categories": kinds,
                "ranking": RANKING,
                "count": rows.len(),
                "uncovered": rows.iter().filter(|r| r.gap).count(),
                "data_as_of": data_dates(data.territory()),
                "gaps": gaps,
            }))?
        }
        GapFormat::Geojson => {
            let features: Vec<geojson::Feature> = rows
                .iter()
                .zip(&table.rows)
                .map(|(row, cells)| {
                    let qpv = data.qpv(row.qpv);
                    geojson::Feature {
                        bbox: None,
                        geometry: qpv.geometry.as_ref().map(|g| {
                            geojson::Geometry::new(geojson::GeometryValue::from(&g.lonlat))
                        }),
                        id: Some(geojson::feature::Id::String(qpv.code.clone())),
                        properties: Some(table.row_object(cells)),
                        foreign_members: None,
                    }
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({
                "type": "FeatureCollection",
                "features": features,
                "radius_m": query.radius_m,
                "categories": kinds,
                "ranking": RANKING,
                "data_as_of": data_dates(data.territory()),
            }))?
        }
        GapFormat::Geopackage => {
            let dates: Vec<String> = data_dates(data.territory())
                .iter()
                .map(ToString::to_string)
                .collect();
            crate::gpkg::write_table(
                "manques",
                format!("Manques à {} m", query.radius_m),
                format!("{RANKING} Données : {}.", dates.join(" ; ")),
                "MULTIPOLYGON",
                &table,
                rows.iter().map(|row| {
                    data.qpv(row.qpv)
                        .geometry
                        .as_ref()
                        .map(|g| geo::Geometry::MultiPolygon(g.lonlat.clone()))
                }),
            )?
        }
    })
}
