//! GeoPackage 1.3 files (OGC 12-128r17) written with the project's SQLite:
//! one feature table in WGS 84 (EPSG:4326) with its `gpkg_contents`,
//! `gpkg_geometry_columns`, `gpkg_spatial_ref_sys` rows, standard
//! GeoPackage binary geometries (header, envelope, little-endian WKB from
//! georust's `wkb`) and the R-tree spatial index extension
//! (`gpkg_rtree_index`), so that QGIS, GDAL and ArcGIS open it as they open
//! their own.

use anyhow::Context;
use geo::{BoundingRect, Geometry};
use rusqlite::types::Value;

/// The type of an attribute column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Real,
    /// Stored as 0/1, declared BOOLEAN.
    Boolean,
}

impl ColumnType {
    fn sql(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Boolean => "BOOLEAN",
        }
    }
}

/// What the one layer of a file is.
pub struct Layer {
    /// Table name: letters, digits and `_`.
    pub name: &'static str,
    pub title: String,
    pub description: String,
    /// `POINT`, `MULTIPOLYGON` or `GEOMETRY`.
    pub geometry_type: &'static str,
    pub columns: Vec<(String, ColumnType)>,
}

/// One feature: its geometry (lon/lat) and values in the order of
/// [`Layer::columns`].
pub struct Row {
    pub geometry: Option<Geometry<f64>>,
    pub values: Vec<Value>,
}

impl From<geodata::table::Kind> for ColumnType {
    fn from(kind: geodata::table::Kind) -> Self {
        use geodata::table::Kind;
        match kind {
            Kind::Text => ColumnType::Text,
            Kind::Integer => ColumnType::Integer,
            Kind::Number => ColumnType::Real,
            Kind::Flag => ColumnType::Boolean,
        }
    }
}

/// A table's cell as stored.
fn stored(value: &geodata::table::Value) -> Value {
    use geodata::table::Value as V;
    match value {
        V::Text(t) => Value::Text(t.clone()),
        V::Term(t) => Value::Text(t.script.to_string()),
        V::Int(n) => Value::Integer(*n),
        V::Number(x) => Value::Real(*x),
        V::Flag(b) => Value::Integer(i64::from(*b)),
        V::Empty => Value::Null,
    }
}

/// A table as the one layer of a file (columns by their script names and
/// kinds), each row with its geometry.
pub fn write_table(
    name: &'static str,
    title: String,
    description: String,
    geometry_type: &'static str,
    table: &geodata::table::Table,
    geometries: impl IntoIterator<Item = Option<Geometry<f64>>>,
) -> anyhow::Result<Vec<u8>> {
    let layer = Layer {
        name,
        title,
        description,
        geometry_type,
        columns: table
            .columns
            .iter()
            .map(|c| (c.script.clone(), ColumnType::from(c.kind)))
            .collect(),
    };
    write(
        &layer,
        table
            .rows
            .iter()
            .zip(geometries)
            .map(|(row, geometry)| Row {
                geometry,
                values: row.iter().map(stored).collect(),
            }),
    )
}

const WGS84_WKT: &str = r#"GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]"#;

