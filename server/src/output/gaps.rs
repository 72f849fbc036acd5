//! The gap analysis in the formats it is served and written in: JSON,
//! CSV (for a spreadsheet or a script), GeoJSON and GeoPackage (QPV
//! outlines, for QGIS), all from the one table of [`geodata::gaps::table`].

use geodata::gaps::{GapQuery, QpvGap, RANKING, data_dates, table};
use geodata::table::Table;
use geodata::walk::access::{
    Targets, WALK_RANKING, WalkAccess, WalkNetwork, WalkQuery, table as walk_table,
};
use geodata::{Dataset, QpvId};

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
    let mut about = serde_json::Map::new();
    about.insert("radius_m".into(), query.radius_m.into());
    about.insert("categories".into(), query.kinds(data.territory()).into());
    about.insert("ranking".into(), RANKING.into());
    about.insert("count".into(), rows.len().into());
    about.insert(
        "uncovered".into(),
        rows.iter().filter(|r| r.gap).count().into(),
    );
    let ids: Vec<QpvId> = rows.iter().map(|r| r.qpv).collect();
    render_table(
        data,
        &table(data, query, rows),
        &ids,
        about,
        &format!("Manques à {} m", query.radius_m),
        RANKING,
        format,
    )
}

/// The walking analysis's rows in `format`.
pub fn render_walk(
    data: &Dataset,
    network: &WalkNetwork,
    query: &WalkQuery,
    targets: &Targets,
    rows: &[WalkAccess],
    format: GapFormat,
) -> anyhow::Result<Vec<u8>> {
    let mut about = serde_json::Map::new();
    about.insert("mode".into(), "marche".into());
    about.insert("minutes".into(), query.minutes.into());
    about.insert("speed_kmh".into(), network.speed_kmh.into());
    about.insert("network".into(), network.sources.clone().into());
    about.insert(
        "population_grid".into(),
        network.population.as_ref().map(|g| g.source.clone()).into(),
    );
    about.insert(
        "categories".into(),
        query.gaps.kinds(data.territory()).into(),
    );
    about.insert("ranking".into(), WALK_RANKING.into());
    about.insert("count".into(), rows.len().into());
    about.insert(
        "uncovered".into(),
        rows.iter().filter(|r| r.gap).count().into(),
    );
    about.insert("cut".into(), rows.iter().filter(|r| r.cut).count().into());
    about.insert(
        "not_measured".into(),
        rows.iter().filter(|r| !r.basis.measured()).count().into(),
    );
    about.insert(
        "initiatives".into(),
        serde_json::json!({
            "walked_to": targets.starts.len(),
            "commune_centre_or_no_position": targets.unplaced,
            "off_network": targets.off_network,
        }),
    );
    let ids: Vec<QpvId> = rows.iter().map(|r| r.qpv).collect();
    render_table(
        data,
        &walk_table(data, network, query, targets, rows),
        &ids,
        about,
        &format!(
            "Accès à pied en {} min",
            geodata::table::number_text(query.minutes)
        ),
        WALK_RANKING,
        format,
    )
}

/// A table of QPV rows (`ids`, in order) in `format`: JSON (`about` and
/// the rows as `gaps`), CSV, GeoJSON (the outlines, `about` beside) or
/// GeoPackage (layer `manques`).
fn render_table(
    data: &Dataset,
    table: &Table,
    ids: &[QpvId],
    mut about: serde_json::Map<String, serde_json::Value>,
    title: &str,
    ranking: &str,
    format: GapFormat,
) -> anyhow::Result<Vec<u8>> {
    about.insert(
        "data_as_of".into(),
        serde_json::to_value(data_dates(data.territory()))?,
    );
    Ok(match format {
        GapFormat::Csv(style) => super::csv::table_bytes(table, style),
        GapFormat::Json => {
            let gaps: Vec<serde_json::Value> = table
                .rows
                .iter()
                .map(|r| serde_json::Value::Object(table.row_object(r)))
                .collect();
            about.insert("gaps".into(), gaps.into());
            serde_json::to_vec(&about)?
        }
        GapFormat::Geojson => {
            let features: Vec<geojson::Feature> = ids
                .iter()
                .zip(&table.rows)
                .map(|(id, cells)| {
                    let qpv = data.qpv(*id);
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
            about.remove("count");
            about.remove("uncovered");
            let mut collection = serde_json::Map::new();
            collection.insert("type".into(), "FeatureCollection".into());
            collection.insert("features".into(), serde_json::to_value(features)?);
            collection.extend(about);
            serde_json::to_vec(&collection)?
        }
        GapFormat::Geopackage => {
            let dates: Vec<String> = data_dates(data.territory())
                .iter()
                .map(ToString::to_string)
                .collect();
            crate::gpkg::write_table(
                "manques",
                title.to_string(),
                format!("{ranking} Données : {}.", dates.join(" ; ")),
                "MULTIPOLYGON",
                table,
                ids.iter().map(|id| {
                    data.qpv(*id)
                        .geometry
                        .as_ref()
                        .map(|g| geo::Geometry::MultiPolygon(g.lonlat.clone()))
                }),
            )?
        }
    })
}