/// The file's bytes.
pub fn write(layer: &Layer, rows: impl IntoIterator<Item = Row>) -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir().context("a temporary directory for the GeoPackage")?;
    let path = dir.path().join("export.gpkg");
    {
        let mut db = rusqlite::Connection::open(&path)?;
        fill(&mut db, layer, rows)?;
    }
    Ok(std::fs::read(&path)?)
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn fill(
    db: &mut rusqlite::Connection,
    layer: &Layer,
    rows: impl IntoIterator<Item = Row>,
) -> anyhow::Result<()> {
    let t = layer.name;
    let rtree = format!("rtree_{t}_geom");
    db.execute_batch(
        "PRAGMA application_id = 1196444487; -- 'GPKG'
         PRAGMA user_version = 10300;         -- 1.3.0
         PRAGMA journal_mode = OFF;
         CREATE TABLE gpkg_spatial_ref_sys (
           srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
           organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
         CREATE TABLE gpkg_contents (
           table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
           description TEXT DEFAULT '',
           last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
           min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
           CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
         CREATE TABLE gpkg_geometry_columns (
           table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
           srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
           CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
           CONSTRAINT uk_gc_table_name UNIQUE (table_name),
           CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
           CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
         CREATE TABLE gpkg_extensions (
           table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
           definition TEXT NOT NULL, scope TEXT NOT NULL,
           CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
         INSERT INTO gpkg_spatial_ref_sys VALUES
           ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
           ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');",
    )?;
    db.execute(
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?1, 'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid')",
        [WGS84_WKT],
    )?;
    let columns: String = layer
        .columns
        .iter()
        .map(|(name, kind)| format!(", {} {}", quoted(name), kind.sql()))
        .collect();
    db.execute_batch(&format!(
        "CREATE TABLE {} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {}{columns});
         CREATE VIRTUAL TABLE {} USING rtree(id, minx, maxx, miny, maxy);",
        quoted(t),
        layer.geometry_type,
        quoted(&rtree),
    ))?;

    let tx = db.transaction()?;
    let mut extent: Option<[f64; 4]> = None;
    {
        let placeholders: String = (0..=layer.columns.len())
            .map(|i| format!("?{}", i + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let names: String = layer
            .columns
            .iter()
            .map(|(n, _)| format!(", {}", quoted(n)))
            .collect();
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {} (geom{names}) VALUES ({placeholders})",
            quoted(t)
        ))?;
        let mut index = tx.prepare(&format!(
            "INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5)",
            quoted(&rtree)
        ))?;
        for row in rows {
            anyhow::ensure!(
                row.values.len() == layer.columns.len(),
                "a row of {} values for {} columns",
                row.values.len(),
                layer.columns.len()
            );
            let envelope = row
                .geometry
                .as_ref()
                .and_then(|g| g.bounding_rect())
                .map(|r| [r.min().x, r.max().x, r.min().y, r.max().y]);
            let blob = match (&row.geometry, envelope) {
                (Some(g), Some(e)) => Value::Blob(binary(g, e)?),
                _ => Value::Null,
            };
            let mut params = vec![blob];
            params.extend(row.values);
            insert.execute(rusqlite::params_from_iter(params))?;
            if let Some(e) = envelope {
                let fid = tx.last_insert_rowid();
                index.execute(rusqlite::params![fid, e[0], e[1], e[2], e[3]])?;
                extent = Some(match extent {
                    None => e,
                    Some(x) => [
                        x[0].min(e[0]),
                        x[1].max(e[1]),
                        x[2].min(e[2]),
                        x[3].max(e[3]),
                    ],
                });
            }
        }
    }
    let [min_x, max_x, min_y, max_y] = match extent {
        Some(e) => e.map(Some),
        None => [None; 4],
    };
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
         VALUES (?1, 'features', ?2, ?3, ?4, ?5, ?6, ?7, 4326)",
        rusqlite::params![t, layer.title, layer.description, min_x, min_y, max_x, max_y],
    )?;
    tx.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?1, 'geom', ?2, 4326, 0, 0)",
        rusqlite::params![t, layer.geometry_type],
    )?;
    tx.execute(
        "INSERT INTO gpkg_extensions VALUES (?1, 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        [t],
    )?;
    // The triggers that keep the index in step with later edits (in QGIS or
    // GDAL, which provide the ST_ functions they call); made after the rows,
    // which were indexed above.
    let (tq, rq) = (quoted(t), quoted(&rtree));
    let name = |suffix: &str| quoted(&format!("{rtree}_{suffix}"));
    let values = "VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom))";
    tx.execute_batch(&format!(
        "CREATE TRIGGER {insert} AFTER INSERT ON {tq} WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
           BEGIN INSERT OR REPLACE INTO {rq} {values}; END;
         CREATE TRIGGER {update1} AFTER UPDATE OF geom ON {tq} WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
           BEGIN INSERT OR REPLACE INTO {rq} {values}; END;
         CREATE TRIGGER {update2} AFTER UPDATE OF geom ON {tq} WHEN OLD.fid = NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
           BEGIN DELETE FROM {rq} WHERE id = OLD.fid; END;
         CREATE TRIGGER {update3} AFTER UPDATE ON {tq} WHEN OLD.fid != NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
           BEGIN DELETE FROM {rq} WHERE id = OLD.fid; INSERT OR REPLACE INTO {rq} {values}; END;
         CREATE TRIGGER {update4} AFTER UPDATE ON {tq} WHEN OLD.fid != NEW.fid AND (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
           BEGIN DELETE FROM {rq} WHERE id IN (OLD.fid, NEW.fid); END;
         CREATE TRIGGER {delete} AFTER DELETE ON {tq} WHEN old.geom NOT NULL
           BEGIN DELETE FROM {rq} WHERE id = OLD.fid; END;",
        insert = name("insert"),
        update1 = name("update1"),
        update2 = name("update2"),
        update3 = name("update3"),
        update4 = name("update4"),
        delete = name("delete"),
    ))?;
    tx.commit()?;
    Ok(())
}

/// A geometry as GeoPackage binary: `GP`, version 0, flags (little-endian,
/// envelope [minx, maxx, miny, maxy]), SRS id 4326, the envelope, then WKB.
fn binary(geometry: &Geometry<f64>, envelope: [f64; 4]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"GP");
    out.push(0);
    out.push(0b0000_0011);
    out.extend_from_slice(&4326i32.to_le_bytes());
    for v in envelope {
        out.extend_from_slice(&v.to_le_bytes());
    }
    wkb::writer::write_geometry(
        &mut out,
        geometry,
        &wkb::writer::WriteOptions {
            endianness: wkb::Endianness::LittleEndian,
        },
    )
    .map_err(|e| anyhow::anyhow!("WKB: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_layer_with_its_metadata_and_index() {
        let layer = Layer {
            name: "initiatives",
            title: "Initiatives".into(),
            description: "test".into(),
            geometry_type: "POINT",
            columns: vec![
                ("name".into(), ColumnType::Text),
                ("gap".into(), ColumnType::Boolean),
            ],
        };
        let rows = (0..3).map(|i| Row {
            geometry: (i != 2)
                .then(|| Geometry::Point(geo::point! { x: 2.0 + f64::from(i), y: 48.0 })),
            values: vec![
                Value::Text(format!("n{i}")),
                Value::Integer(i64::from(i % 2)),
            ],
        });
        let bytes = write(&layer, rows).unwrap();
        assert_eq!(&bytes[..16], b"SQLite format 3\0");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let db = rusqlite::Connection::open(file.path()).unwrap();
        let n: i64 = db
            .query_row("SELECT count(*) FROM rtree_initiatives_geom", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 2);
        let (min_x, max_x): (f64, f64) = db
            .query_row("SELECT min_x, max_x FROM gpkg_contents", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((min_x, max_x), (2.0, 3.0));
        let blob: Vec<u8> = db
            .query_row("SELECT geom FROM initiatives WHERE fid = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(&blob[..4], b"GP\0\x03");
        // WKB point, little-endian, type 1, x = 2, y = 48.
        assert_eq!(&blob[40..45], &[1, 1, 0, 0, 0]);
        assert_eq!(f64::from_le_bytes(blob[45..53].try_into().unwrap()), 2.0);
    }
}
